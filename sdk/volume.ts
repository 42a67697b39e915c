import * as pulumi from "@pulumi/pulumi";
import { Pool } from "./pool";
import { authGivenTo, secretAuth } from "./auth";
import { forwardingProvider } from "./serializable";
import { registration } from "./registration";
import { ID_INPUTS, secretOutputsOf } from "./secret-outputs";
import { VOLUME_OUTPUT_KEYS, VOLUME_SECRET_FLOWS, VolumeResource, type VolumeArgs } from "./generated/volume";

export { Pool, type PoolArgs } from "./pool";

/**
 * Whether a source URL carries credentials: any userinfo (user:password@, or a token
 * as the user), or a query parameter named like one (password, token, secret, key, signature).
 */
export function urlCarriesCredentials(source: string): boolean {
  if (!/^https?:\/\//i.test(source)) return false;
  if (/^https?:\/\/[^/?#]*@/i.test(source)) return true;
  return /[?&](?:[^=&]*(?:pass|pwd|secret|token|key|sig)[^=&]*)=/i.test(source);
}

/** A source URL with credentials becomes a secret, like `auth`: encrypted in the state, never in clear. */
function secretIfCredentials(source: VolumeArgs["source"]): VolumeArgs["source"] {
  if (source === undefined) return undefined;
  return pulumi.output(source).apply((s): pulumi.Output<string> => (urlCarriesCredentials(s) ? pulumi.secret(s) : pulumi.output(s)));
}

export type { VolumeArgs } from "./generated/volume";

/**
 * A libvirt storage volume: an empty image, a qcow2 overlay on a base image,
 * or a copy of a local image file or of an http(s) URL (streamed, resumed after
 * a dropped connection, checked against `sourceSha256` when given).
 *
 * Deleting it is refused while a domain uses it, while another volume is
 * built on it, or while its image holds internal snapshots (unless
 * `deleteSnapshotDataOnDestroy`).
 *
 * ```ts
 * const pool = new libvirt.Pool("images", { path: "/var/lib/libvirt/images/web" });
 * const base = new libvirt.Volume("base", { pool, name: "debian.qcow2", source: "/var/tmp/debian-12.qcow2" });
 * const cloud = new libvirt.Volume("cloud", { pool, source: "https://images.example/debian-12.qcow2", sourceSha256: "<64 hex digits>" });
 * const disk = new libvirt.Volume("web-disk", { pool, name: "web.qcow2", backingVolume: base, capacity: "20GiB" });
 * ```
 */
export class Volume extends VolumeResource {
  constructor(name: string, args: VolumeArgs, opts?: pulumi.CustomResourceOptions) {
    const { pool, backingVolume, source, ...rest } = args;
    const fromPool = pool instanceof Pool ? { pool: pool.name, uri: args.uri ?? pool.uri } : { pool };
    const fromBacking =
      backingVolume instanceof Volume
        ? { backingVolume: backingVolume.path, backingFormat: args.backingFormat ?? (backingVolume.format as pulumi.Output<"qcow2" | "raw">) }
        : { backingVolume };
    const r = registration({
      props: { ...rest, ...fromPool, ...fromBacking, source: secretIfCredentials(source), name: args.name ?? name },
      outputKeys: VOLUME_OUTPUT_KEYS,
      flows: VOLUME_SECRET_FLOWS,
      gateKey: "key",
      opts,
      auth: args.auth !== undefined ? secretAuth(args.auth) : pool instanceof Pool ? authGivenTo(pool) : undefined,
      upstream: pool instanceof Pool ? { outputs: secretOutputsOf(pool), flows: {}, idInputs: ID_INPUTS.volumeInPool, what: "Pool" } : undefined,
      id: { what: `Volume "${name}"`, inputs: ID_INPUTS.Volume },
    });
    super(forwardingProvider("volumeProvider"), name, r.props, r.opts, "libvirt-pulumi", "Volume");
    r.registered(this);
  }
}
