// Domain XML: built with a real XML library (no injection), defaults for disk
// targets/bus/format, MAC carry-over, the raw-xml path, EFI, and parsing back.
import { XMLParser } from "fast-xml-parser";
import { afterAll, describe, expect, it } from "vitest";
import { built as builtModule, provider } from "../helpers/lib";
import type { DomainInputs } from "../../provider/domain/inputs";
import { assignMacs, assignTargets } from "../../provider/domain/xml";

const { domainProvider, withConnection, closeAllConnections } = provider;
const { buildDomainXml, parseDomainXml } = builtModule<typeof import("../../provider/domain/xml")>("provider/domain/xml");
const { checkDomainInputs } = builtModule<typeof import("../../provider/domain/inputs")>("provider/domain/inputs");

afterAll(() => closeAllConnections());

/** Inputs as check makes them, then overridden without check (build must be safe on its own). */
function inputs(over: Partial<DomainInputs> = {}): DomainInputs {
  const { inputs: checked } = checkDomainInputs({ name: "web", memoryMiB: 256 });
  return { ...checked!, ...over };
}

// An independent parser: arrays everywhere, attributes kept, document order.
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  isArray: (_name, _path, _leaf, isAttribute) => !isAttribute,
  parseTagValue: false,
  trimValues: false,
});
type Node = Record<string, unknown[]>;
const domainOf = (xml: string) => ((parser.parse(xml) as Node).domain as Node[])[0];
const disksOf = (xml: string) =>
  (((domainOf(xml).devices as Node[])?.[0]?.disk ?? []) as Array<Record<string, any>>).map((d) => ({
    device: d["@device"],
    file: d.source[0]["@file"],
    format: d.driver?.[0]["@type"],
    target: d.target[0]["@dev"],
    bus: d.target[0]["@bus"],
    readonly: d.readonly !== undefined,
  }));

const elementNames = (node: object) => Object.keys(node).filter((k) => !k.startsWith("#") && !k.startsWith("@"));

const INJECTED_NAME = "x</name><devices>";
const INJECTED_DESCRIPTION =
  "</description><devices><disk type='file' device='disk'><source file='/etc/shadow'/><target dev='vdz'/></disk></devices><description>";

describe("no XML injection", () => {
  const xml = buildDomainXml(inputs({ name: INJECTED_NAME, description: INJECTED_DESCRIPTION }), { type: "test" });

  it("name and description read back exactly as given", () => {
    const observed = parseDomainXml(xml);
    expect(observed.name).toBe(INJECTED_NAME);
    expect(observed.description).toBe(INJECTED_DESCRIPTION);
  });

  it("no element was injected: one name, one description, no disk", () => {
    const domain = domainOf(xml);
    expect(domain.name).toHaveLength(1);
    expect(domain.description).toHaveLength(1);
    expect(domain.devices ?? []).toHaveLength(domain.devices ? 1 : 0);
    expect(disksOf(xml)).toEqual([]);
    expect(xml).not.toContain("<disk");
    expect(xml).not.toContain("<source file='/etc/shadow'");
  });

  it("attribute values are escaped too", () => {
    const file = `/img/a".qcow2"/><disk file="/etc/shadow`;
    const x = buildDomainXml(inputs({ disks: [{ file }] }), { type: "test" });
    expect(disksOf(x)).toEqual([{ device: "disk", file, format: "raw", target: "vda", bus: "virtio", readonly: false }]);
  });

  it("check refuses that name before anything is built", async () => {
    const { failures } = await domainProvider.check!({}, { name: INJECTED_NAME, memoryMiB: 64 });
    expect(failures).toEqual([{ property: "name", reason: expect.stringMatching(/XML characters are not allowed/) }]);
  });

  it("libvirt (test driver) stores the injected description as text, with no extra device", async () => {
    const name = `xml-inject-${process.pid}`;
    const built = buildDomainXml(inputs({ name, description: INJECTED_DESCRIPTION }), { type: "test" });
    const stored = await withConnection({ uri: "test:///default" }, async (conn) => {
      const dom = await conn.defineDomain(built, 0, name);
      try {
        return await dom.xml({ inactive: true });
      } finally {
        await dom.undefine(0);
        dom.free();
      }
    });
    expect(parseDomainXml(stored).description).toBe(INJECTED_DESCRIPTION);
    expect(disksOf(stored)).toEqual([]);
  });
});

