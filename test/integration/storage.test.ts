// Pools and volumes on qemu:///system. The providers act; virsh, qemu-img and
// the file system say independently what happened.
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  createReadStream,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { built, provider } from "../helpers/lib";
import { measuredVolumeCreate, rssReport } from "../helpers/provider-rss";
import { createDomain, defineDomainByHand } from "../helpers/domains";
import { QEMU_URI, domainNames, domainState, qcow2Snapshots, removeDomain, removePool, uniqueName, virsh, volumeNames } from "../helpers/host";

const { poolProvider, volumeProvider, domainProvider } = provider;
const { withPool } = built<typeof import("../../provider/libvirt/storage")>("provider/libvirt/storage");
const { internalSnapshots } = built<typeof import("../../provider/storage/image-probe")>("provider/storage/image-probe");
const IMAGES = "/var/lib/libvirt/images";
const MiB = 1024 * 1024;

// What the tests made, removed with virsh at the end whatever the providers did.
const made = { pools: new Set<string>(), dirs: new Set<string>(), domains: new Set<string>() };

afterAll(async () => {
  await provider.closeAllConnections();
  for (const d of made.domains) {
    removeDomain(QEMU_URI, d);
  }
  for (const p of made.pools) {
    removePool(QEMU_URI, p);
  }
  for (const dir of made.dirs) rmSync(dir, { recursive: true, force: true });
});

// Independent views.
const poolNames = () =>
  virsh(QEMU_URI, "pool-list", "--all", "--name")
    .split("\n")
    .map((s) => s.trim())
    .filter(Boolean);
const poolState = (name: string) => /State:\s+(\w+)/.exec(virsh(QEMU_URI, "pool-info", name))?.[1];
const volNames = (pool: string) => volumeNames(QEMU_URI, pool);
interface ImgInfo {
  format: string;
  "virtual-size": number;
  "backing-filename"?: string;
  "backing-filename-format"?: string;
  snapshots?: Array<{ name: string }>;
}
const imgInfo = (path: string) => JSON.parse(execFileSync("qemu-img", ["info", "-U", "--output=json", path], { encoding: "utf8" })) as ImgInfo;

function newDir(label: string, create: boolean): string {
  const dir = join(IMAGES, uniqueName(label));
  made.dirs.add(dir);
  if (create) {
    mkdirSync(dir);
    chmodSync(dir, 0o755);
  }
  return dir;
}

type Outs = Record<string, unknown> & { path: string; name: string };
interface Made {
  id: string;
  outs: Outs;
  inputs: Record<string, unknown>;
}

async function makePool(label: string, dir: string, extra: Record<string, unknown> = {}): Promise<Made> {
  const name = uniqueName(label);
  made.pools.add(name);
  const checked = await poolProvider.check!({}, { name, path: dir, uri: QEMU_URI, ...extra });
  expect(checked.failures).toEqual([]);
  const { id, outs } = await poolProvider.create!(checked.inputs);
  return { id, outs: outs as Outs, inputs: checked.inputs };
}

async function makeVolume(pool: string, name: string, extra: Record<string, unknown>): Promise<Made> {
  const checked = await volumeProvider.check!({}, { name, pool, uri: QEMU_URI, ...extra });
  expect(checked.failures).toEqual([]);
  const { id, outs } = await volumeProvider.create!(checked.inputs);
  return { id, outs: outs as Outs, inputs: checked.inputs };
}

async function makeDomain(label: string, disk: string, extra: Record<string, unknown> = {}): Promise<Made & { name: string }> {
  const { id, outs, inputs, name } = await createDomain(label, { disks: [{ file: disk, format: "qcow2" }], ...extra }, made.domains);
  return { id, outs: outs as Outs, inputs, name };
}

