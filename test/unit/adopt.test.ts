// adopt: true on libvirt's in-process test driver (test:///default): objects made
// by hand through the binding (as virsh would make them, outside any stack) are
// taken over when they match the inputs, refused with every difference listed
// (and left as they were) when they do not, and refused as before without adopt.
// What libvirt has is checked through the binding's own lookups, not the outputs.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { built, provider } from "../helpers/lib";
import { providerCalls } from "../helpers/provider-calls";

const URI = "test:///default";
const { domainProvider: dp, snapshotProvider: sp, poolProvider: pp, volumeProvider: vp, networkProvider: np } = provider;
const { withConnection, closeAllConnections, AdoptMismatchError, TeardownRefusedError, SnapshotOptionError } = provider;
const { buildPoolXml } = built<typeof import("../../provider/pool/xml")>("provider/pool/xml");
const { buildVolumeXml } = built<typeof import("../../provider/volume/xml")>("provider/volume/xml");

let counter = 0;
const work = mkdtempSync(join(tmpdir(), "lvp-test-adopt-"));
const name = (label: string) => `lvp-test-adopt-${process.pid}-${label}-${++counter}`;

const { checked, create, createFails } = providerCalls(URI);

const domainXml = (n: string, memoryMiB = 64) =>
  `<domain type='test'><name>${n}</name><memory unit='MiB'>${memoryMiB}</memory><vcpu>1</vcpu><os><type>hvm</type></os>` +
  `<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/test-driver/${n}.qcow2'/><target dev='vda' bus='virtio'/></disk></devices></domain>`;

/** A domain as libvirt has it: its persistent XML, state and snapshots. */
async function domainView(n: string) {
  return withConnection({ uri: URI }, async (conn) => {
    const dom = await conn.lookupDomain(n);
    if (!dom) return null;
    try {
      return { uuid: dom.uuid(), xml: await dom.xml({ inactive: true }), active: await dom.isActive(), snapshots: await dom.snapshotNames() };
    } finally {
      dom.free();
    }
  });
}

/** Defines a domain (never started) with `snapshots` taken, as virsh define and snapshot-create-as would. */
async function handDomain(label: string, snapshots: Array<{ name: string; description?: string }> = []): Promise<string> {
  const n = name(label);
  await withConnection({ uri: URI }, async (conn) => {
    const dom = await conn.defineDomain(domainXml(n), 0, `"${n}"`);
    try {
      for (const s of snapshots) {
        const description = s.description === undefined ? "" : `<description>${s.description}</description>`;
        (await dom.createSnapshot(`<domainsnapshot><name>${s.name}</name>${description}</domainsnapshot>`, 0, `"${s.name}"`)).free();
      }
    } finally {
      dom.free();
    }
  });
  return n;
}

const disksOf = (n: string) => [{ file: `/test-driver/${n}.qcow2` }];

afterAll(async () => {
  rmSync(work, { recursive: true, force: true });
  await withConnection({ uri: URI }, async (conn) => {
    for (const dom of await conn.listDomains()) {
      if (dom.name().startsWith("lvp-test-adopt-")) {
        if (await dom.isActive()) await dom.destroy();
        await dom.undefine(1 /* VIR_DOMAIN_UNDEFINE_MANAGED_SAVE */ | 2 /* SNAPSHOTS_METADATA */).catch(() => dom.undefine(0));
      }
      dom.free();
    }
  }).catch(() => undefined);
  await closeAllConnections();
});

