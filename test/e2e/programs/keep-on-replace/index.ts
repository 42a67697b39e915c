// A Domain (never started) on a disk image given in config, with the machine type
// from config: changing it replaces the domain. `keepSnapshotsOnReplace` (config)
// keeps the snapshot tree across that replacement. Two Snapshot resources of it,
// s1 and s2 (taken after s1: its child).
import * as pulumi from "@pulumi/pulumi";
import * as libvirt from "libvirt-pulumi";

const config = new pulumi.Config();
const prefix = config.require("prefix");

const vm = new libvirt.Domain("vm", {
  name: `${prefix}-vm`,
  uri: "qemu:///system",
  memoryMiB: 64,
  running: false,
  // The VM boots no OS, so it would ignore the ACPI request: hard stop at once.
  shutdownTimeoutSeconds: 0,
  machine: config.require("machine"),
  disks: [{ file: config.require("disk") }],
  keepSnapshotsOnReplace: config.getBoolean("keepSnapshotsOnReplace") ?? false,
  deleteSnapshotsOnDestroy: config.getBoolean("deleteSnapshotsOnDestroy") ?? false,
  deleteSnapshotDataOnDestroy: config.getBoolean("deleteSnapshotDataOnDestroy") ?? false,
});

const s1 = new libvirt.Snapshot("s1", { domain: vm, name: "s1", description: "the first" });
const s2 = new libvirt.Snapshot("s2", { domain: vm, name: "s2", description: "the second" }, { dependsOn: [s1] });

export const uuid = vm.uuid;
export const snapshotIds = [s1.id, s2.id];
export const creationTimes = [s1.creationTime, s2.creationTime];
