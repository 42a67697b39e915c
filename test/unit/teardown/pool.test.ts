// The Pool rules: held volumes block the delete (pre-existing files never do); the cascade
// (deleteVolumesOnDestroy) vets each held volume by the Volume rules, overlays first.
import { describe, expect, it } from "vitest";
import { heldVolumes, overlaysFirst, planPoolCascade, planPoolDelete, keptArchives } from "../../../provider/teardown/pool";
import type { VolumeFacts } from "../../../provider/teardown/volume";

const vol = (name: string, over: Partial<VolumeFacts> = {}): { name: string; facts: VolumeFacts } => ({
  name,
  facts: { pool: "p", name, path: `/pool/${name}`, usedBy: [], backingOf: [], snapshots: { names: [], count: 0, via: "qemu-img" }, ...over },
});

describe("planPoolCascade", () => {
  it("no held volumes, or none that the Volume rules keep: allowed", () => {
    expect(planPoolCascade("p", [], true)).toEqual({ allowed: true, steps: [] });
    expect(planPoolCascade("p", [vol("a.qcow2"), vol("b.qcow2")], true)).toEqual({
      allowed: true,
      steps: [
        { call: "deleteVolume", name: "a.qcow2" },
        { call: "deleteVolume", name: "b.qcow2" },
      ],
    });
  });
  it("deletes overlays before the images they are built on", () => {
    const held = [
      vol("base.qcow2"),
      { ...vol("top.qcow2"), backingPath: "/pool/mid.qcow2" },
      { ...vol("mid.qcow2"), backingPath: "/pool/base.qcow2" },
    ];
    expect(planPoolCascade("p", held, true)).toEqual({
      allowed: true,
      steps: [
        { call: "deleteVolume", name: "top.qcow2" },
        { call: "deleteVolume", name: "mid.qcow2" },
        { call: "deleteVolume", name: "base.qcow2" },
      ],
    });
  });
  it("a volume in use: refused, naming the volume and the domain; the delete's message also advises", () => {
    const held = [vol("free.qcow2"), vol("boot.qcow2", { usedBy: ["web"] })];
    const head =
      'refusing to delete storage pool "p" with its volumes (nothing was changed): deleteVolumesOnDestroy deletes volumes, but not these, by the Volume rules: ' +
      '(1) volume "boot.qcow2": 1 domain still uses it as a disk ("web"). Remove the disk from that domain or delete it first; no option overrides this.';
    expect(planPoolCascade("p", held, false)).toEqual({ allowed: false, message: head });
    expect(planPoolCascade("p", held, true)).toEqual({ allowed: false, message: `${head} Delete such volumes first, each with its own options.` });
  });
  it("internal snapshots block the cascade: a volume's own deleteSnapshotDataOnDestroy does not apply", () => {
    const d = planPoolCascade("p", [vol("snapped.qcow2", { snapshots: { names: ["keep-me"], count: 1, via: "qemu-img" } })], false);
    expect(d.allowed).toBe(false);
    if (!d.allowed) expect(d.message).toMatch(/\(1\) volume "snapped\.qcow2": its image holds 1 internal snapshot \("keep-me"\)/);
  });
  it("each blocked volume is numbered, in order", () => {
    const d = planPoolCascade("p", [vol("a", { backingOf: ["p/b"] }), vol("c", { snapshots: { error: "denied" } })], false);
    expect(d.allowed).toBe(false);
    if (!d.allowed)
      expect(d.message).toMatch(
        /\(1\) volume "a": it is the backing file of 1 volume \("p\/b"\).*\(2\) volume "c": its image could not be checked for internal snapshots \(denied\)/,
      );
  });
});

describe("planPoolDelete", () => {
  it("a pool's pre-existing files are never a reason to refuse; other volumes are, until deleteVolumesOnDestroy", () => {
    const pool = { name: "p", path: "/p", volumes: ["iso.img", "web.qcow2"], preexisting: ["iso.img"] };
    const d = planPoolDelete(pool, { deleteVolumesOnDestroy: false });
    expect((d as { message: string }).message).toMatch(
      /holds 1 volume \("web.qcow2"\).*deleteVolumesOnDestroy: true.*the 1 file that was in the directory before the pool was created is kept/,
    );
    expect(planPoolDelete(pool, { deleteVolumesOnDestroy: true })).toEqual({
      allowed: true,
      steps: [{ call: "deleteVolumes", names: ["web.qcow2"] }],
    });
    expect(planPoolDelete({ ...pool, volumes: ["iso.img"] }, { deleteVolumesOnDestroy: false })).toEqual({ allowed: true, steps: [] });
    expect(heldVolumes(pool)).toEqual(["web.qcow2"]);
  });

  it("deletes overlays before the images they are built on", () => {
    const order = overlaysFirst(
      new Map([
        ["/b", undefined],
        ["/top", "/mid"],
        ["/mid", "/b"],
        ["/other", undefined],
      ]),
    );
    expect(order.indexOf("/top")).toBeLessThan(order.indexOf("/mid"));
    expect(order.indexOf("/mid")).toBeLessThan(order.indexOf("/b"));
    expect(order).toHaveLength(4);
  });
});

describe("snapshot archives a Domain delete wrote into the pool", () => {
  const facts = { name: "p", path: "/images/p", volumes: ["vm.snapshots-20261202T174323Z.json"], preexisting: [] };
  it("never block the pool's delete and are never cascaded away: the directory keeps them", () => {
    expect(planPoolDelete(facts, { deleteVolumesOnDestroy: false })).toEqual({ allowed: true, steps: [] });
    expect(planPoolDelete(facts, { deleteVolumesOnDestroy: true })).toEqual({ allowed: true, steps: [] });
    expect(keptArchives(facts)).toEqual(["vm.snapshots-20261202T174323Z.json"]);
  });
  it("other volumes still do", () => {
    const withDisk = { ...facts, volumes: [...facts.volumes, "disk.qcow2"] };
    const refused = planPoolDelete(withDisk, { deleteVolumesOnDestroy: false });
    expect(refused.allowed).toBe(false);
    expect(refused.allowed === false && refused.message).toMatch(/1 volume \("disk\.qcow2"\)/);
  });
});
