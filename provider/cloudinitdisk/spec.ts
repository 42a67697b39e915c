// The CloudInitDisk resource (a NoCloud seed: an ISO 9660 image labelled
// "cidata" holding user-data, meta-data, network-config and vendor-data,
// uploaded as a volume into a pool): every input and output, once. check, diff,
// the SDK's CloudInitDiskArgs and output list (sdk/generated/cloudinitdisk.ts)
// and the README's input table are derived from this (scripts/gen-from-spec.mjs).
import { z } from "zod";
import { defineSpec } from "../resource/spec";
import { poolInput, volumeNameInput } from "../volume/volume-inputs";
import { authInput, uriInput } from "../resource/connection-inputs";

const yamlDocument = (what: string) =>
  z.union([z.string(), z.record(z.string(), z.unknown())], { error: `${what} must be a string or an object (serialized as YAML)` });

/**
 * The outputs the seed's content decides (not its place): a secret content input makes them secret.
 * meta-data holds the instance-id, which by default is a hash of every document.
 */
const CONTENT_FLOWS = ["instanceId", "metaData", "size"] as const;

export const cloudInitDiskSpec = defineSpec({
  name: "CloudInitDisk",
  inputs: {
    name: volumeNameInput("seed volume", "web-seed.iso", "disk"),
    pool: poolInput("disk"),
    uri: uriInput("disk", {
      defaultDoc: "the Pool's, else the default",
      sdkDoc:
        "Hypervisor URI. Default: the Pool's, else the stack config libvirt-pulumi:uri, else LIBVIRT_DEFAULT_URI, else libvirt's default. Changing it replaces the disk.",
    }),
    auth: authInput({
      defaultDoc: "the Pool resource's, else none",
      sdkDocMore: "Default: the Pool resource's.",
    }),
    userData: {
      schema: yamlDocument("userData"),
      required:
        "is required: the cloud-config (an object, written as `#cloud-config` YAML) or the user-data text (a script, a `#cloud-config` document)",
      defaultDoc: "required",
      change: "replace",
      flowsInto: CONTENT_FLOWS,
      doc: "the `user-data` file: a string as it is, an object as `#cloud-config` YAML. Always stored as a secret",
      sdkDoc:
        "The user-data file: a string is written as it is (a `#cloud-config` document, a script), an object as `#cloud-config` YAML. Always stored as a secret (it often holds passwords and keys). Changing it replaces the disk, with a new instance-id unless metaData sets one.",
      sdkType: "string | Record<string, unknown>",
      sdkRequired: true,
      output: { type: "string", doc: "The user-data file as written (a secret)." },
    },
    metaData: {
      schema: yamlDocument("metaData"),
      defaultDoc: "`{ instance-id }`",
      change: "replace",
      flowsInto: ["instanceId", "size"],
      doc: "the `meta-data` file (an object or a YAML mapping): `instance-id` defaults to a stable hash of the whole content, `local-hostname` and the rest pass through",
      sdkDoc:
        "The meta-data file: an object or a YAML mapping. `instance-id` defaults to a stable hash of the seed's whole content (so any change gives a new one); `local-hostname` and every other key pass through. Changing it replaces the disk.",
      sdkType: "string | Record<string, unknown>",
      output: { type: "string", doc: "The meta-data file as written." },
    },
    networkConfig: {
      schema: yamlDocument("networkConfig"),
      defaultDoc: "none (no file)",
      change: "replace",
      flowsInto: CONTENT_FLOWS,
      doc: "the `network-config` file (network config version 1 or 2): an object as YAML, a string as it is",
      sdkDoc:
        "The network-config file (cloud-init network config v1 or v2): an object as YAML, a string as it is. Default: none. Changing it replaces the disk.",
      sdkType: "string | Record<string, unknown>",
      output: { type: "string | undefined", doc: "The network-config file as written." },
    },
    vendorData: {
      schema: yamlDocument("vendorData"),
      defaultDoc: "none (no file)",
      change: "replace",
      flowsInto: CONTENT_FLOWS,
      doc: "the `vendor-data` file: like `userData`. Always stored as a secret",
      sdkDoc:
        "The vendor-data file, like userData (an object is written as `#cloud-config` YAML). Always stored as a secret. Default: none. Changing it replaces the disk.",
      sdkType: "string | Record<string, unknown>",
      output: { type: "string | undefined", doc: "The vendor-data file as written (a secret)." },
    },
  },
  outputs: {
    key: { type: "string", doc: "libvirt's key of the volume (its path, for directory pools); also the Pulumi ID." },
    path: { type: "string", doc: "The ISO image on the hypervisor host: a Domain cdrom disk's `file`." },
    instanceId: { type: "string", doc: "The meta-data's instance-id: the one given, else `iid-` and a hash of the content." },
    size: { type: "number", doc: "Bytes of the ISO image." },
  },
});
