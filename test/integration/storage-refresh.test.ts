// Issue 11 item 7: refresh never forgets an object whose data still exists. A
// pool undefined outside Pulumi (`virsh pool-destroy; pool-undefine`) leaves its
// directory and files: the Volume and the Pool stay known, the next update says
// what to do (Volume) or defines the pool again over the untouched directory
// (Pool), and nothing writes over the file. virsh and the file system check.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";
import { failing } from "../helpers/failure";
import { QEMU_URI, makeImageDir, removePool, uniqueName, virsh, virshTry } from "../helpers/host";

const { poolProvider, volumeProvider } = provider;
const dirs: Array<ReturnType<typeof makeImageDir>> = [];
const pools = new Set<string>();
afterAll(async () => {
  await provider.closeAllConnections();
  for (const p of pools) removePool(QEMU_URI, p);
  for (const d of dirs) d.remove();
});

type Outs = Record<string, unknown> & { path: string; name: string; uuid: string };
async function poolWithVolume(label: string) {
  const dir = makeImageDir(label);
  dirs.push(dir);
  const name = uniqueName(label);
  pools.add(name);
  const pc = await poolProvider.check!({}, { name, path: dir.dir, uri: QEMU_URI });
  const pool = await poolProvider.create!(pc.inputs);
  const vc = await volumeProvider.check!({}, { name: "data.qcow2", pool: name, uri: QEMU_URI, capacity: "8MiB" });
  const vol = await volumeProvider.create!(vc.inputs);
  return {
    dir,
    name,
    pool: { id: pool.id, outs: pool.outs as Outs, inputs: pc.inputs },
    vol: { id: vol.id, outs: vol.outs as Outs, inputs: vc.inputs },
  };
}
const sha = (f: string) => createHash("sha256").update(readFileSync(f)).digest("hex");
const undefinePool = (name: string) => {
  virsh(QEMU_URI, "pool-destroy", name);
  virsh(QEMU_URI, "pool-undefine", name);
};

describe("refresh after a pool was undefined outside Pulumi, its files left", () => {
  it("Volume: kept and marked; update and delete refuse naming the pool and what to do; the file is untouched; once the pool is back, an update clears the mark", async () => {
    const s = await poolWithVolume("refresh-vol");
    const before = sha(s.vol.outs.path);
    undefinePool(s.name);

    const read = await volumeProvider.read!(s.vol.id, s.vol.outs);
    expect(read.id).toBe(s.vol.id);
    expect(read.props).toMatchObject({ path: s.vol.outs.path, pool: s.name, poolMissing: true });
    const props = read.props as Outs;
    expect((await volumeProvider.diff!(s.vol.id, props, s.vol.inputs)).changes).toBe(true);

    const upd = await failing(() => volumeProvider.update!(s.vol.id, props, s.vol.inputs));
    expect(upd.err.message).toMatch(
      new RegExp(
        `storage pool "${s.name}" no longer exists.*data.qcow2.*still there.*virsh pool-define-as ${s.name} dir --target ${s.dir.dir}.*pulumi state delete`,
      ),
    );
    const del = await failing(() => volumeProvider.delete!(s.vol.id, props));
    expect(del.err.message).toMatch(
      new RegExp(`refusing to delete volume "data.qcow2" \\(nothing was changed\\): storage pool "${s.name}" no longer exists`),
    );
    expect(sha(s.vol.outs.path)).toBe(before);
    expect(virshTry(QEMU_URI, "pool-info", s.name).ok).toBe(false);

    // The pool defined again by hand: the update finds the volume and clears the mark.
    virsh(QEMU_URI, "pool-define-as", s.name, "dir", "--target", s.dir.dir);
    virsh(QEMU_URI, "pool-start", s.name);
    const { outs } = await volumeProvider.update!(s.vol.id, props, s.vol.inputs);
    expect(outs.poolMissing).toBeUndefined();
    expect(outs).toMatchObject({ path: s.vol.outs.path, format: "qcow2" });
    expect((await volumeProvider.diff!(s.vol.id, outs, s.vol.inputs)).changes).toBe(false);
    expect(sha(s.vol.outs.path)).toBe(before);
  });

  it("Volume: forgotten only when the file is gone too, or libvirt says the volume is gone from its existing pool", async () => {
    const s = await poolWithVolume("refresh-gone");
    rmSync(s.vol.outs.path);
    expect((await volumeProvider.read!(s.vol.id, s.vol.outs)).id).toBeUndefined(); // VIR_ERR_NO_STORAGE_VOL in an existing pool
    const t = await poolWithVolume("refresh-gone2");
    undefinePool(t.name);
    rmSync(t.vol.outs.path);
    expect((await volumeProvider.read!(t.vol.id, t.vol.outs)).id).toBeUndefined();
  });

  it("Pool: kept while its directory holds files; the next update defines it again with the same UUID, nothing in the directory changed", async () => {
    const s = await poolWithVolume("refresh-pool");
    const before = sha(s.vol.outs.path);
    undefinePool(s.name);
    const read = await poolProvider.read!(s.pool.id, s.pool.outs);
    expect(read.id).toBe(s.pool.id);
    expect(read.props).toMatchObject({ defined: false, active: false, path: s.dir.dir });
    const props = read.props as Outs;
    expect((await poolProvider.diff!(s.pool.id, props, s.pool.inputs)).changes).toBe(true);
    const { outs } = await poolProvider.update!(s.pool.id, props, s.pool.inputs);
    expect(outs).toMatchObject({ active: true, uuid: s.pool.outs.uuid, volumes: ["data.qcow2"] });
    expect(outs.defined).toBeUndefined();
    expect(virsh(QEMU_URI, "pool-uuid", s.name)).toBe(s.pool.outs.uuid);
    expect(virsh(QEMU_URI, "pool-info", s.name)).toMatch(/State:\s+running/);
    expect(sha(s.vol.outs.path)).toBe(before);
    expect(existsSync(s.dir.dir)).toBe(true);
    // And the Volume reads normally again.
    const vol = await volumeProvider.read!(s.vol.id, s.vol.outs);
    expect(vol.props).toMatchObject({ path: s.vol.outs.path });
    expect((vol.props as Outs).poolMissing).toBeUndefined();
  });
});
