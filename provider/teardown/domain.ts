// The teardown rules (docs/design.md, after Eric Blake's libvirt design note): the
// one place that decides whether deleting or stopping a domain, or deleting a
// volume or a pool, may proceed, and with which libvirt calls and flags. Pure:
// it takes facts, returns a decision; the providers gather the facts and carry
// the plan out.
import { orFlags } from "../libvirt/flags";
import { virDomainUndefineFlagsValues as U } from "../libvirt/libvirt.gen";
import { posix } from "node:path";
import { isTruthyEnv } from "./env";
import { nameList, plural, type Decision } from "./shared";

/** What libvirt says about the domain right before teardown. */
export interface DomainFacts {
  name: string;
  persistent: boolean;
  active: boolean;
  /** Snapshot names, parents before children (libvirt's topological order). */
  snapshots: string[];
  hasManagedSave: boolean;
  checkpoints: number;
  /** The persistent definition has an NVRAM file (EFI firmware). */
  hasNvram: boolean;
  /** The domain has the QEMU guest agent's channel (org.qemu.guest_agent.0): a graceful stop asks the agent first. */
  guestAgent?: boolean;
  /**
   * Where the snapshot archive can go: the first disk image of the definition.
   * `pool` for a volume disk (then no `file`), and for a file disk that libvirt
   * knows as a volume of a pool (looked up on a remote hypervisor only: on this
   * machine the archive goes beside the file). Absent when the domain has no disk image.
   */
  firstDisk?: { file?: string; pool?: string };
  /** The hypervisor is on this machine (a file beside the image can be written directly). */
  localHypervisor?: boolean;
  /**
   * The hypervisor keeps no images on any disk (libvirt's test driver, test:///):
   * there are no snapshot contents to keep, so no archive is written.
   */
  inMemoryDriver?: boolean;
  /** The time stamp in the archive's name (UTC, `20261202T170000Z`), so that no archive overwrites an older one. */
  archiveStamp?: string;
}

export interface TeardownOptions {
  deleteSnapshotsOnDestroy: boolean;
  deleteSnapshotDataOnDestroy: boolean;
  deleteManagedSaveOnDestroy: boolean;
  deleteCheckpointsOnDestroy: boolean;
  keepNvramOnDestroy: boolean;
  /** Archive the snapshot and domain XML in libvirt's secure form (with the passwords it hides otherwise). */
  archiveSecretsOnDestroy: boolean;
  /**
   * How long a stop, delete or replacement of a running persistent domain waits
   * for the guest to shut down (ACPI, or the agent) before the hard stop; 0: hard stop at once.
   */
  shutdownTimeoutSeconds: number;
}

/** The default graceful wait, in seconds. */
export const DEFAULT_SHUTDOWN_TIMEOUT_SECONDS = 60;

export const DEFAULT_TEARDOWN_OPTIONS: TeardownOptions = {
  deleteSnapshotsOnDestroy: false,
  deleteSnapshotDataOnDestroy: false,
  deleteManagedSaveOnDestroy: false,
  deleteCheckpointsOnDestroy: false,
  keepNvramOnDestroy: false,
  archiveSecretsOnDestroy: false,
  shutdownTimeoutSeconds: DEFAULT_SHUTDOWN_TIMEOUT_SECONDS,
};

/** The environment variable that allows the snapshot cascade for one `pulumi destroy`. */
export const DELETE_SNAPSHOTS_ENV = "LIBVIRT_PULUMI_DELETE_SNAPSHOTS_ON_DESTROY";

/** Where the snapshot archive is written: a volume of a storage pool, or a file on the hypervisor host. */
export type ArchiveLocation = { kind: "volume"; pool: string; name: string } | { kind: "file"; path: string };

/** How a message names an archive location. */
export function describeArchive(to: ArchiveLocation): string {
  return to.kind === "volume" ? `volume "${to.name}" of storage pool "${to.pool}"` : `file ${to.path}`;
}

