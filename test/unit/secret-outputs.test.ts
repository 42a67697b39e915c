// Which outputs a secret input flows into (sdk/secret-outputs.ts), for every
// input of every resource; checked against what the providers really write on
// test:///default (a distinctive value per input, searched for in every output),
// and the SDK's registration under Pulumi's mocks: a secret input adds exactly
// its derived outputs to additionalSecretOutputs, a plain one adds none.
import { createRequire } from "node:module";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { provider, sdkPath } from "../helpers/lib";
import { uniqueName } from "../helpers/host";

const requireFromSdk = createRequire(sdkPath);
const sdk = requireFromSdk("libvirt-pulumi") as typeof import("../../sdk");
const flows = requireFromSdk("./secret-outputs") as typeof import("../../sdk/secret-outputs");
const schemas = {
  Domain: (requireFromSdk("../provider/domain/inputs") as typeof import("../../provider/domain/inputs")).domainInputSchema,
  Snapshot: (requireFromSdk("../provider/snapshot/inputs") as typeof import("../../provider/snapshot/inputs")).snapshotInputSchema,
  Pool: (requireFromSdk("../provider/pool/inputs") as typeof import("../../provider/pool/inputs")).poolInputSchema,
  Volume: (requireFromSdk("../provider/volume/inputs") as typeof import("../../provider/volume/inputs")).volumeInputSchema,
};
const domainTypedKeys = (requireFromSdk("../provider/domain/inputs") as typeof import("../../provider/domain/inputs")).TYPED_KEYS;
const snapshotTypedKeys = (requireFromSdk("../provider/snapshot/inputs") as typeof import("../../provider/snapshot/inputs")).TYPED_KEYS;

const TABLES = {
  Domain: flows.DOMAIN_SECRET_FLOWS,
  Snapshot: flows.SNAPSHOT_SECRET_FLOWS,
  Pool: flows.POOL_SECRET_FLOWS,
  Volume: flows.VOLUME_SECRET_FLOWS,
} as const;
type Kind = keyof typeof TABLES;
const KINDS = Object.keys(TABLES) as Kind[];

const { domainProvider: dp, snapshotProvider: sp, poolProvider: pp, volumeProvider: vp } = provider;
const U = "test:///default";
type Outs = Record<string, unknown>;

/** The output keys whose value holds `marker`. */
const holding = (outs: Outs, marker: string) =>
  Object.keys(outs)
    .filter((k) => JSON.stringify(outs[k]).includes(marker))
    .sort();

afterAll(() => provider.closeAllConnections());

describe.each(KINDS)("%s: the derivation table", (kind) => {
  const table = TABLES[kind];
  const inputs = Object.keys(schemas[kind].shape).sort();

  it("has an entry for every input of the provider's schema, and no other", () => {
    expect(Object.keys(table).sort()).toEqual(inputs);
  });

  it("lists each input's own output (where the engine already keeps its secretness) unless it is saved under another name", () => {
    for (const input of inputs) {
      const own = kind === "Domain" || kind === "Snapshot" ? (input === "xml" ? "inputXml" : input) : input;
      expect(table[input], input).toContain(own);
    }
  });
});

describe("typed inputs are written into libvirt's XML", () => {
  it.each([...domainTypedKeys, "name"])("Domain %s → xml", (input) => expect(flows.DOMAIN_SECRET_FLOWS[input]).toContain("xml"));
  it.each([...snapshotTypedKeys, "name", "domain"])("Snapshot %s → xml", (input) => expect(flows.SNAPSHOT_SECRET_FLOWS[input]).toContain("xml"));
});

