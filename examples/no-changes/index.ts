// A broad spread of inputs of every resource, including the values libvirt
// normalizes (descriptions with spaces or empty, sizes in other units, a pool
// path with a trailing slash). After `pulumi up`, `pulumi preview
// --expect-no-changes` passes, and again after `pulumi refresh`.
import * as pulumi from "@pulumi/pulumi";
import * as libvirt from "libvirt-pulumi";

const config = new pulumi.Config();
const prefix = config.get("prefix") ?? "lvp-nochanges";
const uri = config.get("uri") ?? "qemu:///system";
const poolPath = config.get("poolPath") ?? `/var/lib/libvirt/images/${prefix}-pool`;

const pool = new libvirt.Pool("pool", {
  name: `${prefix}-pool`,
  path: `${poolPath}/`,
  uri,
  autostart: true,
  deleteVolumesOnDestroy: false,
});

const base = new libvirt.Volume("base", {
  pool,
  name: `${prefix}-base.qcow2`,
  capacity: "0.0625 GiB",
  format: "qcow2",
});

const overlay = new libvirt.Volume("overlay", {
  pool,
  name: `${prefix}-overlay.qcow2`,
  backingVolume: base.path,
  backingFormat: "qcow2",
  deleteSnapshotDataOnDestroy: true,
});

const scratch = new libvirt.Volume("scratch", {
  pool,
  name: `${prefix}-scratch.img`,
  capacity: 4 * 1024 * 1024,
  format: "raw",
});

const vm = new libvirt.Domain("vm", {
  // The VM boots no OS, so it would ignore the ACPI request: hard stop at once.
  shutdownTimeoutSeconds: 0,
  name: `${prefix}-vm`,
  uri,
  memoryMiB: 96,
  vcpus: 2,
  arch: "x86_64",
  machine: "pc",
  description: "  a description with spaces around it  ",
  disks: [{ volume: overlay }, { file: scratch.path, format: "raw", target: "vdc", readOnly: true }],
  bootDevices: ["hd", "network"],
  graphics: "vnc",
  serialConsole: true,
  running: true,
  persistent: true,
  autostart: false,
  deleteSnapshotsOnDestroy: true,
  keepNvramOnDestroy: false,
});

const idleDisk = new libvirt.Volume("idle-disk", {
  pool,
  name: `${prefix}-idle.qcow2`,
  capacity: "16MiB",
  deleteSnapshotDataOnDestroy: true,
});

const idle = new libvirt.Domain("idle", {
  // The VM boots no OS, so it would ignore the ACPI request: hard stop at once.
  shutdownTimeoutSeconds: 0,
  name: `${prefix}-idle`,
  uri,
  memoryMiB: 64,
  description: "",
  disks: [{ file: idleDisk.path }],
  networkInterfaces: [{ bridge: `${prefix}-br`, mac: "52:54:00:0c:0c:01", model: "e1000" }, { network: "default" }],
  running: false,
  autostart: true,
});

const snap = new libvirt.Snapshot("snap", {
  domain: vm,
  description: " spaced snapshot description ",
  atomic: true,
});

const offline = new libvirt.Snapshot("offline", {
  domain: idle,
  name: "offline",
  description: "",
  memory: "none",
  deleteDataOnDestroy: true,
});

export const names = { pool: pool.name, vm: vm.name, idle: idle.name, snap: snap.name, offline: offline.name };
export const paths = { base: base.path, overlay: overlay.path, scratch: scratch.path };
