// Network XML (<network>): built from the typed inputs, read back into the
// facts the provider reports, the single elements virNetworkUpdate adds and
// deletes (a DHCP host, a DNS host), and which interfaces of a domain's XML
// are on a network (the teardown rule's facts).
import { buildXml, child, compact, many, parseXml, text, type XmlNode } from "../xml/xml";
import { netmaskPrefix, parseIp } from "./address";
import {
  normalizeAddresses,
  normalizeDhcp,
  normalizeDnsHosts,
  subnetIndex,
  type Dhcp,
  type DhcpHost,
  type DnsHost,
  type NetworkInputs,
} from "./inputs";

const isV6 = (cidrOrIp: string) => cidrOrIp.includes(":");

export const dhcpHostNode = (h: DhcpHost): XmlNode => compact({ "@mac": h.mac, "@name": h.name, "@ip": h.ip });
export const dnsHostNode = (h: DnsHost): XmlNode => ({ "@ip": h.ip, hostname: h.hostnames.map((n) => ({ "#text": n })) });

/** `<host .../>` of <ip><dhcp>, for virNetworkUpdate (VIR_NETWORK_SECTION_IP_DHCP_HOST). */
export const dhcpHostXml = (h: DhcpHost): string => buildXml({ host: dhcpHostNode(h) }).trim();
/** `<host ip><hostname/>...</host>` of <dns>, for virNetworkUpdate (VIR_NETWORK_SECTION_DNS_HOST). */
export const dnsHostXml = (h: DnsHost): string => buildXml({ host: dnsHostNode(h) }).trim();

/** The network XML for checked inputs; every value goes through the XML builder's escaping. */
export function buildNetworkXml(i: NetworkInputs, opts: { uuid?: string } = {}): string {
  const dhcp = i.dhcp ?? { ranges: [], hosts: [] };
  const ips = i.addresses.map((cidr, n) => {
    const [address, prefix] = cidr.split("/");
    const ranges = dhcp.ranges.filter((r) => subnetIndex(i.addresses, r.start) === n);
    const hosts = dhcp.hosts.filter((h) => subnetIndex(i.addresses, h.ip) === n);
    return compact({
      "@family": isV6(address) ? "ipv6" : undefined,
      "@address": address,
      "@prefix": prefix,
      dhcp:
        ranges.length + hosts.length === 0
          ? undefined
          : compact({
              range: ranges.length ? ranges.map((r) => ({ "@start": r.start, "@end": r.end })) : undefined,
              host: hosts.length ? hosts.map(dhcpHostNode) : undefined,
            }),
    });
  });
  return buildXml({
    network: compact({
      name: i.name,
      uuid: opts.uuid,
      forward: i.mode === "isolated" ? undefined : { "@mode": i.mode },
      bridge: i.bridgeName === undefined ? undefined : { "@name": i.bridgeName },
      mtu: i.mtu === undefined ? undefined : { "@size": String(i.mtu) },
      domain: i.domain === undefined ? undefined : { "@name": i.domain },
      dns: i.dnsHosts.length === 0 ? undefined : { host: i.dnsHosts.map(dnsHostNode) },
      ip: ips.length ? ips : undefined,
    }),
  });
}

/** What the provider reports from a network's XML, in the inputs' canonical shapes. */
export interface ObservedNetwork {
  name?: string;
  uuid?: string;
  /** libvirt's forward mode; "isolated" when there is no <forward>. */
  mode: string;
  bridgeName?: string;
  domain?: string;
  mtu?: number;
  addresses: string[];
  dhcp?: Dhcp;
  dnsHosts: DnsHost[];
}

const attr = (node: XmlNode | undefined, name: string): string | undefined => {
  const v = node?.[`@${name}`];
  return v === undefined ? undefined : String(v);
};

export function parseNetworkXml(xml: string): ObservedNetwork {
  const net = child(parseXml(xml), "network") ?? {};
  const addresses: string[] = [];
  const ranges: Array<{ start: string; end: string }> = [];
  const hosts: DhcpHost[] = [];
  for (const ip of many(net.ip)) {
    const address = attr(ip, "address");
    if (address === undefined) continue;
    const v6 = attr(ip, "family") === "ipv6" || isV6(address);
    const mask = attr(ip, "netmask");
    const prefix = attr(ip, "prefix") ?? (mask === undefined ? undefined : netmaskPrefix(mask)) ?? (v6 ? 64 : 24);
    addresses.push(`${address}/${prefix}`);
    const dhcp = child(ip, "dhcp");
    for (const r of many(dhcp?.range)) ranges.push({ start: attr(r, "start") ?? "", end: attr(r, "end") ?? "" });
    for (const h of many(dhcp?.host)) hosts.push(compact({ mac: attr(h, "mac"), ip: attr(h, "ip") ?? "", name: attr(h, "name") }) as DhcpHost);
  }
  const dnsHosts = many(child(net, "dns")?.host).map((h) => ({
    ip: attr(h, "ip") ?? "",
    hostnames: many(h.hostname).map((n) => text(n) ?? ""),
  }));
  const mtu = attr(child(net, "mtu"), "size");
  const valid = (s: string) => typeof parseIp(s) !== "string";
  return {
    name: text(net.name),
    uuid: text(net.uuid),
    mode: attr(child(net, "forward"), "mode") ?? (child(net, "forward") ? "nat" : "isolated"),
    bridgeName: attr(child(net, "bridge"), "name"),
    domain: attr(child(net, "domain"), "name"),
    mtu: mtu === undefined ? undefined : Number(mtu),
    addresses: normalizeAddresses(addresses.filter((a) => valid(a.split("/")[0]))),
    dhcp: normalizeDhcp({ ranges: ranges.filter((r) => valid(r.start) && valid(r.end)), hosts: hosts.filter((h) => valid(h.ip)) }),
    dnsHosts: normalizeDnsHosts(dnsHosts.filter((h) => valid(h.ip))),
  };
}

/** The MAC addresses (or "(no MAC)") of a domain XML's `<interface type='network'>` whose source is `network`. */
export function interfacesOnNetwork(domainXml: string, network: string): string[] {
  const devices = child(child(parseXml(domainXml), "domain"), "devices");
  return many(devices?.interface)
    .filter((nic) => attr(nic, "type") === "network" && attr(child(nic, "source"), "network") === network)
    .map((nic) => attr(child(nic, "mac"), "address") ?? "(no MAC)");
}
