// A guest's addresses and a DHCP Network, on one real guest (issue 13): a Network
// made by the provider (mode nat, a host address, a DHCP range) whose bridge and
// dnsmasq live in the test network namespace, the real Debian guest of
// scripts/guest-image.sh booted on it (cloud-init network-config: DHCP on the
// NIC), and
// - waitForAddress "lease" (create) and "agent" (update) return the address the
//   guest really has: the Domain's interfaces[].addresses and ipAddress against
//   `virsh domifaddr --source lease`, `--source agent` and `virsh net-dhcp-leases`;
// - the Network's DHCP hosts (and a DNS host) change in place while the guest runs (same UUID, the
//   same bridge device, nothing replaced; `virsh net-dumpxml` live and persistent,
//   dnsmasq's hosts file), and the guest keeps its lease and its agent answers;
// - the Network's delete (and a replacement, and a stop) is refused while the
//   guest has its interface on it, naming the domain, with nothing changed; after
//   the Domain's delete the Network's delete works and `virsh net-list --all`
//   no longer lists it.
//
// NETWORK RULE: the network has a host-side address, so it is made only while
// libvirtd runs inside the test network namespace (TEST_NETNS, checked first;
// without it the file fails, it does not skip): the bridge, its address and dnsmasq
// are then inside that namespace, which has no route anywhere. No traffic is sent
// to the guest; the test only reads what libvirt, dnsmasq and the guest agent say.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, readFileSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";
import {
  QEMU_URI,
  domainState,
  netInfo as hostNetInfo,
  networkNames as hostNetworkNames,
  removeDomain,
  removePool,
  testRunId,
  uniqueName,
  virsh,
  virshTry,
} from "../helpers/host";
import { TEST_NETNS, libvirtdInTestNetns } from "../helpers/daemon";
import { agentCommand, guestDomainInputs, guestExec, readGuestFile, stageGuestBoot, waitFor, type GuestImage } from "../helpers/guest";

const { cloudInitDiskProvider, domainProvider: dp, networkProvider: np, poolProvider, TeardownRefusedError } = provider;
const IMAGES = "/var/lib/libvirt/images";
/** Under TCG on a loaded 2-core machine a first boot takes 40–140 s. */
const BOOT_TIMEOUT_S = 300;

const name = uniqueName("addr");
const netName = uniqueName("addr-net");
const dir = join(IMAGES, name);
/**
 * The guest's MAC: random, but made of digits only, each group at most 59. Unquoted, YAML 1.1
 * (cloud-init's PyYAML) reads such a MAC as a base-60 number, so the seed's network-config
 * matches the NIC only if the CloudInitDisk quotes it: this guest gets no address otherwise.
 */
const mac = `52:54:00:${[...randomBytes(3)].map((b) => `${b % 6}${Math.floor(b / 6) % 10}`).join(":")}`;
/** Another guest's MAC, for a static DHCP host nobody uses. */
const otherMac = "52:54:00:fe:00:01";
const made = { domain: false, network: false, pool: false };

/** The same network namespace as libvirtd's: where the network's bridge and dnsmasq are. */
const inNetns = (...cmd: string[]) => execFileSync("ip", ["netns", "exec", TEST_NETNS, ...cmd], { encoding: "utf8" }).trim();

/** A /24 that no interface in the test namespace has yet (other runs make networks there too). */
function freeSubnet(): string {
  const used = inNetns("ip", "-4", "-br", "addr");
  for (let i = 0; i < 200; i++) {
    const third = ((Number(testRunId()) + i) % 200) + 20;
    if (!used.includes(`10.231.${third}.`)) return `10.231.${third}`;
  }
  throw new Error(`no free 10.231.x.0/24 in network namespace ${TEST_NETNS}: ${used}`);
}

interface Row {
  mac: string;
  type: string;
  address: string;
  prefix: number;
}

/**
 * The rows of `virsh domifaddr` (Name, MAC address, Protocol, Address): a row
 * whose name and MAC are "-" continues the interface above it.
 */
