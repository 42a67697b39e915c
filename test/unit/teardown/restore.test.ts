// The restore rules (provider/teardown/restore.ts), pure: the archive's checks,
// which snapshots are redefined in which order and which are skipped, the
// contents judgement per need, and the embedded domain's renaming.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { built } from "../../helpers/lib";
import {
  ARCHIVE_FORMAT,
  describeRestore,
  missingContents,
  parseArchive,
  planRestore,
  snapshotXmlFor,
  type ImageCheck,
  type RestorableSnapshot,
} from "../../../provider/teardown/restore";
import { parseMark } from "../../../provider/domain/restore-mark";

const snap = (name: string, parent: string | null, isCurrent = false): RestorableSnapshot => ({
  name,
  parent,
  isCurrent,
  creationTime: 1,
  xml: `<domainsnapshot><name>${name}</name></domainsnapshot>`,
});

const archiveText = (over: Record<string, unknown> = {}, snapshots: unknown[] = [snap("a", null, true)]) =>
  JSON.stringify({ format: ARCHIVE_FORMAT, version: 1, secure: false, domain: { name: "web", uuid: "u", xml: "<domain/>" }, snapshots, ...over });

describe("parseArchive", () => {
  it("accepts an archive as archive.ts writes it", () => {
    const a = parseArchive(archiveText(), "file /x.json");
    expect(a.domain.name).toBe("web");
    expect(a.snapshots.map((s) => s.name)).toEqual(["a"]);
  });
  it.each([
    ["not JSON", "{", /file \/x\.json is not a snapshot archive .*: it is not JSON/],
    ["another format", archiveText({ format: "other" }), /"format" is not "libvirt-pulumi-snapshot-archive"/],
    ["a newer version", archiveText({ version: 2 }), /version 2, written by a newer provider .*upgrade the provider/],
    ["no version", archiveText({ version: undefined }), /"version" is undefined, not 1/],
    ["no domain", archiveText({ domain: null }), /"domain" must have a name, uuid and xml/],
    ["snapshots not a list", archiveText({ snapshots: {} }), /"snapshots" is not a list/],
    ["a nameless snapshot", archiveText({}, [{ parent: null, isCurrent: false, xml: "<domainsnapshot/>" }]), /snapshots\[0\] has no name/],
    ["a name twice", archiveText({}, [snap("a", null), snap("a", null)]), /snapshots\[1\]: the name "a" appears twice/],
    ["a bad parent", archiveText({}, [{ ...snap("a", null), parent: 3 }]), /"parent" must be a name or null/],
    ["no isCurrent", archiveText({}, [{ ...snap("a", null), isCurrent: "yes" }]), /"isCurrent" must be true or false/],
    ["xml that is no snapshot", archiveText({}, [{ ...snap("a", null), xml: "<domain/>" }]), /"xml" is not a <domainsnapshot> document/],
    ["two current", archiveText({}, [snap("a", null, true), snap("b", "a", true)]), /more than one snapshot is marked current/],
  ])("refuses %s", (_, text, message) => {
    expect(() => parseArchive(text, "file /x.json")).toThrow(message);
  });
});

