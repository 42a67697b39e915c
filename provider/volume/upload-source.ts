// The bytes a Volume's `source` uploads, local file or URL alike: what the image
// is, judged from the very bytes about to be sent (a file read again, since it may
// have changed since check; a URL's first chunk, not a second request), the chunks
// themselves, and their sha256 once they are all sent.
import { createHash } from "node:crypto";
import { coalesced, fileChunks } from "../libvirt/stream";
import { imageFromHead, inspectSourceImage, type SourceImage } from "../storage/image-probe";
import { QCOW2_PROBE_BYTES } from "../storage/qcow2";
import { isUrlSource, openUrl, shownUrl, type UrlOptions } from "./url-source";

export interface UploadSource {
  /** The source as messages name it (a URL without its credentials). */
  shown: string;
  isUrl: boolean;
  image: SourceImage;
  chunks: AsyncIterable<Buffer>;
  /** The sha256 (hex) of the chunks read so far: of the whole source once they ended. */
  sha256(): string;
  /** Releases the file or connection: after a failure before or during the upload. */
  close(): void;
}

/** Hashes what passes through, in order. */
async function* hashing(chunks: AsyncIterable<Buffer>, hash: ReturnType<typeof createHash>): AsyncGenerator<Buffer> {
  for await (const chunk of chunks) {
    hash.update(chunk);
    yield chunk;
  }
}

async function fileSource(file: string): Promise<UploadSource> {
  const image = await inspectSourceImage(file);
  const hash = createHash("sha256");
  const chunks = hashing(fileChunks(file, image.fileSize), hash);
  return {
    shown: file,
    isUrl: false,
    image,
    chunks,
    sha256: () => hash.copy().digest("hex"),
    // Nothing opened yet unless the chunks were started: ending them closes the file.
    close: () => void chunks.return(undefined).catch(() => undefined),
  };
}

/** The download started (a 404 fails here, before any volume exists) and its first MiB read, to judge the image by. */
async function urlSource(url: string, opts: UrlOptions): Promise<UploadSource> {
  const download = await openUrl(url, opts);
  try {
    const it = coalesced(download.chunks)[Symbol.asyncIterator]();
    const first = await it.next();
    const head = first.done ? Buffer.alloc(0) : first.value;
    async function* all(): AsyncGenerator<Buffer> {
      try {
        if (!first.done) yield first.value;
        for (;;) {
          const next = await it.next();
          if (next.done) return;
          yield next.value;
        }
      } finally {
        await it.return?.(undefined);
      }
    }
    return {
      shown: shownUrl(url),
      isUrl: true,
      image: imageFromHead(head.subarray(0, QCOW2_PROBE_BYTES), download.size),
      chunks: all(),
      sha256: download.sha256,
      close: download.close,
    };
  } catch (err) {
    download.close();
    throw err;
  }
}

/** Opens the source for the upload; a URL's retries are reported through `opts.onRetry`. */
export function openUploadSource(source: string, opts: UrlOptions = {}): Promise<UploadSource> {
  return isUrlSource(source) ? urlSource(source, opts) : fileSource(source);
}
