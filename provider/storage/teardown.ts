// The storage refusal rules, pure: facts in, a decision out. Deleting a volume
// or a pool never silently throws away a disk that a domain still uses, an
// image another volume is built on, or snapshot contents kept in an image.

/** Allows deleting a volume whose image holds internal snapshots, for one destroy. */
export const DELETE_SNAPSHOT_DATA_ENV = "LIBVIRT_PULUMI_DELETE_SNAPSHOT_DATA_ON_DESTROY";
/** Allows deleting a pool's remaining volumes with it, for one destroy. */
export const DELETE_VOLUMES_ENV = "LIBVIRT_PULUMI_DELETE_VOLUMES_ON_DESTROY";

const truthy = (v: string | undefined) => /^(1|true|yes)$/i.test(v ?? "");

export function effectiveVolumeOptions(stored: { deleteSnapshotDataOnDestroy?: boolean }, env: NodeJS.ProcessEnv = process.env) {
  return { deleteSnapshotDataOnDestroy: !!stored.deleteSnapshotDataOnDestroy || truthy(env[DELETE_SNAPSHOT_DATA_ENV]) };
}

export function effectivePoolOptions(stored: { deleteVolumesOnDestroy?: boolean }, env: NodeJS.ProcessEnv = process.env) {
  return { deleteVolumesOnDestroy: !!stored.deleteVolumesOnDestroy || truthy(env[DELETE_VOLUMES_ENV]) };
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
}

export type Decision = { allowed: true } | { allowed: false; message: string };

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export function nameList(names: string[], max = 10): string {
  const shown = names.slice(0, max).map((n) => `"${n}"`).join(", ");
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

/** Why the volume must stay, each reason with what would allow the delete. */
export function volumeBlockers(f: VolumeFacts, opts: { deleteSnapshotDataOnDestroy: boolean }): string[] {
  const out: string[] = [];
  if (f.usedBy.length > 0) {
    out.push(
      `${plural(f.usedBy.length, "domain")} still ${f.usedBy.length === 1 ? "uses" : "use"} it as a disk (${nameList(f.usedBy)}). ` +
        `Remove the disk from ${f.usedBy.length === 1 ? "that domain" : "those domains"} or delete ${f.usedBy.length === 1 ? "it" : "them"} first; no option overrides this`,
    );
  }
  if (f.backingOf.length > 0) {
    out.push(
      `it is the backing file of ${plural(f.backingOf.length, "volume")} (${nameList(f.backingOf)}), which would become unreadable. ` +
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
      (kept > 0 ? `; the ${plural(kept, "file")} that ${kept === 1 ? "was" : "were"} in the directory before the pool was created ${kept === 1 ? "is" : "are"} kept either way.` : "."),
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
