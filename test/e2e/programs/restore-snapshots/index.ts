// A Domain (never started) on a disk image given in config. `restoreSnapshotsFrom`
// (config) makes its create take archived snapshots back; `snapshots` (config, a
// comma-separated list) adds a Snapshot resource of it for each name.
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
  disks: [{ file: config.require("disk") }],
  deleteSnapshotsOnDestroy: config.getBoolean("deleteSnapshotsOnDestroy") ?? false,
  restoreSnapshotsFrom: config.get("restoreSnapshotsFrom"),
});

const names = (config.get("snapshots") ?? "").split(",").filter(Boolean);
export const snapshotIds = names.map((name) => new libvirt.Snapshot(name, { domain: vm, name }).id);
export const restored = vm.restoredSnapshots;
export const skipped = vm.skippedSnapshots;
