// Typed wrapper of a libvirt virtual network (virNetworkPtr), and the
// connection-level calls that find or make one. Every call that may reach the
// daemon goes through Connection.call (worker thread, per-connection error).
//
// lookupNetwork / defineNetwork / listNetworks take the connection: they belong
// on it (conn.lookupNetwork, as the domain lookups move there) once that pattern
// is on main.
import type { Connection } from "./connection";
import { isNoNetwork } from "./errors";
import { virNetworkXMLFlags } from "./libvirt.gen";
import { native, type Ptr } from "./native";
import { UUID_RE } from "./uuid";

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
  async update(command: number, section: number, parentIndex: number, xml: string, flags: number, what: string): Promise<void> {
    await this.conn.call(this.op(what), "virNetworkUpdate", this.ptr, command, section, parentIndex, xml, flags);
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    native().sync.virNetworkFree(this.ptr);
  }
}

/** A network by UUID (36 chars with dashes) or name; null when libvirt says there is none. */
export async function lookupNetwork(conn: Connection, idOrName: string): Promise<NetworkHandle | null> {
  try {
    const ptr = UUID_RE.test(idOrName)
      ? await conn.call(`looking up network ${idOrName}`, "virNetworkLookupByUUIDString", conn.ptr, idOrName)
      : await conn.call(`looking up network "${idOrName}"`, "virNetworkLookupByName", conn.ptr, idOrName);
    return new NetworkHandle(conn, ptr!, `"${idOrName}"`);
  } catch (err) {
    if (isNoNetwork(err)) return null;
    throw err;
  }
}

/** virNetworkDefineXML: a persistent, inactive network. */
export async function defineNetwork(conn: Connection, xml: string, name: string): Promise<NetworkHandle> {
  const ptr = await conn.call(`defining network "${name}"`, "virNetworkDefineXML", conn.ptr, xml);
  return new NetworkHandle(conn, ptr!, `"${name}"`);
}

/** Every network on the connection, active or not. Caller frees them. */
export async function listNetworks(conn: Connection, flags = 0): Promise<NetworkHandle[]> {
  const out: [unknown] = [null];
  const count = await conn.call("listing networks", "virConnectListAllNetworks", conn.ptr, out, flags);
  return native()
    .takePointerArray(out[0], count)
    .map((p) => new NetworkHandle(conn, p as Ptr<"virNetwork">, ""));
}

/** Runs fn with the network looked up by UUID or name (null when absent), freeing it afterwards. */
export async function withNetwork<T>(conn: Connection, idOrName: string, fn: (net: NetworkHandle | null) => Promise<T>): Promise<T> {
  const net = await lookupNetwork(conn, idOrName);
  try {
    return await fn(net);
  } finally {
    net?.free();
  }
}