describe("Pool", () => {
  it("create / refresh / delete on an existing directory keeps it and the foreign file in it", async () => {
    const dir = newDir("pool-foreign", true);
    writeFileSync(join(dir, "foreign.txt"), "not made by the stack\n");
    const p = await makePool("pool-foreign", dir);
    const name = p.outs.name;
    expect(poolState(name)).toBe("running");
    expect(p.outs).toMatchObject({ path: dir, active: true, createdDirectory: false, preexistingFiles: ["foreign.txt"], volumes: ["foreign.txt"] });

    // Refresh notices a file added and the pool stopped outside Pulumi; an update starts it again.
    writeFileSync(join(dir, "later.iso"), "x");
    const refreshed = await poolProvider.read!(p.id, p.outs);
    expect(refreshed.props).toMatchObject({ volumes: ["foreign.txt", "later.iso"], active: true });
    rmSync(join(dir, "later.iso"));
    virsh(QEMU_URI, "pool-destroy", name);
    const stopped = await poolProvider.read!(p.id, p.outs);
    expect(stopped.props).toMatchObject({ active: false, volumes: [] });
    expect((await poolProvider.diff!(p.id, stopped.props, p.inputs)).changes).toBe(true);
    const { outs } = await poolProvider.update!(p.id, stopped.props, { ...p.inputs, autostart: true });
    expect(outs).toMatchObject({ active: true, autostart: true, volumes: ["foreign.txt"] });
    expect(poolState(name)).toBe("running");
    expect(virsh(QEMU_URI, "pool-info", name)).toMatch(/Autostart:\s+yes/);

    await poolProvider.delete!(p.id, outs);
    expect(poolNames()).not.toContain(name);
    expect(readdirSync(dir)).toEqual(["foreign.txt"]);
    expect(readFileSync(join(dir, "foreign.txt"), "utf8")).toBe("not made by the stack\n");
  });

  it("a directory the pool's build made is removed with it; read notices a pool removed outside Pulumi", async () => {
    const dir = newDir("pool-new", false);
    const p = await makePool("pool-new", dir);
    expect(p.outs).toMatchObject({ createdDirectory: true, preexistingFiles: [] });
    expect(existsSync(dir)).toBe(true);
    await poolProvider.delete!(p.id, p.outs);
    expect(poolNames()).not.toContain(p.outs.name);
    expect(existsSync(dir)).toBe(false);

    const gone = await makePool("pool-gone", newDir("pool-gone", false));
    virsh(QEMU_URI, "pool-destroy", gone.outs.name);
    virsh(QEMU_URI, "pool-undefine", gone.outs.name);
    expect((await poolProvider.read!(gone.id, gone.outs)).id).toBeUndefined();
    await expect(poolProvider.delete!(gone.id, gone.outs)).resolves.toBeUndefined();
  });

  it("delete is refused while the pool holds volumes, naming them; deleteVolumesOnDestroy deletes them (overlay first), never a pre-existing file", async () => {
    const dir = newDir("pool-held", true);
    writeFileSync(join(dir, "mine.txt"), "kept");
    const p = await makePool("pool-held", dir);
    const base = await makeVolume(p.outs.name, "base.qcow2", { capacity: "16MiB" });
    await makeVolume(p.outs.name, "top.qcow2", { backingVolume: base.outs.path });

    await expect(poolProvider.delete!(p.id, p.outs)).rejects.toThrow(
      /refusing to delete storage pool .*nothing was changed.*holds 2 volumes \("base.qcow2", "top.qcow2"\).*deleteVolumesOnDestroy: true.*the 1 file that was in the directory before the pool was created is kept/,
    );
    expect(poolState(p.outs.name)).toBe("running");
    expect(volNames(p.outs.name)).toEqual(["base.qcow2", "mine.txt", "top.qcow2"]);

    await poolProvider.delete!(p.id, { ...p.outs, deleteVolumesOnDestroy: true });
    expect(poolNames()).not.toContain(p.outs.name);
    expect(readdirSync(dir)).toEqual(["mine.txt"]);
  });
});

