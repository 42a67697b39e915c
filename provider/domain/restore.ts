// A Domain's restoreSnapshotsFrom (README's "Restoring snapshots"): reads a
// snapshot archive (./archive.ts wrote it when the metadata-only cascade removed
// libvirt's metadata), checks that each snapshot's contents are still in the
// images, and redefines those whose are (VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE,
// parents before children, CURRENT on the one that was current). The rules are
// ../teardown/restore.ts; this module reads the facts and carries them out.
import { readFile, stat } from "node:fs/promises";
import { posix } from "node:path";
import { isLocal, type Connection } from "../libvirt/connection";
import type { DomainHandle } from "../libvirt/domain";
import { virDomainSnapshotDeleteFlags } from "../libvirt/libvirt.gen";
import { withPool, type StorageVolHandle } from "../libvirt/storage";
import { downloadRange } from "../libvirt/stream";
import { imageContents, realPathOf } from "../storage/image-probe";
import {
  describeRestore,
  missingContents,
  parseArchive,
  planRestore,
  snapshotXmlFor,
  type ContentNeed,
  type ImageCheck,
  type RestorableArchive,
  type RestorePlan,
  type SkippedSnapshot,
} from "../teardown/restore";
import { child, many, parseXml } from "../xml/xml";
import { definedDisks, inputKey, snapshotDomainDisks, type DefinedDisk } from "./disk-chain";
import { writeRestoredMark } from "./restore-mark";
import { collectArchive } from "./archive";
import { assignTargets } from "./xml";
import type { DiskInput } from "./inputs";

/** Where the archive is: its path on the hypervisor host, or a volume of a storage pool. */
export type ArchiveSource = string | { pool: string; name: string };

export const describeSource = (from: ArchiveSource): string =>
  typeof from === "string" ? `file ${from}` : `volume "${from.name}" of storage pool "${from.pool}"`;

/** Larger than any archive (a few KiB per snapshot): a bigger file or volume is not one, and is not read whole. */
export const MAX_ARCHIVE_BYTES = 64 * 1024 * 1024;

function refuseSize(bytes: number): void {
  if (bytes > MAX_ARCHIVE_BYTES)
    throw new Error(`it is ${bytes} bytes, more than any snapshot archive (at most ${MAX_ARCHIVE_BYTES}); is it the file the delete printed?`);
}

/** A whole volume's bytes through libvirt (its capacity; a raw archive volume may be padded with NUL bytes). */
async function downloadVolume(vol: StorageVolHandle): Promise<string> {
  const capacity = Number(/<capacity[^>]*>(\d+)<\/capacity>/.exec(await vol.xml())?.[1] ?? 0);
  refuseSize(capacity);
  const bytes = await downloadRange(vol, 0, capacity);
  return bytes.toString("utf8").replace(/\0+$/, "");
}

/** The archive's text: a local file read directly, a file of a remote host through the pool that holds it, a volume through libvirt. */
async function readArchiveText(conn: Connection, from: ArchiveSource): Promise<string> {
  if (typeof from === "string") {
    if (isLocal(conn.uri)) {
      refuseSize((await stat(from)).size);
      return readFile(from, "utf8");
    }
    const vol = await conn.lookupVolumeByPath(from);
    if (!vol)
      throw new Error(`the hypervisor is remote and no running storage pool holds ${from}; give the archive as { pool, name } of the pool it is in`);
    try {
      return await downloadVolume(vol);
    } finally {
      vol.free();
    }
  }
  return withPool(conn, from.pool, async (pool) => {
    if (!pool) throw new Error(`storage pool "${from.pool}" does not exist`);
    if (!(await pool.isActive())) throw new Error(`storage pool "${from.pool}" is not running`);
    const vol = await pool.lookupVolume(from.name);
    if (!vol) throw new Error(`storage pool "${from.pool}" has no volume "${from.name}"`);
    try {
      return await downloadVolume(vol);
    } finally {
      vol.free();
    }
  });
}

