// Snapshot inputs: the rules that combine fields, and the normalized shape. The
// inputs themselves (schemas, defaults, change rules) are in spec.ts; `check`
// runs this; everything after check may rely on the normalized shape.
import { child, parseXml, text } from "../xml/xml";
import { emptyDescriptionAsNone, inputChecker } from "../resource/check";
import { groupKeys, inputSchema, type CheckedInputs, type ParsedInputs } from "../resource/spec";
import type { CheckFailure } from "../validation";
import { snapshotSpec } from "./spec";

/** Inputs that describe the snapshot document; with `xml` none of them may be set. */
export const TYPED_KEYS = groupKeys(snapshotSpec, "document") as ReadonlyArray<"description" | "memory" | "memoryFile" | "disks">;

type Parsed = ParsedInputs<typeof snapshotSpec>;
export type SnapshotDiskInput = NonNullable<Parsed["disks"]>[number];

/** Inputs after check: defaults applied where they need no hypervisor. */
export type SnapshotInputs = CheckedInputs<typeof snapshotSpec>;

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

/**
 * Validates and normalizes Snapshot inputs (resource/check.ts: a preview's unknown
 * inputs stay unknown, `unknownKeys` names them, and the rules that combine
 * fields wait for the `pulumi up`).
 */
export const checkSnapshotInputs = inputChecker(snapshotSpec, {
  crossField: crossFieldFailures,
  normalize: (i) => emptyDescriptionAsNone(i as SnapshotInputs),
});

/** The zod object of every Snapshot input (each optional), as check parses them. */
export const snapshotInputSchema = inputSchema(snapshotSpec);
