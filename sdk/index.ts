// libvirt-pulumi: Pulumi resources for libvirt domains and snapshots.
export { Domain, type DomainArgs, type DiskArgs, type NetworkInterfaceArgs } from "./domain";
export { Pool, Volume, type PoolArgs, type VolumeArgs } from "./volume";
export { type AuthArgs } from "./auth";
export { Snapshot, type SnapshotArgs, type SnapshotDiskArgs } from "./snapshot";
export {
  Network,
  type NetworkArgs,
  type NetworkDhcpArgs,
  type NetworkDhcpHostArgs,
  type NetworkDhcpRangeArgs,
  type NetworkDnsHostArgs,
} from "./network";
export { CloudInitDisk, type CloudInitDiskArgs } from "./cloudinitdisk";
