// Issue 13 item 6: a Volume from an http(s) URL on qemu:///system, served by
// this test on 127.0.0.1 (the provider downloads; libvirtd only receives the
// upload). qemu-img, `virsh vol-download` and `virsh vol-list` say independently
// what the volume holds, and that a wrong checksum, a 404 or a connection that
// keeps dropping leaves no volume behind.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { provider } from "../helpers/lib";
import { failing } from "../helpers/failure";
import { QEMU_URI, makeImageDir, removePool, uniqueName, virsh, volumeNames } from "../helpers/host";
import { bytesHandler, fileHandler, serve, sha256, type Served } from "../helpers/http-source";
import { measuredVolumeCreate, rssReport } from "../helpers/provider-rss";

const { poolProvider, volumeProvider } = provider;
const MiB = 1024 * 1024;
const src = makeImageDir("url-src");
const poolDir = makeImageDir("url-pool");
let pool: string;
const servers: Served[] = [];

beforeAll(async () => {
  pool = uniqueName("url");
  const checked = await poolProvider.check!({}, { name: pool, path: poolDir.dir, uri: QEMU_URI });
  await poolProvider.create!(checked.inputs);
});
afterEach(async () => {
  while (servers.length) await servers.pop()!.close();
});
afterAll(async () => {
  await provider.closeAllConnections();
  removePool(QEMU_URI, pool);
  src.remove();
  poolDir.remove();
});

async function started(...args: Parameters<typeof serve>): Promise<Served> {
  const s = await serve(...args);
  servers.push(s);
  return s;
}

const volNames = () => volumeNames(QEMU_URI, pool);
type Outs = Record<string, unknown> & { path: string; name: string };

async function makeVolume(name: string, extra: Record<string, unknown>): Promise<{ id: string; outs: Outs; inputs: Record<string, unknown> }> {
  const checked = await volumeProvider.check!({}, { name, pool, uri: QEMU_URI, ...extra });
  expect(checked.failures).toEqual([]);
  const { id, outs } = await volumeProvider.create!(checked.inputs);
  return { id, outs: outs as Outs, inputs: checked.inputs };
}

/** The volume's bytes as libvirt hands them out (virsh vol-download), hashed. */
function downloadedSha256(name: string): string {
  const out = join(src.dir, `${name}.downloaded`);
  try {
    virsh(QEMU_URI, "vol-download", "--pool", pool, name, out);
    return sha256(readFileSync(out));
  } finally {
    rmSync(out, { force: true });
  }
}

/** A raw image with a distinct pattern in every MiB. */
function rawImage(mib: number): Buffer {
  const b = Buffer.alloc(mib * MiB);
  for (let i = 0; i < mib; i++) b.write(`MiB ${i} of the test image `.repeat(8), i * MiB);
  return b;
}

