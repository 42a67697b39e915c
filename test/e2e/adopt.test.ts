// Issue 14 item 4 through the real `pulumi` CLI: a domain made with virsh define,
// with two snapshots made with virsh snapshot-create-as, adopted (the Domain and
// one Snapshot, adopt: true). A mismatch fails the up with every difference and
// leaves the domain as it was; a match is adopted, the next preview plans no
// change, an update is applied; the destroy is refused by the teardown rule while
// the unmanaged snapshot exists, and cascades once the cascade is
// allowed for the destroy. virsh and qemu-img say independently what libvirt and the image hold.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PulumiProject } from "../helpers/pulumi-cli";
import { defineDomainByHand } from "../helpers/domains";
import { QEMU_URI, domainNames, makeImageDir, qcow2Snapshots, removeDomain, snapshotNames, uniqueName, virsh } from "../helpers/host";

let images: ReturnType<typeof makeImageDir>;
let project: PulumiProject;
let name: string;
let disk: string;

beforeAll(async () => {
  images = makeImageDir("e2e-adopt");
  name = uniqueName("e2e-adopt");
  disk = images.qcow2(`${name}.qcow2`);
  defineDomainByHand("e2e-adopt", { disks: [{ file: disk }] }, undefined, name);
  virsh(QEMU_URI, "snapshot-create-as", name, "s1", "--description", "first");
  virsh(QEMU_URI, "snapshot-create-as", name, "s2", "--description", "second");
  project = PulumiProject.prepare(join(__dirname, "programs", "adopt"));
  await project.newStack("adopt", { name, disk, memoryMiB: "128" });
});

afterAll(async () => {
  await project?.destroyAllAndRemove();
  removeDomain(QEMU_URI, name);
  images?.remove();
});

const dumpxml = () => virsh(QEMU_URI, "dumpxml", "--inactive", name);
const output = async (key: string) => JSON.parse((await project.ok(["stack", "output", key, "--json"])).stdout);

describe("adopt with the pulumi CLI", () => {
  it("a mismatch fails the up listing memoryMiB, and the domain stays as virsh made it", async () => {
    const before = dumpxml();
    const up = await project.run(["up", "--yes", "--skip-preview"]);
    expect(up.code).not.toBe(0);
    expect(up.output).toMatch(
      /cannot adopt domain "lvp-test-[^"]+" \(uuid [0-9a-f-]{36}\) on qemu:\/\/\/system: its definition differs from the inputs in 1 property: memoryMiB: 128 in the inputs, 64 in libvirt/,
    );
    expect(dumpxml()).toBe(before);
    expect(snapshotNames(QEMU_URI, name)).toEqual(["s1", "s2"]);
    const { resources } = await project.exportState();
    expect(resources.filter((r) => r.type.includes("libvirt-pulumi"))).toEqual([]);
  });

  it("a match is adopted, the next preview plans no change, and an update is applied", async () => {
    await project.ok(["config", "set", "memoryMiB", "64"]);
    await project.ok(["up", "--yes", "--skip-preview"]);
    expect(await output("vmAdopted")).toBe(true);
    expect(await output("snapshotAdopted")).toBe(true);
    expect(await output("vmSnapshots")).toEqual(["s1", "s2"]);
    await project.ok(["preview", "--expect-no-changes"]);
    await project.ok(["refresh", "--yes", "--skip-preview"]);
    await project.ok(["preview", "--expect-no-changes"]);

    await project.ok(["config", "set", "memoryMiB", "96"]);
    await project.ok(["up", "--yes", "--skip-preview"]);
    expect(virsh(QEMU_URI, "dominfo", name)).toMatch(/Max memory:\s+98304 KiB/);
    expect(await output("vmAdopted")).toBe(true);
  });

  it("the destroy is refused while the unmanaged snapshot exists; the cascade allowed for the destroy removes it, the contents stay in the image", async () => {
    const refused = await project.run(["destroy", "--yes"]);
    expect(refused.code).not.toBe(0);
    expect(refused.output).toMatch(/refusing to delete domain .*1 snapshot \("s2"\).*deleteSnapshotsOnDestroy: true/);
    expect(domainNames(QEMU_URI)).toContain(name);
    // The adopted Snapshot went first (deleteDataOnDestroy: false: metadata only); s2 is untouched.
    expect(snapshotNames(QEMU_URI, name)).toEqual(["s2"]);

    // The cascade for this destroy (README: Turning the cascade on for a destroy). An `up` with
    // deleteSnapshotsOnDestroy would first take s1 again: the refused destroy already removed it from the stack.
    await project.ok(["destroy", "--yes"], { LIBVIRT_PULUMI_DELETE_SNAPSHOTS_ON_DESTROY: "1" });
    expect(domainNames(QEMU_URI)).not.toContain(name);
    expect(qcow2Snapshots(disk).sort()).toEqual(["s1", "s2"]);
  });
});
