// The Pool resource provider (directory pools): create = define + build +
// start; delete = destroy + undefine, keeping the directory and every file the
// stack did not create, and refusing while the pool holds volumes.
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { withConnection, type Connection } from "../libvirt/connection";
import { StoragePoolHandle, StorageVolHandle, withPool } from "../libvirt/storage";
import { defineProvider } from "../resource/provider";
import { TeardownRefusedError } from "../teardown/refused";
import type { ProviderHooks } from "../hooks";
import { withoutUndefined } from "../state-values";
import { isLocalUri } from "../storage/image-probe";
import { checkPoolInputs, type PoolInputs } from "./inputs";
import { buildPoolXml, parsePoolXml } from "./xml";
import { effectivePoolOptions, planPoolCascade, planPoolDelete, planPoolReplace, keptArchives, type PoolDecision } from "../teardown/pool";
import type { VolumeFacts } from "../teardown/volume";
import { poolSpec } from "./spec";
import { gatherVolumeFacts, surroundings } from "../volume/facts";
import { parseVolumeXml } from "../volume/xml";
import { adoptHint, differences, refuseMismatch } from "../resource/adopt";

export interface PoolOutputs extends PoolInputs {
  /** libvirt's UUID of the pool; also the Pulumi ID. */
  uuid: string;
  uri: string;
  active: boolean;
  /** Bytes of the file system holding the directory, as libvirt reports them. */
  capacity: number;
  allocation: number;
  available: number;
  /** Volume names in the pool now (every file in its directory). */
  volumes: string[];
  /** The pool's build made the directory: delete removes it again when it is empty. */
  createdDirectory: boolean;
  /**
   * Files that were already in the directory at creation: never deleted, never a reason to refuse.
   * Absent only for a partly created pool not yet read while running: then every file counts.
   */
  preexistingFiles?: string[];
  /** false after a refresh found the pool undefined outside Pulumi while its directory still holds files. */
  defined?: boolean;
  /** The create took over a pool that already existed (adopt: true). */
  adopted?: boolean;
}

/** Empty or missing directory (a local hypervisor; ENOENT only): a pool with nothing left to keep. */
async function directoryEmptyOrGone(uri: string, path: string): Promise<boolean> {
  // A remote host's directory cannot be read from here. Forgetting the pool loses
  // nothing there: a later create over the same directory records the files it finds
  // as pre-existing and never deletes them. (Keeping it would keep a deleted pool
  // in the stack forever.)
  if (!isLocalUri(uri)) return true;
  try {
    return (await readdir(path)).length === 0;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === "ENOENT" || code === "ENOTDIR";
  }
}

/**
 * A pool undefined outside Pulumi whose directory still holds files (a refresh kept it):
 * defined again with its name, UUID and directory, and started. Nothing in the
 * directory is created, changed or removed (no build: the directory exists).
 */
async function redefine(conn: Connection, id: string, olds: PoolOutputs, inputs: PoolInputs): Promise<PoolOutputs> {
  let pool: StoragePoolHandle;
  try {
    pool = await conn.definePool(buildPoolXml({ name: olds.name, path: olds.path, uuid: id }), label(olds.name));
  } catch (err) {
    (err as Error).message =
      `storage pool "${olds.name}" was undefined outside Pulumi and could not be defined again on ${olds.path} (nothing was changed): ${(err as Error).message}. ` +
      `If another pool now has this name or directory, remove it or change the Pool's name/path; to stop managing the pool, \`pulumi state delete\` its URN`;
    throw err;
  }
  try {
    await pool.start();
    if (inputs.autostart) await pool.setAutostart(true);
    return await describe(conn, pool, { ...olds, ...inputs, auth: inputs.auth, defined: undefined });
  } finally {
    pool.free();
  }
}

const label = (name: string) => `"${name}"`;

type SavedPool = Omit<PoolOutputs, "uuid" | "uri" | "active" | "capacity" | "allocation" | "available" | "volumes" | "preexistingFiles"> & {
  preexistingFiles?: string[];
};

