import * as pulumi from "@pulumi/pulumi";
import { rememberAuth, secretAuth, withSecretAuth } from "./auth";
import { forwardingProvider } from "./serializable";
import { rememberSecretOutputs, withDerivedSecrets } from "./secret-outputs";
import { DOMAIN_OUTPUT_KEYS, DOMAIN_SECRET_FLOWS, DomainResource, type DiskArgs, type DomainArgs } from "./generated/domain";
import { Volume } from "./volume";

export type { DiskArgs, DomainArgs, NetworkInterfaceArgs } from "./generated/domain";

/** A disk as the provider takes it: a Volume resource becomes its pool and name (and format). */
function diskInput(disk: pulumi.Unwrap<DiskArgs>): pulumi.Output<unknown> | unknown {
  const volume = disk.volume as unknown;
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
    // Every output must be a registered property, or it stays undefined on the
    // resource when it was not also an input (uri resolved from the default, say).
    const outputs = Object.fromEntries(DOMAIN_OUTPUT_KEYS.map((k) => [k, undefined]));
    const disks = args.disks === undefined ? undefined : pulumi.output(args.disks).apply((list) => list.map(diskInput));
    const auth = secretAuth(args.auth);
    // A secret input makes every output it flows into secret (inputXml, libvirt's xml, ...).
    const secrets = withDerivedSecrets({
      props: { ...outputs, ...args, disks, auth, name: args.name ?? name },
      flows: DOMAIN_SECRET_FLOWS,
      gateKey: "uuid",
      opts: withSecretAuth(opts),
    });
    super(forwardingProvider("domainProvider"), name, secrets.props, secrets.opts, "libvirt-pulumi", "Domain");
    rememberAuth(this, auth);
    rememberSecretOutputs(this, secrets.decision);
  }
}
