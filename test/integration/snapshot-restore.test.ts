// restoreSnapshotsFrom on the real QEMU driver: a domain's snapshots archived by
// the metadata-only cascade are taken back by a new Domain on the same disks, the
// tree exactly as it was, and a revert really returns the disk to its content
// then. Snapshots whose contents are gone are skipped (with their descendants),
// never redefined blind. No real guest: a no-OS VM runs for the internal
// snapshots with memory, markers are written into the disk through QEMU's
// monitor (qemu-io) and read back with qemu-io on the image.
import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { built, logged, provider } from "../helpers/lib";
import { createDomain, createDomainOnImage } from "../helpers/domains";
import {
  QEMU_URI,
  domainNames,
  makeImageDir,
  qcow2Snapshots,
  removeDomain,
  removePool,
  snapshotNames,
  uniqueName,
  virsh,
  virshTry,
  volumeNames,
} from "../helpers/host";

const { domainProvider, snapshotProvider } = provider;
const { imageContents } = built<typeof import("../../provider/storage/image-probe")>("provider/storage/image-probe");
let images: ReturnType<typeof makeImageDir>;
const made: string[] = [];
const pools: string[] = [];

beforeAll(() => {
  images = makeImageDir("restore");
});

afterAll(async () => {
  for (const name of made) removeDomain(QEMU_URI, name);
  for (const name of pools) removePool(QEMU_URI, name);
  await provider.closeAllConnections();
  images.remove();
});

const exists = (name: string) => domainNames(QEMU_URI).includes(name);

/** Writes 64 KiB of `byte` at offset 0 of the running domain's vda and flushes it, through QEMU's monitor (the VM holds the image's lock). */
function writeMarker(domain: string, byte: string): void {
  for (const command of [`write -P ${byte} 0 64k`, "flush"])
    virsh(QEMU_URI, "qemu-monitor-command", domain, "--hmp", `qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend "${command}"`);
}

/** Whether the image (read through its backing chain) has 64 KiB of `byte` at offset 0, as qemu-io reads it. */
function hasMarker(file: string, byte: string): boolean {
  const r = spawnSync("qemu-io", ["-r", "-U", "-f", "qcow2", "-c", `read -P ${byte} 0 64k`, file], { encoding: "utf8" });
  return r.status === 0 && !/Pattern verification failed/.test(r.stdout + r.stderr);
}

/** What virsh shows of the snapshot tree: the tree, each name with its parent, the current one, each description. */
function treeOf(domain: string) {
  const names = snapshotNames(QEMU_URI, domain);
  return {
    tree: virsh(QEMU_URI, "snapshot-list", domain, "--tree"),
    parents: virsh(QEMU_URI, "snapshot-list", domain, "--parent"),
    current: virsh(QEMU_URI, "snapshot-current", domain, "--name"),
    descriptions: Object.fromEntries(
      names.map((n) => [n, /<description>([^<]*)<\/description>/.exec(virsh(QEMU_URI, "snapshot-dumpxml", domain, n))?.[1]]),
    ),
  };
}

function archiveBeside(dir: string, domain: string): string {
  const files = readdirSync(dir).filter((f) => f.startsWith(`${domain}.snapshots-`) && f.endsWith(".json"));
  expect(files).toHaveLength(1);
  return join(dir, files[0]);
}

