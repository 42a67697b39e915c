import * as pulumi from "@pulumi/pulumi";
import { secretAuth } from "./auth";
import { forwardingProvider } from "./serializable";
import { registration } from "./registration";
import { POOL_OUTPUT_KEYS, POOL_SECRET_FLOWS, PoolResource, type PoolArgs } from "./generated/pool";

export type { PoolArgs } from "./generated/pool";

/**
 * A libvirt directory storage pool: create = define + build + start; delete =
 * destroy + undefine, keeping the directory and every file in it that the
 * stack did not create.
 *
 * ```ts
 * const pool = new libvirt.Pool("images", { path: "/var/lib/libvirt/images/web" });
 * ```
 */
export class Pool extends PoolResource {
  constructor(name: string, args: PoolArgs, opts?: pulumi.CustomResourceOptions) {
    const r = registration({
      props: { ...args, name: args.name ?? name },
      outputKeys: POOL_OUTPUT_KEYS,
      flows: POOL_SECRET_FLOWS,
      gateKey: "uuid",
      opts,
      auth: secretAuth(args.auth),
      sharesAuth: true,
    });
    super(forwardingProvider("poolProvider"), name, r.props, r.opts, "libvirt-pulumi", "Pool");
    // A Volume in this pool: its ID (its path) is inside this pool's path, which must then not be a secret.
    r.registered(this);
  }
}
