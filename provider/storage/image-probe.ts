// Facts about image files: the upload source (always local to the provider
// process), and the internal snapshots of a volume. For a hypervisor on this
// host `qemu-img info -U --output=json` answers (spawned, never blocking the
// event loop); for a remote one the qcow2 header and snapshot table are read
// through libvirt (virStorageVolDownload of the first bytes), so the check
// never depends on where the provider runs.
import { execFile } from "node:child_process";
import { open, realpath } from "node:fs/promises";
import { dirname, isAbsolute, posix, resolve } from "node:path";
import { promisify } from "node:util";
import type { StorageVolHandle } from "../libvirt/storage";
import { downloadRange } from "../libvirt/stream";
import {
  QCOW2_HEADER_BYTES,
  QCOW2_PROBE_BYTES,
  parseQcow2Header,
  parseQcow2References,
  parseSnapshotTable,
  recognisedFormat,
  snapshotTableBytes,
  type Qcow2References,
} from "./qcow2";

const execFileAsync = promisify(execFile);

export interface SourceImage {
  format: "qcow2" | "raw";
  /** The guest-visible size: the qcow2 virtual size, or the file size of a raw image. */
  virtualSize: number;
  fileSize: number;
  /** For qcow2: the other host files it names (backing file, external data file). */
  references?: Qcow2References;
  /** The format a reader that guesses by content (libvirt's pool scan, qemu-img) sees; null for raw data. */
  contentFormat: string | null;
}

async function readHead(handle: Awaited<ReturnType<typeof open>>, bytes = QCOW2_PROBE_BYTES): Promise<Buffer> {
  const head = Buffer.alloc(bytes);
  const { bytesRead } = await handle.read(head, 0, head.length, 0);
  return head.subarray(0, bytesRead);
}

/**
 * What an image is from its first bytes (QCOW2_PROBE_BYTES, or all of a smaller
 * image) and its size: qcow2 (by its magic) or raw, and what it refers to. Pure:
 * a local file and an HTTP body are judged alike.
 */
export function imageFromHead(head: Buffer, size: number): SourceImage {
  const header = parseQcow2Header(head);
  const contentFormat = recognisedFormat(head);
  return header && contentFormat === "qcow2"
    ? { format: "qcow2", virtualSize: header.virtualSize, fileSize: size, references: parseQcow2References(head)!, contentFormat }
    : { format: "raw", virtualSize: size, fileSize: size, contentFormat };
}

/** Reads the first bytes of a local image file: see imageFromHead. */
export async function inspectSourceImage(file: string): Promise<SourceImage> {
  const handle = await open(file, "r");
  try {
    const { size } = await handle.stat();
    return imageFromHead(await readHead(handle), size);
  } finally {
    await handle.close();
  }
}

/** One image of a backing chain: the name as referred to, where it resolves to, and its real path. */
export interface ChainLink {
  /** The path as the referring image (or definition) names it. */
  named: string;
  /** Absolute, relative names resolved against the referring image's directory. */
  path: string;
  /** fs.realpath of `path` (symlinks and `..` resolved); `path` normalised when the file is missing or unreadable. */
  real: string;
  /** The qcow2 external data file of this image, resolved like a backing file. */
  dataFile?: { path: string; real: string };
}

/** The real path of a file, or its normalised absolute path when it cannot be resolved (missing, no permission). */
export async function realPathOf(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    return posix.normalize(path);
  }
}

/** Longest chain followed; QEMU's own limit on backing chain depth is 256 as well. */
const MAX_CHAIN = 256;

/**
 * The backing chain of a local image file, read from the qcow2 headers
 * themselves (what QEMU opens, whatever a definition says): the image first,
 * then each backing file, relative names resolved against the directory of the
 * image that names them. Stops at a non-qcow2 image, a missing or unreadable
 * file, or a loop. Reads files only: no libvirt call, no process.
 */