describe("Domain adopt", () => {
  it("without adopt, an existing name is refused as before, naming adopt, and nothing changes", async () => {
    const n = await handDomain("refuse");
    const before = await domainView(n);
    const err = await createFails(dp, { name: n, memoryMiB: 64, disks: disksOf(n), running: false });
    expect(err.message).toMatch(new RegExp(`a domain "${n}" \\(uuid ${before!.uuid}\\) already exists`));
    expect(err.message).toMatch(/set `adopt: true`/);
    expect(err.message).toMatch(/Pulumi cannot import dynamic resources/);
    expect(await domainView(n)).toEqual(before);
  });

  it("a mismatch is refused listing each differing property (input vs libvirt), and the domain stays as it was", async () => {
    const n = await handDomain("mismatch", [{ name: "s1" }]);
    const before = await domainView(n);
    const err = await createFails(dp, { name: n, memoryMiB: 128, vcpus: 2, description: "web", disks: disksOf(n), adopt: true });
    expect(err).toBeInstanceOf(AdoptMismatchError);
    expect(err.message).toMatch(new RegExp(`cannot adopt domain "${n}" \\(uuid ${before!.uuid}\\) on test:///default`));
    expect(err.message).toMatch(/differs from the inputs in 3 properties/);
    expect(err.message).toMatch(/memoryMiB: 128 in the inputs, 64 in libvirt/);
    expect(err.message).toMatch(/vcpus: 2 in the inputs, 1 in libvirt/);
    expect(err.message).toMatch(/description: "web" in the inputs, none in libvirt/);
    expect(err.message).toMatch(/Nothing was changed/);
    expect((err as InstanceType<typeof AdoptMismatchError>).differences.map((d) => d.property)).toEqual(["memoryMiB", "vcpus", "description"]);
    // Not started (running defaults to true), not redefined.
    expect(await domainView(n)).toEqual(before);
  });

  it("disks left unset while libvirt has some are a difference: an update would drop them unseen", async () => {
    const n = await handDomain("nodisks");
    const before = await domainView(n);
    const err = await createFails(dp, { name: n, memoryMiB: 64, running: false, adopt: true });
    expect(err.message).toMatch(
      /in 1 property: disks: \[\] in the inputs, \[\{"target":"vda","device":"disk","file":"\/test-driver\/[^"]*\.qcow2","format":"qcow2"\}\] in libvirt \(left unset/,
    );
    expect(await domainView(n)).toEqual(before);
  });

  it("a matching domain is adopted: same UUID, adopted: true, its snapshots seen; then updated, refused on destroy, cascaded", async () => {
    const n = await handDomain("match", [{ name: "s1" }, { name: "s2" }]);
    const before = await domainView(n);
    const made = await create(dp, { name: n, memoryMiB: 64, disks: disksOf(n), running: false, adopt: true });
    expect(made.id).toBe(before!.uuid);
    expect(made.outs).toMatchObject({ adopted: true, uuid: before!.uuid, memoryMiB: 64, running: false, snapshots: ["s1", "s2"] });
    expect(await domainView(n)).toEqual(before);

    // Managed like any other: a refresh keeps adopted, an update is applied.
    const read = await dp.read!(made.id, made.outs);
    expect(read.props).toMatchObject({ adopted: true, snapshots: ["s1", "s2"] });
    const news = await checked(dp, { ...made.inputs, memoryMiB: 96 });
    const updated = await dp.update!(made.id, made.outs, news);
    expect(updated.outs).toMatchObject({ adopted: true, memoryMiB: 96 });
    expect((await domainView(n))!.xml).toMatch(/<memory unit='KiB'>98304<\/memory>/);

    // Teardown rules included: refused while it has snapshots, naming them; nothing changed.
    const err = await dp.delete!(made.id, updated.outs).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(TeardownRefusedError);
    expect(err!.message).toMatch(/s1/);
    expect(err!.message).toMatch(/s2/);
    expect((await domainView(n))!.snapshots).toEqual(["s1", "s2"]);
    await dp.delete!(made.id, { ...updated.outs, deleteSnapshotsOnDestroy: true });
    expect(await domainView(n)).toBeNull();
  });

  it("a raw xml whose <uuid> is another domain's: refused listing the name and what differs, nothing changed", async () => {
    const n = await handDomain("byuuid");
    const before = await domainView(n);
    const other = name("other");
    const xml = `<domain type='test'><name>${other}</name><uuid>${before!.uuid}</uuid><memory unit='MiB'>32</memory><os><type>hvm</type></os></domain>`;
    const err = await createFails(dp, { name: other, xml, running: false, adopt: true });
    expect(err).toBeInstanceOf(AdoptMismatchError);
    expect(err.message).toMatch(
      new RegExp(`cannot adopt domain "${n}".*name: "${other}" in the inputs, "${n}" in libvirt; xml: memoryMiB: 32 in the inputs, 64 in libvirt`),
    );
    expect(await domainView(n)).toEqual(before);
    expect(await domainView(other)).toBeNull();
  });

  it("a raw xml that matches is adopted: what it sets is compared, the rest of libvirt's definition stays", async () => {
    const n = await handDomain("xmlmatch");
    const before = await domainView(n);
    const xml = `<domain type='test'><name>${n}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>`;
    const made = await create(dp, { name: n, xml, running: false, adopt: true, deleteSnapshotsOnDestroy: true });
    expect(made.outs).toMatchObject({ adopted: true, uuid: before!.uuid, inputXml: xml });
    expect(await domainView(n)).toEqual(before);
    await dp.delete!(made.id, made.outs);
  });

  it("restoreSnapshotsFrom is refused with adopt (only a created domain restores), and a transient/persistent mismatch counts", async () => {
    const n = await handDomain("restore");
    const before = await domainView(n);
    const base = { name: n, memoryMiB: 64, disks: disksOf(n), running: false, adopt: true };
    const restore = await createFails(dp, { ...base, restoreSnapshotsFrom: "/nowhere/archive.json" });
    expect(restore.message).toMatch(
      /in 1 property: restoreSnapshotsFrom: "\/nowhere\/archive.json" in the inputs, none in libvirt \(only a created domain restores snapshots/,
    );
    const transient = await createFails(dp, { ...base, persistent: false, running: true });
    expect(transient.message).toMatch(/in 1 property: persistent: false in the inputs, true in libvirt/);
    expect(await domainView(n)).toEqual(before);
  });

  it("a match is brought to the inputs' running and autostart (as an update would), and q35 matches libvirt's pc-q35-* machine", async () => {
    const n = name("machine");
    await withConnection({ uri: URI }, async (conn) =>
      (await conn.defineDomain(domainXml(n).replace("<type>hvm</type>", "<type machine='pc-q35-8.2'>hvm</type>"), 0, `"${n}"`)).free(),
    );
    const made = await create(dp, { name: n, memoryMiB: 64, machine: "q35", disks: disksOf(n), autostart: true, adopt: true });
    expect(made.outs).toMatchObject({ adopted: true, running: true, autostart: true, state: "running" });
    expect((await domainView(n))!.active).toBe(true);
    const wrong = await createFails(dp, { name: n, memoryMiB: 64, machine: "pc", disks: disksOf(n), adopt: true });
    expect(wrong.message).toMatch(/in 1 property: machine: "pc" in the inputs, "pc-q35-8.2" in libvirt/);
    await dp.delete!(made.id, { ...made.outs, shutdownTimeoutSeconds: 0 });
    expect(await domainView(n)).toBeNull();
  });

  it("interfaces left unset while libvirt has some count; a MAC counts only where the input gives one", async () => {
    const n = name("nics");
    const nic = "<interface type='network'><mac address='52:54:00:aa:bb:01'/><source network='default'/><model type='virtio'/></interface>";
    await withConnection({ uri: URI }, async (conn) =>
      (await conn.defineDomain(domainXml(n).replace("</devices>", `${nic}</devices>`), 0, `"${n}"`)).free(),
    );
    const base = { name: n, memoryMiB: 64, disks: disksOf(n), running: false, adopt: true };
    const unset = await createFails(dp, base);
    expect(unset.message).toMatch(/networkInterfaces: \[\] in the inputs, \[\{"network":"default","model":"virtio"\}\] in libvirt \(left unset/);
    const otherMac = await createFails(dp, { ...base, networkInterfaces: [{ network: "default", mac: "52:54:00:aa:bb:02" }] });
    expect(otherMac.message).toMatch(
      /networkInterfaces: \[\{"network":"default","model":"virtio","mac":"52:54:00:aa:bb:02"\}\] in the inputs, \[\{"network":"default","model":"virtio","mac":"52:54:00:aa:bb:01"\}\] in libvirt/,
    );
    const made = await create(dp, { ...base, networkInterfaces: [{ network: "default" }] });
    expect(made.outs.adopted).toBe(true);
    expect(made.outs.interfaces[0].mac).toBe("52:54:00:aa:bb:01");
    await dp.delete!(made.id, made.outs);
  });

  it("every typed input round-trips: a domain the provider defined is adopted by the same inputs, and each changed one is listed", async () => {
    const n = name("roundtrip");
    const inputs = {
      name: n,
      memoryMiB: 64,
      vcpus: 2,
      description: "  web  ",
      bootDevices: ["cdrom", "hd"],
      kernel: "/boot/vmlinuz",
      initrd: "/boot/initrd.img",
      cmdline: "console=ttyS0",
      graphics: "vnc",
      serialConsole: true,
      qemuGuestAgent: true,
      disks: [{ file: `/test-driver/${n}.qcow2` }, { file: "/test-driver/seed.iso", device: "cdrom" }],
      networkInterfaces: [{ network: "default", model: "e1000" }],
      running: false,
    };
    const first = await create(dp, inputs);
    expect(first.outs.adopted).toBe(false);
    const before = await domainView(n);
    const again = await create(dp, { ...inputs, adopt: true });
    expect(again.outs).toMatchObject({ adopted: true, uuid: first.id });
    const changed = {
      vcpus: 3,
      description: "web",
      bootDevices: ["hd"],
      kernel: "/boot/other",
      cmdline: "quiet",
      graphics: "spice",
      serialConsole: false,
      qemuGuestAgent: false,
      disks: [{ file: `/test-driver/${n}.qcow2` }],
      networkInterfaces: [{ network: "default" }],
    };
    const err = await createFails(dp, { ...inputs, ...changed, adopt: true });
    expect((err as InstanceType<typeof AdoptMismatchError>).differences.map((d) => d.property).sort()).toEqual(Object.keys(changed).sort());
    expect(await domainView(n)).toEqual(before);
    await dp.delete!(first.id, first.outs);
  });

  it("with nothing of that name there, adopt: true simply creates it (adopted: false)", async () => {
    const n = name("absent");
    const made = await create(dp, { name: n, memoryMiB: 64, running: false, adopt: true });
    expect(made.outs.adopted).toBe(false);
    expect((await domainView(n))!.uuid).toBe(made.id);
    await dp.delete!(made.id, made.outs);
    expect(await domainView(n)).toBeNull();
  });
});

describe("Snapshot adopt", () => {
  it("refused without adopt; a different description is refused listing it; a match is adopted", async () => {
    const n = await handDomain("snap", [{ name: "before", description: "pre-upgrade" }]);
    const refused = await createFails(sp, { domain: n, name: "before" });
    expect(refused).toBeInstanceOf(SnapshotOptionError);
    expect(refused.message).toMatch(/already has a snapshot named "before".*set `adopt: true`/);

    const mismatch = await createFails(sp, { domain: n, name: "before", description: "other", memory: "internal", adopt: true });
    expect(mismatch).toBeInstanceOf(AdoptMismatchError);
    expect(mismatch.message).toMatch(/cannot adopt snapshot "before" of domain/);
    expect(mismatch.message).toMatch(/description: "other" in the inputs, "pre-upgrade" in libvirt/);
    expect(mismatch.message).toMatch(/memory: "internal" in the inputs, "none" in libvirt/);

    const made = await create(sp, { domain: n, name: "before", description: "pre-upgrade", memory: "none", adopt: true });
    expect(made.outs).toMatchObject({ adopted: true, name: "before", description: "pre-upgrade" });
    expect((await domainView(n))!.snapshots).toEqual(["before"]);
    const read = await sp.read!(made.id, made.outs);
    expect(read.props.adopted).toBe(true);
  });
});

describe("Snapshot adopt: the kind", () => {
  it("diskOnly and a disk's mode are compared where set", async () => {
    const n = await handDomain("snapkind", [{ name: "plain" }]);
    const err = await createFails(sp, {
      domain: n,
      name: "plain",
      diskOnly: true,
      disks: [{ target: "vda", snapshot: "external", file: "/test-driver/x.qcow2" }],
      adopt: true,
    });
    expect(err).toBeInstanceOf(AdoptMismatchError);
    expect(err.message).toMatch(/diskOnly: true in the inputs, false in libvirt/);
    expect(err.message).toMatch(/disks\[0\]\.snapshot: "vda: external" in the inputs, "vda: [a-z]+" in libvirt/);
    expect((await domainView(n))!.snapshots).toEqual(["plain"]);
  });
});

describe("Pool and Volume adopt", () => {
  it("a pool: refused without adopt, a different path refused listing it, a match adopted with its files kept as pre-existing", async () => {
    const n = name("pool");
    const path = `/${n}`;
    const uuid = await withConnection({ uri: URI }, async (conn) => {
      const pool = await conn.definePool(buildPoolXml({ name: n, path }), `"${n}"`);
      try {
        await pool.start();
        (await pool.createVolume(buildVolumeXml({ name: "disk.qcow2", capacity: 1024 * 1024, format: "qcow2" }), 0, '"disk.qcow2"')).free();
        return pool.uuid();
      } finally {
        pool.free();
      }
    });
    const refused = await createFails(pp, { name: n, path });
    expect(refused.message).toMatch(/already exists.*set `adopt: true`/);
    const mismatch = await createFails(pp, { name: n, path: "/elsewhere", adopt: true });
    expect(mismatch).toBeInstanceOf(AdoptMismatchError);
    expect(mismatch.message).toMatch(new RegExp(`path: "/elsewhere" in the inputs, "${path}" in libvirt`));

    const pool = await create(pp, { name: n, path, adopt: true });
    expect(pool.id).toBe(uuid);
    expect(pool.outs).toMatchObject({ adopted: true, createdDirectory: false, preexistingFiles: ["disk.qcow2"], volumes: ["disk.qcow2"] });

    // A volume in it: a different capacity is refused listing it, a match adopted.
    const volRefused = await createFails(vp, { pool: n, name: "disk.qcow2", capacity: 1024 * 1024 });
    expect(volRefused.message).toMatch(/already exists in storage pool.*set `adopt: true`/);
    const volMismatch = await createFails(vp, { pool: n, name: "disk.qcow2", capacity: "2MiB", format: "raw", adopt: true });
    expect(volMismatch).toBeInstanceOf(AdoptMismatchError);
    expect(volMismatch.message).toMatch(/format: "raw" in the inputs, "qcow2" in libvirt/);
    expect(volMismatch.message).toMatch(/capacity: 2097152 in the inputs, 1048576 in libvirt/);
    const source = join(work, "image.raw");
    writeFileSync(source, Buffer.alloc(4096));
    const withSource = await createFails(vp, { pool: n, name: "disk.qcow2", source, adopt: true });
    expect(withSource.message).toMatch(
      /source: "\(an image to copy in\)" in the inputs.*adopt cannot compare a source with a volume's content: drop source/,
    );
    const vol = await create(vp, { pool: n, name: "disk.qcow2", capacity: "1MiB", adopt: true });
    expect(vol.outs).toMatchObject({ adopted: true, capacity: 1024 * 1024, format: "qcow2" });

    // The adopted volume is deleted like any other; the adopted pool then goes (the directory is not the stack's).
    // The test driver cannot download an image to look for internal snapshots: deleted without that check.
    await vp.delete!(vol.id, { ...vol.outs, deleteSnapshotDataOnDestroy: true });
    await pp.delete!(pool.id, pool.outs);
    expect(await withConnection({ uri: URI }, async (conn) => (await conn.lookupPool(n)) === null)).toBe(true);
  });
});

describe("Network adopt: addresses, DHCP and DNS hosts", () => {
  it("left unset while libvirt has them, they count (a later update would replace or remove them); given equal, adopted", async () => {
    const n = name("netip");
    const xml =
      `<network><name>${n}</name><ip address='10.251.0.1' prefix='24'><dhcp><range start='10.251.0.10' end='10.251.0.20'/></dhcp></ip>` +
      `<dns><host ip='10.251.0.5'><hostname>db</hostname></host></dns></network>`;
    await withConnection({ uri: URI }, async (conn) => (await conn.defineNetwork(xml, `"${n}"`)).free());
    const err = await createFails(np, { name: n, mode: "isolated", adopt: true });
    expect(err.message).toMatch(
      /in 3 properties: addresses: \[\] in the inputs, \["10.251.0.1\/24"\] in libvirt \(left unset: the next update would replace the network without them\)/,
    );
    expect(err.message).toMatch(/dhcp: none in the inputs, \{"ranges":\[\{"start":"10.251.0.10","end":"10.251.0.20"\}\],"hosts":\[\]\} in libvirt/);
    expect(err.message).toMatch(
      /dnsHosts: \[\] in the inputs, \[\{"ip":"10.251.0.5","hostnames":\["db"\]\}\] in libvirt \(left unset: the next update would remove them\)/,
    );
    const made = await create(np, {
      name: n,
      mode: "isolated",
      addresses: ["10.251.0.1/24"],
      dhcp: { ranges: [{ start: "10.251.0.10", end: "10.251.0.20" }] },
      dnsHosts: [{ ip: "10.251.0.5", hostnames: ["db"] }],
      adopt: true,
    });
    expect(made.outs).toMatchObject({ adopted: true, addresses: ["10.251.0.1/24"] });
    await np.delete!(made.id, made.outs);
  });
});

describe("Network adopt", () => {
  it("refused without adopt; a different mode refused listing it, nothing changed; a match adopted", async () => {
    const n = name("net");
    await withConnection({ uri: URI }, async (conn) => (await conn.defineNetwork(`<network><name>${n}</name></network>`, `"${n}"`)).free());
    const active = () =>
      withConnection({ uri: URI }, async (conn) => {
        const net = (await conn.lookupNetwork(n))!;
        try {
          return { uuid: net.uuid(), active: await net.isActive() };
        } finally {
          net.free();
        }
      });
    const before = await active();
    expect(before.active).toBe(false);
    const refused = await createFails(np, { name: n, mode: "isolated" });
    expect(refused.message).toMatch(/already exists there.*set `adopt: true`/);
    // mode defaults to nat: a default counts too (a later change would replace the network).
    const mismatch = await createFails(np, { name: n, adopt: true, addresses: ["10.250.0.1/24"] });
    expect(mismatch).toBeInstanceOf(AdoptMismatchError);
    expect(mismatch.message).toMatch(/mode: "nat" in the inputs, "isolated" in libvirt/);
    expect(mismatch.message).toMatch(/addresses: \["10.250.0.1\/24"\] in the inputs, \[\] in libvirt/);
    expect(await active()).toEqual(before);

    // active: false on a network a running domain uses: the stop rule refuses before anything changes.
    await withConnection({ uri: URI }, async (conn) => {
      const dom = await conn.defineDomain(
        domainXml(`${n}-vm`).replace("</devices>", `<interface type='network'><source network='${n}'/></interface></devices>`),
        0,
        `"${n}-vm"`,
      );
      try {
        const net = (await conn.lookupNetwork(n))!;
        await net.start();
        net.free();
        await dom.start();
      } finally {
        dom.free();
      }
    });
    const stop = await createFails(np, { name: n, mode: "isolated", active: false, adopt: true });
    expect(stop).toBeInstanceOf(TeardownRefusedError);
    expect(stop.message).toMatch(new RegExp(`${n}-vm`));
    expect((await active()).active).toBe(true);
    await withConnection({ uri: URI }, async (conn) => {
      const dom = (await conn.lookupDomain(`${n}-vm`))!;
      await dom.destroy();
      await dom.undefine(0);
      dom.free();
      const net = (await conn.lookupNetwork(n))!;
      await net.destroy();
      net.free();
    });

    const made = await create(np, { name: n, mode: "isolated", adopt: true });
    expect(made.id).toBe(before.uuid);
    expect(made.outs).toMatchObject({ adopted: true, mode: "isolated", active: true });
    expect((await active()).active).toBe(true);
    await np.delete!(made.id, made.outs);
    expect(await withConnection({ uri: URI }, async (conn) => (await conn.lookupNetwork(n)) === null)).toBe(true);
  });
});
