// Generated from provider/pool/spec.ts by scripts/gen-from-spec.mjs: do not edit.
import * as pulumi from "@pulumi/pulumi";
import type { AuthArgs, AuthOutput } from "../auth";


export interface PoolArgs {
  /** Pool name. Default: the resource name. Changing it replaces the pool. */
  name?: pulumi.Input<string>;
  /**
   * The pool's directory on the hypervisor host (absolute). Created by the pool's build when
   * missing. Changing it replaces the pool. Not a secret when Volume resources are in the pool:
   * their IDs are their paths.
   */
  path: pulumi.Input<string>;
  /**
   * Hypervisor URI. Default: the stack config libvirt-pulumi:uri, else LIBVIRT_DEFAULT_URI, else
   * libvirt's default (resolved when the pool is created; a later change of the stack default does
   * not move it). Changing it replaces the pool.
   */
  uri?: pulumi.Input<string>;
  /**
   * Credentials for a hypervisor that asks for them (a SASL listener on qemu+tcp://host/system).
   * Always stored as a secret; a plain password is made one. A change is recorded in place (the
   * next operations use it), it replaces nothing. Volumes in this Pool resource use them unless
   * they have their own.
   */
  auth?: pulumi.Input<AuthArgs>;
  /** Start the pool with the host. Default: false. */
  autostart?: pulumi.Input<boolean>;
  /**
   * Take over a storage pool of that name that already exists instead of refusing it (Pulumi
   * cannot `import` a dynamic resource): the create checks that its definition matches the inputs
   * (a mismatch is refused, listing the differences, and nothing is changed), then manages it like
   * a Pool it created, teardown rules included. If there is none, it is created. Default: false.
   * Read by create only.
   */
  adopt?: pulumi.Input<boolean>;
  /**
   * Allow deleting the pool while it still holds volumes, deleting them (each checked by the
   * Volume rules: not used by a domain, no internal snapshots, not a backing file). Default: false
   * (delete is refused, naming them). Files that were in the directory before the pool was created
   * are kept either way. Also allowed for one destroy by
   * LIBVIRT_PULUMI_DELETE_VOLUMES_ON_DESTROY=1.
   */
  deleteVolumesOnDestroy?: pulumi.Input<boolean>;
}

/** The outputs of a Pool: every one is registered, so that each is set even when it was no input. */
export abstract class PoolResource extends pulumi.dynamic.Resource {
  declare public readonly name: pulumi.Output<string>;
  declare public readonly path: pulumi.Output<string>;
  /** The URI libvirt reported for the connection: later operations and the pool's volumes use it. */
  declare public readonly uri: pulumi.Output<string>;
  /** The credentials, a secret. */
  declare public readonly auth: AuthOutput;
  declare public readonly autostart: pulumi.Output<boolean>;
  declare public readonly deleteVolumesOnDestroy: pulumi.Output<boolean>;
  /** libvirt's UUID of the pool; also the Pulumi ID. */
  declare public readonly uuid: pulumi.Output<string>;
  /**
   * true when the create took over an object that already existed (adopt: true), false when it
   * made it.
   */
  declare public readonly adopted: pulumi.Output<boolean>;
  declare public readonly active: pulumi.Output<boolean>;
  /** Bytes of the file system that holds the directory. */
  declare public readonly capacity: pulumi.Output<number>;
  declare public readonly allocation: pulumi.Output<number>;
  declare public readonly available: pulumi.Output<number>;
  /** Names of the volumes (files) in the pool. */
  declare public readonly volumes: pulumi.Output<string[]>;
  /** The pool's build made the directory: delete removes it again when it is empty. */
  declare public readonly createdDirectory: pulumi.Output<boolean>;
  /** Files that were in the directory when the pool was created: always kept. */
  declare public readonly preexistingFiles: pulumi.Output<string[]>;
  /**
   * false after a refresh found the pool undefined outside Pulumi while its directory still holds
   * files; the next up defines it again.
   */
  declare public readonly defined: pulumi.Output<boolean | undefined>;
}

export const POOL_OUTPUT_KEYS = ["name","path","uri","auth","autostart","deleteVolumesOnDestroy","uuid","adopted","active","capacity","allocation","available","volumes","createdDirectory","preexistingFiles","defined"] as const;

/** For each input: the outputs its value is written into (a secret input makes them secret). */
export const POOL_SECRET_FLOWS: Readonly<Record<string, readonly string[]>> = {"name":["name"],"path":["path"],"uri":["uri"],"auth":["auth"],"autostart":["autostart"],"adopt":["adopt"],"deleteVolumesOnDestroy":["deleteVolumesOnDestroy"]};
