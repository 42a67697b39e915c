// A loopback HTTP(S) server for Volume URL sources: 127.0.0.1, port 0 (the
// kernel picks one), nothing else is ever contacted. `serveBytes` answers GET
// like a static file server (Content-Length, ETag, Range → 206); its `drop`
// option cuts the connection after some bytes of a chosen request, so a test can
// watch the provider resume.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import http, { type IncomingMessage, type RequestListener, type ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Served {
  /** http(s)://127.0.0.1:<port> */
  base: string;
  /** The requests seen, in order: method, path and the headers that matter here. */
  requests: Array<{ path: string; range?: string; ifRange?: string; authorization?: string }>;
  close(): Promise<void>;
}

/** Serves `handler` on 127.0.0.1 (https when a key and certificate are given). */
export async function serve(handler: RequestListener, tls?: { key: Buffer; cert: Buffer }): Promise<Served> {
  const requests: Served["requests"] = [];
  const record: RequestListener = (req, res) => {
    requests.push({
      path: req.url ?? "",
      range: req.headers.range,
      ifRange: req.headers["if-range"] as string | undefined,
      authorization: req.headers.authorization,
    });
    handler(req, res);
  };
  const server = tls ? https.createServer(tls, record) : http.createServer(record);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `${tls ? "https" : "http"}://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface ServeBytesOptions {
  /** Cut request number `request` (0-based) after `after` bytes of its body. */
  drop?: Array<{ request: number; after: number }>;
  /** Ignore Range (answer 200 with everything), as some servers do. */
  ignoreRange?: boolean;
  /** Send the body chunked, without Content-Length. */
  noLength?: boolean;
  /** Basic credentials the server demands ("user:password"). */
  basicAuth?: string;
}

const ETAG = (data: Buffer) => `"${createHash("sha256").update(data).digest("hex").slice(0, 16)}"`;

/** A static-file handler for `files` (path → bytes); 404 for anything else. */
export function bytesHandler(files: Record<string, Buffer>, opts: ServeBytesOptions = {}): RequestListener {
  let count = 0;
  return (req: IncomingMessage, res: ServerResponse) => {
    const n = count++;
    if (opts.basicAuth && req.headers.authorization !== `Basic ${Buffer.from(opts.basicAuth).toString("base64")}`) {
      res.writeHead(401, { "WWW-Authenticate": 'Basic realm="images"' }).end();
      return;
    }
    const data = files[new URL(req.url ?? "/", "http://x").pathname];
    if (!data) {
      res.writeHead(404).end("not found");
      return;
    }
    let start = 0;
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    const headers: Record<string, string | number> = { ETag: ETAG(data), "Accept-Ranges": "bytes" };
    let end = data.length;
    if (m && !opts.ignoreRange && (!req.headers["if-range"] || req.headers["if-range"] === ETAG(data))) {
      start = Number(m[1]);
      end = m[2] ? Math.min(Number(m[2]) + 1, data.length) : data.length;
      if (start >= data.length) {
        res.writeHead(416, { "Content-Range": `bytes */${data.length}` }).end();
        return;
      }
      headers["Content-Range"] = `bytes ${start}-${end - 1}/${data.length}`;
    }
    if (!opts.noLength) headers["Content-Length"] = end - start;
    res.writeHead(headers["Content-Range"] ? 206 : 200, headers);
    const cut = opts.drop?.find((d) => d.request === n);
    if (cut) {
      res.write(data.subarray(start, Math.min(end, start + cut.after)), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    res.end(data.subarray(start, end));
  };
}

/**
 * Serves one file from disk, streamed (a large image is never held in this
 * process's memory either), with Content-Length and Range; 404 for other paths.
 */
export function fileHandler(path: string, file: string): RequestListener {
  return (req, res) => {
    if (new URL(req.url ?? "/", "http://x").pathname !== path) {
      res.writeHead(404).end("not found");
      return;
    }
    const size = statSync(file).size;
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    const start = m ? Number(m[1]) : 0;
    const end = m?.[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
    const headers: Record<string, string | number> = { "Content-Length": end - start + 1, "Accept-Ranges": "bytes" };
    if (m) headers["Content-Range"] = `bytes ${start}-${end}/${size}`;
    res.writeHead(m ? 206 : 200, headers);
    createReadStream(file, { start, end }).pipe(res);
  };
}

/** A throw-away self-signed certificate for 127.0.0.1, made with openssl in a temp dir. */
export function selfSignedCert(): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), "lvp-test-tls-"));
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
      ],
      { stdio: "ignore" },
    );
    return { key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const sha256 = (data: Buffer): string => createHash("sha256").update(data).digest("hex");
