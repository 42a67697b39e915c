// A Pool, a Volume in it and a Domain (never started) on the Volume, none of
// which names a hypervisor: they all take the stack's `libvirt-pulumi:uri`.
import * as pulumi from "@pulumi/pulumi";
import * as libvirt from "libvirt-pulumi";

const config = new pulumi.Config();
const prefix = config.require("prefix");

const pool = new libvirt.Pool("pool", { name: `${prefix}-pool`, path: config.require("poolPath") });
const disk = new libvirt.Volume("disk", { pool, name: `${prefix}-disk.qcow2`, capacity: "16MiB", format: "qcow2" });
const vm = new libvirt.Domain("vm", {
  name: `${prefix}-vm`,
  memoryMiB: 64,
  running: false,
  shutdownTimeoutSeconds: 0,
  disks: [{ volume: disk }],
});

export const domainUri = vm.uri;
export const poolUri = pool.uri;
export const volumeUri = disk.uri;
