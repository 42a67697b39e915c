// Issue 15 item 3 on the real QEMU driver: a Domain with keepSnapshotsOnReplace
// whose machine type changes is replaced keeping its snapshot tree. The providers
// are driven in the engine's order: the Domain's diff, Pulumi's check of the
// dependents (the stack's Snapshot resources' diffs with their domain input
// unknown), the Domain's delete with the OLD outputs only, the create with the
// new inputs, then the Snapshots' diffs with the real inputs. virsh and qemu-img
// say what is there. No guest: the domain stays shut off, markers are written
// into the image with qemu-io between the snapshots.
// The same through the pulumi CLI: test/e2e/keep-on-replace.test.ts.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logged, provider } from "../helpers/lib";
import { createDomain, createDomainOnImage, type MadeDomain } from "../helpers/domains";
import {
  QEMU_URI,
  domainNames,
  holdsMarker,
  makeImageDir,
  qcow2Snapshots,
  removeDomain,
  snapshotNames,
  virsh,
  writeMarker,
  writeMarkerLive,
} from "../helpers/host";

const { domainProvider, snapshotProvider } = provider;
/** Pulumi's unknown value, as the engine sends it to a dynamic provider. */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
let images: ReturnType<typeof makeImageDir>;
const made: string[] = [];

beforeAll(() => {
  images = makeImageDir("keep-replace");
});

afterAll(async () => {
  for (const name of made) removeDomain(QEMU_URI, name);
  await provider.closeAllConnections();
  images.remove();
});

/** What virsh shows of the snapshot tree: the tree, each name with its parent, the current one, each description and creation time. */
function treeOf(domain: string) {
  const names = snapshotNames(QEMU_URI, domain);
  const field = (xml: string, tag: string) => new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml)?.[1];
  return {
    tree: virsh(QEMU_URI, "snapshot-list", domain, "--tree"),
    parents: virsh(QEMU_URI, "snapshot-list", domain, "--parent"),
    current: virsh(QEMU_URI, "snapshot-current", domain, "--name"),
    snapshots: Object.fromEntries(
      names.map((n) => {
        const xml = virsh(QEMU_URI, "snapshot-dumpxml", domain, n);
        return [n, { description: field(xml, "description"), creationTime: field(xml, "creationTime") }];
      }),
    ),
  };
}

const machineOf = (domain: string) => /<type [^>]*machine='([^']+)'/.exec(virsh(QEMU_URI, "dumpxml", domain, "--inactive"))?.[1];
const archivesOf = (domain: string) => readdirSync(images.dir).filter((f) => f.startsWith(`${domain}.snapshots-`) && f.endsWith(".json"));

interface Stack {
  m: MadeDomain & { disk: string };
  snaps: Array<{ id: string; outs: Record<string, any>; inputs: Record<string, any> }>;
}

/**
 * A shut-off domain (machine "pc") with the tree s1 → s2 → s3: s1 and s2 the
 * stack's Snapshot resources, s3 by hand; the markers 0x11..0x44 written into the
 * image before s1, s2, s3 and after s3.
 */
async function stackWithTree(label: string): Promise<Stack> {
  const m = await createDomainOnImage(images, label, { running: false, machine: "pc" }, made);
  const snaps: Stack["snaps"] = [];
  const stackSnapshot = async (name: string, description: string) => {
    const checked = await snapshotProvider.check!({}, { domain: m.id, uri: QEMU_URI, name, description });
    expect(checked.failures).toEqual([]);
    const { id, outs } = await snapshotProvider.create!(checked.inputs);
    snaps.push({ id: id!, outs, inputs: checked.inputs });
  };
  writeMarker(m.disk, 0x11);
  await stackSnapshot("s1", "the first");
  writeMarker(m.disk, 0x22);
  await stackSnapshot("s2", "the second");
  writeMarker(m.disk, 0x33);
  virsh(QEMU_URI, "snapshot-create-as", m.name, "s3", "--description", "the third, by hand");
  writeMarker(m.disk, 0x44);
  return { m, snaps };
}

