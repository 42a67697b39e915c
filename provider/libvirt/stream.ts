// Volume upload and download through libvirt streams (virStream*). Every call
// runs on a worker thread. An upload takes its bytes from any async source of
// chunks (a file, an HTTP body) and pulls the next chunk only once the current one
// is sent, so a multi-GiB image costs a few chunk buffers, never the whole file.
import { open, stat } from "node:fs/promises";
import { native, type Ptr } from "./native";
import type { StorageVolHandle } from "./storage";

/** Bytes per virStreamSend. libvirt's RPC messages carry up to 32 MiB; 1 MiB keeps memory flat. */
export const UPLOAD_CHUNK_BYTES = 1024 * 1024;

export interface UploadOptions {
  /** Names the source in messages (a file path, a redacted URL). */
  what: string;
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
 * Sends exactly `length` bytes, pulled from `chunks`, into the volume with
 * virStorageVolUpload + virStreamSend. The next chunk is pulled only once the
 * current one is sent: a source that reads ahead (a file, a socket) does so by at
 * most what it buffers itself, so memory stays flat whatever the length. A source
 * that yields more or fewer bytes than `length` fails the upload. Returns the bytes sent.
 */
export async function uploadChunks(vol: StorageVolHandle, length: number, chunks: AsyncIterable<Buffer>, opts: UploadOptions): Promise<number> {
  const what = opts.what;
  const stream = await newStream(vol, `volume "${vol.name()}" (upload of ${what})`);
  let ok = false;
  try {
    await vol.conn.call(`starting the upload of ${what} into volume "${vol.name()}"`, "virStorageVolUpload", vol.ptr, stream, 0, length, 0);
    let sent = 0;
    let reportedDecile = 0;
    for await (const chunk of chunks) {
      if (sent + chunk.length > length) throw new Error(`${what} is longer than the ${length} bytes expected`);
      for (let off = 0; off < chunk.length;) {
        off += await vol.conn.call(`sending ${what} to volume "${vol.name()}"`, "virStreamSend", stream, chunk.subarray(off), chunk.length - off);
      }
      sent += chunk.length;
      const decile = Math.floor((sent * 10) / length);
      if (opts.onProgress && decile > reportedDecile) {
        reportedDecile = decile;
        opts.onProgress(sent, length, decile * 10);
      }
    }
    if (sent < length) throw new Error(`${what} ended after ${sent} of ${length} bytes`);
    await vol.conn.call(`finishing the upload of ${what} into volume "${vol.name()}"`, "virStreamFinish", stream);
    ok = true;
    return sent;
  } finally {
    await closeStream(stream, ok);
  }
}

/** Copies a local file into the volume (uploadChunks over fileChunks). Returns the bytes sent. */
export async function uploadFile(vol: StorageVolHandle, file: string, opts: Omit<UploadOptions, "what"> = {}): Promise<number> {
  const total = (await stat(file)).size;
  return uploadChunks(vol, total, fileChunks(file, total, opts.chunkBytes), { ...opts, what: file });
}

/**
 * The first `total` bytes of a file in chunks, through two buffers: the next chunk
 * is read while the consumer sends the current one, and a buffer is reused only
 * once the consumer has asked for the chunk after it.
 */
export async function* fileChunks(file: string, total: number, chunkBytes = UPLOAD_CHUNK_BYTES): AsyncGenerator<Buffer> {
  const handle = await open(file, "r");
  const buffers = [Buffer.allocUnsafe(chunkBytes), Buffer.allocUnsafe(chunkBytes)];
  const readInto = (buf: Buffer, position: number) => handle.read(buf, 0, Math.min(chunkBytes, total - position), position);
  let which = 0;
  let position = 0;
  let pending: ReturnType<typeof readInto> | null = total > 0 ? readInto(buffers[which], 0) : null;
  try {
    while (pending) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) throw new Error(`${file} became shorter while it was uploaded (${position} of ${total} bytes read)`);
      const current = buffers[which];
      which ^= 1;
      position += bytesRead;
      pending = position < total ? readInto(buffers[which], position) : null;
      yield current.subarray(0, bytesRead);
    }
  } finally {
    // A read already started for the next chunk must settle before the file handle closes.
    await pending?.catch(() => undefined);
    await handle.close();
  }
}

/**
 * The pieces of a source (a socket delivers 16-64 KiB at a time) gathered into
 * chunks of `size` bytes, the last one shorter: one virStreamSend per MiB, not per
 * packet. Two buffers, as in fileChunks: a chunk stays valid until the chunk after
 * the next is asked for (uploadChunks is done with it by then). A fresh buffer per
 * chunk would leave a MiB of garbage per MiB sent, and the process' RSS would grow
 * by tens of MiB before the collector caught up.
 */
export async function* coalesced(pieces: AsyncIterable<Buffer>, size = UPLOAD_CHUNK_BYTES): AsyncGenerator<Buffer> {
  const buffers = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)];
  let which = 0;
  let used = 0;
  for await (const piece of pieces) {
    for (let off = 0; off < piece.length;) {
      const n = Math.min(size - used, piece.length - off);
      piece.copy(buffers[which], used, off, off + n);
      used += n;
      off += n;
      if (used === size) {
        yield buffers[which];
        which ^= 1;
        used = 0;
      }
    }
  }
  if (used > 0) yield buffers[which].subarray(0, used);
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
