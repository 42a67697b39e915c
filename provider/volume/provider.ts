// The Volume resource provider: check / diff / create / read / update / delete.
import { execFile } from "node:child_process";
import { stat } from "node:fs/promises";
import { promisify } from "node:util";
import { withConnection, type Connection } from "../libvirt/connection";
import { StorageVolHandle, withPool, type StoragePoolHandle } from "../libvirt/storage";
import { uploadChunks } from "../libvirt/stream";
import { isLibvirtError } from "../libvirt/errors";
import { virErrorNumber } from "../libvirt/libvirt.gen";
import { defineProvider } from "../resource/provider";
import { deleteVolumeInPool, removePartlyCreatedVolume, volumeFactsNow, withActivePool } from "./in-pool";
import { TeardownRefusedError } from "../teardown/refused";
import { DeliberateError } from "../deliberate";
import type { ProviderHooks } from "../hooks";
import { withoutUndefined } from "../state-values";
import { isLocalUri } from "../storage/image-probe";
import { formatSize } from "../storage/size";
import { effectiveVolumeOptions, planVolumeReplace, planVolumeResize, poolMissingAdvice } from "../teardown/volume";
import { checkVolumeInputs, sourceImageProblem, type VolumeInputs } from "./inputs";
import { buildVolumeXml, parseVolumeXml, type ObservedVolume } from "./xml";
import { volumeSpec } from "./spec";
import { openUploadSource, type UploadSource } from "./upload-source";
import { UrlSourceError } from "./url-source";
import { adoptHint, differences, refuseMismatch } from "../resource/adopt";

const execFileAsync = promisify(execFile);

/** The inputs as given, and the volume as libvirt describes it (its capacity and format win); see probedFormat. */
export interface VolumeOutputs extends Omit<VolumeInputs, "capacity" | "format">, Omit<ObservedVolume, "name" | "backingFormat"> {
  /** The URI libvirt reported for the connection. */
  uri: string;
  /** What libvirt now guesses the content to be, when that differs from `format` (the format the volume was made as). */
  probedFormat?: string;
  /**
   * Set by a refresh that found the volume's pool gone (undefined outside Pulumi) while
   * its file may still exist: the volume is kept, and the next update says what to do.
   */
  poolMissing?: boolean;
  /** The create took over a volume that already existed (adopt: true). */
  adopted?: boolean;
}

/** Whether the file is known to be gone: only ENOENT/ENOTDIR on a local hypervisor; anything else (remote, EACCES) may still hold data. */
async function fileGone(uri: string, path: string | undefined): Promise<boolean> {
  if (!path || !isLocalUri(uri)) return false;
  try {
    await stat(path);
    return false;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === "ENOENT" || code === "ENOTDIR";
  }
}

/** Reports upload progress for sources at least this large. */
const PROGRESS_MIN_BYTES = 16 * 1024 * 1024;

/** An input that turned out wrong only once the hypervisor was asked; nothing was created (deliberate: no stack trace). */
class VolumeInputError extends DeliberateError {
  constructor(property: string, reason: string) {
    super(`invalid Volume input ${property}: ${reason} (nothing was created)`);
  }
}

const poolMissing = (reason: string) => new VolumeInputError("pool", reason);

interface BackingImage {
  format: string;
  capacity: number;
}

/** Format and size of the backing image: from libvirt when a pool holds it, else from qemu-img on a local hypervisor. */
async function resolveBacking(conn: Connection, path: string): Promise<BackingImage> {
  const vol = await conn.lookupVolumeByPath(path);
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
      throw new VolumeInputError(
        "backingVolume",
        `${path} is neither a volume in an active pool on ${conn.uri} nor a readable image file (${(err as Error).message.split("\n")[0]})`,
      );
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
      throw new VolumeInputError(
        "backingFormat",
        `is "${i.backingFormat}" but the backing volume ${i.backingVolume} is a ${image.format} image; set backingFormat: "${image.format}" or leave it out`,
      );
    }
    if (capacity !== undefined && capacity < image.capacity) {
      throw new VolumeInputError(
        "capacity",
        `${formatSize(capacity)} is smaller than the backing volume (${formatSize(image.capacity)}); leave capacity out to use its size`,
      );
    }
    capacity ??= image.capacity;
    backing = { path: i.backingVolume, format: image.format };
  }
  const xml = buildVolumeXml({ name: i.name, capacity: capacity!, format: i.format, backing });
  sent();
  return pool.createVolume(xml, 0, `"${i.name}"`);
}

/** A source that failed once the volume existed (a dropped download, a checksum mismatch); the volume is removed. */
class SourceUploadError extends DeliberateError {}

