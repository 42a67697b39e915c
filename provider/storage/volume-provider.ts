// The Volume resource provider: check / diff / create / read / update / delete.
import type * as pulumi from "@pulumi/pulumi";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { withConnection, type Connection } from "../libvirt/connection";
import { StorageVolHandle, withPool, type StoragePoolHandle } from "../libvirt/storage";
import { uploadFile } from "../libvirt/stream";
import { isLibvirtError } from "../libvirt/errors";
import { virErrorNumber } from "../libvirt/libvirt.gen";
import { recordingUnknownOutcome } from "../incomplete-create";
import { TeardownRefusedError } from "../refusal";
import { testPause } from "../test-hooks";
import { canonicalEqual } from "../equality";
import { withoutUndefined } from "../state-values";
import { userInputs } from "../validation";
import { inspectSourceImage, isLocalUri } from "./image-probe";
import { formatSize } from "./size";
import { effectiveVolumeOptions, planVolumeDelete } from "../teardown";
import { UNKNOWN } from "../unknowns";
import { freshSurroundings, gatherVolumeFacts } from "./volume-facts";
import { checkVolumeInputs, type VolumeInputs } from "./volume-inputs";
import { buildVolumeXml, parseVolumeXml } from "./volume-xml";

const execFileAsync = promisify(execFile);

export interface VolumeOutputs extends Omit<VolumeInputs, "capacity" | "format"> {
  /** The URI libvirt reported for the connection. */
  uri: string;
  /** libvirt's key of the volume (its path, for directory pools); also the Pulumi ID. */
  key: string;
  path: string;
  /** Bytes the guest sees, as libvirt reports them now. */
  capacity: number;
  /** Bytes the image takes on the host now. */
  allocation: number;
  /** The image format libvirt reports ("qcow2", "raw"). */
  format: string;
  /** The backing file of an overlay, as libvirt reports it. */
  backingPath?: string;
}

/** Inputs whose change makes a new volume. */
const REPLACE_KEYS = ["name", "pool", "uri", "format", "backingVolume", "backingFormat", "source"] as const;
const UPDATE_KEYS = ["capacity", "deleteSnapshotDataOnDestroy", "auth"] as const;

/** Reports upload progress for sources at least this large. */
const PROGRESS_MIN_BYTES = 16 * 1024 * 1024;

/** An input that turned out wrong only once the hypervisor was asked; nothing was created. */
class VolumeInputError extends Error {
  constructor(property: string, reason: string) {
    super(`invalid Volume input ${property}: ${reason} (nothing was created)`);
    this.name = "VolumeInputError";
  }
}

async function inputsOrThrow(raw: Record<string, unknown>, olds?: Record<string, unknown>): Promise<VolumeInputs> {
  const { inputs, failures } = await checkVolumeInputs(raw, olds);
  if (!inputs) throw new Error(`invalid Volume inputs: ${failures.map((f) => `${f.property} ${f.reason}`).join("; ") || "some inputs are still unknown"}`);
  return inputs;
}

/** Runs fn with the named pool, which must exist and run. */
async function withActivePool<T>(conn: Connection, name: string, fn: (pool: StoragePoolHandle) => Promise<T>, rescan = true): Promise<T> {
  return withPool(conn, name, async (pool) => {
    if (!pool) throw new VolumeInputError("pool", `storage pool "${name}" does not exist on ${conn.uri}`);
    if (!(await pool.isActive())) {
      throw new Error(`storage pool "${name}" on ${conn.uri} is not active: start it (\`virsh pool-start ${name}\`, or \`pulumi up\` with its Pool resource) and retry`);
    }
    // libvirt's view of a directory pool is a snapshot of its last scan: rescan.
    if (rescan) await pool.refresh();
    return fn(pool);
  });
}

interface BackingImage {
  format: string;
  capacity: number;
}

/** Format and size of the backing image: from libvirt when a pool holds it, else from qemu-img on a local hypervisor. */
async function resolveBacking(conn: Connection, path: string): Promise<BackingImage> {
  const vol = await StorageVolHandle.lookupByPath(conn, path);
  if (vol) {
    try {
      const v = parseVolumeXml(await vol.xml());
      return { format: v.format, capacity: v.capacity };
    } finally {
      vol.free();
    }
  }
  if (isLocalUri(conn.uri)) {
    try {
      const { stdout } = await execFileAsync("qemu-img", ["info", "-U", "--output=json", path]);
      const info = JSON.parse(stdout) as { format: string; "virtual-size": number };
      return { format: info.format, capacity: info["virtual-size"] };
    } catch (err) {
      throw new VolumeInputError("backingVolume", `${path} is neither a volume in an active pool on ${conn.uri} nor a readable image file (${(err as Error).message.split("\n")[0]})`);
    }
  }
  throw new VolumeInputError("backingVolume", `${path} is not a volume in any active storage pool on ${conn.uri}`);
}

