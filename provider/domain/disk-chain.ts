// Disk chains across an update. An external (disk-only) snapshot makes libvirt
// switch a disk's source to a new overlay file whose backing file is the old
// image. The typed inputs still name the old image, so a redefinition built
// from them alone would point the guest back past the overlay: every write
// since the snapshot would vanish from its view, and new writes into the base
// would corrupt the overlay. The decision here is pure: the saved and new disk
// inputs, the disks of libvirt's persistent definition and the external
// snapshots' disk records go in; which disks keep libvirt's current chain (or a
// refusal) comes out. Reading the facts and defining the XML stay in provider.ts.
import { posix } from "node:path";
import { canonical } from "../equality";
import { child, many, parseXml, type XmlNode } from "../xml/xml";
import type { DiskInput } from "./inputs";
import { assignTargets } from "./xml";

/** A disk as libvirt's definition has it: the parts an update keeps when it keeps the chain. */
export interface DefinedDisk {
  target: string;
  /** `<disk type=...>`: file, volume, block, network. */
  type: string;
  /** `<driver type=...>`: the image format of the top of the chain. */
  format?: string;
  /** The `<source>` element as parsed (attributes `@file`, `@pool`/`@volume`, `@dev`, ...). */
  source?: XmlNode;
  /** The `<backingStore>` element libvirt records, when it does (after a snapshot of a running domain). */
  backingStore?: XmlNode;
  /** Comparable identity of the source: `file:/path`, `volume:pool/name`, `block:/dev/...`. */
  key?: string;
  /** Identities of the images below the top that libvirt's definition records. */
  backingKeys: string[];
  /** The whole `<disk>` element as parsed. */
  element?: XmlNode;
}

/** What an external snapshot recorded for one disk: the overlay it made and the image under it. */
export interface ExternalSnapshotDisk {
  snapshot: string;
  target: string;
  /** The overlay the snapshot created (the disk's top right after it). */
  overlayKey?: string;
  /** The disk's source when the snapshot was taken (the image now below that overlay). */
  baseKey?: string;
}

function sourceKey(type: string, source: XmlNode | undefined): string | undefined {
  if (!source) return undefined;
  const file = source["@file"];
  if (file !== undefined) return `file:${posix.normalize(String(file))}`;
  if (source["@volume"] !== undefined) return `volume:${source["@pool"]}/${source["@volume"]}`;
  if (source["@dev"] !== undefined) return `block:${posix.normalize(String(source["@dev"]))}`;
  if (source["@name"] !== undefined) return `${type}:${source["@protocol"] ?? ""}:${source["@name"]}`;
  return undefined;
}

/** The identity of the image a disk input names. */
export function inputKey(d: DiskInput): string {
  return d.volume ? `volume:${d.volume.pool}/${d.volume.name}` : `file:${posix.normalize(d.file!)}`;
}

/** How a message names an image identity. */
export function describeKey(key: string): string {
  if (key.startsWith("file:")) return `"${key.slice(5)}"`;
  if (key.startsWith("volume:")) return `volume "${key.slice(7)}"`;
  return `"${key.replace(/^[a-z]+:/, "")}"`;
}

function backingKeys(node: XmlNode | undefined): string[] {
  const out: string[] = [];
  for (let bs = node; bs && typeof bs === "object"; bs = child(bs, "backingStore")) {
    const key = sourceKey(String(bs["@type"] ?? "file"), child(bs, "source"));
    if (!key) break;
    out.push(key);
  }
  return out;
}

function readDisk(d: XmlNode): DefinedDisk | undefined {
  const target = child(d, "target")?.["@dev"];
  if (target === undefined) return undefined;
  const type = String(d["@type"] ?? "file");
  const source = child(d, "source");
  const backingStore = child(d, "backingStore");
  return {
    target: String(target),
    type,
    format: child(d, "driver")?.["@type"] as string | undefined,
    source,
    backingStore: backingStore && Object.keys(backingStore).length > 0 ? backingStore : undefined,
    key: sourceKey(type, source),
    backingKeys: backingKeys(backingStore),
    element: d,
  };
}

/** The disks of a domain definition (libvirt's XML), by target. */
export function definedDisks(xml: string): DefinedDisk[] {
  const domain = child(parseXml(xml), "domain");
  return many(child(domain, "devices")?.disk)
    .map(readDisk)
    .filter((d): d is DefinedDisk => !!d);
}

