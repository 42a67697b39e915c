import * as pulumi from "@pulumi/pulumi";
import { secretAuth } from "./auth";
import { forwardingProvider } from "./serializable";
import { registration } from "./registration";
import { DOMAIN_OUTPUT_KEYS, DOMAIN_SECRET_FLOWS, DomainResource, type DiskArgs, type DomainArgs } from "./generated/domain";
import { Volume } from "./volume";
import { CloudInitDisk } from "./cloudinitdisk";

export type { DiskArgs, DomainArgs, NetworkInterfaceArgs } from "./generated/domain";

/**
 * A disk as the provider takes it: a Volume resource becomes its pool and name (and format);
 * a CloudInitDisk its pool and name, a raw image, a cdrom unless `device` says otherwise.
 */
function diskInput(disk: pulumi.Unwrap<DiskArgs>): pulumi.Output<unknown> | unknown {
  const volume = disk.volume as unknown;
  if (volume instanceof CloudInitDisk) {
    return pulumi
      .all([volume.pool, volume.name])
      .apply(([pool, seedName]) => ({ ...disk, volume: { pool, name: seedName }, format: disk.format ?? "raw", device: disk.device ?? "cdrom" }));
  }
  if (!(volume instanceof Volume)) return disk;
  return pulumi
    .all([volume.pool, volume.name, volume.format])
    .apply(([pool, volumeName, format]) => ({ ...disk, volume: { pool, name: volumeName }, format: disk.format ?? format }));
}

/**
 * A libvirt domain (virtual machine).
 *
 * An input given as a secret stays secret in every output it reaches (libvirt's
 * `xml`, `inputXml`, ...; see sdk/secret-outputs.ts).
 *
 * Deleting a domain that still has snapshots, a managed-save image or
 * checkpoints is refused, before anything is touched, unless the matching
 * `delete*OnDestroy` option allows it.
 *
 * ```ts
 * import * as libvirt from "libvirt-pulumi";
 * const vm = new libvirt.Domain("web", {
 *   memoryMiB: 512,
 *   vcpus: 1,
 *   disks: [{ file: "/var/lib/libvirt/images/web.qcow2" }],
 * });
 * export const uuid = vm.uuid;
 * ```
 */
export class Domain extends DomainResource {
  constructor(name: string, args: DomainArgs, opts?: pulumi.CustomResourceOptions) {
    const disks = args.disks === undefined ? undefined : pulumi.output(args.disks).apply((list) => list.map(diskInput));
    // A secret input makes every output it flows into secret (inputXml, libvirt's xml, ...).
    const r = registration({
      props: { ...args, disks, name: args.name ?? name },
      outputKeys: DOMAIN_OUTPUT_KEYS,
      flows: DOMAIN_SECRET_FLOWS,
      gateKey: "uuid",
      opts,
      auth: secretAuth(args.auth),
      sharesAuth: true,
    });
    super(forwardingProvider("domainProvider"), name, r.props, r.opts, "libvirt-pulumi", "Domain");
    r.registered(this);
  }
}