function domifaddr(source: "lease" | "agent"): Row[] {
  const r = virshTry(QEMU_URI, "domifaddr", name, "--source", source);
  if (!r.ok) return [];
  const rows: Row[] = [];
  let current = "";
  for (const line of r.out.split("\n")) {
    const m = /^\s*(\S+)\s+(\S+)\s+(ipv4|ipv6)\s+(\S+)\/(\d+)\s*$/.exec(line);
    if (!m) continue;
    if (m[2] !== "-") current = m[2].toLowerCase();
    rows.push({ mac: current, type: m[3], address: m[4], prefix: Number(m[5]) });
  }
  return rows;
}

/** `virsh net-dhcp-leases` of the network: the leases dnsmasq gave, by MAC. */
function leases(): Row[] {
  return [...virsh(QEMU_URI, "net-dhcp-leases", netName).matchAll(/(\S{2}(?::\S{2}){5})\s+(ipv4|ipv6)\s+(\S+)\/(\d+)/g)].map((m) => ({
    mac: m[1].toLowerCase(),
    type: m[2],
    address: m[3],
    prefix: Number(m[4]),
  }));
}

/** The guest's IPv4 addresses on its NIC, as the agent reports them (guest-network-get-interfaces), asked directly. */
function agentIpv4(): string[] | undefined {
  const ifaces = agentCommand(QEMU_URI, name, { execute: "guest-network-get-interfaces" }) as
    Array<{ "hardware-address"?: string; "ip-addresses"?: Array<{ "ip-address-type": string; "ip-address": string }> }> | undefined;
  const nic = ifaces?.find((i) => i["hardware-address"]?.toLowerCase() === mac);
  const v4 = (nic?.["ip-addresses"] ?? []).filter((a) => a["ip-address-type"] === "ipv4").map((a) => a["ip-address"]);
  return v4.length > 0 ? v4 : undefined;
}

const netInfo = () => hostNetInfo(QEMU_URI, netName);
const networkNames = () => hostNetworkNames(QEMU_URI);
/** The network's dnsmasq, by the pid file libvirt gives it. */
const dnsmasqPid = () => readFileSync(`/run/libvirt/network/${netName}.pid`, "utf8").trim();
/** No such process, or only a zombie waiting to be reaped. */
function processGone(pid: string): boolean {
  try {
    return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return true;
  }
}
/** The kernel's index of the bridge device in the namespace: a network that was recreated has a new one. */
const bridgeIndex = (bridge: string) => inNetns("cat", `/sys/class/net/${bridge}/ifindex`);
/** The <host> elements of the network's <dhcp>, live or as defined. */
const dhcpHostsXml = (inactive: boolean) =>
  [
    ...virsh(QEMU_URI, "net-dumpxml", ...(inactive ? ["--inactive"] : []), netName).matchAll(
      /<host mac='([^']+)'(?: name='([^']+)')? ip='([^']+)'\/>/g,
    ),
  ]
    .map((m) => ({ mac: m[1], ...(m[2] ? { name: m[2] } : {}), ip: m[3] }))
    .sort((a, b) => (a.ip < b.ip ? -1 : 1));
/** The <host> elements of the network's <dns>, live or as defined. */
const dnsHostsXml = (inactive: boolean) =>
  [...virsh(QEMU_URI, "net-dumpxml", ...(inactive ? ["--inactive"] : []), netName).matchAll(/<dns>([\s\S]*?)<\/dns>/g)].flatMap((dns) =>
    [...dns[1].matchAll(/<host ip='([^']+)'>([\s\S]*?)<\/host>/g)].map((h) => ({
      ip: h[1],
      hostnames: [...h[2].matchAll(/<hostname>([^<]+)<\/hostname>/g)].map((n) => n[1]),
    })),
  );

