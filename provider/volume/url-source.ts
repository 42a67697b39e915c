// A Volume `source` given as an http:// or https:// URL, fetched with Node's own
// http/https (no dependency). The body is read as the upload pulls it (the socket
// is paused while libvirt takes a chunk, so memory stays flat); a dropped or
// stalled connection is resumed with `Range: bytes=N-` a few times; the sha256 of
// the bytes is computed on the way. Every message names the URL redacted
// (redactUri: `https://user:***@host/...`), since a URL may carry credentials.
import { createHash } from "node:crypto";
import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import { setTimeout as delay } from "node:timers/promises";
import { DeliberateError } from "../deliberate";
import { redactUri } from "../libvirt/uri";

/** Milliseconds without a byte (connecting, waiting for the answer, or mid-body) before an attempt counts as failed. */
export const URL_TIMEOUT_ENV = "LIBVIRT_PULUMI_URL_TIMEOUT_MS";
export const DEFAULT_URL_TIMEOUT_MS = 30_000;
/** Attempts in a row that bring no new byte before the download gives up. */
export const URL_RETRIES = 3;
const MAX_REDIRECTS = 5;

export const isUrlSource = (source: string): boolean => /^https?:\/\//i.test(source);

/**
 * The URL as it may be shown: credentials replaced by ***. redactUri (as for
 * hypervisor URIs) takes user:password@ and password-like parameters; a URL also
 * carries a token as a bare user (https://TOKEN@host/) or as a signature or key
 * parameter (a pre-signed URL), and those go too. The SDK makes such a URL a
 * secret by the same signs (sdk/volume.ts urlCarriesCredentials).
 */
