// examples/fleet through the real `pulumi` CLI: libvirtd is killed (SIGKILL) in
// the middle of a `pulumi up` of 8 domains with their volumes and snapshots,
// then started again. `pulumi refresh` and `pulumi up` must converge to exactly
// what the program declares: no duplicate, no orphan volume, no snapshot
// metadata lost. virsh, the pool directory and qemu-img say what is there.
import { readdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PulumiProject } from "../helpers/pulumi-cli";
import { startLibvirtd, stopLibvirtd } from "../helpers/daemon";
import { QEMU_URI, domainNames, domainState, qcow2Snapshots, snapshotNames, uniqueName, virsh, virshTry } from "../helpers/host";

const COUNT = 8;
const prefix = uniqueName("e2e-fleet");
const poolPath = `/var/lib/libvirt/images/${prefix}-pool`;
const names = Array.from({ length: COUNT }, (_, i) => `${prefix}-vm-${i}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let project: PulumiProject;

beforeAll(async () => {
  project = PulumiProject.prepare("fleet");
  await project.newStack("fleet", { prefix, poolPath, count: String(COUNT) });
});

afterAll(async () => {
  startLibvirtd();
  await project?.destroyAllAndRemove();
});

const ours = () =>
  domainNames(QEMU_URI)
    .filter((n) => n.startsWith(`${prefix}-`))
    .sort();
function volumes(): string[] {
  virsh(QEMU_URI, "pool-refresh", `${prefix}-pool`);
  return virsh(QEMU_URI, "vol-list", `${prefix}-pool`)
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0])
    .filter(Boolean)
    .sort();
}

describe("libvirtd killed in the middle of pulumi up (examples/fleet, 8 domains)", () => {
  it("refresh and up converge to exactly the declared resources", async () => {
    const up = project.run(["up", "--yes", "--skip-preview"]);
    // Kill once domains are being made: volumes exist, some domains are defined or starting.
    let seen = 0;
    for (let i = 0; i < 600 && seen < 3; i++) {
      seen = ours().length;
      if (seen < 3) await sleep(50);
    }
    expect(seen).toBeGreaterThanOrEqual(3);
    stopLibvirtd("SIGKILL");
    const interrupted = await up;
    expect(interrupted.code).not.toBe(0);
    startLibvirtd();
    const before = { domains: ours().length, snapshots: names.filter((n) => ours().includes(n) && snapshotNames(QEMU_URI, n).length > 0).length };
    const partly = interrupted.output.match(/may or may not exist: it is recorded in the stack as partly created/g)?.length ?? 0;
    console.log(
      `after the kill: ${before.domains} of ${COUNT} domains, ${before.snapshots} with a snapshot; ${partly} messages about partly created resources`,
    );

    await project.ok(["refresh", "--yes", "--skip-preview"]);
    await project.ok(["up", "--yes", "--skip-preview"]);

    // Exactly the declared domains, each running, each with exactly its one snapshot.
    expect(ours()).toEqual([...names].sort());
    for (const n of names) {
      expect(domainState(QEMU_URI, n)).toBe("running");
      expect(snapshotNames(QEMU_URI, n)).toEqual(["baseline"]);
    }
    // Exactly the declared volumes: in libvirt's view and on disk; each image holds one baseline.
    const files = names.map((n) => `${n}.qcow2`).sort();
    expect(volumes()).toEqual(files);
    expect(readdirSync(poolPath).sort()).toEqual(files);
    for (const f of files) expect(qcow2Snapshots(`${poolPath}/${f}`)).toEqual(["baseline"]);

    // The state agrees: one of each, none partly created, and nothing left to do.
    const { resources } = await project.exportState();
    const managed = resources.filter((r) => r.type.includes("libvirt-pulumi"));
    expect(managed).toHaveLength(1 + 3 * COUNT);
    expect(managed.filter((r) => (r as { initErrors?: unknown[] }).initErrors?.length)).toEqual([]);
    await project.ok(["preview", "--expect-no-changes"]);
  });

  it("destroy (with the cascade allowed) removes all of it", async () => {
    await project.ok(["config", "set", "deleteSnapshotsOnDestroy", "true"]);
    await project.ok(["config", "set", "deleteVolumeSnapshotData", "true"]);
    await project.ok(["up", "--yes", "--skip-preview"]);
    await project.ok(["destroy", "--yes", "--skip-preview"]);
    expect(ours()).toEqual([]);
    expect(virshTry(QEMU_URI, "pool-info", `${prefix}-pool`).ok).toBe(false);
  });
});
