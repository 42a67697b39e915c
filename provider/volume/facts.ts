// Gathers what the refusal rules decide on: every domain's disks, every
// volume's backing file, the image's internal snapshots. Reads only.
import type { Connection } from "../libvirt/connection";
import { isNoPool, isNoVolume } from "../libvirt/errors";
import { allDomainDefinitions, type DomainDefinitions, type StorageVolHandle } from "../libvirt/storage";
import { posix } from "node:path";
import { internalSnapshots, isLocalUri, readBackingChain, realPathOf, type ChainLink } from "../storage/image-probe";
import type { VolumeFacts } from "../teardown/volume";
import { domainXmlReferences, parseVolumeXml, snapshotXmlReferences } from "./xml";

export interface IndexedVolume {
  pool: string;
  name: string;
  path: string;
  backingPath?: string;
  /** Its backing chain, the volume itself first (see Surroundings.needs for how it is read). */
  chain: Link[];
}

/** One image of a chain: its path and the real path compared with others. */
export interface Link {
  path: string;
  /** fs.realpath on a local hypervisor (symlinks, `..`); the normalised path on a remote one. */
  real: string;
}

/** Every volume of every active pool on the connection, with its backing file (chains are added by surroundings). */
export async function volumeIndex(conn: Connection): Promise<IndexedVolume[]> {
  const pools = await conn.listPools();
  const out: IndexedVolume[] = [];
  try {
    for (const pool of pools) {
      let vols: StorageVolHandle[];
      try {
        if (!(await pool.isActive())) continue;
        // libvirt lists what its last scan of the directory found: an overlay made since
        // (a snapshot, qemu-img) is a volume only after a rescan. Not waiting for a pool
        // that is building a volume (another operation): its last scan stands, and the
        // domains' chains, read from the images, still name whatever they use there.
        await pool.refreshIfIdle();
        vols = await pool.listVolumes();
      } catch (err) {
        // Undefined or stopped by someone else since the list (another stack's pool,
        // say): it holds nothing to check, and is no reason to fail this operation.
        if (isNoPool(err) || !(await pool.isActive().catch(() => false))) continue;
        throw err;
      }
      try {
        for (const vol of vols) {
          let xml: string;
          try {
            xml = await vol.xml();
          } catch (err) {
            if (isNoVolume(err)) continue; // deleted while the pool was being read (a concurrent delete)
            throw err;
          }
          const v = parseVolumeXml(xml);
          out.push({ pool: pool.name(), name: v.name, path: v.path, backingPath: v.backingPath, chain: [] });
        }
      } finally {
        vols.forEach((v) => v.free());
      }
    }
  } finally {
    pools.forEach((p) => p.free());
  }
  return out;
}

/** A file a domain needs: a disk, a snapshot's overlay or memory file, with the whole chain below it. */
export interface Need {
  domain: string;
  what: string;
  /** Top first; every image the reference makes QEMU open (qcow2 external data files included). */
  chain: Link[];
  volume?: { pool: string; name: string };
}

export interface Surroundings {
  domains: DomainDefinitions[];
  volumes: IndexedVolume[];
  needs: Need[];
}

/** Reads chains from the image files (local hypervisor), each file once per reading. */
class ChainReader {
  private cache = new Map<string, Promise<ChainLink[]>>();
  constructor(readonly local: boolean) {}

  real(path: string): Promise<string> {
    return this.local ? realPathOf(path) : Promise.resolve(posix.normalize(path));
  }

  private read(path: string): Promise<ChainLink[]> {
    let c = this.cache.get(path);
    if (!c) this.cache.set(path, (c = readBackingChain(path)));
    return c;
  }

  /**
   * The chain below `stated` (paths top first, as a definition or volume XML states
   * them): each stated image, then on a local hypervisor what the images' own
   * headers name (a shut-off domain's definition states only the top), and on a
   * remote one the backing files of the pool volumes it reaches.
   */
  async chain(stated: string[], index: Map<string, IndexedVolume>): Promise<Link[]> {
    const out: Link[] = [];
    const seen = new Set<string>();
    const add = (path: string, real: string) => {
      if (seen.has(real)) return false;
      seen.add(real);
      out.push({ path, real });
      return true;
    };
    for (const path of stated) {
      if (!path.startsWith("/")) continue; // network disks: not a host file
      if (this.local) {
        for (const link of await this.read(path)) {
          add(link.path, link.real);
          if (link.dataFile) add(link.dataFile.path, link.dataFile.real);
        }
      } else {
        let p: string | undefined = path;
        while (p && add(p, await this.real(p))) p = index.get(posix.normalize(p))?.backingPath;
      }
    }
    return out;
  }
}