export type TeardownStep =
  /**
   * Before libvirt's snapshot metadata goes (the metadata-only cascade): the domain
   * XML and every snapshot's XML, parents before children, written to `to` and read
   * back; the delete is refused if that fails. `secure`: libvirt's secure XML.
   */
  | {
      call: "archiveSnapshots";
      to: ArchiveLocation;
      snapshots: string[];
      secure: boolean;
      /** For a replacement that keeps the tree (keep-replace.ts): the new domain redefines from it; its refusal says so. */
      forReplacement?: true;
    }
  /** virDomainSnapshotDelete on each, in this order (children before parents), deleting data too. */
  | { call: "deleteSnapshots"; names: string[] }
  /**
   * virDomainShutdownFlags (the guest agent when the domain has its channel, else
   * the ACPI power button; the agent falls back to ACPI when it does not answer),
   * then waits up to `timeoutSeconds` for the domain to stop. The `destroy` step
   * that follows powers it off if it still runs (the hard stop), and does nothing if not.
   */
  | { call: "shutdown"; timeoutSeconds: number; via: "agent" | "acpi" }
  /**
   * virDomainDestroyFlags: stop the running domain. For a transient domain libvirt
   * drops its snapshot and checkpoint metadata as it stops: `expectSnapshots` /
   * `expectCheckpoints` are what the check allowed to go, and the destroy is
   * refused if anything else exists by then.
   */
  | { call: "destroy"; expectSnapshots?: string[]; expectCheckpoints?: number }
  /**
   * virDomainUndefineFlags. `fallbackFlags`: what to retry with when the driver
   * rejects an NVRAM flag it does not implement (the test driver does).
   */
  | {
      call: "undefine";
      flags: U | 0;
      fallbackFlags: U | 0;
      /**
       * With VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA, the snapshots the check saw.
       * The flag is domain-wide, so one taken after the check would lose its
       * metadata too: the undefine is refused if any other snapshot exists then.
       */
      expectSnapshots?: string[];
      /**
       * With VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA (also domain-wide): how many
       * checkpoints the check saw; the undefine is refused if there are more then.
       */
      expectCheckpoints?: number;
    };

export type TeardownDecision = Decision<TeardownStep>;

/** Reasons that block removing the domain's libvirt state, each with the option that allows it. */
export function blockers(facts: DomainFacts, opts: TeardownOptions): string[] {
  const out: string[] = [];
  if (facts.snapshots.length > 0 && !opts.deleteSnapshotsOnDestroy) {
    out.push(
      `it has ${plural(facts.snapshots.length, "snapshot")} (${nameList(facts.snapshots)}) whose metadata would be ` +
        `${facts.persistent ? "left behind or lost" : "dropped by libvirt when the transient domain stops"}. ` +
        `Set deleteSnapshotsOnDestroy: true (and run \`pulumi up\`), or set ${DELETE_SNAPSHOTS_ENV}=1 for this destroy, ` +
        `to remove libvirt's snapshot metadata while keeping the snapshot contents in the disk images; ` +
        `add deleteSnapshotDataOnDestroy: true to delete the contents too`,
    );
  }
  if (facts.hasManagedSave && !opts.deleteManagedSaveOnDestroy) {
    out.push("it has a managed-save image (a saved memory state). Set deleteManagedSaveOnDestroy: true to discard it");
  }
  if (facts.checkpoints > 0 && !opts.deleteCheckpointsOnDestroy) {
    out.push(`it has ${plural(facts.checkpoints, "checkpoint")}. Set deleteCheckpointsOnDestroy: true to remove their metadata`);
  }
  return out;
}

function refusal(verb: string, facts: DomainFacts, reasons: string[]): TeardownDecision {
  // Worded for this domain only: in a \`pulumi up\` or \`destroy\` other resources
  // (the stack's Snapshots of it, say) may already have been deleted before this.
  const state = facts.active ? "it is still running and nothing was changed on this domain" : "nothing was changed on this domain";
  return {
    allowed: false,
    message: `refusing to ${verb} domain "${facts.name}" (${state}): ${reasons.map((r, i) => `(${i + 1}) ${r}`).join("; ")}.`,
  };
}