describe("disk defaults", () => {
  it("explicit targets first, then the next free name per bus; format from the extension; cdroms read-only", () => {
    const xml = buildDomainXml(
      inputs({
        disks: [
          { file: "/img/a.qcow2" },
          { file: "/img/b.img" },
          { file: "/img/c.iso", device: "cdrom" },
          { file: "/img/d.raw", bus: "sata" },
          { file: "/img/e.qcow2", target: "vda" },
          { file: "/img/f.QCOW2", format: "raw", readOnly: true },
          { file: "/img/g.img", bus: "scsi" },
        ],
      }),
      { type: "kvm" },
    );
    expect(disksOf(xml)).toEqual([
      { device: "disk", file: "/img/a.qcow2", format: "qcow2", target: "vdb", bus: "virtio", readonly: false },
      { device: "disk", file: "/img/b.img", format: "raw", target: "vdc", bus: "virtio", readonly: false },
      { device: "cdrom", file: "/img/c.iso", format: "raw", target: "hda", bus: "ide", readonly: true },
      { device: "disk", file: "/img/d.raw", format: "raw", target: "sda", bus: "sata", readonly: false },
      { device: "disk", file: "/img/e.qcow2", format: "qcow2", target: "vda", bus: "virtio", readonly: false },
      { device: "disk", file: "/img/f.QCOW2", format: "raw", target: "vdd", bus: "virtio", readonly: true },
      { device: "disk", file: "/img/g.img", format: "raw", target: "sdb", bus: "scsi", readonly: false },
    ]);
  });

  it("a cdrom on q35 goes on sata (q35 has no IDE)", () => {
    const xml = buildDomainXml(inputs({ machine: "q35", disks: [{ file: "/img/c.iso", device: "cdrom" }] }), { type: "kvm" });
    expect(disksOf(xml)).toEqual([{ device: "cdrom", file: "/img/c.iso", format: "raw", target: "sda", bus: "sata", readonly: true }]);
  });

  it("memory, vcpus and domain type as given", () => {
    const xml = buildDomainXml(inputs({ vcpus: 3 }), { type: "qemu" });
    expect(parseDomainXml(xml)).toMatchObject({ name: "web", type: "qemu", memoryMiB: 256, vcpus: 3, hasNvram: false, macs: [] });
  });
});

describe("qemuGuestAgent", () => {
  const channels = (xml: string) => ((domainOf(xml).devices as Node[])[0].channel ?? []) as Array<Record<string, any>>;

  it("adds one unix channel named org.qemu.guest_agent.0 (libvirt picks its socket path); none without it", () => {
    const withAgent = channels(buildDomainXml(inputs({ qemuGuestAgent: true }), { type: "qemu" }));
    expect(withAgent.map((c) => [c["@type"], c.target[0]["@type"], c.target[0]["@name"], c.source])).toEqual([
      ["unix", "virtio", "org.qemu.guest_agent.0", undefined],
    ]);
    expect(channels(buildDomainXml(inputs({ qemuGuestAgent: false }), { type: "qemu" }))).toEqual([]);
    expect(channels(buildDomainXml(inputs(), { type: "qemu" }))).toEqual([]);
  });

  it("is a typed machine input: refused together with xml", () => {
    const xml = "<domain type='test'><name>web</name><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>";
    expect(checkDomainInputs({ name: "web", xml, qemuGuestAgent: true }).failures).toEqual([
      { property: "qemuGuestAgent", reason: expect.stringMatching(/cannot be combined with xml/) },
    ]);
  });
});

describe("disk targets beyond vdz (issue 11 item 12c)", () => {
  it("64 disks get vda..vdz, vdaa..vdbl, all distinct; explicit targets are skipped", () => {
    const t = assignTargets(Array.from({ length: 64 }, (_, n) => ({ file: `/d${n}.qcow2` }))).map((x) => x.target);
    expect(t.slice(0, 3)).toEqual(["vda", "vdb", "vdc"]);
    expect(t.slice(24, 29)).toEqual(["vdy", "vdz", "vdaa", "vdab", "vdac"]);
    expect(t[63]).toBe("vdbl");
    expect(new Set(t).size).toBe(64);
    const mixed = assignTargets([{ file: "/x", target: "vdaa" }, ...Array.from({ length: 27 }, (_, n) => ({ file: `/d${n}` }))]).map((x) => x.target);
    expect(mixed.slice(-2)).toEqual(["vdz", "vdab"]);
  });

  it("the schema accepts every name it assigns, and a cdrom's sd/hd names too", () => {
    const disks = Array.from({ length: 64 }, (_, n) => ({
      file: `/d${n}.qcow2`,
      target: assignTargets(Array.from({ length: 64 }, () => ({ file: "/x" })))[n].target,
    }));
    expect(checkDomainInputs({ name: "web", memoryMiB: 64, disks }).failures).toEqual([]);
    expect(
      checkDomainInputs({ name: "web", memoryMiB: 64, disks: [{ file: "/x.iso", device: "cdrom", bus: "sata", target: "sdab" }] }).failures,
    ).toEqual([]);
    expect(
      checkDomainInputs({ name: "web", memoryMiB: 64, disks: Array.from({ length: 65 }, (_, n) => ({ file: `/d${n}` })) }).failures[0].property,
    ).toBe("disks");
  });
});

