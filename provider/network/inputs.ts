// Network inputs: the rules that combine fields, and the normalized shape. The
// inputs themselves (schemas, defaults, change rules) are in spec.ts; `check`
// runs this; everything after check may rely on the normalized shape: addresses
// and IPs in canonical spelling, MACs in lower case, DHCP hosts, ranges and DNS
// hosts sorted (libvirt appends what virNetworkUpdate adds, so its order is not
// the input's; sorting both sides keeps a refresh from showing a change).
import { inputChecker } from "../resource/check";
import { inputSchema, type ParsedInputs } from "../resource/spec";
import type { CheckFailure } from "../validation";
import { formatIp, inSubnet, parseCidr, parseIp, type Cidr, type Ip } from "./address";
import { UNKNOWN } from "../unknowns";
import { networkSpec, type NetworkMode } from "./spec";

type Parsed = ParsedInputs<typeof networkSpec>;

export interface DhcpRange {
  start: string;
  end: string;
}
export interface DhcpHost {
  mac?: string;
  ip: string;
  name?: string;
}
export interface DnsHost {
  ip: string;
  hostnames: string[];
}
export interface Dhcp {
  ranges: DhcpRange[];
  hosts: DhcpHost[];
}

/** Inputs after check: defaults applied, spellings canonical. */
export type NetworkInputs = Omit<Parsed, "addresses" | "dhcp" | "dnsHosts"> & {
  name: string;
  mode: NetworkMode;
  autostart: boolean;
  active: boolean;
  addresses: string[];
  /** Absent when there are neither ranges nor hosts. */
  dhcp?: Dhcp;
  dnsHosts: DnsHost[];
};

const ipOf = (s: string): Ip => parseIp(s) as Ip;

/** The index of the address whose subnet holds `ip` (the <ip> element's index in the XML), or -1. */
export function subnetIndex(addresses: string[], ip: string): number {
  const a = parseIp(ip);
  if (typeof a === "string") return -1;
  return addresses.findIndex((c) => {
    const net = parseCidr(c);
    return typeof net !== "string" && inSubnet(a, net);
  });
}

function crossFieldFailures(i: Parsed): CheckFailure[] {
  const f: CheckFailure[] = [];
  const mode = i.mode ?? "nat";
  const addresses = i.addresses ?? [];
  const nets = addresses.map((a) => parseCidr(a) as Cidr);

  if (mode === "bridge") {
    if (i.bridgeName === undefined)
      f.push({
        property: "bridgeName",
        reason: 'is required with mode: "bridge": the name of an existing host bridge (such as "br0") the guests join',
      });
    for (const key of ["addresses", "dhcp", "dnsHosts", "domain"] as const) {
      if (i[key] !== undefined)
        f.push({
          property: key,
          reason: `cannot be used with mode: "bridge": the guests join the host bridge's own LAN, where libvirt manages no addresses, DHCP or DNS; drop ${key}, or use mode "nat", "route", "open" or "isolated"`,
        });
    }
  } else if ((mode === "nat" || mode === "route") && addresses.length === 0) {
    f.push({
      property: "addresses",
      reason: `${i.mode === undefined ? 'mode defaults to "nat", which' : `mode: "${mode}"`} needs at least one address: the host's address on the network, such as ["192.168.150.1/24"]; for a network without addresses set mode: "isolated"`,
    });
  }

  nets.forEach((net, n) => {
    const at = `addresses[${n}]`;
    const hostBits = (net.family === 4 ? 32 : 128) - net.prefix;
    if (net.family === 4 && hostBits < 2) {
      f.push({ property: at, reason: `"${net.cidr}" leaves no room for guests: an IPv4 network needs a prefix of at most /30 (such as /24)` });
    } else if (net.value === net.first) {
      f.push({
        property: at,
        reason: `"${net.cidr}" is the subnet's own network address; give the host's address in it, such as ${hostExample(net)}`,
      });
    } else if (net.family === 4 && net.value === net.last) {
      f.push({ property: at, reason: `"${net.cidr}" is the subnet's broadcast address; give the host's address in it, such as ${hostExample(net)}` });
    }
    const overlapping = nets.findIndex((other, m) => m < n && other.family === net.family && other.first <= net.last && net.first <= other.last);
    if (overlapping >= 0)
      f.push({
        property: at,
        reason: `"${net.cidr}" overlaps addresses[${overlapping}] ("${nets[overlapping].cidr}"); each address needs a subnet of its own`,
      });
  });

  const inNet = (ipText: string): { ip: Ip; net?: Cidr; index: number } => {
    const ip = ipOf(ipText);
    const index = nets.findIndex((net) => inSubnet(ip, net));
    return { ip, net: nets[index], index };
  };
  const subnetsText = addresses.length > 0 ? `the subnets of addresses (${addresses.join(", ")})` : "a subnet: addresses is empty";
  const dhcpNets = new Set<number>();

  if (i.dhcp !== undefined && mode !== "bridge") {
    if (addresses.length === 0)
      f.push({
        property: "dhcp",
        reason: 'needs addresses: DHCP hands out addresses from the subnet of one of them, such as addresses: ["192.168.150.1/24"]',
      });
    (i.dhcp.ranges ?? []).forEach((r, n) => {
      if (addresses.length === 0) return;
      const at = `dhcp.ranges[${n}]`;
      const start = inNet(r.start);
      const end = inNet(r.end);
      if (!start.net) return void f.push({ property: `${at}.start`, reason: `${start.ip.text} is in none of ${subnetsText}` });
      if (end.index !== start.index)
        return void f.push({ property: `${at}.end`, reason: `${end.ip.text} is not in the subnet of start (${start.net.cidr})` });
      if (start.ip.value > end.ip.value)
        return void f.push({ property: at, reason: `start ${start.ip.text} comes after end ${end.ip.text}; swap them` });
      const net = start.net;
      if (net.value >= start.ip.value && net.value <= end.ip.value)
        f.push({
          property: at,
          reason: `contains the host's own address ${net.text} (addresses[${start.index}]); start the range after it or end it before it`,
        });
      if (net.family === 4 && (start.ip.value === net.first || end.ip.value === net.last))
        f.push({ property: at, reason: `must not include the subnet's network or broadcast address (${net.cidr})` });
      dhcpNets.add(start.index);
    });
    const seen = new Map<string, string>();
    (i.dhcp.hosts ?? []).forEach((h, n) => {
      if (addresses.length === 0) return;
      const at = `dhcp.hosts[${n}]`;
      const where = inNet(h.ip);
      if (!where.net) return void f.push({ property: `${at}.ip`, reason: `${where.ip.text} is in none of ${subnetsText}` });
      if (where.ip.value === where.net.value)
        f.push({
          property: `${at}.ip`,
          reason: `${where.ip.text} is the host's own address (addresses[${where.index}]); give the guest another one`,
        });
      if (where.net.family === 6) {
        if (h.mac !== undefined)
          f.push({ property: `${at}.mac`, reason: "is IPv4 only: DHCPv6 identifies a guest by name, not by MAC address; drop mac and give name" });
        if (h.name === undefined)
          f.push({ property: `${at}.name`, reason: `is required for an IPv6 host (${where.ip.text}): DHCPv6 identifies the guest by it` });
      } else if (h.mac === undefined && h.name === undefined) {
        f.push({ property: at, reason: "needs mac or name (or both): how the DHCP server recognizes the guest" });
      }
      for (const [key, value] of [
        ["ip", where.ip.text],
        ["mac", h.mac?.toLowerCase()],
        ["name", h.name === undefined ? undefined : `${where.net.family}:${h.name}`],
      ] as const) {
        if (value === undefined) continue;
        const other = seen.get(`${key}=${value}`);
        if (other) f.push({ property: `${at}.${key}`, reason: `is the same as ${other}.${key}; each static host needs its own ${key}` });
        else seen.set(`${key}=${value}`, at);
      }
      dhcpNets.add(where.index);
    });
    for (const family of [4, 6] as const) {
      const serving = [...dhcpNets].filter((k) => nets[k].family === family).sort();
      if (serving.length > 1)
        f.push({
          property: "dhcp",
          reason: `uses ${serving.map((k) => `addresses[${k}]`).join(" and ")}: libvirt serves DHCP on one IPv${family} address per network; keep the ranges and hosts of one of them`,
        });
    }
  }

  const dnsSeen = new Map<string, number>();
  (i.dnsHosts ?? []).forEach((h, n) => {
    const text = ipOf(h.ip).text;
    const before = dnsSeen.get(text);
    if (before !== undefined)
      f.push({ property: `dnsHosts[${n}].ip`, reason: `${text} is also dnsHosts[${before}].ip; list each address once, with all its hostnames` });
    else dnsSeen.set(text, n);
  });
  return f;
}

