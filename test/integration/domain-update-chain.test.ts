// issue 11 item 1: an update never points a disk back past an external snapshot's
// overlay. The provider acts; virsh (dumpxml, domblklist) and qemu-img / qemu-io
// say independently which image the domain uses and where the guest's writes land.
import { execFileSync, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";
import { createDomain } from "../helpers/domains";
import { QEMU_URI, domainState, makeImageDir, removeDomain, removePool, uniqueName, virsh } from "../helpers/host";

const { domainProvider: dp } = provider;
type Outs = Record<string, any>;

let images: ReturnType<typeof makeImageDir>;
const domains: string[] = [];
const pools: string[] = [];

beforeAll(() => {
  images = makeImageDir("chain");
});

afterAll(async () => {
  await provider.closeAllConnections();
  for (const name of domains) removeDomain(QEMU_URI, name);
  for (const name of pools) removePool(QEMU_URI, name);
  images.remove();
});

interface Made {
  id: string;
  name: string;
  outs: Outs;
  inputs: Outs;
}

async function create(label: string, extra: Outs): Promise<Made> {
  return createDomain(label, extra, domains);
}

/** What `pulumi up` does with changed inputs: check against the saved outputs, then update. */
async function update(m: Made, change: Outs): Promise<Made> {
  const checked = await dp.check!(m.outs, { ...m.inputs, ...change });
  expect(checked.failures).toEqual([]);
  const { outs } = await dp.update!(m.id, m.outs, checked.inputs);
  return { ...m, outs: outs as Outs, inputs: checked.inputs };
}

/** The sources of a domain's disks by target, as virsh lists them (live, or the persistent definition). */
function sources(name: string, inactive = false): Record<string, string> {
  const out = virsh(QEMU_URI, "domblklist", name, ...(inactive ? ["--inactive"] : []));
  return Object.fromEntries(out.split("\n").map((l) => l.trim().split(/\s+/, 2) as [string, string]));
}

/** The image chain qemu-img reads from a top image: filenames from the top down. */
function chain(top: string): string[] {
  const info = JSON.parse(execFileSync("qemu-img", ["info", "-U", "--backing-chain", "--output=json", top], { encoding: "utf8" })) as Array<{
    filename: string;
  }>;
  return info.map((i) => i.filename);
}

/** A disk-only external snapshot taken by hand, as `virsh snapshot-create-as ... --disk-only --atomic` does. */
function diskOnlySnapshot(name: string, snap: string, ...diskspecs: string[]): void {
  virsh(QEMU_URI, "snapshot-create-as", name, snap, "--disk-only", "--atomic", ...diskspecs.flatMap((d) => ["--diskspec", d]));
}

/**
 * Writes a pattern through the running guest's own block backend for the disk
 * (QEMU's qemu-io monitor command on the device), so it lands wherever the guest's
 * writes land: the top of the disk's chain.
 */
function guestWrite(name: string, target: string, pattern: string): void {
  const xml = virsh(QEMU_URI, "dumpxml", name);
  const disk = [...xml.matchAll(/<disk[\s\S]*?<\/disk>/g)].map((m) => m[0]).find((d) => d.includes(`dev='${target}'`))!;
  const alias = /<alias name='([^']+)'/.exec(disk)![1];
  for (const command of [`write -P ${pattern} 0 4k`, "flush"]) {
    const out = virsh(QEMU_URI, "qemu-monitor-command", name, "--hmp", `qemu-io -d /machine/peripheral/${alias}/virtio-backend "${command}"`);
    expect(out).toBe("");
  }
}

/** Whether the first 4 KiB of this one image (not its backing files) hold the pattern. */
function holds(file: string, pattern: string): boolean {
  // qemu-io exits 1 when the pattern does not match; anything else it prints is a failure to read.
  const r = spawnSync("qemu-io", ["-U", "-r", "-f", "qcow2", "-c", `read -P ${pattern} 0 4k`, file], { encoding: "utf8" });
  if (/verification failed/.test(r.stdout)) return false;
  if (r.status === 0 && /read 4096\/4096 bytes/.test(r.stdout)) return true;
  throw new Error(`qemu-io could not read ${file}: ${r.stdout}${r.stderr}`);
}

const overlayOf = (file: string, snap: string) => file.replace(/\.qcow2$/, `.${snap}`);

async function restart(m: Made): Promise<Made> {
  const stopped = await update(m, { running: false });
  expect(domainState(QEMU_URI, m.name)).toBe("shut off");
  return update(stopped, { running: true });
}

