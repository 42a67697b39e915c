// Typed wrapper of a libvirt domain (virDomainPtr). Every method that may reach
// the daemon goes through Connection.call (worker thread, per-connection error).
import { withLookedUp } from "./handle";
import type { Connection } from "./connection";
import { isFunctionUnavailable, isNoMetadata, isNoSnapshot } from "./errors";
import { whileJobBusy } from "./job-wait";
import { orFlags } from "./flags";
import {
  virDomainState,
  virDomainInterfaceAddressesSource,
  virIPAddrType,
  virDomainXMLFlags,
  virDomainSnapshotCreateFlags,
  virDomainSnapshotListFlags,
  virDomainMetadataType,
  virDomainModificationImpact,
  type virDomainDestroyFlagsValues,
  type virDomainShutdownFlagValues,
  type virDomainUndefineFlagsValues,
} from "./libvirt.gen";
import { native, type Ptr } from "./native";
import { SnapshotHandle } from "./snapshot";

/** Where an interface's addresses come from: the network's DHCP leases, or the guest agent inside the guest. */
export type AddressSource = "lease" | "agent";

export interface GuestInterface {
  /** The guest's name for it (agent) or the host-side device (lease: vnet0). */
  name: string;
  mac: string;
  addresses: Array<{ type: "ipv4" | "ipv6"; address: string; prefix: number }>;
}

export type DomainStateName = "nostate" | "running" | "blocked" | "paused" | "shutdown" | "shutoff" | "crashed" | "pmsuspended";

const stateNames = new Map<number, DomainStateName>(
  Object.entries(virDomainState).map(([k, v]) => [v, k.replace("VIR_DOMAIN_", "").toLowerCase() as DomainStateName]),
);

/** A domain handle, got from its connection (Connection.lookupDomain, defineDomain, createTransientDomain, listDomains). */
export class DomainHandle {
  private freed = false;
  constructor(
    readonly conn: Connection,
    readonly ptr: Ptr<"virDomain">,
    private readonly label: string,
  ) {}

  private op(what: string): string {
    return `${what} domain ${this.label}`;
  }

  name(): string {
    return native().sync.virDomainGetName(this.ptr) ?? this.label;
  }

  uuid(): string {
    const buf = Buffer.alloc(37);
    native().sync.virDomainGetUUIDString(this.ptr, buf);
    return buf.toString("latin1", 0, 36);
  }

  async state(): Promise<{ state: DomainStateName; reason: number }> {
    const state: [number] = [0];
    const reason: [number] = [0];
    await this.conn.call(this.op("reading state of"), "virDomainGetState", this.ptr, state, reason, 0);
    return { state: stateNames.get(state[0]) ?? "nostate", reason: reason[0] };
  }

  async isPersistent(): Promise<boolean> {
    return (await this.conn.call(this.op("checking persistence of"), "virDomainIsPersistent", this.ptr)) === 1;
  }

  async isActive(): Promise<boolean> {
    return (await this.conn.call(this.op("checking whether it runs:"), "virDomainIsActive", this.ptr)) === 1;
  }

  /** The domain XML; `inactive` gives the persistent definition rather than the live one. */
  async xml(opts: { inactive?: boolean; secure?: boolean } = {}): Promise<string> {
    const flags = orFlags(opts.inactive ? virDomainXMLFlags.VIR_DOMAIN_XML_INACTIVE : 0, opts.secure ? virDomainXMLFlags.VIR_DOMAIN_XML_SECURE : 0);
    return (await this.conn.call(this.op("reading XML of"), "virDomainGetXMLDesc", this.ptr, flags))!;
  }

  async snapshotNames(): Promise<string[]> {
    const snaps = await this.listSnapshots(virDomainSnapshotListFlags.VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL);
    try {
      return snaps.map((s) => s.name());
    } finally {
      snaps.forEach((s) => s.free());
    }
  }

  /** All snapshots, parents before children (VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL). Caller frees them. */
  async listSnapshots(flags: virDomainSnapshotListFlags | 0 = 0): Promise<SnapshotHandle[]> {
    const out: [unknown] = [null];
    const count = await this.conn.call(this.op("listing snapshots of"), "virDomainListAllSnapshots", this.ptr, out, flags);
    return native()
      .takePointerArray(out[0], count)
      .map((p) => new SnapshotHandle(this.conn, p as Ptr<"virDomainSnapshot">, this.name()));
  }

  /** The snapshot called `name`; null when libvirt says there is none. */
  async lookupSnapshot(name: string): Promise<SnapshotHandle | null> {
    try {
      const ptr = await this.conn.call(
        `looking up snapshot "${name}" of domain "${this.name()}"`,
        "virDomainSnapshotLookupByName",
        this.ptr,
        name,
        0,
      );
      return new SnapshotHandle(this.conn, ptr!, this.name());
    } catch (err) {
      if (isNoSnapshot(err)) return null;
      throw err;
    }
  }

  /**
   * virDomainSnapshotCreateXML. Retried while another job holds the domain
   * (libvirt then has done nothing); see job-wait.ts.
   */
  async createSnapshot(xml: string, flags: virDomainSnapshotCreateFlags | 0, label: string): Promise<SnapshotHandle> {
    const what = `creating snapshot ${label} of domain "${this.name()}"`;
    const ptr = await whileJobBusy(what, () => this.conn.call(what, "virDomainSnapshotCreateXML", this.ptr, xml, flags));
    return new SnapshotHandle(this.conn, ptr!, this.name());
  }