/** The source opened for the upload; a URL that cannot be fetched fails here, before anything is made. */
async function openSource(i: VolumeInputs): Promise<UploadSource> {
  try {
    return await openUploadSource(i.source!, { onRetry: (message) => console.error(`volume "${i.name}": ${message}`) });
  } catch (err) {
    if (err instanceof UrlSourceError) throw new VolumeInputError("source", err.message);
    throw err;
  }
}

/** An empty volume, then the source streamed into it (its sha256 checked), then grown to the requested capacity. */
async function createFromSource(pool: StoragePoolHandle, i: VolumeInputs, sent: () => void): Promise<StorageVolHandle> {
  const src = await openSource(i);
  const { shown, image } = src;
  let vol: StorageVolHandle;
  try {
    const problem = sourceImageProblem(shown, image, i.format);
    if (problem) throw new VolumeInputError(problem.property, problem.reason);
    if (image.format !== i.format) throw new VolumeInputError("format", `is "${i.format}" but source ${shown} is now a ${image.format} image`);
    if (image.fileSize === 0) throw new VolumeInputError("source", `${shown} is now empty: nothing to upload`);
    // Upload writes over the file without truncating it: start from an empty file.
    sent();
    vol = await pool.createVolume(buildVolumeXml({ name: i.name, capacity: 0, format: "raw" }), 0, `"${i.name}"`);
  } catch (err) {
    src.close();
    throw err;
  }
  try {
    const report = image.fileSize >= PROGRESS_MIN_BYTES;
    const verb = src.isUrl ? "downloading" : "uploading";
    try {
      await uploadChunks(vol, image.fileSize, src.chunks, {
        what: shown,
        onProgress: report
          ? (sent, total, pct) => console.error(`${verb} ${shown} to volume "${i.name}": ${pct}% (${formatSize(sent)} of ${formatSize(total)})`)
          : undefined,
      });
    } catch (err) {
      if (err instanceof UrlSourceError) throw new SourceUploadError(`source ${err.message}`);
      throw err;
    }
    const expected = i.sourceSha256?.toLowerCase();
    if (expected !== undefined && src.sha256() !== expected) {
      throw new SourceUploadError(
        `source ${shown}: its bytes have sha256 ${src.sha256()}, but sourceSha256 is ${expected}: not the image expected (changed on the server, ` +
          "damaged in transit, or the wrong file or checksum); check both, then run `pulumi up` again",
      );
    }
    await pool.refresh(); // libvirt re-reads the image: its format and size are the uploaded file's
    // What libvirt now makes of the uploaded bytes is what domains will get: exactly the
    // format asked for, referring to no other file (the source may have changed meanwhile).
    const seen = parseVolumeXml(await vol.xml());
    if (!readsAsMade(i.format, seen.format) || seen.backingPath !== undefined) {
      throw new Error(
        `invalid Volume input source: ${shown} was uploaded, but libvirt reads the volume as a ${seen.format} image${seen.backingPath !== undefined ? ` with backing file ${seen.backingPath}` : ""}, ` +
          `not as the self-contained ${i.format} image that check found; was the file changed meanwhile? Flatten it (\`qemu-img convert -O qcow2 ${shown} flat.qcow2\`) and use that`,
      );
    }
    if (i.capacity !== undefined && i.capacity > image.virtualSize) await vol.resize(i.capacity);
    return vol;
  } catch (err) {
    await removePartlyCreatedVolume(vol, err);
    vol.free();
    throw err;
  } finally {
    src.close();
  }
}

/**
 * Whether libvirt's reading of the content is the format the volume was made as. An
 * ISO 9660 image (a cloud-init seed, an installer) is raw bytes that libvirt names
 * "iso" by its content; it refers to no other file.
 */
function readsAsMade(made: string, probed: string): boolean {
  return probed === made || (made === "raw" && probed === "iso");
}

