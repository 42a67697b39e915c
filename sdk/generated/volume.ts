// Generated from provider/volume/spec.ts by scripts/gen-from-spec.mjs: do not edit.
import * as pulumi from "@pulumi/pulumi";
import type { AuthArgs, AuthOutput } from "../auth";
import type { Pool, Volume } from "../volume";


export interface VolumeArgs {
  /**
   * The volume's file name in the pool ("web.qcow2"). Default: the resource name. Changing it
   * replaces the volume. Not a secret: it is part of the ID (the path).
   */
  name?: pulumi.Input<string>;
  /**
   * The pool: a Pool resource (its name and uri are used) or the name of a pool on the hypervisor.
   * Changing it replaces the volume.
   */
  pool: Pool | pulumi.Input<string>;
  /**
   * Hypervisor URI. Default: the Pool's, else the stack config libvirt-pulumi:uri, else
   * LIBVIRT_DEFAULT_URI, else libvirt's default.
   */
  uri?: pulumi.Input<string>;
  /**
   * Credentials for a hypervisor that asks for them (a SASL listener on qemu+tcp://host/system).
   * Always stored as a secret; a plain password is made one. A change is recorded in place (the
   * next operations use it), it replaces nothing. Default: the Pool resource's.
   */
  auth?: pulumi.Input<AuthArgs>;
  /**
   * Size the guest sees: bytes (a number) or a size string such as "10GiB", "512MiB" or "20GB"
   * (K/M/G/T and KiB/MiB/GiB/TiB are powers of 1024, KB/MB/GB/TB powers of 1000); a whole number
   * of 512-byte sectors. Required for an empty volume; default with `source` or `backingVolume`:
   * that image's size. Growing it resizes in place; shrinking is refused.
   */
  capacity?: pulumi.Input<number | string>;
  /** Default: "qcow2"; with `source`, the source image's format. Changing it replaces the volume. */
  format?: pulumi.Input<"qcow2" | "raw">;
  /**
   * Make a qcow2 overlay (copy-on-write) on a base image: a Volume, or the absolute path of an
   * image on the hypervisor host. Changing it replaces the volume.
   */
  backingVolume?: Volume | pulumi.Input<string>;
  /**
   * The backing image's format; checked against the image. Default: what libvirt or qemu-img says
   * it is.
   */
  backingFormat?: pulumi.Input<"qcow2" | "raw">;
  /**
   * A local image file (on the machine running Pulumi) or an http:// or https:// URL, copied into
   * the new volume, streamed through libvirt (virStorageVolUpload), never read whole into memory.
   * A URL is downloaded as it is uploaded, resumed after a dropped connection; credentials in it
   * (https://user:password@host/...) make it a secret and are never shown. Read only when the
   * volume is created. Changing it replaces the volume.
   */
  source?: pulumi.Input<string>;
  /**
   * The sha256 (64 hex digits) the source's bytes must have; computed while they are uploaded, and
   * on a mismatch the volume is removed and the create fails. Only with `source`. Changing it
   * replaces the volume.
   */
  sourceSha256?: pulumi.Input<string>;
  /**
   * Allow deleting the volume although its image holds internal snapshots (snapshot contents a
   * domain's deleteSnapshotsOnDestroy kept in the disk). Default: false (delete is refused, naming
   * them). Also allowed for one destroy by LIBVIRT_PULUMI_DELETE_SNAPSHOT_DATA_ON_DESTROY=1.
   */
  deleteSnapshotDataOnDestroy?: pulumi.Input<boolean>;
  /**
   * Take over a volume of that name in the pool that already exists instead of refusing it (Pulumi
   * cannot `import` a dynamic resource): the create checks that its definition matches the inputs
   * (a mismatch is refused, listing the differences, and nothing is changed), then manages it like
   * a Volume it created, teardown rules included. If there is none, it is created. Default: false.
   * Read by create only.
   */
  adopt?: pulumi.Input<boolean>;
}

/** The outputs of a Volume: every one is registered, so that each is set even when it was no input. */
export abstract class VolumeResource extends pulumi.dynamic.Resource {
  declare public readonly name: pulumi.Output<string>;
  declare public readonly pool: pulumi.Output<string>;
  declare public readonly uri: pulumi.Output<string>;
  /** The credentials, a secret. */
  declare public readonly auth: AuthOutput;
  /** Bytes the guest sees. */
  declare public readonly capacity: pulumi.Output<number>;
  declare public readonly format: pulumi.Output<string>;
  declare public readonly deleteSnapshotDataOnDestroy: pulumi.Output<boolean>;
  /**
   * true when the create took over an object that already existed (adopt: true), false when it
   * made it.
   */
  declare public readonly adopted: pulumi.Output<boolean>;
  /** libvirt's key of the volume (its path, for directory pools); also the Pulumi ID. */
  declare public readonly key: pulumi.Output<string>;
  /** The image file on the hypervisor host: use it as a Domain disk's `file`. */
  declare public readonly path: pulumi.Output<string>;
  /** Bytes the image takes on the host. */
  declare public readonly allocation: pulumi.Output<number>;
  /** The backing file of an overlay. */
  declare public readonly backingPath: pulumi.Output<string | undefined>;
  /**
   * What libvirt now guesses the image's content to be, when that differs from `format` (the
   * format it was made as).
   */
  declare public readonly probedFormat: pulumi.Output<string | undefined>;
  /**
   * A refresh found the volume's pool undefined outside Pulumi while its file may still exist; the
   * next update says what to do.
   */
  declare public readonly poolMissing: pulumi.Output<boolean | undefined>;
}

export const VOLUME_OUTPUT_KEYS = ["name","pool","uri","auth","capacity","format","deleteSnapshotDataOnDestroy","adopted","key","path","allocation","backingPath","probedFormat","poolMissing"] as const;

/** For each input: the outputs its value is written into (a secret input makes them secret). */
export const VOLUME_SECRET_FLOWS: Readonly<Record<string, readonly string[]>> = {"name":["name","key","path"],"pool":["pool"],"uri":["uri"],"auth":["auth"],"capacity":["capacity"],"format":["format"],"backingVolume":["backingVolume","backingPath"],"backingFormat":["backingFormat"],"source":["source"],"sourceSha256":["sourceSha256"],"deleteSnapshotDataOnDestroy":["deleteSnapshotDataOnDestroy"],"adopt":["adopt"]};
