import * as pulumi from "@pulumi/pulumi";
import { Pool } from "./pool";
import { authGivenTo, secretAuth } from "./auth";
import { forwardingProvider } from "./serializable";
import { registration } from "./registration";
import { ID_INPUTS, secretOutputsOf } from "./secret-outputs";
import { CLOUD_INIT_DISK_OUTPUT_KEYS, CLOUD_INIT_DISK_SECRET_FLOWS, CloudInitDiskResource, type CloudInitDiskArgs } from "./generated/cloudinitdisk";

export type { CloudInitDiskArgs } from "./generated/cloudinitdisk";

/** Inputs that are always stored as secrets, however the program passed them: user-data and vendor-data often hold passwords and keys. */
export const ALWAYS_SECRET_CLOUD_INIT_INPUTS = ["userData", "vendorData"] as const;

/**
 * A cloud-init NoCloud seed: an ISO 9660 image labelled `cidata` holding
 * user-data, meta-data (and network-config, vendor-data), built on the machine
 * running Pulumi and uploaded as a volume into a pool. Attach it to a Domain as a
 * cdrom (its `path` as the disk's `file`). Any change of content replaces it,
 * with a new instance-id; deleting or replacing it is refused while a domain uses it.
 *
 * ```ts
 * const seed = new libvirt.CloudInitDisk("web-seed", {
 *   pool,
 *   userData: { hostname: "web", ssh_authorized_keys: ["ssh-ed25519 AAAA... me@laptop"] },
 *   metaData: { "local-hostname": "web" },
 * });
 * ```
 */
export class CloudInitDisk extends CloudInitDiskResource {
  constructor(name: string, args: CloudInitDiskArgs, opts?: pulumi.CustomResourceOptions) {
    const { pool, userData, vendorData, ...rest } = args;
    const fromPool = pool instanceof Pool ? { pool: pool.name, uri: args.uri ?? pool.uri } : { pool };
    const secretOpts = {
      ...opts,
      additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), ...ALWAYS_SECRET_CLOUD_INIT_INPUTS],
    };
    const r = registration({
      props: {
        ...rest,
        ...fromPool,
        name: args.name ?? name,
        userData: userData === undefined ? undefined : pulumi.secret(userData),
        vendorData: vendorData === undefined ? undefined : pulumi.secret(vendorData),
      },
      outputKeys: CLOUD_INIT_DISK_OUTPUT_KEYS,
      flows: CLOUD_INIT_DISK_SECRET_FLOWS,
      gateKey: "key",
      opts: secretOpts,
      auth: args.auth !== undefined ? secretAuth(args.auth) : pool instanceof Pool ? authGivenTo(pool) : undefined,
      upstream: pool instanceof Pool ? { outputs: secretOutputsOf(pool), flows: {}, idInputs: ID_INPUTS.volumeInPool, what: "Pool" } : undefined,
      id: { what: `CloudInitDisk "${name}"`, inputs: ID_INPUTS.Volume },
    });
    super(forwardingProvider("cloudInitDiskProvider"), name, r.props, r.opts, "libvirt-pulumi", "CloudInitDisk");
    r.registered(this);
  }
}
