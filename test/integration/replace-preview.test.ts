// Issue 11 item 2: a replacement whose delete the teardown rules will refuse is
// refused in diff, before anything is deleted (Pulumi deletes a replaced
// Domain's Snapshots, with their data, before the Domain's own delete). The
// providers are driven directly here; virsh and qemu-img say what is left.
// The same through the pulumi CLI: test/e2e/replace-preview.test.ts.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { built, provider } from "../helpers/lib";
import { createDomainOnImage } from "../helpers/domains";
import { QEMU_URI, domainNames, domainState, makeImageDir, qcow2Snapshots, removeDomain, snapshotNames, virsh } from "../helpers/host";

const { domainProvider, snapshotProvider } = provider;
const teardown = built<typeof import("../../provider/teardown/domain")>("provider/teardown/domain");
let images: ReturnType<typeof makeImageDir>;
const made: string[] = [];

beforeAll(() => {
  images = makeImageDir("replace");
});

afterEach(() => {
  delete process.env[teardown.DELETE_SNAPSHOTS_ENV];
});

afterAll(async () => {
  await provider.closeAllConnections();
  for (const name of made) removeDomain(QEMU_URI, name);
  images.remove();
});

interface Made {
  id: string;
  outs: Record<string, unknown>;
  inputs: Record<string, unknown>;
  name: string;
  disk: string;
  uuid: string;
}

async function makeDomain(label: string, extra: Record<string, unknown> = {}): Promise<Made> {
  const m = await createDomainOnImage(images, label, extra, made);
  return { ...m, uuid: virsh(QEMU_URI, "domuuid", m.name) };
}

/** The stack's own Snapshot resource of the domain, taken through the provider. */
async function stackSnapshot(m: Made, name: string, extra: Record<string, unknown> = {}) {
  const checked = await snapshotProvider.check!({}, { domain: m.name, uri: QEMU_URI, name, ...extra });
  expect(checked.failures).toEqual([]);
  const { id, outs } = await snapshotProvider.create!(checked.inputs);
  return { id, outs, inputs: checked.inputs };
}

/** The engine's diff with the checked new inputs. */
async function diffWith(m: Made, change: Record<string, unknown>, outs = m.outs) {
  const checked = await domainProvider.check!(m.inputs, { ...m.inputs, ...change });
  expect(checked.failures).toEqual([]);
  return domainProvider.diff!(m.id, outs, checked.inputs);
}

function expectUntouched(m: Made, snapshots: string[], state = "running") {
  expect(domainNames(QEMU_URI)).toContain(m.name);
  expect(virsh(QEMU_URI, "domuuid", m.name)).toBe(m.uuid);
  expect(domainState(QEMU_URI, m.name)).toBe(state);
  expect(snapshotNames(QEMU_URI, m.name).sort()).toEqual([...snapshots].sort());
  expect(qcow2Snapshots(m.disk).sort()).toEqual([...snapshots].sort());
}

