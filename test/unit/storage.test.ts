// Storage pieces that need no hypervisor: sizes, the qcow2 header reader (on
// images qemu-img makes), the XML builders, and check's handling of a preview's
// unknown inputs. The refusal rules' tables: test/unit/teardown/.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { built, provider } from "../helpers/lib";

const { poolProvider, volumeProvider } = provider;
const { parseSize, formatSize } = built<typeof import("../../provider/storage/size")>("provider/storage/size");
const { isQcow2, parseQcow2Header, parseQcow2References, parseSnapshotTable, recognisedFormat } =
  built<typeof import("../../provider/storage/qcow2")>("provider/storage/qcow2");
const { inspectSourceImage, isLocalUri, readBackingChain } =
  built<typeof import("../../provider/storage/image-probe")>("provider/storage/image-probe");
const { buildVolumeXml, parseVolumeXml, domainXmlUsesVolume, domainXmlReferences, snapshotXmlReferences } =
  built<typeof import("../../provider/volume/xml")>("provider/volume/xml");
const { buildPoolXml, parsePoolXml } = built<typeof import("../../provider/pool/xml")>("provider/pool/xml");
const { checkPoolInputs } = built<typeof import("../../provider/pool/inputs")>("provider/pool/inputs");
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const work = mkdtempSync(join(tmpdir(), "lvp-test-unit-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("sizes", () => {
  it("reads bytes, binary and decimal units", () => {
    expect(parseSize("10GiB")).toBe(10 * 1024 ** 3);
    expect(parseSize("10G")).toBe(10 * 1024 ** 3);
    expect(parseSize("20GB")).toBe(20e9);
    expect(parseSize("512 MiB")).toBe(512 * 1024 ** 2);
    expect(parseSize("1.5k")).toBe(1536);
    expect(parseSize("4096")).toBe(4096);
  });
  it("rejects what is not a size", () => {
    for (const bad of ["", "GiB", "12 parsecs", "-1G", "1e9", "0.3"]) expect(parseSize(bad), bad).toBeUndefined();
  });
  it("formats for messages", () => {
    expect(formatSize(256 * 1024 ** 2)).toBe("256 MiB");
    expect(formatSize(1536 * 1024 ** 2)).toBe("1.5 GiB");
  });
});

describe("qcow2 header", () => {
  const img = join(work, "snap.qcow2");
  execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", img, "48M"]);
  const longName = `after-${"x".repeat(300)}`;
  for (const name of ["first", "second é", longName]) execFileSync("qemu-img", ["snapshot", "-c", name, img]);

  it("gives the virtual size and the snapshot count, and names them as qemu-img does", () => {
    const byQemuImg = (
      JSON.parse(execFileSync("qemu-img", ["info", "--output=json", img], { encoding: "utf8" })) as { snapshots: Array<{ name: string }> }
    ).snapshots.map((s) => s.name);
    expect(byQemuImg[2]).toMatch(/^after-x+$/); // QEMU shortens long names
    const bytes = readFileSync(img);
    const header = parseQcow2Header(bytes.subarray(0, 72))!;
    expect(header.virtualSize).toBe(48 * 1024 * 1024);
    expect(header.snapshotCount).toBe(3);
    const table = bytes.subarray(header.snapshotsOffset);
    expect(parseSnapshotTable(table, header.snapshotCount)).toEqual(byQemuImg);
    expect(byQemuImg.slice(0, 2)).toEqual(["first", "second é"]);
  });

  it("stops at a truncated table instead of inventing names", () => {
    const bytes = readFileSync(img);
    const header = parseQcow2Header(bytes.subarray(0, 72))!;
    expect(parseSnapshotTable(bytes.subarray(header.snapshotsOffset, header.snapshotsOffset + 100), 3)).toEqual(["first"]);
  });

  it("says null for a raw image and for too few bytes", () => {
    expect(parseQcow2Header(Buffer.alloc(72))).toBeNull();
    expect(parseQcow2Header(readFileSync(img).subarray(0, 40))).toBeNull();
    expect(isQcow2(readFileSync(img).subarray(0, 4))).toBe(true);
  });

  it("inspects an upload source: qcow2 by its magic, anything else raw", async () => {
    const raw = join(work, "disk.raw");
    writeFileSync(raw, Buffer.alloc(3 * 512, 7));
    expect(await inspectSourceImage(img)).toMatchObject({ format: "qcow2", virtualSize: 48 * 1024 * 1024 });
    expect(await inspectSourceImage(raw)).toEqual({ format: "raw", contentFormat: null, virtualSize: 1536, fileSize: 1536 });
  });
});

