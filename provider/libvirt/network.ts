// Typed wrapper of a libvirt virtual network (virNetworkPtr). Lookups, the define
// and the listing are on its owner, the connection (conn.lookupNetwork,
// defineNetwork, listNetworks). Every call that may reach the daemon goes through
// Connection.call (worker thread, per-connection error).
import { withLookedUp } from "./handle";
import type { Connection } from "./connection";
import { virNetworkXMLFlags, type virNetworkUpdateCommand, type virNetworkUpdateFlags, type virNetworkUpdateSection } from "./libvirt.gen";
import { native, type Ptr } from "./native";

export class NetworkHandle {
  private freed = false;
  constructor(
    readonly conn: Connection,
    readonly ptr: Ptr<"virNetwork">,
    private readonly label: string,
  ) {}

  private op(what: string): string {
    return `${what} network ${this.label || `"${this.name()}"`}`;
  }

  name(): string {
    return native().sync.virNetworkGetName(this.ptr) ?? this.label;
  }

  uuid(): string {
    const buf = Buffer.alloc(37);
    native().sync.virNetworkGetUUIDString(this.ptr, buf);
    return buf.toString("latin1", 0, 36);
  }

  /** The network XML; `inactive` asks for the persistent definition (VIR_NETWORK_XML_INACTIVE) rather than the live one. */
  async xml(opts: { inactive?: boolean } = {}): Promise<string> {
    const flags = opts.inactive ? virNetworkXMLFlags.VIR_NETWORK_XML_INACTIVE : 0;
    return (await this.conn.call(this.op("reading XML of"), "virNetworkGetXMLDesc", this.ptr, flags))!;
  }

  /** The host bridge libvirt uses for the network (it picks virbrN when none was given). */
  async bridgeName(): Promise<string> {
    return (await this.conn.call(this.op("reading the bridge name of"), "virNetworkGetBridgeName", this.ptr)) ?? "";
  }

  async isActive(): Promise<boolean> {
    return (await this.conn.call(this.op("checking"), "virNetworkIsActive", this.ptr)) === 1;
  }

  async isPersistent(): Promise<boolean> {
    return (await this.conn.call(this.op("checking"), "virNetworkIsPersistent", this.ptr)) === 1;
  }

  async autostart(): Promise<boolean> {
    const out: [number] = [0];
    await this.conn.call(this.op("reading autostart of"), "virNetworkGetAutostart", this.ptr, out);
    return out[0] === 1;
  }

  async setAutostart(on: boolean): Promise<void> {
    await this.conn.call(this.op(`setting autostart=${on} on`), "virNetworkSetAutostart", this.ptr, on ? 1 : 0);
  }

  /** virNetworkCreate: starts the defined network. */
  async start(): Promise<void> {
    await this.conn.call(this.op("starting"), "virNetworkCreate", this.ptr);
  }

  /** virNetworkDestroy: stops it (the definition stays). */
  async destroy(): Promise<void> {
    await this.conn.call(this.op("stopping"), "virNetworkDestroy", this.ptr);
  }

  async undefine(): Promise<void> {
    await this.conn.call(this.op("undefining"), "virNetworkUndefine", this.ptr);
  }

  /**
   * virNetworkUpdate: one element of one section (virNetworkUpdateSection), added
   * or deleted (virNetworkUpdateCommand); `parentIndex` is the <ip> element's index
   * for a DHCP host, -1 for "any".
   */
  async update(
    command: virNetworkUpdateCommand,
    section: virNetworkUpdateSection,
    parentIndex: number,
    xml: string,
    flags: virNetworkUpdateFlags | 0,
    what: string,
  ): Promise<void> {
    await this.conn.call(this.op(what), "virNetworkUpdate", this.ptr, command, section, parentIndex, xml, flags);
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    native().sync.virNetworkFree(this.ptr);
  }
}

/** Runs fn with the network looked up by UUID or name (null when absent), freeing it afterwards. */
export const withNetwork = <T>(conn: Connection, idOrName: string, fn: (net: NetworkHandle | null) => Promise<T>): Promise<T> =>
  withLookedUp(conn.lookupNetwork(idOrName), fn);
