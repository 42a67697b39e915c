// issue 11 item 1, the pure half: which disks an update keeps on libvirt's current
// chain, and when it refuses. Facts in (saved and new disk inputs, libvirt's disks,
// external snapshot records), decision out. The same on real libvirt:
// test/integration/domain-update-chain.test.ts.
import { describe, expect, it } from "vitest";
import {
  definedDisks,
  externalSnapshotDisks,
  planDiskChains,
  planXmlDiskChains,
  type DefinedDisk,
  type DiskChainFacts,
} from "../../provider/domain/disk-chain";
import { buildDomainXml } from "../../provider/domain/xml";
import { checkDomainInputs } from "../../provider/domain/inputs";

const disk = (target: string, file: string, backing: string[] = []): DefinedDisk => ({
  target,
  type: "file",
  format: "qcow2",
  source: { "@file": file },
  key: `file:${file}`,
  backingKeys: backing.map((b) => `file:${b}`),
});
const facts = (over: Partial<DiskChainFacts>): DiskChainFacts => ({ domain: "web", oldDisks: [], newDisks: [], defined: [], external: [], ...over });

describe("planDiskChains", () => {
  it.each<[string, Partial<DiskChainFacts>, (string | undefined)[] | RegExp]>([
    [
      "no overlay: nothing kept",
      { oldDisks: [{ file: "/a.qcow2" }], newDisks: [{ file: "/a.qcow2" }], defined: [disk("vda", "/a.qcow2")] },
      [undefined],
    ],
    [
      "overlay, input unchanged: kept",
      { oldDisks: [{ file: "/a.qcow2" }], newDisks: [{ file: "/a.qcow2" }], defined: [disk("vda", "/a.s1")] },
      ["file:/a.s1"],
    ],
    [
      "overlay on the first of two disks: only it is kept",
      {
        oldDisks: [{ file: "/a.qcow2" }, { file: "/b.qcow2" }],
        newDisks: [{ file: "/a.qcow2" }, { file: "/b.qcow2" }],
        defined: [disk("vda", "/a.s1"), disk("vdb", "/b.qcow2")],
      },
      ["file:/a.s1", undefined],
    ],
    [
      "a disk added in front shifts targets, the overlay follows its input",
      { oldDisks: [{ file: "/a.qcow2" }], newDisks: [{ file: "/new.qcow2" }, { file: "/a.qcow2" }], defined: [disk("vda", "/a.s1")] },
      [undefined, "file:/a.s1"],
    ],
    [
      "volume disk on a file overlay: kept",
      { oldDisks: [{ volume: { pool: "p", name: "v" } }], newDisks: [{ volume: { pool: "p", name: "v" } }], defined: [disk("vda", "/ov")] },
      ["file:/ov"],
    ],
    [
      "overlay, input changed: refused",
      { oldDisks: [{ file: "/a.qcow2" }], newDisks: [{ file: "/c.qcow2" }], defined: [disk("vda", "/a.s1")] },
      /disk vda .* now runs on the overlay "\/a\.s1".*disks\[0\] \{ file: "\/c\.qcow2" \} is now there/,
    ],
    [
      "overlay, disk removed: refused",
      { oldDisks: [{ file: "/a.qcow2" }], newDisks: [], defined: [disk("vda", "/a.s1")] },
      /the disk was removed from disks/,
    ],
    [
      "overlay adopted by naming it: allowed",
      { oldDisks: [{ file: "/a.qcow2" }], newDisks: [{ file: "/a.s1", format: "qcow2" }], defined: [disk("vda", "/a.s1")] },
      [undefined],
    ],
    [
      "a new disk naming a backing image libvirt records: refused",
      { oldDisks: [{ file: "/a.qcow2" }], newDisks: [{ file: "/a.qcow2" }, { file: "/a.s1" }], defined: [disk("vda", "/a.s2", ["/a.s1"])] },
      /disks\[1\] \{ file: "\/a\.s1" \} names "\/a\.s1", which is now a backing image below the overlay "\/a\.s2" of disk vda/,
    ],
    [
      "a new disk naming an image an external snapshot recorded: refused",
      {
        oldDisks: [{ file: "/a.qcow2" }],
        newDisks: [{ file: "/a.qcow2" }, { file: "/a.s1" }],
        defined: [disk("vda", "/a.s2")],
        external: [{ snapshot: "s2", target: "vda", baseKey: "file:/a.s1", overlayKey: "file:/a.s2" }],
      },
      /names "\/a\.s1", which is now a backing image/,
    ],
    [
      "paths compared normalized",
      {
        oldDisks: [{ file: "/x/../a.qcow2" }],
        newDisks: [{ file: "/a.qcow2" }, { file: "/x//a.qcow2" }],
        defined: [disk("vda", "/a.qcow2"), disk("vdb", "/b.s1")],
      },
      [undefined, undefined],
    ],
  ])("%s", (_label, over, expected) => {
    const d = planDiskChains(facts(over));
    if (expected instanceof RegExp) {
      expect(d.allowed).toBe(false);
      expect(!d.allowed && d.message).toMatch(expected);
      expect(!d.allowed && d.message).toMatch(/Nothing was changed/);
    } else {
      expect(d.allowed).toBe(true);
      expect(d.allowed && d.keep.map((k) => k?.key)).toEqual(expected);
    }
  });
});

