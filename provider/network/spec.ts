// The Network resource (a libvirt virtual network, virNetworkDefineXML): every
// input and output, once. check, diff, the SDK's NetworkArgs and output list
// (sdk/generated/network.ts) and the README's input table are derived from this
// (scripts/gen-from-spec.mjs; a unit test fails when they are stale). Adding an
// input: an entry here, its XML in xml.ts, a rule in inputs.ts if it combines
// with others, a test.
import { z } from "zod";
import { flag, objectName, oneOf, wholeNumber } from "../validation";
import { defineSpec } from "../resource/spec";
import { authInput, uriInput } from "../resource/connection-inputs";
import { adoptInput, adoptedOutput } from "../resource/adopt";
import { parseCidr, parseIp } from "./address";

/** A zod string checked by one of address.ts's parsers: the failure is the parser's own reason. */
const addressString = (parse: (s: string) => unknown, what: string) =>
  z.string({ error: `must be ${what} as a string` }).superRefine((s, ctx) => {
    const r = parse(s);
    if (typeof r === "string") ctx.addIssue({ code: "custom", message: r });
  });

const ip = addressString(parseIp, 'an IPv4 or IPv6 address ("192.168.150.10", "fd00:150::10")');
const cidr = addressString(parseCidr, 'an address with its prefix length ("192.168.150.1/24", "fd00:150::1/64")');

const mac = z
  .string({ error: 'must be a MAC address such as "52:54:00:12:34:56"' })
  .regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i, { error: 'must be a MAC address such as "52:54:00:12:34:56"' });

/** A DNS name: labels of letters, digits and "-", separated by dots. */
const dnsName = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .max(253, { error: `${what} must be at most 253 characters` })
    .regex(/^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/, {
      error: `${what} must be a DNS name: letters, digits and "-" in dot-separated labels of up to 63 characters (such as "lab.example")`,
    });

const rangeSchema = z
  .object({
    start: ip.describe("First address the DHCP server hands out."),
    end: ip.describe("Last address it hands out (inside the same subnet as start, not before it)."),
  })
  .strict()
  .meta({ sdkName: "NetworkDhcpRangeArgs" });

const dhcpHostSchema = z
  .object({
    mac: mac.optional().describe("The guest interface's MAC address (IPv4 only: DHCPv6 identifies guests by name)."),
    ip: ip.describe("The address this guest always gets."),
    name: dnsName("name").optional().describe("The guest's host name; required for an IPv6 host, and for an IPv4 host without mac."),
  })
  .strict()
  .meta({ sdkName: "NetworkDhcpHostArgs" });

const dhcpSchema = z
  .object({
    ranges: z
      .array(rangeSchema)
      .max(64, { error: "takes at most 64 ranges" })
      .optional()
      .describe("Dynamic ranges; each goes to the address whose subnet holds it."),
    hosts: z
      .array(dhcpHostSchema)
      .max(1024, { error: "takes at most 1024 hosts" })
      .optional()
      .describe("Static leases; each goes to the address whose subnet holds its ip. Change in place (virNetworkUpdate)."),
  })
  .strict()
  .meta({ sdkName: "NetworkDhcpArgs" });

const dnsHostSchema = z
  .object({
    ip: ip.describe("The address the names resolve to."),
    hostnames: z.array(dnsName("hostname")).min(1, { error: "needs at least one host name" }).max(64).describe("Names that resolve to ip."),
  })
  .strict()
  .meta({ sdkName: "NetworkDnsHostArgs" });

const MODES = ["nat", "isolated", "bridge", "route", "open"] as const;

export type NetworkMode = (typeof MODES)[number];

