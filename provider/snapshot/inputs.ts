// Snapshot inputs: their schema, defaults and cross-field rules. `check` runs
// this; everything after check may rely on the normalized shape.
import { z } from "zod";
import { knownOnly } from "../unknowns";
import { child, parseXml, text } from "../xml/xml";
import {
  absolutePath,
  flag,
  credentials,
  hasControlCharacters,
  hypervisorUri,
  objectName,
  oneOf,
  toFailures,
  userInputs,
  type CheckFailure,
} from "../validation";

/** The value Pulumi puts in place of an input that is not known yet (a preview before the Domain exists). */
export { UNKNOWN } from "../unknowns";

const snapshotMode = oneOf(["internal", "external", "none"]);

const diskSchema = z
  .object({
    target: z
      .string({ error: 'must be the guest device name of a disk of the domain, such as "vda"' })
      .regex(/^[a-z][a-z0-9]{1,31}$/, { error: 'must be the guest device name of a disk of the domain, such as "vda" or "sdb"' }),
    snapshot: snapshotMode,
    file: absolutePath("file").optional(),
  })
  .strict();

/** Inputs that describe the snapshot document; with `xml` none of them may be set. */
export const TYPED_KEYS = ["description", "memory", "memoryFile", "disks"] as const;

/** Inputs that change what the snapshot captured: a change replaces the snapshot. */
export const REPLACE_KEYS = ["domain", "uri", "name", "memory", "memoryFile", "diskOnly", "quiesce", "live", "disks", "xml"] as const;

/** Inputs that change in place: description is rewritten in libvirt's metadata, the rest is only recorded (auth: for the next connection). */
export const IN_PLACE_KEYS = ["description", "atomic", "halt", "deleteDataOnDestroy", "auth"] as const;

export const snapshotInputSchema = z
  .object({
    domain: z
      .string({ error: "must be a domain name or UUID (or a Domain resource, in the SDK)" })
      .min(1, { error: "must not be empty" })
      .max(1024, { error: "must be at most 1024 characters" })
      .refine((s) => !hasControlCharacters(s), { error: "must not contain control characters" }),
    uri: hypervisorUri.optional(),
    auth: credentials.optional(),
    name: objectName("name"),
    description: z.string({ error: "must be a string" }).max(4096, { error: "must be at most 4096 characters" }).optional(),
    memory: snapshotMode.optional(),
    memoryFile: absolutePath("memoryFile").optional(),
    diskOnly: flag("diskOnly").optional(),
    quiesce: flag("quiesce").optional(),
    atomic: flag("atomic").optional(),
    live: flag("live").optional(),
    halt: flag("halt").optional(),
    disks: z.array(diskSchema).max(64, { error: "takes at most 64 entries" }).optional(),
    xml: z.string({ error: "must be a string" }).min(1, { error: "must not be empty" }).optional(),
    deleteDataOnDestroy: flag("deleteDataOnDestroy").optional(),
  })
  .strict();

type Parsed = z.infer<typeof snapshotInputSchema>;
export type SnapshotDiskInput = z.infer<typeof diskSchema>;

/** Inputs after check: defaults applied where they need no hypervisor. */
export type SnapshotInputs = Parsed & {
  atomic: boolean;
  diskOnly: boolean;
  quiesce: boolean;
  live: boolean;
  halt: boolean;
  deleteDataOnDestroy: boolean;
};

function rawXmlFailures(i: Parsed): CheckFailure[] {
  const f: CheckFailure[] = [];
  for (const key of TYPED_KEYS) {
    if (i[key] !== undefined) {
      f.push({ property: key, reason: "cannot be combined with xml: describe the whole snapshot in xml, or drop xml and use the typed inputs" });
    }
  }
  let doc;
  try {
    doc = parseXml(i.xml!);
  } catch (err) {
    return [...f, { property: "xml", reason: `is not well-formed XML: ${(err as Error).message}` }];
  }
  const snap = child(doc, "domainsnapshot");
  if (!snap) return [...f, { property: "xml", reason: "must be a <domainsnapshot> document" }];
  const xmlName = text(snap.name);
  if (xmlName !== undefined && xmlName !== i.name) {
    f.push({
      property: "name",
      reason: `is "${i.name}" but the xml names the snapshot "${xmlName}"; make them equal or leave <name> out of the xml`,
    });
  }
  if (snap.parent !== undefined || snap.creationTime !== undefined || snap.state !== undefined) {
    f.push({ property: "xml", reason: "must not set <parent>, <creationTime> or <state>: libvirt records them when it takes the snapshot" });
  }
  return f;
}