/** The domains and volumes on the connection, read once for one or many volume checks. */
export async function surroundings(conn: Connection): Promise<Surroundings> {
  const domains = await allDomainDefinitions(conn);
  const volumes = await volumeIndex(conn);
  const reader = new ChainReader(isLocalUri(conn.uri));
  const byPath = new Map(volumes.map((v) => [posix.normalize(v.path), v]));
  const byName = new Map(volumes.map((v) => [`${v.pool}/${v.name}`, v]));
  for (const v of volumes) v.chain = await reader.chain([v.path], byPath);
  const needs: Need[] = [];
  for (const d of domains) {
    const refs = [...d.xmls.flatMap(domainXmlReferences), ...d.snapshots.flatMap((s) => snapshotXmlReferences(s.name, s.xml))];
    for (const ref of refs) {
      const stated =
        ref.chain.length > 0 ? ref.chain : ref.volume ? [byName.get(`${ref.volume.pool}/${ref.volume.name}`)?.path ?? ""].filter(Boolean) : [];
      needs.push({ domain: d.name, what: ref.what, chain: await reader.chain(stated, byPath), volume: ref.volume });
    }
  }
  return { domains, volumes, needs };
}

const MAX_CHAIN_SHOWN = 6;
function showChain(links: Link[], upTo: number): string {
  const shown = links.slice(0, upTo + 1).map((l) => l.path);
  if (shown.length > MAX_CHAIN_SHOWN) shown.splice(2, shown.length - MAX_CHAIN_SHOWN + 1, "…");
  return shown.join(" → ");
}

interface SharedReading {
  current?: Promise<Surroundings>;
  next?: { promise: Promise<Surroundings>; conn: Connection; resolve: (s: Surroundings) => void; reject: (e: unknown) => void };
}
const readings = new Map<string, SharedReading>();

/**
 * The surroundings as they are now, for a volume check: a reading that begins after
 * this call. Reading every domain and volume is O(domains + volumes) libvirt calls,
 * and listing domains waits for those being stopped; when Pulumi deletes many volumes
 * at once, each would read everything again. Instead, calls that arrive while a
 * reading is under way all join the next one, which begins when it ends: as fresh
 * for each of them as a reading of its own, made once. The next reading uses the
 * first waiter's connection, which is idle while it waits.
 */
export function freshSurroundings(conn: Connection): Promise<Surroundings> {
  let r = readings.get(conn.uri);
  if (!r) readings.set(conn.uri, (r = {}));
  if (!r.current) return startReading(r, conn);
  if (!r.next) {
    let resolve!: (s: Surroundings) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<Surroundings>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    r.next = { promise, conn, resolve, reject };
  }
  return r.next.promise;
}

function startReading(r: SharedReading, conn: Connection): Promise<Surroundings> {
  const reading = surroundings(conn);
  r.current = reading;
  const done = () => {
    r.current = undefined;
    const next = r.next;
    r.next = undefined;
    if (next) startReading(r, next.conn).then(next.resolve, next.reject);
  };
  reading.then(done, done);
  return reading;
}

export async function gatherVolumeFacts(
  conn: Connection,
  poolName: string,
  vol: StorageVolHandle,
  around: Surroundings,
  /** Volumes (paths) that are being deleted in the same operation (a pool's cascade): their own chains do not count. */
  alsoDeleted: Set<string> = new Set(),
): Promise<VolumeFacts> {
  const name = vol.name();
  const path = await vol.path();
  const reader = new ChainReader(isLocalUri(conn.uri));
  const real = await reader.real(path);
  const deleted = new Set(await Promise.all([...alsoDeleted].map((p) => reader.real(p))));
  // Every domain whose disks, snapshots' overlays or memory files reach this file through
  // their whole chain, by real path (a symlink or `..` names the same file).
  const usedVia: Record<string, string[]> = {};
  for (const need of around.needs) {
    const at = need.chain.findIndex((l) => l.real === real);
    const byName = need.volume !== undefined && need.volume.pool === poolName && need.volume.name === name;
    if (at < 0 && !byName) continue;
    (usedVia[need.domain] ??= []).push(at < 0 ? `${need.what}: volume ${poolName}/${name}` : `${need.what}: ${showChain(need.chain, at)}`);
  }
  const backingVia: Record<string, string> = {};
  for (const v of around.volumes) {
    if (v.chain.length === 0 || v.chain[0].real === real || deleted.has(v.chain[0].real)) continue;
    const at = v.chain.findIndex((l, i) => i > 0 && l.real === real);
    if (at > 0) backingVia[`${v.pool}/${v.name}`] = showChain(v.chain, at);
  }
  let snapshots: VolumeFacts["snapshots"];
  try {
    snapshots = await internalSnapshots(conn.uri, vol, path);
  } catch (err) {
    snapshots = { error: (err as Error).message };
  }
  const usedBy = Object.keys(usedVia).sort();
  return { pool: poolName, name, path, usedBy, backingOf: Object.keys(backingVia), snapshots, usedVia, backingVia };
}