async function describe(conn: Connection, vol: StorageVolHandle, saved: Partial<VolumeInputs> & { adopted?: boolean }): Promise<VolumeOutputs> {
  const v = parseVolumeXml(await vol.xml());
  // libvirt re-guesses a directory pool's formats from the content at every rescan. A guest
  // writes what it likes at the start of a raw disk: a qcow2 header naming a host file there
  // would make libvirt report the volume as qcow2 with that backing file, and a Domain that
  // takes its disk format from the Volume would then open the host file. So the format stays
  // what the volume was made as (checked after the upload); libvirt's guess is only reported.
  const made = saved.format === "raw" || saved.format === "qcow2" ? saved.format : undefined;
  const format = made ?? v.format;
  if (made !== undefined && !readsAsMade(made, v.format)) {
    console.error(
      `volume "${v.name}" in storage pool "${saved.pool}" was made as ${made}, but libvirt now reads its content as a ${v.format} image` +
        `${v.backingPath ? ` with backing file ${v.backingPath}` : ""}; its format stays ${made} (output probedFormat says what libvirt reads). ` +
        (made === "raw"
          ? "A guest can write such a header into its own raw disk: never use this volume as anything but raw"
          : "Was the file replaced outside Pulumi?"),
    );
  }
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
    format,
    // A raw volume has no backing file, whatever its content looks like.
    backingPath: format === "raw" ? undefined : v.backingPath,
    probedFormat: v.format !== format ? v.format : undefined,
    poolMissing: undefined,
  });
}

/**
 * adopt: true and a volume of that name is in the pool: taken over when what the
 * inputs set (format, capacity, backing image) matches libvirt's description of
 * it, else refused with every difference; nothing is changed either way (a
 * larger capacity is for a later update). A source cannot be compared with the
 * volume's content, so it is not adopted with one.
 */
async function adoptVolume(conn: Connection, vol: StorageVolHandle, inputs: VolumeInputs): Promise<VolumeOutputs> {
  const v = parseVolumeXml(await vol.xml());
  const what = `volume "${v.name}" in storage pool "${inputs.pool}" (${v.path})`;
  refuseMismatch(
    what,
    conn.uri,
    differences([
      [
        "source",
        inputs.source === undefined ? undefined : "(an image to copy in)",
        "(the volume's own content)",
        "adopt cannot compare a source with a volume's content: drop source and sourceSha256 to adopt it",
      ],
      ["format", inputs.format, v.format],
      ["capacity", inputs.capacity, v.capacity],
      ["backingVolume", inputs.backingVolume, v.backingPath],
      ["backingFormat", inputs.backingFormat, v.backingFormat],
    ]),
  );
  console.error(`${what}: adopted (it existed, and its definition matches the inputs)`);
  return describe(conn, vol, { ...inputs, adopted: true });
}

