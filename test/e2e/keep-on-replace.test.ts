// Issue 15 item 3 through the real `pulumi` CLI: a machine type change replaces
// the Domain. Without keepSnapshotsOnReplace the preview refuses it and nothing
// changes; with it (set in the same change) `up` replaces the domain keeping its
// snapshot tree: the stack's two Snapshot resources are not replaced (their
// snapshots are the same ones, creation times unchanged), a snapshot made by hand
// is kept too, and the next preview shows no change. `destroy` then removes all.
// The providers driven directly: test/integration/keep-on-replace.test.ts.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PulumiProject } from "../helpers/pulumi-cli";
import { QEMU_URI, domainNames, makeImageDir, qcow2Snapshots, removeDomain, snapshotNames, uniqueName, virsh } from "../helpers/host";

const prefix = uniqueName("e2e-keep");
const vm = `${prefix}-vm`;
let images: ReturnType<typeof makeImageDir>;
let disk: string;
let project: PulumiProject;

beforeAll(async () => {
  images = makeImageDir("e2e-keep");
  disk = images.qcow2(`${prefix}.qcow2`);
  project = PulumiProject.prepare(join(__dirname, "programs", "keep-on-replace"));
  await project.newStack("keep", { prefix, disk, machine: "pc" });
});

afterAll(async () => {
  await project?.destroyAllAndRemove();
  removeDomain(QEMU_URI, vm);
  if (images) rmSync(images.dir, { recursive: true, force: true });
});

/** The tree as virsh shows it, with each snapshot's description and creation time. */
function treeOf() {
  const field = (xml: string, tag: string) => new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml)?.[1];
  return {
    tree: virsh(QEMU_URI, "snapshot-list", vm, "--tree"),
    current: virsh(QEMU_URI, "snapshot-current", vm, "--name"),
    snapshots: Object.fromEntries(
      snapshotNames(QEMU_URI, vm).map((n) => {
        const xml = virsh(QEMU_URI, "snapshot-dumpxml", vm, n);
        return [n, { description: field(xml, "description"), creationTime: field(xml, "creationTime") }];
      }),
    ),
  };
}

const machineOf = () => /<type [^>]*machine='([^']+)'/.exec(virsh(QEMU_URI, "dumpxml", vm, "--inactive"))?.[1];

describe("keepSnapshotsOnReplace with the pulumi CLI", () => {
  it("refused at preview without it; with it the up keeps the tree and the Snapshot resources; no changes after; destroy leaves nothing", async () => {
    await project.ok(["up", "--yes", "--skip-preview"]);
    virsh(QEMU_URI, "snapshot-create-as", vm, "s3", "--description", "by hand");
    const uuid = virsh(QEMU_URI, "domuuid", vm);
    const before = treeOf();
    expect(before.tree).toMatch(/^s1\s+\|\s+\+- s2\s+\|\s+\+- s3$/);
    expect(before.current).toBe("s3");
    expect(machineOf()).toMatch(/^pc-i440fx-/);
    const stateBefore = await project.exportState();
    const snapshotUrns = stateBefore.resources.filter((r) => r.type.endsWith(":Snapshot")).map((r) => [r.urn, r.id]);
    expect(snapshotUrns).toHaveLength(2);

    // Without the opt-in: refused at preview, naming it; nothing changed.
    await project.ok(["config", "set", "machine", "q35"]);
    const refused = await project.run(["preview"]);
    expect(refused.code).not.toBe(0);
    expect(refused.output).toMatch(
      new RegExp(`refusing to replace domain "${vm}" \\(nothing was changed on this domain or its snapshots\\): changing \`machine\``),
    );
    expect(refused.output).toMatch(/set keepSnapshotsOnReplace: true on the Domain \(it may come with this change, in the same `pulumi up`\)/);
    expect(virsh(QEMU_URI, "domuuid", vm)).toBe(uuid);
    expect(machineOf()).toMatch(/^pc-i440fx-/);
    expect(treeOf()).toEqual(before);

    // With it, in the same change: the preview plans the Domain's replacement only, the up keeps the tree.
    await project.ok(["config", "set", "keepSnapshotsOnReplace", "true"]);
    const preview = await project.ok(["preview", "--diff"]);
    expect(preview.output).toMatch(/1 to replace/);
    // The stack's Snapshot resources are not in the plan at all (a replaced one would delete its snapshot, data included).
    expect(preview.output).toMatch(/\+-1 to replace\s+3 unchanged/);
    expect(preview.output).not.toMatch(/libvirt-pulumi:Snapshot/);
    const up = await project.ok(["up", "--yes"]);
    expect(up.output).toMatch(new RegExp(`domain "${vm}": archived the domain XML and its 3 snapshots' XML to file \\S+\\.json`));
    expect(up.output).toContain(
      `domain "${vm}": replaced keeping its snapshot tree: the new domain takes the 3 snapshots ("s1", "s2", "s3") back from file`,
    );
    expect(up.output).toContain(`domain "${vm}": restored 3 snapshots "s1", "s2", "s3" from file`);
    expect(up.output).toMatch(/\+-1 replaced\s+3 unchanged/);
    expect(up.output).not.toMatch(/libvirt-pulumi:Snapshot/);
    expect(virsh(QEMU_URI, "domuuid", vm)).toBe(uuid);
    expect(machineOf()).toMatch(/^pc-q35-/);
    expect(treeOf()).toEqual(before);
    expect(qcow2Snapshots(disk)).toEqual(["s1", "s2", "s3"]);
    // The Snapshot resources are the same ones, with the same IDs.
    const stateAfter = await project.exportState();
    expect(stateAfter.resources.filter((r) => r.type.endsWith(":Snapshot")).map((r) => [r.urn, r.id])).toEqual(snapshotUrns);
    const outputs = JSON.parse((await project.ok(["stack", "output", "--json"])).stdout);
    expect(outputs.uuid).toBe(uuid);
    expect(outputs.creationTimes.map(String)).toEqual([before.snapshots.s1.creationTime, before.snapshots.s2.creationTime]);

    await project.ok(["preview", "--expect-no-changes"]);

    // The end: the cascade allowed (and recorded), destroy removes the domain and every snapshot, data included.
    await project.ok(["config", "set", "deleteSnapshotsOnDestroy", "true"]);
    await project.ok(["config", "set", "deleteSnapshotDataOnDestroy", "true"]);
    await project.ok(["up", "--yes", "--skip-preview"]);
    await project.ok(["destroy", "--yes"]);
    expect(domainNames(QEMU_URI)).not.toContain(vm);
    expect(qcow2Snapshots(disk)).toEqual([]);
    expect((await project.exportState()).resources.filter((r) => /:(Domain|Snapshot)$/.test(r.type))).toEqual([]);
  });
});
