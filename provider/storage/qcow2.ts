// What an image file is, read from its first bytes: the qcow2 header (magic,
// virtual size, backing file, number and offset of internal snapshots) and the
// snapshot table. Pure functions on buffers; the callers fetch the bytes
// (from a local file, or from a remote volume through virStorageVolDownload).

export const QCOW2_MAGIC = 0x514649fb; // "QFI\xfb"
/** Enough for every header field read here (version 2 and 3 headers). */
export const QCOW2_HEADER_BYTES = 72;

export interface Qcow2Header {
  version: number;
  virtualSize: number;
  backingFileOffset: number;
  backingFileSize: number;
  snapshotCount: number;
  snapshotsOffset: number;
}

export function isQcow2(head: Buffer): boolean {
  return head.length >= 4 && head.readUInt32BE(0) === QCOW2_MAGIC;
}

/** The header of a qcow2 image, or null for anything else (raw, too short). */
export function parseQcow2Header(head: Buffer): Qcow2Header | null {
  if (!isQcow2(head) || head.length < QCOW2_HEADER_BYTES) return null;
  return {
    version: head.readUInt32BE(4),
    backingFileOffset: Number(head.readBigUInt64BE(8)),
    backingFileSize: head.readUInt32BE(16),
    virtualSize: Number(head.readBigUInt64BE(24)),
    snapshotCount: head.readUInt32BE(60),
    snapshotsOffset: Number(head.readBigUInt64BE(64)),
  };
}

/** Bytes of the snapshot table worth fetching to name `count` snapshots (names are short in practice). */
export function snapshotTableBytes(count: number): number {
  return Math.min(8 * 1024 * 1024, count * 512 + 64 * 1024);
}

/**
 * Snapshot names from the snapshot table (QEMU's docs/interop/qcow2.txt,
 * "Snapshot table"). Entries that run past `table` are left out: callers
 * report the count from the header in any case.
 */
export function parseSnapshotTable(table: Buffer, count: number): string[] {
  const names: string[] = [];
  let off = 0;
  for (let i = 0; i < count; i++) {
    if (off + 40 > table.length) break;
    const idSize = table.readUInt16BE(off + 12);
    const nameSize = table.readUInt16BE(off + 14);
    const extraSize = table.readUInt32BE(off + 36);
    const nameStart = off + 40 + extraSize + idSize;
    if (nameStart + nameSize > table.length) break;
    names.push(table.toString("utf8", nameStart, nameStart + nameSize));
    off = nameStart + nameSize;
    off += (8 - (off % 8)) % 8;
  }
  return names;
}
