// Bad inputs to Pool and Volume on qemu:///system: each one is rejected with
// the property named, and nothing is created (virsh and the directory say so).
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";
import { QEMU_URI, TEST_PREFIX, removePool, testRunId, uniqueName, virsh } from "../helpers/host";

const { poolProvider, volumeProvider } = provider;
const IMAGES = "/var/lib/libvirt/images";
const MiB = 1024 * 1024;

const poolName = uniqueName("inputs");
const poolDir = join(IMAGES, poolName);
const srcDir = join(IMAGES, uniqueName("inputs-src"));
const qcow2Source = join(srcDir, "image.qcow2");
let pool: { id: string; outs: Record<string, unknown> };
let basePath: string;

beforeAll(async () => {
  mkdirSync(srcDir);
  chmodSync(srcDir, 0o755);
  mkdirSync(join(srcDir, "a-directory"));
  execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", qcow2Source, "64M"]);
  const checked = await poolProvider.check!({}, { name: poolName, path: poolDir, uri: QEMU_URI });
  pool = await poolProvider.create!(checked.inputs);
  const base = await volumeProvider.create!(
    (await volumeProvider.check!({}, { name: "base.qcow2", pool: poolName, uri: QEMU_URI, capacity: "32MiB" })).inputs,
  );
  basePath = base.outs.path;
});

afterAll(async () => {
  await provider.closeAllConnections();
  removePool(QEMU_URI, poolName);
  rmSync(poolDir, { recursive: true, force: true });
  rmSync(srcDir, { recursive: true, force: true });
});

/** What exists, seen by virsh and in the directory: must not change on a rejected input. */
function inventory(): { pools: string[]; volumes: string; files: string[] } {
  virsh(QEMU_URI, "pool-refresh", poolName);
  // This run's pools only: other test runs may work on the same hypervisor.
  const ours = `${TEST_PREFIX}${testRunId()}-`;
  return {
    pools: virsh(QEMU_URI, "pool-list", "--all", "--name")
      .split("\n")
      .map((s) => s.trim())
      .filter((n) => n.startsWith(ours))
      .sort(),
    volumes: virsh(QEMU_URI, "vol-list", poolName),
    files: readdirSync(poolDir).sort(),
  };
}

const volume = (extra: Record<string, unknown>) => ({ name: "new.qcow2", pool: poolName, uri: QEMU_URI, capacity: "16MiB", ...extra });

// Rejected by check, before any call to libvirt.
const checkCases: Array<[string, string, Record<string, unknown>]> = [
  ["a volume name with /", "name", volume({ name: "sub/new.qcow2" })],
  ["a volume name escaping the pool", "name", volume({ name: "../escape.qcow2" })],
  ["a volume name ..", "name", volume({ name: ".." })],
  ["capacity 0", "capacity", volume({ capacity: 0 })],
  ["a capacity that is no size", "capacity", volume({ capacity: "12 parsecs" })],
  ["a capacity that is not whole sectors", "capacity", volume({ capacity: 1000 })],
  ["no capacity for an empty volume", "capacity", volume({ capacity: undefined })],
  ["an unknown format", "format", volume({ format: "vmdk" })],
  [
    "a raw overlay on a backing volume",
    "format",
    volume({ format: "raw", capacity: undefined, backingVolume: "/var/lib/libvirt/images/base.qcow2" }),
  ],
  ["a relative backing volume path", "backingVolume", volume({ backingVolume: "base.qcow2" })],
  ["a missing source file", "source", volume({ capacity: undefined, source: join(srcDir, "missing.img") })],
  ["a source that is a directory", "source", volume({ capacity: undefined, source: join(srcDir, "a-directory") })],
  [
    "source together with backingVolume",
    "source",
    volume({ capacity: undefined, source: qcow2Source, backingVolume: "/var/lib/libvirt/images/base.qcow2" }),
  ],
  ["a qcow2 source declared raw", "format", volume({ capacity: undefined, source: qcow2Source, format: "raw" })],
  ["a capacity smaller than the source image", "capacity", volume({ capacity: "32MiB", source: qcow2Source })],
  ["backingFormat without backingVolume", "backingFormat", volume({ backingFormat: "qcow2" })],
  ["a URI with a password", "uri", volume({ uri: "qemu+tcp://admin:secret@host/system" })],
  ["a misspelt property", "size", volume({ size: "1GiB" })],
  ["a non-boolean teardown option", "deleteSnapshotDataOnDestroy", volume({ deleteSnapshotDataOnDestroy: "yes" })],
];

describe("Volume inputs rejected by check", () => {
  it.each(checkCases)("%s: names %s, creates nothing", async (_label, property, news) => {
    const before = inventory();
    const checked = await volumeProvider.check!({}, news);
    expect(checked.failures?.map((f) => f.property)).toContain(property);
    const reason = checked.failures!.find((f) => f.property === property)!.reason;
    expect(reason.length).toBeGreaterThan(10);
    // create with the raw inputs (as if check had been skipped) refuses the same way.
    await expect(volumeProvider.create!(news)).rejects.toThrow(new RegExp(`invalid Volume inputs: .*${property}`));
    expect(inventory()).toEqual(before);
  });
});

