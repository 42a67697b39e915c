// docs/design.md's teardown table, row by row, over the pure teardown rules
// (planDomainDelete / planDomainStop / planMakeTransient): facts in, decision
// out. The flag values are libvirt's own, from the generated constants.
import { describe, expect, it } from "vitest";
import { virDomainUndefineFlagsValues as U } from "../../../provider/libvirt/libvirt.gen";
import {
  planDomainDelete,
  planDomainReplace,
  planDomainStop,
  planMakeTransient,
  planLateDrop,
  effectiveTeardownOptions,
  DEFAULT_TEARDOWN_OPTIONS,
  DELETE_SNAPSHOTS_ENV,
  type ArchiveLocation,
  type DomainFacts,
  type TeardownDecision,
  type TeardownOptions,
  type TeardownStep,
} from "../../../provider/teardown/domain";

const SNAP = U.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA;
const MSAVE = U.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE;
const CKPT = U.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA;
const NVRAM = U.VIR_DOMAIN_UNDEFINE_NVRAM;
const KEEP = U.VIR_DOMAIN_UNDEFINE_KEEP_NVRAM;

const facts = (over: Partial<DomainFacts> = {}): DomainFacts => ({
  name: "web",
  persistent: true,
  active: false,
  snapshots: [],
  hasManagedSave: false,
  checkpoints: 0,
  hasNvram: false,
  ...over,
});
const opts = (over: Partial<TeardownOptions> = {}): TeardownOptions => ({ ...DEFAULT_TEARDOWN_OPTIONS, ...over });

const plans = { delete: planDomainDelete, stop: planDomainStop, makeTransient: planMakeTransient };
type Plan = keyof typeof plans;

/** An undefine step; with the snapshot-metadata cascade it carries the snapshots the check saw. */
const undefine = (flags: number, fallbackFlags = flags, expectSnapshots?: string[], expectCheckpoints?: number): TeardownStep => ({
  call: "undefine",
  flags,
  fallbackFlags,
  ...(expectSnapshots ? { expectSnapshots } : {}),
  ...(expectCheckpoints !== undefined ? { expectCheckpoints } : {}),
});
const destroy: TeardownStep = { call: "destroy" };
/** A running persistent domain is asked to shut down (ACPI, the default 60 s) before the hard stop. */
const shutdown = (timeoutSeconds = 60, via: "agent" | "acpi" = "acpi"): TeardownStep => ({ call: "shutdown", timeoutSeconds, via });
const gracefulStop: TeardownStep[] = [shutdown(), destroy];
/** Stopping a transient domain drops its metadata: the step carries what the check allowed to go. */
const destroyTransient = (expectSnapshots: string[], expectCheckpoints = 0): TeardownStep => ({
  call: "destroy",
  expectSnapshots,
  expectCheckpoints,
});

interface Row {
  row: string;
  plan: Plan;
  facts: DomainFacts;
  opts: TeardownOptions;
  /** Allowed with exactly these steps, or refused with a message matching every pattern. */
  steps?: TeardownStep[];
  refused?: RegExp[];
}

const twoSnaps = ["before-upgrade", "after-upgrade"];
const OPTION = /Set deleteSnapshotsOnDestroy: true \(and run `pulumi up`\), or set LIBVIRT_PULUMI_DELETE_SNAPSHOTS_ON_DESTROY=1 for this destroy/;

