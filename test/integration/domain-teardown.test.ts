// Every row of docs/design.md's teardown table on the real QEMU driver. The
// provider acts; virsh and qemu-img say independently what is left.
import { existsSync, rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";
import { createDomainOnImage } from "../helpers/domains";
import { QEMU_URI, domainNames, domainState, makeImageDir, qcow2Snapshots, snapshotNames, uniqueName, virsh } from "../helpers/host";

const { domainProvider } = provider;
let images: ReturnType<typeof makeImageDir>;

beforeAll(() => {
  images = makeImageDir("teardown");
});

afterAll(async () => {
  await provider.closeAllConnections();
  images.remove();
});

interface Made {
  id: string;
  outs: Record<string, unknown>;
  /** The checked inputs: what the engine passes as `news` to update. */
  inputs: Record<string, unknown>;
  name: string;
  disk: string;
}

async function makeDomain(label: string, extra: Record<string, unknown> = {}): Promise<Made> {
  return createDomainOnImage(images, label, extra);
}

const exists = (name: string) => domainNames(QEMU_URI).includes(name);

async function expectRefused(m: Made, pattern: RegExp, props: Record<string, unknown> = m.outs): Promise<void> {
  await expect(domainProvider.delete!(m.id, props)).rejects.toThrow(pattern);
}

describe("teardown rules on qemu:///system", () => {
  it("inactive persistent domain with a snapshot: refused, then the cascade keeps the contents in the image", async () => {
    const m = await makeDomain("inactive", { running: false });
    virsh(QEMU_URI, "snapshot-create-as", m.name, "by-hand");

    await expectRefused(m, /refusing to delete domain .*1 snapshot \("by-hand"\).*deleteSnapshotsOnDestroy: true/);
    expect(exists(m.name)).toBe(true);
    expect(snapshotNames(QEMU_URI, m.name)).toEqual(["by-hand"]);

    await domainProvider.delete!(m.id, { ...m.outs, deleteSnapshotsOnDestroy: true });
    expect(exists(m.name)).toBe(false);
    expect(qcow2Snapshots(m.disk)).toEqual(["by-hand"]);
  });

  it("running persistent domain with a snapshot: refused before stopping it, the VM keeps running", async () => {
    const m = await makeDomain("running");
    expect(domainState(QEMU_URI, m.name)).toBe("running");
    virsh(QEMU_URI, "snapshot-create-as", m.name, "live-1");

    await expectRefused(m, /it is still running and nothing was changed.*"live-1"/);
    expect(domainState(QEMU_URI, m.name)).toBe("running");
    expect(snapshotNames(QEMU_URI, m.name)).toEqual(["live-1"]);

    await domainProvider.delete!(m.id, { ...m.outs, deleteSnapshotsOnDestroy: true });
    expect(exists(m.name)).toBe(false);
    expect(qcow2Snapshots(m.disk)).toEqual(["live-1"]);
  });

  it("transient domain with a snapshot: refused (libvirt would drop the metadata when it stops)", async () => {
    const m = await makeDomain("transient", { persistent: false });
    expect(virsh(QEMU_URI, "dominfo", m.name)).toMatch(/Persistent:\s+no/);
    virsh(QEMU_URI, "snapshot-create-as", m.name, "t-1");

    await expectRefused(m, /dropped by libvirt when the transient domain stops/);
    expect(domainState(QEMU_URI, m.name)).toBe("running");
    expect(snapshotNames(QEMU_URI, m.name)).toEqual(["t-1"]);

    await domainProvider.delete!(m.id, { ...m.outs, deleteSnapshotsOnDestroy: true });
    expect(exists(m.name)).toBe(false);
    expect(qcow2Snapshots(m.disk)).toEqual(["t-1"]);
  });

  it("managed-save image: refused, deleteManagedSaveOnDestroy discards it", async () => {
    const m = await makeDomain("managedsave");
    virsh(QEMU_URI, "managedsave", m.name);
    expect(virsh(QEMU_URI, "dominfo", m.name)).toMatch(/Managed save:\s+yes/);

    await expectRefused(m, /managed-save image.*deleteManagedSaveOnDestroy: true/);
    expect(virsh(QEMU_URI, "dominfo", m.name)).toMatch(/Managed save:\s+yes/);

    await domainProvider.delete!(m.id, { ...m.outs, deleteManagedSaveOnDestroy: true });
    expect(exists(m.name)).toBe(false);
  });

  it("checkpoints: refused, deleteCheckpointsOnDestroy removes their metadata", async () => {
    // QEMU 7.2 makes checkpoints of running domains only.
    const m = await makeDomain("checkpoint");
    virsh(QEMU_URI, "checkpoint-create-as", m.name, "cp-1");
    expect(virsh(QEMU_URI, "checkpoint-list", m.name, "--name")).toBe("cp-1");

    await expectRefused(m, /1 checkpoint\. Set deleteCheckpointsOnDestroy: true/);
    expect(domainState(QEMU_URI, m.name)).toBe("running");
    expect(virsh(QEMU_URI, "checkpoint-list", m.name, "--name")).toBe("cp-1");

    await domainProvider.delete!(m.id, { ...m.outs, deleteCheckpointsOnDestroy: true });
    expect(exists(m.name)).toBe(false);
  });

  it("every blocker at once: one refusal names each reason and option", async () => {
    const m = await makeDomain("all");
    virsh(QEMU_URI, "snapshot-create-as", m.name, "s-a");
    virsh(QEMU_URI, "managedsave", m.name);
    await expectRefused(m, /\(1\) it has 1 snapshot.*\(2\) it has a managed-save image/);
    expect(snapshotNames(QEMU_URI, m.name)).toEqual(["s-a"]);
    await domainProvider.delete!(m.id, { ...m.outs, deleteSnapshotsOnDestroy: true, deleteManagedSaveOnDestroy: true });
    expect(exists(m.name)).toBe(false);
  });

  it("deleteSnapshotDataOnDestroy also deletes the snapshot contents from the image, children first", async () => {
    const m = await makeDomain("data", { running: false });
    virsh(QEMU_URI, "snapshot-create-as", m.name, "parent");
    virsh(QEMU_URI, "snapshot-create-as", m.name, "child");
    expect(qcow2Snapshots(m.disk).sort()).toEqual(["child", "parent"]);

    await domainProvider.delete!(m.id, { ...m.outs, deleteSnapshotsOnDestroy: true, deleteSnapshotDataOnDestroy: true });
    expect(exists(m.name)).toBe(false);
    expect(qcow2Snapshots(m.disk)).toEqual([]);
  });

  it("the cascade for one destroy through LIBVIRT_PULUMI_DELETE_SNAPSHOTS_ON_DESTROY=1, read at delete time", async () => {
    const m = await makeDomain("envvar", { running: false });
    virsh(QEMU_URI, "snapshot-create-as", m.name, "env-1");
    process.env.LIBVIRT_PULUMI_DELETE_SNAPSHOTS_ON_DESTROY = "1";
    try {
      await domainProvider.delete!(m.id, m.outs);
    } finally {
      delete process.env.LIBVIRT_PULUMI_DELETE_SNAPSHOTS_ON_DESTROY;
    }
    expect(exists(m.name)).toBe(false);
    expect(qcow2Snapshots(m.disk)).toEqual(["env-1"]);
  });

  it("stopping a persistent domain that has snapshots is allowed: it still exists with its snapshots", async () => {
    const m = await makeDomain("stop");
    virsh(QEMU_URI, "snapshot-create-as", m.name, "keep-me");
    const news = { ...m.inputs, running: false };
    const { outs } = await domainProvider.update!(m.id, m.outs, news);
    expect(outs.state).toBe("shutoff");
    expect(domainState(QEMU_URI, m.name)).toBe("shut off");
    expect(snapshotNames(QEMU_URI, m.name)).toEqual(["keep-me"]);
    await domainProvider.delete!(m.id, { ...outs, deleteSnapshotsOnDestroy: true });
  });

  it("persistent -> transient while running is allowed; the domain keeps running", async () => {
    const m = await makeDomain("to-transient");
    virsh(QEMU_URI, "snapshot-create-as", m.name, "meta-stays");
    const { outs } = await domainProvider.update!(m.id, m.outs, { ...m.inputs, persistent: false });
    expect(outs.persistent).toBe(false);
    expect(virsh(QEMU_URI, "dominfo", m.name)).toMatch(/Persistent:\s+no/);
    expect(domainState(QEMU_URI, m.name)).toBe("running");
    expect(snapshotNames(QEMU_URI, m.name)).toEqual(["meta-stays"]);
    await domainProvider.delete!(m.id, { ...outs, deleteSnapshotsOnDestroy: true });
    expect(exists(m.name)).toBe(false);
  });

  describe("NVRAM of an EFI domain", () => {
    // libvirt creates the NVRAM file when an EFI guest first starts. EFI under
    // this machine's nested KVM fails (no SMM), so these guests run under TCG.
    const nvramFile = (name: string) => `/var/lib/libvirt/qemu/nvram/${name}_VARS.fd`;

    it("is removed with the domain by default (a plain undefine would be refused by libvirt)", async () => {
      const m = await makeDomain("efi", { type: "qemu", firmware: "efi" });
      expect(existsSync(nvramFile(m.name))).toBe(true);
      await domainProvider.delete!(m.id, m.outs);
      expect(exists(m.name)).toBe(false);
      expect(existsSync(nvramFile(m.name))).toBe(false);
    });

    it("is kept with keepNvramOnDestroy", async () => {
      const m = await makeDomain("efi-keep", { type: "qemu", firmware: "efi", keepNvramOnDestroy: true });
      expect(existsSync(nvramFile(m.name))).toBe(true);
      await domainProvider.delete!(m.id, m.outs);
      expect(exists(m.name)).toBe(false);
      expect(existsSync(nvramFile(m.name))).toBe(true);
      rmSync(nvramFile(m.name));
    });
  });

  it("a create that fails halfway leaves no domain behind", async () => {
    const name = uniqueName("halfway");
    const checked = await domainProvider.check!(
      {},
      { name, uri: QEMU_URI, memoryMiB: 64, shutdownTimeoutSeconds: 0, disks: [{ file: `${images.dir}/missing.qcow2` }] },
    );
    await expect(domainProvider.create!(checked.inputs)).rejects.toThrow(
      /starting domain.*(No such file|Cannot access).*partly created domain was removed/s,
    );
    expect(exists(name)).toBe(false);
  });

  it("a domain already gone is a successful delete", async () => {
    const m = await makeDomain("gone", { running: false });
    virsh(QEMU_URI, "undefine", m.name);
    await expect(domainProvider.delete!(m.id, m.outs)).resolves.toBeUndefined();
  });
});