/** The next `pulumi preview` and `pulumi refresh` see no change: the disk inputs stay the user's paths. */
async function expectNoPerpetualDiff(m: Made): Promise<void> {
  const checked = await dp.check!(m.outs, m.inputs);
  expect((await dp.diff!(m.id, m.outs, checked.inputs)).changes).toBe(false);
  const read = await dp.read!(m.id, m.outs);
  expect(read.props!.disks).toEqual(m.inputs.disks);
  expect((await dp.diff!(m.id, read.props as Outs, checked.inputs)).changes).toBe(false);
}

describe("an update keeps the overlay an external snapshot put on a disk (qemu:///system)", () => {
  it("shut-off domain: the changed vcpus apply, the overlaid disk keeps its overlay, the other disk and the cdrom stay as given", async () => {
    const a = images.qcow2("off-a.qcow2");
    const b = images.qcow2("off-b.qcow2");
    const iso = join(images.dir, "off.iso");
    writeFileSync(iso, Buffer.alloc(1024 * 1024));
    let m = await create("chain-off", { running: false, disks: [{ file: a }, { file: b }, { file: iso, device: "cdrom" }] });
    // Only vda gets an overlay; vdb and the cdrom are left alone by the snapshot.
    diskOnlySnapshot(m.name, "s1", "vda,snapshot=external", "vdb,snapshot=no", "hda,snapshot=no");
    const top = overlayOf(a, "s1");
    expect(sources(m.name, true)).toMatchObject({ vda: top, vdb: b, hda: iso });

    m = await update(m, { vcpus: 2 });
    expect(virsh(QEMU_URI, "dumpxml", "--inactive", m.name)).toMatch(/<vcpu[^>]*>2<\/vcpu>/);
    expect(sources(m.name, true)).toEqual({ vda: top, vdb: b, hda: iso });
    expect(chain(top)).toEqual([top, a]);
    await expectNoPerpetualDiff(m);

    // Started after the update, the guest writes into the overlay, never into the base.
    m = await update(m, { running: true });
    expect(sources(m.name)).toEqual({ vda: top, vdb: b, hda: iso });
    guestWrite(m.name, "vda", "0x5a");
    expect(holds(top, "0x5a")).toBe(true);
    expect(holds(a, "0x5a")).toBe(false);
  });

  it("running domain: the persistent definition keeps the overlay, so a restart runs on it, not on the base", async () => {
    const a = images.qcow2("run-a.qcow2");
    const b = images.qcow2("run-b.qcow2");
    let m = await create("chain-run", { disks: [{ file: a }, { file: b }] });
    diskOnlySnapshot(m.name, "s1", "vda,snapshot=external", "vdb,snapshot=no");
    const top = overlayOf(a, "s1");
    // libvirt records the chain in the persistent definition of a running domain too.
    expect(virsh(QEMU_URI, "dumpxml", "--inactive", m.name)).toContain(`<source file='${a}'/>`);

    m = await update(m, { vcpus: 2 });
    expect(m.outs.pendingRestart).toBe(true);
    expect(sources(m.name)).toEqual({ vda: top, vdb: b });
    expect(sources(m.name, true)).toEqual({ vda: top, vdb: b });
    const inactive = virsh(QEMU_URI, "dumpxml", "--inactive", m.name);
    expect(inactive).toMatch(/<vcpu[^>]*>2<\/vcpu>/);
    // The backing store libvirt recorded is kept with the overlay.
    expect(inactive).toMatch(new RegExp(`<source file='${top}'/>\\s*<backingStore type='file'>\\s*<format type='qcow2'/>\\s*<source file='${a}'/>`));
    await expectNoPerpetualDiff(m);

    m = await restart(m);
    expect(virsh(QEMU_URI, "dumpxml", m.name)).toMatch(/<vcpu[^>]*>2<\/vcpu>/);
    expect(sources(m.name)).toEqual({ vda: top, vdb: b });
    expect(chain(top)).toEqual([top, a]);
    guestWrite(m.name, "vda", "0x6b");
    expect(holds(top, "0x6b")).toBe(true);
    expect(holds(a, "0x6b")).toBe(false);
    await expectNoPerpetualDiff(m);
  });

  it("a raw base image: the qcow2 overlay keeps its own format after the update, the raw base stays raw underneath", async () => {
    const base = join(images.dir, "raw-base.img");
    execFileSync("qemu-img", ["create", "-q", "-f", "raw", base, "16M"]);
    let m = await create("chain-raw", { running: false, disks: [{ file: base, format: "raw" }] });
    diskOnlySnapshot(m.name, "s1");
    const top = join(images.dir, "raw-base.s1");
    m = await update(m, { vcpus: 2 });
    expect(sources(m.name, true)).toEqual({ vda: top });
    const disk = /<disk[\s\S]*?<\/disk>/.exec(virsh(QEMU_URI, "dumpxml", "--inactive", m.name))![0];
    expect(disk).toMatch(/<driver name='qemu' type='qcow2'\/>/);
    const info = JSON.parse(execFileSync("qemu-img", ["info", "-U", "--backing-chain", "--output=json", top], { encoding: "utf8" })) as Array<{
      filename: string;
      format: string;
    }>;
    expect(info.map((i) => [i.filename, i.format])).toEqual([
      [top, "qcow2"],
      [base, "raw"],
    ]);
    await expectNoPerpetualDiff(m);
  });

  it("the overlay of this package's own Snapshot (diskOnly: true) is kept the same way", async () => {
    const a = images.qcow2("own-a.qcow2");
    let m = await create("chain-own", { running: false, disks: [{ file: a }] });
    const snapInputs = await provider.snapshotProvider.check!({}, { name: "s1", domain: m.id, uri: QEMU_URI, diskOnly: true });
    expect(snapInputs.failures ?? []).toEqual([]);
    await provider.snapshotProvider.create(snapInputs.inputs);
    const top = sources(m.name, true).vda;
    expect(top).not.toBe(a);
    expect(chain(top)).toEqual([top, a]);
    m = await update(m, { vcpus: 2 });
    expect(sources(m.name, true)).toEqual({ vda: top });
    await expectNoPerpetualDiff(m);
  });

  it("two snapshots deep: the update keeps the newest overlay, and no disk may name the image between", async () => {
    const a = images.qcow2("deep-a.qcow2");
    let m = await create("chain-deep", { running: false, disks: [{ file: a }] });
    diskOnlySnapshot(m.name, "s1");
    diskOnlySnapshot(m.name, "s2");
    const [mid, top] = [overlayOf(a, "s1"), overlayOf(a, "s2")];
    expect(chain(top)).toEqual([top, mid, a]);

    m = await update(m, { memoryMiB: 96 });
    expect(sources(m.name, true)).toEqual({ vda: top });

    const checked = await dp.check!(m.outs, { ...m.inputs, disks: [{ file: a }, { file: mid, format: "qcow2" }] });
    await expect(dp.update!(m.id, m.outs, checked.inputs)).rejects.toThrow(
      new RegExp(
        `disks\\[1\\] \\{ file: "${mid}", format: "qcow2" \\} names "${mid}", which is now a backing image below the overlay "${top}" of disk vda.*Nothing was changed`,
      ),
    );
    expect(sources(m.name, true)).toEqual({ vda: top });
    expect(chain(top)).toEqual([top, mid, a]);
  });

  it("a domain given as raw xml: an update of the xml keeps the overlay under an unchanged <disk>, and refuses a changed one", async () => {
    const a = images.qcow2("xml-a.qcow2");
    const b = images.qcow2("xml-b.qcow2");
    const xml = (vcpus: number, aFile = a) =>
      `<domain type='qemu'><memory unit='MiB'>64</memory><vcpu>${vcpus}</vcpu><os><type>hvm</type></os><devices>` +
      `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${aFile}'/><target dev='vda' bus='virtio'/></disk>` +
      `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${b}'/><target dev='vdb' bus='virtio'/></disk>` +
      `</devices></domain>`;
    const name = uniqueName("chain-xml");
    domains.push(name);
    const checked = await dp.check!({}, { name, uri: QEMU_URI, xml: xml(1), running: false });
    expect(checked.failures).toEqual([]);
    const created = await dp.create!(checked.inputs);
    let m: Made = { id: created.id!, name, outs: created.outs, inputs: checked.inputs };
    diskOnlySnapshot(name, "s1", "vda,snapshot=external", "vdb,snapshot=no");
    const top = overlayOf(a, "s1");

    m = await update(m, { xml: xml(2) });
    expect(virsh(QEMU_URI, "dumpxml", "--inactive", name)).toMatch(/<vcpu[^>]*>2<\/vcpu>/);
    expect(sources(name, true)).toEqual({ vda: top, vdb: b });
    expect(chain(top)).toEqual([top, a]);
    await expectNoPerpetualDiff(m);

    const other = images.qcow2("xml-other.qcow2");
    const next = await dp.check!(m.outs, { ...m.inputs, xml: xml(3, other) });
    await expect(dp.update!(m.id, m.outs, next.inputs)).rejects.toThrow(
      /its disk vda .*now runs on the overlay ".*xml-a\.s1".*Nothing was changed.*set that <disk>'s <source> in the xml input to the overlay/,
    );
    expect(sources(name, true)).toEqual({ vda: top, vdb: b });
    expect(virsh(QEMU_URI, "dumpxml", "--inactive", name)).toMatch(/<vcpu[^>]*>2<\/vcpu>/);
  });

  describe("volume disks", () => {
    let pool: string;
    let poolDir: string;

    beforeAll(() => {
      pool = uniqueName("chain-pool");
      pools.push(pool);
      poolDir = join(images.dir, "pool");
      virsh(QEMU_URI, "pool-create-as", pool, "dir", "--target", poolDir, "--build");
    });

    const volume = (name: string) => {
      virsh(QEMU_URI, "vol-create-as", pool, name, "16M", "--format", "qcow2");
      return join(poolDir, name);
    };

    it("shut-off and running domains on a volume keep the overlay (a file outside the volume) across an update", async () => {
      const volPath = volume("v-off.qcow2");
      const ovOff = join(images.dir, "v-off.overlay");
      let off = await create("chain-vol-off", { running: false, disks: [{ volume: { pool, name: "v-off.qcow2" } }] });
      diskOnlySnapshot(off.name, "s1", `vda,file=${ovOff}`);
      off = await update(off, { vcpus: 2 });
      expect(sources(off.name, true)).toEqual({ vda: ovOff });
      expect(chain(ovOff)).toEqual([ovOff, volPath]);
      await expectNoPerpetualDiff(off);

      const volRun = volume("v-run.qcow2");
      const ovRun = join(images.dir, "v-run.overlay");
      let run = await create("chain-vol-run", { disks: [{ volume: { pool, name: "v-run.qcow2" } }] });
      diskOnlySnapshot(run.name, "s1", `vda,file=${ovRun}`);
      run = await update(run, { vcpus: 2 });
      expect(sources(run.name, true)).toEqual({ vda: ovRun });
      run = await restart(run);
      expect(sources(run.name)).toEqual({ vda: ovRun });
      guestWrite(run.name, "vda", "0x7c");
      expect(holds(ovRun, "0x7c")).toBe(true);
      expect(holds(volRun, "0x7c")).toBe(false);
      await expectNoPerpetualDiff(run);
    });
  });

  describe("a changed input of a disk on an overlay is refused before anything changes", () => {
    let m: Made;
    let a: string;
    let top: string;

    beforeAll(async () => {
      a = images.qcow2("ref-a.qcow2");
      m = await create("chain-refuse", { running: false, disks: [{ file: a }] });
      diskOnlySnapshot(m.name, "s1");
      top = overlayOf(a, "s1");
    });

    const refused = async (change: Outs, pattern: RegExp) => {
      const checked = await dp.check!(m.outs, { ...m.inputs, ...change });
      expect(checked.failures).toEqual([]);
      // Refused in diff already (so the preview shows it), and by the update itself.
      await expect(dp.diff!(m.id, m.outs, checked.inputs)).rejects.toThrow(pattern);
      await expect(dp.update!(m.id, m.outs, checked.inputs)).rejects.toThrow(pattern);
      // Nothing changed: the persistent definition still runs on the overlay with the old vcpus.
      expect(sources(m.name, true)).toEqual({ vda: top });
      expect(virsh(QEMU_URI, "dumpxml", "--inactive", m.name)).toMatch(/<vcpu[^>]*>1<\/vcpu>/);
      expect(chain(top)).toEqual([top, a]);
    };

    it.each([
      ["another image", () => ({ disks: [{ file: images.qcow2("ref-other.qcow2") }] }), /disks\[0\] \{ file: ".*ref-other\.qcow2" \} is now there/],
      [
        "the same image with an explicit format",
        () => ({ disks: [{ file: a, format: "qcow2" }] }),
        /disks\[0\] \{ file: ".*ref-a\.qcow2", format: "qcow2" \} names that image with other settings/,
      ],
      [
        "the same image on another bus",
        () => ({ disks: [{ file: a, bus: "sata" }] }),
        /disks\[0\] \{ file: ".*ref-a\.qcow2", bus: "sata" \} names that image with other settings/,
      ],
      ["the disk removed", () => ({ disks: [] }), /the disk was removed from disks/],
    ])("%s", async (_label, change, detail) => {
      await refused(
        { vcpus: 2, ...change() },
        new RegExp(
          `refusing to update domain ".*": its disk vda .* now runs on the overlay ".*ref-a\\.s1".*${detail.source}.*Nothing was changed.*virsh blockcommit`,
        ),
      );
    });

    it("naming the overlay itself in the input is accepted: the disk becomes that image", async () => {
      m = await update(m, { vcpus: 2, disks: [{ file: top, format: "qcow2" }] });
      expect(sources(m.name, true)).toEqual({ vda: top });
      expect(virsh(QEMU_URI, "dumpxml", "--inactive", m.name)).toMatch(/<vcpu[^>]*>2<\/vcpu>/);
      await expectNoPerpetualDiff(m);
    });
  });
});
