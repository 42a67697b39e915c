// examples/basic through the real `pulumi` CLI: up, a stable preview, an
// in-place update, a refresh after an out-of-band change, a rename that
// replaces (refused at preview until deleteSnapshotsOnDestroy is recorded), a destroy refused by an out-of-band snapshot, and the cascade.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PulumiProject } from "../helpers/pulumi-cli";
import { QEMU_URI, domainNames, domainState, qcow2Snapshots, snapshotNames, uniqueName, virsh, virshTry } from "../helpers/host";

const prefix = uniqueName("e2e");
let project: PulumiProject;

const output = async (name: string) => (await project.ok(["stack", "output", name])).stdout.trim();
const domainOutputs = async () => (await project.exportState()).resources.find((r) => r.type.endsWith(":Domain"))?.outputs ?? {};

beforeAll(async () => {
  project = PulumiProject.prepare("basic");
  await project.newStack("basic", { prefix, poolPath: `/var/lib/libvirt/images/${prefix}-pool` });
});

afterAll(() => project?.destroyAllAndRemove());

describe("examples/basic with the pulumi CLI", () => {
  let domain: string;
  let uuid: string;

  it("pulumi up creates what virsh then shows", async () => {
    // With its preview: inputs computed from other resources are unknown there.
    await project.ok(["up", "--yes"]);
    domain = await output("domainName");
    uuid = await output("domainUuid");
    expect(domain).toBe(`${prefix}-web`);
    expect(domainState(QEMU_URI, domain)).toBe("running");
    expect(virsh(QEMU_URI, "domuuid", domain)).toBe(uuid);
    expect(snapshotNames(QEMU_URI, domain)).toEqual(["before-upgrade"]);
    expect(virsh(QEMU_URI, "vol-list", `${prefix}-pool`)).toContain(`${prefix}-web.qcow2`);
  });

  it("a second preview reports no changes", async () => {
    const r = await project.run(["preview", "--expect-no-changes"]);
    expect(r.output).toMatch(/unchanged/);
    expect(r.code).toBe(0);
  });

  it("changing memoryMiB updates the domain in place", async () => {
    await project.ok(["config", "set", "memoryMiB", "192"]);
    const r = await project.ok(["up", "--yes", "--skip-preview"]);
    expect(r.output).toMatch(/1 updated/);
    expect(await output("domainUuid")).toBe(uuid);
    expect(virsh(QEMU_URI, "dumpxml", "--inactive", domain)).toMatch(/<memory unit='KiB'>196608<\/memory>/);
    expect(domainState(QEMU_URI, domain)).toBe("running");
    const outs = await domainOutputs();
    expect(outs.pendingRestart).toBe(true);
  });

  it("pulumi refresh sees a change made with virsh, and pulumi up puts it back", async () => {
    virsh(QEMU_URI, "setmaxmem", domain, "256M", "--config");
    await project.ok(["refresh", "--yes"]);
    expect((await domainOutputs()).memoryMiB).toBe(256);
    await project.ok(["up", "--yes", "--skip-preview"]);
    expect(virsh(QEMU_URI, "dumpxml", "--inactive", domain)).toMatch(/<memory unit='KiB'>196608<\/memory>/);
    expect((await project.run(["preview", "--expect-no-changes"])).code).toBe(0);
  });

  it("renaming the domain replaces it (and its snapshot) once deleteSnapshotsOnDestroy is recorded; refused at preview before", async () => {
    await project.ok(["config", "set", "domainName", `${prefix}-web2`]);
    // The replacement deletes the stack's snapshot with its data: without the opt-in it is refused first.
    const refused = await project.run(["preview"]);
    expect(refused.code).not.toBe(0);
    expect(refused.output).toMatch(/refusing to replace domain .*changing `name` replaces the domain/s);
    expect(snapshotNames(QEMU_URI, domain)).toEqual(["before-upgrade"]);
    await project.ok(["config", "rm", "domainName"]);
    await project.ok(["config", "set", "deleteSnapshotsOnDestroy", "true"]);
    await project.ok(["up", "--yes", "--skip-preview"]);
    await project.ok(["config", "set", "domainName", `${prefix}-web2`]);
    const r = await project.ok(["up", "--yes", "--skip-preview"]);
    expect(r.output).toMatch(/replaced/);
    const renamed = await output("domainName");
    expect(renamed).toBe(`${prefix}-web2`);
    expect(await output("domainUuid")).not.toBe(uuid);
    expect(domainNames(QEMU_URI)).not.toContain(domain);
    expect(domainState(QEMU_URI, renamed)).toBe("running");
    expect(snapshotNames(QEMU_URI, renamed)).toEqual(["before-upgrade"]);
    domain = renamed;
    // Back to the default for the destroy tests below.
    await project.ok(["config", "set", "deleteSnapshotsOnDestroy", "false"]);
    await project.ok(["up", "--yes", "--skip-preview"]);
  });

  it("pulumi destroy is refused by a snapshot made outside the stack, and changes nothing", async () => {
    virsh(QEMU_URI, "snapshot-create-as", domain, "by-hand");
    const r = await project.run(["destroy", "--yes"]);
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/refusing to delete domain .*"by-hand".*deleteSnapshotsOnDestroy: true.*LIBVIRT_PULUMI_DELETE_SNAPSHOTS_ON_DESTROY=1/s);
    expect(domainState(QEMU_URI, domain)).toBe("running");
    // The stack's own snapshot resource was deleted first, as Pulumi orders it; the foreign one is intact.
    expect(snapshotNames(QEMU_URI, domain)).toEqual(["by-hand"]);
    expect(qcow2Snapshots(await output("diskPath"))).toEqual(["by-hand"]);
  });

  it("LIBVIRT_PULUMI_DELETE_SNAPSHOTS_ON_DESTROY=1 lets the domain go and keeps the snapshot data in the image", async () => {
    const disk = await output("diskPath");
    const r = await project.run(["destroy", "--yes"], { LIBVIRT_PULUMI_DELETE_SNAPSHOTS_ON_DESTROY: "1" });
    expect(domainNames(QEMU_URI)).not.toContain(domain);
    expect(qcow2Snapshots(disk)).toEqual(["by-hand"]);
    // The volume guards that data in turn, naming its own option.
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/deleteSnapshotDataOnDestroy/);
    expect(virshTry(QEMU_URI, "vol-info", "--pool", `${prefix}-pool`, `${prefix}-web.qcow2`).ok).toBe(true);
  });
});
