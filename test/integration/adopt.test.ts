// adopt: true on qemu:///system: objects made with virsh (outside any stack) are
// taken over when they match the inputs and then managed like any other,
// teardown rules included; a mismatch is refused listing each property, and
// virsh shows the object unchanged. virsh and qemu-img say independently what
// libvirt has. No guest is started (the domain boots no OS and stays shut off);
// the network has no <ip>, so no address reaches the host.
import { existsSync, readdirSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { providerCalls } from "../helpers/provider-calls";
import { provider } from "../helpers/lib";
import { defineDomainByHand } from "../helpers/domains";
import {
  QEMU_URI,
  domainNames,
  domainState,
  makeImageDir,
  netInfo,
  networkNames,
  qcow2Snapshots,
  removeDomain,
  removePool,
  snapshotNames,
  uniqueName,
  virsh,
  virshTry,
  volumeNames,
} from "../helpers/host";

const { domainProvider: dp, snapshotProvider: sp, poolProvider: pp, volumeProvider: vp, networkProvider: np } = provider;
const { AdoptMismatchError, TeardownRefusedError } = provider;

let images: ReturnType<typeof makeImageDir>;
const made = { domains: [] as string[], pools: [] as string[], networks: [] as string[] };

beforeAll(() => {
  images = makeImageDir("adopt");
});

afterAll(async () => {
  await provider.closeAllConnections();
  for (const d of made.domains) removeDomain(QEMU_URI, d);
  for (const p of made.pools) removePool(QEMU_URI, p);
  for (const n of made.networks) {
    virshTry(QEMU_URI, "net-destroy", n);
    virshTry(QEMU_URI, "net-undefine", n);
  }
  images.remove();
});

/** The engine's diff for unchanged inputs right after the adoption: the adopted object matches, so no change is planned. */
async function expectNoChange(
  p: { diff?: (id: string, olds: any, news: any) => Promise<any> },
  id: string,
  outs: object,
  inputs: object,
): Promise<void> {
  const d = await p.diff!(id, outs, inputs);
  expect(d.changes, JSON.stringify(d)).toBe(false);
}

const { checked, create, createFails } = providerCalls(QEMU_URI);

const dumpxml = (name: string) => virsh(QEMU_URI, "dumpxml", "--inactive", name);
const maxMemoryKiB = (name: string) => /Max memory:\s+(\d+) KiB/.exec(virsh(QEMU_URI, "dominfo", name))![1];
const snapshotDescription = (domain: string, snap: string) =>
  /<description>([^<]*)<\/description>/.exec(virsh(QEMU_URI, "snapshot-dumpxml", domain, snap))?.[1];

describe("Domain and Snapshot adopt on qemu:///system", () => {
  it("a virsh-defined domain with two virsh snapshots: a mismatch is refused and nothing changes; then adopted, refreshed, updated, refused on destroy, cascaded", async () => {
    const disk = images.qcow2("adopt-vm.qcow2");
    const name = defineDomainByHand("adopt-vm", { disks: [{ file: disk }] }, made.domains);
    virsh(QEMU_URI, "snapshot-create-as", name, "s1", "--description", "first");
    virsh(QEMU_URI, "snapshot-create-as", name, "s2", "--description", "second");
    const uuid = virsh(QEMU_URI, "domuuid", name);
    const before = dumpxml(name);
    const inputs = { name, memoryMiB: 64, disks: [{ file: disk }], running: false, shutdownTimeoutSeconds: 0 };

    // Without adopt: refused as before.
    const refused = await createFails(dp, inputs);
    expect(refused.message).toMatch(new RegExp(`a domain "${name}" \\(uuid ${uuid}\\) already exists`));
    expect(refused.message).toMatch(/set `adopt: true`/);

    // A mismatch (memory; running defaults to true): refused listing it, and virsh shows the domain unchanged, not started.
    const mismatch = await createFails(dp, { ...inputs, memoryMiB: 128, running: true, adopt: true });
    expect(mismatch).toBeInstanceOf(AdoptMismatchError);
    expect(mismatch.message).toMatch(/in 1 property: memoryMiB: 128 in the inputs, 64 in libvirt\. Nothing was changed/);
    expect(dumpxml(name)).toBe(before);
    expect(domainState(QEMU_URI, name)).toBe("shut off");
    expect(snapshotNames(QEMU_URI, name)).toEqual(["s1", "s2"]);

    // Adopted: the same domain (its UUID), its snapshots seen.
    const vm = await create(dp, { ...inputs, adopt: true });
    expect(vm.id).toBe(uuid);
    expect(vm.outs).toMatchObject({ adopted: true, uuid, state: "shutoff", snapshots: ["s1", "s2"], memoryMiB: 64 });
    expect(dumpxml(name)).toBe(before);
    await expectNoChange(dp, vm.id, vm.outs, vm.inputs);

    // Its two snapshots: a different description is refused; the matching ones adopted.
    const snapMismatch = await createFails(sp, { domain: uuid, name: "s1", description: "other", adopt: true });
    expect(snapMismatch.message).toMatch(/cannot adopt snapshot "s1" of domain .*description: "other" in the inputs, "first" in libvirt/);
    const s1 = await create(sp, { domain: uuid, name: "s1", description: "first", memory: "none", adopt: true });
    const s2 = await create(sp, { domain: uuid, name: "s2", description: "second", adopt: true });
    expect(s1.outs).toMatchObject({ adopted: true, name: "s1", description: "first", children: ["s2"] });
    expect(s2.outs).toMatchObject({ adopted: true, name: "s2", description: "second", parent: "s1", isCurrent: true });
    await expectNoChange(sp, s1.id, s1.outs, s1.inputs);
    await expectNoChange(sp, s2.id, s2.outs, s2.inputs);

    // read (refresh) sees them, as virsh does.
    const read = await dp.read!(vm.id, vm.outs);
    expect(read.props).toMatchObject({ adopted: true, snapshots: ["s1", "s2"] });
    const s1Read = await sp.read!(s1.id, s1.outs);
    expect(s1Read.props).toMatchObject({ adopted: true, description: "first" });

    // Updates are applied: the domain's memory, a snapshot's description; virsh sees both.
    const vmNews = await checked(dp, { ...inputs, adopt: true, memoryMiB: 96 });
    const vmUpdated = await dp.update!(vm.id, read.props, vmNews);
    expect(vmUpdated.outs).toMatchObject({ adopted: true, memoryMiB: 96 });
    expect(maxMemoryKiB(name)).toBe(String(96 * 1024));
    const s1News = await checked(sp, { ...s1.inputs, description: "first, edited" });
    await sp.update!(s1.id, s1Read.props, s1News);
    expect(snapshotDescription(name, "s1")).toBe("first, edited");

    // Teardown rules apply: the delete is refused naming the snapshots, and nothing changes.
    const afterUpdate = dumpxml(name);
    const err = await dp.delete!(vm.id, vmUpdated.outs).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(TeardownRefusedError);
    expect(err!.message).toMatch(/refusing to delete domain .*2 snapshots \("s1", "s2"\).*deleteSnapshotsOnDestroy: true/);
    expect(domainNames(QEMU_URI)).toContain(name);
    expect(dumpxml(name)).toBe(afterUpdate);
    expect(snapshotNames(QEMU_URI, name)).toEqual(["s1", "s2"]);

    // deleteSnapshotsOnDestroy (recorded by an update) cascades: libvirt's metadata goes, the contents stay in the image.
    const cascadeNews = await checked(dp, { ...inputs, adopt: true, memoryMiB: 96, deleteSnapshotsOnDestroy: true });
    const cascade = await dp.update!(vm.id, vmUpdated.outs, cascadeNews);
    await dp.delete!(vm.id, cascade.outs);
    expect(domainNames(QEMU_URI)).not.toContain(name);
    expect(qcow2Snapshots(disk).sort()).toEqual(["s1", "s2"]);
  });
});

describe("Pool, Volume and Network adopt on qemu:///system", () => {
  it("a virsh-defined pool and a virsh-made volume: mismatches refused with nothing changed, then adopted; the pool's files are kept on delete", async () => {
    const pool = uniqueName("adopt-pool");
    const dir = join(images.dir, "pool");
    made.pools.push(pool);
    virsh(QEMU_URI, "pool-define-as", pool, "dir", "--target", dir);
    virsh(QEMU_URI, "pool-build", pool);
    writeFileSync(join(dir, "keep.img"), "kept");
    const uuid = virsh(QEMU_URI, "pool-uuid", pool);
    const poolState = () => /State:\s+(\S+)/.exec(virsh(QEMU_URI, "pool-info", pool))![1];
    expect(poolState()).toBe("inactive");

    expect((await createFails(pp, { name: pool, path: dir })).message).toMatch(/already exists.*set `adopt: true`/);
    const mismatch = await createFails(pp, { name: pool, path: join(images.dir, "elsewhere"), adopt: true });
    expect(mismatch).toBeInstanceOf(AdoptMismatchError);
    expect(mismatch.message).toMatch(new RegExp(`path: "${images.dir}/elsewhere" in the inputs, "${dir}" in libvirt`));
    expect(poolState()).toBe("inactive"); // not started

    const p = await create(pp, { name: pool, path: dir, adopt: true });
    expect(p.id).toBe(uuid);
    expect(p.outs).toMatchObject({ adopted: true, createdDirectory: false, preexistingFiles: ["keep.img"], active: true });
    expect(poolState()).toBe("running");
    await expectNoChange(pp, p.id, p.outs, p.inputs);

    virsh(QEMU_URI, "vol-create-as", pool, "data.qcow2", "1M", "--format", "qcow2");
    const volInfo = () => virsh(QEMU_URI, "vol-info", "--bytes", "--pool", pool, "data.qcow2");
    const before = volInfo();
    const volMismatch = await createFails(vp, { pool, name: "data.qcow2", capacity: "2MiB", adopt: true });
    expect(volMismatch.message).toMatch(/cannot adopt volume "data.qcow2" .*capacity: 2097152 in the inputs, 1048576 in libvirt/);
    expect(volInfo()).toBe(before);
    const vol = await create(vp, { pool, name: "data.qcow2", capacity: "1MiB", adopt: true });
    expect(vol.outs).toMatchObject({ adopted: true, capacity: 1048576, format: "qcow2", path: join(dir, "data.qcow2") });
    await expectNoChange(vp, vol.id, vol.outs, vol.inputs);

    // Managed like any other: grown in place, then deleted by the Volume rules.
    const grown = await vp.update!(vol.id, vol.outs, await checked(vp, { ...vol.inputs, capacity: "2MiB" }));
    expect(grown.outs.capacity).toBe(2097152);
    expect(volInfo()).toMatch(/Capacity:\s+2097152 bytes/);
    await vp.delete!(vol.id, grown.outs);
    expect(volumeNames(QEMU_URI, pool)).toEqual(["keep.img"]);

    // The pool's delete keeps the file it found and the directory it did not make.
    await pp.delete!(p.id, p.outs);
    expect(virshTry(QEMU_URI, "pool-info", pool).ok).toBe(false);
    expect(readdirSync(dir)).toEqual(["keep.img"]);
  });

  it("a virsh-defined network without addresses: a mismatch is refused and it stays stopped; then adopted and started", async () => {
    const net = uniqueName("adopt-net");
    made.networks.push(net);
    const file = join(tmpdir(), `${net}.xml`);
    // No <ip>: nothing on the host gets an address (see network.test.ts).
    writeFileSync(file, `<network><name>${net}</name></network>`);
    try {
      virsh(QEMU_URI, "net-define", file);
    } finally {
      rmSync(file, { force: true });
    }
    const uuid = netInfo(QEMU_URI, net).UUID;
    expect(netInfo(QEMU_URI, net).Active).toBe("no");

    expect((await createFails(np, { name: net, mode: "isolated" })).message).toMatch(/already exists there.*set `adopt: true`/);
    const mismatch = await createFails(np, { name: net, mode: "isolated", mtu: 9000, adopt: true });
    expect(mismatch).toBeInstanceOf(AdoptMismatchError);
    expect(mismatch.message).toMatch(/in 1 property: mtu: 9000 in the inputs, none in libvirt/);
    expect(netInfo(QEMU_URI, net).Active).toBe("no");

    const n = await create(np, { name: net, mode: "isolated", adopt: true });
    expect(n.id).toBe(uuid);
    expect(n.outs).toMatchObject({ adopted: true, mode: "isolated", active: true, addresses: [] });
    expect(netInfo(QEMU_URI, net).Active).toBe("yes");
    await expectNoChange(np, n.id, n.outs, n.inputs);
    await np.delete!(n.id, n.outs);
    expect(networkNames(QEMU_URI)).not.toContain(net);
    expect(existsSync(`/sys/class/net/${n.outs.bridgeName}`)).toBe(false);
  });
});