function undefineFlags(facts: DomainFacts, opts: TeardownOptions): { flags: U; fallbackFlags: U } {
  // A cascade flag only for what was there when the facts were read: anything that
  // appears after the check (a snapshot taken meanwhile) makes libvirt refuse.
  const flags = orFlags(
    facts.snapshots.length > 0 && opts.deleteSnapshotsOnDestroy && !opts.deleteSnapshotDataOnDestroy ? U.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA : 0,
    facts.hasManagedSave && opts.deleteManagedSaveOnDestroy ? U.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE : 0,
    facts.checkpoints > 0 && opts.deleteCheckpointsOnDestroy ? U.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA : 0,
  );
  const nvram = opts.keepNvramOnDestroy ? U.VIR_DOMAIN_UNDEFINE_KEEP_NVRAM : U.VIR_DOMAIN_UNDEFINE_NVRAM;
  // Without NVRAM the flag changes nothing, and drivers without NVRAM support reject it.
  return facts.hasNvram
    ? { flags: orFlags(flags, nvram), fallbackFlags: orFlags(flags, nvram) }
    : { flags: orFlags(flags, nvram), fallbackFlags: flags };
}

/** The archive's name: the domain's, the time stamp, `.snapshots.json`. */
export function archiveName(facts: DomainFacts): string {
  return `${facts.name}.snapshots-${facts.archiveStamp ?? "archive"}.json`;
}

/** Whether a file (a volume in a pool) is such an archive: the pool rules keep it (teardown/pool.ts). */
export const isSnapshotArchive = (fileName: string): boolean => /\.snapshots-[^/]+\.json$/.test(fileName);

/**
 * Where the metadata-only cascade archives the snapshots: a file beside the first
 * disk image when that is a file and the hypervisor is on this machine, else a
 * volume in the first disk's pool (uploaded through libvirt: works on a remote
 * hypervisor too); else why there is no place.
 */
export function archivePlace(facts: DomainFacts): ArchiveLocation | { why: string } {
  const disk = facts.firstDisk;
  const name = archiveName(facts);
  if (disk?.file !== undefined && facts.localHypervisor) return { kind: "file", path: posix.join(posix.dirname(disk.file), name) };
  if (disk?.pool !== undefined) return { kind: "volume", pool: disk.pool, name };
  return {
    why: `its first disk is the file ${disk?.file}, which is in no storage pool, and the hypervisor is remote, so no file can be written beside it`,
  };
}

/** archivePlace, or the delete's refusal reason when there is none. */
function archiveLocation(facts: DomainFacts): ArchiveLocation | string {
  const place = archivePlace(facts);
  if (!("why" in place)) return place;
  const why = place.why;
  return (
    `its ${plural(facts.snapshots.length, "snapshot")} (${nameList(facts.snapshots)}) would lose their libvirt metadata, which is archived first, ` +
    `but there is nowhere to write the archive: ${why}. Put the disk images in a storage pool (a \`Volume\`, or \`{ pool, name }\` disks; ` +
    `a storage pool of type dir over the image's directory is enough, then \`pulumi up\`), or save the metadata yourself ` +
    `(\`virsh snapshot-dumpxml\`) and delete the snapshots (\`virsh snapshot-delete --metadata\`), or, keeping deleteSnapshotsOnDestroy: true, add deleteSnapshotDataOnDestroy: true to delete the contents too (nothing is left to archive for then)`
  );
}

/** The metadata-only cascade (an undefine's flag, or libvirt's own drop when a transient domain stops) archives first: where, or why nowhere; undefined without it. */
function archiveTarget(facts: DomainFacts, opts: TeardownOptions): ArchiveLocation | string | undefined {
  const dropsMetadata = facts.snapshots.length > 0 && opts.deleteSnapshotsOnDestroy && !opts.deleteSnapshotDataOnDestroy;
  // Without a disk image (or on the in-memory test driver) no snapshot contents stay behind to be recovered: nothing to archive.
  const contentsStay = facts.firstDisk !== undefined && !facts.inMemoryDriver;
  return dropsMetadata && contentsStay ? archiveLocation(facts) : undefined;
}

/** Why the delete is refused: the blockers, else a cascade with nowhere to archive. */
function deleteReasons(facts: DomainFacts, opts: TeardownOptions): string[] {
  const reasons = blockers(facts, opts);
  const to = reasons.length === 0 ? archiveTarget(facts, opts) : undefined;
  return typeof to === "string" ? [to] : reasons;
}

