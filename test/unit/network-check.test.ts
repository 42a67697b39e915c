// Network inputs: check (failures name the property and the fix), the canonical
// shape it normalizes to, and the XML round trip (build, then parse back to the
// same inputs). No hypervisor involved.
import { describe, expect, it } from "vitest";
import { built } from "../helpers/lib";

const { checkNetworkInputs: check } = built<typeof import("../../provider/network/inputs")>("provider/network/inputs");
const { buildNetworkXml, parseNetworkXml, interfacesOnNetwork } = built<typeof import("../../provider/network/xml")>("provider/network/xml");

const failures = (inputs: Record<string, unknown>) => check({ name: "lab", ...inputs }).failures;
const reasonOf = (inputs: Record<string, unknown>, property: string) => failures(inputs).find((f) => f.property === property)?.reason;

describe("Network check", () => {
  it("defaults: mode nat, autostart false, active true; name is required", () => {
    const { inputs } = check({ name: "lab", addresses: ["192.168.150.1/24"] });
    expect(inputs).toMatchObject({ name: "lab", mode: "nat", autostart: false, active: true, addresses: ["192.168.150.1/24"], dnsHosts: [] });
    expect(inputs!.dhcp).toBeUndefined();
    expect(check({ mode: "isolated" }).failures).toEqual([
      { property: "name", reason: "is required (the SDK's Network defaults it to the resource name)" },
    ]);
  });

  it("nat (the default) and route need an address; isolated and open do not", () => {
    expect(reasonOf({}, "addresses")).toMatch(/^mode defaults to "nat", which needs at least one address: .* set mode: "isolated"$/);
    expect(reasonOf({ mode: "route" }, "addresses")).toMatch(/^mode: "route" needs at least one address/);
    expect(failures({ mode: "isolated" })).toEqual([]);
    expect(failures({ mode: "open" })).toEqual([]);
  });

  it('mode "bridge" needs bridgeName and takes no addresses, DHCP, DNS hosts or domain', () => {
    expect(reasonOf({ mode: "bridge" }, "bridgeName")).toMatch(/is required with mode: "bridge"/);
    const f = failures({ mode: "bridge", bridgeName: "br0", addresses: ["10.0.0.1/24"], dhcp: { ranges: [] }, dnsHosts: [], domain: "x.example" });
    expect(f.map((x) => x.property).sort()).toEqual(["addresses", "dhcp", "dnsHosts", "domain"]);
    expect(f[0].reason).toMatch(/cannot be used with mode: "bridge".*drop addresses/);
    expect(failures({ mode: "bridge", bridgeName: "br0" })).toEqual([]);
  });

  it("CIDR parsing: each failure says what is wrong", () => {
    const table: Array<[string, RegExp]> = [
      ["192.168.150.1", /is not in CIDR form/],
      ["192.168.150.1/33", /prefix length 33; an IPv4 prefix is 1 to 32/],
      ["192.168.150.01/24", /leading zero/],
      ["256.1.1.1/24", /above 255/],
      ["fd00::1/129", /an IPv6 prefix is 1 to 128/],
      ["fd00::g/64", /is not an IPv6 address/],
      ["fe80::1%eth0/64", /zone index/],
      ["192.168.150.0/24", /the subnet's own network address; give the host's address in it, such as 192.168.150.1\/24/],
      ["192.168.150.255/24", /broadcast address/],
      ["192.168.150.1/31", /leaves no room for guests/],
      ["fd00:150::/64", /network address; .* such as fd00:150::1\/64/],
    ];
    for (const [address, reason] of table) expect(reasonOf({ addresses: [address] }, "addresses[0]"), address).toMatch(reason);
    expect(reasonOf({ addresses: ["10.0.0.1/16", "10.0.5.1/24"] }, "addresses[1]")).toMatch(/overlaps addresses\[0\]/);
    expect(failures({ addresses: ["10.0.0.1/16", "fd00::1/64"] })).toEqual([]);
  });

  it("canonical spelling: IPv6 compressed and lower case, MACs lower case, hosts sorted", () => {
    const { inputs, failures: f } = check({
      name: "lab",
      addresses: ["FD00:0150:0:0::1/64", "10.1.0.1/24"],
      dhcp: {
        hosts: [
          { ip: "10.1.0.9", mac: "52:54:00:AB:CD:EF" },
          { ip: "10.1.0.3", name: "b" },
          { ip: "fd00:150::0:3", name: "six" },
        ],
      },
      dnsHosts: [
        { ip: "10.1.0.9", hostnames: ["z"] },
        { ip: "10.1.0.2", hostnames: ["a", "b"] },
      ],
    });
    expect(f).toEqual([]);
    expect(inputs!.addresses).toEqual(["fd00:150::1/64", "10.1.0.1/24"]);
    expect(inputs!.dhcp).toEqual({
      ranges: [],
      hosts: [
        { ip: "10.1.0.3", name: "b" },
        { mac: "52:54:00:ab:cd:ef", ip: "10.1.0.9" },
        { ip: "fd00:150::3", name: "six" },
      ],
    });
    expect(inputs!.dnsHosts.map((h) => h.ip)).toEqual(["10.1.0.2", "10.1.0.9"]);
  });

  it("DHCP ranges and hosts must lie in a subnet, and make sense there", () => {
    const base = { addresses: ["10.1.0.1/24", "fd00::1/64"] };
    const range = (start: string, end: string) => ({ ...base, dhcp: { ranges: [{ start, end }] } });
    expect(reasonOf({ dhcp: { ranges: [{ start: "10.1.0.2", end: "10.1.0.9" }] }, mode: "isolated" }, "dhcp")).toMatch(/needs addresses/);
    expect(reasonOf(range("10.2.0.2", "10.2.0.9"), "dhcp.ranges[0].start")).toMatch(
      /10\.2\.0\.2 is in none of the subnets of addresses \(10\.1\.0\.1\/24, fd00::1\/64\)/,
    );
    expect(reasonOf(range("10.1.0.2", "fd00::9"), "dhcp.ranges[0].end")).toMatch(/not in the subnet of start \(10\.1\.0\.1\/24\)/);
    expect(reasonOf(range("10.1.0.9", "10.1.0.2"), "dhcp.ranges[0]")).toMatch(/start 10\.1\.0\.9 comes after end 10\.1\.0\.2; swap them/);
    expect(reasonOf(range("10.1.0.0", "10.1.0.9"), "dhcp.ranges[0]")).toMatch(/host's own address 10\.1\.0\.1|network or broadcast/);
    expect(reasonOf(range("10.1.0.2", "10.1.0.255"), "dhcp.ranges[0]")).toMatch(/network or broadcast address/);
    expect(failures(range("10.1.0.100", "10.1.0.200"))).toEqual([]);
    expect(failures(range("fd00::100", "fd00::1ff"))).toEqual([]);

    const host = (h: Record<string, unknown>) => ({ ...base, dhcp: { hosts: [h] } });
    expect(reasonOf(host({ ip: "10.1.0.7" }), "dhcp.hosts[0]")).toMatch(/needs mac or name/);
    expect(reasonOf(host({ ip: "10.1.0.1", name: "gw" }), "dhcp.hosts[0].ip")).toMatch(/the host's own address/);
    expect(reasonOf(host({ ip: "fd00::7", mac: "52:54:00:00:00:01", name: "x" }), "dhcp.hosts[0].mac")).toMatch(/IPv4 only/);
    expect(reasonOf(host({ ip: "fd00::7" }), "dhcp.hosts[0].name")).toMatch(/required for an IPv6 host/);
    expect(reasonOf(host({ ip: "10.9.0.7", name: "x" }), "dhcp.hosts[0].ip")).toMatch(/is in none of the subnets/);
    const dup = {
      ...base,
      dhcp: {
        hosts: [
          { ip: "10.1.0.7", mac: "52:54:00:00:00:01" },
          { ip: "10.1.0.7", mac: "52:54:00:00:00:01" },
        ],
      },
    };
    expect(failures(dup).map((f) => f.property)).toEqual(["dhcp.hosts[1].ip", "dhcp.hosts[1].mac"]);
    expect(reasonOf({ dhcp: { hosts: [{ ip: "10.1.0.7", mac: "nope" }] }, ...base }, "dhcp.hosts[0].mac")).toMatch(/MAC address such as/);

    const twoV4 = {
      addresses: ["10.1.0.1/24", "10.2.0.1/24"],
      dhcp: {
        hosts: [
          { ip: "10.1.0.7", name: "a" },
          { ip: "10.2.0.7", name: "b" },
        ],
      },
    };
    expect(reasonOf(twoV4, "dhcp")).toMatch(/uses addresses\[0\] and addresses\[1\]: libvirt serves DHCP on one IPv4 address per network/);
  });

  it("DNS hosts: each address once, at least one valid host name", () => {
    expect(reasonOf({ mode: "isolated", dnsHosts: [{ ip: "10.0.0.5", hostnames: [] }] }, "dnsHosts[0].hostnames")).toMatch(/at least one host name/);
    expect(reasonOf({ mode: "isolated", dnsHosts: [{ ip: "10.0.0.5", hostnames: ["bad_name"] }] }, "dnsHosts[0].hostnames[0]")).toMatch(/DNS name/);
    expect(
      reasonOf(
        {
          mode: "isolated",
          dnsHosts: [
            { ip: "10.0.0.5", hostnames: ["a"] },
            { ip: "10.0.0.5", hostnames: ["b"] },
          ],
        },
        "dnsHosts[1].ip",
      ),
    ).toMatch(/also dnsHosts\[0\]\.ip; list each address once/);
  });

  it("other schemas: bridge names, mtu, domain, unknown properties", () => {
    expect(reasonOf({ mode: "isolated", bridgeName: "a-very-long-bridge-name" }, "bridgeName")).toMatch(/1 to 15/);
    expect(reasonOf({ mode: "isolated", mtu: 10 }, "mtu")).toMatch(/at least 68/);
    expect(reasonOf({ mode: "isolated", domain: "-x" }, "domain")).toMatch(/DNS name/);
    expect(reasonOf({ mode: "isolated", mode2: 1 }, "mode2")).toMatch(/unknown property/);
    expect(reasonOf({ mode: "vepa" }, "mode")).toMatch(/must be one of "nat", "isolated", "bridge", "route", "open"/);
  });
});

describe("Network XML", () => {
  const full = {
    name: "lab",
    mode: "route",
    bridgeName: "virbr77",
    domain: "lab.example",
    mtu: 9000,
    addresses: ["10.1.0.1/24", "fd00:150::1/64"],
    dhcp: {
      ranges: [
        { start: "10.1.0.100", end: "10.1.0.200" },
        { start: "fd00:150::100", end: "fd00:150::1ff" },
      ],
      hosts: [
        { mac: "52:54:00:00:00:07", ip: "10.1.0.7", name: "web" },
        { ip: "fd00:150::7", name: "web6" },
      ],
    },
    dnsHosts: [{ ip: "10.1.0.7", hostnames: ["web", "www"] }],
  };

  it("builds each input into its element, each range and host under the <ip> of its subnet", () => {
    const { inputs } = check(full);
    const xml = buildNetworkXml(inputs!, { uuid: "a5f01b1a-250e-4d99-84e5-f475b293ce06" });
    expect(xml).toContain('<forward mode="route"/>');
    expect(xml).toContain('<bridge name="virbr77"/>');
    expect(xml).toContain('<mtu size="9000"/>');
    expect(xml).toContain('<domain name="lab.example"/>');
    expect(xml).toMatch(
      /<ip address="10\.1\.0\.1" prefix="24">\s*<dhcp>\s*<range start="10\.1\.0\.100" end="10\.1\.0\.200"\/>\s*<host mac="52:54:00:00:00:07" name="web" ip="10\.1\.0\.7"\/>/,
    );
    expect(xml).toMatch(
      /<ip family="ipv6" address="fd00:150::1" prefix="64">\s*<dhcp>\s*<range start="fd00:150::100" end="fd00:150::1ff"\/>\s*<host name="web6" ip="fd00:150::7"\/>/,
    );
    expect(xml).toMatch(/<dns>\s*<host ip="10\.1\.0\.7">\s*<hostname>web<\/hostname>\s*<hostname>www<\/hostname>/);
  });

  it("round trip: parsing the built XML gives the inputs back", () => {
    for (const given of [full, { name: "iso", mode: "isolated" }, { name: "br", mode: "bridge", bridgeName: "br0" }]) {
      const { inputs } = check(given);
      const o = parseNetworkXml(buildNetworkXml(inputs!));
      expect(o).toMatchObject({
        name: inputs!.name,
        mode: inputs!.mode,
        bridgeName: inputs!.bridgeName,
        domain: inputs!.domain,
        mtu: inputs!.mtu,
        addresses: inputs!.addresses,
        dnsHosts: inputs!.dnsHosts,
      });
      expect(o.dhcp).toEqual(inputs!.dhcp);
    }
  });

  it("no <forward> is isolated; an isolated network writes none", () => {
    const { inputs } = check({ name: "iso", mode: "isolated" });
    expect(buildNetworkXml(inputs!)).not.toContain("<forward");
    expect(parseNetworkXml("<network><name>x</name></network>").mode).toBe("isolated");
  });

  it("reads libvirt's spellings: netmask instead of prefix, upper-case MACs, uncompressed IPv6", () => {
    const o = parseNetworkXml(
      `<network><name>n</name><ip address='192.168.122.1' netmask='255.255.255.0'><dhcp><host mac='52:54:00:AA:BB:CC' ip='192.168.122.5'/></dhcp></ip>` +
        `<ip family='ipv6' address='fd00:0:0:0::1' prefix='64'/></network>`,
    );
    expect(o.addresses).toEqual(["192.168.122.1/24", "fd00::1/64"]);
    expect(o.dhcp).toEqual({ ranges: [], hosts: [{ mac: "52:54:00:aa:bb:cc", ip: "192.168.122.5" }] });
  });

  it("a name with XML characters stays text", () => {
    const { inputs } = check({ name: "lab", mode: "isolated", domain: "a.example" });
    expect(buildNetworkXml({ ...inputs!, name: "x</name><forward/>" })).toContain("x&lt;/name&gt;&lt;forward/&gt;");
  });

  it("interfacesOnNetwork: only <interface type='network'> whose source is the network", () => {
    const dom = `<domain><devices>
      <interface type='network'><mac address='52:54:00:00:00:01'/><source network='lab'/></interface>
      <interface type='network'><mac address='52:54:00:00:00:02'/><source network='other'/></interface>
      <interface type='bridge'><mac address='52:54:00:00:00:03'/><source bridge='lab'/></interface>
      <interface type='network'><source network='lab'/></interface>
    </devices></domain>`;
    expect(interfacesOnNetwork(dom, "lab")).toEqual(["52:54:00:00:00:01", "(no MAC)"]);
    expect(interfacesOnNetwork("<domain><devices/></domain>", "lab")).toEqual([]);
  });
});
