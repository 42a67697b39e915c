// Generated from provider/snapshot/spec.ts by scripts/gen-from-spec.mjs: do not edit.
import * as pulumi from "@pulumi/pulumi";
import type { AuthArgs, AuthOutput } from "../auth";
import type { DomainLike } from "../snapshot";

export interface SnapshotDiskArgs {
  /** The guest device name of one of the domain's disks ("vda"). */
  target: pulumi.Input<string>;
  /**
   * "internal": inside the qcow2 image; "external": a new overlay image (`file`) receives the
   * guest's writes from now on; "none": the disk is not captured. Changing it replaces the
   * snapshot.
   */
  snapshot: pulumi.Input<"internal" | "external" | "none">;
  /**
   * Absolute path of the new overlay image. Required for, and only allowed with, snapshot:
   * "external". Changing it replaces the snapshot.
   */
  file?: pulumi.Input<string>;
}

export interface SnapshotArgs {
  /**
   * The domain to snapshot: a `Domain` resource (its resolved `uuid` and `uri` are used, so the
   * snapshot depends on it and is replaced if the domain is replaced, unless the Domain's
   * keepSnapshotsOnReplace keeps the tree), or a domain name or UUID (with `uri`). Changing it
   * replaces the snapshot.
   */
  domain: pulumi.Input<string> | DomainLike;
  /**
   * Hypervisor URI, only with a domain name/UUID (a `Domain` brings its own). Default: the stack
   * config libvirt-pulumi:uri, else LIBVIRT_DEFAULT_URI, else libvirt's default. Changing it
   * replaces the snapshot.
   */
  uri?: pulumi.Input<string>;
  /**
   * Credentials for a hypervisor that asks for them (a SASL listener on qemu+tcp://host/system).
   * Always stored as a secret; a plain password is made one. A change is recorded in place (the
   * next operations use it), it replaces nothing. Default: the Domain resource's.
   */
  auth?: pulumi.Input<AuthArgs>;
  /**
   * Snapshot name. Default: the resource name. Changing it replaces the snapshot (deleting the old
   * one first). Not a secret: it is part of the ID.
   */
  name?: pulumi.Input<string>;
  /**
   * Free text. Default: none. Changes in place (libvirt's VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE),
   * the snapshot is kept.
   */
  description?: pulumi.Input<string>;
  /**
   * The guest's memory state: "internal" (in the qcow2 images), "external" (in `memoryFile`) or
   * "none". Default: what libvirt does for the domain's state (internal for a running guest, none
   * for a shut-off one). Changing it replaces the snapshot.
   */
  memory?: pulumi.Input<"internal" | "external" | "none">;
  /**
   * Absolute path of the memory state file; required for, and only allowed with, memory:
   * "external". Changing it replaces the snapshot.
   */
  memoryFile?: pulumi.Input<string>;
  /**
   * Capture the disks only, never memory (VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY). Default: false.
   * Changing it replaces the snapshot.
   */
  diskOnly?: pulumi.Input<boolean>;
  /**
   * Freeze the guest's file systems through the guest agent; needs diskOnly. Default: false.
   * Changing it replaces the snapshot.
   */
  quiesce?: pulumi.Input<boolean>;
  /**
   * All disks or none: a failure leaves no partial snapshot (VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC).
   * Default: true. Changes in place (only recorded).
   */
  atomic?: pulumi.Input<boolean>;
  /**
   * Keep the guest running while its memory is saved; needs memory: "external". Default: false.
   * Changing it replaces the snapshot.
   */
  live?: pulumi.Input<boolean>;
  /**
   * Stop the domain once the snapshot is taken (VIR_DOMAIN_SNAPSHOT_CREATE_HALT). A Domain
   * resource with running: true then shows the change at the next refresh. Default: false. Changes
   * in place (only recorded).
   */
  halt?: pulumi.Input<boolean>;
  /**
   * Per-disk choices. Default: libvirt's choice for every disk. Changing them replaces the
   * snapshot.
   */
  disks?: pulumi.Input<pulumi.Input<SnapshotDiskArgs>[]>;
  /**
   * A complete <domainsnapshot> document instead of description/memory/memoryFile/disks (not
   * combinable with them; the creation flags above still apply). Its <name> must be the snapshot
   * name or absent. Changing it replaces the snapshot.
   */
  xml?: pulumi.Input<string>;
  /**
   * Deleting the resource deletes the snapshot with its data (virDomainSnapshotDelete). false
   * removes only libvirt's metadata and keeps the data in the disk images
   * (VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY). Children are never deleted. Default: true. Changes
   * in place (recorded for the delete); LIBVIRT_PULUMI_KEEP_SNAPSHOT_DATA_ON_DESTROY=1 keeps the
   * data for one destroy.
   */
  deleteDataOnDestroy?: pulumi.Input<boolean>;
  /**
   * Any value. When it changes from one value to another, the next `pulumi up` reverts the domain
   * to this snapshot (virDomainRevertToSnapshot), first keeping the domain's current state in a
   * new snapshot named pre-revert-<UTC time> (listed in preRevertSnapshots; not managed by Pulumi)
   * unless discardStateOnRevert is true. Setting it at creation, setting it for the first time or
   * removing it reverts nothing. A revert that would stop a running guest (a snapshot without
   * memory state) or that libvirt cannot do (an external snapshot before libvirt 9.9) is refused,
   * changing nothing. Changes in place.
   */
  revertTrigger?: pulumi.Input<string | number | boolean | object>;
  /**
   * true: a revert (revertTrigger) throws the domain's current state away instead of first keeping
   * it in a pre-revert-<UTC time> snapshot. Default: false. Changes in place (only recorded).
   */
  discardStateOnRevert?: pulumi.Input<boolean>;
  /**
   * Take over a snapshot of that name of the domain that already exists instead of refusing it
   * (Pulumi cannot `import` a dynamic resource): the create checks that its definition matches the
   * inputs (a mismatch is refused, listing the differences, and nothing is changed), then manages
   * it like a Snapshot it created, teardown rules included. If there is none, it is created.
   * Default: false. Read by create only.
   */
  adopt?: pulumi.Input<boolean>;
}

