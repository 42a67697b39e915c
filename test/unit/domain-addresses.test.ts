// Domain addresses on libvirt's in-process test driver: waitForAddress's checks,
// the interfaces/ipAddress outputs against what the binding reports for the same
// domain, the wait's timeout message, and the choice of ipAddress. The real
// sources (a DHCP lease, the guest agent of a booted guest) are tested in
// test/integration/guest-addresses.test.ts.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { built, provider } from "../helpers/lib";

const { domainProvider, withConnection, closeAllConnections } = provider;
const addresses = built<typeof import("../../provider/domain/addresses")>("provider/domain/addresses");

const URI = "test:///default";
let seq = 0;
const created: string[] = [];
const uniqueName = (label: string) => `unit-addr-${label}-${process.pid}-${++seq}`;

afterEach(async () => {
  for (const name of created.splice(0)) {
    await withConnection({ uri: URI }, async (conn) => {
      const dom = await conn.lookupDomain(name);
      if (!dom) return;
      if (await dom.isActive()) await dom.destroy();
      await dom.undefine(0);
      dom.free();
    });
  }
});
afterAll(() => closeAllConnections());

const failuresOf = async (inputs: Record<string, unknown>) =>
  (await domainProvider.check!({}, { name: "a", uri: URI, memoryMiB: 64, ...inputs })).failures as Array<{ property: string; reason: string }>;

