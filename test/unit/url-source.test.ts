// Issue 13 item 6: a Volume source given as an http(s) URL, against servers this
// test starts on 127.0.0.1 (port 0). url-source.ts on its own: the body streamed
// and hashed, a dropped or stalled connection resumed with Range, the errors for
// 404, a timeout, an untrusted certificate, no Content-Length, and credentials in
// the URL never repeated. Then the Volume check on a URL (the image judged from a
// ranged GET of its first bytes) and the new input sourceSha256.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { built, provider } from "../helpers/lib";
import { bytesHandler, selfSignedCert, serve, sha256, type Served } from "../helpers/http-source";

const { openUrl, probeUrl, shownUrl, UrlSourceError, URL_TIMEOUT_ENV } =
  built<typeof import("../../provider/volume/url-source")>("provider/volume/url-source");
const { coalesced } = built<typeof import("../../provider/libvirt/stream")>("provider/libvirt/stream");
const { urlCarriesCredentials } = built<typeof import("../../sdk/volume")>("sdk/volume");
const { volumeProvider } = provider;

const MiB = 1024 * 1024;
const data = randomBytes(3 * MiB + 123);
const fast = { retryDelayMs: 5, timeoutMs: 2000 };
const servers: Served[] = [];
const work = mkdtempSync(join(tmpdir(), "lvp-test-url-"));

