// Typed wrappers of libvirt storage pools (virStoragePoolPtr) and volumes
// (virStorageVolPtr), and the listing of every domain's XML that the volume
// refusal rules need. Every call that may reach the daemon goes through
// Connection.call (worker thread, per-connection error).
import { withLookedUp } from "./handle";
import type { Connection } from "./connection";
import { isNoDomain, isNoSnapshot, isNotRunning, isNoVolume, isPoolBusy, orNull } from "./errors";
import { whileJobBusy } from "./job-wait";
import {
  virConnectListAllDomainsFlags,
  type virStoragePoolBuildFlags,
  type virStorageVolCreateFlags,
  type virStorageVolDeleteFlags,
  type virStorageVolResizeFlags,
} from "./libvirt.gen";
import { native, type Ptr } from "./native";

/** A storage pool handle, got from its connection (Connection.lookupPool, definePool, listPools). */
export class StoragePoolHandle {
  private freed = false;
  constructor(
    readonly conn: Connection,
    readonly ptr: Ptr<"virStoragePool">,
    private readonly label: string,
  ) {}

  private op(what: string): string {
    return `${what} storage pool ${this.label || `"${this.name()}"`}`;
  }

  name(): string {
    return native().sync.virStoragePoolGetName(this.ptr) ?? this.label;
  }

  uuid(): string {
    const buf = Buffer.alloc(37);
    native().sync.virStoragePoolGetUUIDString(this.ptr, buf);
    return buf.toString("latin1", 0, 36);
  }

  async build(flags: virStoragePoolBuildFlags | 0 = 0): Promise<void> {
    await this.conn.call(this.op("building"), "virStoragePoolBuild", this.ptr, flags);
  }

  async start(): Promise<void> {
    await this.conn.call(this.op("starting"), "virStoragePoolCreate", this.ptr, 0);
  }

  async destroy(): Promise<void> {
    await this.conn.call(this.op("stopping"), "virStoragePoolDestroy", this.ptr);
  }

  /** virStoragePoolDelete: for a directory pool, rmdir of its (empty) directory. */
  async deleteDirectory(): Promise<void> {
    await this.conn.call(this.op("removing the directory of"), "virStoragePoolDelete", this.ptr, 0);
  }

  async undefine(): Promise<void> {
    await this.conn.call(this.op("undefining"), "virStoragePoolUndefine", this.ptr);
  }

  async isActive(): Promise<boolean> {
    return (await this.conn.call(this.op("checking"), "virStoragePoolIsActive", this.ptr)) === 1;
  }

  async isPersistent(): Promise<boolean> {
    return (await this.conn.call(this.op("checking"), "virStoragePoolIsPersistent", this.ptr)) === 1;
  }

  /**
   * Rescans the pool's directory once, without waiting: false when libvirt refuses
   * because a volume of the pool is being built (its last scan then stands).
   */
  async refreshIfIdle(): Promise<boolean> {
    try {
      await this.conn.call(this.op("refreshing"), "virStoragePoolRefresh", this.ptr, 0);
      return true;
    } catch (err) {
      if (isPoolBusy(err)) return false;
      throw err;
    }
  }

  /** Rescans the pool's directory, so files added or removed outside libvirt are seen. */
  async refresh(): Promise<void> {
    // Refused while another volume of the pool is being built: wait for it, as for a domain job.
    const what = this.op("refreshing");
    await whileJobBusy(what, () => this.conn.call(what, "virStoragePoolRefresh", this.ptr, 0), {
      isBusy: isPoolBusy,
      initialDelayMs: 50,
      maxDelayMs: 1_000,
    });
  }

  async xml(): Promise<string> {
    return (await this.conn.call(this.op("reading XML of"), "virStoragePoolGetXMLDesc", this.ptr, 0))!;
  }

  async autostart(): Promise<boolean> {
    const out: [number] = [0];
    await this.conn.call(this.op("reading autostart of"), "virStoragePoolGetAutostart", this.ptr, out);
    return out[0] === 1;
  }

  async setAutostart(on: boolean): Promise<void> {
    await this.conn.call(this.op(`setting autostart=${on} on`), "virStoragePoolSetAutostart", this.ptr, on ? 1 : 0);
  }

  /** The pool's volumes (an active pool only). Caller frees them. */
  async listVolumes(): Promise<StorageVolHandle[]> {
    const out: [unknown] = [null];
    const count = await this.conn.call(this.op("listing volumes of"), "virStoragePoolListAllVolumes", this.ptr, out, 0);
    return native()
      .takePointerArray(out[0], count)
      .map((p) => new StorageVolHandle(this.conn, p as Ptr<"virStorageVol">));
  }

  /** The volume called `name` in this pool; null when libvirt says there is none. */
  lookupVolume(name: string): Promise<StorageVolHandle | null> {
    return orNull(isNoVolume, async () => {
      const ptr = await this.conn.call(`looking up volume "${name}" in storage pool "${this.name()}"`, "virStorageVolLookupByName", this.ptr, name);
      return new StorageVolHandle(this.conn, ptr!);
    });
  }

  async createVolume(xml: string, flags: virStorageVolCreateFlags | 0, label: string): Promise<StorageVolHandle> {
    const ptr = await this.conn.call(`creating volume ${label} in storage pool "${this.name()}"`, "virStorageVolCreateXML", this.ptr, xml, flags);
    return new StorageVolHandle(this.conn, ptr!);
  }

