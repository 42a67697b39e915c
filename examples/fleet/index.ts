// A fleet: `count` domains, each booted from its own qcow2 volume and given a
// snapshot once it runs, all in one storage pool. Pulumi creates the volumes,
// then the domains, then the snapshots, many at a time; the end-to-end tests
// kill libvirtd in the middle of that and check that refresh + up converge.
import * as pulumi from "@pulumi/pulumi";
import * as libvirt from "libvirt-pulumi";

const config = new pulumi.Config();
const prefix = config.get("prefix") ?? "lvp-fleet";
const uri = config.get("uri") ?? "qemu:///system";
const count = config.getNumber("count") ?? 4;
const deleteSnapshotsOnDestroy = config.getBoolean("deleteSnapshotsOnDestroy") ?? false;

const pool = new libvirt.Pool("pool", {
  name: `${prefix}-pool`,
  path: config.get("poolPath") ?? `/var/lib/libvirt/images/${prefix}-pool`,
  uri,
});

const machines = Array.from({ length: count }, (_, i) => {
  const name = `${prefix}-vm-${i}`;
  const disk = new libvirt.Volume(`disk-${i}`, {
    pool,
    name: `${name}.qcow2`,
    capacity: "64MiB",
    deleteSnapshotDataOnDestroy: config.getBoolean("deleteVolumeSnapshotData") ?? false,
  });
  const vm = new libvirt.Domain(`vm-${i}`, {
    // The VM boots no OS, so it would ignore the ACPI request: hard stop at once.
    shutdownTimeoutSeconds: 0,
    name,
    uri,
    memoryMiB: config.getNumber("memoryMiB") ?? 64,
    disks: [{ volume: disk }],
    deleteSnapshotsOnDestroy,
  });
  const baseline = new libvirt.Snapshot(`baseline-${i}`, { domain: vm, name: "baseline" });
  return { vm, disk, baseline };
});

export const domains = machines.map((m) => m.vm.name);
export const disks = machines.map((m) => m.disk.path);
