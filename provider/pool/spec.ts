// The Pool resource (directory pools): every input and output, once. check, diff,
// the SDK's PoolArgs and output list (sdk/generated/pool.ts) and the README's
// option table are derived from this (scripts/gen-from-spec.mjs).
import { absolutePath, flag, objectName } from "../validation";
import { defineSpec } from "../resource/spec";
import { authInput, uriInput } from "../resource/connection-inputs";
import { adoptInput, adoptedOutput } from "../resource/adopt";
import { DELETE_VOLUMES_ENV } from "../teardown/pool";

export const poolSpec = defineSpec({
  name: "Pool",
  inputs: {
    name: {
      schema: objectName("name"),
      required: "is required (the SDK's Pool defaults it to the resource name)",
      defaultDoc: "the resource name",
      change: "replace",
      doc: "letters, digits, `_ . + : -`",
      sdkDoc: "Pool name. Default: the resource name. Changing it replaces the pool.",
      output: { type: "string" },
    },
    path: {
      schema: absolutePath("path").refine((p) => p !== "/", { error: "path must not be the root directory" }),
      required: 'is required: the pool\'s directory on the hypervisor host, such as "/var/lib/libvirt/images/web"',
      defaultDoc: "required",
      change: "replace",
      doc: "absolute directory on the hypervisor host; created by the pool's build when missing",
      sdkDoc:
        "The pool's directory on the hypervisor host (absolute). Created by the pool's build when missing. Changing it replaces the pool. Not a secret when Volume resources are in the pool: their IDs are their paths.",
      sdkRequired: true,
      output: { type: "string" },
    },
    uri: uriInput("pool", {
      doc: "the URI libvirt reports is saved in the output `uri` and used by later operations and the pool's volumes",
      output: { type: "string", doc: "The URI libvirt reported for the connection: later operations and the pool's volumes use it." },
    }),
    auth: authInput({
      doc: "`{ username, password }`, a secret. Volumes in the Pool resource use it",
      sdkDocMore: "Volumes in this Pool resource use them unless they have their own.",
    }),
    autostart: {
      schema: flag("autostart"),
      default: false,
      change: "update",
      doc: "start the pool with the host",
      sdkDoc: "Start the pool with the host. Default: false.",
      output: { type: "boolean" },
    },
    adopt: adoptInput("Pool", "a storage pool of that name"),
    deleteVolumesOnDestroy: {
      schema: flag("deleteVolumesOnDestroy"),
      default: false,
      change: "record",
      doc: `see below; also \`${DELETE_VOLUMES_ENV}=1\` for one destroy`,
      sdkDoc: `Allow deleting the pool while it still holds volumes, deleting them (each checked by the Volume rules: not used by a domain, no internal snapshots, not a backing file). Default: false (delete is refused, naming them). Files that were in the directory before the pool was created are kept either way. Also allowed for one destroy by ${DELETE_VOLUMES_ENV}=1.`,
      output: { type: "boolean" },
    },
  },
  outputs: {
    uuid: { type: "string", doc: "libvirt's UUID of the pool; also the Pulumi ID." },
    adopted: adoptedOutput,
    active: { type: "boolean" },
    capacity: { type: "number", doc: "Bytes of the file system that holds the directory." },
    allocation: { type: "number" },
    available: { type: "number" },
    volumes: { type: "string[]", doc: "Names of the volumes (files) in the pool." },
    createdDirectory: { type: "boolean", doc: "The pool's build made the directory: delete removes it again when it is empty." },
    preexistingFiles: { type: "string[]", doc: "Files that were in the directory when the pool was created: always kept." },
    defined: {
      type: "boolean | undefined",
      doc: "false after a refresh found the pool undefined outside Pulumi while its directory still holds files; the next up defines it again.",
    },
  },
});