describe("waitForAddress: check", () => {
  it('refuses "agent" without the agent channel, naming the fix', async () => {
    expect(await failuresOf({ networkInterfaces: [{ network: "default", waitForAddress: "agent" }] })).toEqual([
      { property: "networkInterfaces[0].waitForAddress", reason: expect.stringMatching(/needs the guest agent's channel: set qemuGuestAgent: true/) },
    ]);
  });

  it('refuses "lease" on a host bridge, and "any" there without the agent', async () => {
    expect(await failuresOf({ qemuGuestAgent: true, networkInterfaces: [{ bridge: "br0", waitForAddress: "lease" }] })).toEqual([
      {
        property: "networkInterfaces[0].waitForAddress",
        reason: expect.stringMatching(/a host bridge has no libvirt DHCP leases.*wait for "agent"/),
      },
    ]);
    expect(await failuresOf({ networkInterfaces: [{ network: "default" }, { bridge: "br0", waitForAddress: "any" }] })).toEqual([
      {
        property: "networkInterfaces[1].waitForAddress",
        reason: expect.stringMatching(/only the guest agent can report an address: set qemuGuestAgent: true/),
      },
    ]);
    expect(await failuresOf({ qemuGuestAgent: true, networkInterfaces: [{ bridge: "br0", waitForAddress: "any" }] })).toEqual([]);
  });

  it("refuses an unknown source and a timeout out of range", async () => {
    const bad = await failuresOf({ networkInterfaces: [{ network: "default", waitForAddress: "dhcp" }], waitForAddressTimeoutSeconds: 0 });
    expect(bad.map((f) => f.property).sort()).toEqual(["networkInterfaces[0].waitForAddress", "waitForAddressTimeoutSeconds"]);
    expect(bad.find((f) => f.property === "waitForAddressTimeoutSeconds")?.reason).toMatch(/at least 1 second/);
    expect(JSON.stringify(bad)).toMatch(/lease.*agent.*any/);
  });
});

describe("interfaces and ipAddress", () => {
  it("waits for a lease and reports each interface's addresses as libvirt has them", async () => {
    const name = uniqueName("lease");
    created.push(name);
    const { inputs } = await domainProvider.check!(
      {},
      { name, uri: URI, memoryMiB: 64, networkInterfaces: [{ network: "default", waitForAddress: "lease" }, { bridge: "br0" }] },
    );
    const { outs } = await domainProvider.create!(inputs);
    const reported = await withConnection({ uri: URI }, async (conn) => {
      const dom = (await conn.lookupDomain(name))!;
      try {
        return await dom.interfaceAddresses("lease");
      } finally {
        dom.free();
      }
    });
    expect(reported).toHaveLength(2);
    expect(outs.interfaces).toEqual([
      { mac: reported[0].mac, network: "default", addresses: reported[0].addresses.map((a) => ({ ...a, source: "lease" })) },
      { mac: reported[1].mac, bridge: "br0", addresses: reported[1].addresses.map((a) => ({ ...a, source: "lease" })) },
    ]);
    expect(outs.ipAddress).toBe(reported[0].addresses[0].address);
    // A refresh reads them again; they are outputs, never a change of the inputs.
    const read = await domainProvider.read!(outs.uuid, outs);
    expect(read.props!.interfaces).toEqual(outs.interfaces);
    const diff = await domainProvider.diff!(outs.uuid, { ...read.props, interfaces: [] }, inputs);
    expect(diff.changes).toBe(false);
  });

  it("a change of waitForAddress alone waits in the update, but leaves the definition as it was: no restart pending", async () => {
    const name = uniqueName("wait-upd");
    created.push(name);
    const { inputs } = await domainProvider.check!({}, { name, uri: URI, memoryMiB: 64, networkInterfaces: [{ network: "default" }] });
    const { outs } = await domainProvider.create!(inputs);
    const before = outs.xml;
    const { inputs: waiting } = await domainProvider.check!(
      {},
      { ...inputs, networkInterfaces: [{ network: "default", mac: outs.interfaces[0].mac, waitForAddress: "lease" }] },
    );
    expect(await domainProvider.diff!(outs.uuid, outs, waiting)).toMatchObject({ changes: true, replaces: [] });
    const updated = await domainProvider.update!(outs.uuid, outs, waiting);
    expect(updated.outs).toMatchObject({ uuid: outs.uuid, state: "running", pendingRestart: false });
    expect(updated.outs.xml).toBe(before);
    expect(updated.outs.ipAddress).toBe(outs.ipAddress);
    // A real change of the definition still is one.
    const { inputs: bigger } = await domainProvider.check!({}, { ...waiting, memoryMiB: 128 });
    expect((await domainProvider.update!(outs.uuid, updated.outs, bigger)).outs.pendingRestart).toBe(true);
  });

  it("does not wait for a domain that is shut off; it has no addresses then", async () => {
    const name = uniqueName("off");
    created.push(name);
    const { inputs } = await domainProvider.check!(
      {},
      { name, uri: URI, memoryMiB: 64, running: false, networkInterfaces: [{ network: "default", waitForAddress: "lease" }] },
    );
    const { outs } = await domainProvider.create!(inputs);
    expect(outs.interfaces).toEqual([{ mac: expect.stringMatching(/^52:54:00:/), network: "default", addresses: [] }]);
    expect(outs.ipAddress).toBeUndefined();
  });

  it("times out naming the interface, the source and what to check", async () => {
    const name = uniqueName("timeout");
    created.push(name);
    const { inputs } = await domainProvider.check!({}, { name, uri: URI, memoryMiB: 64, networkInterfaces: [{ bridge: "br0" }] });
    const { outs } = await domainProvider.create!(inputs);
    const started = Date.now();
    // The domain has no agent channel: the agent is never asked, so nothing comes.
    const err = await addresses
      .waitForAddresses({ uri: URI }, outs.uuid, name, [{ bridge: "br0", waitForAddress: "agent" }], 1, { pollMs: 100 })
      .catch((e: Error) => e);
    expect(err).toBeInstanceOf(addresses.AddressWaitTimeoutError);
    expect((err as Error).message).toMatch(
      new RegExp(
        `domain "${name}" got no address within 1 s: networkInterfaces\\[0\\] \\(bridge "br0", mac 52:54:00:[0-9a-f:]+, waitForAddress: "agent"\\): the guest agent reported none: is qemu-guest-agent installed and running`,
      ),
    );
    expect((err as Error).message).toMatch(/recorded in the stack; the next `pulumi up` waits again.*waitForAddressTimeoutSeconds/);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe("which address is ipAddress", () => {
  const iface = (...list: Array<[string, "ipv4" | "ipv6"]>) => ({
    mac: "52:54:00:00:00:01",
    addresses: list.map(([address, type]) => ({ address, type, prefix: 24, source: "agent" as const })),
  });

  it("takes the first reachable IPv4 address, skipping loopback and link-local ones", () => {
    expect(addresses.firstIpv4([iface(["fe80::1", "ipv6"], ["169.254.3.4", "ipv4"]), iface(["2001:db8::5", "ipv6"], ["10.0.0.5", "ipv4"])])).toBe(
      "10.0.0.5",
    );
    expect(addresses.firstIpv4([iface(["127.0.0.1", "ipv4"], ["::1", "ipv6"])])).toBeUndefined();
    expect(addresses.firstIpv4([])).toBeUndefined();
  });

  it("counts global IPv6 addresses as reachable, link-local ones not", () => {
    expect(addresses.isReachable({ type: "ipv6", address: "2001:db8::5" })).toBe(true);
    expect(addresses.isReachable({ type: "ipv6", address: "FE80::1" })).toBe(false);
    expect(addresses.isReachable({ type: "ipv4", address: "10.1.2.3" })).toBe(true);
  });
});
