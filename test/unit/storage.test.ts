// Storage pieces that need no hypervisor: sizes, the qcow2 header reader (on
// images qemu-img makes), the XML builders, the refusal rules, and check's
// handling of a preview's unknown inputs.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";

const { storage, poolProvider, volumeProvider } = provider;
const { teardown } = storage;
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const work = mkdtempSync(join(tmpdir(), "lvp-test-unit-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("sizes", () => {
  it("reads bytes, binary and decimal units", () => {
    expect(storage.parseSize("10GiB")).toBe(10 * 1024 ** 3);
    expect(storage.parseSize("10G")).toBe(10 * 1024 ** 3);
    expect(storage.parseSize("20GB")).toBe(20e9);
    expect(storage.parseSize("512 MiB")).toBe(512 * 1024 ** 2);
    expect(storage.parseSize("1.5k")).toBe(1536);
    expect(storage.parseSize("4096")).toBe(4096);
  });
  it("rejects what is not a size", () => {
    for (const bad of ["", "GiB", "12 parsecs", "-1G", "1e9", "0.3"]) expect(storage.parseSize(bad), bad).toBeUndefined();
  });
  it("formats for messages", () => {
    expect(storage.formatSize(256 * 1024 ** 2)).toBe("256 MiB");
    expect(storage.formatSize(1536 * 1024 ** 2)).toBe("1.5 GiB");
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
    const header = storage.parseQcow2Header(bytes.subarray(0, 72))!;
    expect(header.virtualSize).toBe(48 * 1024 * 1024);
    expect(header.snapshotCount).toBe(3);
    const table = bytes.subarray(header.snapshotsOffset);
    expect(storage.parseSnapshotTable(table, header.snapshotCount)).toEqual(byQemuImg);
    expect(byQemuImg.slice(0, 2)).toEqual(["first", "second é"]);
  });

  it("stops at a truncated table instead of inventing names", () => {
    const bytes = readFileSync(img);
    const header = storage.parseQcow2Header(bytes.subarray(0, 72))!;
    expect(storage.parseSnapshotTable(bytes.subarray(header.snapshotsOffset, header.snapshotsOffset + 100), 3)).toEqual(["first"]);
  });

  it("says null for a raw image and for too few bytes", () => {
    expect(storage.parseQcow2Header(Buffer.alloc(72))).toBeNull();
    expect(storage.parseQcow2Header(readFileSync(img).subarray(0, 40))).toBeNull();
    expect(storage.isQcow2(readFileSync(img).subarray(0, 4))).toBe(true);
  });

  it("inspects an upload source: qcow2 by its magic, anything else raw", async () => {
    const raw = join(work, "disk.raw");
    writeFileSync(raw, Buffer.alloc(3 * 512, 7));
    expect(await storage.inspectSourceImage(img)).toMatchObject({ format: "qcow2", virtualSize: 48 * 1024 * 1024 });
    expect(await storage.inspectSourceImage(raw)).toEqual({ format: "raw", contentFormat: null, virtualSize: 1536, fileSize: 1536 });
  });
});

