// Gathers what the refusal rules decide on: every domain's disks, every
// volume's backing file, the image's internal snapshots. Reads only.
import type { Connection } from "../libvirt/connection";
import { allDomainDefinitions, isNoPool, isNoVolume, StoragePoolHandle, type DomainDefinitions, type StorageVolHandle } from "../libvirt/storage";
import { internalSnapshots } from "./image-probe";
import type { VolumeFacts } from "../teardown";
import { domainXmlUsesVolume, parseVolumeXml } from "./volume-xml";

export interface IndexedVolume {
  pool: string;
  name: string;
  path: string;
  backingPath?: string;
}

/** Every volume of every active pool on the connection, with its backing file. */
export async function volumeIndex(conn: Connection): Promise<IndexedVolume[]> {
  const pools = await StoragePoolHandle.listAll(conn);
  const out: IndexedVolume[] = [];
  try {
    for (const pool of pools) {
      let vols: StorageVolHandle[];
      try {
        if (!(await pool.isActive())) continue;
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
          out.push({ pool: pool.name(), name: v.name, path: v.path, backingPath: v.backingPath });
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

export interface Surroundings {
  domains: DomainDefinitions[];
  volumes: IndexedVolume[];
}

/** The domains and volumes on the connection, read once for one or many volume checks. */
export async function surroundings(conn: Connection): Promise<Surroundings> {
  return { domains: await allDomainDefinitions(conn), volumes: await volumeIndex(conn) };
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
    const promise = new Promise<Surroundings>((res, rej) => { resolve = res; reject = rej; });
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
  /** Overlays that are being deleted in the same operation (a pool's cascade) do not count. */
  alsoDeleted: Set<string> = new Set(),
): Promise<VolumeFacts> {
  const name = vol.name();
  const path = await vol.path();
  const ref = { path, pool: poolName, name };
  const usedBy = around.domains.filter((d) => d.xmls.some((x) => domainXmlUsesVolume(x, ref))).map((d) => d.name);
  const backingOf = around.volumes.filter((v) => v.backingPath === path && v.path !== path && !alsoDeleted.has(v.path)).map((v) => `${v.pool}/${v.name}`);
  let snapshots: VolumeFacts["snapshots"];
  try {
    snapshots = await internalSnapshots(conn.uri, vol, path);
  } catch (err) {
    snapshots = { error: (err as Error).message };
  }
  return { pool: poolName, name, path, usedBy: [...new Set(usedBy)].sort(), backingOf, snapshots };
}
