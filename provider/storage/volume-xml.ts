// Volume XML, built with the shared XML builder (every value escaped) and read
// back; and the pure questions asked of other objects' XML before a volume is
// deleted: which domains' disks use it, which volumes it backs.
import { buildXml, child, compact, many, parseXml, text, type XmlNode, type XmlValue } from "../xml/xml";
import { parseSize } from "./size";

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

export interface ObservedVolume {
  name: string;
  key: string;
  path: string;
  capacity: number;
  allocation: number;
  format: string;
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
