// Test program of test/e2e/hung-refresh.test.ts. On the hypervisor `hungUri`
// (a loopback proxy to the local libvirtd, which the test later makes silent):
// one Pool and `groups` groups of a Volume, a shut-off Domain booting from it and
// a Snapshot of it (1 + 3 x 13 = 40 resources by default). On qemu:///system:
// a Pool, a Volume, a shut-off Domain with a description, and a Snapshot of it.
// With `authPassword` set, the odd-numbered Domains on `hungUri` (and so their
// Snapshots) carry credentials: their opens take the credentialed path (the local
// libvirtd asks for none, so they succeed while the proxy forwards).
import * as pulumi from "@pulumi/pulumi";
import * as libvirt from "libvirt-pulumi";

const config = new pulumi.Config();
const prefix = config.require("prefix");
const hungUri = config.require("hungUri");
const groups = config.getNumber("groups") ?? 13;
const authPassword = config.getSecret("authPassword");

function stack(label: string, uri: string, count: number, description?: string, withAuth = false) {
  const pool = new libvirt.Pool(`${label}-pool`, {
    name: `${prefix}-${label}-pool`,
    path: `/var/lib/libvirt/images/${prefix}-${label}-pool`,
    uri,
  });
  return Array.from({ length: count }, (_, i) => {
    const disk = new libvirt.Volume(`${label}-disk-${i}`, { pool, name: `${label}-${i}.qcow2`, capacity: "1MiB", format: "qcow2" });
    const vm = new libvirt.Domain(`${label}-vm-${i}`, {
      // The VM boots no OS, so it would ignore the ACPI request: hard stop at once.
      shutdownTimeoutSeconds: 0,
      name: `${prefix}-${label}-vm-${i}`,
      uri,
      memoryMiB: 32,
      running: false,
      disks: [{ volume: disk }],
      description,
      auth: withAuth && authPassword && i % 2 === 1 ? { username: "lvp-e2e", password: authPassword } : undefined,
    });
    new libvirt.Snapshot(`${label}-snap-${i}`, { domain: vm, name: "baseline" });
    return vm;
  });
}

const hung = stack("hung", hungUri, groups, undefined, true);
const local = stack("local", "qemu:///system", 1, "set by pulumi up");

export const hungDomains = hung.map((d) => d.name);
export const localDomain = local[0].name;