/** What dnsmasq, libvirt and the guest (through its agent) say, for a lease that did not come. */
async function noLeaseDiagnostics(): Promise<string> {
  const bridge = net.outs.bridgeName as string;
  const pid = dnsmasqPid();
  const read = (f: string) => (existsSync(f) ? readFileSync(f, "utf8") : `(no ${f})`);
  const inGuest = await guestExec(QEMU_URI, name, "/bin/sh", [
    "-c",
    "ip -br addr; cat /etc/network/interfaces.d/50-cloud-init; ps ax | grep -v grep | grep dhclient; " +
      "journalctl -b --no-pager -u networking -u cloud-init-local | tail -n 40; " +
      "grep -E 'Cache|nocloud|NoCloud|sr0|vdb|network config|fallback|Applying|renderer' /var/log/cloud-init.log | head -n 60",
  ]);
  return [
    `dnsmasq pid ${pid}: ${processGone(pid) ? "gone" : "running"}`,
    `net-dhcp-leases: ${virshTry(QEMU_URI, "net-dhcp-leases", netName).out}`,
    `${bridge}.status: ${read(`/var/lib/libvirt/dnsmasq/${bridge}.status`)}`,
    `agent interfaces: ${JSON.stringify(agentCommand(QEMU_URI, name, { execute: "guest-network-get-interfaces" }))}`,
    `in the guest:\n${inGuest ?? "(the agent does not answer)"}`,
    `qemu log: ${read(`/var/log/libvirt/qemu/${name}.log`).split("\n").slice(-6).join("\n")}`,
  ].join("\n");
}

let image: GuestImage;
let subnet: string;
let net: { id: string; outs: Record<string, any>; inputs: Record<string, any> };
let vm: { id: string; outs: Record<string, any>; inputs: Record<string, any> };
let guestAddress: string;
/** The background poll for the agent's first IPv4 address, started with the create. */
let agentFirst: Promise<{ value: string[]; seconds: number }>;
/** Seconds from the domain's create call to the lease, and to the agent's address, seen through virsh. */
const timing: { lease?: number; agent?: number; create?: number; update?: number } = {};

async function checkAndCreate(p: any, inputs: Record<string, unknown>) {
  const checked = await p.check({}, { uri: QEMU_URI, ...inputs });
  expect(checked.failures).toEqual([]);
  const { id, outs } = await p.create(checked.inputs);
  return { id: id as string, outs, inputs: checked.inputs };
}

beforeAll(() => {
  // The network rule: a network with a host address only inside the test namespace.
  if (!libvirtdInTestNetns())
    throw new Error(
      `libvirtd does not run in network namespace ${TEST_NETNS}: this file makes a network with a host address and DHCP, ` +
        `which would then be on the host's own interfaces. Start libvirtd with scripts/start-libvirtd.sh (scripts/setup.sh does).`,
    );
  image = stageGuestBoot(dir);
  copyFileSync(image.disk, join(dir, "disk.qcow2"));
  subnet = freeSubnet();
}, 20 * 60_000);

afterAll(async () => {
  await provider.closeAllConnections();
  if (made.domain) removeDomain(QEMU_URI, name);
  if (made.network) {
    virshTry(QEMU_URI, "net-destroy", netName);
    virshTry(QEMU_URI, "net-undefine", netName);
  }
  if (made.pool) removePool(QEMU_URI, name);
  rmSync(dir, { recursive: true, force: true });
  console.log(`[guest-addresses] timings (s): ${JSON.stringify(timing)}`);
});

