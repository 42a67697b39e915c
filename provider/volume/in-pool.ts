// Working on a volume inside its pool, for every resource that is a volume (Volume,
// CloudInitDisk): the pool must exist and be running, and the teardown facts are
// read fresh, right before a delete.
import type { Connection } from "../libvirt/connection";
import { withPool, type StoragePoolHandle, type StorageVolHandle } from "../libvirt/storage";
import { TeardownRefusedError } from "../teardown/refused";
import { planVolumeDelete, planVolumeDeleteWithoutPool, type SavedVolume, type VolumeFacts } from "../teardown/volume";
import { freshSurroundings, gatherVolumeFacts } from "./facts";

/**
 * Runs fn with the named pool, which must exist (else `missing(reason)` is thrown:
 * the resource's input error naming `pool`) and be active. libvirt's view of a
 * directory pool is a snapshot of its last scan: it is rescanned unless `rescan` is false.
 */
export async function withActivePool<T>(
  conn: Connection,
  name: string,
  missing: (reason: string) => Error,
  fn: (pool: StoragePoolHandle) => Promise<T>,
  rescan = true,
): Promise<T> {
  return withPool(conn, name, async (pool) => {
    if (!pool) throw missing(`storage pool "${name}" does not exist on ${conn.uri}`);
    if (!(await pool.isActive())) {
      throw new Error(
        `storage pool "${name}" on ${conn.uri} is not active: start it (\`virsh pool-start ${name}\`, or \`pulumi up\` with its Pool resource) and retry`,
      );
    }
    if (rescan) await pool.refresh();
    return fn(pool);
  });
}

/** The teardown facts of volume `name` in `poolName` now; undefined when the pool is gone or stopped, or the volume is (the delete itself decides then). */
export async function volumeFactsNow(conn: Connection, poolName: string, name: string): Promise<VolumeFacts | undefined> {
  return withPool(conn, poolName, async (pool) => {
    if (!pool || !(await pool.isActive())) return undefined;
    const vol = await pool.lookupVolume(name);
    if (!vol) return undefined;
    try {
      return await gatherVolumeFacts(conn, poolName, vol, await freshSurroundings(conn));
    } finally {
      vol.free();
    }
  });
}

/**
 * A resource's delete of its volume: the pool gone (undefining a pool leaves its
 * files, so libvirt can neither check nor delete the volume) or stopped is decided
 * by the plan or refused; else the volume is deleted as the teardown plan allows.
 * `what` names the resource in messages ("volume", "cloud-init disk").
 */
export async function deleteVolumeInPool(
  conn: Connection,
  props: SavedVolume & { pool: string; name: string },
  what: string,
  opts: { deleteSnapshotDataOnDestroy: boolean },
  fileGone: () => Promise<boolean>,
): Promise<void> {
  await withPool(conn, props.pool, async (pool) => {
    if (!pool) {
      const decision = planVolumeDeleteWithoutPool(props, conn.uri, await fileGone());
      if (!decision.allowed) throw new TeardownRefusedError(decision.message);
      return;
    }
    if (!(await pool.isActive())) {
      throw new Error(
        `storage pool "${props.pool}" on ${conn.uri} is not active, so ${what} "${props.name}" cannot be checked or deleted: start it (\`virsh pool-start ${props.pool}\`) and retry`,
      );
    }
    await pool.refresh();
    const vol = await pool.lookupVolume(props.name);
    if (!vol) return; // already gone
    try {
      const facts = await gatherVolumeFacts(conn, props.pool, vol, await freshSurroundings(conn));
      const decision = planVolumeDelete(facts, opts);
      if (!decision.allowed) throw new TeardownRefusedError(decision.message);
      for (const step of decision.steps) if (step.call === "delete") await vol.delete(0);
    } finally {
      vol.free();
    }
  });
}

/** A create that failed while the connection stands removes the volume it made; the error says so, or how to remove it by hand. */
export async function removePartlyCreatedVolume(vol: StorageVolHandle, err: unknown): Promise<unknown> {
  try {
    await vol.delete(0);
    (err as Error).message += " (the partly created volume was removed)";
  } catch (cleanupErr) {
    (err as Error).message += ` (removing the partly created volume also failed: ${(cleanupErr as Error).message}; remove it with virsh vol-delete)`;
  }
  return err;
}