/** How a disk's image is named: a host file, a pool volume, or something the provider cannot read. */
type ImageRef = { file: string } | { pool: string; volume: string } | { why: string };

function imageOf(d: DefinedDisk | undefined, target: string): ImageRef {
  if (!d) return { why: `the snapshot's domain definition has no disk ${target}` };
  const file = d.source?.["@file"];
  if (file !== undefined) return { file: String(file) };
  if (d.type === "volume" && d.source?.["@pool"] !== undefined) return { pool: String(d.source["@pool"]), volume: String(d.source["@volume"]) };
  return { why: `it is a ${d.type} disk, whose image the provider cannot read` };
}

/** A need of a snapshot as its XML states it, before the images are resolved to paths (ContentNeed). */
export type StatedNeed =
  | { kind: "internal"; target: string; image: ImageRef }
  | { kind: "external"; target: string; overlay: ImageRef; base: ImageRef }
  | { kind: "memory"; path: string };

/** What one snapshot's XML says must be in the images, with each image as its XML names it. */
export function snapshotNeeds(xml: string): StatedNeed[] {
  const snap = child(parseXml(xml), "domainsnapshot");
  const disks = new Map(snapshotDomainDisks(xml).map((d) => [d.target, d]));
  const out: StatedNeed[] = [];
  const memory = child(snap, "memory");
  if (memory?.["@snapshot"] === "external" && memory["@file"] !== undefined) out.push({ kind: "memory", path: String(memory["@file"]) });
  for (const d of many(child(snap, "disks")?.disk)) {
    const target = String(d["@name"] ?? "");
    const mode = String(d["@snapshot"] ?? "");
    if (mode === "internal") out.push({ kind: "internal", target, image: imageOf(disks.get(target), target) });
    if (mode === "external") {
      const file = child(d, "source")?.["@file"];
      const overlay: ImageRef = file !== undefined ? { file: String(file) } : { why: `its overlay is not a file` };
      out.push({ kind: "external", target, overlay, base: imageOf(disks.get(target), target) });
    }
  }
  return out;
}

/** Reads images once each (the same image backs several snapshots) on the domain's connection. */
class ImageReader {
  private readonly cache = new Map<string, Promise<ImageCheck>>();
  readonly local: boolean;
  constructor(private readonly conn: Connection) {
    this.local = isLocal(conn.uri);
  }

  /** A path as compared: the real path on this host (symlinks resolved), else normalised. */
  canonical(path: string): Promise<string> {
    return this.local ? realPathOf(path) : Promise.resolve(posix.normalize(path));
  }

  /** A path for an image reference, or why there is none. */
  async resolve(ref: ImageRef): Promise<{ path: string } | { why: string }> {
    if ("why" in ref) return ref;
    if ("file" in ref) return { path: await this.canonical(ref.file) };
    try {
      return await withPool(this.conn, ref.pool, async (pool) => {
        const vol = pool ? await pool.lookupVolume(ref.volume) : null;
        if (!vol) return { why: `volume "${ref.volume}" of storage pool "${ref.pool}" is not there` };
        try {
          return { path: await this.canonical(await vol.path()) };
        } finally {
          vol.free();
        }
      });
    } catch (err) {
      return { why: `volume "${ref.volume}" of storage pool "${ref.pool}" cannot be looked up (${(err as Error).message})` };
    }
  }

  check(path: string, kind: "image" | "file" = "image"): Promise<ImageCheck> {
    const key = `${kind}:${path}`;
    let got = this.cache.get(key);
    if (!got) {
      got = (kind === "file" ? this.fileThere(path) : this.image(path)).catch((err: Error) => ({ error: err.message }));
      this.cache.set(key, got);
    }
    return got;
  }

