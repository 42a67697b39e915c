import * as pulumi from "@pulumi/pulumi";
import { rememberAuth, secretAuth, withSecretAuth } from "./auth";
import { forwardingProvider } from "./serializable";
import { rememberSecretOutputs, withDerivedSecrets } from "./secret-outputs";
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
    // Every output must be a registered property, or it stays undefined on the
    // resource when it was not also an input (uri resolved from the default, say).
    const outputs = Object.fromEntries(POOL_OUTPUT_KEYS.map((k) => [k, undefined]));
    const auth = secretAuth(args.auth);
    const secrets = withDerivedSecrets({
      props: { ...outputs, ...args, auth, name: args.name ?? name },
      flows: POOL_SECRET_FLOWS,
      gateKey: "uuid",
      opts: withSecretAuth(opts),
    });
    super(forwardingProvider("poolProvider"), name, secrets.props, secrets.opts, "libvirt-pulumi", "Pool");
    rememberAuth(this, auth);
    // A Volume in this pool: its ID (its path) is inside this pool's path, which must then not be a secret.
    rememberSecretOutputs(this, secrets.decision);
  }
}
