// Domain XML: built from the typed inputs (or the user's raw XML with name and
// UUID filled in), and read back into the facts the provider reports.
import {
  buildXml,
  child,
  compact,
  editElement,
  exactChildText,
  many,
  orderedChildren,
  parseOrdered,
  parseXml,
  setChildText,
  text,
  type OrderedNode,
  type XmlNode,
} from "../xml/xml";
import type { DefinedDisk } from "./disk-chain";
import type { DiskInput, DomainInputs, NetworkInterfaceInput } from "./inputs";

export interface BuildContext {
  /** The domain type libvirt should use (kvm, qemu, or test on the test driver). */
  type: string;
  /** Set when redefining an existing domain: libvirt matches definitions by UUID. */
  uuid?: string;
  /**
   * The interfaces of the definition being replaced: the MAC address libvirt generated
   * for each is kept for the input interface of the same identity (see assignMacs).
   */
  interfaces?: ObservedInterface[];
  /**
   * By disk index: libvirt's current disk (an external snapshot's overlay and the
   * backing store it records) to keep instead of the image the input names.
   */
  keptDisks?: Array<DefinedDisk | undefined>;
}

const BUS_PREFIX: Record<string, string> = { virtio: "vd", sata: "sd", scsi: "sd", usb: "sd", ide: "hd" };

export function defaultDiskFormat(file: string): "raw" | "qcow2" {
  return /\.qcow2$/i.test(file) ? "qcow2" : "raw";
}

function defaultBus(disk: DiskInput, machine: string | undefined): string {
  if (disk.device !== "cdrom") return "virtio";
  return machine && /q35/.test(machine) ? "sata" : "ide";
}

/** The n-th device suffix as Linux and libvirt count them: a..z, then aa..az, ba.. (0 → "a", 26 → "aa"). */
export function deviceSuffix(n: number): string {
  let out = "";
  for (let k = n + 1; k > 0; k = Math.floor((k - 1) / 26)) out = String.fromCharCode(97 + ((k - 1) % 26)) + out;
  return out;
}

/** Device names: explicit targets first, then the next free name for each bus prefix. */
export function assignTargets(disks: DiskInput[], machine?: string): Array<{ target: string; bus: string }> {
  const used = new Set(disks.map((d) => d.target).filter((t): t is string => !!t));
  return disks.map((d) => {
    const bus = d.bus ?? defaultBus(d, machine);
    if (d.target) return { target: d.target, bus };
    const prefix = BUS_PREFIX[bus];
    for (let n = 0; ; n++) {
      const candidate = prefix + deviceSuffix(n);
      if (!used.has(candidate)) {
        used.add(candidate);
        return { target: candidate, bus };
      }
    }
  });
}

function osNode(i: DomainInputs): XmlNode {
  return compact({
    "@firmware": i.firmware === "efi" ? "efi" : undefined,
    type: compact({ "@arch": i.arch, "@machine": i.machine, "#text": "hvm" }),
    kernel: i.kernel,
    initrd: i.initrd,
    cmdline: i.cmdline,
    boot: i.bootDevices?.map((dev) => ({ "@dev": dev })),
  });
}

/** What identifies an interface across redefinitions: where it connects and its model. */
function interfaceKey(type: string, source: string | undefined, model: string | undefined): string {
  return `${type}:${source ?? ""}|${model ?? "virtio"}`;
}

/**
 * The MAC address for each input interface. An explicit `mac` wins. Otherwise the
 * address libvirt generated for the current interface of the same identity
 * (network or bridge name, and model) is kept, the n-th such input taking the n-th
 * such interface. Not by position: removing the first NIC must not move its MAC to
 * the next one (a DHCP reservation or firewall rule would follow it).
 */
export function assignMacs(nics: NetworkInterfaceInput[], current: ObservedInterface[] = []): Array<string | undefined> {
  const explicit = new Set(nics.map((n) => n.mac?.toLowerCase()).filter(Boolean));
  const free = current.filter((c) => c.mac && !explicit.has(c.mac.toLowerCase()));
  return nics.map((nic) => {
    if (nic.mac) return nic.mac;
    const key = nic.network !== undefined ? interfaceKey("network", nic.network, nic.model) : interfaceKey("bridge", nic.bridge, nic.model);
    const at = free.findIndex((c) => interfaceKey(c.type, c.source, c.model) === key);
    return at < 0 ? undefined : free.splice(at, 1)[0].mac;
  });
}

