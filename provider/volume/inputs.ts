// Volume inputs: the rules that combine fields, and the normalized shape. The
// inputs themselves (schemas, defaults, change rules) are in spec.ts. Check also
// reads the upload source's header (a file on the machine running Pulumi, or the
// first 64 KiB of a URL with a ranged GET), so a missing or mismatched source fails
// before anything is created.
import type { CheckFailure } from "../validation";
import { inputChecker, type Checked } from "../resource/check";
import { inputSchema, type ParsedInputs } from "../resource/spec";
import { imageFromHead, inspectSourceImage, type SourceImage } from "../storage/image-probe";
import { QCOW2_PROBE_BYTES } from "../storage/qcow2";
import { isUrlSource, probeUrl, shownUrl, UrlSourceError } from "./url-source";
import { SIZE_HINT, formatSize, parseSize } from "../storage/size";
import { volumeSpec } from "./spec";

type Parsed = ParsedInputs<typeof volumeSpec>;

/** Inputs after check. `capacity` is in bytes; undefined means "from the source or backing image". */
export type VolumeInputs = Omit<Parsed, "capacity" | "format"> & {
  name: string;
  pool: string;
  capacity?: number;
  format: "qcow2" | "raw";
  deleteSnapshotDataOnDestroy: boolean;
};

/** Bytes for a capacity input, or a failure. */
export function capacityBytes(value: number | string): number | CheckFailure {
  const bytes = typeof value === "number" ? value : parseSize(value);
  if (bytes === undefined || !Number.isSafeInteger(bytes))
    return { property: "capacity", reason: `must be ${SIZE_HINT}; got ${JSON.stringify(value)}` };
  if (bytes <= 0) return { property: "capacity", reason: "must be greater than 0 bytes" };
  if (bytes % 512 !== 0)
    return {
      property: "capacity",
      reason: `must be a whole number of 512-byte sectors (${bytes} is not); round it up to ${Math.ceil(bytes / 512) * 512}`,
    };
  return bytes;
}

/** How a source is named in messages: a URL without its credentials. */
export const shownSource = (source: string): string => (isUrlSource(source) ? shownUrl(source) : source);

/** A URL's image from its first bytes (a ranged GET): check refuses what a file would be refused for, before anything is made. */
async function urlFacts(url: string): Promise<SourceImage | CheckFailure> {
  try {
    const { head, size } = await probeUrl(url, QCOW2_PROBE_BYTES);
    if (size === 0) return { property: "source", reason: `${shownUrl(url)} is empty: nothing to upload` };
    return imageFromHead(head, size);
  } catch (err) {
    if (err instanceof UrlSourceError) return { property: "source", reason: err.message };
    throw err;
  }
}

