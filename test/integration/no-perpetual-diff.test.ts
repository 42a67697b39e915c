// Issue 11 item 11: no perpetual diffs. For every input of every resource
// (Domain, Snapshot, Pool, Volume), after a successful create the provider's
// diff against the same inputs reports no change: against the create's outputs
// (the next `pulumi preview`) and against a read's (after `pulumi refresh`), with
// the inputs checked again as the engine does. On qemu:///system; virsh and the
// domain state are what libvirt really holds. The CLI version:
// test/e2e/no-changes.test.ts.
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";
import { QEMU_URI, domainState, makeImageDir, removeDomain, removePool, uniqueName, virsh } from "../helpers/host";

const { domainProvider, snapshotProvider, poolProvider, volumeProvider } = provider;
type P = typeof domainProvider;

let images: ReturnType<typeof makeImageDir>;
const domains: string[] = [];
const pools: Array<{ name: string; path: string }> = [];

beforeAll(() => {
  images = makeImageDir("nodiff");
});

afterAll(async () => {
  await provider.closeAllConnections();
  for (const name of domains) removeDomain(QEMU_URI, name);
  for (const p of pools) {
    removePool(QEMU_URI, p.name);
    rmSync(p.path, { recursive: true, force: true });
  }
  images.remove();
});

/**
 * create → diff, read (refresh) → diff, each with the inputs checked again
 * (check(olds = the saved inputs, news = the program's)), as the engine calls them.
 * `act` runs between the create and the read (a state reached outside Pulumi).
 */
async function expectNoDiffAfterCreate(p: P, raw: Record<string, unknown>, act?: (outs: Record<string, unknown>) => Promise<void> | void) {
  const checked = await p.check!({}, raw);
  expect(checked.failures).toEqual([]);
  const { id, outs } = await p.create!(checked.inputs);
  const again = await p.check!(checked.inputs, raw);
  expect(again.failures).toEqual([]);
  const afterCreate = await p.diff!(id, outs, again.inputs);
  expect(afterCreate.changes, `diff after create: ${JSON.stringify(afterCreate)}`).toBe(false);
  if (act) await act(outs);
  const read = await p.read!(id, outs);
  expect(read.id).toBe(id);
  const afterRefresh = await p.diff!(id, read.props, again.inputs);
  expect(afterRefresh.changes, `diff after refresh: ${JSON.stringify(afterRefresh)}`).toBe(false);
  // And a second refresh still diffs clean.
  const reread = await p.read!(id, read.props);
  expect((await p.diff!(id, reread.props, again.inputs)).changes).toBe(false);
  return { id, outs, props: read.props as Record<string, unknown>, inputs: again.inputs };
}

const domainName = (label: string) => {
  const name = uniqueName(label);
  domains.push(name);
  return name;
};

/** A raw file for a cdrom or a kernel that is never booted. */
function file(name: string, bytes = 4096): string {
  const path = join(images.dir, name);
  writeFileSync(path, Buffer.alloc(bytes));
  return path;
}

