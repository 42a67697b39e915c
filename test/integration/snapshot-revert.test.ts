// A Snapshot's revertTrigger on the real QEMU driver (issue 15 item 4): a revert
// loses nothing. Markers are written into the qcow2 image with qemu-io while the
// domain is shut off; qemu-io, qemu-img and virsh say independently what the
// reverted disk and the automatic pre-revert snapshot hold.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";
import { createDomainOnImage } from "../helpers/domains";
import {
  QEMU_URI,
  domainState,
  holdsMarker,
  makeImageDir,
  qcow2Snapshots,
  removeDomain,
  snapshotHoldsMarker,
  snapshotNames,
  virsh,
  writeMarker,
} from "../helpers/host";

const { snapshotProvider: sp, SnapshotOptionError } = provider;
type Outs = Record<string, any>;

let images: ReturnType<typeof makeImageDir>;
const made: string[] = [];

beforeAll(() => {
  images = makeImageDir("revert");
});

afterAll(async () => {
  await provider.closeAllConnections();
  for (const name of made) removeDomain(QEMU_URI, name);
  images.remove();
});

async function checked(inputs: Record<string, unknown>, olds: Outs = {}): Promise<Outs> {
  const { inputs: out, failures } = await sp.check!(olds, { uri: QEMU_URI, ...inputs });
  expect(failures ?? []).toEqual([]);
  return out;
}

const A = 0xaa;
const B = 0xbb;
const C = 0xcc;

