// One stack over two hypervisors: on each, a storage pool and `perHost` domains
// (default 2), each booted from its own qcow2 volume (no OS on it) and given a
// `baseline` snapshot. The first host is the stack's default hypervisor: its
// resources give no `uri`, so they take `libvirt-pulumi:uri` from the stack
// config (without it LIBVIRT_DEFAULT_URI, then libvirt's default: qemu:///system
// as root). The second is `secondUri` (required). Nothing orders the two hosts'
// resources against each other, so Pulumi creates and destroys them at the same
// time; the provider keeps one connection pool per hypervisor URI.
import * as pulumi from "@pulumi/pulumi";
import * as libvirt from "libvirt-pulumi";

const config = new pulumi.Config();
const prefix = config.get("prefix") ?? "lvp-two";
const perHost = config.getNumber("perHost") ?? 2;
const deleteSnapshotsOnDestroy = config.getBoolean("deleteSnapshotsOnDestroy") ?? false;
const deleteVolumeSnapshotData = config.getBoolean("deleteVolumeSnapshotData") ?? false;

const hosts = [
  // No uri: the stack's default hypervisor.
  { key: "first", uri: undefined, poolPath: config.get("poolPath") ?? `/var/lib/libvirt/images/${prefix}-first-pool` },
  { key: "second", uri: config.require("secondUri"), poolPath: config.get("secondPoolPath") ?? `/var/lib/libvirt/images/${prefix}-second-pool` },
];

function host(h: (typeof hosts)[number]) {
  const pool = new libvirt.Pool(`${h.key}-pool`, { name: `${prefix}-${h.key}-pool`, path: h.poolPath, uri: h.uri });
  const vms = Array.from({ length: perHost }, (_, i) => {
    const name = `${prefix}-${h.key}-${i}`;
    // The Volume and the Snapshot are on the hypervisor of their Pool and Domain.
    const disk = new libvirt.Volume(`${h.key}-disk-${i}`, {
      pool,
      name: `${name}.qcow2`,
      capacity: "16MiB",
      format: "qcow2",
      deleteSnapshotDataOnDestroy: deleteVolumeSnapshotData,
    });
    const vm = new libvirt.Domain(`${h.key}-vm-${i}`, {
      name,
      uri: h.uri,
      memoryMiB: config.getNumber("memoryMiB") ?? 64,
      // It boots no OS, so it would ignore the ACPI request: hard stop at once.
      shutdownTimeoutSeconds: 0,
      disks: [{ volume: disk }],
      deleteSnapshotsOnDestroy,
    });
    new libvirt.Snapshot(`${h.key}-baseline-${i}`, { domain: vm, name: "baseline" });
    return vm;
  });
  return { uri: pool.uri, pool: pool.name, domains: vms.map((vm) => vm.name) };
}

export const first = host(hosts[0]);
export const second = host(hosts[1]);