export function shownUrl(url: string): string {
  const noUser = url.replace(/^(https?:\/\/)[^/?#@]*@/i, (m: string, scheme: string) =>
    /:|%3a/i.test(m.slice(scheme.length)) ? m : `${scheme}***@`,
  );
  return redactUri(noUser).replace(/([?&][^=&#]*(?:key|sig)[^=&#]*=)[^&#]*/gi, "$1***");
}

/** A URL source that cannot be used; the message names the URL (redacted), the cause and what to do. */
export class UrlSourceError extends DeliberateError {}

/** No byte for the timeout's length. */
class TimeoutError extends Error {}

/** A failure worth another attempt: the connection dropped or stalled, or the server said "try later" (5xx). */
class TransientFailure extends Error {}

export interface UrlOptions {
  /** Default: LIBVIRT_PULUMI_URL_TIMEOUT_MS, else DEFAULT_URL_TIMEOUT_MS. */
  timeoutMs?: number;
  retries?: number;
  /** Wait before the first retry; doubled for each further one. */
  retryDelayMs?: number;
  /** Told of each retry, in words (the URL redacted). */
  onRetry?: (message: string) => void;
}

function timeoutOf(opts: UrlOptions): number {
  if (opts.timeoutMs !== undefined) return opts.timeoutMs;
  const env = process.env[URL_TIMEOUT_ENV];
  if (env === undefined || env === "") return DEFAULT_URL_TIMEOUT_MS;
  const ms = Number(env);
  if (!Number.isSafeInteger(ms) || ms <= 0)
    throw new UrlSourceError(`${URL_TIMEOUT_ENV}=${JSON.stringify(env)} must be a whole number of milliseconds above 0`);
  return ms;
}

/** The URL parsed, or why it cannot be fetched (check has already refused other schemes). */
function parsed(source: string): URL {
  try {
    const url = new URL(source);
    if (url.protocol === "http:" || url.protocol === "https:") return url;
  } catch {
    // fall through
  }
  throw new UrlSourceError(`${shownUrl(source)} is not an http:// or https:// URL`);
}

// Node's names for "the certificate cannot be trusted" (OpenSSL's verify errors).
const CERT_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_REVOKED",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);
const TRUST_ADVICE =
  "the machine that runs Pulumi does not trust the server's certificate: give the server a certificate from a CA that machine trusts, " +
  "or name your CA for the Pulumi process with NODE_EXTRA_CA_CERTS=/path/to/ca.pem (read when the process starts); " +
  "or serve the image over http:// and set sourceSha256 so that its content is still verified";

/** Words for a failed request: permanent ones as UrlSourceError, the rest as TransientFailure. */
function failureOf(err: unknown, shown: string, timeoutMs: number): Error {
  if (err instanceof UrlSourceError || err instanceof TransientFailure) return err;
  const e = err as NodeJS.ErrnoException;
  const code = e.code ?? "";
  if (CERT_CODES.has(code)) {
    const what = code === "ERR_TLS_CERT_ALTNAME_INVALID" ? "the certificate does not name this host" : "certificate verify failed";
    return new UrlSourceError(`${shown}: TLS failed: ${what} (${code}: ${e.message}); ${TRUST_ADVICE}`);
  }
  if (code.startsWith("ERR_SSL_") || code === "EPROTO" || code.startsWith("ERR_TLS_")) {
    // OpenSSL's text is a line of error-queue fields: its reason ("wrong version number") is what a user can read.
    const reason = /SSL routines:[^:]*:([^:]+):/.exec(e.message)?.[1] ?? e.message.split("\n")[0];
    return new UrlSourceError(
      `${shown}: the TLS handshake failed (${code}: ${reason}); is the server speaking https on that port? (http:// for plain HTTP)`,
    );
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return new UrlSourceError(`${shown}: host name not found (${code}); check the URL's host`);
  if (code === "ECONNREFUSED") return new UrlSourceError(`${shown}: connection refused; is the server running and the port right?`);
  if (err instanceof TimeoutError) return new TransientFailure(`no data for ${timeoutMs} ms (${URL_TIMEOUT_ENV}, default ${DEFAULT_URL_TIMEOUT_MS})`);
  // ECONNRESET, EPIPE, "aborted", a premature close: the connection dropped.
  return new TransientFailure(`the connection dropped (${code || e.message})`);
}

/** One request; the socket's idle timeout covers connecting, the answer and the whole body. */
function requestOnce(url: URL, headers: Record<string, string>, timeoutMs: number): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const get = url.protocol === "https:" ? https.request : http.request;
    // agent: false: a fresh connection per attempt, closed with it (a resume must not reuse a broken one).
    let answer: IncomingMessage | undefined;
    const req = get(url, { headers, agent: false }, (res) => {
      // Errors in the body surface where it is read; until then nobody listens, and an unheard 'error' would end the process.
      res.on("error", () => undefined);
      answer = res;
      resolve(res);
    });
    req.setTimeout(timeoutMs, () => {
      // The body's reader sees the timeout itself, not the "aborted" of the socket closing under it.
      const err = new TimeoutError();
      answer?.destroy(err);
      req.destroy(err);
    });
    req.on("error", reject);
    req.end();
  });
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** GET with redirects followed; credentials go only to the origin they were given for. Returns the answer and the URL that gave it. */
async function get(start: URL, headers: Record<string, string>, shown: string, timeoutMs: number): Promise<{ res: IncomingMessage; url: URL }> {
  let url = start;
  for (let hops = 0; ; hops++) {
    let res: IncomingMessage;
    try {
      res = await requestOnce(url, headers, timeoutMs);
    } catch (err) {
      throw failureOf(err, shown, timeoutMs);
    }
    const location = res.headers.location;
    if (!REDIRECTS.has(res.statusCode ?? 0) || !location) return { res, url };
    res.destroy();
    if (hops >= MAX_REDIRECTS) throw new UrlSourceError(`${shown}: more than ${MAX_REDIRECTS} redirects; give the final URL`);
    const next = new URL(location, url);
    if (next.protocol !== "http:" && next.protocol !== "https:")
      throw new UrlSourceError(`${shown}: redirected to a ${next.protocol} URL, which cannot be fetched; give an http(s) URL`);
    if (url.protocol === "https:" && next.protocol === "http:")
      throw new UrlSourceError(`${shown}: redirected from https to plain http (${shownUrl(next.href)}); give the final URL if that is meant`);
    if (next.origin !== url.origin) {
      next.username = "";
      next.password = "";
    } else if (!next.username) {
      next.username = url.username;
      next.password = url.password;
    }
    url = next;
  }
}

/** A status that is not the one asked for, in words; 5xx is transient (the server may recover). */
function statusFailure(res: IncomingMessage, shown: string): Error {
  const status = `HTTP ${res.statusCode}${res.statusMessage ? ` ${res.statusMessage}` : ""}`;
  res.destroy();
  const code = res.statusCode ?? 0;
  if (code === 404 || code === 410) return new UrlSourceError(`${shown}: ${status}: there is no file at that URL; check the URL`);
  if (code === 401 || code === 403)
    return new UrlSourceError(
      `${shown}: ${status}: the server refuses access; give credentials it accepts in the URL (https://user:password@host/..., kept secret by the SDK) or make the file readable`,
    );
  if (code >= 500) return new TransientFailure(`the server answered ${status}`);
  return new UrlSourceError(`${shown}: ${status}; expected 200 OK`);
}

/** Runs `attempt` again after transient failures, up to `retries` times; the last failure is a UrlSourceError. */
async function retrying<T>(shown: string, opts: UrlOptions, attempt: () => Promise<T>): Promise<T> {
  const retries = opts.retries ?? URL_RETRIES;
  for (let failures = 0; ; failures++) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof TransientFailure)) throw err;
      if (failures >= retries) throw new UrlSourceError(`${shown}: ${err.message}, ${failures + 1} attempts in a row; ${GIVE_UP_ADVICE}`);
      opts.onRetry?.(`${shown}: ${err.message}; retrying (${failures + 1} of ${retries})`);
      await delay((opts.retryDelayMs ?? 1000) * 2 ** failures);
    }
  }
}

