// Hardening: libvirtd killed (SIGKILL) in the middle of a create. The provider
// pauses right after its changing call in the
// providers this file builds with an afterCreate pause (provider/hooks.ts); the daemon is killed inside that window, so
// the create's next call finds the connection gone. The create must then report
// a partly created resource (ID and outputs, which Pulumi records) instead of a
// plain failure that would make Pulumi forget what exists; read (pulumi refresh)
// and update (pulumi up) must then converge. virsh says what is there.
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";
import type { ProviderHooks } from "../../provider";
import { startLibvirtd, stopLibvirtd } from "../helpers/daemon";
import { QEMU_URI, domainNames, domainState, makeImageDir, removeDomain, removePool, snapshotNames, uniqueName, virsh } from "../helpers/host";

/** How long the injected afterCreate pause lasts (0: none); a test sets it. */
let pauseMs = 0;
const hooks: ProviderHooks = {
  pause: async (point) => {
    if (point === "afterCreate" && pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
  },
};
const domainProvider = provider.makeDomainProvider(hooks);
const volumeProvider = provider.makeVolumeProvider(hooks);
const snapshotProvider = provider.makeSnapshotProvider(hooks);
const poolProvider = provider.makePoolProvider(hooks);
/** Stands in for the serialized provider Pulumi passes as `__provider`. */
const PROVIDER_KEY = "serialized-provider-text";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let images: ReturnType<typeof makeImageDir>;
const made = { domains: [] as string[], pools: [] as string[], dirs: [] as string[] };

beforeAll(() => {
  images = makeImageDir("killed");
});

afterEach(async () => {
  pauseMs = 0;
  startLibvirtd(); // whatever happened, the next test (and file) gets a daemon
});

afterAll(async () => {
  await provider.closeAllConnections();
  for (const name of made.domains) {
    removeDomain(QEMU_URI, name);
  }
  for (const p of made.pools) {
    removePool(QEMU_URI, p);
  }
  for (const d of made.dirs) rmSync(d, { recursive: true, force: true });
  images.remove();
});

/** A name for a pool and its directory (made, readable by QEMU), removed at the end. */
function newPoolDir(label: string): { poolName: string; dir: string } {
  const poolName = uniqueName(label);
  const dir = join("/var/lib/libvirt/images", poolName);
  made.pools.push(poolName);
  made.dirs.push(dir);
  mkdirSync(dir);
  chmodSync(dir, 0o755);
  return { poolName, dir };
}

interface Partial {
  message: string;
  id: string;
  properties: Record<string, unknown>;
  reasons: string[];
}

/**
 * Runs `create` with the pause on, kills libvirtd once `created()` sees the object
 * (so the changing call has been carried out), and returns what the create threw.
 */
async function killedDuringCreate(create: () => Promise<unknown>, created: () => boolean): Promise<Partial> {
  pauseMs = 4000;
  const outcome = create().then(
    () => new Error("the create succeeded although libvirtd was killed"),
    (err: unknown) => err,
  );
  for (let i = 0; i < 600 && !created(); i++) await sleep(50); // up to 30 s: a daemon that just started can be slow
  expect(created()).toBe(true);
  stopLibvirtd("SIGKILL");
  const err = (await outcome) as Partial & Error;
  startLibvirtd();
  return err;
}

function expectPartial(err: Partial, what: RegExp): void {
  expect(err).toBeInstanceOf(Error);
  expect(err.message).toMatch(what);
  expect(err.message).toMatch(/may or may not exist: it is recorded in the stack as partly created.*`pulumi refresh`.*`pulumi up`/);
  expect(err.reasons).toHaveLength(1);
  // Pulumi needs the provider key to call this provider for the resource again.
  expect(err.properties.__provider).toBe(PROVIDER_KEY);
}

describe("libvirtd killed during a create", () => {
  it("Domain: recorded with its UUID; refresh reads it, up starts it; nothing duplicated", async () => {
    const name = uniqueName("killed-dom");
    made.domains.push(name);
    const disk = images.qcow2(`${name}.qcow2`);
    const checked = await domainProvider.check!(
      {},
      { name, uri: QEMU_URI, memoryMiB: 64, shutdownTimeoutSeconds: 0, disks: [{ file: disk }], running: true },
    );
    const inputs = { ...checked.inputs, __provider: PROVIDER_KEY };

    const err = await killedDuringCreate(
      () => domainProvider.create!(inputs),
      () => domainNames(QEMU_URI).includes(name),
    );
    expectPartial(err, new RegExp(`domain "${name}" \\(uuid [0-9a-f-]{36}\\) may or may not exist`));
    const uuid = virsh(QEMU_URI, "domuuid", name);
    expect(err.id).toBe(uuid);
    expect(err.properties).toMatchObject({ name, uuid, uri: QEMU_URI, running: false, state: "nostate" });

    // pulumi refresh: read finds the domain, defined and never started.
    const read = await domainProvider.read!(err.id, err.properties);
    expect(read.id).toBe(uuid);
    expect(read.props).toMatchObject({ name, uuid, running: false, state: "shutoff", persistent: true });

    // pulumi up: the inputs say running, so update starts it.
    const updated = await domainProvider.update!(uuid, read.props, checked.inputs);
    expect(updated.outs).toMatchObject({ running: true, state: "running" });
    expect(domainState(QEMU_URI, name)).toBe("running");
    expect(domainNames(QEMU_URI).filter((n) => n === name)).toHaveLength(1);

    await domainProvider.delete!(uuid, updated.outs!);
    expect(domainNames(QEMU_URI)).not.toContain(name);
  });

  it("Volume: recorded by pool and name; refresh gives it its key; no orphan file", async () => {
    const { poolName, dir } = newPoolDir("killed-pool");
    const pool = await poolProvider.create!((await poolProvider.check!({}, { name: poolName, path: dir, uri: QEMU_URI })).inputs);
    const checked = await volumeProvider.check!({}, { name: "disk.qcow2", pool: poolName, uri: QEMU_URI, capacity: "8MiB" });
    const path = join(dir, "disk.qcow2");

    const err = await killedDuringCreate(
      () => volumeProvider.create!({ ...checked.inputs, __provider: PROVIDER_KEY }),
      () => existsSync(path),
    );
    expectPartial(err, /volume "disk.qcow2" in storage pool ".*" may or may not exist/);
    expect(err.id).toBe(`${poolName}/disk.qcow2`);

    const read = await volumeProvider.read!(err.id, err.properties);
    expect(read.id).toBe(path); // the real key from now on
    expect(read.props).toMatchObject({ name: "disk.qcow2", pool: poolName, path, format: "qcow2", capacity: 8 * 1024 * 1024 });
    expect(virsh(QEMU_URI, "vol-list", poolName)).toContain("disk.qcow2");

    // pulumi destroy then removes exactly that file.
    await volumeProvider.delete!(read.id!, read.props!);
    expect(existsSync(path)).toBe(false);
    await poolProvider.delete!(pool.id, pool.outs);
  });

  it("Snapshot: recorded as <domain uuid>/<name>; refresh reads its metadata, which survived", async () => {
    const name = uniqueName("killed-snap");
    made.domains.push(name);
    const disk = images.qcow2(`${name}.qcow2`);
    const dom = await domainProvider.create!(
      (await domainProvider.check!({}, { name, uri: QEMU_URI, memoryMiB: 64, disks: [{ file: disk }], running: false })).inputs,
    );
    const checked = await snapshotProvider.check!({}, { domain: dom.id, uri: QEMU_URI, name: "before" });

    const err = await killedDuringCreate(
      () => snapshotProvider.create!({ ...checked.inputs, __provider: PROVIDER_KEY }),
      () => snapshotNames(QEMU_URI, name).includes("before"),
    );
    expectPartial(err, new RegExp(`snapshot "before" of domain "${name}" may or may not exist`));
    expect(err.id).toBe(`${dom.id}/before`);

    const read = await snapshotProvider.read!(err.id, err.properties);
    expect(read.id).toBe(`${dom.id}/before`);
    expect(read.props).toMatchObject({ name: "before", domainUuid: dom.id, state: "shutoff" });
    expect(snapshotNames(QEMU_URI, name)).toEqual(["before"]);

    await snapshotProvider.delete!(read.id!, read.props!);
    expect(snapshotNames(QEMU_URI, name)).toEqual([]);
    await domainProvider.delete!(dom.id, dom.outs);
  });

  it("Pool: recorded with its UUID; refresh or up records what the directory held; those files are never deleted", async () => {
    const { poolName, dir } = newPoolDir("killed-pool2");
    writeFileSync(join(dir, "theirs.img"), "not made by Pulumi");
    const checked = await poolProvider.check!({}, { name: poolName, path: dir, uri: QEMU_URI, deleteVolumesOnDestroy: true });
    const poolNames = () =>
      virsh(QEMU_URI, "pool-list", "--all", "--name")
        .split("\n")
        .map((l) => l.trim());

    const err = await killedDuringCreate(
      () => poolProvider.create!({ ...checked.inputs, __provider: PROVIDER_KEY }),
      () => poolNames().includes(poolName),
    );
    expectPartial(err, new RegExp(`storage pool "${poolName}" \\(uuid [0-9a-f-]{36}\\) may or may not exist`));
    expect(err.id).toBe(virsh(QEMU_URI, "pool-uuid", poolName));
    expect(err.properties.preexistingFiles).toBeUndefined();

    // pulumi refresh: libvirt 9.0 starts a defined directory pool when the daemon starts
    // (measured), so this first reading of the running pool records what it holds.
    const read = await poolProvider.read!(err.id, err.properties);
    expect(read.props).toMatchObject({ name: poolName, active: true, preexistingFiles: ["theirs.img"] });
    // pulumi up without a refresh, the pool stopped meanwhile: the update builds and
    // starts it, and what the directory holds then counts as pre-existing.
    virsh(QEMU_URI, "pool-destroy", poolName);
    const updated = await poolProvider.update!(err.id, err.properties, checked.inputs);
    expect(updated.outs).toMatchObject({ active: true, preexistingFiles: ["theirs.img"] });

    // Even with deleteVolumesOnDestroy, the delete keeps the file it did not make.
    await poolProvider.delete!(err.id, updated.outs!);
    expect(poolNames()).not.toContain(poolName);
    expect(readFileSync(join(dir, "theirs.img"), "utf8")).toBe("not made by Pulumi");
  });

  it("a create that fails before anything was sent is a plain failure (nothing recorded)", async () => {
    stopLibvirtd("SIGKILL");
    const name = uniqueName("killed-before");
    const checked = await domainProvider.check!({}, { name, uri: QEMU_URI, memoryMiB: 64, running: false });
    const err = (await domainProvider.create!({ ...checked.inputs, __provider: PROVIDER_KEY }).catch((e: unknown) => e)) as Partial & Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.id).toBeUndefined();
    expect(err.message).toMatch(/libvirtd -d/);
    startLibvirtd();
    expect(domainNames(QEMU_URI)).not.toContain(name);
  });
});
