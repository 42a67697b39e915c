// Secret inputs on every resource: a raw domain XML with a VNC password, a
// domain description and kernel command line, snapshot descriptions (typed and
// in a raw snapshot XML), a pool path and the connection password. Pulumi keeps
// each one encrypted in the state, in every output it flows into: the raw XML
// saved as inputXml, libvirt's XML of the domain and of its snapshots, the
// volumes' pool.
//
//   pulumi config set --secret vncPassword ...     (and description, cmdline,
//   snapshotDescription, snapshotXmlDescription, poolName; authUser + --secret authPassword
//   for a hypervisor that asks for credentials)
//
// Not a secret: a Volume's name, a Snapshot's name, and the path of a Pool with
// Volume resources in it. They are part of the resources' IDs, which Pulumi
// never encrypts; the SDK refuses them as secrets.
import * as pulumi from "@pulumi/pulumi";
import * as libvirt from "libvirt-pulumi";

const config = new pulumi.Config();
const prefix = config.get("prefix") ?? "lvp-secrets";
const uri = config.get("uri") ?? "qemu:///system";
const authUser = config.get("authUser");
const auth = authUser ? { username: authUser, password: config.requireSecret("authPassword") } : undefined;
// "kvm" where /dev/kvm is usable, else "qemu".
const domainType = config.get("domainType") ?? "kvm";

const pool = new libvirt.Pool("pool", {
  name: config.requireSecret("poolName"),
  path: config.get("poolPath") ?? `/var/lib/libvirt/images/${prefix}-pool`,
  uri,
  auth,
});

// Both domains stay shut off: the kernel below is never booted.
const typedDisk = new libvirt.Volume("typed-disk", { pool, name: `${prefix}-typed.qcow2`, capacity: "16MiB", format: "qcow2" });
const rawDisk = new libvirt.Volume("raw-disk", { pool, name: `${prefix}-raw.qcow2`, capacity: "16MiB", format: "qcow2" });

const typed = new libvirt.Domain("typed", {
  // The VM boots no OS, so it would ignore the ACPI request: hard stop at once.
  shutdownTimeoutSeconds: 0,
  name: `${prefix}-typed`,
  uri,
  auth,
  memoryMiB: 128,
  running: false,
  disks: [{ volume: typedDisk }],
  kernel: "/var/lib/libvirt/images/vmlinuz-never-booted",
  cmdline: config.requireSecret("cmdline"),
  description: config.requireSecret("description"),
});

const raw = new libvirt.Domain("raw", {
  // The VM boots no OS, so it would ignore the ACPI request: hard stop at once.
  shutdownTimeoutSeconds: 0,
  name: `${prefix}-raw`,
  uri,
  auth,
  running: false,
  xml: pulumi.interpolate`<domain type='${domainType}'>
  <name>${prefix}-raw</name>
  <memory unit='MiB'>128</memory>
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${rawDisk.path}'/><target dev='vda' bus='virtio'/></disk>
    <graphics type='vnc' port='-1' autoport='yes' passwd='${config.requireSecret("vncPassword")}'/>
  </devices>
</domain>`,
});

const typedSnapshot = new libvirt.Snapshot("typed-snapshot", {
  domain: typed,
  description: config.requireSecret("snapshotDescription"),
});

const rawSnapshot = new libvirt.Snapshot("raw-snapshot", {
  domain: raw,
  xml: pulumi.interpolate`<domainsnapshot><description>${config.requireSecret("snapshotXmlDescription")}</description></domainsnapshot>`,
});

export const domainNames = [typed.name, raw.name];
export const snapshotNames = [typedSnapshot.name, rawSnapshot.name];
// A secret, as the pool's name is one.
export const poolName = pool.name;
