// The Network provider on libvirt's in-process test driver (test:///default),
// which keeps networks with addresses, DHCP and DNS in this process's memory:
// nothing reaches the host. Addresses and DHCP are tested here only (a network
// with an <ip> on qemu:///system would put an address on the host). Results are
// checked through the binding's own lookups, not only through the outputs.
import { afterAll, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";

const URI = "test:///default";
const { networkProvider: np, domainProvider: dp, withConnection, closeAllConnections, TeardownRefusedError } = provider;

type Outs = Record<string, any>;
let counter = 0;
const made: string[] = [];
const domains: string[] = [];

async function create(inputs: Record<string, unknown>): Promise<{ id: string; outs: Outs; inputs: Record<string, unknown> }> {
  const name = `lvp-test-net-${process.pid}-${++counter}`;
  made.push(name);
  const { inputs: checked, failures } = await np.check!({}, { name, uri: URI, ...inputs });
  expect(failures ?? []).toEqual([]);
  const { id, outs } = (await np.create(checked)) as { id: string; outs: Outs };
  return { id, outs, inputs: checked };
}

async function recheck(inputs: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { inputs: checked, failures } = await np.check!({}, inputs);
  expect(failures ?? []).toEqual([]);
  return checked;
}

/** The network as libvirt has it: its live XML, active and autostart, or null. */
async function libvirtView(name: string) {
  return withConnection({ uri: URI }, async (conn) => {
    const net = await conn.lookupNetwork(name);
    if (!net) return null;
    try {
      return { xml: await net.xml(), active: await net.isActive(), autostart: await net.autostart() };
    } finally {
      net.free();
    }
  });
}

async function domainOn(network: string, running: boolean): Promise<{ uuid: string; name: string }> {
  const name = `lvp-test-netdom-${process.pid}-${++counter}`;
  const { inputs, failures } = await dp.check!(
    {},
    { name, uri: URI, memoryMiB: 64, running, networkInterfaces: [{ network, mac: "52:54:00:00:aa:01" }] },
  );
  expect(failures).toEqual([]);
  const { outs } = await dp.create(inputs);
  domains.push(outs.uuid);
  return { uuid: outs.uuid, name };
}

afterAll(async () => {
  for (const uuid of domains) await dp.delete(uuid, { uri: URI } as never).catch(() => undefined);
  for (const name of made) {
    await withConnection({ uri: URI }, async (conn) => {
      const net = await conn.lookupNetwork(name);
      if (!net) return;
      if (await net.isActive()) await net.destroy();
      await net.undefine();
      net.free();
    });
  }
  await closeAllConnections();
});

const DHCP = {
  ranges: [
    { start: "10.20.0.100", end: "10.20.0.200" },
    { start: "fd00:20::100", end: "fd00:20::1ff" },
  ],
  hosts: [{ mac: "52:54:00:00:20:01", ip: "10.20.0.7", name: "web" }],
};

describe("Network provider on test:///default", () => {
  it("creates a NAT network with IPv4 and IPv6 addresses, DHCP and DNS, started, and reports every output", async () => {
    const { id, outs } = await create({
      addresses: ["10.20.0.1/24", "fd00:20::1/64"],
      domain: "lab.example",
      mtu: 9000,
      dhcp: DHCP,
      dnsHosts: [{ ip: "10.20.0.7", hostnames: ["web"] }],
    });
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(outs).toMatchObject({
      uuid: id,
      uri: URI,
      mode: "nat",
      addresses: ["10.20.0.1/24", "fd00:20::1/64"],
      domain: "lab.example",
      mtu: 9000,
      dhcp: DHCP,
      dnsHosts: [{ ip: "10.20.0.7", hostnames: ["web"] }],
      active: true,
      autostart: false,
    });
    const view = (await libvirtView(outs.name))!;
    expect(view.active).toBe(true);
    expect(view.xml).toContain("<forward mode='nat'/>");
    expect(view.xml).toMatch(/<ip family='ipv6' address='fd00:20::1' prefix='64'>/);
    expect(view.xml).toContain("<host mac='52:54:00:00:20:01' name='web' ip='10.20.0.7'/>");
    // A read gives the same outputs: no change on the next preview.
    const read = await np.read!(id, outs);
    expect(
      await np.diff!(
        id,
        read.props,
        (
          await np.check!(
            {},
            {
              name: outs.name,
              uri: URI,
              addresses: ["10.20.0.1/24", "fd00:20::1/64"],
              domain: "lab.example",
              mtu: 9000,
              dhcp: DHCP,
              dnsHosts: [{ ip: "10.20.0.7", hostnames: ["web"] }],
            },
          )
        ).inputs,
      ),
    ).toMatchObject({ changes: false });
  });

  it("DHCP hosts, DNS hosts and autostart change in place (virNetworkUpdate, live and persistent); active: false stops it", async () => {
    const { id, outs, inputs } = await create({
      addresses: ["10.21.0.1/24", "fd00:21::1/64"],
      dhcp: { ranges: [{ start: "10.21.0.100", end: "10.21.0.200" }], hosts: [{ mac: "52:54:00:00:21:01", ip: "10.21.0.7" }] },
      dnsHosts: [{ ip: "10.21.0.5", hostnames: ["old"] }],
    });
    const next = await recheck({
      ...inputs,
      dhcp: {
        ranges: [{ start: "10.21.0.100", end: "10.21.0.200" }],
        hosts: [
          { mac: "52:54:00:00:21:02", ip: "10.21.0.8", name: "new" },
          { ip: "fd00:21::8", name: "six" },
        ],
      },
      dnsHosts: [{ ip: "10.21.0.6", hostnames: ["new", "newer"] }],
      autostart: true,
    });
    expect(await np.diff!(id, outs, next)).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    const { outs: updated } = await np.update!(id, outs, next);
    expect(updated.uuid).toBe(id);
    expect(updated.dhcp.hosts).toEqual([
      { mac: "52:54:00:00:21:02", ip: "10.21.0.8", name: "new" },
      { ip: "fd00:21::8", name: "six" },
    ]);
    expect(updated.dnsHosts).toEqual([{ ip: "10.21.0.6", hostnames: ["new", "newer"] }]);
    expect(updated.autostart).toBe(true);
    const view = (await libvirtView(outs.name))!;
    expect(view.xml).not.toContain("52:54:00:00:21:01");
    expect(view.xml).toContain("<host name='six' ip='fd00:21::8'/>");
    expect(view.xml).not.toContain("<hostname>old</hostname>");
    expect(view.autostart).toBe(true);
    expect(await np.diff!(id, (await np.read!(id, updated)).props, next)).toMatchObject({ changes: false });

    const stopped = await recheck({ ...next, active: false });
    const { outs: off } = await np.update!(id, updated, stopped);
    expect(off.active).toBe(false);
    expect((await libvirtView(outs.name))!.active).toBe(false);
    // Hosts change in the persistent definition of a stopped network too; starting it again applies them.
    const again = await recheck({ ...stopped, active: true, dnsHosts: [] });
    const { outs: on } = await np.update!(id, off, again);
    expect(on).toMatchObject({ active: true, dnsHosts: [] });
    expect((await libvirtView(outs.name))!.xml).not.toContain("<dns>");
  });

  it("everything else replaces, deleting first; a change of DHCP ranges replaces", async () => {
    const { id, outs, inputs } = await create({ addresses: ["10.22.0.1/24"], dhcp: { ranges: [{ start: "10.22.0.100", end: "10.22.0.200" }] } });
    for (const change of [
      { mtu: 1400 },
      { addresses: ["10.23.0.1/24"], dhcp: undefined },
      { mode: "isolated" },
      { domain: "x.example" },
      { name: `${outs.name}-2` },
    ]) {
      const d = await np.diff!(id, outs, await recheck({ ...inputs, ...change }));
      expect(d, JSON.stringify(change)).toMatchObject({ changes: true, deleteBeforeReplace: true });
      expect(d.replaces!.length).toBeGreaterThan(0);
    }
    const ranges = await np.diff!(id, outs, await recheck({ ...inputs, dhcp: { ranges: [{ start: "10.22.0.50", end: "10.22.0.60" }] } }));
    expect(ranges).toEqual({ changes: true, replaces: ["dhcp"], deleteBeforeReplace: true });
    // An unset bridgeName keeps the one libvirt picked; uri left unset keeps the saved one.
    const { uri: _uri, ...withoutUri } = inputs;
    expect(await np.diff!(id, { ...outs, bridgeName: "virbr9" }, await recheck({ ...withoutUri }))).toMatchObject({ changes: false });
  });

  it("a name that exists already is refused before anything changes", async () => {
    const { outs } = await create({ mode: "isolated" });
    const { inputs } = await np.check!({}, { name: outs.name, uri: URI, mode: "isolated", addresses: [] });
    await expect(np.create(inputs)).rejects.toThrow(/a network of that name \(uuid [0-9a-f-]{36}\) already exists there.*Nothing was changed/);
  });

  it("delete, replacement and stop are refused while a domain has an interface on the network; delete once it is gone", async () => {
    const { id, outs, inputs } = await create({ addresses: ["10.24.0.1/24"] });
    const defined = await domainOn(outs.name, false);

    const del = np.delete!(id, outs);
    await expect(del).rejects.toBeInstanceOf(TeardownRefusedError);
    await expect(np.delete!(id, outs)).rejects.toThrow(
      new RegExp(
        `^refusing to delete network "${outs.name}" \\(nothing was changed\\): 1 domain has an interface on it: "${defined.name}" \\(not running; 1 interface 52:54:00:00:aa:01, in its persistent definition\\)`,
      ),
    );
    expect((await libvirtView(outs.name))!.active).toBe(true);

    await expect(np.diff!(id, outs, await recheck({ ...inputs, mtu: 1400 }))).rejects.toThrow(
      new RegExp(`^refusing to replace network "${outs.name}" \\(nothing was changed\\): changing \`mtu\` replaces it`),
    );
    // Stopping is refused only for a running domain: a defined one can stay.
    const { outs: off } = await np.update!(id, outs, await recheck({ ...inputs, active: false }));
    expect(off.active).toBe(false);
    const { outs: on } = await np.update!(id, off, await recheck({ ...inputs, active: true }));
    const running = await domainOn(outs.name, true);
    // Refused at preview (diff) and, should the preview be skipped, by the update itself.
    await expect(np.diff!(id, on, await recheck({ ...inputs, active: false }))).rejects.toThrow(/^refusing to stop network/);
    await expect(np.update!(id, on, await recheck({ ...inputs, active: false }))).rejects.toThrow(
      new RegExp(
        `refusing to stop network "${outs.name}" \\(nothing was changed\\): 1 running domain has an interface on it \\("${running.name}" \\(running;`,
      ),
    );
    expect((await libvirtView(outs.name))!.active).toBe(true);

    for (const d of [defined, running]) {
      await dp.delete(d.uuid, { uri: URI } as never);
      domains.splice(domains.indexOf(d.uuid), 1);
    }
    await np.delete!(id, on);
    expect(await libvirtView(outs.name)).toBeNull();
    expect(await np.read!(id, on)).toEqual({});
    // Deleting what is gone already is no error.
    await np.delete!(id, on);
  });

  it("an isolated network without addresses, not started, then started by an update", async () => {
    const { id, outs, inputs } = await create({ mode: "isolated", active: false });
    expect(outs).toMatchObject({ mode: "isolated", addresses: [], active: false });
    expect((await libvirtView(outs.name))!.xml).not.toContain("<forward");
    const { outs: on } = await np.update!(id, outs, await recheck({ ...inputs, active: true }));
    expect(on.active).toBe(true);
    await np.delete!(id, on);
    expect(await libvirtView(outs.name)).toBeNull();
  });
});
