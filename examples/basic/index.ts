// A storage pool, a qcow2 volume in it, a domain that uses the volume as its
// disk, and a snapshot taken once the domain runs. Settings come from stack
// config so that the demo and the end-to-end tests can run it side by side.
import * as pulumi from "@pulumi/pulumi";
import * as libvirt from "libvirt-pulumi";

const config = new pulumi.Config();
const prefix = config.get("prefix") ?? "lvp-demo";
const uri = config.get("uri") ?? "qemu:///system";
// For a hypervisor that asks for credentials (a SASL listener on qemu+tcp://host/system):
// `pulumi config set authUser <name>` and `pulumi config set --secret authPassword <password>`.
const authUser = config.get("authUser");
const auth = authUser ? { username: authUser, password: config.requireSecret("authPassword") } : undefined;

const pool = new libvirt.Pool("pool", {
  name: `${prefix}-pool`,
  path: config.get("poolPath") ?? `/var/lib/libvirt/images/${prefix}-pool`,
  uri,
  auth,
});

// The Volume uses the Pool's uri and auth, the Snapshot the Domain's.
const disk = new libvirt.Volume("disk", {
  pool,
  name: `${prefix}-web.qcow2`,
  capacity: "64MiB",
  format: "qcow2",
  // The image holds the snapshots' contents; deleting it then is opt-in too.
  deleteSnapshotDataOnDestroy: config.getBoolean("deleteVolumeSnapshotData") ?? false,
});

const vm = new libvirt.Domain("web", {
  // The VM boots no OS, so it would ignore the ACPI request: hard stop at once.
  shutdownTimeoutSeconds: 0,
  name: config.get("domainName") ?? `${prefix}-web`,
  uri,
  auth,
  memoryMiB: config.getNumber("memoryMiB") ?? 128,
  vcpus: 1,
  // The Volume resource: libvirt's <disk type='volume'>, and the domain depends on it.
  disks: [{ volume: disk }],
  deleteSnapshotsOnDestroy: config.getBoolean("deleteSnapshotsOnDestroy") ?? false,
});

const beforeUpgrade = new libvirt.Snapshot("before-upgrade", {
  domain: vm,
  description: "taken by pulumi up, before the upgrade",
});

export const domainName = vm.name;
export const domainUuid = vm.uuid;
export const domainState = vm.state;
export const diskPath = disk.path;
export const snapshotName = beforeUpgrade.name;
