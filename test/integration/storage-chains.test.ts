// Issue 11 item 3: a volume still needed through a chain is never deleted. The
// chain is read from the images themselves (a shut-off domain's definition
// names only the top), from every snapshot's XML (overlays, memory files), and
// paths are compared as real paths (symlinks, `..`). virsh and
// `qemu-img info --backing-chain` say independently that nothing was deleted.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, chmodSync, rmSync, symlinkSync } from "node:fs";
import { basename, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";
import { failing } from "../helpers/failure";
import { defineDomainByHand } from "../helpers/domains";
import { QEMU_URI, domainState, removeDomain, removePool, uniqueName, virsh, virshTry, volumeNames } from "../helpers/host";

const { poolProvider, volumeProvider } = provider;
const IMAGES = "/var/lib/libvirt/images";
const made = { pools: new Set<string>(), dirs: new Set<string>(), domains: new Set<string>() };

afterAll(async () => {
  await provider.closeAllConnections();
  for (const d of made.domains) removeDomain(QEMU_URI, d);
  for (const p of made.pools) removePool(QEMU_URI, p);
  for (const dir of made.dirs) rmSync(dir, { recursive: true, force: true });
});

type Outs = Record<string, unknown> & { path: string; name: string };
interface Made {
  id: string;
  outs: Outs;
}

function newDir(label: string): string {
  const dir = join(IMAGES, uniqueName(label));
  made.dirs.add(dir);
  mkdirSync(dir);
  chmodSync(dir, 0o755);
  return dir;
}

async function makePool(label: string, extra: Record<string, unknown> = {}): Promise<Made & { dir: string }> {
  const dir = newDir(label);
  const name = uniqueName(label);
  made.pools.add(name);
  const checked = await poolProvider.check!({}, { name, path: dir, uri: QEMU_URI, ...extra });
  expect(checked.failures).toEqual([]);
  const { id, outs } = await poolProvider.create!(checked.inputs);
  return { id, outs: outs as Outs, dir };
}

async function makeVolume(pool: string, name: string, extra: Record<string, unknown>): Promise<Made> {
  const checked = await volumeProvider.check!({}, { name, pool, uri: QEMU_URI, ...extra });
  expect(checked.failures).toEqual([]);
  const { id, outs } = await volumeProvider.create!(checked.inputs);
  return { id, outs: outs as Outs };
}

/** A domain defined by hand (virsh), as one not managed by this stack: its disk exactly as given. */
function defineDomain(label: string, disk: string, start = false): string {
  const type = existsSync("/dev/kvm") ? "kvm" : "qemu";
  const name = defineDomainByHand(label, { type, disks: [{ file: disk }], devices: `<graphics type='vnc' listen='127.0.0.1'/>` }, made.domains);
  if (start) virsh(QEMU_URI, "start", name);
  return name;
}

/** The chain qemu-img reads (top first); throws when an image of it is missing. */
const backingChain = (top: string) =>
  (
    JSON.parse(execFileSync("qemu-img", ["info", "-U", "--backing-chain", "--output=json", top], { encoding: "utf8" })) as Array<{ filename: string }>
  ).map((i) => i.filename);
const volNames = (pool: string) => volumeNames(QEMU_URI, pool);
const diskSource = (dom: string, inactive = true) =>
  /<source file='([^']+)'/.exec(virsh(QEMU_URI, "dumpxml", ...(inactive ? ["--inactive"] : []), dom))![1];
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

