// The Snapshot resource: every input and output, once. check, diff, the SDK's
// SnapshotArgs and output list (sdk/generated/snapshot.ts) and the README's option
// table are derived from this (scripts/gen-from-spec.mjs; a unit test fails when
// they are stale). Adding an input: an entry here, its XML or flag in xml.ts /
// provider.ts, a test.
import { z } from "zod";
import { absolutePath, flag, hasControlCharacters, objectName, oneOf } from "../validation";
import { defineSpec } from "../resource/spec";
import { authInput, uriInput } from "../resource/connection-inputs";
import { adoptInput, adoptedOutput } from "../resource/adopt";

const snapshotMode = oneOf(["internal", "external", "none"]);

const diskSchema = z
  .object({
    target: z
      .string({ error: 'must be the guest device name of a disk of the domain, such as "vda"' })
      .regex(/^[a-z][a-z0-9]{1,31}$/, { error: 'must be the guest device name of a disk of the domain, such as "vda" or "sdb"' })
      .describe('The guest device name of one of the domain\'s disks ("vda").'),
    snapshot: snapshotMode.describe(
      '"internal": inside the qcow2 image; "external": a new overlay image (`file`) receives the guest\'s writes from now on; "none": the disk is not captured. Changing it replaces the snapshot.',
    ),
    file: absolutePath("file")
      .optional()
      .describe(
        'Absolute path of the new overlay image. Required for, and only allowed with, snapshot: "external". Changing it replaces the snapshot.',
      ),
  })
  .strict()
  .meta({ sdkName: "SnapshotDiskArgs" });

/** A value Pulumi can store as it is: JSON (null inside arrays and objects included). */
function isJsonValue(v: unknown): boolean {
  if (v === null || typeof v === "string" || typeof v === "boolean") return true;
  if (typeof v === "number") return Number.isFinite(v);
  if (Array.isArray(v)) return v.every(isJsonValue);
  if (typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) return Object.values(v as object).every(isJsonValue);
  return false;
}

/** A creation flag: it decides how the snapshot is taken, so a change replaces it. */
const creationFlag = (key: string, defaultDoc: string, doc: string, sdkDoc: string) =>
  ({ schema: flag(key), default: false, defaultDoc, change: "replace", doc, sdkDoc, output: { type: "boolean" } }) as const;