describe("planRestore", () => {
  const tree = [snap("s1", null), snap("s2", "s1"), snap("s3", "s2", true), snap("other", "s1")];

  it("everything there: redefined parents first in the archive's order, current on the current one", () => {
    expect(planRestore(tree, new Map())).toEqual({
      redefine: [
        { name: "s1", current: false },
        { name: "s2", current: false },
        { name: "s3", current: true },
        { name: "other", current: false },
      ],
      skipped: [],
    });
  });

  it("a child listed before its parent is still redefined after it", () => {
    const plan = planRestore([snap("child", "root"), snap("root", null)], new Map());
    expect(plan.redefine.map((r) => r.name)).toEqual(["root", "child"]);
  });

  it("contents gone: the snapshot and its descendants are skipped with why, its siblings restored", () => {
    const plan = planRestore(tree, new Map([["s2", "the internal snapshot is gone"]]));
    expect(plan.redefine.map((r) => r.name)).toEqual(["s1", "other"]);
    expect(plan.skipped).toEqual([
      { name: "s2", reason: "the internal snapshot is gone" },
      { name: "s3", reason: 'its parent "s2" is skipped' },
    ]);
  });

  it("a root's contents gone: the whole tree under it is skipped", () => {
    const plan = planRestore(tree, new Map([["s1", "gone"]]));
    expect(plan.redefine).toEqual([]);
    expect(plan.skipped.map((s) => s.name)).toEqual(["s1", "s2", "s3", "other"]);
  });

  it("a parent missing from the archive, and a loop: skipped, never redefined", () => {
    const plan = planRestore([snap("orphan", "nowhere"), snap("x", "y"), snap("y", "x")], new Map());
    expect(plan.redefine).toEqual([]);
    expect(plan.skipped).toContainEqual({ name: "orphan", reason: 'its parent "nowhere" is not in the archive' });
    expect(plan.skipped.map((s) => s.name).sort()).toEqual(["orphan", "x", "y"]);
    expect(plan.skipped.find((s) => s.name === "x")?.reason).toBe('its parent chain loops ("x" → "y" → "x")');
    expect(plan.skipped.find((s) => s.name === "y")?.reason).toBe('its parent "x" is skipped');
  });

  it("the report names what was restored and what skipped, and a skipped current one", () => {
    const plan = planRestore(tree, new Map([["s3", "its overlay is gone"]]));
    const text = describeRestore("web", "file /a.json", plan, tree);
    expect(text).toContain('domain "web": restored 3 snapshots "s1", "s2", "other" from file /a.json');
    expect(text).toContain('skipped 1 snapshot, never redefined blind: "s3" (its overlay is gone)');
    expect(text).toContain('the archive\'s current snapshot "s3" is skipped, so the domain has no current snapshot');
  });
});

describe("missingContents", () => {
  const qcow2 = (snapshots: string[], backing?: string): ImageCheck => ({
    format: "qcow2",
    snapshots,
    via: "qemu-img",
    ...(backing ? { backing } : {}),
  });
  const images = new Map<string, ImageCheck>([
    ["/i/disk.qcow2", qcow2(["s1", "s2"])],
    ["/i/raw.img", { format: "other", snapshots: [], via: "x" }],
    ["/i/overlay.qcow2", qcow2([], "/i/disk.qcow2")],
    ["/i/gone.qcow2", { error: "ENOENT: no such file" }],
  ]);
  it.each<[string, Parameters<typeof missingContents>[1], RegExp | undefined]>([
    ["internal, listed", [{ kind: "internal", target: "vda", path: "/i/disk.qcow2" }], undefined],
    [
      "internal, not listed",
      [{ kind: "internal", target: "vda", path: "/i/disk.qcow2" }],
      /the internal snapshot "s9" is not in the image \/i\/disk\.qcow2 of its disk vda \(qemu-img: its snapshots are "s1", "s2"\)/,
    ],
    ["internal, image gone", [{ kind: "internal", target: "vda", path: "/i/gone.qcow2" }], /cannot be read \(ENOENT: no such file\)/],
    ["internal, raw image", [{ kind: "internal", target: "vda", path: "/i/raw.img" }], /is not qcow2, so it holds no internal snapshot/],
    ["external, right backing", [{ kind: "external", target: "vda", overlay: "/i/overlay.qcow2", base: "/i/disk.qcow2" }], undefined],
    [
      "external, other backing",
      [{ kind: "external", target: "vda", overlay: "/i/overlay.qcow2", base: "/i/other.qcow2" }],
      /overlay \/i\/overlay\.qcow2 .* is backed by \/i\/disk\.qcow2, not by \/i\/other\.qcow2/,
    ],
    ["external, overlay gone", [{ kind: "external", target: "vda", overlay: "/i/gone.qcow2", base: "/i/disk.qcow2" }], /overlay .* cannot be read/],
    ["external, no backing", [{ kind: "external", target: "vda", overlay: "/i/disk.qcow2", base: "/x" }], /backed by no image/],
    ["memory file gone", [{ kind: "memory", path: "/i/gone.qcow2" }], /memory state file \/i\/gone\.qcow2 cannot be read/],
    ["a block device", [{ kind: "unverifiable", target: "vdb", why: "it is a block disk" }], /disk vdb cannot be checked: it is a block disk/],
  ])("%s", (_, needs, expected) => {
    const got = missingContents(expected === undefined ? "s1" : "s9", needs, images);
    if (expected === undefined) expect(got).toBeUndefined();
    else expect(got).toMatch(expected);
  });
});