describe("restoreSnapshotsFrom on qemu:///system", () => {
  it("a three-level tree (internal with memory, and an external disk-only child) comes back identical, and a revert returns the disk's content", async () => {
    const m = await createDomainOnImage(images, "tree", { running: true }, made);
    const overlay = join(images.dir, `${m.name}-s3.qcow2`);
    virsh(QEMU_URI, "snapshot-create-as", m.name, "s1", "--description", "the first");
    writeMarker(m.name, "0x22");
    virsh(QEMU_URI, "snapshot-create-as", m.name, "s2", "--description", "the second");
    writeMarker(m.name, "0x33");
    virsh(QEMU_URI, "snapshot-create-as", m.name, "s3", "--description", "the third", "--disk-only", "--diskspec", `vda,file=${overlay}`);
    writeMarker(m.name, "0x44");
    const before = treeOf(m.name);
    expect(before.current).toBe("s3");
    expect(qcow2Snapshots(m.disk)).toEqual(["s1", "s2"]);
    // The markers as they are: the base frozen at s3's moment, the overlay with the writes since.
    expect(hasMarker(m.disk, "0x33")).toBe(true);
    expect(hasMarker(overlay, "0x44")).toBe(true);

    const { log: deleteLog } = await logged(() => domainProvider.delete!(m.id, { ...m.outs, deleteSnapshotsOnDestroy: true }));
    expect(exists(m.name)).toBe(false);
    const path = archiveBeside(images.dir, m.name);
    expect(deleteLog).toContain(`to file ${path}`);
    const archive = JSON.parse(readFileSync(path, "utf8"));
    expect(archive.snapshots.map((s: { name: string; parent: string | null; isCurrent: boolean }) => [s.name, s.parent, s.isCurrent])).toEqual([
      ["s1", null, false],
      ["s2", "s1", false],
      ["s3", "s2", true],
    ]);

    // A new Domain of the same name on the same disk input (the base image, as the program said before).
    const started = Date.now();
    const { value: again, log } = await logged(() =>
      createDomain("tree", { running: false, disks: [{ file: m.disk }], restoreSnapshotsFrom: path }, made, m.name),
    );
    const restoreMs = Date.now() - started;
    expect(again.outs.restoredSnapshots).toEqual(["s1", "s2", "s3"]);
    expect(again.outs.skippedSnapshots).toEqual([]);
    expect(again.outs.snapshots).toEqual(["s1", "s2", "s3"]);
    expect(log).toContain(`domain "${m.name}": restored 3 snapshots "s1", "s2", "s3" from file ${path}`);
    expect(again.id).not.toBe(m.id);
    expect(treeOf(m.name)).toEqual(before);
    // The disk goes on from the overlay (the writes since s3), not from the base under it.
    expect(virsh(QEMU_URI, "domblklist", m.name)).toMatch(new RegExp(`vda\\s+${overlay}`));
    console.log(`restore of 3 snapshots (archive read, contents checked, define, 3 redefines): ${restoreMs} ms`);

    // A Snapshot resource of the stack named like a restored one adopts it (same creation time), once.
    const s2 = archive.snapshots[1];
    const checked = await snapshotProvider.check!({}, { domain: again.id, uri: QEMU_URI, name: "s2", description: "the second" });
    expect(checked.failures).toEqual([]);
    const adopted = await logged(() => snapshotProvider.create!(checked.inputs));
    expect(adopted.value.id).toBe(`${again.id}/s2`);
    expect(adopted.value.outs).toMatchObject({ name: "s2", parent: "s1", creationTime: s2.creationTime, description: "the second" });
    expect(adopted.log).toContain("adopted the snapshot the domain's restoreSnapshotsFrom redefined");
    expect(snapshotNames(QEMU_URI, m.name)).toEqual(["s1", "s2", "s3"]);
    await expect(snapshotProvider.create!(checked.inputs)).rejects.toThrow(/already has a snapshot named "s2"/);
    // A snapshot made by hand is never adopted.
    virsh(QEMU_URI, "snapshot-create-as", m.name, "by-hand");
    const byHand = await snapshotProvider.check!({}, { domain: again.id, uri: QEMU_URI, name: "by-hand" });
    await expect(snapshotProvider.create!(byHand.inputs)).rejects.toThrow(/already has a snapshot named "by-hand"/);
    virsh(QEMU_URI, "snapshot-delete", m.name, "by-hand");
    virsh(QEMU_URI, "snapshot-current", m.name, "s3");

    // Revert to the middle snapshot: libvirt loads s2 (memory and disk) and the disk has s2's marker again.
    virsh(QEMU_URI, "snapshot-revert", m.name, "s2");
    expect(virsh(QEMU_URI, "domstate", m.name)).toBe("running");
    virsh(QEMU_URI, "destroy", m.name);
    expect(hasMarker(m.disk, "0x22")).toBe(true);
    expect(hasMarker(m.disk, "0x33")).toBe(false);
    expect(virsh(QEMU_URI, "snapshot-current", m.name, "--name")).toBe("s2");
  });

  it("an internal snapshot deleted from the image: it and its descendants are reported skipped, the rest restored", async () => {
    const m = await createDomainOnImage(images, "gone", { running: false }, made);
    // b1 → b2 → b3, and b1 → other (internal snapshots of the shut-off domain, qemu-img's).
    for (const s of ["b1", "other"]) virsh(QEMU_URI, "snapshot-create-as", m.name, s, "--description", `about ${s}`);
    virsh(QEMU_URI, "snapshot-current", m.name, "b1");
    for (const s of ["b2", "b3"]) virsh(QEMU_URI, "snapshot-create-as", m.name, s);
    await logged(() => domainProvider.delete!(m.id, { ...m.outs, deleteSnapshotsOnDestroy: true }));
    const path = archiveBeside(images.dir, m.name);
    execFileSync("qemu-img", ["snapshot", "-d", "b2", m.disk]);
    expect(qcow2Snapshots(m.disk)).toEqual(["b1", "other", "b3"]);

    const { value: again, log } = await logged(() =>
      createDomain("gone", { running: false, disks: [{ file: m.disk }], restoreSnapshotsFrom: path }, made, m.name),
    );
    expect(again.outs.restoredSnapshots).toEqual(["b1", "other"]);
    expect(again.outs.skippedSnapshots).toEqual([
      { name: "b2", reason: expect.stringMatching(new RegExp(`the internal snapshot "b2" is not in the image ${m.disk} of its disk vda`)) },
      { name: "b3", reason: 'its parent "b2" is skipped' },
    ]);
    expect(log).toMatch(/skipped 2 snapshots, never redefined blind: "b2" \(.*\); "b3" \(its parent "b2" is skipped\)/);
    expect(log).toContain(`the archive's current snapshot "b3" is skipped, so the domain has no current snapshot`);
    expect(virshTry(QEMU_URI, "snapshot-current", m.name, "--name")).toMatchObject({ ok: false, out: expect.stringMatching(/no current snapshot/i) });
    expect(virsh(QEMU_URI, "snapshot-list", m.name, "--tree")).toMatch(/^b1\s+\|\s+\+- other$/);
    expect(virsh(QEMU_URI, "snapshot-dumpxml", m.name, "other")).toContain("<description>about other</description>");
    // The skipped one's contents stay where they are.
    expect(qcow2Snapshots(m.disk)).toContain("b3");
    // An update that redefines the domain keeps the restore mark: a Snapshot resource still adopts afterwards.
    const updated = await domainProvider.update!(again.id, again.outs, { ...again.inputs, vcpus: 2 });
    expect(updated.outs).toMatchObject({ vcpus: 2, restoredSnapshots: ["b1", "other"] });
    const other = await snapshotProvider.check!({}, { domain: again.id, uri: QEMU_URI, name: "other" });
    const adopted = await logged(() => snapshotProvider.create!(other.inputs));
    expect(adopted.value.outs).toMatchObject({ name: "other", parent: "b1", description: "about other" });
  });

  it("an external overlay that no longer sits on the disk's image: skipped, and the new domain stays on the image its input names", async () => {
    const m = await createDomainOnImage(images, "rebased", { running: false }, made);
    const overlay = join(images.dir, `${m.name}-e2.qcow2`);
    const other = images.qcow2(`${m.name}-other.qcow2`);
    virsh(QEMU_URI, "snapshot-create-as", m.name, "e1");
    virsh(QEMU_URI, "snapshot-create-as", m.name, "e2", "--disk-only", "--diskspec", `vda,file=${overlay}`);
    await logged(() => domainProvider.delete!(m.id, { ...m.outs, deleteSnapshotsOnDestroy: true }));
    const path = archiveBeside(images.dir, m.name);
    // Someone rebased the overlay onto another image: e2's contents are not what it recorded.
    execFileSync("qemu-img", ["rebase", "-u", "-f", "qcow2", "-F", "qcow2", "-b", other, overlay]);

    const { value: again } = await logged(() =>
      createDomain("rebased", { running: false, disks: [{ file: m.disk }], restoreSnapshotsFrom: path }, made, m.name),
    );
    expect(again.outs.restoredSnapshots).toEqual(["e1"]);
    expect(again.outs.skippedSnapshots).toEqual([
      {
        name: "e2",
        reason: `the overlay ${overlay} it made for disk vda is backed by ${other}, not by ${m.disk} (the disk's image when the snapshot was taken)`,
      },
    ]);
    expect(snapshotNames(QEMU_URI, m.name)).toEqual(["e1"]);
    expect(virsh(QEMU_URI, "domblklist", m.name)).toMatch(new RegExp(`vda\\s+${m.disk}`));
  });

  it("a volume disk: the archive volume is read through libvirt ({ pool, name }) and the snapshots come back", async () => {
    const pool = uniqueName("restore-pool");
    pools.push(pool);
    virsh(QEMU_URI, "pool-create-as", pool, "dir", "--target", join(images.dir, "pool"), "--build");
    virsh(QEMU_URI, "vol-create-as", pool, "disk.qcow2", "16M", "--format", "qcow2");
    const disks = [{ volume: { pool, name: "disk.qcow2" }, format: "qcow2" }];
    const m = await createDomain("volume", { running: false, disks }, made);
    virsh(QEMU_URI, "snapshot-create-as", m.name, "v1", "--description", "in a pool");
    virsh(QEMU_URI, "snapshot-create-as", m.name, "v2");
    const before = treeOf(m.name);
    await logged(() => domainProvider.delete!(m.id, { ...m.outs, deleteSnapshotsOnDestroy: true }));
    const vol = volumeNames(QEMU_URI, pool).find((v) => v.startsWith(`${m.name}.snapshots-`));
    expect(vol).toBeDefined();

    const { value: again } = await logged(() =>
      createDomain("volume", { running: false, disks, restoreSnapshotsFrom: { pool, name: vol! } }, made, m.name),
    );
    expect(again.outs.restoredSnapshots).toEqual(["v1", "v2"]);
    expect(again.outs.restoreSnapshotsFrom).toEqual({ pool, name: vol });
    expect(treeOf(m.name)).toEqual(before);
    // What a remote hypervisor's restore reads: the header and snapshot table through libvirt's download, as qemu-img lists them.
    const image = join(images.dir, "pool", "disk.qcow2");
    const through = await provider.withConnection({ uri: QEMU_URI }, (conn) => imageContents(false, image, (p) => conn.lookupVolumeByPath(p)));
    expect(through).toEqual({ format: "qcow2", snapshots: qcow2Snapshots(image), via: "qcow2 header read through libvirt" });
    expect(through.snapshots).toEqual(["v1", "v2"]);
  });

  it("an unreadable or foreign archive fails the create before anything is made", async () => {
    const missing = join(images.dir, "no-such.snapshots-x.json");
    const name = uniqueName("noarchive");
    made.push(name);
    const checked = await domainProvider.check!({}, { name, uri: QEMU_URI, memoryMiB: 64, running: false, restoreSnapshotsFrom: missing });
    await expect(domainProvider.create!(checked.inputs)).rejects.toThrow(
      new RegExp(`restoreSnapshotsFrom: cannot read the snapshot archive file ${missing}: .*ENOENT.*Nothing was created`),
    );
    const foreign = join(images.dir, "foreign.json");
    writeFileSync(foreign, JSON.stringify({ format: "something-else", version: 1 }));
    const again = await domainProvider.check!({}, { ...checked.inputs, restoreSnapshotsFrom: foreign });
    await expect(domainProvider.create!(again.inputs)).rejects.toThrow(/is not a snapshot archive this provider can restore: its "format" is not/);
    // A file far larger than any archive (a disk image given by mistake) is not read whole.
    const big = join(images.dir, "big.json");
    execFileSync("truncate", ["-s", "65M", big]);
    const large = await domainProvider.check!({}, { ...checked.inputs, restoreSnapshotsFrom: big });
    await expect(domainProvider.create!(large.inputs)).rejects.toThrow(/it is 68157440 bytes, more than any snapshot archive .*Nothing was created/);
    expect(exists(name)).toBe(false);
  });

  it("a redefine that libvirt refuses midway: the snapshots redefined so far and the domain are removed", async () => {
    const name = uniqueName("midway");
    made.push(name);
    const archive = join(images.dir, "midway.json");
    const snap = (n: string, parent: string | null, extra = "") => ({
      name: n,
      parent,
      isCurrent: false,
      creationTime: 1,
      xml:
        `<domainsnapshot><name>${n}</name>${parent ? `<parent><name>${parent}</name></parent>` : ""}<state>shutoff</state><creationTime>1</creationTime>${extra}` +
        `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain></domainsnapshot>`,
    });
    writeFileSync(
      archive,
      JSON.stringify({
        format: "libvirt-pulumi-snapshot-archive",
        version: 1,
        secure: false,
        domain: { name, uuid: "00000000-0000-0000-0000-000000000000", xml: "<domain/>" },
        snapshots: [snap("first", null), snap("second", "first", "<memory snapshot='bogus'/>")],
      }),
    );
    const checked = await domainProvider.check!({}, { name, uri: QEMU_URI, memoryMiB: 64, running: false, restoreSnapshotsFrom: archive });
    expect(checked.failures).toEqual([]);
    await expect(domainProvider.create!(checked.inputs)).rejects.toThrow(
      new RegExp(
        `restoreSnapshotsFrom: libvirt refused to redefine snapshot "second" from file ${archive}: .*bogus.*` +
          `fix or remove that snapshot's entry in the archive .*\\(the partly created domain was removed\\)`,
        "s",
      ),
    );
    expect(exists(name)).toBe(false);
  });
});
