// The rules of a replacement that keeps the snapshot tree (provider/teardown/keep-replace.ts),
// pure: the old domain's facts and the change in, the decision (and whether the tree
// is kept) out; and the note that carries the diff's decision to the delete, the
// stack's Snapshot diffs and the create of one process (provider/domain/replace-note.ts).
import { describe, expect, it } from "vitest";
import { virDomainUndefineFlagsValues as U } from "../../../provider/libvirt/libvirt.gen";
import { DEFAULT_TEARDOWN_OPTIONS, planDomainDelete, type DomainFacts, type TeardownOptions } from "../../../provider/teardown/domain";
import {
  KEEPABLE_REPLACE_KEYS,
  archiveRefusedForReplacement,
  describeKeptDelete,
  keptTreeAdvice,
  planKeptDelete,
  planReplacement,
  restoreValue,
  type ReplaceChange,
} from "../../../provider/teardown/keep-replace";
import { forgetKeptReplace, keptReplaceOf, noteKeptReplace, takeKeptReplaceFor } from "../../../provider/domain/replace-note";

const UUID = "0b7ef6a4-3c1d-4d52-9a43-1f6f0e2b9c11";
const IMAGE = "/var/lib/libvirt/images/web.qcow2";
const ARCHIVE = "/var/lib/libvirt/images/web.snapshots-20261203T140000Z.json";

const facts = (over: Partial<DomainFacts> = {}): DomainFacts => ({
  name: "web",
  persistent: true,
  active: false,
  snapshots: ["s1", "s2", "s3"],
  hasManagedSave: false,
  checkpoints: 0,
  hasNvram: false,
  firstDisk: { file: IMAGE },
  localHypervisor: true,
  archiveStamp: "20261203T140000Z",
  ...over,
});
const opts = (over: Partial<TeardownOptions> = {}): TeardownOptions => ({ ...DEFAULT_TEARDOWN_OPTIONS, ...over });
const change = (over: Partial<ReplaceChange> = {}): ReplaceChange => ({
  replacedBy: ["machine"],
  keepSnapshotsOnReplace: true,
  persistent: true,
  disks: "same",
  uuid: UUID,
  unverifiable: new Map(),
  ...over,
});
const message = (d: { allowed: boolean }) => (d as { message: string }).message;

/** The kept delete: archive beside the image, then the undefine that drops only libvirt's metadata. */
const keptSteps = (snapshots = ["s1", "s2", "s3"], secure = false) => [
  { call: "archiveSnapshots", to: { kind: "file", path: ARCHIVE }, snapshots, secure, forReplacement: true },
  {
    call: "undefine",
    flags: U.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA | U.VIR_DOMAIN_UNDEFINE_NVRAM,
    fallbackFlags: U.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA,
    expectSnapshots: snapshots,
  },
];