describe("Domain diff refuses a replacement whose delete would be refused", () => {
  it("a stack Snapshot and a hand-made one: `machine` change refused in diff, naming the property and what to do; nothing touched", async () => {
    const m = await makeDomain("machine");
    await stackSnapshot(m, "stack-snap");
    virsh(QEMU_URI, "snapshot-create-as", m.name, "by-hand");

    const err = await diffWith(m, { machine: "pc" }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toMatch(
      new RegExp(
        `^refusing to replace domain "${m.name}" \\(nothing was changed on this domain or its snapshots\\): changing \`machine\` replaces the domain`,
      ),
    );
    expect(err!.message).toMatch(/2 snapshots \("stack-snap", "by-hand"\)/);
    expect(err!.message).toMatch(/deleteSnapshotsOnDestroy: true/);
    expect(err!.message).toMatch(/revert the change to `machine`/);
    expectUntouched(m, ["stack-snap", "by-hand"]);
    // An in-place change is not a replacement: not checked, the domain with snapshots still updates.
    expect(await diffWith(m, { vcpus: 2 })).toMatchObject({ changes: true, replaces: [] });
  });

  it("only the stack's own Snapshot: still refused (its data is what the replacement would throw away); LIBVIRT_PULUMI_DELETE_SNAPSHOTS_ON_DESTROY=1 for the up allows it, as it allows the delete", async () => {
    const m = await makeDomain("own-only");
    await stackSnapshot(m, "stack-only");
    await expect(diffWith(m, { name: `${m.name}-renamed` })).rejects.toThrow(
      /refusing to replace domain .*changing `name` replaces.*1 snapshot \("stack-only"\)/,
    );
    expectUntouched(m, ["stack-only"]);
    process.env[teardown.DELETE_SNAPSHOTS_ENV] = "1";
    expect(await diffWith(m, { name: `${m.name}-renamed` })).toMatchObject({ replaces: ["name"], deleteBeforeReplace: true });
  });

  it("the opt-in set in the same change does not apply (the old domain is deleted with its saved options); saved, it allows the replacement", async () => {
    const m = await makeDomain("opt-in");
    virsh(QEMU_URI, "snapshot-create-as", m.name, "by-hand");
    await expect(diffWith(m, { machine: "pc", deleteSnapshotsOnDestroy: true })).rejects.toThrow(
      /The new deleteSnapshotsOnDestroy: true does not apply to this replacement.*first run `pulumi up` with only the option set/,
    );
    // What the advice says: an up with only the option (an in-place update) ...
    const onlyOption = await diffWith(m, { deleteSnapshotsOnDestroy: true });
    expect(onlyOption).toMatchObject({ changes: true, replaces: [] });
    const { outs } = await domainProvider.update!(m.id, m.outs, { ...m.inputs, deleteSnapshotsOnDestroy: true });
    // ... then the replacing change is planned.
    expect(await diffWith(m, { machine: "pc", deleteSnapshotsOnDestroy: true }, outs)).toMatchObject({
      replaces: ["machine"],
      deleteBeforeReplace: true,
    });
    expectUntouched(m, ["by-hand"]);
  });

  it("a checkpoint and a managed-save image refuse it too, each naming its option", async () => {
    const m = await makeDomain("ckpt");
    virsh(QEMU_URI, "checkpoint-create-as", m.name, "c1");
    await expect(diffWith(m, { machine: "pc" })).rejects.toThrow(/refusing to replace domain .*1 checkpoint\. Set deleteCheckpointsOnDestroy: true/);
    expect(virsh(QEMU_URI, "checkpoint-list", m.name, "--name")).toBe("c1");
    expect(domainState(QEMU_URI, m.name)).toBe("running");

    const s = await makeDomain("msave");
    virsh(QEMU_URI, "managedsave", s.name);
    await expect(diffWith(s, { machine: "pc" })).rejects.toThrow(/refusing to replace domain .*managed-save image.*deleteManagedSaveOnDestroy: true/);
    expect(virsh(QEMU_URI, "dominfo", s.name)).toMatch(/Managed save:\s+yes/);
  });

  it("a transient domain replaced by a machine-config change: refused while it has a snapshot", async () => {
    const m = await makeDomain("transient", { persistent: false });
    virsh(QEMU_URI, "snapshot-create-as", m.name, "by-hand");
    await expect(diffWith(m, { memoryMiB: 96 })).rejects.toThrow(
      /refusing to replace domain .*changing `memoryMiB` replaces.*dropped by libvirt when the transient domain stops/,
    );
    expectUntouched(m, ["by-hand"]);
  });

  it("a hypervisor that cannot be reached fails the diff with what to do, rather than allowing the replacement; reachable: planned as before, and a domain already gone is not checked", async () => {
    const m = await makeDomain("down");
    const uri = "qemu+unix:///system?socket=/nonexistent/lvp-test-libvirt-sock";
    const err = await diffWith(m, { machine: "pc", uri }, { ...m.outs, uri }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(
      /^cannot check whether replacing domain ".*" \(.*\) is safe: connecting to .*No such file or directory.*Changing `machine` replaces the domain.*start libvirtd, fix uri or auth.*or revert the change to `machine`/s,
    );
    // Reachable, without snapshots: the replacement is planned as before.
    expect(await diffWith(m, { machine: "pc" })).toMatchObject({ changes: true, replaces: ["machine"], deleteBeforeReplace: true });
    // Gone: its delete has nothing to do, so nothing to check.
    removeDomain(QEMU_URI, m.name);
    expect(domainNames(QEMU_URI)).not.toContain(m.name);
    expect(await diffWith(m, { machine: "pc" })).toMatchObject({ replaces: ["machine"] });
  });
});

describe("Snapshot diff refuses a same-named replacement whose new snapshot could not be taken", () => {
  it('memory: "internal" on a shut-off domain: refused in diff; the old snapshot and its data stay', async () => {
    const m = await makeDomain("snap-mem", { running: false });
    const s = await stackSnapshot(m, "restore-point");
    const checked = await snapshotProvider.check!(s.inputs, { ...s.inputs, memory: "internal" });
    const err = await snapshotProvider.diff!(s.id, s.outs, checked.inputs).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(
      /^refusing to replace snapshot "restore-point" of domain ".*" \(nothing was changed\): changing `memory` replaces it, which deletes the old snapshot with its data before taking the new one.*memory: "none".*revert the change to `memory`/,
    );
    expectUntouched(m, ["restore-point"], "shut off");
  });

  it("a disks[n].target the domain lacks: refused in diff; a change that can be taken is planned (delete before replace)", async () => {
    const m = await makeDomain("snap-disk", { running: false });
    const s = await stackSnapshot(m, "restore-point");
    const bad = await snapshotProvider.check!(s.inputs, { ...s.inputs, disks: [{ target: "vdq", snapshot: "internal" }] });
    await expect(snapshotProvider.diff!(s.id, s.outs, bad.inputs)).rejects.toThrow(
      /refusing to replace snapshot "restore-point".*no disk "vdq".*fix disks\[0\]\.target/,
    );
    const good = await snapshotProvider.check!(s.inputs, { ...s.inputs, disks: [{ target: "vda", snapshot: "internal" }] });
    expect(await snapshotProvider.diff!(s.id, s.outs, good.inputs)).toMatchObject({ replaces: ["disks"], deleteBeforeReplace: true });
    expectUntouched(m, ["restore-point"], "shut off");
  });
});