function hostExample(net: Cidr): string {
  return `${formatIp(net.family, net.first + 1n)}/${net.prefix}`;
}

const byIp = (a: { ip: string }, b: { ip: string }) => compareIp(a.ip, b.ip);

function compareIp(a: string, b: string): number {
  const x = ipOf(a);
  const y = ipOf(b);
  return x.family - y.family || (x.value < y.value ? -1 : x.value > y.value ? 1 : 0);
}

/** The canonical shape of DHCP settings (inputs and what libvirt reports alike); undefined when there is nothing in them. */
export function normalizeDhcp(dhcp: { ranges?: DhcpRange[]; hosts?: DhcpHost[] } | undefined): Dhcp | undefined {
  const ranges = (dhcp?.ranges ?? []).map((r) => ({ start: ipOf(r.start).text, end: ipOf(r.end).text })).sort((a, b) => compareIp(a.start, b.start));
  const hosts = (dhcp?.hosts ?? [])
    .map((h) => ({
      ...(h.mac === undefined ? {} : { mac: h.mac.toLowerCase() }),
      ip: ipOf(h.ip).text,
      ...(h.name === undefined ? {} : { name: h.name }),
    }))
    .sort(byIp);
  return ranges.length === 0 && hosts.length === 0 ? undefined : { ranges, hosts };
}

export function normalizeDnsHosts(hosts: DnsHost[] | undefined): DnsHost[] {
  return (hosts ?? []).map((h) => ({ ip: ipOf(h.ip).text, hostnames: [...h.hostnames] })).sort(byIp);
}

export const normalizeAddresses = (addresses: string[] | undefined): string[] => (addresses ?? []).map((a) => (parseCidr(a) as Cidr).cidr);

/** Validates and normalizes Network inputs (resource/check.ts). */
export const checkNetworkInputs = inputChecker(networkSpec, {
  crossField: crossFieldFailures,
  normalize: (i): NetworkInputs => {
    // Unknown in a preview (the kit keeps them as they are, in whole or in part): normalized once known.
    const known = <T>(v: unknown, fn: () => T): T => (JSON.stringify(v ?? null).includes(UNKNOWN) ? (v as T) : fn());
    return {
      ...(i as NetworkInputs),
      addresses: known(i.addresses, () => normalizeAddresses(i.addresses)),
      dhcp: known(i.dhcp, () => normalizeDhcp(i.dhcp)),
      dnsHosts: known(i.dnsHosts, () => normalizeDnsHosts(i.dnsHosts)),
    };
  },
});

/** The zod object of every Network input (each optional), as check parses them. */
export const networkInputSchema = inputSchema(networkSpec);