async function describe(conn: Connection, pool: StoragePoolHandle, saved: SavedPool): Promise<PoolOutputs> {
  const active = await pool.isActive();
  const observed = parsePoolXml(await pool.xml());
  const volumes = active ? await pool.volumeNames() : [];
  return withoutUndefined({
    ...saved,
    defined: undefined,
    name: pool.name(),
    path: observed.path,
    uuid: pool.uuid(),
    uri: conn.uri,
    autostart: await pool.autostart(),
    active,
    capacity: observed.capacity,
    allocation: observed.allocation,
    available: observed.available,
    volumes,
    // A pool whose create had an unknown outcome has no record of what its directory
    // held before: everything there at the first reading of the running pool counts
    // as pre-existing (never deleted). Its own volumes come later: they depend on it.
    preexistingFiles: saved.preexistingFiles ?? (active ? volumes : undefined),
  });
}

/** Undoes a create that failed halfway: the directory goes only if this create made it. */
async function removeHalfCreated(pool: StoragePoolHandle, createdDirectory: boolean): Promise<string> {
  try {
    if (await pool.isActive()) await pool.destroy();
    if (createdDirectory) await pool.deleteDirectory().catch(() => undefined);
    await pool.undefine();
    return "the partly created pool was removed";
  } catch (err) {
    return `removing the partly created pool also failed (${(err as Error).message}); remove it with virsh pool-undefine`;
  }
}

/** The facts the cascade is vetted on, for each held volume (its chains are followed; the volumes deleted together do not count). */
async function heldVolumeFacts(conn: Connection, pool: StoragePoolHandle, info: Map<string, { vol: StorageVolHandle; backing?: string }>) {
  const around = await surroundings(conn);
  const deleting = new Set(info.keys());
  const out: Array<{ name: string; facts: VolumeFacts; backingPath?: string }> = [];
  for (const { vol, backing } of info.values())
    out.push({ name: vol.name(), facts: await gatherVolumeFacts(conn, pool.name(), vol, around, deleting), backingPath: backing });
  return out;
}

/**
 * For diff: the decision a delete of this pool would meet now (the pure planner on
 * the facts, and with deleteVolumesOnDestroy the Volume rules for each held volume).
 * Reads only; a stopped pool is not started: its directory is listed instead.
 */
async function planDeleteNow(conn: Connection, id: string, olds: PoolOutputs): Promise<PoolDecision> {
  const allowed: PoolDecision = { allowed: true, steps: [] };
  return withPool(conn, id, async (pool) => {
    if (!pool) return allowed; // gone: a delete has nothing to refuse
    const name = pool.name();
    let volumes: string[];
    if (await pool.isActive()) {
      await pool.refresh();
      volumes = await pool.volumeNames();
    } else if (isLocalUri(conn.uri)) {
      volumes = (await readdir(olds.path).catch(() => [] as string[])).sort();
    } else return allowed; // the delete starts it to check, and refuses then, before changing anything
    const facts = { name, path: olds.path, volumes, preexisting: olds.preexistingFiles ?? volumes };
    const decision = planPoolDelete(facts, effectivePoolOptions(olds));
    if (!decision.allowed) return decision;
    const held = decision.steps.flatMap((step) => (step.call === "deleteVolumes" ? step.names : []));
    if (held.length === 0 || !(await pool.isActive())) return allowed;
    const vols = (await seq(held, (n) => pool.lookupVolume(n))).filter((v): v is StorageVolHandle => !!v);
    try {
      const info = new Map<string, { vol: StorageVolHandle }>();
      for (const vol of vols) info.set(await vol.path(), { vol });
      return planPoolCascade(name, await heldVolumeFacts(conn, pool, info), false);
    } finally {
      vols.forEach((v) => v.free());
    }
  });
}

/** One call at a time on a leased connection. */
async function seq<T, R>(items: T[], fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (const t of items) out.push(await fn(t));
  return out;
}

/** With deleteVolumesOnDestroy: checks every held volume by the Volume rules first, then deletes them in the plan's order (overlays before their bases). */
async function deleteHeldVolumes(conn: Connection, pool: StoragePoolHandle, names: string[]): Promise<void> {
  const vols: StorageVolHandle[] = [];
  try {
    // One call at a time on the lease (no Promise.all): libvirt's error slot is per connection.
    for (const n of names) {
      const vol = await pool.lookupVolume(n);
      if (vol) vols.push(vol);
    }
    const info = new Map<string, { vol: StorageVolHandle; backing?: string }>();
    for (const vol of vols) {
      const v = parseVolumeXml(await vol.xml());
      info.set(v.path, { vol, backing: v.backingPath });
    }
    const cascade = planPoolCascade(pool.name(), await heldVolumeFacts(conn, pool, info), true);
    if (!cascade.allowed) throw new TeardownRefusedError(cascade.message);
    const byName = new Map(vols.map((v) => [v.name(), v]));
    for (const step of cascade.steps) if (step.call === "deleteVolume") await byName.get(step.name)!.delete(0);
  } finally {
    vols.forEach((v) => v.free());
  }
}