  async volumeNames(): Promise<string[]> {
    const vols = await this.listVolumes();
    try {
      return vols.map((v) => v.name()).sort();
    } finally {
      vols.forEach((v) => v.free());
    }
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    native().sync.virStoragePoolFree(this.ptr);
  }
}

/** A volume handle, got from its pool (lookupVolume, createVolume, listVolumes) or its connection (Connection.lookupVolumeByPath). */
export class StorageVolHandle {
  private freed = false;
  constructor(
    readonly conn: Connection,
    readonly ptr: Ptr<"virStorageVol">,
  ) {}

  name(): string {
    return native().sync.virStorageVolGetName(this.ptr) ?? "";
  }

  key(): string {
    return native().sync.virStorageVolGetKey(this.ptr) ?? "";
  }

  private op(what: string): string {
    return `${what} volume "${this.name()}"`;
  }

  async path(): Promise<string> {
    return (await this.conn.call(this.op("reading the path of"), "virStorageVolGetPath", this.ptr))!;
  }

  async xml(): Promise<string> {
    return (await this.conn.call(this.op("reading XML of"), "virStorageVolGetXMLDesc", this.ptr, 0))!;
  }

  async resize(capacity: number, flags: virStorageVolResizeFlags | 0 = 0): Promise<void> {
    await this.conn.call(this.op(`resizing to ${capacity} bytes`), "virStorageVolResize", this.ptr, capacity, flags);
  }

  async delete(flags: virStorageVolDeleteFlags | 0 = 0): Promise<void> {
    await this.conn.call(this.op("deleting"), "virStorageVolDelete", this.ptr, flags);
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    native().sync.virStorageVolFree(this.ptr);
  }
}

/** Runs fn with a pool looked up by UUID or name (null when absent), freeing it afterwards. */
export const withPool = <T>(conn: Connection, idOrName: string, fn: (pool: StoragePoolHandle | null) => Promise<T>): Promise<T> =>
  withLookedUp(conn.lookupPool(idOrName), fn);

export interface DomainDefinitions {
  name: string;
  /** The live XML of a running domain and the persistent (inactive) definition, whichever exist. */
  xmls: string[];
  /** Every snapshot's XML (its disks' overlay files, its memory file, the definition it saved). */
  snapshots: Array<{ name: string; xml: string }>;
}

/** The UUIDs of the domains a filtered listing returns (one call). */
async function domainUuids(conn: Connection, flags: virConnectListAllDomainsFlags, what: string): Promise<Set<string>> {
  const doms = await conn.listDomains(flags, what);
  try {
    return new Set(doms.map((d) => d.uuid()));
  } finally {
    doms.forEach((d) => d.free());
  }
}

const skipGone = async <T>(fn: () => Promise<T>, ...gone: Array<(err: unknown) => boolean>): Promise<T | undefined> => {
  try {
    return await fn();
  } catch (err) {
    if (gone.some((test) => test(err))) return undefined;
    throw err;
  }
};

/**
 * Every domain on the connection, running or not, managed by Pulumi or not,
 * with its live and persistent definitions and its snapshots' XML. A domain or
 * snapshot that disappears while being read is skipped.
 *
 * Calls: four listings (all, active, persistent, with snapshots), then one XML per
 * definition, and for domains that have snapshots one listing and one XML per
 * snapshot: which domains run or persist comes from the filtered listings, not
 * from two calls per domain.
 */
export async function allDomainDefinitions(conn: Connection): Promise<DomainDefinitions[]> {
  const F = virConnectListAllDomainsFlags;
  const doms = await conn.listDomains();
  const result: DomainDefinitions[] = [];
  try {
    const active = await domainUuids(conn, F.VIR_CONNECT_LIST_DOMAINS_ACTIVE, "running");
    const persistent = await domainUuids(conn, F.VIR_CONNECT_LIST_DOMAINS_PERSISTENT, "persistent");
    const withSnapshots = await domainUuids(conn, F.VIR_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT, "snapshotted");
    for (const dom of doms) {
      const uuid = dom.uuid();
      // Neither running nor persistent by the listings: it changed meanwhile; read both (a missing one is skipped).
      const unsure = !active.has(uuid) && !persistent.has(uuid);
      const xmls: string[] = [];
      if (active.has(uuid) || unsure) {
        const x = await skipGone(() => dom.xml(), isNoDomain, isNotRunning);
        if (x !== undefined) xmls.push(x);
      }
      if (persistent.has(uuid) || unsure) {
        const x = await skipGone(() => dom.xml({ inactive: true }), isNoDomain);
        if (x !== undefined) xmls.push(x);
      }
      if (xmls.length === 0) continue; // gone
      const snapshots: DomainDefinitions["snapshots"] = [];
      if (withSnapshots.has(uuid)) {
        const snaps = (await skipGone(() => dom.listSnapshots(0), isNoDomain)) ?? [];
        try {
          for (const snap of snaps) {
            const xml = await skipGone(() => snap.xml(), isNoDomain, isNoSnapshot);
            if (xml !== undefined) snapshots.push({ name: snap.name(), xml });
          }
        } finally {
          snaps.forEach((s) => s.free());
        }
      }
      result.push({ name: dom.name(), xmls, snapshots });
    }
  } finally {
    doms.forEach((d) => d.free());
  }
  return result;
}