describe("qcow2 references and backing chains (images qemu-img makes)", () => {
  const qimg = (...args: string[]) => execFileSync("qemu-img", ["create", "-q", ...args]);
  const head = (f: string) => readFileSync(f).subarray(0, 64 * 1024);

  it("reads the backing file (absolute and relative), its format, and an external data file", () => {
    const dir = mkdtempSync(join(work, "refs-"));
    const base = join(dir, "base.qcow2");
    qimg("-f", "qcow2", base, "1M");
    expect(parseQcow2References(head(base))).toEqual({ externalDataFile: false });
    qimg("-f", "qcow2", "-b", "/etc/hostname", "-F", "raw", join(dir, "abs.qcow2"), "1M");
    expect(parseQcow2References(head(join(dir, "abs.qcow2")))).toMatchObject({
      backingFile: "/etc/hostname",
      backingFormat: "raw",
      externalDataFile: false,
    });
    qimg("-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", join(dir, "rel.qcow2"));
    expect(parseQcow2References(head(join(dir, "rel.qcow2")))).toMatchObject({ backingFile: "base.qcow2", backingFormat: "qcow2" });
    qimg("-f", "qcow2", "-o", `data_file=${join(dir, "data.raw")}`, join(dir, "ext.qcow2"), "1M");
    expect(parseQcow2References(head(join(dir, "ext.qcow2")))).toEqual({ externalDataFile: true, dataFile: join(dir, "data.raw") });
    expect(parseQcow2References(Buffer.alloc(4096))).toBeNull();
  });

  it("recognises image formats by content, and nothing in raw data", () => {
    const q = join(mkdtempSync(join(work, "fmt-")), "x.qcow2");
    qimg("-f", "qcow2", q, "1M");
    expect(recognisedFormat(readFileSync(q).subarray(0, 512))).toBe("qcow2");
    expect(recognisedFormat(Buffer.from('# Disk DescriptorFile\nparentFileNameHint="/etc/shadow"\n'))).toBe("vmdk descriptor");
    expect(recognisedFormat(Buffer.from("QED\0xxxxxxxx", "latin1"))).toBe("qed");
    expect(recognisedFormat(Buffer.alloc(512, 7))).toBeNull();
  });

  it("walks a chain as qemu-img does: relative names against the naming image's directory, through symlinks and `..`", async () => {
    const dir = mkdtempSync(join(work, "chain-"));
    execFileSync("mkdir", ["-p", join(dir, "a"), join(dir, "deep", "b")]);
    qimg("-f", "qcow2", join(dir, "a", "base.qcow2"), "1M");
    // Named through a symlinked directory: `..` is resolved physically (deep/b/.. is deep, not dir).
    execFileSync("ln", ["-s", join(dir, "deep", "b"), join(dir, "blink")]);
    qimg("-f", "qcow2", "-b", "../../a/base.qcow2", "-F", "qcow2", join(dir, "deep", "b", "mid.qcow2"));
    qimg("-f", "qcow2", "-b", "blink/mid.qcow2", "-F", "qcow2", join(dir, "top.qcow2"));
    const chain = await readBackingChain(join(dir, "top.qcow2"));
    expect(chain.map((l) => l.real)).toEqual([join(dir, "top.qcow2"), join(dir, "deep", "b", "mid.qcow2"), join(dir, "a", "base.qcow2")]);
    expect(chain[2]).toMatchObject({ named: "../../a/base.qcow2" });
    // qemu-img's own view of the same chain.
    const info = JSON.parse(
      execFileSync("qemu-img", ["info", "-U", "--backing-chain", "--output=json", join(dir, "top.qcow2")], { encoding: "utf8" }),
    ) as Array<{ filename: string }>;
    expect(info.map((i) => realpathSync.native(i.filename))).toEqual(chain.map((l) => l.real));
  });
});