  /**
   * Replaces the metadata of an existing snapshot, or defines it again from its XML
   * (VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE): its contents are untouched. `current`
   * makes it the domain's current snapshot (VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT).
   */
  async redefineSnapshot(xml: string, label: string, opts: { current?: boolean } = {}): Promise<SnapshotHandle> {
    const { VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE: REDEFINE, VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT: CURRENT } = virDomainSnapshotCreateFlags;
    return this.createSnapshot(xml, orFlags(REDEFINE, opts.current ? CURRENT : 0), label);
  }

  /**
   * The domain's checkpoints (a NULL list asks only for the count). A libvirt client
   * library older than 5.6 has no checkpoint API and so no checkpoints to count: 0, as
   * for a driver that says VIR_ERR_NO_SUPPORT. A newer daemon that does hold
   * checkpoints then still refuses a plain undefine itself.
   */
  async checkpointCount(): Promise<number> {
    try {
      return await this.conn.call(this.op("counting checkpoints of"), "virDomainListAllCheckpoints", this.ptr, null, 0);
    } catch (err) {
      if (isFunctionUnavailable(err, "virDomainListAllCheckpoints")) return 0;
      throw err;
    }
  }

  /** virDomainInterfaceAddresses: the interfaces' addresses as `source` knows them. */
  async interfaceAddresses(source: AddressSource): Promise<GuestInterface[]> {
    const out: [unknown] = [null];
    const code =
      source === "agent"
        ? virDomainInterfaceAddressesSource.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT
        : virDomainInterfaceAddressesSource.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE;
    const count = await this.conn.call(this.op(`reading the ${source} addresses of`), "virDomainInterfaceAddresses", this.ptr, out, code, 0);
    const lib = native();
    return lib.takePointerArray(out[0], count).map((p) => {
      try {
        const i = lib.decodeInterface(p);
        return {
          name: i.name ?? "",
          mac: (i.hwaddr ?? "").toLowerCase(),
          addresses: i.addrs
            .filter((a) => a.addr)
            .map((a) => ({
              type: a.type === virIPAddrType.VIR_IP_ADDR_TYPE_IPV6 ? ("ipv6" as const) : ("ipv4" as const),
              address: a.addr!,
              prefix: a.prefix,
            })),
        };
      } finally {
        lib.sync.virDomainInterfaceFree(p as Ptr<"virDomainInterface">);
      }
    });
  }

  /**
   * The persistent definition's `<metadata>` element of namespace `uri`
   * (virDomainGetMetadata); null when it has none (VIR_ERR_NO_DOMAIN_METADATA).
   */
  async metadata(uri: string): Promise<string | null> {
    try {
      return await this.conn.call(
        this.op("reading metadata of"),
        "virDomainGetMetadata",
        this.ptr,
        virDomainMetadataType.VIR_DOMAIN_METADATA_ELEMENT,
        uri,
        virDomainModificationImpact.VIR_DOMAIN_AFFECT_CONFIG,
      );
    } catch (err) {
      if (isNoMetadata(err)) return null;
      throw err;
    }
  }

  /** Sets (or with `xml` null removes) the persistent definition's `<metadata>` element of namespace `uri`, prefix `key`. */
  async setMetadata(xml: string | null, key: string, uri: string): Promise<void> {
    await this.conn.call(
      this.op("writing metadata of"),
      "virDomainSetMetadata",
      this.ptr,
      virDomainMetadataType.VIR_DOMAIN_METADATA_ELEMENT,
      xml,
      xml === null ? null : key,
      uri,
      virDomainModificationImpact.VIR_DOMAIN_AFFECT_CONFIG,
    );
  }

  async hasManagedSave(): Promise<boolean> {
    return (await this.conn.call(this.op("checking managed save of"), "virDomainHasManagedSaveImage", this.ptr, 0)) === 1;
  }

  async autostart(): Promise<boolean> {
    const out: [number] = [0];
    await this.conn.call(this.op("reading autostart of"), "virDomainGetAutostart", this.ptr, out);
    return out[0] === 1;
  }

  async setAutostart(on: boolean): Promise<void> {
    await this.conn.call(this.op(`setting autostart=${on} on`), "virDomainSetAutostart", this.ptr, on ? 1 : 0);
  }

  async start(): Promise<void> {
    await this.conn.call(this.op("starting"), "virDomainCreate", this.ptr);
  }

  /** virDomainShutdownFlags: asks the guest to shut down (ACPI power button, or the guest agent) and returns at once. */
  async shutdown(flags: virDomainShutdownFlagValues | 0 = 0): Promise<void> {
    await this.conn.call(this.op("asking to shut down"), "virDomainShutdownFlags", this.ptr, flags);
  }

  async destroy(flags: virDomainDestroyFlagsValues | 0 = 0): Promise<void> {
    await this.conn.call(this.op("stopping (destroy)"), "virDomainDestroyFlags", this.ptr, flags);
  }

  async undefine(flags: virDomainUndefineFlagsValues | 0): Promise<void> {
    await this.conn.call(this.op("undefining"), "virDomainUndefineFlags", this.ptr, flags);
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    native().sync.virDomainFree(this.ptr);
  }
}

/** Runs fn with the domain looked up by UUID or name, freeing it afterwards; null when it does not exist. */
export const withDomain = <T>(conn: Connection, idOrName: string, fn: (dom: DomainHandle | null) => Promise<T>): Promise<T> =>
  withLookedUp(conn.lookupDomain(idOrName), fn);
