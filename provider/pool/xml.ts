// Storage pool XML: a directory pool built from the typed inputs with the
// shared XML builder, and the facts read back from libvirt's XML.
import { buildXml, child, parseXml, text } from "../xml/xml";
import { xmlBytes } from "../volume/xml";

export function buildPoolXml(p: { name: string; path: string; uuid?: string }): string {
  return buildXml({ pool: { "@type": "dir", name: p.name, uuid: p.uuid, target: { path: p.path } } });
}

export interface ObservedPool {
  name: string;
  uuid: string;
  type: string;
  path: string;
  capacity: number;
  allocation: number;
  available: number;
}

export function parsePoolXml(xml: string): ObservedPool {
  const pool = child(parseXml(xml), "pool") ?? {};
  return {
    name: text(pool.name) ?? "",
    uuid: text(pool.uuid) ?? "",
    type: String(pool["@type"] ?? ""),
    path: text(child(pool, "target")?.path) ?? "",
    capacity: xmlBytes(pool.capacity),
    allocation: xmlBytes(pool.allocation),
    available: xmlBytes(pool.available),
  };
}