/** The graceful shutdown before the hard stop of a running persistent domain; none with a timeout of 0. */
function gracefulStop(facts: DomainFacts, opts: TeardownOptions): TeardownStep[] {
  const timeoutSeconds = opts.shutdownTimeoutSeconds ?? DEFAULT_SHUTDOWN_TIMEOUT_SECONDS;
  if (timeoutSeconds <= 0) return [];
  return [{ call: "shutdown", timeoutSeconds, via: facts.guestAgent ? "agent" : "acpi" }];
}

/** Deleting the domain: undefine (and destroy first when it runs), or for a transient domain, destroy. */
export function planDomainDelete(facts: DomainFacts, opts: TeardownOptions): TeardownDecision {
  const reasons = deleteReasons(facts, opts);
  if (reasons.length > 0) return refusal("delete", facts, reasons);

  const steps: TeardownStep[] = [];
  const to = archiveTarget(facts, opts);
  if (to && typeof to !== "string")
    steps.push({ call: "archiveSnapshots", to, snapshots: [...facts.snapshots], secure: opts.archiveSecretsOnDestroy });
  if (facts.snapshots.length > 0 && opts.deleteSnapshotDataOnDestroy) {
    steps.push({ call: "deleteSnapshots", names: [...facts.snapshots].reverse() });
  }
  // After the data cascade no snapshot is expected any more.
  const remaining = opts.deleteSnapshotDataOnDestroy ? [] : [...facts.snapshots];
  if (facts.active) {
    // Stopping a transient domain deletes it, and libvirt drops its metadata without asking.
    if (facts.persistent) steps.push(...gracefulStop(facts, opts), { call: "destroy" });
    else steps.push({ call: "destroy", expectSnapshots: remaining, expectCheckpoints: facts.checkpoints });
  }
  if (facts.persistent) {
    const flags = undefineFlags(facts, opts);
    const cascade = (flags.flags & U.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA) !== 0;
    const checkpoints = (flags.flags & U.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA) !== 0;
    steps.push({
      call: "undefine",
      ...flags,
      ...(cascade ? { expectSnapshots: remaining } : {}),
      ...(checkpoints ? { expectCheckpoints: facts.checkpoints } : {}),
    });
  }
  return { allowed: true, steps };
}

/**
 * A replacement deletes the domain before creating the new one (deleteBeforeReplace),
 * and Pulumi deletes the stack's resources that depend on it (its Snapshots, with
 * their data) even before that. So the delete rules are applied when the
 * replacement is planned, in \`diff\`, before anything happened: a delete that would
 * be refused refuses the replacement. \`opts\` are the options the delete will use:
 * the ones saved with the domain (Pulumi's delete sees only those) and the
 * environment. \`replacedBy\` names the inputs whose change forces the replacement;
 * \`newOpts\`, the options the new inputs set, only to explain that they do not
 * apply to this delete.
 */
export function planDomainReplace(
  facts: DomainFacts,
  opts: TeardownOptions,
  replacedBy: string[],
  newOpts: Partial<TeardownOptions> = {},
): TeardownDecision {
  const decision = planDomainDelete(facts, opts);
  if (decision.allowed) return decision;
  // The delete's advice, said for an up: how the option must be recorded follows below.
  const reasons = deleteReasons(facts, opts).map((r) => r.replace(" (and run `pulumi up`)", "").replace("for this destroy", "for this `pulumi up`"));
  const keys = replacedBy.map((k) => `\`${k}\``).join(", ");
  const optionsNow = (Object.keys(newOpts) as Array<keyof TeardownOptions>).filter((k) => newOpts[k] === true && !opts[k]);
  const pending =
    optionsNow.length > 0
      ? ` The new ${optionsNow.map((k) => `${k}: true`).join(", ")} does not apply to this replacement: the old domain is deleted with the options it was deployed with.`
      : "";
  return {
    allowed: false,
    message:
      `refusing to replace domain "${facts.name}" (nothing was changed on this domain or its snapshots): changing ${keys} replaces the domain, which first deletes it ` +
      `(and the stack's Snapshot resources of it, with their data), and that delete would be refused: ` +
      `${reasons.map((r, i) => `(${i + 1}) ${r}`).join("; ")}.${pending} ` +
      `To replace it anyway, first run \`pulumi up\` with only the option set (e.g. deleteSnapshotsOnDestroy: true), without the change to ${keys}, ` +
      `then make the change; or set ${DELETE_SNAPSHOTS_ENV}=1 for this \`pulumi up\` (snapshots only). To keep the domain, revert the change to ${keys}.`,
  };
}