describe("revertTrigger on qemu:///system", () => {
  it("reverts the disk to the snapshot; the state before is in a pre-revert snapshot; discardStateOnRevert keeps none", async () => {
    const { name, outs: d, disk } = await createDomainOnImage(images, "rev-off", { running: false }, made);
    writeMarker(disk, A);
    const base = { name: "s1", domain: d.uuid };
    const { id, outs } = (await sp.create(await checked({ ...base, revertTrigger: "1" }))) as { id: string; outs: Outs };
    expect(outs.preRevertSnapshots).toEqual([]);
    expect(snapshotNames(QEMU_URI, name)).toEqual(["s1"]); // created with a trigger: no revert
    writeMarker(disk, B);
    expect(holdsMarker(disk, B)).toBe(true);

    const t0 = performance.now();
    const { outs: reverted } = (await sp.update!(id, outs, await checked({ ...base, revertTrigger: "2" }, outs))) as { outs: Outs };
    const ms = performance.now() - t0;
    const [pre] = reverted.preRevertSnapshots as string[];
    expect(reverted.preRevertSnapshots).toHaveLength(1);
    expect(pre).toMatch(/^pre-revert-\d{8}T\d{6}Z$/);
    // The disk reads marker A again; the pre-revert snapshot, listed by libvirt and inside the image, holds B.
    expect(holdsMarker(disk, A)).toBe(true);
    expect(snapshotNames(QEMU_URI, name).sort()).toEqual([pre, "s1"].sort());
    expect(qcow2Snapshots(disk).sort()).toEqual([pre, "s1"].sort());
    // Applied to a copy of the image (qemu-img snapshot -a), the pre-revert snapshot gives back marker B.
    expect(snapshotHoldsMarker(disk, pre, B, images.dir)).toBe(true);
    expect(snapshotHoldsMarker(disk, pre, A, images.dir)).toBe(false);
    expect(virsh(QEMU_URI, "snapshot-current", "--name", name)).toBe("s1");
    expect(virsh(QEMU_URI, "snapshot-parent", name, pre)).toBe("s1");
    expect(domainState(QEMU_URI, name)).toBe("shut off");
    console.log(`revert with pre-revert snapshot (shut-off, qcow2 16 MiB): ${ms.toFixed(0)} ms`);

    // discardStateOnRevert: marker C is thrown away, no extra snapshot.
    writeMarker(disk, C);
    const t1 = performance.now();
    const { outs: discarded } = (await sp.update!(
      id,
      reverted,
      await checked({ ...base, revertTrigger: "3", discardStateOnRevert: true }, reverted),
    )) as { outs: Outs };
    console.log(`revert with discardStateOnRevert: ${(performance.now() - t1).toFixed(0)} ms`);
    expect(discarded.preRevertSnapshots).toEqual([pre]);
    expect(holdsMarker(disk, A)).toBe(true);
    expect(snapshotNames(QEMU_URI, name).sort()).toEqual([pre, "s1"].sort());
    expect(qcow2Snapshots(disk).sort()).toEqual([pre, "s1"].sort());
  });

  it("a running guest: the pre-revert snapshot keeps its memory, and the guest runs on from the snapshot", async () => {
    const { name, outs: d, disk } = await createDomainOnImage(images, "rev-run", { running: true }, made);
    const base = { name: "live", domain: d.uuid };
    const { id, outs } = (await sp.create(await checked({ ...base, revertTrigger: "1" }))) as { id: string; outs: Outs };
    expect(outs.state).toBe("running");
    const t0 = performance.now();
    const { outs: reverted } = (await sp.update!(id, outs, await checked({ ...base, revertTrigger: "2" }, outs))) as { outs: Outs };
    console.log(`revert of a running guest with pre-revert snapshot: ${(performance.now() - t0).toFixed(0)} ms`);
    const [pre] = reverted.preRevertSnapshots as string[];
    expect(virsh(QEMU_URI, "snapshot-info", name, pre)).toMatch(/State:\s+running/);
    expect(virsh(QEMU_URI, "snapshot-dumpxml", name, pre)).toMatch(/<memory snapshot='internal'\/>/);
    expect(qcow2Snapshots(disk).sort()).toEqual([pre, "live"].sort());
    expect(domainState(QEMU_URI, name)).toBe("running");
    expect(virsh(QEMU_URI, "snapshot-current", "--name", name)).toBe("live");
  });

  it("refused reverts change nothing and say why: a running guest and a snapshot without memory; an external snapshot libvirt cannot revert (before 9.9) or that the automatic snapshot cannot cover", async () => {
    const { name, outs: d, disk } = await createDomainOnImage(images, "rev-refuse", { running: false }, made);
    writeMarker(disk, A);
    const cold = (await sp.create(await checked({ name: "cold", domain: d.uuid, revertTrigger: "1" }))) as { id: string; outs: Outs };
    virsh(QEMU_URI, "start", name);
    const before = {
      libvirt: snapshotNames(QEMU_URI, name),
      image: qcow2Snapshots(disk),
      current: virsh(QEMU_URI, "snapshot-current", "--name", name),
    };
    const err = await sp.update!(cold.id, cold.outs, await checked({ name: "cold", domain: d.uuid, revertTrigger: "2" }, cold.outs)).catch((e) => e);
    expect(err).toBeInstanceOf(SnapshotOptionError);
    expect(err.option).toBe("revertTrigger");
    expect(err.message).toMatch(
      new RegExp(
        `refusing to revert domain "${name}" to snapshot "cold" \\(revertTrigger changed; nothing was changed\\): the domain is running and the snapshot holds no memory state`,
      ),
    );
    expect(domainState(QEMU_URI, name)).toBe("running");
    expect({
      libvirt: snapshotNames(QEMU_URI, name),
      image: qcow2Snapshots(disk),
      current: virsh(QEMU_URI, "snapshot-current", "--name", name),
    }).toEqual(before);
    virsh(QEMU_URI, "destroy", name);

    // A disk-only external snapshot: libvirt 9.0 cannot revert to it (libvirt would say "revert to external snapshot not supported yet").
    const overlay = join(images.dir, `${name}.ext.qcow2`);
    const ext = (await sp.create(
      await checked({
        name: "ext",
        domain: d.uuid,
        diskOnly: true,
        disks: [{ target: "vda", snapshot: "external", file: overlay }],
        revertTrigger: "1",
      }),
    )) as { id: string; outs: Outs };
    const names = snapshotNames(QEMU_URI, name);
    const inputs = await checked(
      { name: "ext", domain: d.uuid, diskOnly: true, disks: [{ target: "vda", snapshot: "external", file: overlay }], revertTrigger: "2" },
      ext.outs,
    );
    const e2 = await sp.update!(ext.id, ext.outs, inputs).catch((e) => e);
    expect(e2.option).toBe("revertTrigger");
    // libvirt before 9.9 cannot revert to it at all; a newer one could, but the automatic pre-revert snapshot is internal only.
    const [major, minor] = /Running against daemon:\s+(\d+)\.(\d+)/
      .exec(virsh(QEMU_URI, "version", "--daemon"))!
      .slice(1)
      .map(Number);
    expect(e2.message).toMatch(
      major * 1000 + minor < 9009
        ? new RegExp(
            `it is an external snapshot .* and libvirt ${major}\\.${minor}\\.\\d+ cannot revert to one \\(libvirt 9\\.9\\.0 and later can\\)`,
          )
        : /the automatic snapshot of the current state is made only before reverting to an internal one/,
    );
    expect(snapshotNames(QEMU_URI, name)).toEqual(names);
    expect(virsh(QEMU_URI, "domblklist", name)).toContain(overlay);

    // Back to the internal "cold" now: it would rewind the base image under ext's overlay (libvirt 9.0 lets it). Refused.
    const coldAgain = await checked({ name: "cold", domain: d.uuid, revertTrigger: "3", discardStateOnRevert: true }, cold.outs);
    const e3 = await sp.update!(cold.id, cold.outs, coldAgain).catch((e) => e);
    expect(e3).toBeInstanceOf(SnapshotOptionError);
    expect(e3.option).toBe("revertTrigger");
    expect(e3.message).toContain(
      `the domain also has external snapshots ("ext"), whose overlay files are built on the disk images this revert would rewind`,
    );
    expect(snapshotNames(QEMU_URI, name)).toEqual(names);
    expect(virsh(QEMU_URI, "domblklist", name)).toContain(overlay);
    expect(holdsMarker(overlay, A)).toBe(true); // the overlay reads through to the base image, as before
  });

  it("a pre-revert snapshot libvirt cannot take (a raw disk added since): nothing changes, the error names discardStateOnRevert; with it the revert goes ahead", async () => {
    const raw = join(images.dir, "data.raw");
    execFileSync("qemu-img", ["create", "-q", "-f", "raw", raw, "1M"]);
    const { name, outs: d, disk } = await createDomainOnImage(images, "rev-raw", { running: false }, made);
    writeMarker(disk, A);
    const base = { name: "one-disk", domain: d.uuid };
    const { id, outs } = (await sp.create(await checked({ ...base, revertTrigger: "1" }))) as { id: string; outs: Outs };
    writeMarker(disk, B);
    // A raw second disk, added by hand after the snapshot: it can hold no internal snapshot.
    virsh(QEMU_URI, "attach-disk", name, raw, "vdb", "--config", "--driver", "qemu", "--subdriver", "raw", "--targetbus", "virtio");
    const err = await sp.update!(id, outs, await checked({ ...base, revertTrigger: "2" }, outs)).catch((e) => e);
    expect(err).toBeInstanceOf(SnapshotOptionError);
    expect(err.option).toBe("discardStateOnRevert");
    expect(err.message).toMatch(
      new RegExp(
        `cannot revert domain "${name}" to snapshot "one-disk": the snapshot of its current state \\("pre-revert-\\d{8}T\\d{6}Z"\\) could not be taken: .*\\[VIR_ERR_\\w+\\]\\. Nothing was changed\\. .*set discardStateOnRevert: true to revert without keeping it`,
      ),
    );
    expect(snapshotNames(QEMU_URI, name)).toEqual(["one-disk"]);
    expect(qcow2Snapshots(disk)).toEqual(["one-disk"]);
    expect(holdsMarker(disk, B)).toBe(true);
    expect(virsh(QEMU_URI, "domblklist", name)).toContain(raw);

    // discardStateOnRevert: the revert throws B away and restores the definition saved with the snapshot (vda only).
    const { outs: o } = (await sp.update!(id, outs, await checked({ ...base, revertTrigger: "2", discardStateOnRevert: true }, outs))) as {
      outs: Outs;
    };
    expect(o.preRevertSnapshots).toEqual([]);
    expect(holdsMarker(disk, A)).toBe(true);
    expect(snapshotNames(QEMU_URI, name)).toEqual(["one-disk"]);
    expect(virsh(QEMU_URI, "domblklist", name)).not.toContain(raw);
  });

  it("a pre-revert snapshot libvirt refuses (the guest started after the check): nothing changes, the error names discardStateOnRevert", async () => {
    const { name, outs: d, disk } = await createDomainOnImage(images, "rev-race", { running: false }, made);
    const base = { name: "cold2", domain: d.uuid };
    const { id, outs } = (await sp.create(await checked({ ...base, revertTrigger: "1" }))) as { id: string; outs: Outs };
    const starting = provider.makeSnapshotProvider({
      pause: async (point) => {
        if (point === "beforePreRevertSnapshot") virsh(QEMU_URI, "start", name);
      },
    });
    const err = await starting.update!(id, outs, await checked({ ...base, revertTrigger: "2" }, outs)).catch((e) => e);
    expect(err).toBeInstanceOf(SnapshotOptionError);
    expect(err.option).toBe("discardStateOnRevert");
    expect(err.message).toMatch(
      new RegExp(
        `cannot revert domain "${name}" to snapshot "cold2": the snapshot of its current state \\("pre-revert-\\d{8}T\\d{6}Z"\\) could not be taken: .*Nothing was changed`,
      ),
    );
    expect(snapshotNames(QEMU_URI, name)).toEqual(["cold2"]);
    expect(qcow2Snapshots(disk)).toEqual(["cold2"]);
    expect(domainState(QEMU_URI, name)).toBe("running");
    virsh(QEMU_URI, "destroy", name);
  });

  it("a revert that fails after the pre-revert snapshot: nothing is lost, the error names that snapshot, which the outputs record", async () => {
    const { name, outs: d, disk } = await createDomainOnImage(images, "rev-fail", { running: false }, made);
    writeMarker(disk, A);
    const base = { name: "gone", domain: d.uuid };
    const { id, outs } = (await sp.create(await checked({ ...base, revertTrigger: "1" }))) as { id: string; outs: Outs };
    writeMarker(disk, B);
    // Between the pre-revert snapshot and the revert, the target's metadata is removed by hand.
    const failing = provider.makeSnapshotProvider({
      pause: async (point) => {
        if (point === "beforeRevert") virsh(QEMU_URI, "snapshot-delete", name, "gone", "--metadata");
      },
    });
    const err = await failing.update!(id, outs, await checked({ ...base, revertTrigger: "2" }, outs)).catch((e) => e);
    expect(err.name).toBe("NotReadyError");
    const [pre] = err.properties.preRevertSnapshots as string[];
    expect(pre).toMatch(/^pre-revert-/);
    expect(err.message).toMatch(
      new RegExp(`reverting domain "${name}" to snapshot "gone" failed \\(revertTrigger changed\\): .*\\[VIR_ERR_NO_DOMAIN_SNAPSHOT\\]`),
    );
    expect(err.message).toContain(`kept in snapshot "${pre}" (virsh snapshot-revert ${name} ${pre} goes back to it)`);
    expect(err.properties.revertTrigger).toBe("1");
    expect(snapshotNames(QEMU_URI, name)).toEqual([pre]);
    expect(qcow2Snapshots(disk).sort()).toEqual(["gone", pre].sort());
    expect(holdsMarker(disk, B)).toBe(true);
  });
});
