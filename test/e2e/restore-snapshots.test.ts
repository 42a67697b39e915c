// Issue 15 item 2 through the real `pulumi` CLI: a destroy with the cascade
// archives the domain's snapshots; a later `up` with restoreSnapshotsFrom (the
// path the destroy printed) takes them back, the stack's Snapshot resources of
// the same names adopt them (the same snapshots: creation times unchanged, none
// taken anew), and the next preview shows no change.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PulumiProject } from "../helpers/pulumi-cli";
import { QEMU_URI, makeImageDir, qcow2Snapshots, removeDomain, snapshotNames, uniqueName, virsh } from "../helpers/host";

const prefix = uniqueName("e2e-restore");
const vm = `${prefix}-vm`;
let images: ReturnType<typeof makeImageDir>;
let disk: string;
let project: PulumiProject;

beforeAll(async () => {
  images = makeImageDir("e2e-restore");
  disk = images.qcow2(`${prefix}.qcow2`);
  project = PulumiProject.prepare(join(__dirname, "programs", "restore-snapshots"));
  await project.newStack("restore", { prefix, disk });
});

afterAll(async () => {
  await project?.destroyAllAndRemove();
  removeDomain(QEMU_URI, vm);
  if (images) rmSync(images.dir, { recursive: true, force: true });
});

const creationTime = (name: string) => /<creationTime>(\d+)<\/creationTime>/.exec(virsh(QEMU_URI, "snapshot-dumpxml", vm, name))?.[1];

describe("restoreSnapshotsFrom with the pulumi CLI", () => {
  it("destroy archives, an up restores and the Snapshot resources adopt, then no changes", async () => {
    await project.ok(["up", "--yes", "--skip-preview"]);
    for (const s of ["s1", "s2"]) virsh(QEMU_URI, "snapshot-create-as", vm, s);
    const times = { s1: creationTime("s1"), s2: creationTime("s2") };
    await project.ok(["config", "set", "deleteSnapshotsOnDestroy", "true"]);
    await project.ok(["up", "--yes", "--skip-preview"]);
    const destroy = await project.ok(["destroy", "--yes"]);
    const archived = /archived the domain XML and its 2 snapshots' XML to file (\S+\.json)/.exec(destroy.output);
    expect(archived, destroy.output).not.toBeNull();
    expect(qcow2Snapshots(disk)).toEqual(["s1", "s2"]);

    await project.ok(["config", "set", "restoreSnapshotsFrom", archived![1]]);
    await project.ok(["config", "set", "snapshots", "s1,s2"]);
    const up = await project.ok(["up", "--yes", "--skip-preview"]);
    expect(up.output).toContain(`domain "${vm}": restored 2 snapshots "s1", "s2" from file ${archived![1]}`);
    for (const s of ["s1", "s2"])
      expect(up.output).toContain(`snapshot "${s}" of domain "${vm}": adopted the snapshot the domain's restoreSnapshotsFrom redefined`);
    expect(snapshotNames(QEMU_URI, vm)).toEqual(["s1", "s2"]);
    expect({ s1: creationTime("s1"), s2: creationTime("s2") }).toEqual(times);
    const outputs = JSON.parse((await project.ok(["stack", "output", "--json"])).stdout);
    expect(outputs.restored).toEqual(["s1", "s2"]);
    expect(outputs.skipped).toEqual([]);
    const uuid = virsh(QEMU_URI, "domuuid", vm);
    expect(outputs.snapshotIds).toEqual([`${uuid}/s1`, `${uuid}/s2`]);

    await project.ok(["preview", "--expect-no-changes"]);
  });
});