describe("qcow2 references and backing chains (images qemu-img makes)", () => {
  const qimg = (...args: string[]) => execFileSync("qemu-img", ["create", "-q", ...args]);
  const head = (f: string) => readFileSync(f).subarray(0, 64 * 1024);

  it("reads the backing file (absolute and relative), its format, and an external data file", () => {
    const dir = mkdtempSync(join(work, "refs-"));
    const base = join(dir, "base.qcow2");
    qimg("-f", "qcow2", base, "1M");
    expect(storage.parseQcow2References(head(base))).toEqual({ externalDataFile: false });
    qimg("-f", "qcow2", "-b", "/etc/hostname", "-F", "raw", join(dir, "abs.qcow2"), "1M");
    expect(storage.parseQcow2References(head(join(dir, "abs.qcow2")))).toMatchObject({
      backingFile: "/etc/hostname",
      backingFormat: "raw",
      externalDataFile: false,
    });
    qimg("-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", join(dir, "rel.qcow2"));
    expect(storage.parseQcow2References(head(join(dir, "rel.qcow2")))).toMatchObject({ backingFile: "base.qcow2", backingFormat: "qcow2" });
    qimg("-f", "qcow2", "-o", `data_file=${join(dir, "data.raw")}`, join(dir, "ext.qcow2"), "1M");
    expect(storage.parseQcow2References(head(join(dir, "ext.qcow2")))).toEqual({ externalDataFile: true, dataFile: join(dir, "data.raw") });
    expect(storage.parseQcow2References(Buffer.alloc(4096))).toBeNull();
  });

  it("recognises image formats by content, and nothing in raw data", () => {
    const q = join(mkdtempSync(join(work, "fmt-")), "x.qcow2");
    qimg("-f", "qcow2", q, "1M");
    expect(storage.recognisedFormat(readFileSync(q).subarray(0, 512))).toBe("qcow2");
    expect(storage.recognisedFormat(Buffer.from('# Disk DescriptorFile\nparentFileNameHint="/etc/shadow"\n'))).toBe("vmdk descriptor");
    expect(storage.recognisedFormat(Buffer.from("QED\0xxxxxxxx", "latin1"))).toBe("qed");
    expect(storage.recognisedFormat(Buffer.alloc(512, 7))).toBeNull();
  });

  it("walks a chain as qemu-img does: relative names against the naming image's directory, through symlinks and `..`", async () => {
    const dir = mkdtempSync(join(work, "chain-"));
    execFileSync("mkdir", ["-p", join(dir, "a"), join(dir, "deep", "b")]);
    qimg("-f", "qcow2", join(dir, "a", "base.qcow2"), "1M");
    // Named through a symlinked directory: `..` is resolved physically (deep/b/.. is deep, not dir).
    execFileSync("ln", ["-s", join(dir, "deep", "b"), join(dir, "blink")]);
    qimg("-f", "qcow2", "-b", "../../a/base.qcow2", "-F", "qcow2", join(dir, "deep", "b", "mid.qcow2"));
    qimg("-f", "qcow2", "-b", "blink/mid.qcow2", "-F", "qcow2", join(dir, "top.qcow2"));
    const chain = await storage.readBackingChain(join(dir, "top.qcow2"));
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
    const xml = storage.buildVolumeXml({ name: "a</name><evil/>", capacity: 1024, format: "qcow2" });
    expect(xml).not.toContain("<evil/>");
    expect(storage.parseVolumeXml(xml).name).toBe("a</name><evil/>");
    expect(storage.parsePoolXml(storage.buildPoolXml({ name: "p'\"<", path: "/x/<y>" }))).toMatchObject({
      name: "p'\"<",
      path: "/x/<y>",
      type: "dir",
    });
  });

  it("builds an overlay with its backing store, sparse", () => {
    const v = storage.parseVolumeXml(
      storage.buildVolumeXml({ name: "o", capacity: 4096, format: "qcow2", backing: { path: "/b/base.qcow2", format: "raw" } }),
    );
    expect(v).toMatchObject({ capacity: 4096, allocation: 0, format: "qcow2", backingPath: "/b/base.qcow2", backingFormat: "raw" });
  });

  it("finds a volume in a domain's disks by file, by pool/volume, and down a backing chain", () => {
    const ref = { path: "/p/base.qcow2", pool: "p", name: "base.qcow2" };
    const dom = (disk: string) =>
      `<domain><devices><disk type="file">${disk}</disk><disk type="file"><source file="/other"/></disk></devices></domain>`;
    expect(storage.domainXmlUsesVolume(dom(`<source file="/p/base.qcow2"/>`), ref)).toBe(true);
    expect(storage.domainXmlUsesVolume(dom(`<source pool="p" volume="base.qcow2"/>`), ref)).toBe(true);
    expect(
      storage.domainXmlUsesVolume(dom(`<source file="/p/top.qcow2"/><backingStore type="file"><source file="/p/base.qcow2"/></backingStore>`), ref),
    ).toBe(true);
    expect(storage.domainXmlUsesVolume(dom(`<source pool="q" volume="base.qcow2"/>`), ref)).toBe(false);
    expect(storage.domainXmlUsesVolume(`<domain><devices/></domain>`, ref)).toBe(false);
  });
});