describe("Volume", () => {
  let pool: Made;
  let dir: string;
  beforeAll(async () => {
    dir = newDir("vols", false);
    pool = await makePool("vols", dir);
  });
  const poolName = () => pool.outs.name;

  it("creates raw and qcow2 volumes", async () => {
    const raw = await makeVolume(poolName(), "disk.raw", { format: "raw", capacity: "8MiB" });
    const q = await makeVolume(poolName(), "disk.qcow2", { capacity: 24 * MiB });
    expect(raw.outs).toMatchObject({ format: "raw", capacity: 8 * MiB, path: join(dir, "disk.raw"), key: join(dir, "disk.raw") });
    expect(q.outs).toMatchObject({ format: "qcow2", capacity: 24 * MiB, path: join(dir, "disk.qcow2") });
    expect(imgInfo(raw.outs.path)).toMatchObject({ format: "raw", "virtual-size": 8 * MiB });
    expect(imgInfo(q.outs.path)).toMatchObject({ format: "qcow2", "virtual-size": 24 * MiB });
    expect(volNames(poolName())).toEqual(expect.arrayContaining(["disk.qcow2", "disk.raw"]));
    // Sparse: the raw volume takes (almost) no space until written.
    expect(raw.outs.allocation as number).toBeLessThan(MiB);

    await volumeProvider.delete!(raw.id, raw.outs);
    await volumeProvider.delete!(q.id, q.outs);
    expect(existsSync(raw.outs.path)).toBe(false);
    expect(existsSync(q.outs.path)).toBe(false);
  });

  it("makes a qcow2 overlay on a base volume; the base cannot be deleted while the overlay exists", async () => {
    const base = await makeVolume(poolName(), "base.qcow2", { capacity: "32MiB" });
    const rawBase = await makeVolume(poolName(), "base.raw", { capacity: "16MiB", format: "raw" });
    const top = await makeVolume(poolName(), "top.qcow2", { backingVolume: base.outs.path, backingFormat: "qcow2" });
    const onRaw = await makeVolume(poolName(), "on-raw.qcow2", { backingVolume: rawBase.outs.path, capacity: "20MiB" });

    expect(imgInfo(top.outs.path)).toMatchObject({
      format: "qcow2",
      "backing-filename": base.outs.path,
      "backing-filename-format": "qcow2",
      "virtual-size": 32 * MiB,
    });
    expect(top.outs).toMatchObject({ backingPath: base.outs.path, capacity: 32 * MiB });
    expect(imgInfo(onRaw.outs.path)).toMatchObject({
      "backing-filename": rawBase.outs.path,
      "backing-filename-format": "raw",
      "virtual-size": 20 * MiB,
    });

    await expect(volumeProvider.delete!(base.id, base.outs)).rejects.toThrow(
      /refusing to delete volume "base.qcow2".*backing file of 1 volume \(".*\/top.qcow2"\)/,
    );
    expect(existsSync(base.outs.path)).toBe(true);
    for (const v of [top, onRaw, base, rawBase]) await volumeProvider.delete!(v.id, v.outs);
    expect(volNames(poolName())).toEqual([]);
  });

  it("8 volumes created at once in one pool, then deleted at once (as Pulumi runs independent resources)", async () => {
    // libvirt refuses a pool rescan while a volume of the pool is being built, and a
    // volume deleted meanwhile vanishes from another delete's reading of the pool.
    const names = Array.from({ length: 8 }, (_, i) => `burst-${i}.qcow2`);
    const vols = await Promise.all(names.map((n) => makeVolume(poolName(), n, { capacity: "8MiB" })));
    expect(volNames(poolName())).toEqual(expect.arrayContaining(names));
    for (const v of vols) expect(imgInfo(v.outs.path)).toMatchObject({ format: "qcow2", "virtual-size": 8 * MiB });
    // A domain made concurrently makes the deletes' shared reading of the domains see it.
    const dom = await makeDomain("burst", vols[0].outs.path, { running: false });
    const results = await Promise.allSettled(vols.map((v) => volumeProvider.delete!(v.id, v.outs)));
    expect(results[0]).toMatchObject({
      status: "rejected",
      reason: expect.objectContaining({ message: expect.stringMatching(/1 domain still uses it as a disk/) }),
    });
    expect(results.slice(1).map((r) => r.status)).toEqual(Array(7).fill("fulfilled"));
    expect(volNames(poolName())).toEqual(["burst-0.qcow2"]);
    expect(readdirSync(dir).filter((f) => f.startsWith("burst-"))).toEqual(["burst-0.qcow2"]);
    await domainProvider.delete!(dom.id, dom.outs);
    await volumeProvider.delete!(vols[0].id, vols[0].outs);
    expect(volNames(poolName())).not.toContain("burst-0.qcow2");
  });

  it("read notices a resize and a removal outside Pulumi; capacity grows in place, shrinking is refused", async () => {
    const v = await makeVolume(poolName(), "resize.qcow2", { capacity: "16MiB" });
    execFileSync("qemu-img", ["resize", "-q", v.outs.path, "24M"]);
    const read = await volumeProvider.read!(v.id, v.outs);
    expect(read.props).toMatchObject({ capacity: 24 * MiB });
    expect((await volumeProvider.diff!(v.id, read.props, v.inputs)).changes).toBe(true);

    const grown = await volumeProvider.update!(v.id, read.props, { ...v.inputs, capacity: "32MiB" });
    expect(grown.outs).toMatchObject({ capacity: 32 * MiB });
    expect(imgInfo(v.outs.path)["virtual-size"]).toBe(32 * MiB);
    await expect(volumeProvider.update!(v.id, grown.outs, { ...v.inputs, capacity: "8MiB" })).rejects.toThrow(
      /refusing to shrink volume "resize.qcow2" from 32 MiB to 8 MiB \(nothing was changed\)/,
    );
    expect(imgInfo(v.outs.path)["virtual-size"]).toBe(32 * MiB);

    rmSync(v.outs.path);
    expect((await volumeProvider.read!(v.id, v.outs)).id).toBeUndefined();
    await expect(volumeProvider.delete!(v.id, v.outs)).resolves.toBeUndefined();
  });

  it("uploads a 256 MiB image streamed: the provider process' peak RSS grows by less than 64 MiB", async () => {
    const srcDir = newDir("upload-src", true);
    const source = join(srcDir, "image.raw");
    const chunk = randomBytes(MiB);
    const fd = openSync(source, "w");
    for (let i = 0; i < 256; i++) {
      chunk.write(String(i).padStart(8, "0"), 8); // every MiB different
      writeSync(fd, chunk);
    }
    closeSync(fd);

    const r = await measuredVolumeCreate(QEMU_URI, { name: "uploaded.raw", pool: poolName(), uri: QEMU_URI, source });
    console.log(rssReport("upload 256 MiB", r));
    expect(r.peak - r.base).toBeLessThan(64 * MiB);

    // Progress: at most one line per 10%, ending at 100%.
    const percents = [...r.stderr.matchAll(/uploading .*image\.raw to volume "uploaded\.raw": (\d+)%/g)].map((m) => Number(m[1]));
    expect(percents).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);

    expect(r.outs).toMatchObject({ format: "raw", capacity: 256 * MiB, path: join(dir, "uploaded.raw") });
    expect(imgInfo(r.outs.path)).toMatchObject({ format: "raw", "virtual-size": 256 * MiB });
    const sha = (file: string) =>
      new Promise<string>((resolve, reject) => {
        const h = createHash("sha256");
        createReadStream(file)
          .on("data", (d) => h.update(d))
          .on("end", () => resolve(h.digest("hex")))
          .on("error", reject);
      });
    expect(await sha(r.outs.path)).toBe(await sha(source));
    await volumeProvider.delete!(r.id, r.outs);
    expect(existsSync(r.outs.path)).toBe(false);
  });

  it("uploads a qcow2 image as qcow2 and grows it to the requested capacity", async () => {
    const srcDir = newDir("upload-q", true);
    const source = join(srcDir, "small.qcow2");
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", source, "8M"]);
    execFileSync("qemu-io", ["-c", "write -P 0x5a 0 1M", source]);
    const v = await makeVolume(poolName(), "from-qcow2.qcow2", { source, capacity: "12MiB" });
    expect(v.outs).toMatchObject({ format: "qcow2", capacity: 12 * MiB });
    expect(imgInfo(v.outs.path)).toMatchObject({ format: "qcow2", "virtual-size": 12 * MiB });
    expect(execFileSync("qemu-io", ["-r", "-U", "-c", "read -P 0x5a 0 1M", v.outs.path], { encoding: "utf8" })).toMatch(
      /read 1048576\/1048576 bytes/,
    );
    await volumeProvider.delete!(v.id, v.outs);
  });

  it("a Domain booted from a Volume; deleting the volume is refused while any domain uses it, managed by the stack or not", async () => {
    const v = await makeVolume(poolName(), "boot.qcow2", { capacity: "16MiB" });
    const dom = await makeDomain("vol-boot", v.outs.path);
    expect(domainState(QEMU_URI, dom.name)).toBe("running");
    expect(virsh(QEMU_URI, "domblklist", dom.name)).toContain(v.outs.path);

    await expect(volumeProvider.delete!(v.id, v.outs)).rejects.toThrow(
      new RegExp(`refusing to delete volume "boot.qcow2".*nothing was changed.*1 domain still uses it as a disk \\("${dom.name}"\\)`),
    );
    expect(existsSync(v.outs.path)).toBe(true);
    expect(volNames(poolName())).toContain("boot.qcow2");
    await domainProvider.delete!(dom.id, dom.outs);

    // A domain defined by hand, never started, referring to the volume by pool and name.
    const other = defineDomainByHand("vol-byhand", { disks: [{ pool: poolName(), volume: "boot.qcow2" }] }, made.domains);
    await expect(volumeProvider.delete!(v.id, v.outs)).rejects.toThrow(new RegExp(`1 domain still uses it as a disk \\("${other}"\\)`));
    virsh(QEMU_URI, "undefine", other);
    await volumeProvider.delete!(v.id, v.outs);
    expect(existsSync(v.outs.path)).toBe(false);
  });

  it("refused while the image holds an internal snapshot left by a metadata-only cascade; deleteSnapshotDataOnDestroy allows it", async () => {
    const v = await makeVolume(poolName(), "snapped.qcow2", { capacity: "16MiB" });
    const dom = await makeDomain("vol-snap", v.outs.path, { running: false });
    virsh(QEMU_URI, "snapshot-create-as", dom.name, "keep-me");
    await domainProvider.delete!(dom.id, { ...dom.outs, deleteSnapshotsOnDestroy: true });
    expect(domainNames(QEMU_URI)).not.toContain(dom.name);
    expect(qcow2Snapshots(v.outs.path)).toEqual(["keep-me"]);

    await expect(volumeProvider.delete!(v.id, v.outs)).rejects.toThrow(
      /refusing to delete volume "snapped.qcow2".*nothing was changed.*holds 1 internal snapshot \("keep-me"\).*deleteSnapshotDataOnDestroy: true/,
    );
    expect(existsSync(v.outs.path)).toBe(true);

    // The remote-hypervisor path (qcow2 header read through virStorageVolDownload) sees the same.
    const viaLibvirt = await provider.withConnection({ uri: QEMU_URI }, (conn) =>
      withPool(conn, poolName(), async (p) => {
        const vol = (await p!.lookupVolume("snapped.qcow2"))!;
        try {
          return await internalSnapshots(conn.uri, vol, v.outs.path, "qcow2 header read through libvirt");
        } finally {
          vol.free();
        }
      }),
    );
    expect(viaLibvirt).toEqual({ names: ["keep-me"], count: 1, via: "qcow2 header read through libvirt" });
    // On this host the header is read from the file itself (no qemu-img process), and agrees.
    const local = await provider.withConnection({ uri: QEMU_URI }, (conn) =>
      withPool(conn, poolName(), async (p) => {
        const vol = (await p!.lookupVolume("snapped.qcow2"))!;
        try {
          return await internalSnapshots(conn.uri, vol, v.outs.path);
        } finally {
          vol.free();
        }
      }),
    );
    expect(local).toEqual({ names: ["keep-me"], count: 1, via: "qcow2 header read from the file" });

    await volumeProvider.delete!(v.id, { ...v.outs, deleteSnapshotDataOnDestroy: true });
    expect(existsSync(v.outs.path)).toBe(false);
    expect(volNames(poolName())).not.toContain("snapped.qcow2");
  });
});
