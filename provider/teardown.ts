// The teardown rules (DESIGN.md, after Eric Blake's libvirt design note): the
// one place that decides whether deleting or stopping a domain may proceed, and
// with which libvirt calls and flags. Pure: it takes facts, returns a decision;
// the providers gather the facts and carry the plan out.
import { virDomainUndefineFlagsValues as U } from "./libvirt/libvirt.gen";

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
  /** virDomainDestroyFlags: stop the running domain. */
  | { call: "destroy" }
  /**
   * virDomainUndefineFlags. `fallbackFlags`: what to retry with when the driver
   * rejects an NVRAM flag it does not implement (the test driver does).
   */
  | { call: "undefine"; flags: number; fallbackFlags: number };

export type TeardownDecision =
  | { allowed: true; steps: TeardownStep[] }
  | { allowed: false; message: string };

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function nameList(names: string[], max = 10): string {
  const shown = names.slice(0, max).map((n) => `"${n}"`).join(", ");
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
  const state = facts.active ? "it is still running and nothing was changed" : "nothing was changed";
  return {
    allowed: false,
    message: `refusing to ${verb} domain "${facts.name}" (${state}): ${reasons.map((r, i) => `(${i + 1}) ${r}`).join("; ")}.`,
  };
}

function undefineFlags(facts: DomainFacts, opts: TeardownOptions): { flags: number; fallbackFlags: number } {
  // A cascade flag only for what was there when the facts were read: anything that
  // appears after the check (a snapshot taken meanwhile) makes libvirt refuse.
  let flags = 0;
  if (facts.snapshots.length > 0 && opts.deleteSnapshotsOnDestroy && !opts.deleteSnapshotDataOnDestroy) flags |= U.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA;
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
  if (facts.active) steps.push({ call: "destroy" });
  if (facts.persistent) steps.push({ call: "undefine", ...undefineFlags(facts, opts) });
  return { allowed: true, steps };
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
  if (/^(1|true|yes)$/i.test(env[DELETE_SNAPSHOTS_ENV] ?? "")) opts.deleteSnapshotsOnDestroy = true;
  return opts;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
