// Generated from provider/network/spec.ts by scripts/gen-from-spec.mjs: do not edit.
import * as pulumi from "@pulumi/pulumi";
import type { AuthArgs, AuthOutput } from "../auth";

export interface NetworkDhcpRangeArgs {
  /** First address the DHCP server hands out. */
  start: pulumi.Input<string>;
  /** Last address it hands out (inside the same subnet as start, not before it). */
  end: pulumi.Input<string>;
}

export interface NetworkDhcpHostArgs {
  /** The guest interface's MAC address (IPv4 only: DHCPv6 identifies guests by name). */
  mac?: pulumi.Input<string>;
  /** The address this guest always gets. */
  ip: pulumi.Input<string>;
  /** The guest's host name; required for an IPv6 host, and for an IPv4 host without mac. */
  name?: pulumi.Input<string>;
}

export interface NetworkDhcpArgs {
  /** Dynamic ranges; each goes to the address whose subnet holds it. */
  ranges?: pulumi.Input<pulumi.Input<NetworkDhcpRangeArgs>[]>;
  /**
   * Static leases; each goes to the address whose subnet holds its ip. Change in place
   * (virNetworkUpdate).
   */
  hosts?: pulumi.Input<pulumi.Input<NetworkDhcpHostArgs>[]>;
}

export interface NetworkDnsHostArgs {
  /** The address the names resolve to. */
  ip: pulumi.Input<string>;
  /** Names that resolve to ip. */
  hostnames: pulumi.Input<pulumi.Input<string>[]>;
}

export interface NetworkArgs {
  /**
   * Network name. Default: the resource name. Changing it replaces the network (the old one is
   * deleted first; refused while domains have interfaces on it).
   */
  name?: pulumi.Input<string>;
  /**
   * Hypervisor URI. Default: the stack config libvirt-pulumi:uri, else LIBVIRT_DEFAULT_URI, else
   * libvirt's default (resolved when the network is created; a later change of the stack default
   * does not move it). Changing it replaces the network.
   */
  uri?: pulumi.Input<string>;
  /**
   * Credentials for a hypervisor that asks for them (a SASL listener on qemu+tcp://host/system).
   * Always stored as a secret; a plain password is made one. A change is recorded in place (the
   * next operations use it), it replaces nothing.
   */
  auth?: pulumi.Input<AuthArgs>;
  /**
   * How guests reach beyond the network: "nat" (default: through the host's address, like
   * libvirt's own "default" network), "isolated" (guests and host only), "route", "open" (routed,
   * no firewall rules), "bridge" (an existing host bridge given by bridgeName). Changing it
   * replaces the network.
   */
  mode?: pulumi.Input<"nat" | "isolated" | "bridge" | "route" | "open">;
  /**
   * The host bridge device. Default: libvirt picks one (virbrN). Required with mode "bridge" (an
   * existing host bridge). Changing it replaces the network.
   */
  bridgeName?: pulumi.Input<string>;
  /** The DNS domain of the guests ("lab.example"). Default: none. Changing it replaces the network. */
  domain?: pulumi.Input<string>;
  /**
   * The host's addresses on the network in CIDR form ("192.168.150.1/24", "fd00:150::1/64"); the
   * subnet of each is where guests get addresses. Not with mode "bridge". Default: none. Changing
   * them replaces the network.
   */
  addresses?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * DHCP: dynamic ranges and static hosts, each in the subnet of one of the addresses (one IPv4
   * and one IPv6 address may serve DHCP). Hosts change in place (virNetworkUpdate, live and
   * persistent); a change of ranges replaces the network. Default: none.
   */
  dhcp?: pulumi.Input<NetworkDhcpArgs>;
  /**
   * Names the network's DNS server resolves. Change in place (virNetworkUpdate, live and
   * persistent). Default: none.
   */
  dnsHosts?: pulumi.Input<pulumi.Input<NetworkDnsHostArgs>[]>;
  /** The bridge's MTU in bytes. Default: libvirt's (1500). Changing it replaces the network. */
  mtu?: pulumi.Input<number>;
  /**
   * Start the network when libvirtd starts. Default: false, as for any newly defined libvirt
   * network (domains on a network that is not running cannot start). Changes in place.
   */
  autostart?: pulumi.Input<boolean>;
  /**
   * Whether the network runs: started after it is defined (virNetworkCreate). false stops it,
   * which is refused while running domains have interfaces on it. Default: true. Changes in place.
   */
  active?: pulumi.Input<boolean>;
  /**
   * Take over a network of that name that already exists instead of refusing it (Pulumi cannot
   * `import` a dynamic resource): the create checks that its definition matches the inputs (a
   * mismatch is refused, listing the differences, and nothing is changed), then manages it like a
   * Network it created, teardown rules included. If there is none, it is created. Default: false.
   * Read by create only.
   */
  adopt?: pulumi.Input<boolean>;
}

/** The outputs of a Network: every one is registered, so that each is set even when it was no input. */
export abstract class NetworkResource extends pulumi.dynamic.Resource {
  declare public readonly name: pulumi.Output<string>;
  /** The URI libvirt reported for the connection: later operations use it. */
  declare public readonly uri: pulumi.Output<string>;
  /** The credentials, a secret. */
  declare public readonly auth: AuthOutput;
  declare public readonly mode: pulumi.Output<"nat" | "isolated" | "bridge" | "route" | "open">;
  /** The bridge libvirt uses (the one it picked when none was given). */
  declare public readonly bridgeName: pulumi.Output<string | undefined>;
  declare public readonly domain: pulumi.Output<string | undefined>;
  /** The addresses libvirt has, canonical CIDR form. */
  declare public readonly addresses: pulumi.Output<string[]>;
  declare public readonly dhcp: pulumi.Output<{ ranges: Array<{ start: string; end: string }>; hosts: Array<{ mac?: string; ip: string; name?: string }> } | undefined>;
  declare public readonly dnsHosts: pulumi.Output<Array<{ ip: string; hostnames: string[] }>>;
  declare public readonly mtu: pulumi.Output<number | undefined>;
  declare public readonly autostart: pulumi.Output<boolean>;
  declare public readonly active: pulumi.Output<boolean>;
  /**
   * true when the create took over an object that already existed (adopt: true), false when it
   * made it.
   */
  declare public readonly adopted: pulumi.Output<boolean>;
  /** libvirt's UUID of the network; also the Pulumi ID. */
  declare public readonly uuid: pulumi.Output<string>;
  /** The network XML as libvirt returns it (the persistent definition). */
  declare public readonly xml: pulumi.Output<string>;
}

export const NETWORK_OUTPUT_KEYS = ["name","uri","auth","mode","bridgeName","domain","addresses","dhcp","dnsHosts","mtu","autostart","active","adopted","uuid","xml"] as const;

/** For each input: the outputs its value is written into (a secret input makes them secret). */
export const NETWORK_SECRET_FLOWS: Readonly<Record<string, readonly string[]>> = {"name":["name","xml"],"uri":["uri"],"auth":["auth"],"mode":["mode","xml"],"bridgeName":["bridgeName","xml"],"domain":["domain","xml"],"addresses":["addresses","xml"],"dhcp":["dhcp","xml"],"dnsHosts":["dnsHosts","xml"],"mtu":["mtu","xml"],"autostart":["autostart"],"active":["active"],"adopt":["adopt"]};
