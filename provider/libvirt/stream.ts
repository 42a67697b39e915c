// Volume upload and download through libvirt streams (virStream*). Every call
// runs on a worker thread; the file is read in bounded chunks through a file
// handle, never whole into memory, so a multi-GiB image costs two chunk buffers.
import { open, stat } from "node:fs/promises";
import { native, type Ptr } from "./native";
import type { StorageVolHandle } from "./storage";

/** Bytes per virStreamSend. libvirt's RPC messages carry up to 32 MiB; 1 MiB keeps memory flat. */
export const UPLOAD_CHUNK_BYTES = 1024 * 1024;

export interface UploadOptions {
  chunkBytes?: number;
  /** Called at most once per started 10% (and at 100%). */
  onProgress?: (sentBytes: number, totalBytes: number, percent: number) => void;
}

async function newStream(vol: StorageVolHandle, what: string): Promise<Ptr<"virStream">> {
  return (await vol.conn.call(`opening a stream to ${what}`, "virStreamNew", vol.conn.ptr, 0))!;
}

async function closeStream(stream: Ptr<"virStream">, ok: boolean): Promise<void> {
  const n = native();
  try {
    if (!ok) await n.async.virStreamAbort(stream).catch(() => undefined);
  } finally {
    await n.async.virStreamFree(stream).catch(() => undefined);
  }
}

/**
 * Copies a local file into the volume with virStorageVolUpload + virStreamSend,
 * reading the next chunk while the current one is sent. Returns the bytes sent.
 */
export async function uploadFile(vol: StorageVolHandle, file: string, opts: UploadOptions = {}): Promise<number> {
  const total = (await stat(file)).size;
  const handle = await open(file, "r");
  const stream = await newStream(vol, `volume "${vol.name()}" (upload of ${file})`);
  let ok = false;
  try {
    await vol.conn.call(`starting the upload of ${file} into volume "${vol.name()}"`, "virStorageVolUpload", vol.ptr, stream, 0, total, 0);
    const sent = await pump(vol, stream, handle, file, total, opts);
    await vol.conn.call(`finishing the upload of ${file} into volume "${vol.name()}"`, "virStreamFinish", stream);
    ok = true;
    return sent;
  } finally {
    await closeStream(stream, ok);
    await handle.close();
  }
}

type FileHandle = Awaited<ReturnType<typeof open>>;

/** Two chunk buffers: one is read from the file while the other is sent. */
async function pump(
  vol: StorageVolHandle,
  stream: Ptr<"virStream">,
  handle: FileHandle,
  file: string,
  total: number,
  opts: UploadOptions,
): Promise<number> {
  const chunk = opts.chunkBytes ?? UPLOAD_CHUNK_BYTES;
  const buffers = [Buffer.allocUnsafe(chunk), Buffer.allocUnsafe(chunk)];
  const readInto = (buf: Buffer, position: number) => handle.read(buf, 0, Math.min(chunk, total - position), position);
  let which = 0;
  let sent = 0;
  let reportedDecile = 0;
  let pending: ReturnType<typeof readInto> | null = total > 0 ? readInto(buffers[which], 0) : null;
  try {
    while (pending) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) throw new Error(`${file} became shorter while it was uploaded (${sent} of ${total} bytes sent)`);
      const current = buffers[which];
      which ^= 1;
      const nextPosition = sent + bytesRead;
      pending = nextPosition < total ? readInto(buffers[which], nextPosition) : null;
      for (let off = 0; off < bytesRead;) {
        off += await vol.conn.call(
          `sending ${file} to volume "${vol.name()}"`,
          "virStreamSend",
          stream,
          current.subarray(off, bytesRead),
          bytesRead - off,
        );
      }
      sent = nextPosition;
      const decile = Math.floor((sent * 10) / total);
      if (opts.onProgress && decile > reportedDecile) {
        reportedDecile = decile;
        opts.onProgress(sent, total, decile * 10);
      }
    }
    return sent;
  } catch (err) {
    // A read already started for the next chunk must settle before the file handle closes.
    await pending?.catch(() => undefined);
    throw err;
  }
}

/** Reads `length` bytes of the volume's file from `offset` (fewer at its end) with virStorageVolDownload. */
export async function downloadRange(vol: StorageVolHandle, offset: number, length: number): Promise<Buffer> {
  const what = `volume "${vol.name()}" (download)`;
  const stream = await newStream(vol, what);
  let ok = false;
  try {
    await vol.conn.call(`starting a download from volume "${vol.name()}"`, "virStorageVolDownload", vol.ptr, stream, offset, length, 0);
    const out = Buffer.alloc(length);
    let got = 0;
    for (;;) {
      const buf = Buffer.alloc(Math.min(256 * 1024, Math.max(length - got, 1)));
      const n = await vol.conn.call(`reading from ${what}`, "virStreamRecv", stream, buf, buf.length);
      if (n === 0) break;
      buf.copy(out, got, 0, Math.min(n, length - got));
      got += n;
    }
    await vol.conn.call(`finishing the download from volume "${vol.name()}"`, "virStreamFinish", stream);
    ok = true;
    return out.subarray(0, Math.min(got, length));
  } finally {
    await closeStream(stream, ok);
  }
}