describe("XML", () => {
  it("escapes a hostile name instead of injecting elements", () => {
    const xml = buildVolumeXml({ name: "a</name><evil/>", capacity: 1024, format: "qcow2" });
    expect(xml).not.toContain("<evil/>");
    expect(parseVolumeXml(xml).name).toBe("a</name><evil/>");
    expect(parsePoolXml(buildPoolXml({ name: "p'\"<", path: "/x/<y>" }))).toMatchObject({
      name: "p'\"<",
      path: "/x/<y>",
      type: "dir",
    });
  });

  it("builds an overlay with its backing store, sparse", () => {
    const v = parseVolumeXml(buildVolumeXml({ name: "o", capacity: 4096, format: "qcow2", backing: { path: "/b/base.qcow2", format: "raw" } }));
    expect(v).toMatchObject({ capacity: 4096, allocation: 0, format: "qcow2", backingPath: "/b/base.qcow2", backingFormat: "raw" });
  });

  it("finds a volume in a domain's disks by file, by pool/volume, and down a backing chain", () => {
    const ref = { path: "/p/base.qcow2", pool: "p", name: "base.qcow2" };
    const dom = (disk: string) =>
      `<domain><devices><disk type="file">${disk}</disk><disk type="file"><source file="/other"/></disk></devices></domain>`;
    expect(domainXmlUsesVolume(dom(`<source file="/p/base.qcow2"/>`), ref)).toBe(true);
    expect(domainXmlUsesVolume(dom(`<source pool="p" volume="base.qcow2"/>`), ref)).toBe(true);
    expect(
      domainXmlUsesVolume(dom(`<source file="/p/top.qcow2"/><backingStore type="file"><source file="/p/base.qcow2"/></backingStore>`), ref),
    ).toBe(true);
    expect(domainXmlUsesVolume(dom(`<source pool="q" volume="base.qcow2"/>`), ref)).toBe(false);
    expect(domainXmlUsesVolume(`<domain><devices/></domain>`, ref)).toBe(false);
  });

  it("reads what a snapshot keeps: overlays, the memory file, and the disks of the definitions it saved", () => {
    const xml = `<domainsnapshot><name>s1</name><memory snapshot="external" file="/m/mem.save"/>
      <disks><disk name="vda" snapshot="external" type="file"><driver type="qcow2"/><source file="/o/top.qcow2"/></disk><disk name="vdb" snapshot="no"/></disks>
      <domain><devices><disk type="file" device="disk"><source file="/p/base.qcow2"/><target dev="vda"/></disk>
        <disk type="volume" device="disk"><source pool="pl" volume="v.qcow2"/><target dev="vdb"/></disk></devices></domain></domainsnapshot>`;
    expect(snapshotXmlReferences("s1", xml)).toEqual([
      { what: 'snapshot "s1" memory state', chain: ["/m/mem.save"] },
      { what: 'snapshot "s1" disk vda', chain: ["/o/top.qcow2"] },
      { what: 'snapshot "s1" saved definition, disk vda', chain: ["/p/base.qcow2"] },
      { what: 'snapshot "s1" saved definition, disk vdb', chain: [], volume: { pool: "pl", name: "v.qcow2" } },
    ]);
    const live = `<domain><devices><disk type="file"><source file="/o/top.qcow2"/><backingStore type="file"><source file="/p/mid.qcow2"><dataStore type="file"><source file="/p/data.raw"/></dataStore></source>
      <backingStore type="file"><source file="/p/base.qcow2"/><backingStore/></backingStore></backingStore><target dev="vda"/></disk></devices></domain>`;
    expect(domainXmlReferences(live)).toEqual([{ what: "disk vda", chain: ["/o/top.qcow2", "/p/mid.qcow2", "/p/data.raw", "/p/base.qcow2"] }]);
  });
});

describe("check during a preview (unknown inputs)", () => {
  it("checks the known inputs and passes the unknown ones through", async () => {
    const news = { name: "web.qcow2", pool: UNKNOWN, backingVolume: UNKNOWN };
    const ok = await volumeProvider.check!({}, news);
    expect(ok.failures).toEqual([]);
    expect(ok.inputs).toEqual(news);
    const bad = await volumeProvider.check!({}, { name: "a/b", pool: UNKNOWN, capacity: "1G" });
    expect(bad.failures?.map((f) => f.property)).toEqual(["name"]);
    const pool = await poolProvider.check!({}, { name: UNKNOWN, path: "relative" });
    expect(pool.failures?.map((f) => f.property)).toEqual(["path"]);
  });

  it("a diff with an unknown pool replaces the volume", async () => {
    const olds = { name: "v", pool: "p", uri: "qemu:///system", format: "qcow2", capacity: 1024 };
    const d = await volumeProvider.diff!("id", olds, { name: "v", pool: UNKNOWN, capacity: 1024 });
    expect(d.replaces).toContain("pool");
  });

  it("a pool path is normalized the way libvirt reports it, so refresh shows no change", () => {
    expect(checkPoolInputs({ name: "p", path: "/srv//images/" }).inputs).toMatchObject({
      path: "/srv/images",
      autostart: false,
      deleteVolumesOnDestroy: false,
    });
  });

  it("local and remote URIs", () => {
    expect(isLocalUri("qemu:///system")).toBe(true);
    expect(isLocalUri("qemu+unix:///system")).toBe(true);
    expect(isLocalUri("qemu+ssh://host/system")).toBe(false);
    expect(isLocalUri("qemu+tcp://10.0.0.1/system")).toBe(false);
  });
});