async function sourceFacts(file: string): Promise<SourceImage | CheckFailure> {
  if (isUrlSource(file)) return urlFacts(file);
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

const FLATTEN = (file: string) => `qemu-img convert -O qcow2 ${file} flat.qcow2`;

/**
 * Why an upload source must not be uploaded as it is, or null. An image that names
 * another file (a qcow2 backing file or external data file) would make QEMU open
 * that path on the hypervisor host when a domain boots the volume: any host file,
 * such as /etc/shadow or another guest's disk. And bytes uploaded as "raw" that
 * begin with an image header are read as that image by whatever guesses the format
 * from the content (libvirt's pool scan, qemu-img), with its references: so a file
 * declared raw is never allowed to become a qcow2 (or vmdk, ...) that way.
 * `format`: the declared format, if any.
 */
export function sourceImageProblem(file: string, image: SourceImage, format: "qcow2" | "raw" | undefined): CheckFailure | null {
  const why = "uploaded as it is, the volume would make QEMU open that path on the hypervisor host (any host file) whenever a domain uses it";
  if (format === "raw" && image.contentFormat === "qcow2") {
    return {
      property: "format",
      reason:
        `is "raw" but source ${file} begins with a qcow2 header: libvirt's pool scan and qemu-img recognise images by their content, so the ` +
        `uploaded volume would be read as a qcow2 image (with whatever backing file its header names), not as raw. If it is a disk image, ` +
        `leave format out (it is uploaded as qcow2 once it is self-contained: \`${FLATTEN(file)}\`); if these bytes are the guest's disk exactly ` +
        `as they are, wrap them in a qcow2 first (\`qemu-img convert -f raw -O qcow2 ${file} wrapped.qcow2\`) and upload that`,
    };
  }
  if (image.references?.backingFile !== undefined) {
    return {
      property: "source",
      reason:
        `${file} is a qcow2 image whose header names a backing file (${JSON.stringify(image.references.backingFile)}): ${why}. ` +
        `Flatten it into one self-contained image first (\`${FLATTEN(file)}\`) and use flat.qcow2 as source`,
    };
  }
  if (image.references?.externalDataFile) {
    const name = image.references.dataFile !== undefined ? ` (${JSON.stringify(image.references.dataFile)})` : "";
    return {
      property: "source",
      reason:
        `${file} is a qcow2 image whose data lives in an external data file${name}: ${why}. ` +
        `Copy it into one self-contained image first (\`${FLATTEN(file)}\`) and use flat.qcow2 as source`,
    };
  }
  if (image.contentFormat !== null && image.contentFormat !== "qcow2") {
    return {
      property: "source",
      reason:
        `${file} begins with a ${image.contentFormat} header: only qcow2 and raw images can be uploaded, and uploaded as raw it would still be ` +
        `read as ${image.contentFormat} (which can name other host files) by libvirt and qemu-img, which recognise images by their content. ` +
        `Convert it first (\`qemu-img convert -O qcow2 ${file} flat.qcow2\`) and use flat.qcow2 as source`,
    };
  }
  return null;
}

function crossFieldFailures(i: Parsed): CheckFailure[] {
  const f: CheckFailure[] = [];
  if (i.capacity !== undefined) {
    const c = capacityBytes(i.capacity);
    if (typeof c !== "number") f.push(c);
  }
  const backing = i.backingVolume !== undefined;
  const source = i.source !== undefined;
  if (i.capacity === undefined && !backing && !source) {
    f.push({
      property: "capacity",
      reason: `is required for an empty volume (${SIZE_HINT}); it defaults to the image's size only with source or backingVolume`,
    });
  }
  if (source && backing) {
    f.push({
      property: "source",
      reason: "cannot be combined with backingVolume: a volume either gets a copy of an image (source) or is an overlay on one (backingVolume)",
    });
  }
  if (backing && i.format === "raw") {
    f.push({
      property: "format",
      reason: 'must be "qcow2" with backingVolume: only a qcow2 image can be an overlay on a backing file (leave format out, or drop backingVolume)',
    });
  }
  if (i.sourceSha256 !== undefined && !source) {
    f.push({ property: "sourceSha256", reason: "only applies together with source (the bytes it is the checksum of)" });
  }
  if (i.backingFormat !== undefined && !backing) {
    f.push({ property: "backingFormat", reason: "only applies together with backingVolume" });
  }
  return f;
}

/** The inputs before the source is read: `format` is still the given one. */
type KnownInputs = Omit<VolumeInputs, "format"> & { format?: "qcow2" | "raw" };

const checkKnown = inputChecker(volumeSpec, {
  crossField: crossFieldFailures,
  normalize: (i): KnownInputs => {
    const capacity = i.capacity === undefined ? undefined : capacityBytes(i.capacity);
    return { ...(i as KnownInputs), capacity: typeof capacity === "number" ? capacity : undefined };
  },
});

/**
 * Validates and normalizes Volume inputs (resource/check.ts), then reads the
 * upload source. With unknowns (a preview), only the known inputs are checked
 * and `inputs` stays unset: the format's default depends on the source, which is
 * read only once everything is known. `olds`: the previous inputs or outputs; an
 * unchanged source is not read again.
 */
export async function checkVolumeInputs(news: Record<string, unknown>, olds?: Record<string, unknown>): Promise<Checked<VolumeInputs>> {
  const { inputs: i, failures, unknownKeys } = checkKnown(news);
  if (!i || unknownKeys.size > 0) return { failures, unknownKeys };
  const f: CheckFailure[] = [];
  let format = i.format;
  const sourceAlreadyUploaded = i.source !== undefined && olds?.source === i.source && (olds.format === "qcow2" || olds.format === "raw");
  if (sourceAlreadyUploaded) {
    // The source is read only when the volume is made: it may be gone by now.
    format ??= olds!.format as "qcow2" | "raw";
  } else if (i.source !== undefined) {
    const image = await sourceFacts(i.source);
    if ("property" in image) f.push(image);
    else {
      const shown = shownSource(i.source);
      const problem = sourceImageProblem(shown, image, format);
      if (problem) f.push(problem);
      else if (format !== undefined && format !== image.format) {
        f.push({
          property: "format",
          reason: `is "${format}" but source ${shown} is a ${image.format} image; set format: "${image.format}" or leave format out`,
        });
      }
      format ??= image.format;
      if (i.capacity !== undefined && i.capacity < image.virtualSize) {
        f.push({
          property: "capacity",
          reason: `${formatSize(i.capacity)} is smaller than the source image (${formatSize(image.virtualSize)}); leave capacity out to use the image's size`,
        });
      }
    }
  }
  if (f.length > 0) return { failures: f, unknownKeys };
  return { failures: [], unknownKeys, inputs: { ...i, format: format ?? "qcow2" } };
}

/** The zod object of every Volume input (each optional), as check parses them. */
export const volumeInputSchema = inputSchema(volumeSpec);