const rows: Row[] = [
  // delete an inactive persistent domain that has snapshots
  {
    row: "inactive persistent with snapshots: refused, naming the snapshots and the option",
    plan: "delete",
    facts: facts({ snapshots: twoSnaps }),
    opts: opts(),
    refused: [/^refusing to delete domain "web" \(nothing was changed on this domain\)/, /2 snapshots \("before-upgrade", "after-upgrade"\)/, OPTION],
  },
  {
    row: "inactive persistent with snapshots + deleteSnapshotsOnDestroy: undefine with SNAPSHOTS_METADATA",
    plan: "delete",
    facts: facts({ snapshots: twoSnaps }),
    opts: opts({ deleteSnapshotsOnDestroy: true }),
    steps: [undefine(SNAP | NVRAM, SNAP, twoSnaps)],
  },
  // delete a running persistent domain that has snapshots
  {
    row: "running persistent with snapshots: refused before stopping it",
    plan: "delete",
    facts: facts({ active: true, snapshots: ["s1"] }),
    opts: opts(),
    refused: [/^refusing to delete domain "web" \(it is still running and nothing was changed on this domain\)/, /1 snapshot \("s1"\)/, OPTION],
  },
  {
    row: "running persistent with snapshots + deleteSnapshotsOnDestroy: destroy, then undefine with SNAPSHOTS_METADATA",
    plan: "delete",
    facts: facts({ active: true, snapshots: ["s1"] }),
    opts: opts({ deleteSnapshotsOnDestroy: true }),
    steps: [...gracefulStop, undefine(SNAP | NVRAM, SNAP, ["s1"])],
  },
  // delete / stop a transient domain that has snapshots
  {
    row: "transient with snapshots: delete refused (libvirt would drop the metadata)",
    plan: "delete",
    facts: facts({ persistent: false, active: true, snapshots: ["t1"] }),
    opts: opts(),
    refused: [
      /^refusing to delete domain "web" \(it is still running and nothing was changed on this domain\)/,
      /dropped by libvirt when the transient domain stops/,
      OPTION,
    ],
  },
  {
    row: "transient with snapshots + deleteSnapshotsOnDestroy: destroy only (nothing to undefine)",
    plan: "delete",
    facts: facts({ persistent: false, active: true, snapshots: ["t1"] }),
    opts: opts({ deleteSnapshotsOnDestroy: true }),
    steps: [destroyTransient(["t1"])],
  },
  {
    row: "transient without snapshots: a destroy that is refused if a snapshot or checkpoint appears before it",
    plan: "delete",
    facts: facts({ persistent: false, active: true }),
    opts: opts(),
    steps: [destroyTransient([], 0)],
  },
  {
    row: "transient with checkpoints + deleteCheckpointsOnDestroy: the destroy expects exactly those",
    plan: "delete",
    facts: facts({ persistent: false, active: true, checkpoints: 2 }),
    opts: opts({ deleteCheckpointsOnDestroy: true }),
    steps: [destroyTransient([], 2)],
  },
  {
    row: "transient with deleteSnapshotDataOnDestroy: snapshots deleted, then a destroy that expects none left",
    plan: "delete",
    facts: facts({ persistent: false, active: true, snapshots: ["a", "b"] }),
    opts: opts({ deleteSnapshotsOnDestroy: true, deleteSnapshotDataOnDestroy: true }),
    steps: [{ call: "deleteSnapshots", names: ["b", "a"] }, destroyTransient([])],
  },
  {
    row: "transient with snapshots: stop refused too (a stop is its delete)",
    plan: "stop",
    facts: facts({ persistent: false, active: true, snapshots: ["t1"] }),
    opts: opts(),
    refused: [
      /^refusing to stop transient domain "web" \(it is still running and nothing was changed on this domain\)/,
      /1 snapshot \("t1"\)/,
      OPTION,
    ],
  },
  {
    row: "transient with snapshots + deleteSnapshotsOnDestroy: stop is a destroy",
    plan: "stop",
    facts: facts({ persistent: false, active: true, snapshots: ["t1"] }),
    opts: opts({ deleteSnapshotsOnDestroy: true }),
    steps: [destroyTransient(["t1"])],
  },
  // managed save
  {
    row: "managed-save image: refused",
    plan: "delete",
    facts: facts({ hasManagedSave: true }),
    opts: opts(),
    refused: [/^refusing to delete domain "web" \(nothing was changed on this domain\)/, /managed-save image.*Set deleteManagedSaveOnDestroy: true/],
  },
  {
    row: "managed-save image + deleteManagedSaveOnDestroy: undefine with MANAGED_SAVE",
    plan: "delete",
    facts: facts({ hasManagedSave: true }),
    opts: opts({ deleteManagedSaveOnDestroy: true }),
    steps: [undefine(MSAVE | NVRAM, MSAVE)],
  },
  // checkpoints
  {
    row: "checkpoints: refused",
    plan: "delete",
    facts: facts({ checkpoints: 2 }),
    opts: opts(),
    refused: [/^refusing to delete domain "web" \(nothing was changed on this domain\)/, /2 checkpoints\. Set deleteCheckpointsOnDestroy: true/],
  },
  {
    row: "checkpoints + deleteCheckpointsOnDestroy: undefine with CHECKPOINTS_METADATA",
    plan: "delete",
    facts: facts({ checkpoints: 2 }),
    opts: opts({ deleteCheckpointsOnDestroy: true }),
    steps: [undefine(CKPT | NVRAM, CKPT, undefined, 2)],
  },
  // also discard snapshot contents
  {
    row: "deleteSnapshotDataOnDestroy: each snapshot deleted children first, then undefine without the metadata flag",
    plan: "delete",
    facts: facts({ snapshots: ["root", "mid", "leaf"] }),
    opts: opts({ deleteSnapshotsOnDestroy: true, deleteSnapshotDataOnDestroy: true }),
    steps: [{ call: "deleteSnapshots", names: ["leaf", "mid", "root"] }, undefine(NVRAM, 0)],
  },
  {
    row: "deleteSnapshotDataOnDestroy on a running domain: delete snapshots, destroy, undefine",
    plan: "delete",
    facts: facts({ active: true, snapshots: ["a", "b"] }),
    opts: opts({ deleteSnapshotsOnDestroy: true, deleteSnapshotDataOnDestroy: true }),
    steps: [{ call: "deleteSnapshots", names: ["b", "a"] }, ...gracefulStop, undefine(NVRAM, 0)],
  },
  {
    row: "deleteSnapshotDataOnDestroy without the cascade option: still refused",
    plan: "delete",
    facts: facts({ snapshots: ["a"] }),
    opts: opts({ deleteSnapshotDataOnDestroy: true }),
    refused: [/1 snapshot \("a"\)/, OPTION],
  },
  // stop (not delete) a persistent domain with snapshots
  {
    row: "stop a running persistent domain with snapshots: allowed, it still exists",
    plan: "stop",
    facts: facts({ active: true, snapshots: twoSnaps, hasManagedSave: false, checkpoints: 3 }),
    opts: opts(),
    steps: gracefulStop,
  },
  {
    row: "stop an already stopped domain: nothing to do",
    plan: "stop",
    facts: facts({ snapshots: twoSnaps }),
    opts: opts(),
    steps: [],
  },
  // persistent -> transient while running
  {
    row: "persistent -> transient while running, with snapshots: allowed (metadata stays until it halts)",
    plan: "makeTransient",
    facts: facts({ active: true, snapshots: twoSnaps }),
    opts: opts(),
    steps: [undefine(0)],
  },
  {
    row: "persistent -> transient while running with NVRAM: the running guest keeps its NVRAM",
    plan: "makeTransient",
    facts: facts({ active: true, hasNvram: true }),
    opts: opts(),
    steps: [undefine(KEEP)],
  },
  {
    row: "persistent -> transient while inactive with snapshots: that is a delete, so refused",
    plan: "makeTransient",
    facts: facts({ snapshots: ["s"] }),
    opts: opts(),
    refused: [/^refusing to delete domain "web" \(nothing was changed on this domain\)/, /1 snapshot \("s"\)/],
  },
  {
    row: "already transient: nothing to do",
    plan: "makeTransient",
    facts: facts({ persistent: false, active: true, snapshots: ["s"] }),
    opts: opts(),
    steps: [],
  },
  // NVRAM
  {
    row: "NVRAM: removed with the domain by default; no fallback drops the flag",
    plan: "delete",
    facts: facts({ hasNvram: true }),
    opts: opts(),
    steps: [undefine(NVRAM, NVRAM)],
  },
  {
    row: "NVRAM + keepNvramOnDestroy: KEEP_NVRAM, no fallback drops it",
    plan: "delete",
    facts: facts({ hasNvram: true }),
    opts: opts({ keepNvramOnDestroy: true }),
    steps: [undefine(KEEP, KEEP)],
  },
  {
    row: "no NVRAM: NVRAM flag, with a fallback without it for drivers that reject it",
    plan: "delete",
    facts: facts(),
    opts: opts(),
    steps: [undefine(NVRAM, 0)],
  },
  {
    row: "no NVRAM + keepNvramOnDestroy: KEEP_NVRAM, with a fallback without it",
    plan: "delete",
    facts: facts(),
    opts: opts({ keepNvramOnDestroy: true }),
    steps: [undefine(KEEP, 0)],
  },
  {
    row: "everything allowed at once: every cascade flag, destroy first",
    plan: "delete",
    facts: facts({ active: true, snapshots: ["s"], hasManagedSave: true, checkpoints: 1, hasNvram: true }),
    opts: opts({ deleteSnapshotsOnDestroy: true, deleteManagedSaveOnDestroy: true, deleteCheckpointsOnDestroy: true }),
    steps: [...gracefulStop, undefine(SNAP | MSAVE | CKPT | NVRAM, SNAP | MSAVE | CKPT | NVRAM, ["s"], 1)],
  },
  // combined refusals
  {
    row: "snapshots + managed save + checkpoints: one refusal listing every reason",
    plan: "delete",
    facts: facts({ active: true, snapshots: ["s"], hasManagedSave: true, checkpoints: 1 }),
    opts: opts(),
    refused: [
      /\(1\) it has 1 snapshot \("s"\)/,
      /; \(2\) it has a managed-save image/,
      /; \(3\) it has 1 checkpoint\. Set deleteCheckpointsOnDestroy/,
      /still running and nothing was changed/,
    ],
  },
  {
    row: "the snapshot option does not allow the other blockers",
    plan: "delete",
    facts: facts({ snapshots: ["s"], hasManagedSave: true, checkpoints: 1 }),
    opts: opts({ deleteSnapshotsOnDestroy: true }),
    refused: [/\(1\) it has a managed-save image/, /\(2\) it has 1 checkpoint/],
  },
];

