// Storage: deleting a volume never silently throws away a disk that a domain
// still uses, an image another volume is built on, or snapshot contents kept in
// an image (what a domain's deleteSnapshotsOnDestroy promised to keep).
import { posix } from "node:path";
import { isTruthyEnv } from "./env";
import { formatSize } from "../storage/size";
import { nameList, plural, type Decision } from "./shared";

/** Allows deleting a volume whose image holds internal snapshots, for one destroy. */
export const DELETE_SNAPSHOT_DATA_ENV = "LIBVIRT_PULUMI_DELETE_SNAPSHOT_DATA_ON_DESTROY";
export function effectiveVolumeOptions(stored: { deleteSnapshotDataOnDestroy?: boolean }, env: NodeJS.ProcessEnv = process.env) {
  return { deleteSnapshotDataOnDestroy: !!stored.deleteSnapshotDataOnDestroy || isTruthyEnv(env[DELETE_SNAPSHOT_DATA_ENV]) };
}

export type VolumeStep =
  /** virStorageVolDelete. */
  | { call: "delete" }
  /** virStorageVolResize to `capacity` bytes (growing only). */
  | { call: "resize"; capacity: number };

export type VolumeDecision = Decision<VolumeStep>;

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

export function planVolumeDelete(f: VolumeFacts, opts: { deleteSnapshotDataOnDestroy: boolean }): VolumeDecision {
  const reasons = volumeBlockers(f, opts);
  if (reasons.length === 0) return { allowed: true, steps: [{ call: "delete" }] };
  return {
    allowed: false,
    message: `refusing to delete volume "${f.name}" in storage pool "${f.pool}" (${f.path}; nothing was changed): ${reasons.map((r, i) => `(${i + 1}) ${r}`).join("; ")}.`,
  };
}

/** Growing is done in place; shrinking would cut off what the guest stored at the end of the disk. */
export function planVolumeResize(volume: string, current: number, wanted: number | undefined): VolumeDecision {
  if (wanted === undefined || wanted === current) return { allowed: true, steps: [] };
  if (wanted > current) return { allowed: true, steps: [{ call: "resize", capacity: wanted }] };
  return {
    allowed: false,
    message:
      `refusing to shrink volume "${volume}" from ${formatSize(current)} to ${formatSize(wanted)} (nothing was changed): ` +
      `shrinking cuts off whatever the guest stored at the end of the disk. Keep capacity at ${current} bytes or more, or give the volume a new name to replace it`,
  };
}

/** The volume as its saved outputs know it, for the messages about its pool. */
export interface SavedVolume {
  pool: string;
  name: string;
  path?: string;
}

/** What to do about a volume whose pool was removed outside Pulumi while its file stayed. */
export function poolMissingAdvice(v: SavedVolume, uri: string): string {
  const dir = v.path ? posix.dirname(v.path) : "<its directory>";
  return (
    `storage pool "${v.pool}" no longer exists on ${uri} (undefined outside Pulumi), but the file of volume "${v.name}" ` +
    `(${v.path ?? "its path is unknown"}) is still there, so Pulumi keeps the volume and changes nothing. Define the pool again ` +
    `(\`virsh pool-define-as ${v.pool} dir --target ${dir} && virsh pool-start ${v.pool}\`, or \`pulumi up\` with its Pool resource) ` +
    `and run \`pulumi up\` again; or, to stop managing the volume and keep the file, \`pulumi state delete\` its URN`
  );
}

/**
 * Deleting a volume whose pool is gone (undefined outside Pulumi): without the pool
 * libvirt can neither check nor delete it, so only a file known to be gone lets
 * the delete through (with nothing left to do).
 */
export function planVolumeDeleteWithoutPool(v: SavedVolume, uri: string, fileGone: boolean): VolumeDecision {
  if (fileGone) return { allowed: true, steps: [] };
  return {
    allowed: false,
    message: `refusing to delete volume "${v.name}" (nothing was changed): ${poolMissingAdvice(v, uri)}; then \`pulumi destroy\` checks and deletes it`,
  };
}

/** `Keep a and b as they were`: the advice of a refused replacement. */
export const keepAsTheyWere = (replacedBy: string[]) => `Keep ${replacedBy.join(" and ")} as ${replacedBy.length === 1 ? "it was" : "they were"}`;

/**
 * A replacement deletes the old volume (first, or once the new one exists): the
 * delete rules decide it in diff, before the engine does anything for it.
 * `replacedBy`: the changed inputs (known ones: an unknown value is checked again once known).
 */
export function planVolumeReplace(f: VolumeFacts, opts: { deleteSnapshotDataOnDestroy: boolean }, replacedBy: string[]): VolumeDecision {
  const decision = planVolumeDelete(f, opts);
  if (decision.allowed) return decision;
  return {
    allowed: false,
    message:
      `refusing to replace volume "${f.name}" in storage pool "${f.pool}" (changed: ${replacedBy.join(", ")}; nothing was changed): a replacement deletes the old volume, and ${decision.message} ` +
      `${keepAsTheyWere(replacedBy)}, or first remove what needs the volume (in its own \`pulumi up\`).`,
  };
}