describe("a volume needed through a chain is never deleted", () => {
  it("shut-off domain, external disk-only snapshot with its overlay outside any pool: refused, naming the domain and the chain", async () => {
    const p = await makePool("chain-out");
    const base = await makeVolume(p.outs.name, "base.qcow2", { capacity: "16MiB" });
    const outside = newDir("chain-out-ov");
    const overlay = join(outside, "overlay.qcow2");
    const dom = defineDomain("chain-out", base.outs.path);
    virsh(QEMU_URI, "snapshot-create-as", dom, "s1", "--disk-only", "--diskspec", `vda,snapshot=external,file=${overlay}`);
    expect(diskSource(dom)).toBe(overlay); // the domain's disk is now the overlay
    expect(domainState(QEMU_URI, dom)).toBe("shut off");

    const { err } = await failing(() => volumeProvider.delete!(base.id, base.outs));
    expect(err.message).toMatch(
      new RegExp(
        `refusing to delete volume "base.qcow2".*nothing was changed.*1 domain still uses it as a disk \\("${dom}"\\).*"${dom}" .*disk vda: ${esc(overlay)} → ${esc(base.outs.path)}`,
      ),
    );
    expect(volNames(p.outs.name)).toContain("base.qcow2");
    expect(backingChain(overlay)).toEqual([overlay, base.outs.path]);

    // Without the snapshot's metadata, the chain is read from the overlay's own header.
    virsh(QEMU_URI, "snapshot-delete", dom, "s1", "--metadata");
    const again = await failing(() => volumeProvider.delete!(base.id, base.outs));
    expect(again.err.message).toMatch(new RegExp(`"${dom}" disk vda: ${esc(overlay)} → ${esc(base.outs.path)}`));
    expect(existsSync(base.outs.path)).toBe(true);
    expect(backingChain(overlay)).toEqual([overlay, base.outs.path]);
  });

  it("the same chain while the domain runs (libvirt's live definition states it)", async () => {
    const p = await makePool("chain-run");
    const base = await makeVolume(p.outs.name, "base.qcow2", { capacity: "16MiB" });
    const overlay = join(newDir("chain-run-ov"), "overlay.qcow2");
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", "-b", base.outs.path, "-F", "qcow2", overlay]);
    const dom = defineDomain("chain-run", overlay, true);
    expect(domainState(QEMU_URI, dom)).toBe("running");
    const { err } = await failing(() => volumeProvider.delete!(base.id, base.outs));
    expect(err.message).toMatch(new RegExp(`1 domain still uses it as a disk \\("${dom}"\\).*disk vda: ${esc(overlay)} → ${esc(base.outs.path)}`));
    expect(volNames(p.outs.name)).toContain("base.qcow2");
    expect(backingChain(overlay)).toEqual([overlay, base.outs.path]);
  });

  it("overlay inside another pool (not yet scanned by libvirt): refused for the domain and for the overlay volume", async () => {
    const p1 = await makePool("chain-p1");
    const p2 = await makePool("chain-p2");
    const base = await makeVolume(p1.outs.name, "base.qcow2", { capacity: "16MiB" });
    const overlay = join(p2.dir, "overlay.qcow2");
    const dom = defineDomain("chain-p2", base.outs.path);
    virsh(QEMU_URI, "snapshot-create-as", dom, "s1", "--disk-only", "--diskspec", `vda,snapshot=external,file=${overlay}`);
    const { err } = await failing(() => volumeProvider.delete!(base.id, base.outs));
    expect(err.message).toMatch(new RegExp(`1 domain still uses it as a disk \\("${dom}"\\)`));
    expect(err.message).toMatch(new RegExp(`backing file of 1 volume \\("${p2.outs.name}/overlay.qcow2"\\)`));
    expect(volNames(p1.outs.name)).toContain("base.qcow2");
    expect(volNames(p2.outs.name)).toContain("overlay.qcow2");
    expect(backingChain(overlay)).toEqual([overlay, base.outs.path]);
  });

  it("a chain of 3 (relative backing name outside any pool): the base and the middle are both refused, naming the whole chain", async () => {
    const p = await makePool("chain3");
    const base = await makeVolume(p.outs.name, "base.qcow2", { capacity: "16MiB" });
    const mid = await makeVolume(p.outs.name, "mid.qcow2", { backingVolume: base.outs.path });
    const outside = newDir("chain3-top");
    const top = join(outside, "top.qcow2");
    // Relative to the top image's directory, as qemu resolves it.
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", "-b", `../${basename(p.dir)}/mid.qcow2`, "-F", "qcow2", top]);
    const dom = defineDomain("chain3", top);
    for (const v of [base, mid]) {
      const { err } = await failing(() => volumeProvider.delete!(v.id, v.outs));
      expect(err.message).toMatch(new RegExp(`refusing to delete volume "${v.outs.name}".*1 domain still uses it as a disk \\("${dom}"\\)`));
    }
    const { err } = await failing(() => volumeProvider.delete!(base.id, base.outs));
    expect(err.message).toMatch(new RegExp(`disk vda: ${esc(top)} → ${esc(`${outside}/../${basename(p.dir)}/mid.qcow2`)} → ${esc(base.outs.path)}`));
    expect(volNames(p.outs.name)).toEqual(["base.qcow2", "mid.qcow2"]);
    expect(backingChain(top)).toHaveLength(3);
  });

  it("a snapshot's memory state file in a pool is refused while the snapshot exists", async () => {
    const p = await makePool("chain-mem");
    const disk = await makeVolume(p.outs.name, "disk.qcow2", { capacity: "16MiB" });
    const dom = defineDomain("chain-mem", disk.outs.path, true);
    const mem = join(p.dir, "mem.save");
    const overlay = join(newDir("chain-mem-ov"), "overlay.qcow2");
    virsh(
      QEMU_URI,
      "snapshot-create-as",
      dom,
      "with-memory",
      "--memspec",
      `file=${mem},snapshot=external`,
      "--diskspec",
      `vda,snapshot=external,file=${overlay}`,
    );
    expect(volNames(p.outs.name)).toContain("mem.save");
    const memVol = (await volumeProvider.read!(mem, { name: "mem.save", pool: p.outs.name, uri: QEMU_URI, path: mem } as never)) as {
      id: string;
      props: Outs;
    };
    const { err } = await failing(() => volumeProvider.delete!(memVol.id, memVol.props));
    expect(err.message).toMatch(
      new RegExp(
        `refusing to delete volume "mem.save".*1 domain still uses it as a disk \\("${dom}"\\).*snapshot "with-memory" memory state: ${esc(mem)}`,
      ),
    );
    expect(existsSync(mem)).toBe(true);
    expect(volNames(p.outs.name)).toContain("mem.save");
    // And the disk under the running overlay.
    const under = await failing(() => volumeProvider.delete!(disk.id, disk.outs));
    expect(under.err.message).toMatch(new RegExp(`"${dom}" .*${esc(overlay)} → ${esc(disk.outs.path)}`));
    expect(backingChain(overlay)).toEqual([overlay, disk.outs.path]);
  });

  it("a disk named through a symlink, or through `..`, is the same file", async () => {
    const p = await makePool("chain-link");
    const v = await makeVolume(p.outs.name, "disk.qcow2", { capacity: "16MiB" });
    const other = newDir("chain-link-ln");
    const link = join(other, "link.qcow2");
    symlinkSync(v.outs.path, link);
    const byLink = defineDomain("chain-link", link);
    const byDots = defineDomain("chain-dots", join(other, "..", basename(p.dir), "disk.qcow2"));
    const { err } = await failing(() => volumeProvider.delete!(v.id, v.outs));
    expect(err.message).toMatch(/refusing to delete volume "disk.qcow2".*2 domains still use it as a disk/);
    expect(err.message).toContain(`"${byLink}"`);
    expect(err.message).toContain(`"${byDots}"`);
    expect(volNames(p.outs.name)).toContain("disk.qcow2");
    expect(existsSync(v.outs.path)).toBe(true);
  });

  it("a Pool's deleteVolumesOnDestroy follows the same chains: refused, nothing deleted", async () => {
    const p = await makePool("chain-cascade", { deleteVolumesOnDestroy: true });
    const base = await makeVolume(p.outs.name, "base.qcow2", { capacity: "16MiB" });
    await makeVolume(p.outs.name, "spare.qcow2", { capacity: "8MiB" });
    const overlay = join(newDir("chain-cascade-ov"), "overlay.qcow2");
    const dom = defineDomain("chain-cascade", base.outs.path);
    virsh(QEMU_URI, "snapshot-create-as", dom, "s1", "--disk-only", "--diskspec", `vda,snapshot=external,file=${overlay}`);
    const read = await poolProvider.read!(p.id, p.outs);
    const { err } = await failing(() => poolProvider.delete!(p.id, read.props));
    expect(err.message).toMatch(
      new RegExp(
        `refusing to delete storage pool "${p.outs.name}" with its volumes \\(nothing was changed\\).*volume "base.qcow2": 1 domain still uses it as a disk \\("${dom}"\\)`,
      ),
    );
    expect(virshTry(QEMU_URI, "pool-info", p.outs.name).out).toMatch(/State:\s+running/);
    expect(volNames(p.outs.name)).toEqual(["base.qcow2", "spare.qcow2"]);
    expect(backingChain(overlay)).toEqual([overlay, base.outs.path]);
  });
});