/** The Volume provider; a test passes `hooks` to act inside its race windows (hooks.ts). */
export const makeVolumeProvider = (hooks: ProviderHooks = {}) =>
  defineProvider<VolumeInputs, VolumeOutputs>({
    spec: volumeSpec,
    check: (news, olds) => checkVolumeInputs(news, olds as Record<string, unknown> | undefined),
    // A flag saved before it had a default counts as false; a checksum is the same in either case.
    sameAsSaved: (key, next, olds) =>
      (key === "deleteSnapshotDataOnDestroy" && !!olds.deleteSnapshotDataOnDestroy === !!next) ||
      (key === "sourceSha256" && typeof next === "string" && next.toLowerCase() === olds.sourceSha256?.toLowerCase()),
    // The key, also for a volume recorded by pool and name after a create with an unknown outcome.
    idAfterRead: (outs, id) => outs.key || id,

    async diff({ olds, inputs, unknownKeys, replaces }) {
      // A replacement deletes the old volume (first, or once the new one exists): decide now, in
      // the preview, what that delete would refuse, before the engine creates, updates or deletes
      // anything for it. Only for a replacement that is certain: an unknown value is checked again
      // when it is known, before anything of this volume is done.
      const certain = replaces.filter((k) => !unknownKeys.has(k));
      if (certain.length > 0 && olds.path && !olds.poolMissing) {
        const facts = await withConnection({ uri: olds.uri, auth: olds.auth, hooks }, (conn) => volumeFactsNow(conn, olds.pool, olds.name));
        const decision = facts && planVolumeReplace(facts, effectiveVolumeOptions(olds), certain);
        if (decision && !decision.allowed) throw new TeardownRefusedError(decision.message);
      }
      const same = (k: "name" | "pool") => !unknownKeys.has(k) && inputs[k] === olds[k];
      return {
        replaces,
        // Same pool and name: the same file, so the old volume must go first.
        deleteBeforeReplace: replaces.length > 0 && same("name") && same("pool"),
        // A volume whose pool went missing: the update says what to do (or clears the mark once the pool is back).
        changes: olds.poolMissing === true,
      };
    },

    async create(inputs, { recordPartlyCreated }) {
      return withConnection({ uri: inputs.uri, auth: inputs.auth, hooks }, (conn) =>
        withActivePool(
          conn,
          inputs.pool,
          poolMissing,
          async (pool) => {
            const existing = await pool.lookupVolume(inputs.name);
            if (existing && inputs.adopt) {
              try {
                const outs = await adoptVolume(conn, existing, inputs);
                return { id: outs.key, outs };
              } finally {
                existing.free();
              }
            }
            if (existing) {
              existing.free();
              throw new VolumeInputError(
                "name",
                `a volume named "${inputs.name}" already exists in storage pool "${inputs.pool}"; choose another name, or delete it first. ${adoptHint("Volume")}`,
              );
            }
            // The key (the ID) is the file's path, which only libvirt knows for certain: until
            // `pulumi refresh` reads it, a partly created volume is known by pool and name.
            const partial = () => ({
              id: `${inputs.pool}/${inputs.name}`,
              props: withoutUndefined({ ...inputs, uri: conn.uri, deleteSnapshotDataOnDestroy: !!inputs.deleteSnapshotDataOnDestroy }),
            });
            return recordPartlyCreated(`volume "${inputs.name}" in storage pool "${inputs.pool}"`, partial, async (sent) => {
              let vol: StorageVolHandle;
              try {
                vol = inputs.source !== undefined ? await createFromSource(pool, inputs, sent) : await createOverlayOrEmpty(conn, pool, inputs, sent);
              } catch (err) {
                // A file libvirt has not scanned yet: libvirt refuses to overwrite it (VIR_ERR_OPERATION_INVALID).
                if (isLibvirtError(err, virErrorNumber.VIR_ERR_OPERATION_INVALID) && /already exists/.test(err.libvirtMessage)) {
                  throw new VolumeInputError(
                    "name",
                    `a file named "${inputs.name}" already exists in storage pool "${inputs.pool}"; choose another name, or delete it first`,
                  );
                }
                throw err;
              }
              try {
                await hooks.pause?.("afterCreate");
                const outs = await describe(conn, vol, { ...inputs, adopted: false });
                return { id: outs.key, outs };
              } finally {
                vol.free();
              }
            });
          },
          false,
        ),
      );
    },

    async read(_id, saved) {
      const props = saved as VolumeOutputs;
      return withConnection({ uri: props.uri, auth: props.auth, hooks }, (conn) =>
        withPool(conn, props.pool, async (pool) => {
          if (!pool) {
            // Undefining a pool leaves its files: forget the volume only when its file is known to be gone.
            if (await fileGone(conn.uri, props.path)) return undefined;
            console.error(poolMissingAdvice(props, conn.uri));
            return { ...props, poolMissing: true };
          }
          if (!(await pool.isActive()))
            throw new Error(`storage pool "${props.pool}" on ${conn.uri} is not active: start it to read volume "${props.name}"`);
          await pool.refresh();
          const vol = await pool.lookupVolume(props.name);
          if (!vol) return undefined; // deleted outside Pulumi
          try {
            return await describe(conn, vol, { ...props, format: props.format as VolumeInputs["format"] });
          } finally {
            vol.free();
          }
        }),
      );
    },

    async update(_id, olds, inputs) {
      // The new credentials: an update is how a changed password gets recorded.
      return withConnection({ uri: olds.uri, auth: inputs.auth, hooks }, async (conn) => {
        if (olds.poolMissing) {
          const back = await withPool(conn, olds.pool, async (p) => !!p);
          if (!back) throw new Error(`cannot update volume "${olds.name}": ${poolMissingAdvice(olds, conn.uri)}`);
        }
        return withActivePool(conn, olds.pool, poolMissing, async (pool) => {
          const vol = await pool.lookupVolume(olds.name);
          if (!vol)
            throw new Error(
              `volume "${olds.name}" no longer exists in storage pool "${olds.pool}"; run \`pulumi refresh\` to forget it, then \`pulumi up\` to create it again`,
            );
          try {
            const current = parseVolumeXml(await vol.xml()).capacity;
            const resize = planVolumeResize(olds.name, current, inputs.capacity);
            if (!resize.allowed) throw new TeardownRefusedError(resize.message);
            for (const step of resize.steps) if (step.call === "resize") await vol.resize(step.capacity);
            return await describe(conn, vol, { ...inputs, uri: olds.uri, adopted: !!olds.adopted });
          } finally {
            vol.free();
          }
        });
      });
    },

    async delete(_id, props) {
      // Only the saved outputs are known here; the environment can allow deleting snapshot data for this destroy.
      const opts = effectiveVolumeOptions(props);
      await withConnection({ uri: props.uri, auth: props.auth, hooks }, (conn) =>
        deleteVolumeInPool(conn, props, "volume", opts, () => fileGone(conn.uri, props.path)),
      );
    },
  });

export const volumeProvider = makeVolumeProvider();