/** The disks of the domain definition a snapshot's XML embeds (the domain as it was when the snapshot was taken). */
export function snapshotDomainDisks(snapshotXml: string): DefinedDisk[] {
  const snap = child(parseXml(snapshotXml), "domainsnapshot");
  return many(child(child(snap, "domain"), "devices")?.disk)
    .map(readDisk)
    .filter((d): d is DefinedDisk => !!d);
}

/** What one snapshot's XML says about the disks it put an external overlay on. */
export function externalSnapshotDisks(snapshotXml: string): ExternalSnapshotDisk[] {
  const snap = child(parseXml(snapshotXml), "domainsnapshot");
  const name = String(child(snap, "name")?.["#text"] ?? "");
  const before = new Map(snapshotDomainDisks(snapshotXml).map((d) => [d.target, d.key]));
  return many(child(snap, "disks")?.disk)
    .filter((d) => d["@snapshot"] === "external")
    .map((d) => {
      const target = String(d["@name"]);
      return { snapshot: name, target, overlayKey: sourceKey(String(d["@type"] ?? "file"), child(d, "source")), baseKey: before.get(target) };
    });
}

export interface DiskChainFacts {
  domain: string;
  /** Disks as saved in the outputs (the inputs of the last create or update). */
  oldDisks: DiskInput[];
  oldMachine?: string;
  newDisks: DiskInput[];
  newMachine?: string;
  /** The disks of libvirt's persistent definition now. */
  defined: DefinedDisk[];
  /** The external-snapshot records of the domain's snapshots. */
  external: ExternalSnapshotDisk[];
}

export type DiskChainDecision =
  | {
      allowed: true;
      /** By index of the new disks: libvirt's current disk to keep instead of the input's image. */ keep: Array<DefinedDisk | undefined>;
    }
  | { allowed: false; message: string };

/** A disk as an input describes it, in the terms the decision needs. */
interface DiskSpec {
  /** The image it names. */
  key: string;
  target: string;
  /** Equal ids: the same input, unchanged. */
  id: string;
  /** How a message names it: `disks[0] { file: "/a.qcow2" }`. */
  label: string;
  /** How a message points at it: `disks[0]`. */
  ref: string;
}

/** A disk input as the program would spell it: `{ file: "/x.qcow2", bus: "sata" }`. */
function describeInput(d: DiskInput): string {
  const parts = Object.entries(d)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${k === "volume" ? `{ pool: "${d.volume!.pool}", name: "${d.volume!.name}" }` : JSON.stringify(v)}`);
  return `{ ${parts.join(", ")} }`;
}

function typedSpecs(disks: DiskInput[], machine: string | undefined): DiskSpec[] {
  const targets = assignTargets(disks, machine);
  return disks.map((d, n) => ({
    key: inputKey(d),
    target: targets[n].target,
    id: canonical(d),
    label: `disks[${n}] ${describeInput(d)}`,
    ref: `disks[${n}]`,
  }));
}

/** The disks of a raw `xml` input: a disk is unchanged when its element is. */
function xmlSpecs(disks: DefinedDisk[]): DiskSpec[] {
  return disks
    .filter((d) => d.key !== undefined)
    .map((d) => ({
      key: d.key!,
      target: d.target,
      id: canonical(d.element),
      label: `the xml input's <disk> for ${d.target} (source ${describeKey(d.key!)})`,
      ref: `the xml input's <disk> for ${d.target}`,
    }));
}

/**
 * Which new disks keep libvirt's current chain, or why the update is refused.
 *
 * A disk "is on an overlay" when libvirt's definition no longer points it at the
 * image its saved input names (an external snapshot moved it). Then:
 * - its input unchanged: the new definition keeps libvirt's source, backing
 *   store and format for it (the input stays the user's base path);
 * - its input changed or removed: refused, since rebuilding it from the input
 *   would point the guest back past the overlay or strand it — unless the new
 *   input names the overlay itself, which makes it the disk;
 * - any disk of the new inputs naming an image that is now below the top of a
 *   chain: refused, for the same reason.
 */
export function planDiskChains(f: DiskChainFacts): DiskChainDecision {
  return planChains(f.domain, typedSpecs(f.oldDisks, f.oldMachine), typedSpecs(f.newDisks, f.newMachine), f.defined, f.external, "typed");
}

