// The teardown rules (DESIGN.md, after Eric Blake's libvirt design note): the
// one place that decides whether deleting or stopping a domain, or deleting a
// volume or a pool, may proceed, and with which libvirt calls and flags. Pure:
// it takes facts, returns a decision; the providers gather the facts and carry
// the plan out.
import { virDomainUndefineFlagsValues as U } from "./libvirt/libvirt.gen";
import { isTruthyEnv } from "./env-flag";

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
}

export interface TeardownOptions {
  deleteSnapshotsOnDestroy: boolean;
  deleteSnapshotDataOnDestroy: boolean;
  deleteManagedSaveOnDestroy: boolean;
  deleteCheckpointsOnDestroy: boolean;
  keepNvramOnDestroy: boolean;
}

export const DEFAULT_TEARDOWN_OPTIONS: TeardownOptions = {
  deleteSnapshotsOnDestroy: false,
  deleteSnapshotDataOnDestroy: false,
  deleteManagedSaveOnDestroy: false,
  deleteCheckpointsOnDestroy: false,
  keepNvramOnDestroy: false,
};

/** The environment variable that allows the snapshot cascade for one `pulumi destroy`. */
export const DELETE_SNAPSHOTS_ENV = "LIBVIRT_PULUMI_DELETE_SNAPSHOTS_ON_DESTROY";

export type TeardownStep =
  /** virDomainSnapshotDelete on each, in this order (children before parents), deleting data too. */
  | { call: "deleteSnapshots"; names: string[] }
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
      flags: number;
      fallbackFlags: number;
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

