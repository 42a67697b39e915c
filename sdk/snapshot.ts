import * as pulumi from "@pulumi/pulumi";
import { authGivenTo, secretAuth } from "./auth";
import { forwardingProvider } from "./serializable";
import { registration } from "./registration";
import { CROSS_RESOURCE_FLOWS, ID_INPUTS, secretOutputsOf } from "./secret-outputs";
import { SNAPSHOT_OUTPUT_KEYS, SNAPSHOT_SECRET_FLOWS, SnapshotResource, type SnapshotArgs } from "./generated/snapshot";

export type { SnapshotArgs, SnapshotDiskArgs } from "./generated/snapshot";

/** Something with a domain UUID and URI: the `Domain` resource of this package. */
export interface DomainLike {
  readonly uuid: pulumi.Output<string>;
  /** Absent when the Domain was given no uri: both then use the default URI. */
  readonly uri?: pulumi.Output<string>;
}

function isDomainLike(d: unknown): d is DomainLike {
  return typeof d === "object" && d !== null && pulumi.Resource.isInstance(d) && pulumi.Output.isInstance((d as { uuid?: unknown }).uuid);
}

/**
 * A snapshot of a libvirt domain.
 *
 * Pulumi deletes Snapshot resources before the Domain they depend on, so a
 * stack's own snapshots never block the Domain's delete; a snapshot made
 * outside the stack makes it refuse until deleteSnapshotsOnDestroy allows it.
 *
 * ```ts
 * import * as libvirt from "libvirt-pulumi";
 * const vm = new libvirt.Domain("web", { memoryMiB: 512, disks: [{ file: "/var/lib/libvirt/images/web.qcow2" }] });
 * const before = new libvirt.Snapshot("before-upgrade", { domain: vm, description: "pre-upgrade" });
 * ```
 */
export class Snapshot extends SnapshotResource {
  constructor(name: string, args: SnapshotArgs, opts?: pulumi.CustomResourceOptions) {
    let domain: pulumi.Input<string>;
    let uri = args.uri;
    let auth = secretAuth(args.auth);
    if (isDomainLike(args.domain)) {
      if (args.uri !== undefined) {
        throw new Error(`Snapshot "${name}": uri applies only to a domain given by name or UUID; a Domain resource brings its own uri`);
      }
      domain = args.domain.uuid;
      uri = args.domain.uri;
      // The auth the Domain resource was given (a Domain of this package), unless the snapshot has its own.
      auth ??= authGivenTo(args.domain);
    } else {
      domain = args.domain as pulumi.Input<string>;
    }
    // The snapshot XML embeds the domain's definition: a Domain whose xml output is secret makes this one's secret too.
    const r = registration({
      props: { ...args, domain, uri, name: args.name ?? name },
      outputKeys: SNAPSHOT_OUTPUT_KEYS,
      flows: SNAPSHOT_SECRET_FLOWS,
      gateKey: "domainUuid",
      opts,
      auth,
      upstream: isDomainLike(args.domain) ? { outputs: secretOutputsOf(args.domain), flows: CROSS_RESOURCE_FLOWS.snapshotOfDomain } : undefined,
      id: { what: `Snapshot "${name}"`, inputs: ID_INPUTS.Snapshot },
    });
    super(forwardingProvider("snapshotProvider"), name, r.props, r.opts, "libvirt-pulumi", "Snapshot");
    r.registered(this);
  }
}