describe("reading libvirt's XML", () => {
  it("a running domain's persistent definition: overlay and the backing store libvirt records", () => {
    const [d] = definedDisks(`<domain><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
      <source file='/i/a.s1'/><backingStore type='file'><format type='qcow2'/><source file='/i/a.qcow2'/></backingStore>
      <target dev='vda' bus='virtio'/></disk></devices></domain>`);
    expect(d).toMatchObject({ target: "vda", type: "file", format: "qcow2", key: "file:/i/a.s1", backingKeys: ["file:/i/a.qcow2"] });
  });

  it("an external snapshot's record: the overlay it made and the image under it", () => {
    const e =
      externalSnapshotDisks(`<domainsnapshot><name>s1</name><disks><disk name='vda' snapshot='external' type='file'><source file='/i/a.s1'/></disk>
      <disk name='vdb' snapshot='no'/></disks><domain><devices><disk type='volume'><source pool='p' volume='v'/><target dev='vda'/></disk></devices></domain></domainsnapshot>`);
    expect(e).toEqual([{ snapshot: "s1", target: "vda", overlayKey: "file:/i/a.s1", baseKey: "volume:p/v" }]);
  });

  it("the kept disk goes into the built XML with its type, format, source and backing store; the cdrom as given", () => {
    const { inputs } = checkDomainInputs({
      name: "web",
      memoryMiB: 64,
      disks: [{ volume: { pool: "p", name: "v" } }, { file: "/c.iso", device: "cdrom" }],
    });
    const kept = definedDisks(
      `<domain><devices><disk type='file'><driver type='qcow2'/><source file='/ov'/><backingStore type='file'><format type='qcow2'/><source file='/p/v'/></backingStore><target dev='vda'/></disk></devices></domain>`,
    )[0];
    const built = definedDisks(buildDomainXml(inputs!, { type: "kvm", keptDisks: [kept, undefined] }));
    expect(built.map((d) => [d.target, d.type, d.format, d.key, d.backingKeys])).toEqual([
      ["vda", "file", "qcow2", "file:/ov", ["file:/p/v"]],
      ["hda", "file", "raw", "file:/c.iso", []],
    ]);
  });
});

describe("a domain given as raw xml", () => {
  const doc = (vcpus: number, disks: string) =>
    `<domain type='kvm'><name>web</name><memory unit='MiB'>64</memory><vcpu>${vcpus}</vcpu><devices>${disks}</devices></domain>`;
  const fileDisk = (file: string, target: string, extra = "") =>
    `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${file}'/><target dev='${target}' bus='virtio'/>${extra}</disk>`;
  const cdrom = `<disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>`;
  const current = definedDisks(doc(1, fileDisk("/a.s1", "vda") + fileDisk("/b.qcow2", "vdb")));

  it("unchanged <disk> elements keep the overlay; the built xml keeps the user's element order and the other disks", () => {
    const old = doc(1, cdrom + fileDisk("/a.qcow2", "vda") + fileDisk("/b.qcow2", "vdb"));
    const next = doc(2, cdrom + fileDisk("/a.qcow2", "vda") + fileDisk("/b.qcow2", "vdb"));
    const d = planXmlDiskChains("web", old, next, current, []);
    expect(d.allowed).toBe(true);
    expect(d.allowed && d.keep.map((k) => k?.key)).toEqual([undefined, "file:/a.s1", undefined]);
    const built = buildDomainXml({ name: "web", xml: next } as never, {
      type: "kvm",
      uuid: "6695eb01-f6a4-8304-79aa-97f2502e193f",
      keptDisks: d.allowed ? d.keep : [],
    });
    expect(definedDisks(built).map((x) => [x.target, x.key])).toEqual([
      ["hdc", undefined],
      ["vda", "file:/a.s1"],
      ["vdb", "file:/b.qcow2"],
    ]);
    expect(built).toMatch(/<vcpu>2<\/vcpu>/);
    expect(built.indexOf('<source file="/a.s1"')).toBeGreaterThan(built.indexOf("<driver"));
    expect(built.indexOf('<source file="/a.s1"')).toBeLessThan(built.indexOf('<target dev="vda"'));
  });

  it("a changed <disk> element of a disk on an overlay is refused, saying how to adopt the overlay", () => {
    const old = doc(1, fileDisk("/a.qcow2", "vda"));
    const next = doc(1, fileDisk("/c.qcow2", "vda"));
    const d = planXmlDiskChains("web", old, next, current, []);
    expect(d.allowed).toBe(false);
    expect(!d.allowed && d.message).toMatch(
      /its disk vda \(saved input the xml input's <disk> for vda \(source "\/a\.qcow2"\)\) now runs on the overlay "\/a\.s1".*set that <disk>'s <source> in the xml input to the overlay "\/a\.s1"/,
    );
    expect(planXmlDiskChains("web", old, doc(1, fileDisk("/a.s1", "vda")), current, []).allowed).toBe(true);
  });
});