describe("assignMacs: by interface identity, not position (issue 11 item 12b)", () => {
  const cur = (type: string, source: string, mac: string, model = "virtio") => ({ type, source, model, mac });
  const current = [
    cur("network", "default", "52:54:00:00:00:01"),
    cur("bridge", "br0", "52:54:00:00:00:02"),
    cur("network", "default", "52:54:00:00:00:03"),
  ];
  it.each<[string, Array<Record<string, string>>, Array<string | undefined>]>([
    [
      "unchanged",
      [{ network: "default" }, { bridge: "br0" }, { network: "default" }],
      ["52:54:00:00:00:01", "52:54:00:00:00:02", "52:54:00:00:00:03"],
    ],
    ["the first removed: the others keep theirs", [{ bridge: "br0" }, { network: "default" }], ["52:54:00:00:00:02", "52:54:00:00:00:01"]],
    [
      "reordered",
      [{ bridge: "br0" }, { network: "default" }, { network: "default" }],
      ["52:54:00:00:00:02", "52:54:00:00:00:01", "52:54:00:00:00:03"],
    ],
    [
      "one added in front gets none (libvirt generates it)",
      [{ network: "other" }, { network: "default" }, { bridge: "br0" }],
      [undefined, "52:54:00:00:00:01", "52:54:00:00:00:02"],
    ],
    ["a changed model is another interface", [{ network: "default", model: "e1000" }, { bridge: "br0" }], [undefined, "52:54:00:00:00:02"]],
    [
      "an explicit mac wins and is not handed out twice",
      [{ network: "default" }, { bridge: "br0", mac: "52:54:00:00:00:01" }],
      ["52:54:00:00:00:03", "52:54:00:00:00:01"],
    ],
  ])("%s", (_label, nics, expected) => {
    expect(assignMacs(nics, current)).toEqual(expected);
  });
});

describe("MAC addresses", () => {
  const nics = [{ network: "default" }, { bridge: "br0" }, { network: "default", mac: "52:54:00:00:00:03" }];

  it("without known MACs, libvirt is left to generate them", () => {
    expect(parseDomainXml(buildDomainXml(inputs({ networkInterfaces: nics }), { type: "kvm" })).macs).toEqual([
      undefined,
      undefined,
      "52:54:00:00:00:03",
    ]);
  });

  it("MACs libvirt generated earlier are carried over by interface identity; an explicit mac wins", () => {
    const interfaces = [
      { type: "network", source: "default", model: "virtio", mac: "52:54:00:aa:aa:01" },
      { type: "network", source: "default", model: "virtio", mac: "52:54:00:aa:aa:03" },
    ];
    const xml = buildDomainXml(inputs({ networkInterfaces: nics }), { type: "kvm", interfaces });
    expect(parseDomainXml(xml).macs).toEqual(["52:54:00:aa:aa:01", undefined, "52:54:00:00:00:03"]);
    const ifaces = ((domainOf(xml).devices as Node[])[0].interface as Array<Record<string, any>>).map((i) => [
      i["@type"],
      i.source[0]["@network"] ?? i.source[0]["@bridge"],
      i.model[0]["@type"],
    ]);
    expect(ifaces).toEqual([
      ["network", "default", "virtio"],
      ["bridge", "br0", "virtio"],
      ["network", "default", "virtio"],
    ]);
  });
});

describe("raw xml input", () => {
  const raw =
    "<domain type='test'><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type>hvm</type></os>" +
    "<devices><disk type='file' device='disk'><source file='/img/second.img'/><target dev='vdb'/></disk>" +
    "<disk type='file' device='disk'><source file='/img/first.img'/><target dev='vda'/></disk>" +
    "<interface type='network'><source network='default'/></interface></devices>" +
    "<description>a &amp; b &lt;c&gt;</description></domain>";

  it("keeps the element order, adds name and uuid", () => {
    const uuid = "11111111-2222-3333-4444-555555555555";
    const xml = buildDomainXml(inputs({ xml: raw, memoryMiB: undefined, vcpus: undefined }), { type: "ignored", uuid });
    const observed = parseDomainXml(xml);
    expect(observed).toMatchObject({ name: "web", uuid, type: "test", memoryMiB: 64, description: "a & b <c>" });
    expect(disksOf(xml).map((d) => d.target)).toEqual(["vdb", "vda"]);
    const order = new XMLParser({ preserveOrder: true, ignoreAttributes: false })
      .parse(xml)[0]
      .domain.map((n: object) => Object.keys(n).find((k) => k !== ":@"));
    expect(order).toEqual(["name", "uuid", "memory", "vcpu", "os", "devices", "description"]);
  });

  it("replaces a name and uuid already in the xml rather than adding a second", () => {
    const withIds = raw.replace("<memory", "<uuid>aaaaaaaa-2222-3333-4444-555555555555</uuid><name>web</name><memory");
    const xml = buildDomainXml(inputs({ xml: withIds }), { type: "", uuid: "11111111-2222-3333-4444-555555555555" });
    const domain = domainOf(xml);
    expect(domain.name).toEqual(["web"]);
    expect(domain.uuid).toEqual(["11111111-2222-3333-4444-555555555555"]);
  });

  it("the typed inputs' defaults do not leak into raw xml", () => {
    const xml = buildDomainXml(inputs({ xml: raw }), { type: "kvm" });
    expect(xml).not.toContain("256");
    expect(parseDomainXml(xml).memoryMiB).toBe(64);
  });
});