async function createOverlayOrEmpty(conn: Connection, pool: StoragePoolHandle, i: VolumeInputs, sent: () => void): Promise<StorageVolHandle> {
  let capacity = i.capacity;
  let backing: { path: string; format: "qcow2" | "raw" } | undefined;
  if (i.backingVolume !== undefined) {
    const image = await resolveBacking(conn, i.backingVolume);
    if (image.format !== "qcow2" && image.format !== "raw") {
      throw new VolumeInputError("backingVolume", `${i.backingVolume} is a ${image.format} image; a backing image must be qcow2 or raw`);
    }
    if (i.backingFormat !== undefined && i.backingFormat !== image.format) {
      throw new VolumeInputError("backingFormat", `is "${i.backingFormat}" but the backing volume ${i.backingVolume} is a ${image.format} image; set backingFormat: "${image.format}" or leave it out`);
    }
    if (capacity !== undefined && capacity < image.capacity) {
      throw new VolumeInputError("capacity", `${formatSize(capacity)} is smaller than the backing volume (${formatSize(image.capacity)}); leave capacity out to use its size`);
    }
    capacity ??= image.capacity;
    backing = { path: i.backingVolume, format: image.format };
  }
  const xml = buildVolumeXml({ name: i.name, capacity: capacity!, format: i.format, backing });
  sent();
  return StorageVolHandle.create(pool, xml, 0, `"${i.name}"`);
}

/** An empty volume, then the source streamed into it, then grown to the requested capacity. */
async function createFromSource(pool: StoragePoolHandle, i: VolumeInputs, sent: () => void): Promise<StorageVolHandle> {
  const source = i.source!;
  const image = await inspectSourceImage(source);
  if (image.format !== i.format) throw new VolumeInputError("format", `is "${i.format}" but source ${source} is now a ${image.format} image`);
  // Upload writes over the file without truncating it: start from an empty file.
  sent();
  const vol = await StorageVolHandle.create(pool, buildVolumeXml({ name: i.name, capacity: 0, format: "raw" }), 0, `"${i.name}"`);
  try {
    const report = image.fileSize >= PROGRESS_MIN_BYTES;
    await uploadFile(vol, source, {
      onProgress: report ? (sent, total, pct) => console.error(`uploading ${source} to volume "${i.name}": ${pct}% (${formatSize(sent)} of ${formatSize(total)})`) : undefined,
    });
    await pool.refresh(); // libvirt re-reads the image: its format and size are the uploaded file's
    if (i.capacity !== undefined && i.capacity > image.virtualSize) await vol.resize(i.capacity);
    return vol;
  } catch (err) {
    try {
      await vol.delete(0);
      (err as Error).message += " (the partly created volume was removed)";
    } catch (cleanupErr) {
      (err as Error).message += ` (removing the partly created volume also failed: ${(cleanupErr as Error).message}; remove it with virsh vol-delete)`;
    }
    vol.free();
    throw err;
  }
}

async function describe(conn: Connection, vol: StorageVolHandle, saved: Partial<VolumeInputs>): Promise<VolumeOutputs> {
  const v = parseVolumeXml(await vol.xml());
  return withoutUndefined({
    ...saved,
    name: v.name || saved.name!,
    pool: saved.pool!,
    deleteSnapshotDataOnDestroy: !!saved.deleteSnapshotDataOnDestroy,
    uri: conn.uri,
    key: v.key || vol.key(),
    path: v.path,
    capacity: v.capacity,
    allocation: v.allocation,
    format: v.format,
    backingPath: v.backingPath,
  });
}

function changedKeys(olds: Record<string, unknown>, news: Record<string, unknown>, keys: readonly string[]): string[] {
  return keys.filter((k) => {
    const next = news[k];
    if (next === UNKNOWN) return true;
    // uri and capacity left unset mean "what was resolved at creation".
    if ((k === "uri" || k === "capacity") && next === undefined) return false;
    if (k === "deleteSnapshotDataOnDestroy") return !!olds[k] !== !!next;
    return !canonicalEqual(olds[k], next);
  });
}

