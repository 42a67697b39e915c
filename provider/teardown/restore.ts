// Taking snapshots back from an archive (README's "Restoring snapshots"): the
// inverse of the metadata-only cascade. Pure: the archive as read, and for each
// snapshot whether its contents are still in the images, go in; which snapshots
// are redefined (parents before children, which one current) and which are
// skipped, with the reason, come out. provider/domain/restore.ts reads the facts
// and carries the plan out.
import { editElement, orderedChildren, setChildText } from "../xml/xml";
import { nameList } from "./shared";

/** The archive's format marker and version (provider/domain/archive.ts writes them). */
export const ARCHIVE_FORMAT = "libvirt-pulumi-snapshot-archive";
export const ARCHIVE_VERSION = 1;

/** One snapshot of an archive, as the restore uses it. */
export interface RestorableSnapshot {
  name: string;
  parent: string | null;
  isCurrent: boolean;
  creationTime: number | null;
  xml: string;
}

export interface RestorableArchive {
  domain: { name: string; uuid: string; xml: string };
  secure: boolean;
  snapshots: RestorableSnapshot[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The archive's JSON text, checked: its format marker and version, the domain, and
 * each snapshot's fields, names unique. Throws what is wrong; `where` names the archive.
 */
export function parseArchive(text: string, where: string): RestorableArchive {
  const bad = (why: string) => new Error(`${where} is not a snapshot archive this provider can restore: ${why}`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw bad(`it is not JSON (${(err as Error).message})`);
  }
  if (!isObject(doc) || doc.format !== ARCHIVE_FORMAT) throw bad(`its "format" is not "${ARCHIVE_FORMAT}"`);
  if (doc.version !== ARCHIVE_VERSION) {
    throw bad(
      typeof doc.version === "number" && doc.version > ARCHIVE_VERSION
        ? `it is version ${doc.version}, written by a newer provider (this one reads version ${ARCHIVE_VERSION}); upgrade the provider`
        : `its "version" is ${JSON.stringify(doc.version)}, not ${ARCHIVE_VERSION}`,
    );
  }
  const domain = doc.domain;
  if (!isObject(domain) || typeof domain.name !== "string" || typeof domain.uuid !== "string" || typeof domain.xml !== "string")
    throw bad(`"domain" must have a name, uuid and xml`);
  if (!Array.isArray(doc.snapshots)) throw bad(`"snapshots" is not a list`);
  const seen = new Set<string>();
  const snapshots = doc.snapshots.map((s: unknown, n: number): RestorableSnapshot => {
    const at = `snapshots[${n}]`;
    if (!isObject(s) || typeof s.name !== "string" || s.name === "") throw bad(`${at} has no name`);
    if (seen.has(s.name)) throw bad(`${at}: the name "${s.name}" appears twice`);
    seen.add(s.name);
    if (s.parent !== null && typeof s.parent !== "string") throw bad(`${at} ("${s.name}"): "parent" must be a name or null`);
    if (typeof s.isCurrent !== "boolean") throw bad(`${at} ("${s.name}"): "isCurrent" must be true or false`);
    if (typeof s.xml !== "string" || !/<domainsnapshot[\s>]/.test(s.xml)) throw bad(`${at} ("${s.name}"): "xml" is not a <domainsnapshot> document`);
    return {
      name: s.name,
      parent: s.parent,
      isCurrent: s.isCurrent,
      creationTime: typeof s.creationTime === "number" ? s.creationTime : null,
      xml: s.xml,
    };
  });
  if (snapshots.filter((s) => s.isCurrent).length > 1) throw bad(`more than one snapshot is marked current`);
  return { domain: { name: domain.name, uuid: domain.uuid, xml: domain.xml }, secure: doc.secure === true, snapshots };
}

export interface SkippedSnapshot {
  name: string;
  reason: string;
}

export interface RestorePlan {
  /** Redefined in this order (parents before children); `current` on the one that was current. */
  redefine: Array<{ name: string; current: boolean }>;
  /** Never redefined, with why: contents gone, or an ancestor skipped. */
  skipped: SkippedSnapshot[];
}

/**
 * Which snapshots are redefined and in which order. `missing` says, for a snapshot
 * whose contents are not (or cannot be shown to be) in the images, why; a snapshot
 * absent from it is there. A skipped snapshot's descendants are skipped too:
 * libvirt cannot redefine a child without its parent, and re-parenting it would
 * change the tree. Siblings keep the archive's order.
 */
export function planRestore(snapshots: RestorableSnapshot[], missing: ReadonlyMap<string, string>): RestorePlan {
  const byName = new Map(snapshots.map((s) => [s.name, s]));
  const redefine: RestorePlan["redefine"] = [];
  const skipped: SkippedSnapshot[] = [];
  const done = new Map<string, "redefined" | "skipped">();
  const visit = (s: RestorableSnapshot, path: string[]): void => {
    if (done.has(s.name)) return;
    if (path.includes(s.name)) {
      done.set(s.name, "skipped");
      skipped.push({ name: s.name, reason: `its parent chain loops (${[...path, s.name].map((n) => `"${n}"`).join(" → ")})` });
      return;
    }
    let reason = missing.get(s.name);
    if (reason === undefined && s.parent !== null) {
      const parent = byName.get(s.parent);
      if (!parent) reason = `its parent "${s.parent}" is not in the archive`;
      else {
        visit(parent, [...path, s.name]);
        if (done.get(parent.name) === "skipped") reason = `its parent "${parent.name}" is skipped`;
      }
    }
    if (done.has(s.name)) return;
    if (reason !== undefined) {
      done.set(s.name, "skipped");
      skipped.push({ name: s.name, reason });
      return;
    }
    done.set(s.name, "redefined");
    redefine.push({ name: s.name, current: s.isCurrent });
  };
  for (const s of snapshots) visit(s, []);
  return { redefine, skipped };
}

/** What a restore's diagnostic says about the plan. */
export function describeRestore(domain: string, where: string, plan: RestorePlan, archived: RestorableSnapshot[]): string {
  const current = archived.find((s) => s.isCurrent)?.name;
  const restored = plan.redefine.map((r) => r.name);
  const parts = [
    `domain "${domain}": restored ${restored.length === 0 ? "no snapshot" : `${restored.length === 1 ? "snapshot" : `${restored.length} snapshots`} ${nameList(restored)}`} from ${where}`,
  ];
  if (plan.skipped.length > 0) {
    parts.push(
      `skipped ${plan.skipped.length === 1 ? "1 snapshot, never redefined blind" : `${plan.skipped.length} snapshots, never redefined blind`}: ` +
        plan.skipped.map((s) => `"${s.name}" (${s.reason})`).join("; "),
    );
    if (current !== undefined && plan.skipped.some((s) => s.name === current))
      parts.push(`the archive's current snapshot "${current}" is skipped, so the domain has no current snapshot`);
  }
  return parts.join("; ");
}

/**
 * A snapshot's XML with the domain it embeds (`<domain>`, and `<inactiveDomain>` for
 * a running one) renamed to the new domain: libvirt's redefine requires the
 * embedded UUID to be the domain's ("definition for snapshot ... must use uuid ..."),
 * and a revert puts the embedded definition back, so its name must be the domain's too.
 */
export function snapshotXmlFor(xml: string, domain: { name: string; uuid: string }): string {
  return editElement(xml, "domainsnapshot", (body) => {
    for (const tag of ["domain", "inactiveDomain"]) {
      const inner = orderedChildren(body, tag);
      if (!inner) continue;
      setChildText(inner, "name", domain.name);
      setChildText(inner, "uuid", domain.uuid, { after: "name" });
    }
  });
}

/** What a snapshot needs from the images, its paths resolved (provider/domain/restore.ts reads them from the snapshot's XML). */
export type ContentNeed =
  /** An internal snapshot of this name in the disk's image (the image the snapshot's own domain definition names for it). */
  | { kind: "internal"; target: string; path: string }
  /** The overlay an external snapshot made, backed by the image the disk had when it was taken. */
  | { kind: "external"; target: string; overlay: string; base: string }
  /** An external memory state file. */
  | { kind: "memory"; path: string }
  /** Something the provider cannot look at (a block device, a network disk, a volume that cannot be found). */
  | { kind: "unverifiable"; target: string; why: string };

/** What was read of one image: its facts, or why it could not be read. */
export type ImageCheck = { format: "qcow2" | "other"; snapshots: string[]; backing?: string; via: string } | { error: string };

const listed = (names: string[]) => (names.length === 0 ? "none" : nameList(names));

/**
 * Why a snapshot's contents are not there (the first need that fails), or
 * undefined when all are. `images` holds what was read of each path the needs name.
 */
export function missingContents(snapshot: string, needs: ContentNeed[], images: ReadonlyMap<string, ImageCheck>): string | undefined {
  const read = (path: string): ImageCheck => images.get(path) ?? { error: "it was not read" };
  for (const need of needs) {
    if (need.kind === "unverifiable") return `the contents of its disk ${need.target} cannot be checked: ${need.why}`;
    if (need.kind === "memory") {
      const m = read(need.path);
      if ("error" in m) return `its memory state file ${need.path} cannot be read (${m.error})`;
      continue;
    }
    if (need.kind === "internal") {
      const img = read(need.path);
      if ("error" in img) return `the image ${need.path} of its disk ${need.target} cannot be read (${img.error})`;
      if (img.format !== "qcow2") return `the image ${need.path} of its disk ${need.target} is not qcow2, so it holds no internal snapshot`;
      if (!img.snapshots.includes(snapshot))
        return `the internal snapshot "${snapshot}" is not in the image ${need.path} of its disk ${need.target} (${img.via}: its snapshots are ${listed(img.snapshots)})`;
      continue;
    }
    const overlay = read(need.overlay);
    if ("error" in overlay) return `the overlay ${need.overlay} it made for disk ${need.target} cannot be read (${overlay.error})`;
    if (overlay.format !== "qcow2") return `the overlay ${need.overlay} it made for disk ${need.target} is not a qcow2 image`;
    if (overlay.backing !== need.base)
      return (
        `the overlay ${need.overlay} it made for disk ${need.target} is ${overlay.backing === undefined ? "backed by no image" : `backed by ${overlay.backing}`}, ` +
        `not by ${need.base} (the disk's image when the snapshot was taken)`
      );
  }
  return undefined;
}
