// Volume XML, built with the shared XML builder (every value escaped) and read
// back; and the pure questions asked of other objects' XML before a volume is
// deleted: which domains' disks use it, which volumes it backs.
import { buildXml, child, compact, many, parseXml, text, type XmlNode, type XmlValue } from "../xml/xml";
import { parseSize } from "../storage/size";

export interface VolumeSpec {
  name: string;
  capacity: number;
  format: "qcow2" | "raw";
  backing?: { path: string; format: "qcow2" | "raw" };
}

export function buildVolumeXml(v: VolumeSpec): string {
  return buildXml({
    volume: compact({
      name: v.name,
      capacity: { "@unit": "bytes", "#text": String(v.capacity) },
      // Sparse: a raw volume takes disk space only as the guest writes.
      allocation: { "@unit": "bytes", "#text": "0" },
      target: { format: { "@type": v.format } },
      backingStore: v.backing ? { path: v.backing.path, format: { "@type": v.backing.format } } : undefined,
    }),
  });
}

/** A volume as libvirt describes it (virStorageVolGetXMLDesc). */
export interface ObservedVolume {
  name: string;
  /** libvirt's key of the volume (its path, for directory pools); also the Pulumi ID. */
  key: string;
  path: string;
  /** Bytes the guest sees, as libvirt reports them now. */
  capacity: number;
  /** Bytes the image takes on the host now. */
  allocation: number;
  /** The image format the volume was made as ("qcow2", "raw"). */
  format: string;
  /** The backing file of an overlay, as libvirt reports it (never for a raw volume). */
  backingPath?: string;
  backingFormat?: string;
}

/** Bytes of a <capacity unit='...'> style element. */
export function xmlBytes(node: XmlValue): number {
  const t = text(node);
  if (t === undefined || t === "") return 0;
  const unit = node && typeof node === "object" && !Array.isArray(node) ? String((node as XmlNode)["@unit"] ?? "bytes") : "bytes";
  return parseSize(`${t}${unit === "bytes" ? "" : unit}`) ?? Number(t);
}

export function parseVolumeXml(xml: string): ObservedVolume {
  const vol = child(parseXml(xml), "volume") ?? {};
  const target = child(vol, "target");
  const backing = child(vol, "backingStore");
  const backingPath = text(backing?.path);
  const observed: ObservedVolume = {
    name: text(vol.name) ?? "",
    key: text(vol.key) ?? "",
    path: text(target?.path) ?? "",
    capacity: xmlBytes(vol.capacity),
    allocation: xmlBytes(vol.allocation),
    format: String(child(target, "format")?.["@type"] ?? "raw"),
  };
  if (backingPath) {
    observed.backingPath = backingPath;
    const format = child(backing, "format")?.["@type"];
    if (format !== undefined) observed.backingFormat = String(format);
  }
  return observed;
}

export interface VolumeRef {
  path: string;
  pool: string;
  name: string;
}

/** Does this disk (or anything in its backing chain) refer to the volume? */
function diskUses(disk: XmlNode, ref: VolumeRef): boolean {
  const source = child(disk, "source");
  if (source) {
    if (source["@file"] === ref.path || source["@dev"] === ref.path) return true;
    if (source["@pool"] === ref.pool && source["@volume"] === ref.name) return true;
  }
  const backing = child(disk, "backingStore");
  return !!backing && diskUses(backing, ref);
}

/** True when a domain's XML has a disk whose source (or backing chain) is the volume. */
export function domainXmlUsesVolume(domainXml: string, ref: VolumeRef): boolean {
  const devices = child(child(parseXml(domainXml), "domain"), "devices");
  return many(devices?.disk).some((d) => diskUses(d, ref));
}

/** A file (or pool volume) that a domain needs, with the chain below it as its XML states it (top first). */
export interface XmlReference {
  /** What needs it, for messages: `disk vda`, `snapshot "s1" disk vda`, `snapshot "s1" memory`. */
  what: string;
  /** Host paths, top first: the source, then each <backingStore> and <dataStore> as the XML states them. */
  chain: string[];
  /** A `<disk type='volume'>` source. */
  volume?: { pool: string; name: string };
}

function sourcePath(source: XmlNode | undefined): string | undefined {
  if (!source) return undefined;
  const p = source["@file"] ?? source["@dev"];
  return typeof p === "string" && p !== "" ? p : undefined;
}

/** The paths of a disk-like node and its nested backing stores (and qcow2 data stores), top first. */
function xmlChain(node: XmlNode | undefined, out: string[] = [], depth = 0): string[] {
  if (!node || depth > 256) return out;
  const source = child(node, "source");
  const p = sourcePath(source);
  if (p) out.push(p);
  const data = child(source, "dataStore");
  const dp = sourcePath(child(data, "source"));
  if (dp) out.push(dp);
  return xmlChain(child(node, "backingStore"), out, depth + 1);
}

function diskLabel(disk: XmlNode): string {
  const dev = child(disk, "target")?.["@dev"] ?? disk["@name"];
  return dev !== undefined ? `disk ${String(dev)}` : "a disk";
}

/** Every disk of a domain definition (live or persistent) with its chain as stated. */
export function domainDiskReferences(domain: XmlNode | undefined, prefix = ""): XmlReference[] {
  const devices = child(domain, "devices");
  return many(devices?.disk).map((d) => {
    const source = child(d, "source");
    const ref: XmlReference = { what: `${prefix}${diskLabel(d)}`, chain: xmlChain(d) };
    if (source && typeof source["@pool"] === "string" && typeof source["@volume"] === "string")
      ref.volume = { pool: source["@pool"], name: source["@volume"] };
    return ref;
  });
}

export function domainXmlReferences(domainXml: string): XmlReference[] {
  return domainDiskReferences(child(parseXml(domainXml), "domain"));
}

/**
 * What a snapshot keeps: its disks' files (for an external snapshot, the overlay
 * it created), its memory state file, and the disks of the definitions it saved
 * (<domain>, <inactiveDomain>): the images a revert needs.
 */
export function snapshotXmlReferences(name: string, snapshotXml: string): XmlReference[] {
  const snap = child(parseXml(snapshotXml), "domainsnapshot");
  const label = `snapshot "${name}"`;
  const out: XmlReference[] = [];
  const memory = child(snap, "memory")?.["@file"];
  if (typeof memory === "string" && memory !== "") out.push({ what: `${label} memory state`, chain: [memory] });
  for (const d of many(child(snap, "disks")?.disk)) {
    const chain = xmlChain(d);
    if (chain.length > 0) out.push({ what: `${label} ${diskLabel(d)}`, chain });
  }
  out.push(...domainDiskReferences(child(snap, "domain"), `${label} saved definition, `));
  out.push(...domainDiskReferences(child(snap, "inactiveDomain"), `${label} saved inactive definition, `));
  return out;
}