function devicesNode(i: DomainInputs, ctx: BuildContext): XmlNode {
  const disks = i.disks ?? [];
  const macs = assignMacs(i.networkInterfaces ?? [], ctx.interfaces);
  const targets = assignTargets(disks, i.machine);
  return compact({
    disk: disks.map((d, n) => {
      const kept = ctx.keptDisks?.[n];
      const format = d.format ?? defaultDiskFormat(d.file ?? d.volume!.name);
      return compact({
        "@type": kept ? kept.type : d.volume ? "volume" : "file",
        "@device": d.device ?? "disk",
        driver: { "@name": "qemu", "@type": kept ? (kept.format ?? format) : format },
        source: kept ? kept.source : d.volume ? { "@pool": d.volume.pool, "@volume": d.volume.name } : { "@file": d.file! },
        backingStore: kept?.backingStore,
        target: { "@dev": targets[n].target, "@bus": targets[n].bus },
        readonly: d.readOnly || d.device === "cdrom" ? "" : undefined,
      });
    }),
    interface: (i.networkInterfaces ?? []).map((nic, n) =>
      compact({
        "@type": nic.network !== undefined ? "network" : "bridge",
        mac: macs[n] ? { "@address": macs[n] } : undefined,
        source: nic.network !== undefined ? { "@network": nic.network } : { "@bridge": nic.bridge! },
        model: { "@type": nic.model ?? "virtio" },
      }),
    ),
    graphics: i.graphics ? { "@type": i.graphics, "@autoport": "yes" } : undefined,
    serial: i.serialConsole ? { "@type": "pty", target: { "@port": "0" } } : undefined,
    console: i.serialConsole ? { "@type": "pty", target: { "@type": "serial", "@port": "0" } } : undefined,
    // libvirt picks the host-side socket path (under its channel directory) itself.
    channel: i.qemuGuestAgent ? { "@type": "unix", target: { "@type": "virtio", "@name": "org.qemu.guest_agent.0" } } : undefined,
  });
}

/** The domain XML for typed inputs; every value goes through the XML builder's escaping. */
export function buildDomainXml(i: DomainInputs, ctx: BuildContext): string {
  if (i.xml !== undefined) return withIdentity(i.xml, i.name, ctx.uuid, ctx.keptDisks);
  const x86 = i.arch === undefined || /^(x86_64|i686)$/.test(i.arch);
  return buildXml({
    domain: compact({
      "@type": ctx.type,
      name: i.name,
      uuid: ctx.uuid,
      description: i.description,
      memory: { "@unit": "MiB", "#text": String(i.memoryMiB) },
      vcpu: String(i.vcpus ?? 1),
      os: osNode(i),
      // EFI firmware needs ACPI; every modern x86 guest expects ACPI and APIC.
      features: x86 || i.firmware === "efi" ? { acpi: "", apic: x86 ? "" : undefined } : undefined,
      devices: devicesNode(i, ctx),
    }),
  });
}

// Raw XML keeps its element order (device order matters to guests): it is
// edited in the order-preserving form (provider/xml/xml.ts).

/**
 * Puts a kept disk's chain (type, format, source, backing store) into a raw xml
 * `<disk>` element, leaving the rest of it (target, bus, order) as the user wrote it.
 */
function keepChain(disk: OrderedNode, kept: DefinedDisk): void {
  const children = disk.disk as OrderedNode[];
  disk[":@"] = { ...disk[":@"], "@type": kept.type };
  const driver = children.find((n) => "driver" in n);
  if (kept.format && driver) driver[":@"] = { ...driver[":@"], "@type": kept.format };
  const chain = parseOrdered(`<chain>${buildXml(compact({ source: kept.source, backingStore: kept.backingStore }))}</chain>`);
  const replacement = orderedChildren(chain, "chain")!.filter((n) => !("#text" in n));
  const at = children.findIndex((n) => "source" in n);
  const rest = children.filter((n) => !("source" in n) && !("backingStore" in n));
  rest.splice(at < 0 ? rest.length : Math.min(at, rest.length), 0, ...replacement);
  disk.disk = rest;
}

function withIdentity(xml: string, name: string, uuid: string | undefined, keptDisks?: Array<DefinedDisk | undefined>): string {
  return editElement(xml, "domain", (body) => {
    if (keptDisks?.some(Boolean)) {
      // The n-th <disk> with a target, as definedDisks counts them.
      const disks = (orderedChildren(body, "devices") ?? []).filter((n) => "disk" in n && (n.disk as OrderedNode[]).some((c) => "target" in c));
      disks.forEach((d, n) => keptDisks[n] && keepChain(d, keptDisks[n]!));
    }
    if (uuid) setChildText(body, "uuid", uuid, { keepAttributes: true });
    setChildText(body, "name", name, { keepAttributes: true });
  });
}