export async function readBackingChain(image: string): Promise<ChainLink[]> {
  const chain: ChainLink[] = [];
  const seen = new Set<string>();
  let named = image;
  let path = isAbsolute(image) ? image : resolve(image);
  while (chain.length < MAX_CHAIN) {
    const real = await realPathOf(path);
    if (seen.has(real)) break;
    seen.add(real);
    const link: ChainLink = { named, path, real };
    chain.push(link);
    let refs: Qcow2References | null;
    try {
      const handle = await open(path, "r");
      try {
        // 4 KiB holds the header, its extensions and the backing name of every image QEMU
        // writes; only a name beyond them costs a second, larger read.
        refs = parseQcow2References(await readHead(handle, 4096));
        if (refs && (refs.backingFile === "(unreadable)" || refs.dataFile === "(unreadable)")) refs = parseQcow2References(await readHead(handle));
      } finally {
        await handle.close();
      }
    } catch {
      break; // missing or unreadable: the chain as far as it could be read
    }
    if (!refs) break;
    if (refs.dataFile && refs.dataFile !== "(unreadable)") {
      const p = isAbsolute(refs.dataFile) ? refs.dataFile : `${dirname(path)}/${refs.dataFile}`;
      link.dataFile = { path: p, real: await realPathOf(p) };
    }
    if (!refs.backingFile || refs.backingFile === "(unreadable)") break;
    // A backing name with a protocol prefix (nbd:, json:) is not a host file.
    if (/^[a-z][a-z0-9+.-]*:/i.test(refs.backingFile) && !refs.backingFile.startsWith("file:")) break;
    const name = refs.backingFile.replace(/^file:/, "");
    named = name;
    // As QEMU does: the name appended to the referring image's directory as that image was
    // named (no lexical `..` folding: the kernel resolves it through symlinks, and realpath too).
    path = isAbsolute(name) ? name : `${dirname(path)}/${name}`;
  }
  return chain;
}

/** A URI whose hypervisor runs on this host (no host part, or a unix-socket transport). */
export function isLocalUri(uri: string): boolean {
  const m = /^([a-z0-9.-]+)(?:\+([a-z0-9.-]+))?:\/\/([^/?]*)/i.exec(uri);
  if (!m) return false;
  return m[3] === "" || m[2] === "unix";
}

export interface InternalSnapshots {
  names: string[];
  /** From the image header; may exceed names.length when the table could not be read whole. */
  count: number;
  via: "qemu-img" | "qcow2 header read through libvirt" | "qcow2 header read from the file";
}

interface QemuImgInfo {
  format?: string;
  snapshots?: Array<{ name: string }>;
}

async function viaQemuImg(path: string): Promise<InternalSnapshots> {
  // -U: read even while a running VM holds the image's lock.
  const { stdout } = await execFileAsync("qemu-img", ["info", "-U", "--output=json", path], { maxBuffer: 16 * 1024 * 1024 });
  const info = JSON.parse(stdout) as QemuImgInfo;
  const names = (info.snapshots ?? []).map((s) => s.name);
  return { names, count: names.length, via: "qemu-img" };
}

/**
 * The header and snapshot table read from the image file itself (a hypervisor on this
 * host): asynchronous reads, no process to spawn. Spawning qemu-img forks the whole
 * provider process on the main thread (5-20 ms each, more when several deletes run).
 */
async function viaFile(path: string): Promise<InternalSnapshots> {
  const via = "qcow2 header read from the file" as const;
  const handle = await open(path, "r");
  try {
    const head = Buffer.alloc(QCOW2_HEADER_BYTES);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const header = parseQcow2Header(head.subarray(0, bytesRead));
    if (!header || header.snapshotCount === 0) return { names: [], count: 0, via };
    const table = Buffer.alloc(snapshotTableBytes(header.snapshotCount));
    const read = await handle.read(table, 0, table.length, header.snapshotsOffset);
    return { names: parseSnapshotTable(table.subarray(0, read.bytesRead), header.snapshotCount), count: header.snapshotCount, via };
  } finally {
    await handle.close();
  }
}