describe("Volume inputs found wrong once the hypervisor is asked", () => {
  const cases: Array<[string, string, () => Record<string, unknown>, RegExp]> = [
    [
      "a backing volume in another format than backingFormat says",
      "backingFormat",
      () => volume({ capacity: undefined, backingVolume: basePath, backingFormat: "raw" }),
      /is a qcow2 image/,
    ],
    [
      "a backing volume that does not exist",
      "backingVolume",
      () => volume({ capacity: undefined, backingVolume: join(poolDir, "nope.qcow2") }),
      /nope.qcow2 is neither a volume/,
    ],
    [
      "a capacity smaller than the backing volume",
      "capacity",
      () => volume({ capacity: "16MiB", backingVolume: basePath }),
      /smaller than the backing volume \(32 MiB\)/,
    ],
    ["a pool that does not exist", "pool", () => volume({ pool: uniqueName("no-such-pool") }), /does not exist/],
    ["a name already used in the pool", "name", () => volume({ name: "base.qcow2" }), /already exists/],
  ];

  it.each(cases)("%s: names %s, creates nothing", async (_label, property, news, reason) => {
    const before = inventory();
    const baseInfo = execFileSync("qemu-img", ["info", "-U", basePath], { encoding: "utf8" });
    const checked = await volumeProvider.check!({}, news());
    expect(checked.failures).toEqual([]);
    await expect(volumeProvider.create!(checked.inputs)).rejects.toThrow(
      new RegExp(`invalid Volume input ${property}: .*${reason.source}.*nothing was created`),
    );
    expect(inventory()).toEqual(before);
    expect(execFileSync("qemu-img", ["info", "-U", basePath], { encoding: "utf8" })).toBe(baseInfo);
  });
});

describe("Pool inputs", () => {
  const cases: Array<[string, string, () => Record<string, unknown>]> = [
    ["a relative path", "path", () => ({ name: uniqueName("p"), path: "images/web" })],
    ["the root directory", "path", () => ({ name: uniqueName("p"), path: "/" })],
    ["a path with ..", "path", () => ({ name: uniqueName("p"), path: `${IMAGES}/../etc` })],
    ["a name with a space", "name", () => ({ name: "lvp-test- web", path: join(IMAGES, uniqueName("p")) })],
    ["a missing path", "path", () => ({ name: uniqueName("p") })],
  ];

  it.each(cases)("%s: names %s, creates nothing", async (_label, property, news) => {
    const before = inventory();
    const n = { uri: QEMU_URI, ...news() };
    const checked = await poolProvider.check!({}, n);
    expect(checked.failures?.map((f) => f.property)).toContain(property);
    await expect(poolProvider.create!(n)).rejects.toThrow(new RegExp(`invalid Pool inputs: .*${property}`));
    expect(inventory()).toEqual(before);
  });

  it("a pool name already in use: names name, changes nothing", async () => {
    const before = inventory();
    const dir = join(IMAGES, uniqueName("dup"));
    const checked = await poolProvider.check!({}, { name: poolName, path: dir, uri: QEMU_URI });
    await expect(poolProvider.create!(checked.inputs)).rejects.toThrow(
      /invalid Pool input name: a storage pool named .* already exists.*nothing was created/,
    );
    expect(inventory()).toEqual(before);
    expect(virsh(QEMU_URI, "pool-dumpxml", poolName)).toContain(`<path>${poolDir}</path>`);
    expect(() => readdirSync(dir)).toThrow(/ENOENT/);
  });
});

it("the pool and its base volume made for these cases are as created", () => {
  expect(pool.outs).toMatchObject({ name: poolName, path: poolDir, active: true });
  expect(JSON.parse(execFileSync("qemu-img", ["info", "-U", "--output=json", basePath], { encoding: "utf8" }))).toMatchObject({
    format: "qcow2",
    "virtual-size": 32 * MiB,
  });
});

describe("Volume sources that libvirt names by their content", () => {
  it("an ISO 9660 image (a cloud-init seed) uploads as a raw volume and stays raw on refresh", async () => {
    const iso = join(srcDir, "seed.iso");
    execFileSync("genisoimage", ["-quiet", "-output", iso, "-volid", "cidata", "-joliet", "-rock", join(srcDir, "a-directory")]);
    const checked = await volumeProvider.check!({}, volume({ name: "seed.iso", source: iso, format: "raw", capacity: undefined }));
    expect(checked.failures).toEqual([]);
    const made = await volumeProvider.create!(checked.inputs);
    try {
      expect(made.outs.format).toBe("raw");
      // libvirt's own reading: an iso, which is raw bytes naming no other file.
      expect(virsh(QEMU_URI, "vol-dumpxml", "--pool", poolName, "seed.iso")).toMatch(/<format type='iso'\/>/);
      const read = await volumeProvider.read!(made.id, made.outs);
      expect(read.props?.format).toBe("raw");
      expect(read.props?.backingPath).toBeUndefined();
    } finally {
      await volumeProvider.delete!(made.id, made.outs);
    }
  });
});