// Every input that can carry a distinctive value gets one; the outputs that then hold
// it must be exactly those the table lists (a missing entry is a leak, an extra one is
// secrecy the user did not ask for).
describe("the table is what the providers write (test:///default)", () => {
  const observed = new Map<string, string[]>();
  const observe = (kind: Kind, input: string, outs: Outs, marker: string) => observed.set(`${kind}.${input}`, holding(outs, marker));
  const m = (label: string) => `mk${label}${Math.random().toString(36).slice(2, 8)}`;
  let domainId = "";
  let volumeId = "";
  let poolDir = "";
  let snapshotId = "";
  let snapshotName = "";
  let domainMarkers: { description: string; cmdline: string } = { description: "", cmdline: "" };

  beforeAll(async () => {
    const mk = {
      name: uniqueName(m("dn")),
      description: m("ddesc"),
      kernel: `/${m("dkern")}/vmlinuz`,
      initrd: `/${m("dinit")}/initrd`,
      cmdline: m("dcmd"),
      disk: `/${m("ddisk")}/a.qcow2`,
      bridge: m("br").slice(0, 12),
      mac: "52:54:00:9e:7a:31",
      user: m("duser"),
      password: m("dpw"),
    };
    domainMarkers = mk;
    const { inputs, failures } = await dp.check!(
      {},
      {
        name: mk.name,
        uri: U,
        auth: { username: mk.user, password: mk.password },
        memoryMiB: 64,
        description: mk.description,
        kernel: mk.kernel,
        initrd: mk.initrd,
        cmdline: mk.cmdline,
        disks: [{ file: mk.disk }],
        networkInterfaces: [{ bridge: mk.bridge, mac: mk.mac }],
        running: false,
      },
    );
    expect(failures).toEqual([]);
    const { id, outs } = await dp.create!(inputs);
    domainId = id;
    for (const [input, marker] of [
      ["name", mk.name],
      ["description", mk.description],
      ["kernel", mk.kernel],
      ["initrd", mk.initrd],
      ["cmdline", mk.cmdline],
      ["disks", mk.disk],
      ["networkInterfaces", mk.bridge],
      ["auth", mk.password],
      ["uri", U],
    ] as const) {
      observe("Domain", input, outs, marker);
    }
    expect(holding(outs, mk.mac)).toEqual(observed.get("Domain.networkInterfaces"));

    const raw = { name: uniqueName(m("rn")), desc: m("rdesc"), vnc: m("rvnc") };
    const rawCheck = await dp.check!(
      {},
      {
        name: raw.name,
        uri: U,
        running: false,
        xml: `<domain type='test'><name>${raw.name}</name><memory unit='MiB'>64</memory><os><type>hvm</type></os><description>${raw.desc}</description><devices><graphics type='vnc' passwd='${raw.vnc}'/></devices></domain>`,
      },
    );
    expect(rawCheck.failures).toEqual([]);
    const rawDom = await dp.create!(rawCheck.inputs);
    observe("Domain", "xml", rawDom.outs, raw.desc);
    // libvirt's XML leaves the VNC password out (no VIR_DOMAIN_XML_SECURE): only inputXml holds it.
    expect(holding(rawDom.outs, raw.vnc)).toEqual(["inputXml"]);
    await dp.delete!(rawDom.id, rawDom.outs);

    const snap = { name: m("sn"), desc: m("sdesc") };
    snapshotName = snap.name;
    const s = await sp.check!({}, { name: snap.name, domain: domainId, uri: U, description: snap.desc });
    expect(s.failures).toEqual([]);
    const sc = await sp.create!(s.inputs);
    observe("Snapshot", "name", sc.outs, snap.name);
    observe("Snapshot", "description", sc.outs, snap.desc);
    observe("Snapshot", "domain", sc.outs, domainId);
    snapshotId = sc.id;
    // The snapshot XML embeds the domain's definition.
    observed.set("Domain.xml→Snapshot", [...holding(sc.outs, domainMarkers.description), ...holding(sc.outs, domainMarkers.cmdline)].sort());
    const sxml = m("sxml");
    const s2 = await sp.check!(
      {},
      { name: m("sn2"), domain: domainId, uri: U, xml: `<domainsnapshot><description>${sxml}</description></domainsnapshot>` },
    );
    expect(s2.failures).toEqual([]);
    const sc2 = await sp.create!(s2.inputs);
    observe("Snapshot", "xml", sc2.outs, sxml);
    await sp.delete!(sc2.id, sc2.outs);
    await sp.delete!(sc.id, sc.outs);
    await dp.delete!(domainId, outs);

    const pool = { name: uniqueName(m("pn")), dir: `/tmp/${m("pdir")}` };
    const pc = await pp.check!({}, { name: pool.name, path: pool.dir, uri: U });
    expect(pc.failures).toEqual([]);
    const pcr = await pp.create!(pc.inputs);
    observe("Pool", "name", pcr.outs, pool.name);
    observe("Pool", "path", pcr.outs, pool.dir);
    const vol = { name: `${m("vn")}.qcow2` };
    const vc = await vp.check!({}, { name: vol.name, pool: pool.name, uri: U, capacity: "1MiB", deleteSnapshotDataOnDestroy: true });
    expect(vc.failures).toEqual([]);
    const vcr = await vp.create!(vc.inputs);
    observe("Volume", "name", vcr.outs, vol.name.replace(/\.qcow2$/, ""));
    observe("Volume", "pool", vcr.outs, pool.name);
    // The IDs: a volume's is its path, inside its pool's directory; a snapshot's holds its name.
    volumeId = vcr.id;
    poolDir = pool.dir;
    await vp.delete!(vcr.id, vcr.outs);
    await pp.delete!(pcr.id, pcr.outs);
  });

  it.each([
    ["Domain", "name"],
    ["Domain", "description"],
    ["Domain", "kernel"],
    ["Domain", "initrd"],
    ["Domain", "cmdline"],
    ["Domain", "disks"],
    ["Domain", "networkInterfaces"],
    ["Domain", "auth"],
    ["Domain", "uri"],
    ["Domain", "xml"],
    ["Snapshot", "name"],
    ["Snapshot", "description"],
    ["Snapshot", "domain"],
    ["Snapshot", "xml"],
    ["Pool", "name"],
    ["Pool", "path"],
    ["Volume", "name"],
    ["Volume", "pool"],
  ] as const)("%s %s: the outputs that hold its value are the table's", (kind, input) => {
    const seen = observed.get(`${kind}.${input}`)!;
    expect(seen.length, "the marker reached some output").toBeGreaterThan(0);
    // A Domain's xml input also sets the type output, which the marker cannot show.
    expect(seen).toEqual([...TABLES[kind][input]].filter((o) => !(kind === "Domain" && input === "xml" && o === "type")).sort());
  });

  it("across resources: a Domain's xml → its Snapshot's xml", () => {
    expect(observed.get("Domain.xml→Snapshot")).toEqual(["xml", "xml"]);
    expect(flows.CROSS_RESOURCE_FLOWS.snapshotOfDomain.xml).toEqual(["xml"]);
  });

  it("the IDs, which Pulumi never encrypts, hold exactly the inputs ID_INPUTS refuses as secrets", () => {
    expect(snapshotId).toBe(`${domainId}/${snapshotName}`);
    expect(flows.ID_INPUTS.Snapshot).toEqual(["name"]);
    expect(volumeId.startsWith(`${poolDir}/`)).toBe(true);
    expect(volumeId.endsWith(".qcow2")).toBe(true);
    expect(flows.ID_INPUTS.Volume).toEqual(["name"]);
    expect(flows.ID_INPUTS.volumeInPool).toEqual(["path"]);
  });
});

