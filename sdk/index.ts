// libvirt-pulumi: Pulumi resources for libvirt domains and snapshots.
export { Domain, type DomainArgs, type DiskArgs, type NetworkInterfaceArgs } from "./domain";
export { Snapshot, type SnapshotArgs, type SnapshotDiskArgs } from "./snapshot";
