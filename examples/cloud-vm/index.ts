// Two real Linux guests from one base image: an isolated Network with no host
// address (no traffic ever reaches the host or beyond), a Pool, the guest image
// of scripts/guest-image.sh as a base Volume, an overlay Volume per VM, a
// CloudInitDisk per VM (hostname, an SSH key, a static IPv4 address), and two
// Domains that wait until the guest agent reports that address. Outputs the IPs.
import * as pulumi from "@pulumi/pulumi";
import * as libvirt from "libvirt-pulumi";

const config = new pulumi.Config();
const prefix = config.get("prefix") ?? "lvp-cloud";
const uri = config.get("uri") ?? "qemu:///system";
// The directory `bash scripts/guest-image.sh | tail -1` prints: disk.qcow2, vmlinuz, initrd.img, cmdline.
const imageDir = config.require("imageDir");
const cmdline = config.get("cmdline") ?? "root=/dev/vda rw console=ttyS0";
const sshKey = config.require("sshPublicKey");
const count = config.getNumber("count") ?? 2;
// The guests' subnet: .11, .12, ... on an isolated network (the host has no address there).
const subnet = config.get("subnet") ?? "10.213.0";

const network = new libvirt.Network("net", { name: `${prefix}-net`, uri, mode: "isolated" });

const pool = new libvirt.Pool("pool", {
  name: `${prefix}-pool`,
  path: config.get("poolPath") ?? `/var/lib/libvirt/images/${prefix}-pool`,
  uri,
});

// The image's own kernel and initrd in the pool (QEMU reads them as libvirt-qemu, as it does the disks).
const kernel = new libvirt.Volume("kernel", { pool, name: "vmlinuz", source: `${imageDir}/vmlinuz`, format: "raw" });
const initrd = new libvirt.Volume("initrd", { pool, name: "initrd.img", source: `${imageDir}/initrd.img`, format: "raw" });
const base = new libvirt.Volume("base", { pool, name: "base.qcow2", source: `${imageDir}/disk.qcow2`, format: "qcow2" });

const deleteSnapshotsOnDestroy = config.getBoolean("deleteSnapshotsOnDestroy") ?? false;

const vms: libvirt.Domain[] = [];
const overlays: libvirt.Volume[] = [];
for (let i = 1; i <= count; i++) {
  const host = `${prefix}-vm${i}`;
  const mac = `52:54:00:d5:00:${(0x10 + i).toString(16)}`;
  const address = `${subnet}.${10 + i}`;
  const overlay = new libvirt.Volume(`vm${i}-disk`, {
    pool,
    name: `${host}.qcow2`,
    backingVolume: base.path,
    backingFormat: "qcow2",
    format: "qcow2",
    deleteSnapshotDataOnDestroy: config.getBoolean("deleteVolumeSnapshotData") ?? false,
  });
  overlays.push(overlay);
  const seed = new libvirt.CloudInitDisk(`vm${i}-seed`, {
    pool,
    name: `${host}-seed.iso`,
    metaData: { "local-hostname": host },
    userData: { users: [{ name: "debian", sudo: "ALL=(ALL) NOPASSWD:ALL", shell: "/bin/bash", ssh_authorized_keys: [sshKey] }] },
    networkConfig: {
      version: 2,
      ethernets: { lan: { match: { macaddress: mac }, "set-name": "lan0", addresses: [`${address}/24`] } },
    },
  });
  vms.push(
    new libvirt.Domain(`vm${i}`, {
      name: host,
      uri,
      // TCG: KVM cannot boot a Linux kernel on nested hosts like CI's; set domainType "kvm" where it can.
      type: (config.get("domainType") as "kvm" | "qemu" | undefined) ?? "qemu",
      machine: "pc",
      memoryMiB: config.getNumber("memoryMiB") ?? 512,
      vcpus: 1,
      kernel: kernel.path,
      initrd: initrd.path,
      cmdline,
      disks: [
        { volume: overlay, format: "qcow2" },
        // The Debian cloud kernel has no AHCI: the seed goes on IDE (machine "pc").
        { volume: seed, device: "cdrom", bus: "ide", format: "raw" },
      ],
      networkInterfaces: [{ network: network.name, mac, waitForAddress: "agent" }],
      qemuGuestAgent: true,
      serialConsole: true,
      deleteSnapshotsOnDestroy,
    }),
  );
}

// `pulumi config set snapshot true`: a Snapshot of the first VM, taken by the stack.
if (config.getBoolean("snapshot")) {
  new libvirt.Snapshot("vm1-snapshot", { domain: vms[0], name: "before-upgrade", description: "taken by pulumi up" });
}

export const networkName = network.name;
export const poolName = pool.name;
export const domainNames = vms.map((vm) => vm.name);
export const ipAddresses = vms.map((vm) => vm.ipAddress);
export const interfaces = vms.map((vm) => vm.interfaces);
export const diskPaths = overlays.map((v) => v.path);