const GIVE_UP_ADVICE = "check that the server is up and reachable from the machine that runs Pulumi, then run `pulumi up` again";

function contentLength(res: IncomingMessage, shown: string): number {
  const encoding = res.headers["content-encoding"];
  if (encoding && encoding !== "identity") {
    res.destroy();
    throw new UrlSourceError(`${shown}: the server sends the file ${encoding}-encoded; serve it as it is (no Content-Encoding)`);
  }
  const length = Number(res.headers["content-length"]);
  if (res.headers["content-length"] === undefined || !Number.isSafeInteger(length) || length < 0) {
    res.destroy();
    throw new UrlSourceError(
      `${shown}: the server sends no Content-Length, but the size must be known before the upload starts (libvirt's virStorageVolUpload takes it first); serve the file from a server that sends it (any static file server does)`,
    );
  }
  return length;
}

/** `bytes <first>-<last>/<total>` of a 206 answer; total undefined when the server says "*". */
function contentRange(res: IncomingMessage): { first: number; total?: number } | undefined {
  const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers["content-range"] ?? "");
  return m ? { first: Number(m[1]), total: m[2] === "*" ? undefined : Number(m[2]) } : undefined;
}

/**
 * The first `bytes` bytes of the file and its size, with a ranged GET (a server
 * that ignores Range sends it all: only the first bytes are read). For check: the
 * format, virtual size and references of the image before anything is created.
 */
export async function probeUrl(source: string, bytes: number, opts: UrlOptions = {}): Promise<{ head: Buffer; size: number }> {
  const shown = shownUrl(source);
  const url = parsed(source);
  const timeoutMs = timeoutOf(opts);
  return retrying(shown, opts, async () => {
    const { res } = await get(url, { Range: `bytes=0-${bytes - 1}` }, shown, timeoutMs);
    let size: number;
    if (res.statusCode === 206) {
      const range = contentRange(res);
      if (range?.total === undefined) {
        res.destroy();
        throw new UrlSourceError(
          `${shown}: the server does not say the file's size (Content-Range ${res.headers["content-range"]}); serve it with its size`,
        );
      }
      size = range.total;
    } else if (res.statusCode === 416) {
      res.destroy();
      return { head: Buffer.alloc(0), size: 0 }; // nothing at byte 0: an empty file
    } else if (res.statusCode === 200) size = contentLength(res, shown);
    else throw statusFailure(res, shown);
    const pieces: Buffer[] = [];
    let got = 0;
    try {
      for await (const piece of res as AsyncIterable<Buffer>) {
        pieces.push(piece);
        got += piece.length;
        if (got >= bytes) break;
      }
    } catch (err) {
      throw failureOf(err, shown, timeoutMs);
    } finally {
      res.destroy();
    }
    const head = Buffer.concat(pieces).subarray(0, bytes);
    if (head.length < Math.min(bytes, size)) throw new TransientFailure(`the connection closed after ${head.length} bytes`);
    return { head, size };
  });
}