describe("refusal rules", () => {
  const facts = {
    pool: "p",
    name: "v.qcow2",
    path: "/p/v.qcow2",
    usedBy: [] as string[],
    backingOf: [] as string[],
    snapshots: { names: [] as string[], count: 0, via: "qemu-img" },
  };
  const none = { deleteSnapshotDataOnDestroy: false };

  it("allows a volume nothing depends on", () => {
    expect(teardown.planVolumeDelete(facts, none)).toEqual({ allowed: true });
  });

  it("names every reason, with the option where one exists", () => {
    const d = teardown.planVolumeDelete(
      { ...facts, usedBy: ["web"], backingOf: ["p/top.qcow2"], snapshots: { names: ["s1"], count: 1, via: "qemu-img" } },
      none,
    );
    expect(d.allowed).toBe(false);
    const message = (d as { message: string }).message;
    expect(message).toMatch(
      /\(1\) 1 domain still uses it as a disk \("web"\).*\(2\) it is the backing file of 1 volume \("p\/top.qcow2"\).*\(3\) its image holds 1 internal snapshot \("s1"\).*deleteSnapshotDataOnDestroy: true/,
    );
  });

  it("reads what a snapshot keeps: overlays, the memory file, and the disks of the definitions it saved", () => {
    const xml = `<domainsnapshot><name>s1</name><memory snapshot="external" file="/m/mem.save"/>
      <disks><disk name="vda" snapshot="external" type="file"><driver type="qcow2"/><source file="/o/top.qcow2"/></disk><disk name="vdb" snapshot="no"/></disks>
      <domain><devices><disk type="file" device="disk"><source file="/p/base.qcow2"/><target dev="vda"/></disk>
        <disk type="volume" device="disk"><source pool="pl" volume="v.qcow2"/><target dev="vdb"/></disk></devices></domain></domainsnapshot>`;
    expect(storage.snapshotXmlReferences("s1", xml)).toEqual([
      { what: 'snapshot "s1" memory state', chain: ["/m/mem.save"] },
      { what: 'snapshot "s1" disk vda', chain: ["/o/top.qcow2"] },
      { what: 'snapshot "s1" saved definition, disk vda', chain: ["/p/base.qcow2"] },
      { what: 'snapshot "s1" saved definition, disk vdb', chain: [], volume: { pool: "pl", name: "v.qcow2" } },
    ]);
    const live = `<domain><devices><disk type="file"><source file="/o/top.qcow2"/><backingStore type="file"><source file="/p/mid.qcow2"><dataStore type="file"><source file="/p/data.raw"/></dataStore></source>
      <backingStore type="file"><source file="/p/base.qcow2"/><backingStore/></backingStore></backingStore><target dev="vda"/></disk></devices></domain>`;
    expect(storage.domainXmlReferences(live)).toEqual([
      { what: "disk vda", chain: ["/o/top.qcow2", "/p/mid.qcow2", "/p/data.raw", "/p/base.qcow2"] },
    ]);
  });

  it("names the chain through which each domain and volume needs it", () => {
    const d = teardown.planVolumeDelete(
      {
        ...facts,
        usedBy: ["web"],
        usedVia: { web: ["disk vda: /o/top.qcow2 → /p/base.qcow2", 'snapshot "s1" memory state: /p/base.qcow2'] },
        backingOf: ["p/mid.qcow2"],
        backingVia: { "p/mid.qcow2": "/p/mid.qcow2 → /p/base.qcow2" },
      },
      { deleteSnapshotDataOnDestroy: true },
    );
    expect((d as { message: string }).message).toMatch(
      /1 domain still uses it as a disk \("web"\) \(through: "web" disk vda: \/o\/top.qcow2 → \/p\/base.qcow2, snapshot "s1" memory state: \/p\/base.qcow2\)\..*backing file of 1 volume \("p\/mid.qcow2"\) \(through: "p\/mid.qcow2" \/p\/mid.qcow2 → \/p\/base.qcow2\)/,
    );
  });

  it("deleteSnapshotDataOnDestroy (or its environment variable) allows the snapshots, never a disk in use", () => {
    const snap = { ...facts, snapshots: { names: ["s1"], count: 1, via: "qemu-img" } };
    expect(teardown.planVolumeDelete(snap, { deleteSnapshotDataOnDestroy: true })).toEqual({ allowed: true });
    expect(teardown.effectiveVolumeOptions({}, { [teardown.DELETE_SNAPSHOT_DATA_ENV]: "1" })).toEqual({ deleteSnapshotDataOnDestroy: true });
    expect(teardown.planVolumeDelete({ ...snap, usedBy: ["web"] }, { deleteSnapshotDataOnDestroy: true }).allowed).toBe(false);
  });

  it("refuses when the snapshot check itself failed, unless opted in", () => {
    const d = teardown.planVolumeDelete({ ...facts, snapshots: { error: "permission denied" } }, none);
    expect((d as { message: string }).message).toMatch(/could not be checked for internal snapshots \(permission denied\)/);
    expect(teardown.planVolumeDelete({ ...facts, snapshots: { error: "x" } }, { deleteSnapshotDataOnDestroy: true }).allowed).toBe(true);
  });

  it("a pool's pre-existing files are never a reason to refuse; other volumes are, until deleteVolumesOnDestroy", () => {
    const pool = { name: "p", path: "/p", volumes: ["iso.img", "web.qcow2"], preexisting: ["iso.img"] };
    const d = teardown.planPoolDelete(pool, { deleteVolumesOnDestroy: false });
    expect((d as { message: string }).message).toMatch(
      /holds 1 volume \("web.qcow2"\).*deleteVolumesOnDestroy: true.*the 1 file that was in the directory before the pool was created is kept/,
    );
    expect(teardown.planPoolDelete(pool, { deleteVolumesOnDestroy: true })).toEqual({ allowed: true });
    expect(teardown.planPoolDelete({ ...pool, volumes: ["iso.img"] }, { deleteVolumesOnDestroy: false })).toEqual({ allowed: true });
    expect(teardown.heldVolumes(pool)).toEqual(["web.qcow2"]);
  });

  it("deletes overlays before the images they are built on", () => {
    const order = teardown.overlaysFirst(
      new Map([
        ["/b", undefined],
        ["/top", "/mid"],
        ["/mid", "/b"],
        ["/other", undefined],
      ]),
    );
    expect(order.indexOf("/top")).toBeLessThan(order.indexOf("/mid"));
    expect(order.indexOf("/mid")).toBeLessThan(order.indexOf("/b"));
    expect(order).toHaveLength(4);
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
    expect(storage.checkPoolInputs({ name: "p", path: "/srv//images/" }).inputs).toMatchObject({
      path: "/srv/images",
      autostart: false,
      deleteVolumesOnDestroy: false,
    });
  });

  it("local and remote URIs", () => {
    expect(storage.isLocalUri("qemu:///system")).toBe(true);
    expect(storage.isLocalUri("qemu+unix:///system")).toBe(true);
    expect(storage.isLocalUri("qemu+ssh://host/system")).toBe(false);
    expect(storage.isLocalUri("qemu+tcp://10.0.0.1/system")).toBe(false);
  });
});