/** The engine's diff of the Domain with the checked new inputs. */
async function domainDiff(m: MadeDomain, change: Record<string, unknown>) {
  const checked = await domainProvider.check!(m.inputs, { ...m.inputs, ...change });
  expect(checked.failures).toEqual([]);
  return { checked: checked.inputs, diff: () => domainProvider.diff!(m.id, m.outs, checked.inputs) };
}

/** Pulumi's check of a dependent: the Snapshot's inputs that come from the replaced Domain are unknown. */
const dependentDiff = (s: Stack["snaps"][number]) => snapshotProvider.diff!(s.id, s.outs, { ...s.inputs, domain: UNKNOWN, uri: UNKNOWN });

describe("keepSnapshotsOnReplace on qemu:///system", () => {
  it("a machine type change keeps the tree (names, parents, current, descriptions, creation times), the Snapshot resources stay, and a revert to the middle one works", async () => {
    const { m, snaps } = await stackWithTree("keep");
    const before = treeOf(m.name);
    expect(before.tree).toMatch(/^s1\s+\|\s+\+- s2\s+\|\s+\+- s3$/);
    expect(before.current).toBe("s3");
    expect(machineOf(m.name)).toMatch(/^pc-i440fx-/);

    // The option comes with the change, in the same up: the saved outputs do not have it.
    expect(m.outs.keepSnapshotsOnReplace).toBe(false);
    const { checked, diff } = await domainDiff(m, { machine: "q35", keepSnapshotsOnReplace: true });
    expect(await diff()).toMatchObject({ replaces: ["machine"], deleteBeforeReplace: true, changes: true });
    // The dependents are not replaced (which would delete their snapshots with their data first).
    for (const s of snaps) expect(await dependentDiff(s)).toEqual({ replaces: [], deleteBeforeReplace: false, changes: false });

    // The delete gets the old outputs only.
    const deleted = await logged(() => domainProvider.delete!(m.id, m.outs));
    expect(domainNames(QEMU_URI)).not.toContain(m.name);
    const [archive] = archivesOf(m.name);
    const path = join(images.dir, archive);
    expect(deleted.log).toContain(
      `domain "${m.name}": replaced keeping its snapshot tree: the new domain takes the 3 snapshots ("s1", "s2", "s3") back from file ${path}`,
    );
    const written = JSON.parse(readFileSync(path, "utf8"));
    expect(written.domain.uuid).toBe(m.id);
    expect(written.snapshots.map((s: { name: string; parent: string | null; isCurrent: boolean }) => [s.name, s.parent, s.isCurrent])).toEqual([
      ["s1", null, false],
      ["s2", "s1", false],
      ["s3", "s2", true],
    ]);
    // In between, the contents are in the image.
    expect(qcow2Snapshots(m.disk)).toEqual(["s1", "s2", "s3"]);

    const created = await logged(() => domainProvider.create!(checked));
    expect(created.value.id).toBe(m.id);
    expect(created.value.outs).toMatchObject({
      uuid: m.id,
      snapshots: ["s1", "s2", "s3"],
      restoredSnapshots: ["s1", "s2", "s3"],
      skippedSnapshots: [],
    });
    expect(created.log).toContain(`domain "${m.name}": restored 3 snapshots "s1", "s2", "s3" from file ${path}`);
    expect(virsh(QEMU_URI, "domuuid", m.name)).toBe(m.id);
    expect(machineOf(m.name)).toMatch(/^pc-q35-/);
    expect(treeOf(m.name)).toEqual(before);
    // No restore mark: nothing is left to adopt.
    expect(virsh(QEMU_URI, "dumpxml", m.name, "--inactive")).not.toContain("restored-snapshots");

    // The Snapshot resources, diffed again with their real inputs, and read: the same snapshots.
    for (const s of snaps) {
      expect(await snapshotProvider.diff!(s.id, s.outs, s.inputs)).toMatchObject({ replaces: [], changes: false });
      const read = await snapshotProvider.read!(s.id, s.outs);
      expect(read.id).toBe(s.id);
      expect(read.props).toMatchObject({ name: s.outs.name, creationTime: s.outs.creationTime, description: s.outs.description });
      expect(read.props.parent).toBe(s.outs.parent);
    }
    // The next diff of the Domain: no change.
    const again = await domainProvider.check!(checked, checked);
    expect(await domainProvider.diff!(m.id, created.value.outs, again.inputs)).toMatchObject({ replaces: [], changes: false });

    // Revert to the middle snapshot: the disk has s2's marker again.
    expect(holdsMarker(m.disk, 0x44)).toBe(true);
    virsh(QEMU_URI, "snapshot-revert", m.name, "s2");
    expect(holdsMarker(m.disk, 0x22)).toBe(true);
    expect(holdsMarker(m.disk, 0x33)).toBe(false);
    expect(holdsMarker(m.disk, 0x44)).toBe(false);
    expect(virsh(QEMU_URI, "snapshot-current", m.name, "--name")).toBe("s2");
    // A revert puts back the definition the snapshot saved: the machine type it was taken with.
    expect(machineOf(m.name)).toMatch(/^pc-i440fx-/);
  });

  it("a running domain with memory snapshots: stopped by the delete, started by the create, the tree kept, a revert loads the middle one's state", async () => {
    const m = await createDomainOnImage(images, "running", { running: true, machine: "pc" }, made);
    const snaps: Stack["snaps"] = [];
    for (const [n, name] of ["s1", "s2"].entries()) {
      writeMarkerLive(m.name, 0x11 * (n + 1));
      const checked = await snapshotProvider.check!({}, { domain: m.id, uri: QEMU_URI, name, description: `running ${name}` });
      const { id, outs } = await snapshotProvider.create!(checked.inputs);
      snaps.push({ id: id!, outs, inputs: checked.inputs });
    }
    writeMarkerLive(m.name, 0x33);
    virsh(QEMU_URI, "snapshot-create-as", m.name, "s3", "--description", "running, by hand");
    expect(virsh(QEMU_URI, "snapshot-dumpxml", m.name, "s2")).toContain("<state>running</state>");
    const before = treeOf(m.name);

    const { checked, diff } = await domainDiff(m, { machine: "q35", keepSnapshotsOnReplace: true });
    expect(await diff()).toMatchObject({ replaces: ["machine"] });
    for (const s of snaps) expect((await dependentDiff(s)).replaces).toEqual([]);
    await logged(() => domainProvider.delete!(m.id, m.outs));
    const { value } = await logged(() => domainProvider.create!(checked));
    expect(value.outs).toMatchObject({ uuid: m.id, state: "running", restoredSnapshots: ["s1", "s2", "s3"] });
    expect(virsh(QEMU_URI, "domstate", m.name)).toBe("running");
    expect(machineOf(m.name)).toMatch(/^pc-q35-/);
    expect(treeOf(m.name)).toEqual(before);

    // The middle snapshot's memory and disk come back: running, with the marker written before it.
    virsh(QEMU_URI, "snapshot-revert", m.name, "s2");
    expect(virsh(QEMU_URI, "domstate", m.name)).toBe("running");
    virsh(QEMU_URI, "destroy", m.name);
    expect(holdsMarker(m.disk, 0x22)).toBe(true);
    expect(holdsMarker(m.disk, 0x33)).toBe(false);
  });

  it("a rename keeps the tree too: the new name, the old UUID, the snapshots' embedded definitions renamed", async () => {
    const { m, snaps } = await stackWithTree("rename");
    const before = treeOf(m.name);
    const renamed = `${m.name}-new`;
    made.push(renamed);
    const { checked, diff } = await domainDiff(m, { name: renamed, keepSnapshotsOnReplace: true });
    expect(await diff()).toMatchObject({ replaces: ["name"], deleteBeforeReplace: true });
    for (const s of snaps) expect((await dependentDiff(s)).replaces).toEqual([]);
    await logged(() => domainProvider.delete!(m.id, m.outs));
    const { value } = await logged(() => domainProvider.create!(checked));
    expect(value.id).toBe(m.id);
    expect(domainNames(QEMU_URI)).not.toContain(m.name);
    expect(virsh(QEMU_URI, "domuuid", renamed)).toBe(m.id);
    expect(treeOf(renamed)).toEqual(before);
    expect(virsh(QEMU_URI, "snapshot-dumpxml", renamed, "s2")).toContain(`<name>${renamed}</name>`);
    // The Snapshot resources (their domain is the UUID) read the same snapshots on the renamed domain.
    for (const s of snaps) expect((await snapshotProvider.read!(s.id, s.outs)).props).toMatchObject({ creationTime: s.outs.creationTime });
    virsh(QEMU_URI, "snapshot-revert", renamed, "s2");
    expect(holdsMarker(m.disk, 0x22)).toBe(true);
    expect(domainNames(QEMU_URI)).not.toContain(m.name);
  });

  it("a disk on an external snapshot's overlay: the new domain goes on from the overlay, the external snapshot kept", async () => {
    const m = await createDomainOnImage(images, "overlay", { running: false, machine: "pc" }, made);
    const overlay = join(images.dir, `${m.name}-e2.qcow2`);
    virsh(QEMU_URI, "snapshot-create-as", m.name, "i1", "--description", "internal");
    virsh(QEMU_URI, "snapshot-create-as", m.name, "e2", "--description", "external", "--disk-only", "--diskspec", `vda,file=${overlay}`);
    writeMarker(overlay, 0x55);
    const before = treeOf(m.name);
    const { checked, diff } = await domainDiff(m, { machine: "q35", keepSnapshotsOnReplace: true });
    expect(await diff()).toMatchObject({ replaces: ["machine"] });
    await logged(() => domainProvider.delete!(m.id, m.outs));
    const { value } = await logged(() => domainProvider.create!(checked));
    expect(value.outs.restoredSnapshots).toEqual(["i1", "e2"]);
    expect(treeOf(m.name)).toEqual(before);
    // The disk input still names the base; the guest goes on from the overlay, with the writes since e2.
    expect(virsh(QEMU_URI, "domblklist", m.name)).toMatch(new RegExp(`vda\\s+${overlay}`));
    expect(holdsMarker(overlay, 0x55)).toBe(true);
  });

  it("without the opt-in the replacement is refused at diff, the refusal names keepSnapshotsOnReplace, and nothing changed", async () => {
    const { m, snaps } = await stackWithTree("refused");
    const before = treeOf(m.name);
    const { diff } = await domainDiff(m, { machine: "q35" });
    const err = await diff().then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(
      new RegExp(
        `^refusing to replace domain "${m.name}" \\(nothing was changed on this domain or its snapshots\\): changing \`machine\` replaces the domain`,
      ),
    );
    expect(err?.message).toMatch(/set keepSnapshotsOnReplace: true on the Domain \(it may come with this change, in the same `pulumi up`\)/);
    // No note: the dependents would be replaced as before (had the engine gone on).
    expect((await dependentDiff(snaps[0])).replaces).toEqual(["domain", "uri"]);
    expect(virsh(QEMU_URI, "domuuid", m.name)).toBe(m.id);
    expect(machineOf(m.name)).toMatch(/^pc-i440fx-/);
    expect(treeOf(m.name)).toEqual(before);
    expect(qcow2Snapshots(m.disk)).toEqual(["s1", "s2", "s3"]);
    expect(archivesOf(m.name)).toEqual([]);
  });

  it("with the opt-in, a replacement that also changes the disks is refused at diff, nothing changed", async () => {
    const { m } = await stackWithTree("disks");
    const before = treeOf(m.name);
    const other = images.qcow2(`${m.name}-other.qcow2`);
    const { diff } = await domainDiff(m, { machine: "q35", keepSnapshotsOnReplace: true, disks: [{ file: other }] });
    await expect(diff()).rejects.toThrow(
      new RegExp(
        `^refusing to replace domain "${m.name}" keeping its snapshot tree .*the disks change too, and the snapshots' contents are in the old disks' images`,
      ),
    );
    expect(treeOf(m.name)).toEqual(before);
    expect(machineOf(m.name)).toMatch(/^pc-i440fx-/);
    expect(archivesOf(m.name)).toEqual([]);
  });

  it("an archive that cannot be written (an immutable directory): the delete refuses the replacement, the domain and its tree stay", async () => {
    const { m } = await stackWithTree("locked");
    const before = treeOf(m.name);
    const { diff } = await domainDiff(m, { machine: "q35", keepSnapshotsOnReplace: true });
    expect(await diff()).toMatchObject({ replaces: ["machine"] });
    // root writes through a read-only mode; an immutable directory stops even root.
    execFileSync("chattr", ["+i", images.dir]);
    let err: Error | undefined;
    try {
      err = await domainProvider.delete!(m.id, m.outs).then(
        () => undefined,
        (e: Error) => e,
      );
    } finally {
      execFileSync("chattr", ["-i", images.dir]);
    }
    expect(err?.message).toMatch(
      new RegExp(
        `^refusing to replace domain "${m.name}" keeping its snapshot tree \\(nothing was changed on this domain or its snapshots\\): its 3 snapshots' metadata is archived ` +
          `before the old domain goes, for the new one to redefine, and writing the archive to file ${images.dir}/${m.name}\\.snapshots-\\w+\\.json failed: `,
      ),
    );
    expect(virsh(QEMU_URI, "domuuid", m.name)).toBe(m.id);
    expect(machineOf(m.name)).toMatch(/^pc-i440fx-/);
    expect(treeOf(m.name)).toEqual(before);
    expect(archivesOf(m.name)).toEqual([]);
  });

  it("a create that fails after the delete loses nothing: the error prints the archive and restoreSnapshotsFrom, which takes the tree back", async () => {
    const { m } = await stackWithTree("failed");
    const before = treeOf(m.name);
    // A machine type the hypervisor does not have: libvirt refuses the new definition, after the old domain is gone.
    const { checked, diff } = await domainDiff(m, { machine: "no-such-machine", keepSnapshotsOnReplace: true });
    expect(await diff()).toMatchObject({ replaces: ["machine"] });
    await logged(() => domainProvider.delete!(m.id, m.outs));
    const path = join(images.dir, archivesOf(m.name)[0]);
    const err = await domainProvider.create!(checked).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(new RegExp(`^defining domain "${m.name}" on qemu:///system: XML error`));
    expect(err?.message).toContain(
      `The old domain "${m.name}" was deleted by this replacement; its 3 snapshots' metadata is in the archive file ${path} ` +
        `and their contents stay in the disk images, so nothing is lost. To take them back, set restoreSnapshotsFrom: ${JSON.stringify(path)} on the Domain`,
    );
    expect(domainNames(QEMU_URI)).not.toContain(m.name);
    expect(qcow2Snapshots(m.disk)).toEqual(["s1", "s2", "s3"]);

    // What the message says to do: the tree comes back as it was (the old UUID is not kept: a new domain).
    const { value: restored } = await logged(() =>
      createDomain("failed", { running: false, machine: "q35", disks: [{ file: m.disk }], restoreSnapshotsFrom: path }, made, m.name),
    );
    expect(restored.outs.restoredSnapshots).toEqual(["s1", "s2", "s3"]);
    expect(treeOf(m.name)).toEqual(before);
    virsh(QEMU_URI, "snapshot-revert", m.name, "s1");
    expect(holdsMarker(m.disk, 0x11)).toBe(true);
  });
});