describe("Domain: no change after create and after refresh, for every input", () => {
  const base = (label: string, extra: Record<string, unknown> = {}) => {
    const name = domainName(label);
    return { name, uri: QEMU_URI, memoryMiB: 64, disks: [{ file: images.qcow2(`${name}.qcow2`) }], ...extra };
  };

  const cases: Array<[string, () => Record<string, unknown>]> = [
    ["minimal (defaults: vcpus 1, running, persistent)", () => base("min")],
    ["description with leading and trailing spaces", () => base("desc-pad", { description: "  padded  " })],
    ['description "" (libvirt holds none)', () => base("desc-empty", { description: "" })],
    ["description of spaces only", () => base("desc-spaces", { description: "   " })],
    ["description with a newline, markup and quotes", () => base("desc-mixed", { description: "line one\n<b>two</b> & 'three' \"four\"" })],
    ["vcpus, memoryMiB, arch, machine, type", () => base("machine", { vcpus: 2, memoryMiB: 96, arch: "x86_64", machine: "pc", type: "qemu" })],
    [
      "disks: qcow2 and raw files, explicit format/target/bus, readOnly, a cdrom",
      () => {
        const b = base("disks");
        return {
          ...b,
          disks: [
            ...b.disks,
            { file: file(`${b.name}.raw`, 1 << 20), format: "raw", target: "vdc", bus: "virtio", readOnly: true },
            { file: file(`${b.name}.iso`), device: "cdrom" },
            { file: images.qcow2(`${b.name}-sata.qcow2`), bus: "sata" },
          ],
        };
      },
    ],
    [
      "networkInterfaces (bridge, with and without mac, models), not running",
      () =>
        base("nics", {
          running: false,
          networkInterfaces: [{ bridge: "lvp-test-br0" }, { bridge: "lvp-test-br1", mac: "52:54:00:aa:bb:01", model: "e1000" }],
        }),
    ],
    ["networkInterfaces on a libvirt network, not running", () => base("net", { running: false, networkInterfaces: [{ network: "default" }] })],
    [
      "bootDevices, graphics, serialConsole",
      () => base("devices", { bootDevices: ["hd", "cdrom", "network"], graphics: "vnc", serialConsole: true }),
    ],
    [
      "kernel, initrd, cmdline (defined, not started)",
      () => base("kernel", { running: false, kernel: file("vmlinuz"), initrd: file("initrd.img"), cmdline: "console=ttyS0 root=/dev/vda  rw" }),
    ],
    ["firmware efi (defined, not started)", () => base("efi", { running: false, firmware: "efi" })],
    ["running: false, autostart: true", () => base("autostart", { running: false, autostart: true })],
    ["persistent: false (transient)", () => base("transient", { persistent: false })],
    [
      "every teardown option",
      () =>
        base("teardown", {
          deleteSnapshotsOnDestroy: true,
          deleteSnapshotDataOnDestroy: true,
          deleteManagedSaveOnDestroy: true,
          deleteCheckpointsOnDestroy: true,
          keepNvramOnDestroy: true,
        }),
    ],
    [
      "raw xml (name filled in)",
      () => {
        const name = domainName("xml");
        return {
          name,
          uri: QEMU_URI,
          xml: `<domain type='kvm'><memory unit='MiB'>64</memory><description> raw </description><os><type>hvm</type></os></domain>`,
        };
      },
    ],
  ];

  it.each(cases)("%s", async (_label, make) => {
    await expectNoDiffAfterCreate(domainProvider, make());
  });

  // States the update never changes: the domain is active, and a start would not make it "more" running.
  it("crashed (a guest panic with on_crash preserve): no running change", async () => {
    const name = domainName("crashed");
    const xml = `<domain type='kvm'><memory unit='MiB'>64</memory><os><type>hvm</type></os><on_crash>preserve</on_crash><devices><panic model='isa'><address type='isa' iobase='0x505'/></panic></devices></domain>`;
    await expectNoDiffAfterCreate(domainProvider, { name, uri: QEMU_URI, xml }, async () => {
      virsh(QEMU_URI, "qemu-monitor-command", name, "--hmp", "o /b 0x505 1"); // the pvpanic port
      for (let n = 0; n < 50 && domainState(QEMU_URI, name) !== "crashed"; n++) await new Promise((r) => setTimeout(r, 100));
      expect(domainState(QEMU_URI, name)).toBe("crashed");
    });
  });

  it("pmsuspended (ACPI S3 requested through the PM control port): no running change", async () => {
    const name = domainName("pmsusp");
    const xml = `<domain type='kvm'><memory unit='MiB'>64</memory><os><type machine='pc'>hvm</type></os><features><acpi/></features><pm><suspend-to-mem enabled='yes'/></pm></domain>`;
    await expectNoDiffAfterCreate(domainProvider, { name, uri: QEMU_URI, xml }, async () => {
      // SeaBIOS maps the PIIX4 PM block at 0x600 early in boot; PM1a_CNT is 0x604. SLP_TYP=1 (S3) | SLP_EN.
      // Written again until QEMU takes it (before the mapping, the write goes nowhere).
      for (let n = 0; n < 100 && domainState(QEMU_URI, name) !== "pmsuspended"; n++) {
        virsh(QEMU_URI, "qemu-monitor-command", name, "--hmp", "o /w 0x604 0x2400");
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(domainState(QEMU_URI, name)).toBe("pmsuspended");
    });
  });

  it("paused (virsh suspend): no running change", async () => {
    const raw = base("paused");
    await expectNoDiffAfterCreate(domainProvider, raw, () => {
      virsh(QEMU_URI, "suspend", raw.name as string);
    });
  });
});

describe("Snapshot: no change after create and after refresh, for every input", () => {
  let running: { name: string; disk: string };
  let stopped: { name: string };

  beforeAll(async () => {
    for (const [label, run] of [
      ["snap-run", true],
      ["snap-off", false],
    ] as const) {
      const name = domainName(label);
      const disk = images.qcow2(`${name}.qcow2`);
      const checked = await domainProvider.check!(
        {},
        { name, uri: QEMU_URI, memoryMiB: 64, shutdownTimeoutSeconds: 0, running: run, disks: [{ file: disk }] },
      );
      await domainProvider.create!(checked.inputs);
      if (run) running = { name, disk };
      else stopped = { name };
    }
  });

  let seq = 0;
  const snap =
    (domain: () => string, extra: Record<string, unknown> = {}) =>
    () => ({ domain: domain(), uri: QEMU_URI, name: `s${++seq}`, ...extra });
  const onRunning = () => running.name;
  const onStopped = () => stopped.name;

  const cases: Array<[string, () => Record<string, unknown>]> = [
    ["defaults (running domain: memory and disks, internal)", snap(onRunning)],
    ["description with leading and trailing spaces", snap(onRunning, { description: "  padded  " })],
    ['description ""', snap(onRunning, { description: "" })],
    ["description of spaces only, on a shut-off domain", snap(onStopped, { description: "   " })],
    ["atomic: false, deleteDataOnDestroy: false", snap(onStopped, { atomic: false, deleteDataOnDestroy: false })],
    [
      'memory: "none", diskOnly, disks (internal) on a shut-off domain',
      snap(onStopped, { memory: "none", disks: [{ target: "vda", snapshot: "internal" }] }),
    ],
    [
      "diskOnly with an external overlay file",
      () => ({
        ...snap(onStopped, { diskOnly: true })(),
        disks: [{ target: "vda", snapshot: "external", file: join(images.dir, `overlay-${seq}.qcow2`) }],
        deleteDataOnDestroy: false,
      }),
    ],
    [
      'memory: "external" + memoryFile + live + external disk',
      () => ({
        ...snap(onRunning)(),
        memory: "external",
        memoryFile: join(images.dir, `mem-${seq}.save`),
        live: true,
        disks: [{ target: "vda", snapshot: "external", file: join(images.dir, `live-${seq}.qcow2`) }],
        deleteDataOnDestroy: false,
      }),
    ],
    [
      "domain named by name, uri explicit; raw xml",
      snap(onStopped, { xml: "<domainsnapshot><description>from raw xml </description></domainsnapshot>" }),
    ],
  ];

  it.each(cases)("%s", async (_label, make) => {
    await expectNoDiffAfterCreate(snapshotProvider, make());
  });
});

describe("Pool and Volume: no change after create and after refresh, for every input", () => {
  const pool = (label: string, extra: Record<string, unknown> = {}) => {
    const name = uniqueName(label);
    const path = `/var/lib/libvirt/images/${name}`;
    pools.push({ name, path });
    return { name, path, uri: QEMU_URI, ...extra };
  };
  let shared: { name: string; path: string };

  beforeAll(async () => {
    const raw = pool("vols");
    const checked = await poolProvider.check!({}, raw);
    await poolProvider.create!(checked.inputs);
    shared = { name: raw.name, path: raw.path };
  });

  it.each<[string, () => Record<string, unknown>]>([
    ["minimal pool", () => pool("pool-min")],
    ["autostart and deleteVolumesOnDestroy", () => pool("pool-opts", { autostart: true, deleteVolumesOnDestroy: true })],
    [
      "a path with a trailing slash and doubled slashes",
      () => {
        const p = pool("pool-path");
        return { ...p, path: `${p.path.replace("/images/", "/images//")}/` };
      },
    ],
  ])("Pool: %s", async (_label, make) => {
    await expectNoDiffAfterCreate(poolProvider, make());
  });

  let seq = 0;
  const vol = (extra: Record<string, unknown>) => () => ({
    pool: shared.name,
    name: `v${++seq}.${extra.format === "raw" ? "img" : "qcow2"}`,
    ...extra,
  });

  it.each<[string, () => Record<string, unknown>]>([
    ["capacity as a size string (qcow2 by default)", vol({ capacity: "16MiB" })],
    ["capacity in bytes, format raw", vol({ capacity: 8 * 1024 * 1024, format: "raw" })],
    ["capacity with a unit spelled otherwise", vol({ capacity: "0.5 GiB" })],
    ["uri explicit, deleteSnapshotDataOnDestroy", vol({ capacity: "8MiB", uri: QEMU_URI, deleteSnapshotDataOnDestroy: true })],
    [
      "backingVolume + backingFormat (an overlay)",
      () => {
        const backing = images.qcow2(`backing-${seq}.qcow2`, 8);
        return vol({ backingVolume: backing, backingFormat: "qcow2" })();
      },
    ],
    [
      "source (a qcow2 image uploaded)",
      () => {
        const source = images.qcow2(`source-${seq}.qcow2`, 4);
        return vol({ source })();
      },
    ],
    [
      "source (a raw image uploaded as raw, larger capacity)",
      () => {
        const source = file(`source-${seq}.raw`, 1 << 20);
        return vol({ source, format: "raw", capacity: "4MiB" })();
      },
    ],
  ])("Volume: %s", async (_label, make) => {
    await expectNoDiffAfterCreate(volumeProvider, make());
  });

  it("Domain: a disk given as { volume: { pool, name } }", async () => {
    const v = await expectNoDiffAfterCreate(volumeProvider, vol({ capacity: "16MiB" })());
    const name = domainName("voldisk");
    await expectNoDiffAfterCreate(domainProvider, {
      name,
      uri: QEMU_URI,
      memoryMiB: 64,
      disks: [{ volume: { pool: shared.name, name: v.props.name } }],
    });
  });
});
