// A Pool, a Volume in it, and a Domain (never started) on the Volume. Config
// changes replace one of them: diskFormat or diskName replace the Volume,
// poolPath replaces the Pool.
import * as pulumi from "@pulumi/pulumi";
import * as libvirt from "libvirt-pulumi";

const config = new pulumi.Config();
const prefix = config.require("prefix");
const uri = config.get("uri") ?? "qemu:///system";

const pool = new libvirt.Pool("pool", { name: `${prefix}-pool`, path: config.require("poolPath"), uri });

const format = (config.get("diskFormat") ?? "qcow2") as "qcow2" | "raw";
const disk = new libvirt.Volume("disk", { pool, name: config.get("diskName") ?? `${prefix}-disk.img`, capacity: "16MiB", format });

const vm = new libvirt.Domain("vm", {
  // The VM boots no OS, so it would ignore the ACPI request: hard stop at once.
  shutdownTimeoutSeconds: 0,
  name: `${prefix}-vm`,
  uri,
  memoryMiB: 64,
  running: false,
  disks: [{ file: disk.path, format }],
});

export const domainName = vm.name;
export const diskPath = disk.path;