export const snapshotSpec = defineSpec({
  name: "Snapshot",
  inputs: {
    domain: {
      schema: z
        .string({ error: "must be a domain name or UUID (or a Domain resource, in the SDK)" })
        .min(1, { error: "must not be empty" })
        .max(1024, { error: "must be at most 1024 characters" })
        .refine((s) => !hasControlCharacters(s), { error: "must not contain control characters" }),
      required: "is required: a Domain resource, or a domain name or UUID (with uri)",
      defaultDoc: "required",
      change: "replace",
      // libvirt's snapshot XML names its domain.
      flowsInto: ["domainUuid", "xml"],
      doc: "a `Domain` resource (its resolved `uuid` and `uri` are used, so the snapshot depends on it and is replaced when the domain is, unless that replacement keeps the snapshot tree: [Replacements that keep the snapshot tree](#replacements-that-keep-the-snapshot-tree)), or a domain name/UUID",
      sdkDoc:
        "The domain to snapshot: a `Domain` resource (its resolved `uuid` and `uri` are used, so the snapshot depends on it and is replaced if the domain is replaced, unless the Domain's keepSnapshotsOnReplace keeps the tree), or a domain name or UUID (with `uri`). Changing it replaces the snapshot.",
      sdkArg: "pulumi.Input<string> | DomainLike",
      sdkRequired: true,
      output: { type: "string", doc: "The domain as given: a name or UUID (a Domain resource is given by its UUID)." },
    },
    uri: uriInput("snapshot", {
      doc: "only with a name/UUID (a `Domain` brings its own); the URI libvirt reports is saved in the output `uri`",
      sdkDoc:
        "Hypervisor URI, only with a domain name/UUID (a `Domain` brings its own). Default: the stack config libvirt-pulumi:uri, else LIBVIRT_DEFAULT_URI, else libvirt's default. Changing it replaces the snapshot.",
    }),
    auth: authInput({
      defaultDoc: "a `Domain` resource's, else none",
      doc: "`{ username, password }`, always a secret",
      sdkDocMore: "Default: the Domain resource's.",
    }),
    name: {
      schema: objectName("name"),
      required: "is required (the SDK's Snapshot defaults it to the resource name)",
      defaultDoc: "the resource name",
      change: "replace",
      flowsInto: ["xml"],
      doc: "the old snapshot is deleted first (snapshot names are unique per domain); a replacement that could not take the new one is refused at preview",
      sdkDoc:
        "Snapshot name. Default: the resource name. Changing it replaces the snapshot (deleting the old one first). Not a secret: it is part of the ID.",
      output: { type: "string" },
    },
    description: {
      schema: z.string({ error: "must be a string" }).max(4096, { error: "must be at most 4096 characters" }),
      defaultDoc: "none",
      change: "update",
      group: "document",
      flowsInto: ["xml"],
      doc: 'kept exactly, spaces included; `""` is none; changed with libvirt\'s `VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE`: the same snapshot, same creation time, still current',
      sdkDoc: "Free text. Default: none. Changes in place (libvirt's VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE), the snapshot is kept.",
      output: { type: "string | undefined" },
    },
    memory: {
      schema: snapshotMode,
      defaultDoc: "libvirt's choice for the domain's state (`internal` for a running QEMU guest, none for a shut-off one)",
      change: "replace",
      group: "document",
      flowsInto: ["xml"],
      doc: "the guest's memory state: `internal` \\| `external` \\| `none`",
      sdkDoc:
        'The guest\'s memory state: "internal" (in the qcow2 images), "external" (in `memoryFile`) or "none". Default: what libvirt does for the domain\'s state (internal for a running guest, none for a shut-off one). Changing it replaces the snapshot.',
      output: { type: '"internal" | "external" | "none" | undefined' },
    },
    memoryFile: {
      schema: absolutePath("memoryFile"),
      change: "replace",
      group: "document",
      flowsInto: ["xml"],
      doc: 'required with, and only with, `memory: "external"`',
      sdkDoc: 'Absolute path of the memory state file; required for, and only allowed with, memory: "external". Changing it replaces the snapshot.',
      output: { type: "string | undefined" },
    },
    diskOnly: creationFlag(
      "diskOnly",
      "`false`",
      "capture the disks only, never memory (`VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY`)",
      "Capture the disks only, never memory (VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY). Default: false. Changing it replaces the snapshot.",
    ),
    quiesce: creationFlag(
      "quiesce",
      "`false`",
      "freeze the guest's file systems; needs `diskOnly` and the guest agent",
      "Freeze the guest's file systems through the guest agent; needs diskOnly. Default: false. Changing it replaces the snapshot.",
    ),
    atomic: {
      schema: flag("atomic"),
      default: true,
      defaultDoc: "**`true`**",
      change: "record",
      doc: "all disks or none (`VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC`)",
      sdkDoc:
        "All disks or none: a failure leaves no partial snapshot (VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC). Default: true. Changes in place (only recorded).",
      output: { type: "boolean" },
    },
    live: creationFlag(
      "live",
      "`false`",
      'keep the guest running while its memory is saved; needs `memory: "external"`',
      'Keep the guest running while its memory is saved; needs memory: "external". Default: false. Changing it replaces the snapshot.',
    ),
    halt: {
      schema: flag("halt"),
      default: false,
      defaultDoc: "`false`",
      change: "record",
      doc: "stops the domain after the snapshot (a `Domain` with `running: true` then shows the change on refresh)",
      sdkDoc:
        "Stop the domain once the snapshot is taken (VIR_DOMAIN_SNAPSHOT_CREATE_HALT). A Domain resource with running: true then shows the change at the next refresh. Default: false. Changes in place (only recorded).",
      output: { type: "boolean" },
    },
    disks: {
      schema: z.array(diskSchema).max(64, { error: "takes at most 64 entries" }),
      defaultDoc: "libvirt's choice per disk",
      change: "replace",
      group: "document",
      flowsInto: ["xml"],
      doc: 'each `{ target, snapshot: "internal" \\| "external" \\| "none", file }`, `file` required for (and only for) `external`',
      sdkDoc: "Per-disk choices. Default: libvirt's choice for every disk. Changing them replaces the snapshot.",
      output: { type: 'Array<{ target: string; snapshot: "internal" | "external" | "none"; file?: string }> | undefined' },
    },
    xml: {
      schema: z.string({ error: "must be a string" }).min(1, { error: "must not be empty" }),
      defaultDoc: "none",
      change: "replace",
      savedAs: "inputXml",
      doc: "a complete `<domainsnapshot>` instead of `description`/`memory`/`memoryFile`/`disks` (the flags above still apply; `<name>` must match or be absent)",
      sdkDoc:
        "A complete <domainsnapshot> document instead of description/memory/memoryFile/disks (not combinable with them; the creation flags above still apply). Its <name> must be the snapshot name or absent. Changing it replaces the snapshot.",
      output: { type: "string", doc: "The snapshot XML as libvirt returns it." },
    },
    deleteDataOnDestroy: {
      schema: flag("deleteDataOnDestroy"),
      default: true,
      defaultDoc: "**`true`**",
      change: "record",
      doc: "deleting the resource deletes the snapshot and its data (`virDomainSnapshotDelete`); `false` removes only libvirt's metadata and keeps the data in the images (`VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY`)",
      sdkDoc:
        "Deleting the resource deletes the snapshot with its data (virDomainSnapshotDelete). false removes only libvirt's metadata and keeps the data in the disk images (VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY). Children are never deleted. Default: true. Changes in place (recorded for the delete); LIBVIRT_PULUMI_KEEP_SNAPSHOT_DATA_ON_DESTROY=1 keeps the data for one destroy.",
      output: { type: "boolean" },
    },
    revertTrigger: {
      // null is unset, as for every input (validation.ts's userInputs).
      schema: z.unknown().refine(isJsonValue, { error: "must be a JSON value: a string, number, boolean, array or object of those" }),
      defaultDoc: "none",
      change: "update",
      group: "revert",
      doc:
        "any value; when it changes from one value to another, the next `up` reverts the domain to this snapshot (`virDomainRevertToSnapshot`), " +
        "first keeping its current state in a snapshot `pre-revert-<UTC time>` (output `preRevertSnapshots`) unless `discardStateOnRevert`. " +
        "Setting it at creation, setting it for the first time or removing it reverts nothing. See [Reverting to a snapshot](#reverting-to-a-snapshot)",
      sdkDoc:
        "Any value. When it changes from one value to another, the next `pulumi up` reverts the domain to this snapshot (virDomainRevertToSnapshot), " +
        "first keeping the domain's current state in a new snapshot named pre-revert-<UTC time> (listed in preRevertSnapshots; not managed by " +
        "Pulumi) unless discardStateOnRevert is true. Setting it at creation, setting it for the first time or removing it reverts nothing. " +
        "A revert that would stop a running guest (a snapshot without memory state) or that libvirt cannot do (an external snapshot before " +
        "libvirt 9.9) is refused, changing nothing. Changes in place.",
      sdkType: "string | number | boolean | object",
      output: { type: "unknown", doc: "The trigger as last applied (a failed revert keeps the one before, so the next `pulumi up` tries again)." },
    },
    discardStateOnRevert: {
      schema: flag("discardStateOnRevert"),
      default: false,
      defaultDoc: "`false`",
      change: "record",
      group: "revert",
      doc: "`true`: a revert throws the domain's current state away instead of keeping it in a `pre-revert-<UTC time>` snapshot first",
      sdkDoc:
        "true: a revert (revertTrigger) throws the domain's current state away instead of first keeping it in a pre-revert-<UTC time> " +
        "snapshot. Default: false. Changes in place (only recorded).",
      output: { type: "boolean" },
    },
    adopt: adoptInput("Snapshot", "a snapshot of that name of the domain"),
  },
  outputs: {
    adopted: adoptedOutput,
    preRevertSnapshots: {
      type: "string[]",
      doc:
        "Names of the snapshots of the domain's state taken before each revert this resource made, oldest first. They are not managed " +
        "by Pulumi: delete them yourself (virsh snapshot-delete) when no longer needed; until then the Domain's teardown rules count them.",
    },
    domainUuid: { type: "string", doc: "The UUID of the domain the snapshot belongs to." },
    parent: { type: "string | undefined", doc: "The parent snapshot's name; undefined for a root snapshot. Refreshed by `pulumi refresh`." },
    children: { type: "string[]", doc: "Names of the direct children. Refreshed by `pulumi refresh`." },
    state: { type: "string", doc: 'The domain state captured: "running", "shutoff", "paused", "disk-snapshot", ...' },
    creationTime: { type: "number", doc: "Seconds since the Unix epoch." },
    isCurrent: { type: "boolean", doc: "Whether it is the domain's current snapshot. Refreshed by `pulumi refresh`." },
    kind: { type: '"internal" | "external" | "disk-only"' },
    inputXml: { type: "string | undefined", doc: "The raw `xml` input, when one was given." },
  },
});