function crossFieldFailures(i: Parsed): CheckFailure[] {
  const f: CheckFailure[] = [];
  if (i.xml !== undefined) f.push(...rawXmlFailures(i));

  const savesMemory = i.memory === "internal" || i.memory === "external";
  if (savesMemory && i.diskOnly) {
    f.push({
      property: "memory",
      reason: `"${i.memory}" saves the guest's memory, which a disk-only snapshot never does; drop diskOnly or set memory: "none"`,
    });
  }
  if (i.memory === "external" && i.memoryFile === undefined) {
    f.push({ property: "memoryFile", reason: 'is required with memory: "external": the absolute path of the file that receives the memory state' });
  }
  if (i.memoryFile !== undefined && i.memory !== "external") {
    f.push({ property: "memoryFile", reason: 'only applies with memory: "external"; set memory: "external" or drop memoryFile' });
  }
  if (i.quiesce && !i.diskOnly) {
    f.push({
      property: "quiesce",
      reason: "freezes the guest's file systems (through the guest agent) for a disk-only snapshot; set diskOnly: true as well, or drop quiesce",
    });
  }
  if (i.live && i.memory !== "external") {
    f.push({
      property: "live",
      reason: 'keeps the guest running while its memory is written to a file: it needs memory: "external" (with memoryFile)',
    });
  }
  if (i.live && i.halt) {
    f.push({ property: "halt", reason: "stops the guest after the snapshot, which contradicts live; drop one of them" });
  }

  const targets = new Map<string, number>();
  const files = new Map<string, string>();
  if (i.memoryFile !== undefined) files.set(i.memoryFile, "memoryFile");
  i.disks?.forEach((d, n) => {
    const at = `disks[${n}]`;
    if (targets.has(d.target)) f.push({ property: `${at}.target`, reason: `"${d.target}" is already listed as disks[${targets.get(d.target)}]` });
    targets.set(d.target, n);
    if (d.snapshot === "external") {
      if (d.file === undefined) {
        f.push({
          property: `${at}.file`,
          reason: 'is required for snapshot: "external": the absolute path of the new overlay image that receives the guest\'s writes from now on',
        });
      } else if (files.has(d.file)) {
        f.push({ property: `${at}.file`, reason: `"${d.file}" is already used by ${files.get(d.file)}; each external file must be distinct` });
      } else if (/\/$/.test(d.file)) {
        f.push({ property: `${at}.file`, reason: "must name a file, not a directory" });
      }
      if (d.file !== undefined) files.set(d.file, `${at}.file`);
      if (i.memory === "internal") {
        f.push({
          property: `${at}.snapshot`,
          reason:
            'an external disk snapshot cannot go with memory: "internal" (internal memory state lives in the disk images); use memory: "external" or "none", or snapshot: "internal"',
        });
      }
    } else if (d.file !== undefined) {
      f.push({ property: `${at}.file`, reason: `only applies to snapshot: "external" (this disk is "${d.snapshot}")` });
    }
  });
  if (i.disks && i.disks.length > 0 && i.disks.every((d) => d.snapshot === "none") && (i.diskOnly || i.memory === "none")) {
    f.push({ property: "disks", reason: "every disk is excluded and no memory is saved: the snapshot would capture nothing" });
  }
  return f;
}

// Built once: zod compiles a schema's parser on its first use, ~5-15 ms of main-thread time.
let checkSchema: ReturnType<typeof snapshotInputSchema.partial<{ domain: true; name: true }>> | undefined;
const snapshotCheckSchema = () => (checkSchema ??= snapshotInputSchema.partial({ domain: true, name: true }));

export function checkSnapshotInputs(news: Record<string, unknown>): { inputs?: SnapshotInputs; failures: CheckFailure[]; hasUnknowns: boolean } {
  const raw = userInputs(news);
  const { known, unknownKeys } = knownOnly(raw);
  const unknown = Object.fromEntries([...unknownKeys].map((k) => [k, raw[k]]));
  const hasUnknowns = unknownKeys.size > 0;
  const missing: CheckFailure[] = [];
  if (known.name === undefined && !("name" in unknown))
    missing.push({ property: "name", reason: "is required (the SDK's Snapshot defaults it to the resource name)" });
  if (known.domain === undefined && !("domain" in unknown))
    missing.push({ property: "domain", reason: "is required: a Domain resource, or a domain name or UUID (with uri)" });
  // name and domain are reported above when missing; unknown ones are not validated.
  const parsed = snapshotCheckSchema().safeParse(known);
  if (!parsed.success) return { failures: [...missing, ...toFailures(parsed.error)], hasUnknowns };
  if (missing.length > 0) return { failures: missing, hasUnknowns };
  // Rules that combine fields wait until every value is known: Pulumi checks again then.
  const failures = hasUnknowns ? [] : crossFieldFailures(parsed.data as Parsed);
  if (failures.length > 0) return { failures, hasUnknowns };
  const i = parsed.data as Parsed;
  return {
    failures: [],
    hasUnknowns,
    inputs: {
      ...i,
      ...(unknown as Partial<Parsed>),
      // libvirt cannot hold an empty description (it drops the element): "" means none.
      ...(i.description === "" ? { description: undefined } : {}),
      atomic: i.atomic ?? true,
      diskOnly: i.diskOnly ?? false,
      quiesce: i.quiesce ?? false,
      live: i.live ?? false,
      halt: i.halt ?? false,
      deleteDataOnDestroy: i.deleteDataOnDestroy ?? true,
    },
  };
}