async function viaLibvirt(vol: StorageVolHandle): Promise<InternalSnapshots> {
  const header = parseQcow2Header(await downloadRange(vol, 0, QCOW2_HEADER_BYTES));
  const via = "qcow2 header read through libvirt" as const;
  if (!header || header.snapshotCount === 0) return { names: [], count: 0, via };
  const table = await downloadRange(vol, header.snapshotsOffset, snapshotTableBytes(header.snapshotCount));
  return { names: parseSnapshotTable(table, header.snapshotCount), count: header.snapshotCount, via };
}

/**
 * The internal snapshots stored in a volume's image. Local hypervisor: qemu-img
 * (falls back to the header through libvirt when qemu-img is missing or cannot
 * read the file); remote: the header through libvirt.
 */
export async function internalSnapshots(
  uri: string,
  vol: StorageVolHandle,
  path: string,
  via?: InternalSnapshots["via"],
): Promise<InternalSnapshots> {
  if (via === "qcow2 header read through libvirt" || (via === undefined && !isLocalUri(uri))) return viaLibvirt(vol);
  if (via === "qemu-img") return viaQemuImg(path);
  try {
    return await viaFile(path);
  } catch (err) {
    if (via === "qcow2 header read from the file") throw err;
    return viaLibvirt(vol); // not readable by this user: ask libvirt
  }
}

/** What a restore checks in an image: is it there, which internal snapshots it holds, what it is backed by. */
export interface ImageContents {
  /** qcow2 (by its magic and header), or anything else (raw, another format: no internal snapshots, no backing file). */
  format: "qcow2" | "other";
  /** The names in its internal snapshot table. */
  snapshots: string[];
  /** The backing file as the header stores it, and resolved against the image's directory (absolute). */
  backingFile?: { named: string; path: string };
  via: "qcow2 header read from the file" | "qcow2 header read through libvirt";
}

/** The contents facts of an image, from `read(offset, length)` of its bytes. */
async function contentsFrom(
  path: string,
  read: (offset: number, length: number) => Promise<Buffer>,
  via: ImageContents["via"],
): Promise<ImageContents> {
  const head = await read(0, QCOW2_PROBE_BYTES);
  const header = parseQcow2Header(head);
  if (!header) return { format: "other", snapshots: [], via };
  const refs = parseQcow2References(head);
  const snapshots =
    header.snapshotCount === 0
      ? []
      : parseSnapshotTable(await read(header.snapshotsOffset, snapshotTableBytes(header.snapshotCount)), header.snapshotCount);
  const named = refs?.backingFile;
  const backingFile =
    named === undefined || named === "(unreadable)"
      ? undefined
      : {
          named,
          path: posix.normalize(posix.isAbsolute(named.replace(/^file:/, "")) ? named.replace(/^file:/, "") : `${posix.dirname(path)}/${named}`),
        };
  return { format: "qcow2", snapshots, ...(backingFile ? { backingFile } : {}), via };
}

/**
 * An image's contents facts: read from the file on a hypervisor on this host, else
 * through libvirt from the volume that a running pool holds at that path
 * (virStorageVolLookupByPath, virStorageVolDownload). Throws with the reason when
 * the image is missing or cannot be read either way.
 */
export async function imageContents(
  local: boolean,
  path: string,
  volumeByPath: (path: string) => Promise<StorageVolHandle | null>,
): Promise<ImageContents> {
  if (local) {
    const handle = await open(path, "r");
    try {
      return await contentsFrom(
        path,
        async (offset, length) => {
          const buf = Buffer.alloc(length);
          const { bytesRead } = await handle.read(buf, 0, length, offset);
          return buf.subarray(0, bytesRead);
        },
        "qcow2 header read from the file",
      );
    } finally {
      await handle.close();
    }
  }
  const vol = await volumeByPath(path);
  if (!vol) throw new Error(`no running storage pool of the remote hypervisor holds ${path}, so it cannot be read through libvirt`);
  try {
    return await contentsFrom(path, (offset, length) => downloadRange(vol, offset, length), "qcow2 header read through libvirt");
  } finally {
    vol.free();
  }
}