export const volumeProvider: pulumi.dynamic.ResourceProvider = {
  async check(olds, news) {
    const { inputs, failures } = await checkVolumeInputs(news, olds);
    return { inputs: inputs ? withoutUndefined(inputs) : news, failures };
  },

  async diff(_id, olds: VolumeOutputs, news) {
    const { inputs } = await checkVolumeInputs(news, olds as unknown as Record<string, unknown>);
    const next = inputs ? (inputs as unknown as Record<string, unknown>) : userInputs(news);
    const prev = olds as unknown as Record<string, unknown>;
    const replaces = changedKeys(prev, next, REPLACE_KEYS);
    const changed = [...replaces, ...changedKeys(prev, next, UPDATE_KEYS)];
    return {
      changes: changed.length > 0,
      replaces,
      // Same pool and name: the same file, so the old volume must go first.
      deleteBeforeReplace: replaces.length > 0 && next.name === olds.name && next.pool === olds.pool,
    };
  },

  async create(raw) {
    const inputs = await inputsOrThrow(raw);
    return withConnection({ uri: inputs.uri, auth: inputs.auth }, (conn) =>
      withActivePool(conn, inputs.pool, async (pool) => {
        const existing = await StorageVolHandle.lookupByName(pool, inputs.name);
        if (existing) {
          existing.free();
          throw new VolumeInputError("name", `a volume named "${inputs.name}" already exists in storage pool "${inputs.pool}"; choose another name, or delete it first`);
        }
        // The key (the ID) is the file's path, which only libvirt knows for certain: until
        // `pulumi refresh` reads it, a partly created volume is known by pool and name.
        const partial = () => ({ id: `${inputs.pool}/${inputs.name}`, props: withoutUndefined({ ...inputs, uri: conn.uri, deleteSnapshotDataOnDestroy: !!inputs.deleteSnapshotDataOnDestroy }) });
        return recordingUnknownOutcome(raw, `volume "${inputs.name}" in storage pool "${inputs.pool}"`, partial, async (sent) => {
          let vol: StorageVolHandle;
          try {
            vol = inputs.source !== undefined ? await createFromSource(pool, inputs, sent) : await createOverlayOrEmpty(conn, pool, inputs, sent);
          } catch (err) {
            // A file libvirt has not scanned yet: libvirt refuses to overwrite it (VIR_ERR_OPERATION_INVALID).
            if (isLibvirtError(err, virErrorNumber.VIR_ERR_OPERATION_INVALID) && /already exists/.test(err.libvirtMessage)) {
              throw new VolumeInputError("name", `a file named "${inputs.name}" already exists in storage pool "${inputs.pool}"; choose another name, or delete it first`);
            }
            throw err;
          }
          try {
            await testPause("afterCreate");
            const outs = await describe(conn, vol, inputs);
            return { id: outs.key, outs };
          } finally {
            vol.free();
          }
        });
      }, false),
    );
  },

  async read(id, props: VolumeOutputs) {
    return withConnection({ uri: props.uri, auth: props.auth }, (conn) =>
      withPool(conn, props.pool, async (pool) => {
        if (!pool) return {}; // the pool, and so the volume, was removed outside Pulumi
        if (!(await pool.isActive())) throw new Error(`storage pool "${props.pool}" on ${conn.uri} is not active: start it to read volume "${props.name}"`);
        await pool.refresh();
        const vol = await StorageVolHandle.lookupByName(pool, props.name);
        if (!vol) return {}; // deleted outside Pulumi
        try {
          const outs = await describe(conn, vol, props as unknown as VolumeInputs);
          // The key, also for a volume recorded by pool and name after a create with an unknown outcome.
          return { id: outs.key, props: outs };
        } finally {
          vol.free();
        }
      }),
    );
  },

  async update(_id, olds: VolumeOutputs, news) {
    const inputs = await inputsOrThrow(news, olds as unknown as Record<string, unknown>);
    // The new credentials: an update is how a changed password gets recorded.
    return withConnection({ uri: olds.uri, auth: inputs.auth }, (conn) =>
      withActivePool(conn, olds.pool, async (pool) => {
        const vol = await StorageVolHandle.lookupByName(pool, olds.name);
        if (!vol) throw new Error(`volume "${olds.name}" no longer exists in storage pool "${olds.pool}"; run \`pulumi refresh\` to forget it, then \`pulumi up\` to create it again`);
        try {
          const current = parseVolumeXml(await vol.xml()).capacity;
          if (inputs.capacity !== undefined && inputs.capacity > current) await vol.resize(inputs.capacity);
          if (inputs.capacity !== undefined && inputs.capacity < current) {
            throw new TeardownRefusedError(
              `refusing to shrink volume "${olds.name}" from ${formatSize(current)} to ${formatSize(inputs.capacity)} (nothing was changed): ` +
                `shrinking cuts off whatever the guest stored at the end of the disk. Keep capacity at ${current} bytes or more, or give the volume a new name to replace it`,
            );
          }
          return { outs: await describe(conn, vol, { ...inputs, uri: olds.uri }) };
        } finally {
          vol.free();
        }
      }),
    );
  },

  async delete(_id, props: VolumeOutputs) {
    // Only the saved outputs are known here; the environment can allow deleting snapshot data for this destroy.
    const opts = effectiveVolumeOptions(props);
    await withConnection({ uri: props.uri, auth: props.auth }, (conn) =>
      withPool(conn, props.pool, async (pool) => {
        if (!pool) return; // the pool is gone, and its volumes with it
        if (!(await pool.isActive())) {
          throw new Error(`storage pool "${props.pool}" on ${conn.uri} is not active, so volume "${props.name}" cannot be checked or deleted: start it (\`virsh pool-start ${props.pool}\`) and retry`);
        }
        await pool.refresh();
        const vol = await StorageVolHandle.lookupByName(pool, props.name);
        if (!vol) return; // already gone
        try {
          const facts = await gatherVolumeFacts(conn, props.pool, vol, await freshSurroundings(conn));
          const decision = planVolumeDelete(facts, opts);
          if (!decision.allowed) throw new TeardownRefusedError(decision.message);
          await vol.delete(0);
        } finally {
          vol.free();
        }
      }),
    );
  },
};