/** The outputs of a Snapshot: every one is registered, so that each is set even when it was no input. */
export abstract class SnapshotResource extends pulumi.dynamic.Resource {
  /** The domain as given: a name or UUID (a Domain resource is given by its UUID). */
  declare public readonly domain: pulumi.Output<string>;
  /** The URI libvirt reported for the connection: later operations use it. */
  declare public readonly uri: pulumi.Output<string>;
  /** The credentials, a secret. */
  declare public readonly auth: AuthOutput;
  declare public readonly name: pulumi.Output<string>;
  declare public readonly description: pulumi.Output<string | undefined>;
  declare public readonly memory: pulumi.Output<"internal" | "external" | "none" | undefined>;
  declare public readonly memoryFile: pulumi.Output<string | undefined>;
  declare public readonly diskOnly: pulumi.Output<boolean>;
  declare public readonly quiesce: pulumi.Output<boolean>;
  declare public readonly atomic: pulumi.Output<boolean>;
  declare public readonly live: pulumi.Output<boolean>;
  declare public readonly halt: pulumi.Output<boolean>;
  declare public readonly disks: pulumi.Output<Array<{ target: string; snapshot: "internal" | "external" | "none"; file?: string }> | undefined>;
  /** The snapshot XML as libvirt returns it. */
  declare public readonly xml: pulumi.Output<string>;
  declare public readonly deleteDataOnDestroy: pulumi.Output<boolean>;
  /**
   * The trigger as last applied (a failed revert keeps the one before, so the next `pulumi up`
   * tries again).
   */
  declare public readonly revertTrigger: pulumi.Output<unknown>;
  declare public readonly discardStateOnRevert: pulumi.Output<boolean>;
  /**
   * true when the create took over an object that already existed (adopt: true), false when it
   * made it.
   */
  declare public readonly adopted: pulumi.Output<boolean>;
  /**
   * Names of the snapshots of the domain's state taken before each revert this resource made,
   * oldest first. They are not managed by Pulumi: delete them yourself (virsh snapshot-delete)
   * when no longer needed; until then the Domain's teardown rules count them.
   */
  declare public readonly preRevertSnapshots: pulumi.Output<string[]>;
  /** The UUID of the domain the snapshot belongs to. */
  declare public readonly domainUuid: pulumi.Output<string>;
  /** The parent snapshot's name; undefined for a root snapshot. Refreshed by `pulumi refresh`. */
  declare public readonly parent: pulumi.Output<string | undefined>;
  /** Names of the direct children. Refreshed by `pulumi refresh`. */
  declare public readonly children: pulumi.Output<string[]>;
  /** The domain state captured: "running", "shutoff", "paused", "disk-snapshot", ... */
  declare public readonly state: pulumi.Output<string>;
  /** Seconds since the Unix epoch. */
  declare public readonly creationTime: pulumi.Output<number>;
  /** Whether it is the domain's current snapshot. Refreshed by `pulumi refresh`. */
  declare public readonly isCurrent: pulumi.Output<boolean>;
  declare public readonly kind: pulumi.Output<"internal" | "external" | "disk-only">;
  /** The raw `xml` input, when one was given. */
  declare public readonly inputXml: pulumi.Output<string | undefined>;
}

export const SNAPSHOT_OUTPUT_KEYS = ["domain","uri","auth","name","description","memory","memoryFile","diskOnly","quiesce","atomic","live","halt","disks","xml","deleteDataOnDestroy","revertTrigger","discardStateOnRevert","adopted","preRevertSnapshots","domainUuid","parent","children","state","creationTime","isCurrent","kind","inputXml"] as const;

/** For each input: the outputs its value is written into (a secret input makes them secret). */
export const SNAPSHOT_SECRET_FLOWS: Readonly<Record<string, readonly string[]>> = {"domain":["domain","domainUuid","xml"],"uri":["uri"],"auth":["auth"],"name":["name","xml"],"description":["description","xml"],"memory":["memory","xml"],"memoryFile":["memoryFile","xml"],"diskOnly":["diskOnly"],"quiesce":["quiesce"],"atomic":["atomic"],"live":["live"],"halt":["halt"],"disks":["disks","xml"],"xml":["xml","inputXml"],"deleteDataOnDestroy":["deleteDataOnDestroy"],"revertTrigger":["revertTrigger"],"discardStateOnRevert":["discardStateOnRevert"],"adopt":["adopt"]};