  private async image(path: string): Promise<ImageCheck> {
    const c = await imageContents(this.local, path, (p) => this.conn.lookupVolumeByPath(p));
    return {
      format: c.format,
      snapshots: c.snapshots,
      via: c.via,
      ...(c.backingFile ? { backing: await this.canonical(c.backingFile.path) } : {}),
    };
  }

  private async fileThere(path: string): Promise<ImageCheck> {
    if (this.local) await stat(path);
    else {
      const vol = await this.conn.lookupVolumeByPath(path);
      if (!vol) throw new Error(`no running storage pool of the remote hypervisor holds it`);
      vol.free();
    }
    return { format: "other", snapshots: [], via: "stat" };
  }
}

/** For each snapshot whose contents are not there, why. */
async function missingOf(reader: ImageReader, archive: RestorableArchive): Promise<Map<string, string>> {
  const missing = new Map<string, string>();
  for (const s of archive.snapshots) {
    const needs: ContentNeed[] = [];
    const images = new Map<string, ImageCheck>();
    let unparsable: string | undefined;
    let raw: StatedNeed[] = [];
    try {
      raw = snapshotNeeds(s.xml);
    } catch (err) {
      unparsable = `its XML cannot be read (${(err as Error).message})`;
    }
    for (const n of raw) {
      if (n.kind === "memory") {
        const path = await reader.canonical(n.path);
        images.set(path, await reader.check(path, "file"));
        needs.push({ kind: "memory", path });
        continue;
      }
      const main = await reader.resolve(n.kind === "internal" ? n.image : n.overlay);
      if ("why" in main) {
        needs.push({ kind: "unverifiable", target: n.target, why: main.why });
        continue;
      }
      images.set(main.path, await reader.check(main.path));
      if (n.kind === "internal") {
        needs.push({ kind: "internal", target: n.target, path: main.path });
        continue;
      }
      const base = await reader.resolve(n.base);
      if ("why" in base) needs.push({ kind: "unverifiable", target: n.target, why: base.why });
      else needs.push({ kind: "external", target: n.target, overlay: main.path, base: base.path });
    }
    const reason = unparsable ?? missingContents(s.name, needs, images);
    if (reason !== undefined) missing.set(s.name, reason);
  }
  return missing;
}

/**
 * For each typed disk input: the archived domain's disk at its target when that
 * is an overlay (an external snapshot's) whose backing chain, read from the images,
 * leads down to the image the input names. The new definition keeps it, as an
 * update does (disk-chain.ts): pointing the guest at the base would hide the writes
 * since the snapshot and corrupt the overlay.
 */
async function archivedTops(reader: ImageReader, archive: RestorableArchive, disks: DiskInput[], machine: string | undefined) {
  const archived = new Map(definedDisks(archive.domain.xml).map((d) => [d.target, d]));
  const targets = assignTargets(disks, machine);
  const keep: Array<DefinedDisk | undefined> = [];
  for (const [n, d] of disks.entries()) {
    const top = archived.get(targets[n].target);
    keep.push(undefined);
    if (!top || top.key === undefined || top.key === inputKey(d) || d.device === "cdrom") continue;
    const want = await reader.resolve(d.file !== undefined ? { file: d.file } : { pool: d.volume!.pool, volume: d.volume!.name });
    if ("why" in want) continue;
    let at = await reader.resolve(imageOf(top, top.target));
    for (let depth = 0; depth < 16 && !("why" in at); depth++) {
      const img = await reader.check(at.path);
      if ("error" in img || img.backing === undefined) break;
      if (img.backing === want.path) {
        keep[n] = top;
        break;
      }
      at = { path: img.backing };
    }
  }
  return keep;
}

export interface PreparedRestore {
  from: ArchiveSource;
  archive: RestorableArchive;
  plan: RestorePlan;
  /** By disk index: the archived overlay to keep as the disk's top (typed disk inputs only). */
  keptDisks: Array<DefinedDisk | undefined>;
}

/**
 * Everything the restore decides before anything changes: the archive read and
 * checked, each snapshot's contents looked at, the plan. A failure here is the
 * create's failure, with nothing made.
 */