describe("snapshotXmlFor", () => {
  it("renames the embedded domain and inactive domain, keeping everything else in order", () => {
    const xml =
      "<domainsnapshot><name>s1</name><description> two  spaces </description><domain type='kvm'><name>old</name><uuid>1111</uuid><memory>1</memory></domain>" +
      "<inactiveDomain type='kvm'><name>old</name><uuid>1111</uuid></inactiveDomain></domainsnapshot>";
    const out = snapshotXmlFor(xml, { name: "new", uuid: "2222" });
    expect(out).toContain("<name>s1</name><description> two  spaces </description>");
    expect(out).toMatch(/<domain type="kvm"><name>new<\/name><uuid>2222<\/uuid><memory>1<\/memory><\/domain>/);
    expect(out).toMatch(/<inactiveDomain type="kvm"><name>new<\/name><uuid>2222<\/uuid><\/inactiveDomain>/);
    expect(out).not.toContain("1111");
  });
});

describe("the restore mark", () => {
  it("reads the entries with or without libvirt's namespace prefix", () => {
    expect(parseMark(null)).toEqual([]);
    expect(parseMark('<restored xmlns="x"><snapshot name="a" creationTime="5"/><snapshot name="b"/></restored>')).toEqual([
      { name: "a", creationTime: 5 },
      { name: "b", creationTime: null },
    ]);
    expect(parseMark('<lvp:restored xmlns:lvp="x"><lvp:snapshot name="a" creationTime="5"/></lvp:restored>')).toEqual([
      { name: "a", creationTime: 5 },
    ]);
  });
});

describe("imageContents on this host's files (what the restore reads of an image)", () => {
  const { imageContents } = built<typeof import("../../../provider/storage/image-probe")>("provider/storage/image-probe");
  const dir = mkdtempSync(join(tmpdir(), "lvp-restore-unit-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const noVolume = async () => null;

  it("lists the internal snapshots qemu-img made, and an overlay's backing file resolved against its directory", async () => {
    const base = join(dir, "base.qcow2");
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", base, "1M"]);
    for (const s of ["one", "two"]) execFileSync("qemu-img", ["snapshot", "-c", s, base]);
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", "base.qcow2", join(dir, "top.qcow2")]);
    writeFileSync(join(dir, "raw.img"), Buffer.alloc(4096));
    expect(await imageContents(true, base, noVolume)).toEqual({ format: "qcow2", snapshots: ["one", "two"], via: "qcow2 header read from the file" });
    expect(await imageContents(true, join(dir, "top.qcow2"), noVolume)).toMatchObject({
      format: "qcow2",
      snapshots: [],
      backingFile: { named: "base.qcow2", path: base },
    });
    expect(await imageContents(true, join(dir, "raw.img"), noVolume)).toMatchObject({ format: "other", snapshots: [] });
    await expect(imageContents(true, join(dir, "gone.qcow2"), noVolume)).rejects.toThrow(/ENOENT/);
    await expect(imageContents(false, base, noVolume)).rejects.toThrow(/no running storage pool of the remote hypervisor holds/);
  });
});
