// The snapshot archive (docs/design.md, README's teardown rules): before the
// metadata-only cascade removes libvirt's snapshot metadata, the domain XML and
// every snapshot's XML are written to the hypervisor host next to the images (a
// pool volume, or a file beside the first disk) and read back. The planner
// (../teardown/domain.ts) decides where; this module writes and verifies.
import { mkdtemp, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DomainHandle } from "../libvirt/domain";
import { downloadRange, uploadFile } from "../libvirt/stream";
import { withPool } from "../libvirt/storage";
import { describeArchive, type ArchiveLocation } from "../teardown/domain";
import { archiveRefusedForReplacement } from "../teardown/keep-replace";
import { TeardownRefusedError } from "../teardown/refused";
import { parseSnapshotXml } from "../snapshot/xml";
import { buildVolumeXml } from "../volume/xml";

import { ARCHIVE_FORMAT, ARCHIVE_VERSION } from "../teardown/restore";

/** The archive's format marker and version (bumped on an incompatible change; the restore checks them). */
export { ARCHIVE_FORMAT, ARCHIVE_VERSION };

export interface ArchivedSnapshot {
  name: string;
  /** The parent snapshot's name; null for a root. */
  parent: string | null;
  isCurrent: boolean;
  /** Seconds since the Unix epoch, as libvirt's <creationTime>. */
  creationTime: number | null;
  /** virDomainSnapshotGetXMLDesc: what `virsh snapshot-create --redefine` takes back. */
  xml: string;
}

export interface SnapshotArchive {
  format: typeof ARCHIVE_FORMAT;
  version: typeof ARCHIVE_VERSION;
  /** When the archive was written (ISO 8601, UTC). */
  archivedAt: string;
  /** The XML is libvirt's secure form (archiveSecretsOnDestroy). */
  secure: boolean;
  domain: { name: string; uuid: string; persistent: boolean; xml: string };
  /** Parents before children. */
  snapshots: ArchivedSnapshot[];
}

/** Reads the domain's and each snapshot's XML, in the order given (parents before children). */
export async function collectArchive(dom: DomainHandle, names: string[], secure: boolean): Promise<SnapshotArchive> {
  const persistent = await dom.isPersistent();
  const snapshots: ArchivedSnapshot[] = [];
  for (const name of names) {
    const snap = await dom.lookupSnapshot(name);
    if (!snap) throw new Error(`snapshot "${name}" of domain "${dom.name()}" disappeared while it was archived`);
    try {
      const xml = await snap.xml({ secure });
      snapshots.push({
        name,
        parent: await snap.parentName(),
        isCurrent: await snap.isCurrent(),
        creationTime: parseSnapshotXml(xml).creationTime ?? null,
        xml,
      });
    } finally {
      snap.free();
    }
  }
  return {
    format: ARCHIVE_FORMAT,
    version: ARCHIVE_VERSION,
    archivedAt: new Date().toISOString(),
    secure,
    domain: { name: dom.name(), uuid: dom.uuid(), persistent, xml: await dom.xml({ inactive: persistent, secure }) },
    snapshots,
  };
}

/** Writes the archive as a file (never over an existing one), reads it back; removes what it wrote when they differ. */
async function writeFileArchive(path: string, bytes: Buffer): Promise<void> {
  // 0600: a secure archive holds passwords, and snapshot XML is root's business anyway.
  await writeFile(path, bytes, { flag: "wx", mode: 0o600 });
  const back = await readFile(path).catch((err: Error) => err);
  if (!(back instanceof Buffer) || !back.equals(bytes)) {
    await unlink(path).catch(() => undefined);
    throw back instanceof Error ? back : new Error(`reading ${path} back gave ${back.length} bytes that differ from the ${bytes.length} written`);
  }
}

/** Creates the volume, uploads the archive through a libvirt stream, downloads it again and compares. */
async function writeVolumeArchive(dom: DomainHandle, to: { pool: string; name: string }, bytes: Buffer): Promise<string> {
  return withPool(dom.conn, to.pool, async (pool) => {
    if (!pool) throw new Error(`storage pool "${to.pool}" does not exist`);
    if (!(await pool.isActive())) throw new Error(`storage pool "${to.pool}" is not running`);
    const vol = await pool.createVolume(buildVolumeXml({ name: to.name, capacity: bytes.length, format: "raw" }), 0, `"${to.name}"`);
    const dir = await mkdtemp(join(tmpdir(), "libvirt-pulumi-archive-"));
    let ok = false;
    try {
      const local = join(dir, to.name);
      await writeFile(local, bytes, { mode: 0o600 });
      await uploadFile(vol, local);
      const back = await downloadRange(vol, 0, bytes.length);
      if (!back.equals(bytes)) throw new Error(`reading the volume back gave ${back.length} bytes that differ from the ${bytes.length} uploaded`);
      ok = true;
      return await vol.path();
    } finally {
      await rm(dir, { recursive: true, force: true });
      if (!ok) await vol.delete(0).catch(() => undefined);
      vol.free();
    }
  });
}

/**
 * Collects, writes and verifies the archive; returns where it is (the volume's
 * path too). Any failure is a refusal: nothing else has changed yet.
 */
export async function writeArchive(
  dom: DomainHandle,
  to: ArchiveLocation,
  names: string[],
  secure: boolean,
  forReplacement = false,
): Promise<string> {
  const where = describeArchive(to);
  try {
    const bytes = Buffer.from(JSON.stringify(await collectArchive(dom, names, secure), null, 2) + "\n", "utf8");
    if (to.kind === "file") {
      await writeFileArchive(to.path, bytes);
      return where;
    }
    return `${where} (${await writeVolumeArchive(dom, to, bytes)})`;
  } catch (err) {
    if (forReplacement) throw new TeardownRefusedError(archiveRefusedForReplacement(dom.name(), names.length, where, (err as Error).message));
    throw new TeardownRefusedError(
      `refusing to delete domain "${dom.name()}" (nothing was changed on this domain): deleteSnapshotsOnDestroy removes libvirt's metadata of ` +
        `${names.length === 1 ? "its snapshot" : `its ${names.length} snapshots`}, which is archived first, and writing the archive to ${where} failed: ` +
        `${(err as Error).message}. Make that place writable (or free space there) and run the delete again, or set deleteSnapshotDataOnDestroy: true ` +
        `to delete the snapshot contents too (nothing to archive then).`,
    );
  }
}