// The SDK's registrations, as Pulumi's monitor receives them.
describe("the SDK registers the derived outputs as additionalSecretOutputs", () => {
  const sent = new Map<string, string[]>();
  const registered = new Map<string, Record<string, unknown>>();

  beforeAll(() => {
    pulumi.runtime.setMocks(
      {
        newResource: (args) => {
          registered.set(args.name, args.inputs);
          const uuid = "6695eb01-f6a4-8304-79aa-97f2502e193f";
          return { id: `${args.name}-id`, state: { ...args.inputs, uuid, path: "/var/lib/libvirt/images/p/v" } };
        },
        call: () => ({}),
      },
      "project",
      "stack",
      false,
    );
    const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource(req: any, cb: unknown): unknown };
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, cb) => {
      sent.set(req.getName(), [...req.getAdditionalsecretoutputsList()].sort());
      return register(req, cb);
    };
  });

  const settled = (r: pulumi.CustomResource) => new Promise((resolve) => r.urn.apply(resolve));
  const XML =
    "<domain type='kvm'><name>raw</name><memory unit='MiB'>64</memory><os><type>hvm</type></os><devices><graphics type='vnc' passwd='pw'/></devices></domain>";

  it.each([
    ["plain inputs: only auth", () => new sdk.Domain("d-plain", { memoryMiB: 64, description: "d", cmdline: "c", kernel: "/k" }), ["auth"]],
    ["secret xml", () => new sdk.Domain("d-xml", { xml: pulumi.secret(XML) }), ["auth", "inputXml", "type", "xml"]],
    ["secret description", () => new sdk.Domain("d-desc", { memoryMiB: 64, description: pulumi.secret("d") }), ["auth", "description", "xml"]],
    [
      "a secret nested in disks",
      () => new sdk.Domain("d-disk", { memoryMiB: 64, disks: [{ file: pulumi.secret("/s.qcow2") }] }),
      ["auth", "disks", "xml"],
    ],
    [
      "the user's own additionalSecretOutputs are kept",
      () => new sdk.Domain("d-own", { memoryMiB: 64, cmdline: pulumi.secret("c"), kernel: "/k" }, { additionalSecretOutputs: ["state"] }),
      ["auth", "cmdline", "state", "xml"],
    ],
    ["Pool: secret path", () => new sdk.Pool("p-path", { path: pulumi.secret("/var/lib/libvirt/images/p") }), ["auth", "path"]],
    [
      "Volume: secret backing image",
      () => new sdk.Volume("v-backing", { pool: "default", backingVolume: pulumi.secret("/b.qcow2") }),
      ["auth", "backingPath", "backingVolume"],
    ],
    [
      "Volume: a source URL with credentials is made a secret",
      () => new sdk.Volume("v-url-creds", { pool: "default", source: "https://alice:pw@127.0.0.1/x.qcow2" }),
      ["auth", "source"],
    ],
    [
      "Volume: a source URL without credentials stays plain",
      () => new sdk.Volume("v-url", { pool: "default", source: "https://127.0.0.1/x.qcow2" }),
      ["auth"],
    ],
    [
      "Snapshot: secret description",
      () => new sdk.Snapshot("s-desc", { domain: "vm", description: pulumi.secret("s") }),
      ["auth", "description", "xml"],
    ],
    ["Snapshot: secret xml", () => new sdk.Snapshot("s-xml", { domain: "vm", xml: pulumi.secret("<domainsnapshot/>") }), ["auth", "inputXml", "xml"]],
  ] as const)("%s", async (_label, make, expected) => {
    const urn = String(await settled(make()));
    expect(sent.get(urn.split("::").at(-1)!)).toEqual(expected);
  });

  it("across resources: a Snapshot of a Domain with a secret description has a secret xml", async () => {
    const vm = new sdk.Domain("x-vm", { memoryMiB: 64, description: pulumi.secret("d") });
    const snap = new sdk.Snapshot("x-snap", { domain: vm });
    const plainVm = new sdk.Domain("x-vm-plain", { memoryMiB: 64 });
    const plainSnap = new sdk.Snapshot("x-snap-plain", { domain: plainVm });
    await Promise.all([vm, snap, plainVm, plainSnap].map(settled));
    expect(sent.get("x-snap")).toEqual(["auth", "xml"]);
    expect(sent.get("x-snap-plain")).toEqual(["auth"]);
  });

  it.each([
    [
      "Volume: secret name",
      () => new sdk.Volume("r-vol", { pool: "default", name: pulumi.secret("v.qcow2"), capacity: "1MiB" }),
      /^Volume "r-vol": name is a secret, but it is part of the resource's ID, which Pulumi stores in clear \(IDs are never encrypted\); give the name as a plain string/,
    ],
    [
      "Volume in a Pool with a secret path",
      () => new sdk.Volume("r-vol-in", { pool: new sdk.Pool("r-pool", { path: pulumi.secret("/var/lib/libvirt/images/r") }), capacity: "1MiB" }),
      /^Volume "r-vol-in": its Pool's path is a secret, but it is part of the resource's ID.*give the Pool's path as a plain string/,
    ],
    [
      "Snapshot: secret name",
      () => new sdk.Snapshot("r-snap", { domain: "vm", name: pulumi.secret("s") }),
      /^Snapshot "r-snap": name is a secret, but it is part of the resource's ID.*give the name as a plain string/,
    ],
  ] as const)("a secret in the ID is refused before registering: %s", async (_label, make, message) => {
    // The refusal fails the registration: Pulumi reports it as the program's error (here, an unhandled rejection).
    const refused: unknown[] = [];
    const onRejection = (reason: unknown) => refused.push(reason);
    process.on("unhandledRejection", onRejection);
    try {
      const r = make();
      await expect(flows.secretOutputsOf(r)).rejects.toThrow(message);
      await new Promise((resolve) => setTimeout(resolve, 100));
      // Nothing reached the engine.
      expect([...sent.keys()].filter((k) => k.startsWith("r-vol") || k === "r-snap")).toEqual([]);
      expect(refused.map(String).join("\n")).toMatch(new RegExp(message.source.replace(/^\^/, "")));
    } finally {
      process.off("unhandledRejection", onRejection);
    }
  });

  it("the gate property sends nothing: the registered inputs are what they were", async () => {
    const vm = new sdk.Domain("g-vm", { memoryMiB: 64 });
    await settled(vm);
    expect(Object.keys(registered.get("g-vm")!).sort()).toEqual(["__provider", "memoryMiB", "name"]);
  });
});