export type TeardownDecision = { allowed: true; steps: TeardownStep[] } | { allowed: false; message: string };

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export function nameList(names: string[], max = 10): string {
  const shown = names
    .slice(0, max)
    .map((n) => `"${n}"`)
    .join(", ");
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

/** Reasons that block removing the domain's libvirt state, each with the option that allows it. */
function blockers(facts: DomainFacts, opts: TeardownOptions): string[] {
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

function undefineFlags(facts: DomainFacts, opts: TeardownOptions): { flags: number; fallbackFlags: number } {
  // A cascade flag only for what was there when the facts were read: anything that
  // appears after the check (a snapshot taken meanwhile) makes libvirt refuse.
  let flags = 0;
  if (facts.snapshots.length > 0 && opts.deleteSnapshotsOnDestroy && !opts.deleteSnapshotDataOnDestroy)
    flags |= U.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA;
  if (facts.hasManagedSave && opts.deleteManagedSaveOnDestroy) flags |= U.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE;
  if (facts.checkpoints > 0 && opts.deleteCheckpointsOnDestroy) flags |= U.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA;
  const nvram = opts.keepNvramOnDestroy ? U.VIR_DOMAIN_UNDEFINE_KEEP_NVRAM : U.VIR_DOMAIN_UNDEFINE_NVRAM;
  // Without NVRAM the flag changes nothing, and drivers without NVRAM support reject it.
  return facts.hasNvram ? { flags: flags | nvram, fallbackFlags: flags | nvram } : { flags: flags | nvram, fallbackFlags: flags };
}

/** Deleting the domain: undefine (and destroy first when it runs), or for a transient domain, destroy. */
export function planDomainDelete(facts: DomainFacts, opts: TeardownOptions): TeardownDecision {
  const reasons = blockers(facts, opts);
  if (reasons.length > 0) return refusal("delete", facts, reasons);

  const steps: TeardownStep[] = [];
  if (facts.snapshots.length > 0 && opts.deleteSnapshotDataOnDestroy) {
    steps.push({ call: "deleteSnapshots", names: [...facts.snapshots].reverse() });
  }
  // After the data cascade no snapshot is expected any more.
  const remaining = opts.deleteSnapshotDataOnDestroy ? [] : [...facts.snapshots];
  if (facts.active) {
    // Stopping a transient domain deletes it, and libvirt drops its metadata without asking.
    steps.push(facts.persistent ? { call: "destroy" } : { call: "destroy", expectSnapshots: remaining, expectCheckpoints: facts.checkpoints });
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
  const reasons = blockers(facts, opts).map((r) => r.replace(" (and run `pulumi up`)", "").replace("for this destroy", "for this `pulumi up`"));
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
  return { allowed: true, steps: [{ call: "destroy" }] };
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

// ---------------------------------------------------------------------------
// Storage: deleting a volume or a pool never silently throws away a disk that a
// domain still uses, an image another volume is built on, or snapshot contents
// kept in an image (what a domain's deleteSnapshotsOnDestroy promised to keep).

/** Allows deleting a volume whose image holds internal snapshots, for one destroy. */
export const DELETE_SNAPSHOT_DATA_ENV = "LIBVIRT_PULUMI_DELETE_SNAPSHOT_DATA_ON_DESTROY";
/** Allows deleting a pool's remaining volumes with it, for one destroy. */
export const DELETE_VOLUMES_ENV = "LIBVIRT_PULUMI_DELETE_VOLUMES_ON_DESTROY";

export function effectiveVolumeOptions(stored: { deleteSnapshotDataOnDestroy?: boolean }, env: NodeJS.ProcessEnv = process.env) {
  return { deleteSnapshotDataOnDestroy: !!stored.deleteSnapshotDataOnDestroy || isTruthyEnv(env[DELETE_SNAPSHOT_DATA_ENV]) };
}

export function effectivePoolOptions(stored: { deleteVolumesOnDestroy?: boolean }, env: NodeJS.ProcessEnv = process.env) {
  return { deleteVolumesOnDestroy: !!stored.deleteVolumesOnDestroy || isTruthyEnv(env[DELETE_VOLUMES_ENV]) };
}

export interface VolumeFacts {
  pool: string;
  name: string;
  path: string;
  /** Domains (running or defined) with a disk whose source or backing chain is this volume. */
  usedBy: string[];
  /** Volumes ("pool/name") whose backing file is this volume. */
  backingOf: string[];
  /** Internal snapshots in the image, or why they could not be read. */
  snapshots: { names: string[]; count: number; via: string } | { error: string };
  /** For each domain in usedBy: what needs the volume and through which chain ("disk vda: /top.qcow2 → /base.qcow2"). */
  usedVia?: Record<string, string[]>;
  /** For each volume in backingOf: the chain from it down to this volume. */
  backingVia?: Record<string, string>;
}

/** ` (through: "a" disk vda: /top → /base; ...)` for the names that have details, else "". */
const through = (names: string[], details: Record<string, string | string[]> | undefined): string => {
  if (!details) return "";
  const parts = names.slice(0, 10).flatMap((n) => {
    const d = details[n];
    const list = Array.isArray(d) ? d : d !== undefined ? [d] : [];
    return list.length > 0 ? [`"${n}" ${list.slice(0, 4).join(", ")}${list.length > 4 ? ` and ${list.length - 4} more` : ""}`] : [];
  });
  return parts.length > 0 ? ` (through: ${parts.join("; ")})` : "";
};

export type Decision = { allowed: true } | { allowed: false; message: string };

/** Why the volume must stay, each reason with what would allow the delete. */
export function volumeBlockers(f: VolumeFacts, opts: { deleteSnapshotDataOnDestroy: boolean }): string[] {
  const out: string[] = [];
  if (f.usedBy.length > 0) {
    out.push(
      `${plural(f.usedBy.length, "domain")} still ${f.usedBy.length === 1 ? "uses" : "use"} it as a disk (${nameList(f.usedBy)})${through(f.usedBy, f.usedVia)}. ` +
        `Remove the disk from ${f.usedBy.length === 1 ? "that domain" : "those domains"} or delete ${f.usedBy.length === 1 ? "it" : "them"} first; no option overrides this`,
    );
  }
  if (f.backingOf.length > 0) {
    out.push(
      `it is the backing file of ${plural(f.backingOf.length, "volume")} (${nameList(f.backingOf)})${through(f.backingOf, f.backingVia)}, which would become unreadable. ` +
        `Delete ${f.backingOf.length === 1 ? "that overlay" : "those overlays"} first; no option overrides this`,
    );
  }
  if (!opts.deleteSnapshotDataOnDestroy) {
    if ("error" in f.snapshots) {
      out.push(
        `its image could not be checked for internal snapshots (${f.snapshots.error}). ` +
          `Set deleteSnapshotDataOnDestroy: true (and run \`pulumi up\`), or ${DELETE_SNAPSHOT_DATA_ENV}=1 for this destroy, to delete it without the check`,
      );
    } else if (f.snapshots.count > 0) {
      const names = f.snapshots.names.length > 0 ? ` (${nameList(f.snapshots.names)})` : "";
      out.push(
        `its image holds ${plural(f.snapshots.count, "internal snapshot")}${names}: snapshot contents, such as those a domain's ` +
          `deleteSnapshotsOnDestroy keeps in its disk images. Set deleteSnapshotDataOnDestroy: true (and run \`pulumi up\`), ` +
          `or ${DELETE_SNAPSHOT_DATA_ENV}=1 for this destroy, to delete the volume with them`,
      );
    }
  }
  return out;
}

export function planVolumeDelete(f: VolumeFacts, opts: { deleteSnapshotDataOnDestroy: boolean }): Decision {
  const reasons = volumeBlockers(f, opts);
  if (reasons.length === 0) return { allowed: true };
  return {
    allowed: false,
    message: `refusing to delete volume "${f.name}" in storage pool "${f.pool}" (${f.path}; nothing was changed): ${reasons.map((r, i) => `(${i + 1}) ${r}`).join("; ")}.`,
  };
}

export interface PoolFacts {
  name: string;
  path: string;
  /** Volumes in the pool now, by name. */
  volumes: string[];
  /** Files that were in the directory when the pool was created: never deleted, never a reason to refuse. */
  preexisting: string[];
}

/** The volumes a pool delete is about: everything except the files that were there before the pool. */
export function heldVolumes(f: PoolFacts): string[] {
  const before = new Set(f.preexisting);
  return f.volumes.filter((v) => !before.has(v));
}

/** First step of a pool delete: may the pool go, given the volumes it still holds? */
export function planPoolDelete(f: PoolFacts, opts: { deleteVolumesOnDestroy: boolean }): Decision {
  const held = heldVolumes(f);
  if (held.length === 0 || opts.deleteVolumesOnDestroy) return { allowed: true };
  const kept = f.volumes.length - held.length;
  return {
    allowed: false,
    message:
      `refusing to delete storage pool "${f.name}" (${f.path}; nothing was changed): it still holds ${plural(held.length, "volume")} ` +
      `(${nameList(held)}). Delete ${held.length === 1 ? "it" : "them"} first (the Volume resources, or \`virsh vol-delete\`), ` +
      `or set deleteVolumesOnDestroy: true (and run \`pulumi up\`), or ${DELETE_VOLUMES_ENV}=1 for this destroy, to delete ` +
      `${held.length === 1 ? "it" : "them"} with the pool` +
      (kept > 0
        ? `; the ${plural(kept, "file")} that ${kept === 1 ? "was" : "were"} in the directory before the pool was created ${kept === 1 ? "is" : "are"} kept either way.`
        : "."),
  };
}

/** Volumes in an order that deletes overlays before the images they are built on. */
export function overlaysFirst(paths: Map<string, string | undefined>): string[] {
  // paths: volume path -> its backing path
  const remaining = new Set(paths.keys());
  const order: string[] = [];
  while (remaining.size > 0) {
    const backing = new Set([...remaining].map((p) => paths.get(p)).filter((b): b is string => !!b));
    const leaves = [...remaining].filter((p) => !backing.has(p));
    const next = leaves.length > 0 ? leaves : [...remaining]; // a cycle: nothing better to do
    for (const p of next) {
      order.push(p);
      remaining.delete(p);
    }
  }
  return order;
}