export async function prepareRestore(
  conn: Connection,
  from: ArchiveSource,
  inputs: { disks?: DiskInput[]; machine?: string; xml?: string },
): Promise<PreparedRestore> {
  const where = describeSource(from);
  let text: string;
  try {
    text = await readArchiveText(conn, from);
  } catch (err) {
    throw new Error(`restoreSnapshotsFrom: cannot read the snapshot archive ${where}: ${(err as Error).message}. Nothing was created.`, {
      cause: err,
    });
  }
  let archive: RestorableArchive;
  try {
    archive = parseArchive(text, where);
  } catch (err) {
    throw new Error(`restoreSnapshotsFrom: ${(err as Error).message}. Nothing was created.`, { cause: err });
  }
  const reader = new ImageReader(conn);
  const plan = planRestore(archive.snapshots, await missingOf(reader, archive));
  const keptDisks = inputs.xml === undefined && inputs.disks ? await archivedTops(reader, archive, inputs.disks, inputs.machine) : [];
  return { from, archive, plan, keptDisks };
}

/**
 * For a replacement that keeps the tree, checked in its diff: each of the live
 * domain's snapshots (`names`, parents first) whose contents the create could not
 * show to be in the images, with why (the create would skip it). Read as the
 * create will read it: the snapshots' XML as the archive gets it.
 */
export async function unverifiableOnLive(conn: Connection, dom: DomainHandle, names: string[]): Promise<Map<string, string>> {
  const archive = await collectArchive(dom, names, false);
  return missingOf(new ImageReader(conn), archive);
}

export interface RestoreOutcome {
  restored: string[];
  skipped: SkippedSnapshot[];
}

/**
 * Redefines the planned snapshots on the new domain, marks them for the stack's
 * Snapshot resources to adopt (restore-mark.ts) and reports. `redefined` collects
 * the names as they are made, so that a failure can remove them (removeRedefined).
 */
export async function redefineArchived(
  dom: DomainHandle,
  prepared: PreparedRestore,
  redefined: string[],
  { mark = true }: { mark?: boolean } = {},
): Promise<RestoreOutcome> {
  const { archive, plan } = prepared;
  const byName = new Map(archive.snapshots.map((s) => [s.name, s]));
  const identity = { name: dom.name(), uuid: dom.uuid() };
  for (const step of plan.redefine) {
    try {
      (await dom.redefineSnapshot(snapshotXmlFor(byName.get(step.name)!.xml, identity), `"${step.name}"`, { current: step.current })).free();
    } catch (err) {
      throw new Error(
        `restoreSnapshotsFrom: libvirt refused to redefine snapshot "${step.name}" from ${describeSource(prepared.from)}: ${(err as Error).message}. ` +
          `Nothing of the restore is kept; fix or remove that snapshot's entry in the archive (and its descendants'), or drop restoreSnapshotsFrom`,
        { cause: err },
      );
    }
    redefined.push(step.name);
  }
  // No mark after a replacement that kept the tree: the stack's Snapshot resources of it stayed, none adopts.
  if (mark && redefined.length > 0) {
    await writeRestoredMark(
      dom,
      redefined.map((name) => ({ name, creationTime: byName.get(name)!.creationTime })),
    );
  }
  console.error(describeRestore(dom.name(), describeSource(prepared.from), plan, archive.snapshots));
  return { restored: [...redefined], skipped: plan.skipped };
}

/** Removes the metadata of the snapshots a failed create redefined (children first); the contents stay in the images. */
export async function removeRedefined(dom: DomainHandle, names: string[]): Promise<void> {
  for (const name of [...names].reverse()) {
    const snap = await dom.lookupSnapshot(name);
    if (!snap) continue;
    try {
      await snap.delete(virDomainSnapshotDeleteFlags.VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY);
    } finally {
      snap.free();
    }
  }
}