/** What the provider reports from a domain's XML. */
export interface ObservedDomain {
  name?: string;
  uuid?: string;
  type?: string;
  memoryMiB?: number;
  vcpus?: number;
  description?: string;
  hasNvram: boolean;
  /** The QEMU guest agent's virtio channel (org.qemu.guest_agent.0) is defined. */
  hasAgentChannel: boolean;
  macs: Array<string | undefined>;
  interfaces: ObservedInterface[];
}

/** An interface of a definition: its identity (type, network or bridge name, model) and MAC. */
export interface ObservedInterface {
  type: string;
  source?: string;
  model?: string;
  mac?: string;
}

const KIB_PER_UNIT: Record<string, number> = {
  b: 1 / 1024,
  bytes: 1 / 1024,
  k: 1,
  kib: 1,
  kb: 1000 / 1024,
  m: 1024,
  mib: 1024,
  mb: 1e6 / 1024,
  g: 1024 ** 2,
  gib: 1024 ** 2,
  gb: 1e9 / 1024,
  t: 1024 ** 3,
  tib: 1024 ** 3,
};

export function parseDomainXml(xml: string): ObservedDomain {
  const domain = child(parseXml(xml), "domain") ?? {};
  const memory = child(domain, "memory");
  const unit = String(memory?.["@unit"] ?? "KiB").toLowerCase();
  const memText = text(memory);
  const os = child(domain, "os");
  return {
    name: text(domain.name),
    uuid: text(domain.uuid),
    type: domain["@type"] as string | undefined,
    memoryMiB: memText === undefined ? undefined : Math.round((Number(memText) * (KIB_PER_UNIT[unit] ?? 1)) / 1024),
    vcpus: text(domain.vcpu) === undefined ? undefined : Number(text(domain.vcpu)),
    description: domain.description === undefined ? undefined : exactChildText(xml, "domain", "description"),
    hasNvram: !!os && (os.nvram !== undefined || os["@firmware"] === "efi" || child(os, "loader")?.["@type"] === "pflash"),
    hasAgentChannel: many(child(domain, "devices")?.channel).some((c) => child(c, "target")?.["@name"] === "org.qemu.guest_agent.0"),
    macs: many(child(domain, "devices")?.interface).map((nic) => child(nic, "mac")?.["@address"] as string | undefined),
    interfaces: many(child(domain, "devices")?.interface).map((nic) => {
      const source = child(nic, "source");
      return {
        type: String(nic["@type"] ?? ""),
        source: (source?.["@network"] ?? source?.["@bridge"]) as string | undefined,
        model: child(nic, "model")?.["@type"] as string | undefined,
        mac: child(nic, "mac")?.["@address"] as string | undefined,
      };
    }),
  };
}

/** A disk as adopt compares it: what the inputs can say about it. */
const diskFact = (d: XmlNode) => {
  const source = child(d, "source");
  return compact({
    target: child(d, "target")?.["@dev"] as string | undefined,
    device: String(d["@device"] ?? "disk"),
    file: source?.["@file"] as string | undefined,
    volume: source?.["@volume"] === undefined ? undefined : `${String(source["@pool"])}/${String(source["@volume"])}`,
    format: child(d, "driver")?.["@type"] as string | undefined,
  });
};

/**
 * What a domain XML says about each typed input, in one comparable shape per
 * input: adopt reads it from the XML the inputs would define and from libvirt's,
 * and compares the inputs that are set (resource/adopt.ts).
 */
export function typedFacts(xml: string): Record<string, unknown> {
  const observed = parseDomainXml(xml);
  const domain = child(parseXml(xml), "domain") ?? {};
  const os = child(domain, "os");
  const osType = child(os, "type");
  const devices = child(domain, "devices");
  return {
    type: observed.type,
    memoryMiB: observed.memoryMiB,
    vcpus: observed.vcpus,
    description: observed.description,
    arch: osType?.["@arch"],
    machine: osType?.["@machine"],
    firmware: os?.["@firmware"] === "efi" || child(os, "loader")?.["@type"] === "pflash" ? "efi" : "bios",
    kernel: text(os?.kernel),
    initrd: text(os?.initrd),
    cmdline: text(os?.cmdline),
    bootDevices: many(os?.boot).map((b) => String(b["@dev"])),
    disks: many(devices?.disk).map(diskFact),
    networkInterfaces: observed.interfaces.map((n) => compact({ [n.type]: n.source, model: n.model, mac: n.mac?.toLowerCase() })),
    graphics: many(devices?.graphics).map((g) => String(g["@type"]))[0],
    serialConsole: many(devices?.serial).length > 0,
    qemuGuestAgent: observed.hasAgentChannel,
  };
}
