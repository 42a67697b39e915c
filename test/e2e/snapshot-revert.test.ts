// Issue 15 item 4 through the real `pulumi` CLI: a Snapshot's revertTrigger,
// changed in the stack config, reverts the domain on the next `up`. qemu-io,
// qemu-img and virsh say what the disk and the automatic pre-revert snapshot hold.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PulumiProject } from "../helpers/pulumi-cli";
import {
  QEMU_URI,
  holdsMarker,
  makeImageDir,
  qcow2Snapshots,
  removeDomain,
  snapshotHoldsMarker,
  snapshotNames,
  uniqueName,
  writeMarker,
} from "../helpers/host";

const prefix = uniqueName("e2e-revert");
const vm = `${prefix}-vm`;
let images: ReturnType<typeof makeImageDir>;
let disk: string;
let project: PulumiProject;

beforeAll(async () => {
  images = makeImageDir("e2e-revert");
  disk = images.qcow2(`${prefix}.qcow2`);
  writeMarker(disk, 0xaa);
  project = PulumiProject.prepare(join(__dirname, "programs", "snapshot-revert"));
  await project.newStack("revert", { prefix, disk, trigger: "1" });
});

afterAll(async () => {
  await project?.destroyAllAndRemove();
  removeDomain(QEMU_URI, vm);
  images?.remove();
});

const preRevert = async (): Promise<string[]> => JSON.parse((await project.ok(["stack", "output", "preRevertSnapshots", "--json"])).stdout);

describe("revertTrigger with the pulumi CLI", () => {
  it("up, a marker written, the trigger changed, up: the disk is reverted and the marker is in the pre-revert snapshot", async () => {
    await project.ok(["up", "--yes"]);
    expect(snapshotNames(QEMU_URI, vm)).toEqual(["base"]);
    expect(await preRevert()).toEqual([]);
    writeMarker(disk, 0xbb);

    await project.ok(["config", "set", "trigger", "2"]);
    const up = await project.ok(["up", "--yes"]);
    // An in-place update of the Snapshot, nothing replaced.
    expect(up.output).toMatch(/~ 1 updated/);
    expect(up.output).not.toMatch(/replaced|created|deleted/);
    const pre = await preRevert();
    expect(pre).toHaveLength(1);
    expect(up.output).toContain(`its state before is kept in snapshot "${pre[0]}"`);
    expect(holdsMarker(disk, 0xaa)).toBe(true);
    expect(snapshotNames(QEMU_URI, vm).sort()).toEqual(["base", pre[0]].sort());
    expect(qcow2Snapshots(disk).sort()).toEqual(["base", pre[0]].sort());
    expect(snapshotHoldsMarker(disk, pre[0], 0xbb, images.dir)).toBe(true);

    const r = await project.run(["preview", "--expect-no-changes", "--diff"]);
    expect(r.code, r.output).toBe(0);
  });

  it("with discardStateOnRevert no extra snapshot is made", async () => {
    const pre = await preRevert();
    writeMarker(disk, 0xcc);
    await project.ok(["config", "set", "discardStateOnRevert", "true"]);
    await project.ok(["config", "set", "trigger", "3"]);
    await project.ok(["up", "--yes"]);
    expect(holdsMarker(disk, 0xaa)).toBe(true);
    expect(snapshotNames(QEMU_URI, vm).sort()).toEqual(["base", pre[0]].sort());
    expect(qcow2Snapshots(disk).sort()).toEqual(["base", pre[0]].sort());
    expect(await preRevert()).toEqual(pre);
  });

  it("the pre-revert snapshot is the user's: the Domain's destroy is refused, naming it, until deleteSnapshotsOnDestroy", async () => {
    const [pre] = await preRevert();
    const r = await project.run(["destroy", "--yes"]);
    expect(r.code).not.toBe(0);
    expect(r.output).toContain(pre);
    expect(r.output).toMatch(/deleteSnapshotsOnDestroy/);
    expect(snapshotNames(QEMU_URI, vm)).toEqual([pre]);
  });
});
