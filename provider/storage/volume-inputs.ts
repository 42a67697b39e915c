// Volume inputs: schema, defaults and cross-field rules. Check also reads the
// upload source's header (it is a file on the machine running Pulumi), so a
// missing or mismatched source fails before anything is created.
import { z } from "zod";
import { absolutePath, flag, credentials, hypervisorUri, objectName, oneOf, toFailures, userInputs, type CheckFailure } from "../validation";
import { inspectSourceImage, type SourceImage } from "./image-probe";
import { SIZE_HINT, formatSize, parseSize } from "./size";
import { knownOnly } from "../unknowns";

export const volumeInputSchema = z
  .object({
    name: objectName("name"),
    pool: objectName("pool"),
    uri: hypervisorUri.optional(),
    auth: credentials.optional(),
    capacity: z.union([z.number(), z.string()], { error: `must be ${SIZE_HINT}` }).optional(),
    format: oneOf(["qcow2", "raw"]).optional(),
    backingVolume: absolutePath("backingVolume").optional(),
    backingFormat: oneOf(["qcow2", "raw"]).optional(),
    source: absolutePath("source").optional(),
    deleteSnapshotDataOnDestroy: flag("deleteSnapshotDataOnDestroy").optional(),
  })
  .strict();

type Parsed = z.infer<typeof volumeInputSchema>;

// Built once: zod compiles a schema's parser on its first use, ~5-15 ms of main-thread time.
const volumeCheckSchema = volumeInputSchema.partial({ name: true, pool: true });

/** Inputs after check. `capacity` is in bytes; undefined means "from the source or backing image". */
export type VolumeInputs = Omit<Parsed, "capacity" | "format"> & {
  capacity?: number;
  format: "qcow2" | "raw";
  deleteSnapshotDataOnDestroy: boolean;
};

/** Bytes for a capacity input, or a failure. */
export function capacityBytes(value: number | string): number | CheckFailure {
  const bytes = typeof value === "number" ? value : parseSize(value);
  if (bytes === undefined || !Number.isSafeInteger(bytes)) return { property: "capacity", reason: `must be ${SIZE_HINT}; got ${JSON.stringify(value)}` };
  if (bytes <= 0) return { property: "capacity", reason: "must be greater than 0 bytes" };
  if (bytes % 512 !== 0) return { property: "capacity", reason: `must be a whole number of 512-byte sectors (${bytes} is not); round it up to ${Math.ceil(bytes / 512) * 512}` };
  return bytes;
}

async function sourceFacts(file: string): Promise<SourceImage | CheckFailure> {
  try {
    const image = await inspectSourceImage(file);
    if (image.fileSize === 0) return { property: "source", reason: `${file} is empty: nothing to upload` };
    return image;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const where = "the source is read on the machine that runs Pulumi and uploaded to the volume";
    if (e.code === "ENOENT") return { property: "source", reason: `${file} does not exist (${where})` };
    if (e.code === "EISDIR") return { property: "source", reason: `${file} is a directory, not an image file` };
    if (e.code === "EACCES" || e.code === "EPERM") return { property: "source", reason: `${file} cannot be read: permission denied (${where})` };
    return { property: "source", reason: `${file} cannot be read: ${e.message}` };
  }
}

/**
 * `inputs` is set when every input is known and valid; with unknowns (a
 * preview), only the known inputs are checked and `inputs` stays unset.
 * `olds`: the previous inputs or outputs; an unchanged source is not read again.
 */
export async function checkVolumeInputs(news: Record<string, unknown>, olds?: Record<string, unknown>): Promise<{ inputs?: VolumeInputs; failures: CheckFailure[] }> {
  const { known, unknownKeys } = knownOnly(userInputs(news));
  const required: CheckFailure[] = [];
  if (known.name === undefined && !unknownKeys.has("name")) required.push({ property: "name", reason: 'is required: the volume\'s file name in the pool, such as "web.qcow2" (the SDK defaults it to the resource name)' });
  if (known.pool === undefined && !unknownKeys.has("pool")) required.push({ property: "pool", reason: "is required: a Pool resource or the name of a pool on the hypervisor" });
  const parsed = volumeCheckSchema.safeParse(known);
  if (!parsed.success) return { failures: [...required, ...toFailures(parsed.error)] };
  const i = parsed.data;
  const f: CheckFailure[] = [...required];

  let capacity: number | undefined;
  if (i.capacity !== undefined) {
    const c = capacityBytes(i.capacity);
    if (typeof c === "number") capacity = c;
    else f.push(c);
  }
  const backing = i.backingVolume !== undefined || unknownKeys.has("backingVolume");
  const source = i.source !== undefined || unknownKeys.has("source");
  if (i.capacity === undefined && !unknownKeys.has("capacity") && !backing && !source) {
    f.push({ property: "capacity", reason: `is required for an empty volume (${SIZE_HINT}); it defaults to the image's size only with source or backingVolume` });
  }
  if (source && backing) {
    f.push({ property: "source", reason: "cannot be combined with backingVolume: a volume either gets a copy of an image (source) or is an overlay on one (backingVolume)" });
  }
  if (backing && i.format === "raw") {
    f.push({ property: "format", reason: 'must be "qcow2" with backingVolume: only a qcow2 image can be an overlay on a backing file (leave format out, or drop backingVolume)' });
  }
  if (i.backingFormat !== undefined && !backing) {
    f.push({ property: "backingFormat", reason: "only applies together with backingVolume" });
  }

  let format = i.format;
  const sourceAlreadyUploaded = i.source !== undefined && olds?.source === i.source && (olds.format === "qcow2" || olds.format === "raw");
  if (sourceAlreadyUploaded) {
    // The source is read only when the volume is made: it may be gone by now.
    format ??= olds!.format as "qcow2" | "raw";
  } else if (i.source !== undefined) {
    const image = await sourceFacts(i.source);
    if ("property" in image) f.push(image);
    else {
      if (format !== undefined && format !== image.format) {
        f.push({ property: "format", reason: `is "${format}" but source ${i.source} is a ${image.format} image; set format: "${image.format}" or leave format out` });
      }
      format ??= image.format;
      if (capacity !== undefined && capacity < image.virtualSize) {
        f.push({ property: "capacity", reason: `${formatSize(capacity)} is smaller than the source image (${formatSize(image.virtualSize)}); leave capacity out to use the image's size` });
      }
    }
  }
  if (f.length > 0 || unknownKeys.size > 0) return { failures: f };
  return {
    failures: [],
    inputs: { ...i, name: i.name!, pool: i.pool!, capacity, format: format ?? "qcow2", deleteSnapshotDataOnDestroy: i.deleteSnapshotDataOnDestroy ?? false },
  };
}
