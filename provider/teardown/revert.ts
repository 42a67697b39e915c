// Reverting a domain to a Snapshot (its revertTrigger changed). A revert throws
// away the domain's state since the snapshot (disks, definition, a running guest's
// memory), so by default that state is first kept in a snapshot of its own
// (`pre-revert-<UTC time>`), and a revert libvirt would refuse, or that would stop
// a running guest, is refused before anything changes. Pure: facts in, a refusal
// or the steps out; provider/snapshot/provider.ts gathers the facts and carries
// the steps out.
import type { Decision } from "./shared";

/** libvirt reverts to external snapshots since 9.9.0 (before: "revert to external snapshot not supported yet"). */
export const EXTERNAL_REVERT_SINCE = 9_009_000;

/** 9009000 → "9.9.0". */
export const libvirtVersionText = (v: number) => `${Math.floor(v / 1_000_000)}.${Math.floor(v / 1000) % 1000}.${v % 1000}`;

export interface RevertFacts {
  /** The snapshot to revert to. */
  snapshot: string;
  domain: string;
  /** Running or paused: a guest whose memory a revert throws away. */
  active: boolean;
  /** The domain's state now, for messages ("running", "shutoff", ...). */
  domainState: string;
  /** What the snapshot captured, from its XML. */
  target: {
    /** The domain state it captured: "running", "paused", "shutoff", "disk-snapshot", ... */
    state?: string;
    /** Its <memory snapshot=...>: "internal", "external", "no". */
    memory?: string;
    /** Any part of it lives outside the disk images' own snapshot tables (memory file, overlay). */
    external: boolean;
  };
  /** The hypervisor side's libvirt version (virConnectGetLibVersion). */
  libVersion: number;
  discardStateOnRevert: boolean;
  /** The domain's snapshot names now: the pre-revert snapshot's name must be new. */
  snapshotNames: readonly string[];
  /** The domain's other snapshots with external disks: their overlays are built on the images an internal revert rewinds. */
  externalSnapshots: readonly string[];
  now: Date;
}

export type RevertStep =
  /** A snapshot of the current state (every disk, libvirt's default), before anything changes; `memory`: also the running guest's memory. */
  | { kind: "preRevertSnapshot"; name: string; memory: boolean }
  /** virDomainRevertToSnapshot without flags (never VIR_DOMAIN_SNAPSHOT_REVERT_FORCE). */
  | { kind: "revert" };

export type RevertDecision = Decision<RevertStep>;

/** States in which a snapshot holds the guest's memory (a shut-off or disk-only one never does). */
const WITH_MEMORY = new Set(["running", "paused", "blocked", "pmsuspended"]);

export function targetHasMemory(target: RevertFacts["target"]): boolean {
  return WITH_MEMORY.has(target.state ?? "") && target.memory !== "no";
}

/** `pre-revert-20261203T081500Z`, with `-2`, `-3`, ... when the domain already has that name. */
export function preRevertName(now: Date, taken: readonly string[]): string {
  const base = `pre-revert-${now
    .toISOString()
    .replace(/\.\d+Z$/, "Z")
    .replace(/[-:]/g, "")}`;
  if (!taken.includes(base)) return base;
  for (let n = 2; ; n++) if (!taken.includes(`${base}-${n}`)) return `${base}-${n}`;
}

export function planRevert(f: RevertFacts): RevertDecision {
  const intro = `refusing to revert domain "${f.domain}" to snapshot "${f.snapshot}" (revertTrigger changed; nothing was changed)`;
  if (f.target.external && f.libVersion < EXTERNAL_REVERT_SINCE) {
    return {
      allowed: false,
      message:
        `${intro}: it is an external snapshot (its data is in overlay or memory files), and libvirt ${libvirtVersionText(f.libVersion)} ` +
        `cannot revert to one (libvirt ${libvirtVersionText(EXTERNAL_REVERT_SINCE)} and later can). Revert to an internal snapshot instead, ` +
        `or leave revertTrigger unchanged`,
    };
  }
  if (f.target.external && !f.discardStateOnRevert) {
    return {
      allowed: false,
      message:
        `${intro}: it is an external snapshot, and the automatic snapshot of the current state is made only before reverting to ` +
        `an internal one (an external one needs new overlay files). Take a snapshot of the current state yourself (a Snapshot ` +
        `resource, or virsh snapshot-create-as), then set discardStateOnRevert: true`,
    };
  }
  if (!f.target.external && f.externalSnapshots.length > 0) {
    const names = f.externalSnapshots.map((n) => `"${n}"`).join(", ");
    return {
      allowed: false,
      message:
        `${intro}: the domain also has external snapshots (${names}), whose overlay files are built on the disk images this ` +
        `revert would rewind in place; reverting would corrupt them (libvirt does not stop it). Keep revertTrigger unchanged, ` +
        `or, if their contents may go, delete them first (virsh snapshot-delete ${f.domain} NAME, children before parents) and run \`pulumi up\` again`,
    };
  }
  const memory = targetHasMemory(f.target);
  if (f.active && !memory) {
    return {
      allowed: false,
      message:
        `${intro}: the domain is ${f.domainState} and the snapshot holds no memory state (it captured a ${f.target.state ?? "shut-off"} ` +
        `domain), so libvirt would stop the guest to revert. Stop the domain first (a Domain resource's running: false in the same ` +
        `\`pulumi up\`, or virsh shutdown ${f.domain}), then run \`pulumi up\` again`,
    };
  }
  const revert: RevertStep = { kind: "revert" };
  if (f.discardStateOnRevert) return { allowed: true, steps: [revert] };
  return { allowed: true, steps: [{ kind: "preRevertSnapshot", name: preRevertName(f.now, f.snapshotNames), memory: f.active }, revert] };
}

/** Whether a change of inputs asks for a revert: a trigger that was set and now has another value (setting or removing it reverts nothing). */
export function revertRequested(old: unknown, next: unknown, equal: (a: unknown, b: unknown) => boolean): boolean {
  return old !== undefined && old !== null && next !== undefined && next !== null && !equal(old, next);
}
