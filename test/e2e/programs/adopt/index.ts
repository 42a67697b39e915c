// Adopts a domain that `virsh define` made (it boots no OS, never started) and
// one of its snapshots; the other snapshot stays unmanaged, so the Domain's
// teardown rule has something to refuse on destroy.
import * as pulumi from "@pulumi/pulumi";
import * as libvirt from "libvirt-pulumi";

const config = new pulumi.Config();

const vm = new libvirt.Domain("vm", {
  name: config.require("name"),
  uri: "qemu:///system",
  memoryMiB: config.requireNumber("memoryMiB"),
  disks: [{ file: config.require("disk") }],
  running: false,
  shutdownTimeoutSeconds: 0,
  adopt: true,
  deleteSnapshotsOnDestroy: config.getBoolean("deleteSnapshotsOnDestroy") ?? false,
});

const first = new libvirt.Snapshot("s1", {
  domain: vm,
  name: "s1",
  description: "first",
  adopt: true,
  // Deleting the resource removes libvirt's metadata only: the contents stay in the image.
  deleteDataOnDestroy: false,
});

export const vmAdopted = vm.adopted;
export const vmSnapshots = vm.snapshots;
export const snapshotAdopted = first.adopted;