describe("planReplacement with keepSnapshotsOnReplace: true", () => {
  it.each(KEEPABLE_REPLACE_KEYS)("a change of `%s` on the same disks keeps the tree: archive, then the metadata-only undefine", (key) => {
    const plan = planReplacement(facts(), opts(), change({ replacedBy: [key] }));
    expect(plan).toEqual({ decision: { allowed: true, steps: keptSteps() }, keepsTree: true });
  });

  it("the option may come with the change: the saved options need not allow the cascade, and the data cascade never runs", () => {
    expect(planDomainDelete(facts(), opts()).allowed).toBe(false);
    const plan = planReplacement(facts(), opts({ deleteSnapshotsOnDestroy: true, deleteSnapshotDataOnDestroy: true }), change());
    expect(plan.keepsTree).toBe(true);
    expect((plan.decision as { steps: Array<{ call: string }> }).steps.map((s) => s.call)).toEqual(["archiveSnapshots", "undefine"]);
  });

  it("a running domain is shut down (gracefully, as any delete) between the archive and the undefine; archiveSecretsOnDestroy makes it secure", () => {
    const plan = planReplacement(facts({ active: true }), opts({ archiveSecretsOnDestroy: true }), change());
    const [archive, ...rest] = keptSteps(["s1", "s2", "s3"], true);
    expect(plan.decision).toEqual({
      allowed: true,
      steps: [archive, { call: "shutdown", timeoutSeconds: 60, via: "acpi" }, { call: "destroy" }, ...rest],
    });
  });

  it("a pool volume as first disk: the archive is a volume of that pool", () => {
    const plan = planReplacement(facts({ firstDisk: { pool: "images" }, localHypervisor: false }), opts(), change());
    expect((plan.decision as { steps: Array<Record<string, unknown>> }).steps[0].to).toEqual({
      kind: "volume",
      pool: "images",
      name: "web.snapshots-20261203T140000Z.json",
    });
  });

  const refusals: Array<[string, Partial<DomainFacts>, Partial<ReplaceChange>, Partial<TeardownOptions>, RegExp]> = [
    [
      "a change of uri",
      {},
      { replacedBy: ["machine", "uri"] },
      {},
      /changing `uri` moves the domain to another hypervisor, away from its images; only a change of `name`, `type`, `machine`, `firmware` keeps the tree/,
    ],
    ["a change of arch", {}, { replacedBy: ["arch"] }, {}, /changing `arch` moves the domain to another architecture/],
    ["a transient new domain", {}, { persistent: false }, {}, /the new domain is transient \(persistent: false\)/],
    [
      "a transient old domain",
      { persistent: false, active: true },
      {},
      {},
      /it is transient: libvirt drops a transient domain's snapshot metadata when it stops/,
    ],
    [
      "changed disks",
      {},
      { disks: "changed" },
      {},
      /the disks change too, and the snapshots' contents are in the old disks' images: change the disks in an `up` of their own/,
    ],
    ["disks not known yet", {}, { disks: "unknown" }, {}, /the new disks are not known yet/],
    [
      "another <uuid> in the xml",
      {},
      { otherUuid: "11111111-2222-3333-4444-555555555555" },
      {},
      new RegExp(`the xml input gives <uuid> 11111111-2222-3333-4444-555555555555, but the new domain takes the old one's, ${UUID}`),
    ],
    [
      "contents that cannot be shown",
      {},
      { unverifiable: new Map([["s2", 'the internal snapshot "s2" is not in the image']]) },
      {},
      /snapshot "s2" could not be redefined: the internal snapshot "s2" is not in the image/,
    ],
    ["the test driver", { inMemoryDriver: true }, {}, {}, /libvirt's test driver keeps no disk images/],
    ["no disk image", { firstDisk: undefined }, {}, {}, /it has no disk image, so no snapshot contents stay behind/],
    [
      "nowhere to write the archive",
      { firstDisk: { file: IMAGE }, localHypervisor: false },
      {},
      {},
      /there is nowhere to write the archive the new domain takes the snapshots back from: its first disk is the file .* in no storage pool/,
    ],
    ["a managed-save image (saved options)", { hasManagedSave: true }, {}, {}, /managed-save image.*deleteManagedSaveOnDestroy: true/],
    ["checkpoints (saved options)", { checkpoints: 2 }, {}, {}, /2 checkpoints\. Set deleteCheckpointsOnDestroy: true/],
  ];
  it.each(refusals)("refused for %s: nothing changed, why, and the ways out", (_what, f, c, o, reason) => {
    const plan = planReplacement(facts(f), opts(o), change(c));
    expect(plan.keepsTree).toBe(false);
    expect(plan.decision.allowed).toBe(false);
    const m = message(plan.decision);
    expect(m).toMatch(
      /^refusing to replace domain "web" keeping its snapshot tree \(nothing was changed on this domain or its snapshots\): keepSnapshotsOnReplace: true/,
    );
    expect(m).toMatch(/archive its 3 snapshots \("s1", "s2", "s3"\) and redefine them on the new domain, but \(1\) /);
    expect(m).toMatch(reason);
    expect(m).toMatch(/drop keepSnapshotsOnReplace .*; or revert the change to `/);
  });

  it("every reason is listed, numbered", () => {
    const m = message(planReplacement(facts({ hasManagedSave: true }), opts(), change({ disks: "changed", persistent: false })).decision);
    expect(m).toMatch(/\(1\) the new domain is transient.*; \(2\) the disks change too.*; \(3\) it has a managed-save image/);
  });

  it("no snapshots: an ordinary replacement, no tree to keep", () => {
    const plan = planReplacement(facts({ snapshots: [] }), opts(), change());
    expect(plan).toEqual({ decision: planDomainDelete(facts({ snapshots: [] }), opts()), keepsTree: false });
  });
});

describe("planReplacement without keepSnapshotsOnReplace: today's rule", () => {
  it("refused while the saved options refuse the delete, and the refusal names the opt-in and that it may come with the change", () => {
    const plan = planReplacement(facts(), opts(), change({ keepSnapshotsOnReplace: false }));
    expect(plan.keepsTree).toBe(false);
    const m = message(plan.decision);
    expect(m).toMatch(
      /^refusing to replace domain "web" \(nothing was changed on this domain or its snapshots\): changing `machine` replaces the domain/,
    );
    expect(m).toMatch(
      /Or keep the snapshot tree across the replacement: set keepSnapshotsOnReplace: true on the Domain \(it may come with this change, in the same `pulumi up`\)/,
    );
  });

  it.each([
    ["a change of uri", facts(), change({ keepSnapshotsOnReplace: false, replacedBy: ["uri"] })],
    ["a transient domain", facts({ persistent: false, active: true }), change({ keepSnapshotsOnReplace: false })],
  ])("a replacement that could not keep the tree (%s) is not offered the opt-in", (_what, f, c) => {
    const m = message(planReplacement(f, opts(), c).decision);
    expect(m).toMatch(/^refusing to replace domain "web"/);
    expect(m).not.toMatch(/keepSnapshotsOnReplace/);
  });

  it("allowed by the saved cascade option as before: the snapshots' metadata goes, nothing is kept", () => {
    const o = opts({ deleteSnapshotsOnDestroy: true });
    expect(planReplacement(facts(), o, change({ keepSnapshotsOnReplace: false }))).toEqual({
      decision: planDomainDelete(facts(), o),
      keepsTree: false,
    });
  });
});

describe("planKeptDelete: the delete decides again from what libvirt has then", () => {
  it("the same steps as the diff planned", () => {
    expect(planKeptDelete(facts(), opts())).toEqual({ decision: { allowed: true, steps: keptSteps() }, keepsTree: true });
  });
  it("a snapshot taken since the diff is archived too (the undefine expects it)", () => {
    const s = ["s1", "s2", "s3", "late"];
    expect(planKeptDelete(facts({ snapshots: s }), opts())).toEqual({ decision: { allowed: true, steps: keptSteps(s) }, keepsTree: true });
  });
  it("no snapshots left: the ordinary delete", () => {
    expect(planKeptDelete(facts({ snapshots: [] }), opts())).toEqual({
      decision: planDomainDelete(facts({ snapshots: [] }), opts()),
      keepsTree: false,
    });
  });
  it("a blocker since the diff (a managed-save image) refuses, nothing changed", () => {
    const plan = planKeptDelete(facts({ hasManagedSave: true }), opts());
    expect(plan.keepsTree).toBe(false);
    expect(message(plan.decision)).toMatch(
      /^refusing to replace domain "web" keeping its snapshot tree \(nothing was changed .*\): keepSnapshotsOnReplace: true has the replacement archive .* managed-save image.*revert the replacing change/,
    );
  });
});

describe("the messages", () => {
  it("the archive as restoreSnapshotsFrom takes it", () => {
    expect(restoreValue({ kind: "file", path: ARCHIVE })).toBe(JSON.stringify(ARCHIVE));
    expect(restoreValue({ kind: "volume", pool: "images", name: "web.snapshots-x.json" })).toBe('{ pool: "images", name: "web.snapshots-x.json" }');
  });
  it("the delete says where the tree went", () => {
    expect(describeKeptDelete("web", { kind: "file", path: ARCHIVE }, ["s1"])).toBe(
      `domain "web": replaced keeping its snapshot tree: the new domain takes the snapshot ("s1") back from file ${ARCHIVE}`,
    );
  });
  it("an archive that cannot be written refuses the replacement, nothing changed", () => {
    expect(archiveRefusedForReplacement("web", 2, `file ${ARCHIVE}`, "EPERM: operation not permitted")).toBe(
      `refusing to replace domain "web" keeping its snapshot tree (nothing was changed on this domain or its snapshots): its 2 snapshots' metadata is archived ` +
        `before the old domain goes, for the new one to redefine, and writing the archive to file ${ARCHIVE} failed: EPERM: operation not permitted. ` +
        "Make that place writable (or free space there) and run `pulumi up` again, or revert the replacing change to keep the domain.",
    );
  });
  it("a failed create says nothing is lost, where the archive is and how to restore it", () => {
    expect(keptTreeAdvice("web", { kind: "file", path: ARCHIVE }, 3)).toMatch(
      new RegExp(
        `^The old domain "web" was deleted by this replacement; its 3 snapshots' metadata is in the archive file ${ARCHIVE} and their contents stay in the disk images, so nothing is lost\\. ` +
          `To take them back, set restoreSnapshotsFrom: "${ARCHIVE}" on the Domain`,
      ),
    );
  });
});

describe("the replace note (one provider process: diff, Snapshot diffs, delete, create)", () => {
  it("written by the diff, read by uuid, taken by the create only after the delete, once", () => {
    const uuid = "aaaaaaaa-0000-4000-8000-000000000001";
    noteKeptReplace({ oldUuid: uuid, oldName: "web", newName: "web2", newUri: "qemu:///system" });
    expect(keptReplaceOf(uuid)).toMatchObject({ oldName: "web", deleted: false });
    // Before the delete the create does not take it (a note of a planned replacement only).
    expect(takeKeptReplaceFor("web2", "qemu:///system")).toBeUndefined();
    keptReplaceOf(uuid)!.deleted = true;
    expect(takeKeptReplaceFor("web2", "qemu:///session")).toBeUndefined();
    expect(takeKeptReplaceFor("other", "qemu:///system")).toBeUndefined();
    expect(takeKeptReplaceFor("web2", "qemu:///system")).toMatchObject({ oldUuid: uuid });
    expect(takeKeptReplaceFor("web2", "qemu:///system")).toBeUndefined();
    expect(keptReplaceOf(uuid)).toBeUndefined();
  });
  it("forgotten when the diff decides otherwise", () => {
    const uuid = "aaaaaaaa-0000-4000-8000-000000000002";
    noteKeptReplace({ oldUuid: uuid, oldName: "web", newName: "web", newUri: undefined });
    forgetKeptReplace(uuid);
    expect(keptReplaceOf(uuid)).toBeUndefined();
    expect(keptReplaceOf(undefined)).toBeUndefined();
  });
});