// The snapshot archive (README's teardown rules): the metadata-only cascade first
// writes the domain's and every snapshot's XML next to the images. The facts say
// where the first disk image is; the rows above have no disk image, so no archive.
const STAMP = "20261202T170000Z";
const localFile = { firstDisk: { file: "/var/lib/libvirt/images/web.qcow2" }, localHypervisor: true, archiveStamp: STAMP };
const fileArchive = `/var/lib/libvirt/images/web.snapshots-${STAMP}.json`;
const archive = (to: ArchiveLocation, snapshots: string[], secure = false): TeardownStep => ({ call: "archiveSnapshots", to, snapshots, secure });
const NOWHERE = [
  /^refusing to delete domain "web" \(nothing was changed on this domain\)/,
  /2 snapshots \("before-upgrade", "after-upgrade"\) would lose their libvirt metadata, which is archived first, but there is nowhere to write the archive/,
  /first disk is the file \/srv\/web\.qcow2, which is in no storage pool, and the hypervisor is remote/,
  /Put the disk images in a storage pool/,
  /deleteSnapshotDataOnDestroy: true/,
];
const remoteFile = { firstDisk: { file: "/srv/web.qcow2" }, localHypervisor: false, archiveStamp: STAMP };

rows.push(
  {
    row: "archive: inactive persistent on a local file image + deleteSnapshotsOnDestroy: archive beside the image, then undefine",
    plan: "delete",
    facts: facts({ snapshots: twoSnaps, ...localFile }),
    opts: opts({ deleteSnapshotsOnDestroy: true }),
    steps: [archive({ kind: "file", path: fileArchive }, twoSnaps), undefine(SNAP | NVRAM, SNAP, twoSnaps)],
  },
  {
    row: "archive: running persistent on a pool volume: a volume in that pool, before the destroy",
    plan: "delete",
    facts: facts({ snapshots: ["s1"], active: true, firstDisk: { pool: "images" }, localHypervisor: true, archiveStamp: STAMP }),
    opts: opts({ deleteSnapshotsOnDestroy: true }),
    steps: [
      archive({ kind: "volume", pool: "images", name: `web.snapshots-${STAMP}.json` }, ["s1"]),
      ...gracefulStop,
      undefine(SNAP | NVRAM, SNAP, ["s1"]),
    ],
  },
  {
    row: "archive: a remote hypervisor with a file image that a pool holds: a volume in that pool",
    plan: "delete",
    facts: facts({ snapshots: twoSnaps, firstDisk: { file: "/srv/web.qcow2", pool: "srv" }, localHypervisor: false, archiveStamp: STAMP }),
    opts: opts({ deleteSnapshotsOnDestroy: true }),
    steps: [archive({ kind: "volume", pool: "srv", name: `web.snapshots-${STAMP}.json` }, twoSnaps), undefine(SNAP | NVRAM, SNAP, twoSnaps)],
  },
  {
    row: "archive: a remote hypervisor with a file image in no pool: refused, naming what to do",
    plan: "delete",
    facts: facts({ snapshots: twoSnaps, ...remoteFile }),
    opts: opts({ deleteSnapshotsOnDestroy: true }),
    refused: NOWHERE,
  },
  {
    row: "archive: nowhere to write it, running: refused before the stop",
    plan: "delete",
    facts: facts({ snapshots: twoSnaps, active: true, ...remoteFile }),
    opts: opts({ deleteSnapshotsOnDestroy: true }),
    refused: [/^refusing to delete domain "web" \(it is still running and nothing was changed on this domain\)/, /nowhere to write the archive/],
  },
  {
    row: "archive: archiveSecretsOnDestroy writes libvirt's secure XML",
    plan: "delete",
    facts: facts({ snapshots: twoSnaps, ...localFile }),
    opts: opts({ deleteSnapshotsOnDestroy: true, archiveSecretsOnDestroy: true }),
    steps: [archive({ kind: "file", path: fileArchive }, twoSnaps, true), undefine(SNAP | NVRAM, SNAP, twoSnaps)],
  },
  {
    row: "archive: a running transient domain (libvirt drops the metadata as it stops): archived before the destroy",
    plan: "delete",
    facts: facts({ snapshots: ["t1"], persistent: false, active: true, ...localFile }),
    opts: opts({ deleteSnapshotsOnDestroy: true }),
    steps: [archive({ kind: "file", path: fileArchive }, ["t1"]), destroyTransient(["t1"])],
  },
  {
    row: "archive: stopping a transient domain is its delete, so archived too",
    plan: "stop",
    facts: facts({ snapshots: ["t1"], persistent: false, active: true, ...localFile }),
    opts: opts({ deleteSnapshotsOnDestroy: true }),
    steps: [archive({ kind: "file", path: fileArchive }, ["t1"]), destroyTransient(["t1"])],
  },
  {
    row: "archive: stopping a transient domain with nowhere to archive: refused",
    plan: "stop",
    facts: facts({ snapshots: ["t1"], persistent: false, active: true, ...remoteFile }),
    opts: opts({ deleteSnapshotsOnDestroy: true }),
    refused: [/^refusing to stop transient domain "web" \(it is still running/, /nowhere to write the archive/],
  },
  {
    row: "archive: an inactive persistent domain made transient is a delete, so archived too",
    plan: "makeTransient",
    facts: facts({ snapshots: twoSnaps, ...localFile }),
    opts: opts({ deleteSnapshotsOnDestroy: true }),
    steps: [archive({ kind: "file", path: fileArchive }, twoSnaps), undefine(SNAP | NVRAM, SNAP, twoSnaps)],
  },
  {
    row: "archive: not with deleteSnapshotDataOnDestroy (the contents go too: nothing is left to archive for)",
    plan: "delete",
    facts: facts({ snapshots: ["b", "a"].reverse(), ...remoteFile }),
    opts: opts({ deleteSnapshotsOnDestroy: true, deleteSnapshotDataOnDestroy: true }),
    steps: [{ call: "deleteSnapshots", names: ["b", "a"] }, undefine(NVRAM, 0)],
  },
  {
    row: "archive: not on libvirt's in-memory test driver (no images on any disk)",
    plan: "delete",
    facts: facts({ snapshots: twoSnaps, ...localFile, inMemoryDriver: true }),
    opts: opts({ deleteSnapshotsOnDestroy: true }),
    steps: [undefine(SNAP | NVRAM, SNAP, twoSnaps)],
  },
  {
    row: "archive: not without the cascade option (the delete is refused for the snapshots first)",
    plan: "delete",
    facts: facts({ snapshots: twoSnaps, ...remoteFile }),
    opts: opts(),
    refused: [OPTION],
  },
);

function expectDecision(decision: TeardownDecision, row: Row): void {
  if (row.steps) {
    expect(decision).toEqual({ allowed: true, steps: row.steps });
  } else {
    expect(decision.allowed).toBe(false);
    const message = (decision as { message: string }).message;
    for (const pattern of row.refused!) expect(message).toMatch(pattern);
    // A refusal is a message only: no steps to carry out.
    expect(decision).not.toHaveProperty("steps");
  }
}

describe("the teardown table (docs/design.md)", () => {
  it.each(rows)("$plan: $row", (row) => {
    expectDecision(plans[row.plan](row.facts, row.opts), row);
  });

  it("every refusal names the exact option that would allow it", () => {
    for (const row of rows.filter((r) => r.refused)) {
      const message = (plans[row.plan](row.facts, row.opts) as { message: string }).message;
      expect(message).toMatch(/(deleteSnapshotsOnDestroy|deleteManagedSaveOnDestroy|deleteCheckpointsOnDestroy): true/);
    }
  });

  it("a refusal lists many snapshots by count, the first ten by name", () => {
    const names = Array.from({ length: 12 }, (_, n) => `snap-${n}`);
    const d = planDomainDelete(facts({ snapshots: names }), opts());
    expect(d.allowed).toBe(false);
    const message = (d as { message: string }).message;
    expect(message).toMatch(/12 snapshots \("snap-0", .*"snap-9" and 2 more\)/);
    expect(message).not.toContain("snap-10");
    expect(message).toContain(`${DELETE_SNAPSHOTS_ENV}=1`);
  });

  it("the plan does not reorder the caller's snapshot list", () => {
    const snapshots = ["root", "leaf"];
    planDomainDelete(facts({ snapshots }), opts({ deleteSnapshotsOnDestroy: true, deleteSnapshotDataOnDestroy: true }));
    expect(snapshots).toEqual(["root", "leaf"]);
  });
});

describe("effectiveTeardownOptions", () => {
  it("is the defaults (all false) when nothing is stored and the variable is unset", () => {
    expect(effectiveTeardownOptions({}, {})).toEqual({
      deleteSnapshotsOnDestroy: false,
      deleteSnapshotDataOnDestroy: false,
      deleteManagedSaveOnDestroy: false,
      deleteCheckpointsOnDestroy: false,
      keepNvramOnDestroy: false,
      archiveSecretsOnDestroy: false,
      shutdownTimeoutSeconds: 60,
    });
  });

  it("keeps the stored options and ignores undefined ones", () => {
    expect(effectiveTeardownOptions({ deleteCheckpointsOnDestroy: true, keepNvramOnDestroy: undefined }, {})).toEqual(
      opts({ deleteCheckpointsOnDestroy: true }),
    );
  });

  it("the variable is LIBVIRT_PULUMI_DELETE_SNAPSHOTS_ON_DESTROY", () => {
    expect(DELETE_SNAPSHOTS_ENV).toBe("LIBVIRT_PULUMI_DELETE_SNAPSHOTS_ON_DESTROY");
  });

  it.each(["1", "true", "yes", "TRUE", "Yes"])("%j turns the snapshot cascade on, and nothing else", (value) => {
    expect(effectiveTeardownOptions({}, { [DELETE_SNAPSHOTS_ENV]: value })).toEqual(opts({ deleteSnapshotsOnDestroy: true }));
  });

  it.each(["0", "false", "no", "", "2", "on", "y", " 1", "yes please", "truee"])("%j is ignored", (value) => {
    expect(effectiveTeardownOptions({}, { [DELETE_SNAPSHOTS_ENV]: value })).toEqual(opts());
  });

  it("a false value in the variable does not turn off a stored true", () => {
    expect(effectiveTeardownOptions({ deleteSnapshotsOnDestroy: true }, { [DELETE_SNAPSHOTS_ENV]: "0" }).deleteSnapshotsOnDestroy).toBe(true);
  });

  it("reads process.env by default", () => {
    const saved = process.env[DELETE_SNAPSHOTS_ENV];
    try {
      process.env[DELETE_SNAPSHOTS_ENV] = "1";
      expect(effectiveTeardownOptions({}).deleteSnapshotsOnDestroy).toBe(true);
      delete process.env[DELETE_SNAPSHOTS_ENV];
      expect(effectiveTeardownOptions({}).deleteSnapshotsOnDestroy).toBe(false);
    } finally {
      if (saved === undefined) delete process.env[DELETE_SNAPSHOTS_ENV];
      else process.env[DELETE_SNAPSHOTS_ENV] = saved;
    }
  });

  it("the env-enabled options then allow a delete that was refused", () => {
    const f = facts({ snapshots: ["s"] });
    expect(planDomainDelete(f, effectiveTeardownOptions({}, {})).allowed).toBe(false);
    expect(planDomainDelete(f, effectiveTeardownOptions({}, { [DELETE_SNAPSHOTS_ENV]: "1" }))).toEqual({
      allowed: true,
      steps: [undefine(SNAP | NVRAM, SNAP, ["s"])],
    });
  });
});

describe("planDomainReplace: a replacement deletes the domain first, so the delete rules decide it at diff time", () => {
  it("allowed exactly when the delete is, with the delete's plan", () => {
    expect(planDomainReplace(facts(), opts(), ["machine"])).toEqual(planDomainDelete(facts(), opts()));
    const f = facts({ active: true, snapshots: ["s"] });
    expect(planDomainReplace(f, opts({ deleteSnapshotsOnDestroy: true }), ["name"])).toEqual(
      planDomainDelete(f, opts({ deleteSnapshotsOnDestroy: true })),
    );
  });

  it.each([
    [
      "snapshots",
      facts({ active: true, snapshots: ["stack-snap", "by-hand"] }),
      /2 snapshots \("stack-snap", "by-hand"\).*deleteSnapshotsOnDestroy: true/,
    ],
    ["managed save", facts({ hasManagedSave: true }), /managed-save image.*deleteManagedSaveOnDestroy: true/],
    ["checkpoints", facts({ active: true, checkpoints: 1 }), /1 checkpoint\. Set deleteCheckpointsOnDestroy: true/],
  ])("refused for %s: says it is a replacement, that nothing was changed, which property forces it and what to do", (_what, f, reason) => {
    const d = planDomainReplace(f, opts(), ["machine", "name"]);
    expect(d.allowed).toBe(false);
    const message = (d as { message: string }).message;
    expect(message).toMatch(
      /^refusing to replace domain "web" \(nothing was changed on this domain or its snapshots\): changing `machine`, `name` replaces the domain/,
    );
    expect(message).toMatch(reason);
    expect(message).toMatch(/first run `pulumi up` with only the option set .* without the change to `machine`, `name`, then make the change/);
    expect(message).toMatch(/revert the change to `machine`, `name`/);
    expect(message).not.toMatch(/does not apply/);
    // The delete's advice is worded for this up, not for a destroy.
    expect(message).not.toMatch(/for this destroy|\(and run `pulumi up`\)/);
  });

  it("the environment variable is offered for this up", () => {
    const message = (planDomainReplace(facts({ snapshots: ["s"] }), opts(), ["name"]) as { message: string }).message;
    expect(message).toMatch(
      /Set deleteSnapshotsOnDestroy: true, or set LIBVIRT_PULUMI_DELETE_SNAPSHOTS_ON_DESTROY=1 for this `pulumi up`, to remove libvirt's snapshot metadata/,
    );
  });

  it("an opt-in set by the new inputs only is said not to apply (the old domain's delete sees the saved options)", () => {
    const d = planDomainReplace(facts({ snapshots: ["s"] }), opts(), ["machine"], {
      deleteSnapshotsOnDestroy: true,
      deleteManagedSaveOnDestroy: false,
    });
    expect((d as { message: string }).message).toMatch(/The new deleteSnapshotsOnDestroy: true does not apply to this replacement/);
  });

  it("a delete with nowhere to write the snapshot archive refuses the replacement, saying why", () => {
    const d = planDomainReplace(
      facts({ snapshots: ["s"], firstDisk: { file: "/srv/web.qcow2" }, localHypervisor: false }),
      opts({ deleteSnapshotsOnDestroy: true }),
      ["machine"],
    );
    expect(d.allowed).toBe(false);
    expect((d as { message: string }).message).toMatch(
      /^refusing to replace domain "web" .*that delete would be refused: \(1\) its 1 snapshot \("s"\) would lose their libvirt metadata, which is archived first, but there is nowhere to write the archive/,
    );
  });

  it("an allowed replacement archives first, like the delete", () => {
    const f = facts({ snapshots: ["s"], ...localFile });
    expect(planDomainReplace(f, opts({ deleteSnapshotsOnDestroy: true }), ["machine"])).toEqual(
      planDomainDelete(f, opts({ deleteSnapshotsOnDestroy: true })),
    );
    expect((planDomainDelete(f, opts({ deleteSnapshotsOnDestroy: true })) as { steps: TeardownStep[] }).steps[0].call).toBe("archiveSnapshots");
  });
});

describe("planLateDrop: the second line of defence, right before a domain-wide drop of metadata", () => {
  const now = (snapshots: string[], checkpoints = 0) => ({ name: "web", snapshots, checkpoints });
  const lateRows: Array<[string, Parameters<typeof planLateDrop>, string | null]> = [
    ["nothing new: allowed, nothing to do", [{ expectSnapshots: ["a"], expectCheckpoints: 1 }, now(["a"], 1), "undefine"], null],
    ["no expectations: nothing is compared", [{}, now(["a", "b"], 3), "undefine"], null],
    ["fewer than expected is fine", [{ expectSnapshots: ["a", "b"], expectCheckpoints: 2 }, now(["a"], 1), "stop transient"], null],
    [
      "one new snapshot on a stop",
      [{ expectSnapshots: [], expectCheckpoints: 0 }, now(["race"]), "stop transient"],
      'refusing to stop transient domain "web": a snapshot ("race") appeared after the teardown check, and stopping it would remove its metadata too. ' +
        "The domain is still running with all its snapshots and checkpoints; run the operation again to include it in the check.",
    ],
    [
      "one new checkpoint on an undefine",
      [{ expectCheckpoints: 1 }, now([], 2), "undefine"],
      'refusing to undefine domain "web": a checkpoint (2 now, 1 at the check) appeared after the teardown check, and the metadata cascade would remove its metadata too. ' +
        "The domain still exists (stopped, if it was running) with all its snapshots and checkpoints; run the operation again to include it in the check.",
    ],
    [
      "two snapshots and two checkpoints",
      [{ expectSnapshots: ["a"], expectCheckpoints: 0 }, now(["a", "s2", "s3"], 2), "undefine"],
      'refusing to undefine domain "web": snapshots ("s2", "s3") and 2 checkpoints (2 now, 0 at the check) appeared after the teardown check, and the metadata cascade would remove their metadata too. ' +
        "The domain still exists (stopped, if it was running) with all its snapshots and checkpoints; run the operation again to include them in the check.",
    ],
    [
      "a snapshot and a checkpoint: more than one thing, so 'their'",
      [{ expectSnapshots: [], expectCheckpoints: 0 }, now(["x"], 1), "stop transient"],
      'refusing to stop transient domain "web": a snapshot ("x") and a checkpoint (1 now, 0 at the check) appeared after the teardown check, and stopping it would remove their metadata too. ' +
        "The domain is still running with all its snapshots and checkpoints; run the operation again to include them in the check.",
    ],
  ];
  it.each(lateRows)("%s", (_label, args, message) => {
    expect(planLateDrop(...args)).toEqual(message === null ? { allowed: true, steps: [] } : { allowed: false, message });
  });
});

describe("graceful stop (shutdownTimeoutSeconds)", () => {
  const running = facts({ active: true });
  it("stop, delete and replacement of a running persistent domain shut it down (ACPI, 60 s) before the hard stop", () => {
    expect(planDomainStop(running, opts())).toEqual({ allowed: true, steps: [shutdown(60, "acpi"), destroy] });
    expect(planDomainDelete(running, opts())).toEqual({ allowed: true, steps: [shutdown(60, "acpi"), destroy, undefine(NVRAM, 0)] });
    expect(planDomainReplace(running, opts(), ["memoryMiB"])).toEqual({ allowed: true, steps: [shutdown(60, "acpi"), destroy, undefine(NVRAM, 0)] });
  });

  it("asks the guest agent when the domain has its channel", () => {
    expect(planDomainStop(facts({ active: true, guestAgent: true }), opts({ shutdownTimeoutSeconds: 5 }))).toEqual({
      allowed: true,
      steps: [shutdown(5, "agent"), destroy],
    });
  });

  it("0: the hard stop at once, exactly as without the option (no shutdown step)", () => {
    expect(planDomainStop(running, opts({ shutdownTimeoutSeconds: 0 }))).toEqual({ allowed: true, steps: [destroy] });
    expect(planDomainDelete(running, opts({ shutdownTimeoutSeconds: 0 }))).toEqual({ allowed: true, steps: [destroy, undefine(NVRAM, 0)] });
  });

  it("a domain that is not running gets no shutdown step", () => {
    expect(planDomainStop(facts(), opts())).toEqual({ allowed: true, steps: [] });
    expect(planDomainDelete(facts(), opts())).toEqual({ allowed: true, steps: [undefine(NVRAM, 0)] });
  });

  it("a transient domain is stopped hard (stopping deletes it) and with snapshots refused before any shutdown", () => {
    const transient = facts({ persistent: false, active: true });
    expect(planDomainDelete(transient, opts())).toEqual({ allowed: true, steps: [destroyTransient([], 0)] });
    const refused = planDomainStop(facts({ persistent: false, active: true, snapshots: ["t1"] }), opts());
    expect(refused.allowed).toBe(false);
    expect(refused).not.toHaveProperty("steps");
  });

  it("the refusals (snapshots, managed save, checkpoints) come before any shutdown", () => {
    for (const over of [{ snapshots: ["s1"] }, { hasManagedSave: true }, { checkpoints: 1 }]) {
      const d = planDomainDelete(facts({ active: true, ...over }), opts());
      expect(d.allowed).toBe(false);
      expect((d as { message: string }).message).toContain("it is still running and nothing was changed");
      expect(planDomainReplace(facts({ active: true, ...over }), opts(), ["memoryMiB"]).allowed).toBe(false);
    }
  });

  it("the data cascade deletes the snapshots first, then shuts down, then stops hard and undefines", () => {
    const d = planDomainDelete(
      facts({ active: true, snapshots: ["a"] }),
      opts({ deleteSnapshotsOnDestroy: true, deleteSnapshotDataOnDestroy: true }),
    );
    expect(d).toEqual({ allowed: true, steps: [{ call: "deleteSnapshots", names: ["a"] }, shutdown(), destroy, undefine(NVRAM, 0)] });
  });

  it("a stored timeout is kept by effectiveTeardownOptions, an undefined one is the default", () => {
    expect(effectiveTeardownOptions({ shutdownTimeoutSeconds: 0 }, {}).shutdownTimeoutSeconds).toBe(0);
    expect(effectiveTeardownOptions({ shutdownTimeoutSeconds: undefined }, {}).shutdownTimeoutSeconds).toBe(60);
  });
});