describe("EFI", () => {
  it("sets os firmware=efi and features acpi (x86 also apic)", () => {
    const xml = buildDomainXml(inputs({ firmware: "efi" }), { type: "kvm" });
    const domain = domainOf(xml) as Record<string, any>;
    expect(domain.os[0]["@firmware"]).toBe("efi");
    expect(elementNames(domain.features[0])).toEqual(expect.arrayContaining(["acpi", "apic"]));
    expect(parseDomainXml(xml).hasNvram).toBe(true);
  });

  it("on a non-x86 guest EFI still gets acpi, without apic", () => {
    const domain = domainOf(buildDomainXml(inputs({ firmware: "efi", arch: "aarch64" }), { type: "qemu" })) as Record<string, any>;
    expect(domain.os[0]["@firmware"]).toBe("efi");
    expect(elementNames(domain.features[0])).toEqual(["acpi"]);
  });

  it("BIOS is the default: no firmware attribute", () => {
    const domain = domainOf(buildDomainXml(inputs(), { type: "kvm" })) as Record<string, any>;
    expect(domain.os[0]["@firmware"]).toBeUndefined();
  });
});

describe("parseDomainXml", () => {
  it.each([
    ["KiB", "524288", 512],
    ["k", "524288", 512],
    ["MiB", "512", 512],
    ["M", "512", 512],
    ["GiB", "2", 2048],
    ["G", "2", 2048],
    ["bytes", String(64 * 1024 * 1024), 64],
    ["TiB", "1", 1024 * 1024],
    [undefined, "262144", 256],
  ])("memory unit %s", (unit, value, mib) => {
    const xml = `<domain type='kvm'><name>d</name><memory${unit ? ` unit='${unit}'` : ""}>${value}</memory></domain>`;
    expect(parseDomainXml(xml).memoryMiB).toBe(mib);
  });

  it.each([
    [
      "an <nvram> element",
      "<os><type>hvm</type><loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader><nvram>/var/lib/libvirt/qemu/nvram/d_VARS.fd</nvram></os>",
      true,
    ],
    ["firmware='efi'", "<os firmware='efi'><type>hvm</type></os>", true],
    ["a pflash loader", "<os><type>hvm</type><loader type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader></os>", true],
    ["a BIOS os", "<os><type>hvm</type><boot dev='hd'/></os>", false],
    ["no os at all", "", false],
  ])("hasNvram with %s", (_label, os, expected) => {
    expect(parseDomainXml(`<domain type='kvm'><name>d</name>${os}</domain>`).hasNvram).toBe(expected);
  });

  it("reads uuid, vcpus, description and macs as libvirt writes them", () => {
    const xml = `<domain type='kvm' id='3'>
  <name>db</name>
  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
  <description>primary</description>
  <memory unit='KiB'>1048576</memory>
  <currentMemory unit='KiB'>1048576</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <devices>
    <interface type='network'><mac address='52:54:00:8a:4b:01'/><source network='default'/></interface>
    <interface type='bridge'><source bridge='br0'/></interface>
  </devices>
</domain>`;
    expect(parseDomainXml(xml)).toEqual({
      name: "db",
      uuid: "6695eb01-f6a4-8304-79aa-97f2502e193f",
      type: "kvm",
      memoryMiB: 1024,
      vcpus: 2,
      description: "primary",
      hasNvram: false,
      hasAgentChannel: false,
      macs: ["52:54:00:8a:4b:01", undefined],
      interfaces: [
        { type: "network", source: "default", model: undefined, mac: "52:54:00:8a:4b:01" },
        { type: "bridge", source: "br0", model: undefined, mac: undefined },
      ],
    });
  });
});