describe("a guest's addresses on a DHCP Network (one real guest)", () => {
  it("Network create: nat with a host address and a DHCP range, its bridge and dnsmasq inside the test namespace", async () => {
    made.network = true;
    net = await checkAndCreate(np, {
      name: netName,
      mode: "nat",
      addresses: [`${subnet}.1/24`],
      dhcp: { ranges: [{ start: `${subnet}.100`, end: `${subnet}.199` }] },
    });
    expect(netInfo()).toMatchObject({ Name: netName, UUID: net.id, Active: "yes", Persistent: "yes" });
    const xml = virsh(QEMU_URI, "net-dumpxml", netName);
    expect(xml).toContain("<forward mode='nat'>");
    expect(xml).toMatch(new RegExp(`<ip address='${subnet}\\.1' prefix='24'>\\s*<dhcp>\\s*<range start='${subnet}\\.100' end='${subnet}\\.199'/>`));
    expect(net.outs).toMatchObject({ uuid: net.id, mode: "nat", addresses: [`${subnet}.1/24`], active: true });
    const bridge = net.outs.bridgeName as string;
    // The bridge has the host address in the namespace, and is not on the host.
    expect(inNetns("ip", "-4", "-br", "addr", "show", "dev", bridge)).toMatch(new RegExp(`^${bridge}\\s+\\S+\\s+${subnet}\\.1/24$`));
    expect(() => execFileSync("ip", ["link", "show", "dev", bridge], { stdio: "ignore" })).toThrow();
    // dnsmasq serves it inside the namespace.
    const pid = dnsmasqPid();
    expect(readFileSync(`/proc/${pid}/comm`, "utf8").trim()).toBe("dnsmasq");
    expect(execFileSync("readlink", [`/proc/${pid}/ns/net`], { encoding: "utf8" }).trim()).toBe(
      execFileSync("readlink", [`/proc/${readFileSync("/run/libvirtd.pid", "utf8").trim()}/ns/net`], { encoding: "utf8" }).trim(),
    );
  });

  it(
    'waitForAddress "lease": create returns when the guest has its lease, and reports the address libvirt and dnsmasq have',
    async () => {
      made.pool = true;
      const pool = await checkAndCreate(poolProvider, { name, path: join(dir, "pool") });
      const seed = await checkAndCreate(cloudInitDiskProvider, {
        pool: pool.outs.name,
        name: "seed.iso",
        metaData: { "local-hostname": "lvp-addr" },
        userData: {},
        // DHCP on the NIC with this MAC, named lan0: cloud-init renders it for ifupdown (checked in the guest below).
        // An all-digit MAC: quoted in the seed, or cloud-init reads a number (see `mac`).
        networkConfig: { version: 2, ethernets: { lan: { match: { macaddress: mac }, "set-name": "lan0", dhcp4: true } } },
      });
      expect(seed.outs.networkConfig).toContain(`macaddress: "${mac}"`);

      made.domain = true;
      const t0 = Date.now();
      // Seen independently while the create waits: dnsmasq's lease, and the agent's first IPv4 address.
      const leaseSeen = waitFor("the lease in net-dhcp-leases", BOOT_TIMEOUT_S * 1000, () => leases().find((l) => l.mac === mac));
      const agentSeen = waitFor("an IPv4 address from the guest agent", BOOT_TIMEOUT_S * 1000 + 120_000, agentIpv4);
      agentSeen.catch(() => {});
      vm = await checkAndCreate(
        dp,
        guestDomainInputs(name, dir, image, {
          disks: [
            { file: join(dir, "disk.qcow2"), format: "qcow2" },
            // The Debian cloud kernel has no AHCI: the seed goes on IDE (machine "pc").
            { volume: { pool: pool.outs.name, name: seed.outs.name }, device: "cdrom", bus: "ide", format: "raw" },
          ],
          networkInterfaces: [{ network: netName, mac, waitForAddress: "lease" }],
          waitForAddressTimeoutSeconds: BOOT_TIMEOUT_S,
          shutdownTimeoutSeconds: 0,
        }),
      ).catch(async (err: Error) => {
        console.log(`[guest-addresses] no lease; what the host and the guest say:\n${await noLeaseDiagnostics()}`);
        throw err;
      });
      timing.create = (Date.now() - t0) / 1000;
      // waitFor began polling right before the create: its seconds are counted from the create.
      timing.lease = (await leaseSeen).seconds;
      agentFirst = agentSeen;
      expect(domainState(QEMU_URI, name)).toBe("running");

      // What dnsmasq leased, what libvirt reports from the lease, and what the provider returned agree.
      const fromLeases = leases().filter((l) => l.mac === mac);
      expect(fromLeases).toHaveLength(1);
      guestAddress = fromLeases[0].address;
      expect(guestAddress).toMatch(new RegExp(`^${subnet.replace(/\./g, "\\.")}\\.1\\d\\d$`));
      expect(fromLeases[0]).toMatchObject({ type: "ipv4", prefix: 24 });
      expect(domifaddr("lease")).toEqual([{ mac, type: "ipv4", address: guestAddress, prefix: 24 }]);
      expect(vm.outs.interfaces).toHaveLength(1);
      expect(vm.outs.interfaces[0]).toMatchObject({ mac, network: netName });
      expect(vm.outs.interfaces[0].addresses.filter((a: any) => a.source === "lease")).toEqual([
        { type: "ipv4", address: guestAddress, prefix: 24, source: "lease" },
      ]);
      expect(vm.outs.ipAddress).toBe(guestAddress);
      console.log(`[guest-addresses] create with waitForAddress "lease": ${timing.create.toFixed(1)} s; lease ${guestAddress}`);
    },
    (BOOT_TIMEOUT_S + 120) * 1000,
  );

  it(
    'waitForAddress "agent": an update waits for the guest agent\'s address, the same one, in place',
    async () => {
      // Right after the lease: the agent may not have reported an address yet, and the update waits for it.
      const t0 = Date.now();
      const next = { ...vm.inputs, networkInterfaces: [{ network: netName, mac, waitForAddress: "agent" }] };
      const checked = await dp.check!({}, next);
      expect(checked.failures).toEqual([]);
      expect(await dp.diff!(vm.id, vm.outs, checked.inputs)).toMatchObject({ changes: true, replaces: [] });
      const { outs } = await dp.update!(vm.id, vm.outs, checked.inputs);
      timing.update = (Date.now() - t0) / 1000;
      const first = await agentFirst;
      timing.agent = first.seconds;
      expect(first.value).toEqual([guestAddress]);
      const agent = await waitFor("an IPv4 address from the guest agent", 1000, agentIpv4);
      expect(agent.value).toEqual([guestAddress]);

      expect(outs.uuid).toBe(vm.id);
      expect(domainState(QEMU_URI, name)).toBe("running");
      // Nothing in the definition changed (waitForAddress is not libvirt's): no restart pending.
      expect(outs.pendingRestart).toBe(false);
      // The agent's addresses of the NIC are exactly what `virsh domifaddr --source agent` lists for its MAC.
      const fromAgent = domifaddr("agent").filter((r) => r.mac === mac);
      expect(fromAgent).toContainEqual({ mac, type: "ipv4", address: guestAddress, prefix: 24 });
      const sorted = (rows: Array<{ type: string; address: string; prefix: number }>) => rows.map((r) => `${r.type} ${r.address}/${r.prefix}`).sort();
      expect(sorted(outs.interfaces[0].addresses.filter((a: any) => a.source === "agent"))).toEqual(sorted(fromAgent));
      expect(sorted(outs.interfaces[0].addresses.filter((a: any) => a.source === "lease"))).toEqual(sorted(domifaddr("lease")));
      expect(outs.ipAddress).toBe(guestAddress);
      // A refresh reads the same, and is no change of the inputs.
      const read = await dp.read!(vm.id, outs);
      expect(sorted(read.props!.interfaces[0].addresses)).toEqual(sorted(outs.interfaces[0].addresses));
      expect((await dp.diff!(vm.id, read.props!, checked.inputs)).changes).toBe(false);
      vm = { id: vm.id, outs, inputs: checked.inputs };
      // What cloud-init made of the seed's network-config in the guest (ifupdown: the image has no netplan).
      const rendered = readGuestFile(QEMU_URI, name, "/etc/network/interfaces.d/50-cloud-init");
      console.log(`[guest-addresses] the guest's /etc/network/interfaces.d/50-cloud-init:\n${rendered}`);
      expect(rendered).toMatch(/^iface lan0 inet dhcp$/m);
      // And the guest's own view of lan0.
      expect(await guestExec(QEMU_URI, name, "/bin/sh", ["-c", "ip -4 -br addr show dev lan0"])).toMatch(
        new RegExp(`^lan0\\s+UP\\s+${guestAddress.replace(/\./g, "\\.")}/24`),
      );
      console.log(`[guest-addresses] update with waitForAddress "agent": ${timing.update.toFixed(1)} s; agent ${agent.value.join(", ")}`);
    },
    (BOOT_TIMEOUT_S + 120) * 1000,
  );

  it("Network update: DHCP hosts and a DNS host are added and removed in place while the guest runs, and the guest keeps its lease", async () => {
    const bridge = net.outs.bridgeName as string;
    const index = bridgeIndex(bridge);
    const pidBefore = dnsmasqPid();
    const hosts = [
      { mac: otherMac, name: "other", ip: `${subnet}.50` },
      { mac, ip: guestAddress },
    ];
    const dnsHosts = [{ ip: guestAddress, hostnames: ["guest.lab", "www.lab"] }];
    const withHosts = await np.check!({}, { ...net.inputs, dhcp: { ranges: net.inputs.dhcp.ranges, hosts }, dnsHosts });
    expect(withHosts.failures).toEqual([]);
    expect(await np.diff!(net.id, net.outs, withHosts.inputs)).toMatchObject({ changes: true, replaces: [] });
    const added = await np.update!(net.id, net.outs, withHosts.inputs);

    const expected = [...hosts].sort((a, b) => (a.ip < b.ip ? -1 : 1));
    expect(dhcpHostsXml(false)).toEqual(expected);
    expect(dhcpHostsXml(true)).toEqual(expected);
    // Live: dnsmasq's hosts file has them.
    const hostsFile = readFileSync(`/var/lib/libvirt/dnsmasq/${netName}.hostsfile`, "utf8");
    expect(hostsFile).toContain(`${otherMac},${subnet}.50,other`);
    expect(hostsFile).toContain(`${mac},${guestAddress}`);
    // The DNS host, in place too: in the definitions, and in dnsmasq's extra hosts file.
    expect(dnsHostsXml(false)).toEqual(dnsHosts);
    expect(dnsHostsXml(true)).toEqual(dnsHosts);
    expect(readFileSync(`/var/lib/libvirt/dnsmasq/${netName}.addnhosts`, "utf8")).toMatch(
      new RegExp(`^${guestAddress.replace(/\./g, "\\.")}\\s+guest\\.lab\\s+www\\.lab\\s*$`, "m"),
    );
    // In place: the same network, the same bridge device, still running.
    expect(added.outs.uuid).toBe(net.id);
    expect(netInfo()).toMatchObject({ UUID: net.id, Active: "yes", Bridge: bridge });
    expect(bridgeIndex(bridge)).toBe(index);
    expect(added.outs.dhcp.hosts).toEqual(expect.arrayContaining(hosts));
    const pidAfter = dnsmasqPid();
    console.log(`[guest-addresses] dnsmasq pid ${pidBefore} before the DHCP host update, ${pidAfter} after`);

    // The guest keeps its lease, and is still reachable through its agent at the same address.
    expect(leases().filter((l) => l.mac === mac)).toEqual([{ mac, type: "ipv4", address: guestAddress, prefix: 24 }]);
    expect((await waitFor("the agent after the network update", 30_000, agentIpv4)).value).toEqual([guestAddress]);
    expect(domifaddr("lease")).toEqual([{ mac, type: "ipv4", address: guestAddress, prefix: 24 }]);

    // Removing the other host again: deleted in place too.
    const fewer = await np.check!({}, { ...net.inputs, dhcp: { ranges: net.inputs.dhcp.ranges, hosts: [{ mac, ip: guestAddress }] } });
    const removed = await np.update!(net.id, added.outs, fewer.inputs);
    expect(dhcpHostsXml(false)).toEqual([{ mac, ip: guestAddress }]);
    expect(dhcpHostsXml(true)).toEqual([{ mac, ip: guestAddress }]);
    expect(readFileSync(`/var/lib/libvirt/dnsmasq/${netName}.hostsfile`, "utf8")).not.toContain(otherMac);
    expect(dnsHostsXml(false)).toEqual([]);
    expect(dnsHostsXml(true)).toEqual([]);
    expect(readFileSync(`/var/lib/libvirt/dnsmasq/${netName}.addnhosts`, "utf8")).not.toContain("guest.lab");
    expect(removed.outs.uuid).toBe(net.id);
    expect(bridgeIndex(bridge)).toBe(index);
    expect(leases().filter((l) => l.mac === mac)).toEqual([{ mac, type: "ipv4", address: guestAddress, prefix: 24 }]);
    // A refresh shows no change.
    const read = await np.read!(net.id, removed.outs);
    expect((await np.diff!(net.id, read.props!, fewer.inputs)).changes).toBe(false);
    net = { id: net.id, outs: removed.outs, inputs: fewer.inputs };
  }, 120_000);

  it("Network delete, replacement and stop are refused while the guest is on it, naming the domain; nothing changes", async () => {
    const bridge = net.outs.bridgeName as string;
    const index = bridgeIndex(bridge);
    const who = `1 domain has an interface on it: "${name}" \\(running; 1 interface ${mac}, in its live and persistent definitions\\)`;
    const err = await np.delete!(net.id, net.outs).catch((e: Error) => e);
    expect(err).toBeInstanceOf(TeardownRefusedError);
    expect((err as Error).message).toMatch(new RegExp(`^refusing to delete network "${netName}" \\(nothing was changed\\): ${who}`));

    const replaced = await np.check!(
      {},
      { ...net.inputs, dhcp: { ranges: [{ start: `${subnet}.100`, end: `${subnet}.150` }], hosts: net.inputs.dhcp.hosts } },
    );
    await expect(np.diff!(net.id, net.outs, replaced.inputs)).rejects.toThrow(
      new RegExp(`^refusing to replace network "${netName}" \\(nothing was changed\\): changing \`dhcp\` replaces it.*${who}`),
    );
    const stopped = await np.check!({}, { ...net.inputs, active: false });
    await expect(np.diff!(net.id, net.outs, stopped.inputs)).rejects.toThrow(
      new RegExp(`^refusing to stop network "${netName}" \\(nothing was changed\\): 1 running domain has an interface on it`),
    );
    await expect(np.update!(net.id, net.outs, stopped.inputs)).rejects.toThrow(/^refusing to stop network/);

    expect(networkNames()).toContain(netName);
    expect(netInfo()).toMatchObject({ UUID: net.id, Active: "yes", Persistent: "yes", Bridge: bridge });
    expect(bridgeIndex(bridge)).toBe(index);
    expect(dhcpHostsXml(true)).toEqual([{ mac, ip: guestAddress }]);
    expect(leases().filter((l) => l.mac === mac)).toEqual([{ mac, type: "ipv4", address: guestAddress, prefix: 24 }]);
    expect((await waitFor("the agent after the refusals", 30_000, agentIpv4)).value).toEqual([guestAddress]);
  }, 120_000);

  it("after the domain's delete, the Network's delete works and virsh no longer lists it", async () => {
    const bridge = net.outs.bridgeName as string;
    const dnsmasq = dnsmasqPid();
    await dp.delete!(vm.id, vm.outs);
    made.domain = false;
    expect(virshTry(QEMU_URI, "dominfo", name).ok).toBe(false);
    await np.delete!(net.id, net.outs);
    made.network = false;
    expect(networkNames()).not.toContain(netName);
    expect(virshTry(QEMU_URI, "net-info", netName).ok).toBe(false);
    expect(inNetns("ip", "-br", "link")).not.toMatch(new RegExp(`^${bridge}\\s`, "m"));
    // Its dnsmasq exits (libvirt sends SIGTERM and does not wait; it leaves the pid file behind).
    await waitFor(`dnsmasq (pid ${dnsmasq}) exiting`, 10_000, () => (processGone(dnsmasq) ? true : undefined));
    expect(await np.read!(net.id, net.outs)).toEqual({});
  }, 120_000);
});
