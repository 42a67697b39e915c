// One domain on one volume, with the teardown options taken from stack config.
// See README.md for the walk-through: a snapshot made with virsh makes
// `pulumi destroy` refuse; either opt-in lets it through.
import * as pulumi from "@pulumi/pulumi";
import * as libvirt from "libvirt-pulumi";

const config = new pulumi.Config();
const prefix = config.get("prefix") ?? "lvp-guarded";
const uri = config.get("uri") ?? "qemu:///system";

const pool = new libvirt.Pool("pool", {
  name: `${prefix}-pool`,
  path: config.get("poolPath") ?? `/var/lib/libvirt/images/${prefix}-pool`,
  uri,
});

const disk = new libvirt.Volume("disk", {
  pool,
  name: `${prefix}-vm.qcow2`,
  capacity: "64MiB",
  deleteSnapshotDataOnDestroy: config.getBoolean("deleteVolumeSnapshotData") ?? false,
});

const vm = new libvirt.Domain("vm", {
  // The VM boots no OS, so it would ignore the ACPI request: hard stop at once.
  shutdownTimeoutSeconds: 0,
  name: `${prefix}-vm`,
  uri,
  memoryMiB: 128,
  // `pulumi config set --secret description ...`: kept encrypted in the state, libvirt's XML output included.
  description: config.getSecret("description"),
  disks: [{ file: disk.path }],
  // false by default: deleting the domain while it has snapshots is refused.
  deleteSnapshotsOnDestroy: config.getBoolean("deleteSnapshotsOnDestroy") ?? false,
  deleteSnapshotDataOnDestroy: config.getBoolean("deleteSnapshotDataOnDestroy") ?? false,
});

export const domainName = vm.name;
export const diskPath = disk.path;
export const snapshots = vm.snapshots;