export const networkSpec = defineSpec({
  name: "Network",
  inputs: {
    name: {
      schema: objectName("name"),
      required: "is required (the SDK's Network defaults it to the resource name)",
      defaultDoc: "the resource name",
      change: "replace",
      flowsInto: ["xml"],
      doc: "network names are unique per hypervisor: a replacement deletes the old network first, and is refused at preview while domains have interfaces on it",
      sdkDoc:
        "Network name. Default: the resource name. Changing it replaces the network (the old one is deleted first; refused while domains have interfaces on it).",
      output: { type: "string" },
    },
    uri: uriInput("network"),
    auth: authInput(),
    mode: {
      schema: oneOf(MODES),
      default: "nat",
      change: "replace",
      flowsInto: ["xml"],
      doc:
        "`nat` (guests reach out through the host's address, as libvirt's own `default` network and virt-manager's new networks do), `isolated` (guests and host only: no `<forward>`), " +
        "`route` (routed, no NAT), `open` (routed, libvirt adds no firewall rules), `bridge` (an existing host bridge, `bridgeName`; libvirt manages no addresses there). `nat` and `route` need `addresses`",
      sdkDoc:
        'How guests reach beyond the network: "nat" (default: through the host\'s address, like libvirt\'s own "default" network), "isolated" (guests and host only), "route", "open" (routed, no firewall rules), "bridge" (an existing host bridge given by bridgeName). Changing it replaces the network.',
      output: { type: '"nat" | "isolated" | "bridge" | "route" | "open"' },
    },
    bridgeName: {
      schema: z.string({ error: "must be a string" }).regex(/^[A-Za-z0-9_.-]{1,15}$/, {
        error: 'must be a Linux interface name: 1 to 15 letters, digits, "_", "." or "-" (such as "virbr10" or "br0")',
      }),
      defaultDoc: 'libvirt\'s choice (`virbrN`); required with `mode: "bridge"`',
      change: "replace",
      unsetKeepsSaved: true,
      flowsInto: ["xml"],
      doc: "the host bridge device; with `bridge` an existing one. The output is the one libvirt uses",
      sdkDoc:
        'The host bridge device. Default: libvirt picks one (virbrN). Required with mode "bridge" (an existing host bridge). Changing it replaces the network.',
      output: { type: "string | undefined", doc: "The bridge libvirt uses (the one it picked when none was given)." },
    },
    domain: {
      schema: dnsName("domain"),
      defaultDoc: "none",
      change: "replace",
      flowsInto: ["xml"],
      doc: "the DNS domain of the network's guests (`<domain name>`)",
      sdkDoc: 'The DNS domain of the guests ("lab.example"). Default: none. Changing it replaces the network.',
      output: { type: "string | undefined" },
    },
    addresses: {
      schema: z.array(cidr).max(16, { error: "takes at most 16 addresses" }),
      defaultDoc: "none",
      change: "replace",
      flowsInto: ["xml"],
      doc:
        'the host\'s addresses on the network, in CIDR form (`"192.168.150.1/24"`, `"fd00:150::1/64"`), IPv4 and IPv6; each is an `<ip address prefix>`, and its subnet is the guests\'. ' +
        "The output is what libvirt has, in canonical spelling",
      sdkDoc:
        'The host\'s addresses on the network in CIDR form ("192.168.150.1/24", "fd00:150::1/64"); the subnet of each is where guests get addresses. Not with mode "bridge". Default: none. Changing them replaces the network.',
      output: { type: "string[]", doc: "The addresses libvirt has, canonical CIDR form." },
    },
    dhcp: {
      schema: dhcpSchema,
      defaultDoc: "none",
      change: "update",
      flowsInto: ["xml"],
      doc: "`{ ranges: [{ start, end }], hosts: [{ mac, ip, name }] }`: each range and host goes to the address whose subnet holds it (IPv4 and IPv6 alike). `hosts` change in place (`virNetworkUpdate`); a change of `ranges` replaces the network",
      sdkDoc:
        "DHCP: dynamic ranges and static hosts, each in the subnet of one of the addresses (one IPv4 and one IPv6 address may serve DHCP). Hosts change in place (virNetworkUpdate, live and persistent); a change of ranges replaces the network. Default: none.",
      output: {
        type: "{ ranges: Array<{ start: string; end: string }>; hosts: Array<{ mac?: string; ip: string; name?: string }> } | undefined",
      },
    },
    dnsHosts: {
      schema: z.array(dnsHostSchema).max(1024, { error: "takes at most 1024 entries" }),
      defaultDoc: "none",
      change: "update",
      flowsInto: ["xml"],
      doc: "`[{ ip, hostnames: [...] }]`: names the network's DNS server answers; change in place (`virNetworkUpdate`)",
      sdkDoc: "Names the network's DNS server resolves. Change in place (virNetworkUpdate, live and persistent). Default: none.",
      output: { type: "Array<{ ip: string; hostnames: string[] }>" },
    },
    mtu: {
      schema: wholeNumber("bytes", { value: 68, error: "must be at least 68 (the IPv4 minimum)" }, { value: 65535, error: "must be at most 65535" }),
      defaultDoc: "libvirt's (1500)",
      change: "replace",
      flowsInto: ["xml"],
      doc: "the bridge's MTU in bytes",
      sdkDoc: "The bridge's MTU in bytes. Default: libvirt's (1500). Changing it replaces the network.",
      output: { type: "number | undefined" },
    },
    autostart: {
      schema: flag("autostart"),
      default: false,
      change: "update",
      doc: "start the network when libvirtd starts (as for a new libvirt network, off by default: domains on a network that is not started cannot start)",
      sdkDoc:
        "Start the network when libvirtd starts. Default: false, as for any newly defined libvirt network (domains on a network that is not running cannot start). Changes in place.",
      output: { type: "boolean" },
    },
    active: {
      schema: flag("active"),
      default: true,
      change: "update",
      doc: "started after it is defined (`virNetworkCreate`); `false` stops it (`virNetworkDestroy`), refused while running domains have interfaces on it",
      sdkDoc:
        "Whether the network runs: started after it is defined (virNetworkCreate). false stops it, which is refused while running domains have interfaces on it. Default: true. Changes in place.",
      output: { type: "boolean" },
    },
    adopt: adoptInput("Network", "a network of that name"),
  },
  outputs: {
    adopted: adoptedOutput,
    uuid: { type: "string", doc: "libvirt's UUID of the network; also the Pulumi ID." },
    xml: { type: "string", doc: "The network XML as libvirt returns it (the persistent definition)." },
  },
});