describe("Volume from a URL", () => {
  it("a qcow2 served on loopback becomes a qcow2 volume identical to it (qemu-img compare); refresh and diff fetch nothing", async () => {
    const file = src.qcow2("served.qcow2", 16);
    execFileSync("qemu-io", ["-c", "write -P 0x5a 0 1M", "-c", "write -P 0xa5 9M 2M", file]);
    const s = await started(bytesHandler({ "/images/served.qcow2": readFileSync(file) }));
    const url = `${s.base}/images/served.qcow2`;
    const v = await makeVolume("from-url.qcow2", { source: url });
    expect(v.outs).toMatchObject({ format: "qcow2", capacity: 16 * MiB, source: url });
    expect(virsh(QEMU_URI, "vol-dumpxml", "--pool", pool, "from-url.qcow2")).toMatch(/<format type='qcow2'\/>/);
    expect(execFileSync("qemu-img", ["compare", "-U", "-f", "qcow2", "-F", "qcow2", file, v.outs.path], { encoding: "utf8" })).toMatch(/identical/);

    const fetched = s.requests.length;
    const read = await volumeProvider.read!(v.id, v.outs);
    expect(read.props).toMatchObject({ source: url, format: "qcow2" });
    const again = await volumeProvider.check!(read.props, { name: "from-url.qcow2", pool, uri: QEMU_URI, source: url });
    expect((await volumeProvider.diff!(v.id, read.props, again.inputs)).changes).toBe(false);
    expect(s.requests.length).toBe(fetched); // nothing downloaded again
    await volumeProvider.delete!(v.id, v.outs);
    expect(volNames()).not.toContain("from-url.qcow2");
  });

  it("a raw image with the right sourceSha256: the volume's bytes (virsh vol-download) are the source's", async () => {
    const raw = rawImage(5);
    const s = await started(bytesHandler({ "/disk.raw": raw }));
    const v = await makeVolume("from-url.raw", { source: `${s.base}/disk.raw`, sourceSha256: sha256(raw).toUpperCase() });
    expect(v.outs).toMatchObject({ format: "raw", capacity: 5 * MiB });
    expect(downloadedSha256("from-url.raw")).toBe(sha256(raw));
    await volumeProvider.delete!(v.id, v.outs);
  });

  it("a wrong sourceSha256 leaves nothing: the error says what to do, virsh lists no volume", async () => {
    const raw = rawImage(3);
    const s = await started(bytesHandler({ "/disk.raw": raw }));
    const wrong = "0".repeat(64);
    const checked = await volumeProvider.check!({}, { name: "bad-sum.raw", pool, uri: QEMU_URI, source: `${s.base}/disk.raw`, sourceSha256: wrong });
    expect(checked.failures).toEqual([]);
    const { err } = await failing(() => volumeProvider.create!(checked.inputs));
    expect(err.message).toBe(
      `source ${s.base}/disk.raw: its bytes have sha256 ${sha256(raw)}, but sourceSha256 is ${wrong}: not the image expected (changed on the server, ` +
        "damaged in transit, or the wrong file or checksum); check both, then run `pulumi up` again (the partly created volume was removed)",
    );
    expect(volNames()).not.toContain("bad-sum.raw");
    expect(existsSync(join(poolDir.dir, "bad-sum.raw"))).toBe(false);
  });

  it("a 404 (the file gone between check and create) leaves nothing", async () => {
    const files: Record<string, Buffer> = { "/disk.raw": rawImage(1) };
    const s = await started(bytesHandler(files));
    const checked = await volumeProvider.check!({}, { name: "gone.raw", pool, uri: QEMU_URI, source: `${s.base}/disk.raw` });
    expect(checked.failures).toEqual([]);
    delete files["/disk.raw"];
    const { err } = await failing(() => volumeProvider.create!(checked.inputs));
    expect(err.message).toBe(`invalid Volume inputs: source ${s.base}/disk.raw: HTTP 404 Not Found: there is no file at that URL; check the URL`);
    expect(volNames()).not.toContain("gone.raw");
  });

  it("a server that answers check's ranged GET but never the download: a timeout, after the retries, and nothing was created", async () => {
    const raw = rawImage(2);
    const answer = bytesHandler({ "/disk.raw": raw });
    const s = await started((req, res) => {
      if (req.headers.range) answer(req, res); // the probes; the download itself gets silence
    });
    process.env.LIBVIRT_PULUMI_URL_TIMEOUT_MS = "300";
    try {
      const checked = await volumeProvider.check!({}, { name: "stalled.raw", pool, uri: QEMU_URI, source: `${s.base}/disk.raw` });
      expect(checked.failures).toEqual([]);
      const { err } = await failing(() => volumeProvider.create!(checked.inputs));
      expect(err.message).toBe(
        `invalid Volume input source: ${s.base}/disk.raw: no data for 300 ms (LIBVIRT_PULUMI_URL_TIMEOUT_MS, default 30000), 4 attempts in a row; ` +
          "check that the server is up and reachable from the machine that runs Pulumi, then run `pulumi up` again (nothing was created)",
      );
    } finally {
      delete process.env.LIBVIRT_PULUMI_URL_TIMEOUT_MS;
    }
    expect(volNames()).not.toContain("stalled.raw");
  });

  it("a dropped connection is resumed: the volume is whole", async () => {
    const raw = rawImage(6);
    const s = await started(bytesHandler({ "/disk.raw": raw }, { drop: [{ request: 2, after: 2 * MiB + 5 }] }));
    const v = await makeVolume("resumed.raw", { source: `${s.base}/disk.raw`, sourceSha256: sha256(raw) });
    // check's probe, create's probe, the download, its resume.
    expect(s.requests.map((r) => r.range)).toEqual(["bytes=0-65535", "bytes=0-65535", undefined, expect.stringMatching(/^bytes=\d+-$/)]);
    expect(downloadedSha256("resumed.raw")).toBe(sha256(raw));
    await volumeProvider.delete!(v.id, v.outs);
  });

  it("a connection that keeps dropping: after the retries, no volume, and the password in the URL is shown nowhere", async () => {
    const PASSWORD = "Url-s3cret";
    const raw = rawImage(4);
    // The download's first answer is cut after 1 MiB, and every resume before its first byte.
    const drop = [2, 3, 4, 5].map((request) => ({ request, after: request === 2 ? MiB : 0 }));
    const s = await started(bytesHandler({ "/disk.raw": raw }, { drop, basicAuth: `alice:${PASSWORD}` }));
    const url = s.base.replace("http://", `http://alice:${PASSWORD}@`) + "/disk.raw";
    const printed: string[] = [];
    const spy = vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void printed.push(a.join(" ")));
    try {
      const checked = await volumeProvider.check!({}, { name: "dropping.raw", pool, uri: QEMU_URI, source: url });
      expect(checked.failures).toEqual([]);
      const { err } = await failing(() => volumeProvider.create!(checked.inputs));
      expect(err.message).toMatch(
        /^source http:\/\/alice:\*\*\*@127\.0\.0\.1:\d+\/disk\.raw: the connection (dropped|closed).* at byte 1048576 of 4194304, 4 attempts in a row; check that the server is up and reachable from the machine that runs Pulumi, then run `pulumi up` again \(the partly created volume was removed\)$/,
      );
      expect(err.message + (err.stack ?? "")).not.toContain(PASSWORD);
    } finally {
      spy.mockRestore();
    }
    expect(printed.filter((l) => /resuming from there \(retry \d of 3\)/.test(l))).toHaveLength(3);
    expect(printed.join("\n")).not.toContain(PASSWORD);
    expect(volNames()).not.toContain("dropping.raw");
  });

  it("a 256 MiB sparse raw image from a URL: streamed, the provider process' RSS stays flat", async () => {
    const file = join(src.dir, "big.raw");
    writeFileSync(file, "start of the big image\n");
    truncateSync(file, 256 * MiB); // sparse: the rest reads as zeros
    const h = createHash("sha256");
    for await (const c of createReadStream(file)) h.update(c as Buffer);
    const sum = h.digest("hex");
    const s = await started(fileHandler("/big.raw", file));

    const r = await measuredVolumeCreate(QEMU_URI, { name: "big.raw", pool, uri: QEMU_URI, source: `${s.base}/big.raw`, sourceSha256: sum });
    console.log(rssReport("URL source 256 MiB", r));
    expect(r.peak - r.base).toBeLessThan(64 * MiB);
    const percents = [...r.stderr.matchAll(/downloading http:\/\/127\.0\.0\.1:\d+\/big\.raw to volume "big\.raw": (\d+)%/g)].map((m) => Number(m[1]));
    expect(percents).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    expect(r.outs).toMatchObject({ format: "raw", capacity: 256 * MiB });
    expect(virsh(QEMU_URI, "vol-info", "--pool", pool, "big.raw")).toMatch(/Capacity:\s+256\.00 MiB/);
    const got = createHash("sha256");
    for await (const c of createReadStream(r.outs.path)) got.update(c as Buffer);
    expect(got.digest("hex")).toBe(sum);
    await volumeProvider.delete!(r.id, r.outs);
    expect(volNames()).not.toContain("big.raw");
  });
});