/**
 * adopt: true and a pool of that name exists: taken over when it is a directory
 * pool on the input's path, else refused with every difference before anything
 * changes. Then it is started (when stopped) and its autostart set, as an update
 * would. Its directory was not made by this stack, and every file in it now is
 * pre-existing: a delete keeps them all, and the directory.
 */
async function adoptPool(conn: Connection, pool: StoragePoolHandle, inputs: PoolInputs): Promise<PoolOutputs> {
  const observed = parsePoolXml(await pool.xml());
  const what = `storage pool "${pool.name()}" (uuid ${pool.uuid()})`;
  refuseMismatch(
    what,
    conn.uri,
    differences([
      ["type", "dir", observed.type, "a Pool is a directory pool"],
      ["path", inputs.path, observed.path],
    ]),
  );
  if (!(await pool.isActive())) await pool.start();
  if ((await pool.autostart()) !== inputs.autostart) await pool.setAutostart(inputs.autostart);
  await pool.refresh();
  console.error(`${what}: adopted (it existed, and its definition matches the inputs)`);
  return describe(conn, pool, { ...inputs, createdDirectory: false, preexistingFiles: await pool.volumeNames(), adopted: true });
}

/** The Pool provider; a test passes `hooks` to act inside its race windows (hooks.ts). */
export const makePoolProvider = (hooks: ProviderHooks = {}) =>
  defineProvider<PoolInputs, PoolOutputs>({
    spec: poolSpec,
    check: checkPoolInputs,
    // A flag saved before it had a default counts as false.
    sameAsSaved: (key, next, olds) => (key === "autostart" || key === "deleteVolumesOnDestroy") && !!(olds as Partial<PoolOutputs>)[key] === !!next,

    async diff({ id, olds, inputs, unknownKeys, replaces }) {
      // A replacement deletes this pool (first, or after its replacement exists): decide now, in
      // the preview, what the delete would refuse, before the engine replaces or deletes anything
      // (with deleteBeforeReplace its Volumes, which depend on it, would go first). Only for a
      // replacement that is certain: an unknown value is checked again when it is known.
      const certain = replaces.filter((k) => !unknownKeys.has(k));
      if (certain.length > 0 && olds.uuid) {
        const del = await withConnection({ uri: olds.uri, auth: olds.auth, hooks }, (conn) => planDeleteNow(conn, id, olds));
        const decision = planPoolReplace(olds.name, del, certain);
        if (!decision.allowed) throw new TeardownRefusedError(decision.message);
      }
      const same = (k: "name" | "path") => !unknownKeys.has(k) && inputs[k] === olds[k];
      return {
        replaces,
        // Pool names and target directories are unique per hypervisor.
        deleteBeforeReplace: replaces.length > 0 && (same("name") || same("path")),
        // A pool stopped outside Pulumi is started again by an update.
        changes: olds.active === false,
      };
    },

    async create(inputs, { recordPartlyCreated }) {
      return withConnection({ uri: inputs.uri, auth: inputs.auth, hooks }, async (conn) => {
        const existing = await conn.lookupPool(inputs.name);
        if (existing && inputs.adopt) {
          try {
            const outs = await adoptPool(conn, existing, inputs);
            return { id: outs.uuid, outs };
          } finally {
            existing.free();
          }
        }
        if (existing) {
          existing.free();
          throw new Error(
            `invalid Pool input name: a storage pool named "${inputs.name}" already exists on ${conn.uri}; choose another name (nothing was created). ${adoptHint("Pool")}`,
          );
        }
        // Only a local hypervisor's directory can be looked at; elsewhere assume it existed, and so keep it.
        const createdDirectory = isLocalUri(conn.uri) && !existsSync(inputs.path);
        // Chosen here rather than by libvirt, so that the ID is known even when the daemon never answers.
        const uuid = randomUUID();
        // Without preexistingFiles: the first reading of the running pool fills them in (see describe).
        const partial = () => ({
          id: uuid,
          props: withoutUndefined({
            ...inputs,
            uuid,
            uri: conn.uri,
            createdDirectory,
            active: false,
            capacity: 0,
            allocation: 0,
            available: 0,
            volumes: [],
          }),
        });
        return recordPartlyCreated(`storage pool "${inputs.name}" (uuid ${uuid})`, partial, async (sent) => {
          sent();
          const pool = await conn.definePool(buildPoolXml({ ...inputs, uuid }), label(inputs.name));
          try {
            let preexistingFiles: string[];
            try {
              await hooks.pause?.("afterCreate");
              await pool.build(0);
              await pool.start();
              if (inputs.autostart) await pool.setAutostart(true);
              preexistingFiles = await pool.volumeNames();
            } catch (err) {
              (err as Error).message += ` (${await removeHalfCreated(pool, createdDirectory)})`;
              throw err;
            }
            const outs = await describe(conn, pool, { ...inputs, createdDirectory, preexistingFiles, adopted: false });
            return { id: outs.uuid, outs };
          } finally {
            pool.free();
          }
        });
      });
    },

    async read(id, props) {
      return withConnection({ uri: props.uri, auth: props.auth, hooks }, (conn) =>
        withPool(conn, id, async (pool) => {
          if (!pool) {
            // Undefining a pool leaves its directory and files: forget the pool only when they are known to be gone.
            if (await directoryEmptyOrGone(conn.uri, props.path!)) return undefined;
            console.error(
              `storage pool "${props.name}" no longer exists on ${conn.uri}, but its directory ${props.path} still holds files: keeping it; \`pulumi up\` defines it again there (nothing in the directory is changed)`,
            );
            return { ...(props as PoolOutputs), active: false, defined: false, volumes: [] };
          }
          if (await pool.isActive()) await pool.refresh();
          return describe(conn, pool, props as PoolOutputs);
        }),
      );
    },

    async update(id, olds, inputs) {
      // The new credentials: an update is how a changed password gets recorded.
      return withConnection({ uri: olds.uri, auth: inputs.auth, hooks }, (conn) =>
        withPool(conn, id, async (pool) => {
          if (!pool) {
            if (olds.defined !== false) {
              throw new Error(
                `storage pool "${olds.name}" (${id}) no longer exists on ${conn.uri}; run \`pulumi refresh\` (it keeps the pool while its directory holds files), then \`pulumi up\``,
              );
            }
            return redefine(conn, id, olds, inputs);
          }
          if (!(await pool.isActive())) {
            // A partly created pool (unknown outcome) may not have been built: building an existing directory is harmless.
            if (olds.preexistingFiles === undefined) await pool.build(0);
            await pool.start();
          }
          if ((await pool.autostart()) !== inputs.autostart) await pool.setAutostart(inputs.autostart);
          return describe(conn, pool, { ...olds, ...inputs, auth: inputs.auth });
        }),
      );
    },

    async delete(id, props) {
      const opts = effectivePoolOptions(props);
      await withConnection({ uri: props.uri, auth: props.auth, hooks }, (conn) =>
        withPool(conn, id, async (pool) => {
          if (!pool) return; // already gone
          const name = pool.name();
          let active = await pool.isActive();
          let startedForCheck = false;
          if (!active) {
            // Its volumes are only listed while it runs. A pool whose directory is gone cannot start: it holds
            // nothing, and there is no directory to remove.
            try {
              await pool.start();
              active = startedForCheck = true;
            } catch {
              active = false;
            }
          }
          if (active) {
            await pool.refresh();
            const volumes = await pool.volumeNames();
            // Never read while running (a partly created pool): everything in it counts as pre-existing.
            const facts = { name, path: props.path, volumes, preexisting: props.preexistingFiles ?? volumes };
            const decision = planPoolDelete(facts, opts);
            try {
              if (!decision.allowed) throw new TeardownRefusedError(decision.message);
              for (const step of decision.steps) if (step.call === "deleteVolumes") await deleteHeldVolumes(conn, pool, step.names);
              const archives = keptArchives(facts);
              if (archives.length > 0) {
                console.error(
                  `storage pool "${name}": keeping the snapshot archives ${archives.map((a) => `${props.path}/${a}`).join(", ")} in its directory`,
                );
              }
            } catch (err) {
              if (startedForCheck) await pool.destroy().catch(() => undefined);
              throw err;
            }
            await pool.destroy();
          }
          if (props.createdDirectory && active) {
            // rmdir: refused by libvirt when anything is left in the directory, which then stays.
            await pool.deleteDirectory().catch((err: Error) => console.error(`keeping the directory of storage pool "${name}": ${err.message}`));
          }
          await pool.undefine();
        }),
      );
    },
  });

export const poolProvider = makePoolProvider();