/**
 * Stopping the domain while keeping it. A persistent domain keeps its snapshots
 * across a stop; a transient one disappears, so stopping it is a delete.
 */
export function planDomainStop(facts: DomainFacts, opts: TeardownOptions): TeardownDecision {
  if (!facts.active) return { allowed: true, steps: [] };
  if (!facts.persistent) {
    const decision = planDomainDelete(facts, opts);
    return decision.allowed ? decision : { allowed: false, message: decision.message.replace("refusing to delete", "refusing to stop transient") };
  }
  return { allowed: true, steps: [...gracefulStop(facts, opts), { call: "destroy" }] };
}

/**
 * Making a persistent domain transient (undefine while it keeps running) is
 * allowed: its metadata stays until it halts. An inactive domain cannot become
 * transient without being deleted, so that case follows the delete rules.
 */
export function planMakeTransient(facts: DomainFacts, opts: TeardownOptions): TeardownDecision {
  if (!facts.persistent) return { allowed: true, steps: [] };
  if (!facts.active) return planDomainDelete(facts, opts);
  // KEEP_NVRAM: the running transient domain still uses its NVRAM file.
  const keep = facts.hasNvram ? U.VIR_DOMAIN_UNDEFINE_KEEP_NVRAM : 0;
  return { allowed: true, steps: [{ call: "undefine", flags: keep, fallbackFlags: keep }] };
}

/** The options as stored in outputs, with the delete-time environment override applied. */
export function effectiveTeardownOptions(stored: Partial<TeardownOptions>, env: NodeJS.ProcessEnv = process.env): TeardownOptions {
  const opts = { ...DEFAULT_TEARDOWN_OPTIONS, ...stripUndefined(stored) };
  if (isTruthyEnv(env[DELETE_SNAPSHOTS_ENV])) opts.deleteSnapshotsOnDestroy = true;
  return opts;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** What a domain-wide drop of metadata was allowed to remove (a destroy or undefine step's expectations). */
export interface DropExpectations {
  expectSnapshots?: string[];
  expectCheckpoints?: number;
}

/** What is there right before the call. */
export interface DropFacts {
  name: string;
  snapshots: string[];
  checkpoints: number;
}

/**
 * The second line of defence for a domain-wide drop of metadata (a transient
 * domain's stop, or an undefine with a cascade flag): refused if a snapshot or
 * checkpoint appeared after the check. `verb`: "stop transient" or "undefine".
 */
export function planLateDrop(expected: DropExpectations, now: DropFacts, verb: "stop transient" | "undefine"): Decision<never> {
  const found: string[] = [];
  if (expected.expectSnapshots) {
    const seen = new Set(expected.expectSnapshots);
    const appeared = now.snapshots.filter((n) => !seen.has(n));
    if (appeared.length > 0) found.push(`${appeared.length === 1 ? "a snapshot" : "snapshots"} (${appeared.map((n) => `"${n}"`).join(", ")})`);
  }
  if (expected.expectCheckpoints !== undefined && now.checkpoints > expected.expectCheckpoints) {
    const extra = now.checkpoints - expected.expectCheckpoints;
    found.push(`${extra === 1 ? "a checkpoint" : `${extra} checkpoints`} (${now.checkpoints} now, ${expected.expectCheckpoints} at the check)`);
  }
  if (found.length === 0) return { allowed: true, steps: [] };
  const one = found.length === 1 && /^a /.test(found[0]);
  const still =
    verb === "undefine"
      ? "The domain still exists (stopped, if it was running) with all its snapshots and checkpoints"
      : "The domain is still running with all its snapshots and checkpoints";
  return {
    allowed: false,
    message:
      `refusing to ${verb} domain "${now.name}": ${found.join(" and ")} appeared after the teardown check, and ` +
      `${verb === "undefine" ? "the metadata cascade" : "stopping it"} would remove ${one ? "its" : "their"} metadata too. ` +
      `${still}; run the operation again to include ${one ? "it" : "them"} in the check.`,
  };
}
