// A domain's interfaces and the addresses libvirt knows for them
// (virDomainInterfaceAddresses: a libvirt network's DHCP leases, the guest
// agent's report), and the wait for them that create and update do. The wait
// polls with a fresh connection lease each time and sleeps on a timer: it never
// blocks the event loop, nor holds a connection while it sleeps, so many domains
// can wait at once.
import { setTimeout as delay } from "node:timers/promises";
import { isConnectionLost, isLibvirtError } from "../libvirt/errors";
import { withConnection, type ConnectOptions } from "../libvirt/connection";
import { withDomain, type AddressSource, type DomainHandle, type GuestInterface } from "../libvirt/domain";
import { parseDomainXml } from "./xml";
import type { NetworkInterfaceInput } from "./inputs";

export interface InterfaceAddress {
  type: "ipv4" | "ipv6";
  address: string;
  prefix: number;
  source: AddressSource;
}

export interface InterfaceReport {
  mac: string;
  network?: string;
  bridge?: string;
  addresses: InterfaceAddress[];
}

/** An address that says where to reach the guest: not loopback, not link-local. */
export function isReachable(a: { type: "ipv4" | "ipv6"; address: string }): boolean {
  if (a.type === "ipv4") return !a.address.startsWith("127.") && !a.address.startsWith("169.254.");
  const lower = a.address.toLowerCase();
  return lower !== "::1" && !/^fe[89ab]/.test(lower);
}

/** The first reachable IPv4 address of the first interface that has one. */
export function firstIpv4(interfaces: InterfaceReport[]): string | undefined {
  for (const i of interfaces) {
    const found = i.addresses.find((a) => a.type === "ipv4" && isReachable(a));
    if (found) return found.address;
  }
  return undefined;
}

/**
 * One source's report, or undefined while it cannot give one: an agent that is not
 * (yet) running in the guest, or a network that is gone, is an answer ("no
 * addresses from there"); a lost daemon is not.
 */
async function reportOf(dom: DomainHandle, source: AddressSource): Promise<GuestInterface[] | undefined> {
  try {
    return await dom.interfaceAddresses(source);
  } catch (err) {
    if (isConnectionLost(err) || !isLibvirtError(err)) throw err;
    return undefined;
  }
}

/**
 * The interfaces of `xml` (the domain's definition) with their addresses: from the
 * DHCP leases of libvirt networks, and from the guest agent when the domain has its
 * channel. Nothing is asked of libvirt for a domain that does not run.
 */
export async function observeInterfaces(dom: DomainHandle, xml: string, active: boolean): Promise<InterfaceReport[]> {
  const observed = parseDomainXml(xml);
  const reports: InterfaceReport[] = observed.interfaces.map((i) => ({
    mac: (i.mac ?? "").toLowerCase(),
    ...(i.type === "network" ? { network: i.source } : i.type === "bridge" ? { bridge: i.source } : {}),
    addresses: [],
  }));
  if (!active || reports.length === 0) return reports;
  const sources: Array<[AddressSource, GuestInterface[] | undefined]> = [];
  if (reports.some((r) => r.network !== undefined)) sources.push(["lease", await reportOf(dom, "lease")]);
  if (observed.hasAgentChannel) sources.push(["agent", await reportOf(dom, "agent")]);
  for (const [source, found] of sources) {
    if (!found) continue;
    for (const guestIface of found) {
      const report = reports.find((r) => r.mac !== "" && r.mac === guestIface.mac);
      if (!report) continue; // the guest's loopback, or a device the definition does not hold
      for (const a of guestIface.addresses) {
        // Listed once per source that knows it: a wait for "agent" needs the agent's word.
        if (!report.addresses.some((known) => known.address === a.address && known.source === source)) report.addresses.push({ ...a, source });
      }
    }
  }
  return reports;
}

/** What one interface waits for. */
interface Want {
  index: number;
  source: "lease" | "agent" | "any";
}

export class AddressWaitTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AddressWaitTimeoutError";
  }
}

const POLL_MS = 2000;

/**
 * Waits until every interface whose input has `waitForAddress` has a reachable
 * address from that source, polling `uri` with a new lease each time. Returns the
 * seconds it took; throws AddressWaitTimeoutError after `timeoutSeconds`.
 */
export async function waitForAddresses(
  connect: ConnectOptions,
  id: string,
  name: string,
  nics: NetworkInterfaceInput[] | undefined,
  timeoutSeconds: number,
  opts: { pollMs?: number; sleep?: (ms: number) => Promise<void> } = {},
): Promise<number | undefined> {
  const wants: Want[] = (nics ?? []).flatMap((n, index) => (n.waitForAddress ? [{ index, source: n.waitForAddress }] : []));
  if (wants.length === 0) return undefined;
  const sleep = opts.sleep ?? delay;
  const started = Date.now();

  for (;;) {
    const reports = await withConnection(connect, (conn) =>
      withDomain(conn, id, async (dom) => {
        if (!dom) throw new Error(`domain "${name}" (${id}) disappeared while waiting for its addresses; run \`pulumi refresh\`, then \`pulumi up\``);
        if (!(await dom.isActive())) return undefined;
        return observeInterfaces(dom, await dom.xml(), true);
      }),
    );
    if (reports === undefined) {
      throw new Error(
        `domain "${name}" stopped while waiting for its addresses (networkInterfaces[].waitForAddress): the guest powered off or crashed; ` +
          `see its log (/var/log/libvirt/qemu/${name}.log on the hypervisor host) and start it again with \`pulumi up\``,
      );
    }
    const missing = wants.filter((w) => !reports[w.index]?.addresses.some((a) => isReachable(a) && (w.source === "any" || a.source === w.source)));
    const seconds = (Date.now() - started) / 1000;
    if (missing.length === 0) return seconds;
    if (seconds >= timeoutSeconds) throw new AddressWaitTimeoutError(timeoutMessage(name, missing, reports, nics ?? [], timeoutSeconds));
    await sleep(Math.min(opts.pollMs ?? POLL_MS, Math.max(0, timeoutSeconds * 1000 - (Date.now() - started))));
  }
}

function timeoutMessage(name: string, missing: Want[], reports: InterfaceReport[], nics: NetworkInterfaceInput[], timeoutSeconds: number): string {
  const parts = missing.map((w) => {
    const nic = nics[w.index];
    const where = nic.network !== undefined ? `network "${nic.network}"` : `bridge "${nic.bridge}"`;
    const mac = reports[w.index]?.mac;
    const hint =
      w.source === "lease"
        ? `no DHCP lease: does the network hand out addresses (a <dhcp> range in \`virsh net-dumpxml ${nic.network}\`, dnsmasq running: \`virsh net-dhcp-leases ${nic.network}\`), and does the guest ask for one?`
        : w.source === "agent"
          ? `the guest agent reported none: is qemu-guest-agent installed and running in the guest (\`virsh qemu-agent-command ${name} '{"execute":"guest-ping"}'\`), and has the guest configured the interface?`
          : `neither a DHCP lease nor the guest agent reported one`;
    return `networkInterfaces[${w.index}] (${where}${mac ? `, mac ${mac}` : ""}, waitForAddress: "${w.source}"): ${hint}`;
  });
  return (
    `domain "${name}" got no address within ${timeoutSeconds} s: ${parts.join("; ")}. ` +
    `The domain runs and is recorded in the stack; the next \`pulumi up\` waits again. A slow boot (TCG, a first boot running cloud-init) may need a longer waitForAddressTimeoutSeconds; ` +
    `the guest's console shows what it does (\`virsh console ${name}\`, with serialConsole: true).`
  );
}
