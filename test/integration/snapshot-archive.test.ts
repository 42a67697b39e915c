// The snapshot archive (README's teardown rules) on the real QEMU driver: the
// metadata-only cascade writes the domain's and every snapshot's XML beside the
// images before it undefines, and refuses when it cannot. Never boots a guest:
// the domains stay inactive, and the snapshots are internal ones qemu-img writes.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { provider } from "../helpers/lib";
import { createDomain, createDomainOnImage } from "../helpers/domains";
import { QEMU_URI, domainNames, makeImageDir, qcow2Snapshots, removeDomain, removePool, snapshotNames, uniqueName, virsh } from "../helpers/host";

const { domainProvider } = provider;
let images: ReturnType<typeof makeImageDir>;
const made: string[] = [];
const pools: string[] = [];
const immutable: string[] = [];

beforeAll(() => {
  images = makeImageDir("archive");
});

afterAll(async () => {
  for (const dir of immutable) execFileSync("chattr", ["-i", dir]);
  for (const name of made) removeDomain(QEMU_URI, name);
  for (const name of pools) removePool(QEMU_URI, name);
  await provider.closeAllConnections();
  images.remove();
});

const exists = (name: string) => domainNames(QEMU_URI).includes(name);

/** A parent snapshot and its child, taken by virsh on the inactive domain (internal qcow2 snapshots). */
function twoSnapshots(name: string): void {
  virsh(QEMU_URI, "snapshot-create-as", name, "parent", "--description", "the first");
  virsh(QEMU_URI, "snapshot-create-as", name, "child", "--description", "the second");
}

/** Runs the delete, collecting what the provider prints for the engine. */
async function deleteLogged(id: string, props: Record<string, unknown>): Promise<string> {
  const spy = vi.spyOn(console, "error").mockImplementation(() => undefined);
  try {
    await domainProvider.delete!(id, props);
    return spy.mock.calls.map((c) => c.join(" ")).join("\n");
  } finally {
    spy.mockRestore();
  }
}

function expectArchive(text: string, name: string): void {
  const archive = JSON.parse(text);
  expect(archive.format).toBe("libvirt-pulumi-snapshot-archive");
  expect(archive.version).toBe(1);
  expect(archive.secure).toBe(false);
  expect(archive.domain.name).toBe(name);
  expect(archive.domain.xml).toMatch(new RegExp(`<name>${name}</name>`));
  expect(archive.snapshots.map((s: { name: string }) => s.name)).toEqual(["parent", "child"]);
  const [parent, child] = archive.snapshots;
  expect(parent).toMatchObject({ parent: null, isCurrent: false });
  expect(child).toMatchObject({ parent: "parent", isCurrent: true });
  for (const s of archive.snapshots) {
    expect(s.xml).toMatch(new RegExp(`<name>${s.name}</name>`));
    expect(typeof s.creationTime).toBe("number");
    expect(s.xml).toContain(`<creationTime>${s.creationTime}</creationTime>`);
  }
  expect(child.xml).toMatch(/<parent>\s*<name>parent<\/name>/);
  expect(child.xml).toContain("<description>the second</description>");
}

describe("the snapshot archive on qemu:///system", () => {
  it("a file image: the archive is written beside it, named in the log, and the contents stay in the image", async () => {
    const m = await createDomainOnImage(images, "file", { running: false }, made);
    twoSnapshots(m.name);

    const log = await deleteLogged(m.id, { ...m.outs, deleteSnapshotsOnDestroy: true });
    expect(exists(m.name)).toBe(false);
    const files = readdirSync(images.dir).filter((f) => f.startsWith(`${m.name}.snapshots-`) && f.endsWith(".json"));
    expect(files).toHaveLength(1);
    const path = join(images.dir, files[0]);
    expect(log).toContain(`archived the domain XML and its 2 snapshots' XML to file ${path}`);
    expectArchive(readFileSync(path, "utf8"), m.name);
    expect(qcow2Snapshots(m.disk)).toEqual(["parent", "child"]);
  });

  it("a pool volume: the archive is a volume of that pool, uploaded and read back through libvirt", async () => {
    const pool = uniqueName("archive-pool");
    pools.push(pool);
    const poolDir = join(images.dir, "pool");
    virsh(QEMU_URI, "pool-create-as", pool, "dir", "--target", poolDir, "--build");
    virsh(QEMU_URI, "vol-create-as", pool, "disk.qcow2", "16M", "--format", "qcow2");
    const m = await createDomain("volume", { running: false, disks: [{ volume: { pool, name: "disk.qcow2" }, format: "qcow2" }] }, made);
    twoSnapshots(m.name);

    const log = await deleteLogged(m.id, { ...m.outs, deleteSnapshotsOnDestroy: true });
    expect(exists(m.name)).toBe(false);
    virsh(QEMU_URI, "pool-refresh", pool);
    const vol = virsh(QEMU_URI, "vol-list", pool)
      .split("\n")
      .map((l) => l.trim().split(/\s+/)[0])
      .find((v) => v.startsWith(`${m.name}.snapshots-`));
    expect(vol).toBeDefined();
    expect(log).toContain(`to volume "${vol}" of storage pool "${pool}" (${join(poolDir, vol!)})`);
    expectArchive(readFileSync(join(poolDir, vol!), "utf8"), m.name);
    expect(qcow2Snapshots(join(poolDir, "disk.qcow2"))).toEqual(["parent", "child"]);
  });

  it("an archive that cannot be written (an immutable directory): refused, the domain and its snapshots stay", async () => {
    const dir = join(images.dir, "locked");
    execFileSync("mkdir", ["-p", dir]);
    const disk = join(dir, "locked.qcow2");
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", disk, "16M"]);
    const m = await createDomain("refused", { running: false, disks: [{ file: disk }] }, made);
    twoSnapshots(m.name);
    // root writes through a read-only mode; an immutable directory stops even root.
    execFileSync("chattr", ["+i", dir]);
    immutable.push(dir);

    await expect(domainProvider.delete!(m.id, { ...m.outs, deleteSnapshotsOnDestroy: true })).rejects.toThrow(
      /refusing to delete domain .*\(nothing was changed on this domain\).*writing the archive to file .*locked.*failed/,
    );
    expect(exists(m.name)).toBe(true);
    expect(snapshotNames(QEMU_URI, m.name).sort()).toEqual(["child", "parent"]);
    expect(virsh(QEMU_URI, "snapshot-current", m.name, "--name")).toBe("child");
    expect(readdirSync(dir)).toEqual(["locked.qcow2"]);
  });
});
