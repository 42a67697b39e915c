// A Domain (never started) on a qcow2 image the test made, and a Snapshot of it.
// Changing the config `trigger` reverts the domain to the snapshot on the next
// `pulumi up`; `discardStateOnRevert` decides whether the state before is kept.
import * as pulumi from "@pulumi/pulumi";
import * as libvirt from "libvirt-pulumi";

const config = new pulumi.Config();
const prefix = config.require("prefix");

const vm = new libvirt.Domain("vm", {
  // The VM boots no OS, so it would ignore the ACPI request: hard stop at once.
  shutdownTimeoutSeconds: 0,
  name: `${prefix}-vm`,
  uri: "qemu:///system",
  memoryMiB: 64,
  running: false,
  disks: [{ file: config.require("disk") }],
  deleteSnapshotsOnDestroy: config.getBoolean("deleteSnapshotsOnDestroy") ?? false,
});

const base = new libvirt.Snapshot("base", {
  domain: vm,
  name: "base",
  revertTrigger: config.get("trigger"),
  discardStateOnRevert: config.getBoolean("discardStateOnRevert") ?? false,
});

export const preRevertSnapshots = base.preRevertSnapshots;