/** The same decision for a domain described by a raw `xml` input (old and new xml documents). */
export function planXmlDiskChains(
  domain: string,
  oldXml: string,
  newXml: string,
  defined: DefinedDisk[],
  external: ExternalSnapshotDisk[],
): DiskChainDecision {
  const newDisks = definedDisks(newXml);
  const d = planChains(domain, xmlSpecs(definedDisks(oldXml)), xmlSpecs(newDisks), defined, external, "xml");
  if (!d.allowed) return d;
  // planChains indexes the disks that name an image; the xml builder walks every disk with a target.
  const byIndex: Array<DefinedDisk | undefined> = [];
  let n = 0;
  for (const disk of newDisks) byIndex.push(disk.key === undefined ? undefined : d.keep[n++]);
  return { allowed: true, keep: byIndex };
}

function planChains(
  domain: string,
  olds: DiskSpec[],
  news: DiskSpec[],
  defined: DefinedDisk[],
  external: ExternalSnapshotDisk[],
  mode: "typed" | "xml",
): DiskChainDecision {
  const byTarget = new Map(defined.map((d) => [d.target, d]));

  // Old disks whose definition moved away from their input: on an overlay.
  const moved = new Map<number, DefinedDisk>();
  olds.forEach((o, i) => {
    const now = byTarget.get(o.target);
    if (now?.key !== undefined && now.key !== o.key) moved.set(i, now);
  });

  // Images below the top of some disk's chain, and the top that hides each.
  const below = new Map<string, { target: string; top: string }>();
  const addBelow = (key: string | undefined, target: string) => {
    const top = byTarget.get(target)?.key;
    if (key && top && key !== top && !below.has(key)) below.set(key, { target, top });
  };
  for (const [i, now] of moved) addBelow(olds[i].key, now.target);
  for (const d of defined) d.backingKeys.forEach((k) => addBelow(k, d.target));
  for (const e of external) {
    addBelow(e.baseKey, e.target);
    addBelow(e.overlayKey, e.target);
  }

  // Unchanged inputs are matched to old ones by value (a disk added before them shifts targets, not identity).
  const matched = new Set<number>();
  const keep: Array<DefinedDisk | undefined> = news.map((d) => {
    const i = olds.findIndex((o, n) => !matched.has(n) && o.id === d.id);
    if (i < 0) return undefined;
    matched.add(i);
    return moved.get(i);
  });

  const merge = (target: string) => `\`virsh blockcommit ${domain} ${target} --active --pivot\` while the domain runs`;
  for (const [i, now] of moved) {
    // Kept as it is, or adopted: a new input that names the overlay itself makes it the disk.
    if (matched.has(i) || news.some((d) => d.key === now.key)) continue;
    const old = olds[i];
    const sameImage = news.find((d) => d.key === old.key);
    const sameTarget = news.find((d) => d.target === now.target);
    const change = sameImage
      ? `${sameImage.label} names that image with other settings`
      : sameTarget
        ? `${sameTarget.label} is now there`
        : mode === "typed"
          ? "the disk was removed from disks"
          : "the disk was removed from the xml input";
    const adopt =
      mode === "typed"
        ? `name the overlay itself in the input (file: ${describeKey(now.key!)}${now.format ? `, format: "${now.format}"` : ""}) to make it the disk`
        : `set that <disk>'s <source> in the xml input to the overlay ${describeKey(now.key!)}${now.format ? ` (driver type "${now.format}")` : ""} to make it the disk`;
    return {
      allowed: false,
      message:
        `refusing to update domain "${domain}": its disk ${now.target} (saved input ${old.label}) now runs on the overlay ` +
        `${describeKey(now.key!)}, which an external snapshot put on top of ${describeKey(old.key)}, and its input changed (${change}). ` +
        `Redefining that disk from the new input would either point the guest back past the overlay (every write since the snapshot would ` +
        `vanish from its view, and new writes into the base would corrupt the overlay) or leave the overlay stranded. Nothing was changed. ` +
        `To go on: keep ${old.ref} as it was (the overlay stays the disk's top and the other changes apply); or ${adopt}; or merge the overlay ` +
        `into its base first (${merge(now.target)}) and then apply the change.`,
    };
  }

  for (const [j, d] of news.entries()) {
    if (keep[j]) continue;
    const hit = below.get(d.key);
    if (!hit) continue;
    return {
      allowed: false,
      message:
        `refusing to update domain "${domain}": ${d.label} names ${describeKey(d.key)}, which is now a backing ` +
        `image below the overlay ${describeKey(hit.top)} of disk ${hit.target} (made by an external snapshot). Writing to it directly would ` +
        `corrupt the overlay, and the guest would not see the writes made since the snapshot. Nothing was changed. Name the overlay ` +
        `${describeKey(hit.top)} instead, or merge the overlay into its base first (${merge(hit.target)}) and then apply the change.`,
    };
  }
  return { allowed: true, keep };
}
