// A stack-shaped run through the providers, in the order Pulumi uses: a Domain
// and two Snapshots that depend on it; someone takes a third snapshot by hand.
// virsh and qemu-img check every step independently.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";
import { createDomain } from "../helpers/domains";
import { QEMU_URI, domainNames, domainState, makeImageDir, qcow2Snapshots, removeDomain, snapshotNames, uniqueName, virsh } from "../helpers/host";

const { domainProvider: dp, snapshotProvider: sp, TeardownRefusedError } = provider;
type Outs = Record<string, any>;

let images: ReturnType<typeof makeImageDir>;
let name: string;

beforeAll(() => {
  images = makeImageDir("snap-stack");
  name = uniqueName("snap-stack");
});

afterAll(async () => {
  await provider.closeAllConnections();
  removeDomain(QEMU_URI, name);
  images.remove();
});

describe("Domain + Snapshots as one stack on qemu:///system", () => {
  it("a destroy refuses while a hand-made snapshot exists; the cascade removes the domain and keeps that snapshot's data", async () => {
    // pulumi up: the Domain, then both Snapshots (independent of each other: at the same time).
    const disk = images.qcow2(`${name}.qcow2`);
    const dom = await createDomain(name, { disks: [{ file: disk }] }, undefined, name);
    // What the SDK passes for `domain: vm`: the Domain's resolved uuid and uri.
    const snaps = await Promise.all(
      ["before-upgrade", "after-upgrade"].map(async (s) => {
        const c = await sp.check!({}, { name: s, domain: dom.outs.uuid, uri: dom.outs.uri, description: s });
        expect(c.failures).toEqual([]);
        return (await sp.create(c.inputs)) as { id: string; outs: Outs };
      }),
    );
    virsh(QEMU_URI, "snapshot-create-as", name, "by-hand");
    expect(snapshotNames(QEMU_URI, name).sort()).toEqual(["after-upgrade", "before-upgrade", "by-hand"]);

    // Deleting the Domain while all three exist: refused, nothing changed.
    const refused = await dp.delete!(dom.id, dom.outs).catch((e) => e);
    expect(refused).toBeInstanceOf(TeardownRefusedError);
    expect(refused.message).toMatch(/3 snapshots/);
    expect(domainState(QEMU_URI, name)).toBe("running");
    expect(snapshotNames(QEMU_URI, name).sort()).toEqual(["after-upgrade", "before-upgrade", "by-hand"]);
    expect(qcow2Snapshots(disk).sort()).toEqual(["after-upgrade", "before-upgrade", "by-hand"]);

    // pulumi destroy: the Snapshots first (at the same time), then the Domain.
    await Promise.all(snaps.map((s) => sp.delete!(s.id, s.outs)));
    expect(snapshotNames(QEMU_URI, name)).toEqual(["by-hand"]);
    const refusedAgain = await dp.delete!(dom.id, dom.outs).catch((e) => e);
    expect(refusedAgain).toBeInstanceOf(TeardownRefusedError);
    expect(refusedAgain.message).toMatch(/1 snapshot \("by-hand"\)/);
    expect(refusedAgain.message).toMatch(/deleteSnapshotsOnDestroy/);
    expect(domainState(QEMU_URI, name)).toBe("running");
    expect(snapshotNames(QEMU_URI, name)).toEqual(["by-hand"]);
    // The stack's own snapshots took their data with them.
    expect(qcow2Snapshots(disk)).toEqual(["by-hand"]);

    // With the cascade for this destroy: the domain goes, the hand-made snapshot's data stays in the image.
    const saved = process.env.LIBVIRT_PULUMI_DELETE_SNAPSHOTS_ON_DESTROY;
    process.env.LIBVIRT_PULUMI_DELETE_SNAPSHOTS_ON_DESTROY = "1";
    try {
      await dp.delete!(dom.id, dom.outs);
    } finally {
      if (saved === undefined) delete process.env.LIBVIRT_PULUMI_DELETE_SNAPSHOTS_ON_DESTROY;
      else process.env.LIBVIRT_PULUMI_DELETE_SNAPSHOTS_ON_DESTROY = saved;
    }
    expect(domainNames(QEMU_URI)).not.toContain(name);
    expect(qcow2Snapshots(disk)).toEqual(["by-hand"]);
    // The Snapshot resources, already deleted, stay deleted: a repeated delete is a success.
    await Promise.all(snaps.map((s) => sp.delete!(s.id, s.outs)));
  });
});
