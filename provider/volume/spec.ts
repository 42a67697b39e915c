// The Volume resource: every input and output, once. check, diff, the SDK's
// VolumeArgs and output list (sdk/generated/volume.ts) and the README's option
// table are derived from this (scripts/gen-from-spec.mjs).
import { z } from "zod";
import { absolutePath, flag, oneOf } from "../validation";
import { imageSource, sha256Hex } from "./source-inputs";
import { defineSpec } from "../resource/spec";
import { poolInput, volumeNameInput } from "./volume-inputs";
import { authInput, uriInput } from "../resource/connection-inputs";
import { adoptInput, adoptedOutput } from "../resource/adopt";
import { SIZE_HINT } from "../storage/size";
import { DELETE_SNAPSHOT_DATA_ENV } from "../teardown/volume";

export const volumeSpec = defineSpec({
  name: "Volume",
  inputs: {
    name: volumeNameInput("volume", "web.qcow2", "volume"),
    pool: poolInput("volume"),
    uri: uriInput("volume", {
      defaultDoc: "the Pool's, else the default",
      doc: "the URI libvirt reports is saved in the output `uri` and used by later operations",
      sdkDoc: "Hypervisor URI. Default: the Pool's, else the stack config libvirt-pulumi:uri, else LIBVIRT_DEFAULT_URI, else libvirt's default.",
      output: { type: "string" },
    }),
    auth: authInput({
      defaultDoc: "the Pool resource's, else none",
      doc: "`{ username, password }`, a secret",
      sdkDocMore: "Default: the Pool resource's.",
    }),
    capacity: {
      schema: z.union([z.number(), z.string()], { error: `must be ${SIZE_HINT}` }),
      defaultDoc: "with `source`/`backingVolume`: that image's size; else required",
      change: "update",
      unsetKeepsSaved: true,
      doc:
        'bytes (number) or a size string: `"10GiB"`, `"512MiB"`, `"10G"` (K/M/G/T and KiB/MiB/GiB/TiB = powers of 1024), `"20GB"` (KB/MB/GB/TB = powers of 1000); ' +
        "whole 512-byte sectors. Growing resizes in place (`virStorageVolResize`); shrinking is refused",
      sdkDoc:
        'Size the guest sees: bytes (a number) or a size string such as "10GiB", "512MiB" or "20GB" (K/M/G/T and KiB/MiB/GiB/TiB are powers of 1024, KB/MB/GB/TB powers of 1000); a whole number of 512-byte sectors. Required for an empty volume; default with `source` or `backingVolume`: that image\'s size. Growing it resizes in place; shrinking is refused.',
      sdkType: "number | string",
      output: { type: "number", doc: "Bytes the guest sees." },
    },
    format: {
      schema: oneOf(["qcow2", "raw"]),
      defaultDoc: '`"qcow2"`; with `source`, the source\'s format',
      change: "replace",
      doc: '`"qcow2"` or `"raw"`: what the volume is made as, and what the `format` output stays (see `probedFormat`)',
      sdkDoc: 'Default: "qcow2"; with `source`, the source image\'s format. Changing it replaces the volume.',
      output: { type: "string" },
    },
    backingVolume: {
      schema: absolutePath("backingVolume"),
      defaultDoc: "none",
      change: "replace",
      flowsInto: ["backingPath"],
      doc: "a `Volume` or an absolute path on the hypervisor host: the new volume is a qcow2 overlay on it",
      sdkDoc:
        "Make a qcow2 overlay (copy-on-write) on a base image: a Volume, or the absolute path of an image on the hypervisor host. Changing it replaces the volume.",
      sdkArg: "Volume | pulumi.Input<string>",
    },
    backingFormat: {
      schema: oneOf(["qcow2", "raw"]),
      defaultDoc: "what libvirt (or qemu-img) says the image is",
      change: "replace",
      doc: "checked against the image; the SDK fills it from a `Volume`'s `format`",
      sdkDoc: "The backing image's format; checked against the image. Default: what libvirt or qemu-img says it is.",
    },
    source: {
      schema: imageSource,
      defaultDoc: "none",
      change: "replace",
      doc:
        "a local image file (on the machine that runs Pulumi) or an `http://` / `https://` URL, copied into the volume; read only at creation, so it may be removed afterwards " +
        "(a URL is not fetched again by a refresh or a later `up`). A URL is streamed into the volume as it downloads, resumed after a dropped connection, and its header is read " +
        "with a ranged GET at check (see [Volumes from a URL](#volumes-from-a-url)). " +
        "**Refused** if it names another host file: a qcow2 with a backing file (absolute or relative) or an external data file " +
        '(`qemu-img convert -O qcow2 src flat.qcow2` makes it self-contained); refused with `format: "raw"` if its bytes begin with a qcow2 header, ' +
        "and always if they begin with another image format's header (vmdk, qed, vhdx, vdi, luks, qcow v1), since libvirt and qemu-img recognise images by content",
      sdkDoc:
        "A local image file (on the machine running Pulumi) or an http:// or https:// URL, copied into the new volume, streamed through libvirt (virStorageVolUpload), never read whole into memory. A URL is downloaded as it is uploaded, resumed after a dropped connection; credentials in it (https://user:password@host/...) make it a secret and are never shown. Read only when the volume is created. Changing it replaces the volume.",
    },
    sourceSha256: {
      schema: sha256Hex,
      defaultDoc: "none",
      change: "replace",
      doc:
        "the sha256 of the source's bytes (64 hex digits, as `sha256sum` prints it), computed while they are uploaded; on a mismatch the volume is removed and the create fails. " +
        "Only with `source`",
      sdkDoc:
        "The sha256 (64 hex digits) the source's bytes must have; computed while they are uploaded, and on a mismatch the volume is removed and the create fails. Only with `source`. Changing it replaces the volume.",
    },
    deleteSnapshotDataOnDestroy: {
      schema: flag("deleteSnapshotDataOnDestroy"),
      default: false,
      change: "record",
      doc: `see below; also \`${DELETE_SNAPSHOT_DATA_ENV}=1\` for one destroy`,
      sdkDoc: `Allow deleting the volume although its image holds internal snapshots (snapshot contents a domain's deleteSnapshotsOnDestroy kept in the disk). Default: false (delete is refused, naming them). Also allowed for one destroy by ${DELETE_SNAPSHOT_DATA_ENV}=1.`,
      output: { type: "boolean" },
    },
    adopt: adoptInput("Volume", "a volume of that name in the pool"),
  },
  outputs: {
    adopted: adoptedOutput,
    key: { type: "string", doc: "libvirt's key of the volume (its path, for directory pools); also the Pulumi ID." },
    path: { type: "string", doc: "The image file on the hypervisor host: use it as a Domain disk's `file`." },
    allocation: { type: "number", doc: "Bytes the image takes on the host." },
    backingPath: { type: "string | undefined", doc: "The backing file of an overlay." },
    probedFormat: {
      type: "string | undefined",
      doc: "What libvirt now guesses the image's content to be, when that differs from `format` (the format it was made as).",
    },
    poolMissing: {
      type: "boolean | undefined",
      doc: "A refresh found the volume's pool undefined outside Pulumi while its file may still exist; the next update says what to do.",
    },
  },
});