export interface UrlDownload {
  /** Bytes the server announced (Content-Length): what the upload expects. */
  size: number;
  /** The body as it arrives, resumed after a drop; read it once. */
  chunks: AsyncIterable<Buffer>;
  /** The sha256 (hex) of the bytes read so far: of the whole file once `chunks` ended. */
  sha256(): string;
  /** Drops the connection (after a failure elsewhere, say). */
  close(): void;
}

/** An ETag a resume can be tied to (a weak one says nothing about bytes), else the Last-Modified date. */
function validatorOf(res: IncomingMessage): string | undefined {
  const etag = res.headers.etag;
  if (etag && !etag.startsWith("W/")) return etag;
  return res.headers["last-modified"];
}

/**
 * Starts the download: the first answer must be 200 with a Content-Length (else
 * an error, and nothing has been read). A connection that drops or stalls in the
 * body is resumed where it stopped with `Range: bytes=N-` (tied to the first
 * answer's ETag or Last-Modified with If-Range, so a file changed meanwhile is not
 * spliced), up to `retries` attempts in a row that bring no new byte.
 */
export async function openUrl(source: string, opts: UrlOptions = {}): Promise<UrlDownload> {
  const shown = shownUrl(source);
  const start = parsed(source);
  const timeoutMs = timeoutOf(opts);
  const retries = opts.retries ?? URL_RETRIES;
  const first = await retrying(shown, opts, async () => {
    const answer = await get(start, {}, shown, timeoutMs);
    if (answer.res.statusCode !== 200) throw statusFailure(answer.res, shown);
    return answer;
  });
  const size = contentLength(first.res, shown);
  const validator = validatorOf(first.res);
  const hash = createHash("sha256");
  let current: IncomingMessage | undefined = first.res;
  let received = 0;

  /** The answer to a resume, positioned at `received`: how many of its first bytes to skip. */
  async function resume(): Promise<number> {
    const headers: Record<string, string> = { Range: `bytes=${received}-` };
    if (validator) headers["If-Range"] = validator;
    const { res } = await get(first.url, headers, shown, timeoutMs);
    current = res;
    if (res.statusCode === 206) {
      const range = contentRange(res);
      if (range?.first !== received || (range.total !== undefined && range.total !== size))
        throw new UrlSourceError(
          `${shown}: the server resumed at the wrong place (Content-Range ${res.headers["content-range"]}, asked for byte ${received} of ${size})`,
        );
      return 0;
    }
    if (res.statusCode === 200) {
      // Range ignored, or If-Range said the file changed: only the same file, from its start, will do.
      if (validatorOf(res) !== validator || contentLength(res, shown) !== size)
        throw new UrlSourceError(`${shown}: the file changed on the server during the download; run \`pulumi up\` again`);
      return received;
    }
    throw statusFailure(res, shown);
  }

  async function* body(): AsyncGenerator<Buffer> {
    let failures = 0;
    let skip = 0;
    while (received < size) {
      try {
        if (!current) skip = await resume();
        for await (const raw of current as AsyncIterable<Buffer>) {
          let piece = raw;
          if (skip > 0) {
            const n = Math.min(skip, piece.length);
            skip -= n;
            piece = piece.subarray(n);
            if (piece.length === 0) continue;
          }
          if (received + piece.length > size) throw new UrlSourceError(`${shown}: the server sent more than the ${size} bytes it announced`);
          received += piece.length;
          hash.update(piece);
          failures = 0;
          yield piece;
        }
        current = undefined;
        if (received < size) throw new TransientFailure(`the connection closed after ${received} of ${size} bytes`);
      } catch (err) {
        current?.destroy();
        current = undefined;
        const f = failureOf(err, shown, timeoutMs);
        if (!(f instanceof TransientFailure)) throw f;
        if (failures >= retries)
          throw new UrlSourceError(`${shown}: ${f.message} at byte ${received} of ${size}, ${failures + 1} attempts in a row; ${GIVE_UP_ADVICE}`);
        failures++;
        opts.onRetry?.(`${shown}: ${f.message} at byte ${received} of ${size}; resuming from there (retry ${failures} of ${retries})`);
        await delay((opts.retryDelayMs ?? 1000) * 2 ** (failures - 1));
      }
    }
  }

  return {
    size,
    chunks: body(),
    sha256: () => hash.copy().digest("hex"),
    close: () => {
      current?.destroy();
      current = undefined;
    },
  };
}
