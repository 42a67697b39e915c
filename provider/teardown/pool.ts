// Storage pools: deleting a pool never silently deletes the volumes it still
// holds, nor the files that were in its directory before it was created.
import { isTruthyEnv } from "./env";
import { nameList, plural, type Decision } from "./shared";
import { keepAsTheyWere, volumeBlockers, type VolumeFacts } from "./volume";
import { isSnapshotArchive } from "./domain";

/** Allows deleting a pool's remaining volumes with it, for one destroy. */
export const DELETE_VOLUMES_ENV = "LIBVIRT_PULUMI_DELETE_VOLUMES_ON_DESTROY";

export function effectivePoolOptions(stored: { deleteVolumesOnDestroy?: boolean }, env: NodeJS.ProcessEnv = process.env) {
  return { deleteVolumesOnDestroy: !!stored.deleteVolumesOnDestroy || isTruthyEnv(env[DELETE_VOLUMES_ENV]) };
}

export type PoolStep =
  /** With deleteVolumesOnDestroy: delete these held volumes, each vetted by the Volume rules first (planPoolCascade). */
  | { call: "deleteVolumes"; names: string[] }
  /** One held volume's virStorageVolDelete, in the cascade's order: overlays before their bases. */
  | { call: "deleteVolume"; name: string };

export type PoolDecision = Decision<PoolStep>;

export interface PoolFacts {
  name: string;
  path: string;
  /** Volumes in the pool now, by name. */
  volumes: string[];
  /** Files that were in the directory when the pool was created: never deleted, never a reason to refuse. */
  preexisting: string[];
}

/**
 * The volumes a pool delete is about: everything except the files that were there
 * before the pool, and the snapshot archives a Domain delete wrote (teardown/domain.ts):
 * those are kept in the directory (a pool's undefine leaves its files), never a reason
 * to refuse and never deleted by the cascade.
 */
export function heldVolumes(f: PoolFacts): string[] {
  const before = new Set(f.preexisting);
  return f.volumes.filter((v) => !before.has(v) && !isSnapshotArchive(v));
}

/** The snapshot archives the pool's directory keeps when the pool is deleted. */
export const keptArchives = (f: PoolFacts): string[] => f.volumes.filter(isSnapshotArchive);

/**
 * First step of a pool delete: may the pool go, given the volumes it still holds?
 * (The provider then stops and undefines it, and removes the directory only if its build made it.)
 */
export function planPoolDelete(f: PoolFacts, opts: { deleteVolumesOnDestroy: boolean }): PoolDecision {
  const held = heldVolumes(f);
  if (held.length === 0) return { allowed: true, steps: [] };
  if (opts.deleteVolumesOnDestroy) return { allowed: true, steps: [{ call: "deleteVolumes", names: held }] };
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

/**
 * With deleteVolumesOnDestroy: the pool's held volumes go only if the Volume
 * rules allow each (their own deleteSnapshotDataOnDestroy does not apply; the
 * facts leave out the volumes deleted together), overlays before their bases
 * (`backingPath`: the volume's backing file). `advise`: the delete's message also
 * says what to do next; diff's does not.
 */
export function planPoolCascade(
  pool: string,
  volumes: Array<{ name: string; facts: VolumeFacts; backingPath?: string }>,
  advise: boolean,
): PoolDecision {
  const problems = volumes.flatMap(({ name, facts }) => {
    const reasons = volumeBlockers(facts, { deleteSnapshotDataOnDestroy: false });
    return reasons.length > 0 ? [`volume "${name}": ${reasons.join("; ")}`] : [];
  });
  if (problems.length === 0) {
    const byPath = new Map(volumes.map((v) => [v.facts.path, v.name]));
    const order = overlaysFirst(new Map(volumes.map((v) => [v.facts.path, v.backingPath])));
    return { allowed: true, steps: order.map((path) => ({ call: "deleteVolume", name: byPath.get(path)! })) };
  }
  return {
    allowed: false,
    message:
      `refusing to delete storage pool "${pool}" with its volumes (nothing was changed): deleteVolumesOnDestroy deletes volumes, ` +
      `but not these, by the Volume rules: ${problems.map((p, i) => `(${i + 1}) ${p}`).join("; ")}.` +
      (advise ? " Delete such volumes first, each with its own options." : ""),
  };
}

/**
 * A replacement deletes the old pool (first, or after its replacement exists; with
 * deleteBeforeReplace its Volumes, which depend on it, go first): the delete's
 * refusal (planPoolDelete's or planPoolCascade's, without advice) refuses it in diff.
 */
export function planPoolReplace(pool: string, del: PoolDecision, replacedBy: string[]): PoolDecision {
  if (del.allowed) return del;
  return {
    allowed: false,
    message:
      `refusing to replace storage pool "${pool}" (changed: ${replacedBy.join(", ")}; nothing was changed): a replacement deletes the old pool, and ${del.message} ` +
      `${keepAsTheyWere(replacedBy)}, or empty the pool first (in its own \`pulumi up\`).`,
  };
}
