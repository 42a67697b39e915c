// The revert rules (a Snapshot's revertTrigger): the state since the snapshot is
// kept in a pre-revert snapshot unless discardStateOnRevert; a revert that would
// stop a running guest, or that libvirt cannot do, is refused before anything changes.
import { describe, expect, it } from "vitest";
import { canonicalEqual } from "../../../provider/equality";
import {
  EXTERNAL_REVERT_SINCE,
  libvirtVersionText,
  planRevert,
  preRevertName,
  revertRequested,
  targetHasMemory,
  type RevertFacts,
} from "../../../provider/teardown/revert";

const now = new Date("2026-12-03T08:15:30.123Z");
const facts = (over: Partial<RevertFacts> & { target?: Partial<RevertFacts["target"]> } = {}): RevertFacts => ({
  snapshot: "s1",
  domain: "web",
  active: false,
  domainState: "shutoff",
  libVersion: 9_000_000,
  discardStateOnRevert: false,
  snapshotNames: ["s1"],
  externalSnapshots: [],
  now,
  ...over,
  target: { state: "shutoff", memory: "no", external: false, ...over.target },
});

describe("planRevert", () => {
  const pre = (memory: boolean) => ({ kind: "preRevertSnapshot", name: "pre-revert-20261203T081530Z", memory });
  const rows: Array<[string, RevertFacts, unknown[]]> = [
    ["shut-off domain, shut-off snapshot: pre-revert snapshot (disks only), then the revert", facts(), [pre(false), { kind: "revert" }]],
    [
      "running domain, snapshot with memory: pre-revert snapshot with memory, then the revert",
      facts({ active: true, domainState: "running", target: { state: "running", memory: "internal" } }),
      [pre(true), { kind: "revert" }],
    ],
    [
      "shut-off domain, snapshot with memory (the revert starts it): pre-revert snapshot without memory",
      facts({ target: { state: "running", memory: "internal" } }),
      [pre(false), { kind: "revert" }],
    ],
    [
      "paused domain, paused snapshot: with memory",
      facts({ active: true, domainState: "paused", target: { state: "paused", memory: "internal" } }),
      [pre(true), { kind: "revert" }],
    ],
    ["discardStateOnRevert: the revert only", facts({ discardStateOnRevert: true }), [{ kind: "revert" }]],
    [
      "an external snapshot on a libvirt that can revert it, discardStateOnRevert: the revert only",
      facts({ libVersion: EXTERNAL_REVERT_SINCE, discardStateOnRevert: true, target: { state: "disk-snapshot", external: true } }),
      [{ kind: "revert" }],
    ],
  ];
  it.each(rows)("%s", (_label, f, steps) => expect(planRevert(f)).toEqual({ allowed: true, steps }));

  const refusals: Array<[string, RevertFacts, RegExp]> = [
    [
      "running domain, shut-off snapshot: libvirt would stop the guest",
      facts({ active: true, domainState: "running" }),
      /the domain is running and the snapshot holds no memory state \(it captured a shutoff domain\), so libvirt would stop the guest to revert\. Stop the domain first \(a Domain resource's running: false in the same `pulumi up`, or virsh shutdown web\)/,
    ],
    [
      "running domain, disk-only snapshot: no memory either",
      facts({
        active: true,
        domainState: "running",
        discardStateOnRevert: true,
        libVersion: EXTERNAL_REVERT_SINCE,
        target: { state: "disk-snapshot", external: true },
      }),
      /no memory state \(it captured a disk-snapshot domain\)/,
    ],
    [
      "running domain, running snapshot saved without memory",
      facts({ active: true, domainState: "running", target: { state: "running", memory: "no" } }),
      /holds no memory state/,
    ],
    [
      "an external snapshot on libvirt 9.0: cannot revert",
      facts({ target: { state: "disk-snapshot", external: true }, discardStateOnRevert: true }),
      /it is an external snapshot .*, and libvirt 9\.0\.0 cannot revert to one \(libvirt 9\.9\.0 and later can\)/,
    ],
    [
      "an external snapshot on a newer libvirt, state to keep: no automatic snapshot of an external one",
      facts({ libVersion: 10_000_000, target: { state: "disk-snapshot", external: true } }),
      /the automatic snapshot of the current state is made only before reverting to an internal one .* then set discardStateOnRevert: true/,
    ],
    [
      "an internal snapshot while the domain has external ones: their overlays would be corrupted",
      facts({ externalSnapshots: ["s3"], discardStateOnRevert: true }),
      /the domain also has external snapshots \("s3"\), whose overlay files are built on the disk images this revert would rewind in place; reverting would corrupt them .*\(virsh snapshot-delete web NAME/,
    ],
  ];
  it.each(refusals)("refuses: %s", (_label, f, message) => {
    const d = planRevert(f);
    expect(d.allowed).toBe(false);
    if (d.allowed) return;
    expect(d.message).toMatch(/^refusing to revert domain "web" to snapshot "s1" \(revertTrigger changed; nothing was changed\): /);
    expect(d.message).toMatch(message);
  });
});

describe("preRevertName", () => {
  it("is the UTC time, seconds precision", () => expect(preRevertName(now, [])).toBe("pre-revert-20261203T081530Z"));
  it("takes the next free suffix when the name exists", () =>
    expect(preRevertName(now, ["pre-revert-20261203T081530Z", "pre-revert-20261203T081530Z-2"])).toBe("pre-revert-20261203T081530Z-3"));
});

describe("revertRequested", () => {
  const rows: Array<[string, unknown, unknown, boolean]> = [
    ["one value to another", "a", "b", true],
    ["unchanged", "a", "a", false],
    ["an object with its keys in another order", { a: 1, b: 2 }, { b: 2, a: 1 }, false],
    ["a number to the same number as text (a config value): a change", 1, "1", true],
    ["set for the first time", undefined, "a", false],
    ["removed", "a", undefined, false],
  ];
  it.each(rows)("%s", (_label, old, next, yes) => expect(revertRequested(old, next, canonicalEqual)).toBe(yes));
});

describe("targetHasMemory and libvirtVersionText", () => {
  it("a running or paused snapshot has memory unless it says memory 'no'", () => {
    expect(targetHasMemory({ state: "running", memory: "internal", external: false })).toBe(true);
    expect(targetHasMemory({ state: "paused", external: false })).toBe(true);
    expect(targetHasMemory({ state: "running", memory: "no", external: false })).toBe(false);
    expect(targetHasMemory({ state: "shutoff", external: false })).toBe(false);
    expect(targetHasMemory({ state: "disk-snapshot", external: true })).toBe(false);
  });
  it("prints versions as libvirt does", () => expect(libvirtVersionText(10_002_003)).toBe("10.2.3"));
});
