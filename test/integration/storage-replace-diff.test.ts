// Issue 11 item 2 (storage), at the provider level: diff refuses a replacement
// exactly when the delete it implies would be refused, and lets the others through.
// The CLI-level test is e2e/storage-replace.test.ts.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";
import { failing } from "../helpers/failure";
import { defineDomainByHand } from "../helpers/domains";
import { QEMU_URI, makeImageDir, removeDomain, removePool, uniqueName, virsh } from "../helpers/host";

const { poolProvider, volumeProvider } = provider;
const dirs: Array<ReturnType<typeof makeImageDir>> = [];
const pools = new Set<string>();
const domains = new Set<string>();
afterAll(async () => {
  await provider.closeAllConnections();
  for (const d of domains) removeDomain(QEMU_URI, d);
  for (const p of pools) removePool(QEMU_URI, p);
  for (const d of dirs) d.remove();
});

type Outs = Record<string, unknown> & { path: string; name: string };
async function setup(label: string, poolExtra: Record<string, unknown> = {}) {
  const dir = makeImageDir(label);
  dirs.push(dir);
  const name = uniqueName(label);
  pools.add(name);
  const pc = await poolProvider.check!({}, { name, path: dir.dir, uri: QEMU_URI, ...poolExtra });
  const pool = await poolProvider.create!(pc.inputs);
  const vc = await volumeProvider.check!({}, { name: "disk.qcow2", pool: name, uri: QEMU_URI, capacity: "8MiB" });
  const vol = await volumeProvider.create!(vc.inputs);
  return {
    dir,
    name,
    pool: { id: pool.id, outs: pool.outs as Outs, inputs: pc.inputs },
    vol: { id: vol.id, outs: vol.outs as Outs, inputs: vc.inputs },
  };
}
function defineOn(disk: string): string {
  return defineDomainByHand("rdiff", { disks: [{ file: disk }] }, domains);
}

describe("diff of a storage replacement runs the delete's rules", () => {
  it("Volume: allowed while nothing needs it; refused once a domain needs it through an overlay outside any pool", async () => {
    const s = await setup("rdiff-vol");
    const news = { ...s.vol.inputs, format: "raw" };
    expect(await volumeProvider.diff!(s.vol.id, s.vol.outs, news)).toMatchObject({ replaces: ["format"], deleteBeforeReplace: true });
    const ovDir = makeImageDir("rdiff-ov");
    dirs.push(ovDir);
    const overlay = join(ovDir.dir, "ov.qcow2");
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", "-b", s.vol.outs.path, "-F", "qcow2", overlay]);
    const dom = defineOn(overlay);
    const { err } = await failing(() => volumeProvider.diff!(s.vol.id, s.vol.outs, news));
    expect(err.message).toMatch(
      new RegExp(`refusing to replace volume "disk.qcow2" .*changed: format; nothing was changed.*1 domain still uses it as a disk \\("${dom}"\\)`),
    );
    expect(existsSync(s.vol.outs.path)).toBe(true);
    // An unknown replacing value is not refused in the preview (it may not change).
    const unknown = await volumeProvider.diff!(s.vol.id, s.vol.outs, { ...s.vol.inputs, name: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" });
    expect(unknown.replaces).toContain("name");
  });

  it("Pool: refused while it holds a volume; with deleteVolumesOnDestroy only while the Volume rules refuse one of them", async () => {
    const s = await setup("rdiff-pool");
    const moved = { ...s.pool.inputs, path: `${s.dir.dir}-moved` };
    const held = await failing(() => poolProvider.diff!(s.pool.id, s.pool.outs, moved));
    expect(held.err.message).toMatch(
      new RegExp(`refusing to replace storage pool "${s.name}" \\(changed: path; nothing was changed\\).*holds 1 volume \\("disk.qcow2"\\)`),
    );

    const cascading = { ...s.pool.outs, deleteVolumesOnDestroy: true };
    expect(await poolProvider.diff!(s.pool.id, cascading, { ...moved, deleteVolumesOnDestroy: true })).toMatchObject({ replaces: ["path"] });
    const dom = defineOn(s.vol.outs.path);
    const used = await failing(() => poolProvider.diff!(s.pool.id, cascading, { ...moved, deleteVolumesOnDestroy: true }));
    expect(used.err.message).toMatch(
      new RegExp(`refusing to replace storage pool .*volume "disk.qcow2": 1 domain still uses it as a disk \\("${dom}"\\)`),
    );
    expect(virsh(QEMU_URI, "pool-info", s.name)).toMatch(/State:\s+running/);
  });
});
