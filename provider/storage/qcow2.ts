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

// ---------------------------------------------------------------------------
// What an image refers to outside itself: its backing file and, since QEMU 4.0,
// an external data file (docs/interop/qcow2.txt: incompatible feature bit 2 and
// header extension 0x44415441). Both make a reader open another host file.

/** Incompatible feature bit 2: the guest data lives in an external data file. */
export const QCOW2_INCOMPAT_DATA_FILE = 1n << 2n;
const EXT_END = 0x00000000;
const EXT_BACKING_FORMAT = 0xe2792aca;
const EXT_DATA_FILE = 0x44415441;
/** Bytes read from the start of an image to find its header extensions and backing file name. */
export const QCOW2_PROBE_BYTES = 64 * 1024;

export interface Qcow2References {
  /** The backing file name exactly as stored (absolute, or relative to the image's directory). */
  backingFile?: string;
  /** The backing file's format from the header extension, when recorded. */
  backingFormat?: string;
  /** Set when the incompatible "external data file" bit is set. */
  externalDataFile: boolean;
  /** The data file name from its header extension (may be absent even with the bit set). */
  dataFile?: string;
}

/**
 * The files a qcow2 image refers to, from its first bytes (QCOW2_PROBE_BYTES is
 * enough for every header QEMU writes). Null for anything that is not qcow2.
 * A name that lies beyond `head` is reported as "(unreadable)" so that callers
 * still see that there is one.
 */
export function parseQcow2References(head: Buffer): Qcow2References | null {
  const h = parseQcow2Header(head);
  if (!h) return null;
  const refs: Qcow2References = { externalDataFile: false };
  if (h.backingFileOffset > 0 && h.backingFileSize > 0) {
    const end = h.backingFileOffset + h.backingFileSize;
    refs.backingFile = end <= head.length ? head.toString("utf8", h.backingFileOffset, end) : "(unreadable)";
  }
  // Version 2 headers are 72 bytes and have no feature bits; extensions follow them.
  let off = 72;
  if (h.version >= 3 && head.length >= 104) {
    if ((head.readBigUInt64BE(72) & QCOW2_INCOMPAT_DATA_FILE) !== 0n) refs.externalDataFile = true;
    off = head.readUInt32BE(100);
  }
  // Extensions end at the end marker, or where the backing file name begins.
  const limit = Math.min(head.length, h.backingFileOffset > 0 ? h.backingFileOffset : head.length);
  let ended = false;
  while (off + 8 <= limit) {
    const type = head.readUInt32BE(off);
    const len = head.readUInt32BE(off + 4);
    if (type === EXT_END) {
      ended = true;
      break;
    }
    const data = off + 8;
    if (data + len > head.length) break;
    if (type === EXT_BACKING_FORMAT) refs.backingFormat = head.toString("utf8", data, data + len);
    if (type === EXT_DATA_FILE) refs.dataFile = head.toString("utf8", data, data + len);
    off = data + len + ((8 - (len % 8)) % 8);
  }
  if (refs.dataFile !== undefined) refs.externalDataFile = true;
  // The extensions ran past the bytes given: the data file's name may be beyond them.
  else if (refs.externalDataFile && !ended && limit >= head.length) refs.dataFile = "(unreadable)";
  return refs;
}

/** Magic bytes of other image formats that QEMU and libvirt recognise by content, some of which name other files. */
const OTHER_FORMATS: Array<{ name: string; offset: number; magic: Buffer }> = [
  { name: "qcow (version 1)", offset: 0, magic: Buffer.from([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 1]) },
  { name: "qed", offset: 0, magic: Buffer.from("QED\0", "latin1") },
  { name: "vmdk", offset: 0, magic: Buffer.from("KDMV", "latin1") },
  { name: "vmdk descriptor", offset: 0, magic: Buffer.from("# Disk DescriptorFile", "latin1") },
  { name: "vhdx", offset: 0, magic: Buffer.from("vhdxfile", "latin1") },
  { name: "vdi", offset: 0x40, magic: Buffer.from([0x7f, 0x10, 0xda, 0xbe]) },
  { name: "luks", offset: 0, magic: Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]) },
  { name: "qcow2", offset: 0, magic: Buffer.from([0x51, 0x46, 0x49, 0xfb]) },
];

/** The image format whose magic the bytes begin with, or null when they look like raw data. */
export function recognisedFormat(head: Buffer): string | null {
  for (const f of OTHER_FORMATS) {
    if (head.length >= f.offset + f.magic.length && head.subarray(f.offset, f.offset + f.magic.length).equals(f.magic)) return f.name;
  }
  return null;
}
