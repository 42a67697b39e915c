// Networks on qemu:///system. The provider acts; virsh (net-info, net-dumpxml,
// net-list) says independently what happened.
//
// NETWORK RULE: only networks WITHOUT host-side addresses are made here
// (mode "isolated", no addresses, hence no <ip>, no DHCP, no dnsmasq): a network
// with an <ip> would put that address on the host's bridge. Addresses, DHCP and
// DNS are tested on test:///default (test/unit/network-provider.test.ts), and a NAT
// network with DHCP under a real guest in guest-addresses.test.ts (only while
// libvirtd runs in the test network namespace).
// No guest is started: the domain that holds an interface is only defined.
// Names carry the test prefix (lvp-test-); afterAll removes everything with virsh.
import { afterAll, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";
import { QEMU_URI, netInfo as hostNetInfo, networkNames as hostNetworkNames, removeDomain, uniqueName, virsh, virshTry } from "../helpers/host";
import { createDomain } from "../helpers/domains";

const { networkProvider: np, domainProvider: dp, TeardownRefusedError } = provider;

const made = { networks: new Set<string>(), domains: [] as string[] };

afterAll(async () => {
  await provider.closeAllConnections();
  for (const d of made.domains) removeDomain(QEMU_URI, d);
  for (const n of made.networks) {
    virshTry(QEMU_URI, "net-destroy", n);
    virshTry(QEMU_URI, "net-undefine", n);
  }
});

const netInfo = (name: string) => hostNetInfo(QEMU_URI, name);
const networkNames = () => hostNetworkNames(QEMU_URI);

async function createIsolated(label: string, extra: Record<string, unknown> = {}) {
  const name = uniqueName(label);
  made.networks.add(name);
  // Never an address here: see the header.
  const { inputs, failures } = await np.check!({}, { name, uri: QEMU_URI, mode: "isolated", ...extra });
  expect(failures).toEqual([]);
  expect(inputs.addresses).toEqual([]);
  const { id, outs } = await np.create(inputs);
  return { id: id!, outs, inputs, name };
}

describe("Network on qemu:///system (isolated, no host addresses)", () => {
  it("creates, started and persistent; libvirt picks the bridge; no <ip> and no <forward>", async () => {
    const { id, outs, name } = await createIsolated("net");
    const info = netInfo(name);
    expect(info).toMatchObject({ Name: name, UUID: id, Active: "yes", Persistent: "yes", Autostart: "no" });
    expect(outs.bridgeName).toMatch(/^virbr\d+$/);
    expect(info.Bridge).toBe(outs.bridgeName);
    const xml = virsh(QEMU_URI, "net-dumpxml", name);
    expect(xml).not.toContain("<ip");
    expect(xml).not.toContain("<forward");
    expect(outs).toMatchObject({ uuid: id, uri: QEMU_URI, mode: "isolated", addresses: [], active: true, autostart: false });
    // A refresh changes nothing.
    const read = await np.read!(id, outs);
    expect(await np.diff!(id, read.props, (await np.check!({}, { name, uri: QEMU_URI, mode: "isolated" })).inputs)).toMatchObject({ changes: false });
  });

  it("autostart and active change in place", async () => {
    const { id, outs, inputs, name } = await createIsolated("net-inplace", { mtu: 1400 });
    expect(virsh(QEMU_URI, "net-dumpxml", name)).toContain("<mtu size='1400'/>");
    const { outs: auto } = await np.update!(id, outs, (await np.check!({}, { ...inputs, autostart: true })).inputs);
    expect(auto.autostart).toBe(true);
    expect(netInfo(name).Autostart).toBe("yes");
    const { outs: off } = await np.update!(id, auto, (await np.check!({}, { ...inputs, autostart: true, active: false })).inputs);
    expect(off.active).toBe(false);
    expect(netInfo(name).Active).toBe("no");
    await np.delete!(id, off);
    expect(networkNames()).not.toContain(name);
  });

  it("refuses delete and replacement while a (defined, not started) domain has an interface on it; deletes once it is gone", async () => {
    const { id, outs, inputs, name } = await createIsolated("net-used");
    const dom = await createDomain("net-user", { running: false, networkInterfaces: [{ network: name }] }, made.domains);
    expect(virsh(QEMU_URI, "domstate", dom.name)).toBe("shut off");
    const mac = /<mac address='([^']+)'/.exec(virsh(QEMU_URI, "dumpxml", "--inactive", dom.name))![1];

    const refusal = new RegExp(
      `^refusing to delete network "${name}" \\(nothing was changed\\): 1 domain has an interface on it: "${dom.name}" \\(not running; 1 interface ${mac}, in its persistent definition\\)`,
    );
    await expect(np.delete!(id, outs)).rejects.toThrow(refusal);
    await expect(np.delete!(id, outs)).rejects.toBeInstanceOf(TeardownRefusedError);
    expect(netInfo(name)).toMatchObject({ Active: "yes", Persistent: "yes" });

    // A replacement would delete it first: refused in diff (the preview), before anything happened.
    await expect(np.diff!(id, outs, (await np.check!({}, { ...inputs, mtu: 1400 })).inputs)).rejects.toThrow(
      new RegExp(`^refusing to replace network "${name}" \\(nothing was changed\\): changing \`mtu\` replaces it`),
    );
    expect(netInfo(name).UUID).toBe(id);

    await dp.delete(dom.id, dom.outs as never);
    expect(virshTry(QEMU_URI, "dominfo", dom.name).ok).toBe(false);
    await np.delete!(id, outs);
    expect(networkNames()).not.toContain(name);
    expect(await np.read!(id, outs)).toEqual({});
  });
});
