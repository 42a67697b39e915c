// The Volume rules: what blocks a delete (and names the chain through which it is needed), the opt-in, the shrink refusal.
import { describe, expect, it } from "vitest";
import { DELETE_SNAPSHOT_DATA_ENV, effectiveVolumeOptions, planVolumeDelete, planVolumeResize } from "../../../provider/teardown/volume";

const MiB = 1024 * 1024;

describe("planVolumeResize", () => {
  // Allowed rows give the steps (as JSON), refused ones the message.
  const rows: Array<[string, number, number | undefined, string | null, string?]> = [
    ["capacity left out: nothing to do", 32 * MiB, undefined, null, "[]"],
    ["the same size", 32 * MiB, 32 * MiB, null, "[]"],
    ["growing", 32 * MiB, 64 * MiB, null, `[{"call":"resize","capacity":${64 * MiB}}]`],
    [
      "shrinking is refused, with the size to keep",
      32 * MiB,
      8 * MiB,
      'refusing to shrink volume "disk.qcow2" from 32 MiB to 8 MiB (nothing was changed): shrinking cuts off whatever the guest stored ' +
        `at the end of the disk. Keep capacity at ${32 * MiB} bytes or more, or give the volume a new name to replace it`,
    ],
  ];
  it.each(rows)("%s", (_label, current, wanted, message, steps) => {
    const d = planVolumeResize("disk.qcow2", current, wanted);
    expect(d).toEqual(message === null ? { allowed: true, steps: JSON.parse(steps!) } : { allowed: false, message });
  });
  it("one byte less is refused too", () => expect(planVolumeResize("d", 32 * MiB, 32 * MiB - 1).allowed).toBe(false));
});

describe("planVolumeDelete", () => {
  const facts = {
    pool: "p",
    name: "v.qcow2",
    path: "/p/v.qcow2",
    usedBy: [] as string[],
    backingOf: [] as string[],
    snapshots: { names: [] as string[], count: 0, via: "qemu-img" },
  };
  const none = { deleteSnapshotDataOnDestroy: false };

  it("allows a volume nothing depends on", () => {
    expect(planVolumeDelete(facts, none)).toEqual({ allowed: true, steps: [{ call: "delete" }] });
  });

  it("names every reason, with the option where one exists", () => {
    const d = planVolumeDelete(
      { ...facts, usedBy: ["web"], backingOf: ["p/top.qcow2"], snapshots: { names: ["s1"], count: 1, via: "qemu-img" } },
      none,
    );
    expect(d.allowed).toBe(false);
    const message = (d as { message: string }).message;
    expect(message).toMatch(
      /\(1\) 1 domain still uses it as a disk \("web"\).*\(2\) it is the backing file of 1 volume \("p\/top.qcow2"\).*\(3\) its image holds 1 internal snapshot \("s1"\).*deleteSnapshotDataOnDestroy: true/,
    );
  });

  it("names the chain through which each domain and volume needs it", () => {
    const d = planVolumeDelete(
      {
        ...facts,
        usedBy: ["web"],
        usedVia: { web: ["disk vda: /o/top.qcow2 → /p/base.qcow2", 'snapshot "s1" memory state: /p/base.qcow2'] },
        backingOf: ["p/mid.qcow2"],
        backingVia: { "p/mid.qcow2": "/p/mid.qcow2 → /p/base.qcow2" },
      },
      { deleteSnapshotDataOnDestroy: true },
    );
    expect((d as { message: string }).message).toMatch(
      /1 domain still uses it as a disk \("web"\) \(through: "web" disk vda: \/o\/top.qcow2 → \/p\/base.qcow2, snapshot "s1" memory state: \/p\/base.qcow2\)\..*backing file of 1 volume \("p\/mid.qcow2"\) \(through: "p\/mid.qcow2" \/p\/mid.qcow2 → \/p\/base.qcow2\)/,
    );
  });

  it("deleteSnapshotDataOnDestroy (or its environment variable) allows the snapshots, never a disk in use", () => {
    const snap = { ...facts, snapshots: { names: ["s1"], count: 1, via: "qemu-img" } };
    expect(planVolumeDelete(snap, { deleteSnapshotDataOnDestroy: true })).toEqual({ allowed: true, steps: [{ call: "delete" }] });
    expect(effectiveVolumeOptions({}, { [DELETE_SNAPSHOT_DATA_ENV]: "1" })).toEqual({ deleteSnapshotDataOnDestroy: true });
    expect(planVolumeDelete({ ...snap, usedBy: ["web"] }, { deleteSnapshotDataOnDestroy: true }).allowed).toBe(false);
  });

  it("refuses when the snapshot check itself failed, unless opted in", () => {
    const d = planVolumeDelete({ ...facts, snapshots: { error: "permission denied" } }, none);
    expect((d as { message: string }).message).toMatch(/could not be checked for internal snapshots \(permission denied\)/);
    expect(planVolumeDelete({ ...facts, snapshots: { error: "x" } }, { deleteSnapshotDataOnDestroy: true }).allowed).toBe(true);
  });
});
