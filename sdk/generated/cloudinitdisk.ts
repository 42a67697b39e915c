// Generated from provider/cloudinitdisk/spec.ts by scripts/gen-from-spec.mjs: do not edit.
import * as pulumi from "@pulumi/pulumi";
import type { AuthArgs, AuthOutput } from "../auth";
import type { Pool } from "../volume";


export interface CloudInitDiskArgs {
  /**
   * The seed volume's file name in the pool ("web-seed.iso"). Default: the resource name. Changing
   * it replaces the disk. Not a secret: it is part of the ID (the path).
   */
  name?: pulumi.Input<string>;
  /**
   * The pool: a Pool resource (its name and uri are used) or the name of a pool on the hypervisor.
   * Changing it replaces the disk.
   */
  pool: Pool | pulumi.Input<string>;
  /**
   * Hypervisor URI. Default: the Pool's, else the stack config libvirt-pulumi:uri, else
   * LIBVIRT_DEFAULT_URI, else libvirt's default. Changing it replaces the disk.
   */
  uri?: pulumi.Input<string>;
  /**
   * Credentials for a hypervisor that asks for them (a SASL listener on qemu+tcp://host/system).
   * Always stored as a secret; a plain password is made one. A change is recorded in place (the
   * next operations use it), it replaces nothing. Default: the Pool resource's.
   */
  auth?: pulumi.Input<AuthArgs>;
  /**
   * The user-data file: a string is written as it is (a `#cloud-config` document, a script), an
   * object as `#cloud-config` YAML. Always stored as a secret (it often holds passwords and keys).
   * Changing it replaces the disk, with a new instance-id unless metaData sets one.
   */
  userData: pulumi.Input<string | Record<string, unknown>>;
  /**
   * The meta-data file: an object or a YAML mapping. `instance-id` defaults to a stable hash of
   * the seed's whole content (so any change gives a new one); `local-hostname` and every other key
   * pass through. Changing it replaces the disk.
   */
  metaData?: pulumi.Input<string | Record<string, unknown>>;
  /**
   * The network-config file (cloud-init network config v1 or v2): an object as YAML, a string as
   * it is. Default: none. Changing it replaces the disk.
   */
  networkConfig?: pulumi.Input<string | Record<string, unknown>>;
  /**
   * The vendor-data file, like userData (an object is written as `#cloud-config` YAML). Always
   * stored as a secret. Default: none. Changing it replaces the disk.
   */
  vendorData?: pulumi.Input<string | Record<string, unknown>>;
}

/** The outputs of a CloudInitDisk: every one is registered, so that each is set even when it was no input. */
export abstract class CloudInitDiskResource extends pulumi.dynamic.Resource {
  declare public readonly name: pulumi.Output<string>;
  declare public readonly pool: pulumi.Output<string>;
  /** The URI libvirt reported for the connection: later operations use it. */
  declare public readonly uri: pulumi.Output<string>;
  /** The credentials, a secret. */
  declare public readonly auth: AuthOutput;
  /** The user-data file as written (a secret). */
  declare public readonly userData: pulumi.Output<string>;
  /** The meta-data file as written. */
  declare public readonly metaData: pulumi.Output<string>;
  /** The network-config file as written. */
  declare public readonly networkConfig: pulumi.Output<string | undefined>;
  /** The vendor-data file as written (a secret). */
  declare public readonly vendorData: pulumi.Output<string | undefined>;
  /** libvirt's key of the volume (its path, for directory pools); also the Pulumi ID. */
  declare public readonly key: pulumi.Output<string>;
  /** The ISO image on the hypervisor host: a Domain cdrom disk's `file`. */
  declare public readonly path: pulumi.Output<string>;
  /** The meta-data's instance-id: the one given, else `iid-` and a hash of the content. */
  declare public readonly instanceId: pulumi.Output<string>;
  /** Bytes of the ISO image. */
  declare public readonly size: pulumi.Output<number>;
}

export const CLOUD_INIT_DISK_OUTPUT_KEYS = ["name","pool","uri","auth","userData","metaData","networkConfig","vendorData","key","path","instanceId","size"] as const;

/** For each input: the outputs its value is written into (a secret input makes them secret). */
export const CLOUD_INIT_DISK_SECRET_FLOWS: Readonly<Record<string, readonly string[]>> = {"name":["name","key","path"],"pool":["pool"],"uri":["uri"],"auth":["auth"],"userData":["userData","instanceId","metaData","size"],"metaData":["metaData","instanceId","size"],"networkConfig":["networkConfig","instanceId","metaData","size"],"vendorData":["vendorData","instanceId","metaData","size"]};