async function started(...args: Parameters<typeof serve>): Promise<Served> {
  const s = await serve(...args);
  servers.push(s);
  return s;
}
afterEach(async () => {
  while (servers.length) await servers.pop()!.close();
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function readAll(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

async function failure(p: Promise<unknown>): Promise<Error> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(err, "expected a failure").toBeInstanceOf(Error);
  return err!;
}

describe("url-source: download", () => {
  it("streams the body with its size and sha256; coalesced into 1 MiB chunks", async () => {
    const s = await started(bytesHandler({ "/disk.img": data }));
    const d = await openUrl(`${s.base}/disk.img`, fast);
    expect(d.size).toBe(data.length);
    const sizes: number[] = [];
    const parts: Buffer[] = [];
    for await (const c of coalesced(d.chunks)) {
      sizes.push(c.length);
      parts.push(Buffer.from(c)); // a chunk is valid until the one after the next is read
    }
    expect(Buffer.concat(parts).equals(data)).toBe(true);
    expect(sizes).toEqual([MiB, MiB, MiB, 123]);
    expect(d.sha256()).toBe(sha256(data));
    expect(s.requests).toHaveLength(1);
  });

  it("resumes after a mid-body drop with Range and If-Range, and the bytes are still exact", async () => {
    const s = await started(bytesHandler({ "/disk.img": data }, { drop: [{ request: 0, after: MiB + 7 }] }));
    const retries: string[] = [];
    const d = await openUrl(`${s.base}/disk.img`, { ...fast, onRetry: (m) => retries.push(m) });
    const got = await readAll(d.chunks);
    expect(got.equals(data)).toBe(true);
    expect(d.sha256()).toBe(sha256(data));
    expect(s.requests).toHaveLength(2);
    expect(s.requests[1].range).toMatch(/^bytes=\d+-$/);
    const resumedAt = Number(/bytes=(\d+)-/.exec(s.requests[1].range!)![1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(MiB + 7);
    expect(s.requests[1].ifRange).toMatch(/^"[0-9a-f]{16}"$/);
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatch(/connection (dropped|closed).* at byte \d+ of 3145851; resuming from there \(retry 1 of 3\)/);
  });

  it("a server that ignores Range on the resume: the bytes already sent are skipped", async () => {
    const s = await started(bytesHandler({ "/disk.img": data }, { drop: [{ request: 0, after: 2 * MiB }], ignoreRange: true }));
    const d = await openUrl(`${s.base}/disk.img`, fast);
    expect((await readAll(d.chunks)).equals(data)).toBe(true);
    expect(s.requests).toHaveLength(2);
  });

  it("a connection that keeps dropping without a new byte: a clear error after the retries", async () => {
    // Every request after the first is cut before its first body byte.
    const s = await started(
      bytesHandler({ "/disk.img": data }, { drop: [0, 1, 2, 3, 4].map((request) => ({ request, after: request === 0 ? MiB : 0 })) }),
    );
    const retries: string[] = [];
    const d = await openUrl(`${s.base}/disk.img`, { ...fast, onRetry: (m) => retries.push(m) });
    const err = await failure(readAll(d.chunks));
    expect(err).toBeInstanceOf(UrlSourceError);
    expect(err.message).toMatch(
      /^http:\/\/127\.0\.0\.1:\d+\/disk\.img: the connection (dropped|closed).* at byte \d+ of 3145851, 4 attempts in a row; check that the server is up and reachable .* then run `pulumi up` again$/,
    );
    expect(retries).toHaveLength(3);
    expect(s.requests).toHaveLength(4);
  });

  it("404: the status and the URL, before any byte is read", async () => {
    const s = await started(bytesHandler({}));
    const err = await failure(openUrl(`${s.base}/nothing.qcow2`, fast));
    expect(err).toBeInstanceOf(UrlSourceError);
    expect(err.message).toBe(`${s.base}/nothing.qcow2: HTTP 404 Not Found: there is no file at that URL; check the URL`);
    const probed = await failure(probeUrl(`${s.base}/nothing.qcow2`, 65536, fast));
    expect(probed.message).toBe(err.message);
  });

  it("401: says the server wants credentials", async () => {
    const s = await started(bytesHandler({ "/disk.img": data }, { basicAuth: "alice:s3cret" }));
    const err = await failure(openUrl(`${s.base}/disk.img`, fast));
    expect(err.message).toMatch(/HTTP 401 Unauthorized: the server refuses access; give credentials it accepts in the URL/);
  });

  it("a timeout (the server accepts and never answers): named with the environment variable, after the retries", async () => {
    const held = new Set<Socket>();
    const silent = createServer((sock) => held.add(sock)); // accepts, says nothing
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    try {
      const port = (silent.address() as { port: number }).port;
      process.env[URL_TIMEOUT_ENV] = "150";
      const started = Date.now();
      const err = await failure(openUrl(`http://127.0.0.1:${port}/disk.img`, { retries: 1, retryDelayMs: 5 }));
      expect(err).toBeInstanceOf(UrlSourceError);
      expect(err.message).toBe(
        `http://127.0.0.1:${port}/disk.img: no data for 150 ms (LIBVIRT_PULUMI_URL_TIMEOUT_MS, default 30000), 2 attempts in a row; ` +
          "check that the server is up and reachable from the machine that runs Pulumi, then run `pulumi up` again",
      );
      expect(Date.now() - started).toBeGreaterThanOrEqual(300);
      process.env[URL_TIMEOUT_ENV] = "soon";
      expect((await failure(openUrl(`http://127.0.0.1:${port}/x`))).message).toBe(
        'LIBVIRT_PULUMI_URL_TIMEOUT_MS="soon" must be a whole number of milliseconds above 0',
      );
    } finally {
      delete process.env[URL_TIMEOUT_ENV];
      for (const sock of held) sock.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it("a body that stalls midway is resumed like a drop", async () => {
    let n = 0;
    const s = await started((req, res) => {
      if (n++ === 0) {
        res.writeHead(200, { "Content-Length": data.length }); // no ETag: the resume is not tied to one
        res.write(data.subarray(0, MiB)); // then silence
        return;
      }
      bytesHandler({ "/disk.img": data })(req, res);
    });
    const retries: string[] = [];
    const d = await openUrl(`${s.base}/disk.img`, { timeoutMs: 200, retryDelayMs: 5, onRetry: (m) => retries.push(m) });
    expect((await readAll(d.chunks)).equals(data)).toBe(true);
    expect(retries[0]).toMatch(/no data for 200 ms .* at byte 1048576 of 3145851; resuming from there/);
  });

  it("a self-signed certificate: TLS certificate verify failed, and what to do", async () => {
    const s = await started(bytesHandler({ "/disk.img": data }), selfSignedCert());
    expect(s.base).toMatch(/^https:/);
    const err = await failure(openUrl(`${s.base}/disk.img`, fast));
    expect(err).toBeInstanceOf(UrlSourceError);
    expect(err.message).toMatch(
      /^https:\/\/127\.0\.0\.1:\d+\/disk\.img: TLS failed: certificate verify failed \(DEPTH_ZERO_SELF_SIGNED_CERT: self[- ]signed certificate[^)]*\); the machine that runs Pulumi does not trust the server's certificate: .*NODE_EXTRA_CA_CERTS=\/path\/to\/ca\.pem.*sourceSha256/,
    );
    expect(s.requests).toHaveLength(0); // refused in the handshake: no request was sent
  });

  it("the advice works: with NODE_EXTRA_CA_CERTS naming the certificate, a fresh process downloads over https", async () => {
    const tls = selfSignedCert();
    const s = await started(bytesHandler({ "/disk.img": data }), tls);
    const ca = join(work, "ca.pem");
    writeFileSync(ca, tls.cert);
    const modulePath = join(__dirname, "../../dist/provider/volume/url-source.js");
    const script = `
      const { openUrl } = require(${JSON.stringify(modulePath)});
      (async () => {
        const d = await openUrl(${JSON.stringify(`${s.base}/disk.img`)});
        for await (const _ of d.chunks);
        process.stdout.write(d.sha256());
      })().catch((e) => { console.error(e.message); process.exit(1); });`;
    const child = spawn(process.execPath, ["-e", script], { env: { ...process.env, NODE_EXTRA_CA_CERTS: ca }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let errText = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (errText += d));
    const code = await new Promise<number>((resolve) => child.on("close", resolve));
    expect(code, errText).toBe(0);
    expect(out).toBe(sha256(data));
  });

  it("https to a plain-HTTP port: the handshake failure says so", async () => {
    const s = await started(bytesHandler({ "/disk.img": data }));
    const err = await failure(openUrl(`${s.base.replace("http:", "https:")}/disk.img`, fast));
    expect(err.message).toMatch(/: the TLS handshake failed \(.*\); is the server speaking https on that port\?/);
  });

  it("no Content-Length: refused, saying why the size must be known", async () => {
    const s = await started(bytesHandler({ "/disk.img": data }, { noLength: true }));
    const err = await failure(openUrl(`${s.base}/disk.img`, fast));
    expect(err.message).toMatch(/: the server sends no Content-Length, but the size must be known before the upload starts/);
  });

  it("a ranged GET reads the first bytes and the size; a server that ignores Range is read only as far as needed", async () => {
    for (const ignoreRange of [false, true]) {
      const s = await started(bytesHandler({ "/disk.img": data }, { ignoreRange }));
      const { head, size } = await probeUrl(`${s.base}/disk.img`, 65536, fast);
      expect(size).toBe(data.length);
      expect(head.equals(data.subarray(0, 65536))).toBe(true);
      expect(s.requests[0].range).toBe("bytes=0-65535");
    }
  });

  it("follows a redirect; credentials go along only to the same origin", async () => {
    const other = await started(bytesHandler({ "/disk.img": data }));
    const s = await started((req, res) => {
      if (req.url === "/same") res.writeHead(302, { Location: "/disk.img" }).end();
      else if (req.url === "/away") res.writeHead(302, { Location: `${other.base}/disk.img` }).end();
      else bytesHandler({ "/disk.img": data }, { basicAuth: "alice:s3cret" })(req, res);
    });
    const withCreds = s.base.replace("http://", "http://alice:s3cret@");
    expect((await readAll((await openUrl(`${withCreds}/same`, fast)).chunks)).equals(data)).toBe(true);
    expect(s.requests.map((r) => r.authorization)).toEqual([expect.stringMatching(/^Basic /), expect.stringMatching(/^Basic /)]);
    expect((await readAll((await openUrl(`${withCreds}/away`, fast)).chunks)).equals(data)).toBe(true);
    expect(other.requests[0].authorization).toBeUndefined();
  });
});

describe("url-source: credentials in the URL", () => {
  const SECRET = "s3cretPw";

  it("are sent as Basic auth, and never appear in an error or a retry line", async () => {
    const s = await started(bytesHandler({ "/disk.img": data }, { basicAuth: `alice:${SECRET}`, drop: [{ request: 0, after: MiB }] }));
    const url = s.base.replace("http://", `http://alice:${SECRET}@`);
    const retries: string[] = [];
    const d = await openUrl(`${url}/disk.img`, { ...fast, onRetry: (m) => retries.push(m) });
    expect((await readAll(d.chunks)).equals(data)).toBe(true);
    expect(retries).toHaveLength(1);
    expect(retries[0]).toContain("alice:***@127.0.0.1");
    expect(retries[0]).not.toContain(SECRET);
    const missing = await failure(openUrl(`${url}/missing.img`, fast));
    expect(missing.message).toContain(`http://alice:***@127.0.0.1`);
    expect(missing.message).not.toContain(SECRET);
  });

  it.each([
    ["user:password", `https://alice:${SECRET}@h/x.img`, "https://alice:***@h/x.img"],
    ["a token as the user", `https://${SECRET}@h/x.img`, "https://***@h/x.img"],
    ["a token parameter", `https://h/x.img?token=${SECRET}`, "https://h/x.img?token=***"],
    ["a pre-signed URL's signature", `https://h/x.img?X-Amz-Signature=${SECRET}&X-Amz-Date=1`, "https://h/x.img?X-Amz-Signature=***&X-Amz-Date=1"],
    ["a percent-encoded password", `https://alice:p%40${SECRET}@h/x.img`, "https://alice:***@h/x.img"],
  ])("shownUrl hides %s; the SDK makes such a source a secret", (_label, url, shown) => {
    expect(shownUrl(url)).toBe(shown);
    expect(urlCarriesCredentials(url)).toBe(true);
  });

  it("a URL without credentials is shown as it is and stays plain in the SDK", () => {
    expect(shownUrl("https://h:8443/images/x.img?v=2")).toBe("https://h:8443/images/x.img?v=2");
    expect(urlCarriesCredentials("https://h:8443/images/x.img?v=2")).toBe(false);
    expect(urlCarriesCredentials("/var/tmp/user:pw@x.img")).toBe(false);
  });

  it("a check failure for a URL with a password does not repeat it", async () => {
    const s = await started(bytesHandler({}));
    const url = s.base.replace("http://", `http://alice:${SECRET}@`);
    const checked = await volumeProvider.check!({}, { name: "a.qcow2", pool: "p", uri: "test:///default", source: `${url}/gone.qcow2` });
    expect(checked.failures).toEqual([
      {
        property: "source",
        reason: `http://alice:***@${s.base.slice(7)}/gone.qcow2: HTTP 404 Not Found: there is no file at that URL; check the URL`,
      },
    ]);
    expect(JSON.stringify(checked.failures)).not.toContain(SECRET);
  });
});

describe("Volume check with a URL source", () => {
  let qcow2: Buffer;
  let backed: Buffer;
  beforeAll(() => {
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", join(work, "small.qcow2"), "24M"]);
    qcow2 = readFileSync(join(work, "small.qcow2"));
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", "-F", "raw", "-b", "/etc/hostname", join(work, "backed.qcow2")]);
    backed = readFileSync(join(work, "backed.qcow2"));
  });
  const vol = (source: string, extra: Record<string, unknown> = {}) => ({ name: "a.img", pool: "p", uri: "test:///default", source, ...extra });

  it("takes the format and capacity from the image's first bytes (a ranged GET)", async () => {
    const s = await started(bytesHandler({ "/small.qcow2": qcow2, "/disk.raw": data }));
    const q = await volumeProvider.check!({}, vol(`${s.base}/small.qcow2`));
    expect(q.failures).toEqual([]);
    expect(q.inputs).toMatchObject({ format: "qcow2", source: `${s.base}/small.qcow2` });
    expect(s.requests).toEqual([expect.objectContaining({ path: "/small.qcow2", range: "bytes=0-65535" })]);
    const small = await volumeProvider.check!({}, vol(`${s.base}/small.qcow2`, { capacity: "16MiB" }));
    expect(small.failures).toEqual([
      { property: "capacity", reason: "16 MiB is smaller than the source image (24 MiB); leave capacity out to use the image's size" },
    ]);
    const r = await volumeProvider.check!({}, vol(`${s.base}/disk.raw`));
    expect(r.inputs).toMatchObject({ format: "raw" });
  });

  it("refuses a served qcow2 that names a backing file, as for a local file", async () => {
    const s = await started(bytesHandler({ "/backed.qcow2": backed }));
    const checked = await volumeProvider.check!({}, vol(`${s.base}/backed.qcow2`));
    expect(checked.failures).toEqual([
      {
        property: "source",
        reason: expect.stringMatching(
          /^http:\/\/127\.0\.0\.1:\d+\/backed\.qcow2 is a qcow2 image whose header names a backing file \("\/etc\/hostname"\)/,
        ),
      },
    ]);
  });

  it("an unchanged URL is not fetched again (no request on a second check or diff)", async () => {
    const s = await started(bytesHandler({ "/small.qcow2": qcow2 }));
    const first = await volumeProvider.check!({}, vol(`${s.base}/small.qcow2`));
    expect(s.requests).toHaveLength(1);
    const saved = { ...first.inputs, key: "/p/a.img", path: "/p/a.img", capacity: 24 * MiB };
    const again = await volumeProvider.check!(saved, vol(`${s.base}/small.qcow2`));
    expect(again.failures).toEqual([]);
    const diff = await volumeProvider.diff!("/p/a.img", saved, again.inputs);
    expect(diff.changes).toBe(false);
    expect(s.requests).toHaveLength(1);
    await s.close();
    // The server gone: still no change, as nothing is fetched.
    expect((await volumeProvider.diff!("/p/a.img", saved, again.inputs)).changes).toBe(false);
    servers.pop();
  });

  it("a changed URL or sourceSha256 replaces the volume", async () => {
    const s = await started(bytesHandler({ "/small.qcow2": qcow2, "/other.qcow2": qcow2 }));
    const sha = sha256(qcow2);
    const first = await volumeProvider.check!({}, vol(`${s.base}/small.qcow2`, { sourceSha256: sha }));
    expect(first.failures).toEqual([]);
    const saved = { ...first.inputs, key: "/p/a.img", path: "/p/a.img", capacity: 24 * MiB };
    const otherUrl = await volumeProvider.diff!("/p/a.img", saved, vol(`${s.base}/other.qcow2`, { sourceSha256: sha }));
    expect(otherUrl).toMatchObject({ changes: true, replaces: ["source"] });
    const otherSha = await volumeProvider.diff!("/p/a.img", saved, vol(`${s.base}/small.qcow2`, { sourceSha256: "0".repeat(64) }));
    expect(otherSha).toMatchObject({ changes: true, replaces: ["sourceSha256"] });
    // The same checksum in capitals is no change.
    const upper = await volumeProvider.diff!("/p/a.img", saved, vol(`${s.base}/small.qcow2`, { sourceSha256: sha.toUpperCase() }));
    expect(upper.changes).toBe(false);
  });

  it.each([
    [
      { source: "ftp://127.0.0.1/x.img" },
      "source",
      "source URLs must be http:// or https://; anything else must be an absolute path of a local file",
    ],
    [{ source: "http://" }, "source", "source is not a valid URL (an http:// or https:// URL, or an absolute path of a local file)"],
    [{ source: "relative/x.img" }, "source", "source must be an absolute path (or an http:// or https:// URL)"],
    [
      { source: "/x.img", sourceSha256: "abc" },
      "sourceSha256",
      "sourceSha256 must be 64 hexadecimal digits: the sha256 of the source's bytes, as `sha256sum` prints it",
    ],
    [{ capacity: "1MiB", sourceSha256: "a".repeat(64) }, "sourceSha256", "only applies together with source (the bytes it is the checksum of)"],
  ])("refuses %j", async (inputs, property, reason) => {
    const checked = await volumeProvider.check!({}, { name: "a.img", pool: "p", uri: "test:///default", ...inputs });
    expect(checked.failures).toContainEqual({ property, reason });
  });
});

// A server that is closed while its address is kept: connection refused.
it("connection refused names the URL and what to check", async () => {
  const s = await started(bytesHandler({}));
  const base = s.base;
  await s.close();
  servers.pop();
  const err = await failure(openUrl(`${base}/x.img`, fast));
  expect(err.message).toBe(`${base}/x.img: connection refused; is the server running and the port right?`);
});
