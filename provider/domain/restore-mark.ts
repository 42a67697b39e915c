// The mark a restore leaves in the domain's definition (<metadata>, in the
// provider's own namespace): which snapshots it redefined, with their creation
// times. A Snapshot resource whose create finds a snapshot of its name adopts it
// only when this mark names it with the same creation time, and takes it off the
// mark, so that a snapshot made by hand (or adopted already) is still refused.
import type { DomainHandle } from "../libvirt/domain";
import { buildXml, child, many, parseXml, type XmlNode } from "../xml/xml";

export const RESTORE_MARK_NS = "https://github.com/libvirt-pulumi/restored-snapshots/1";
const KEY = "lvp";

export interface MarkedSnapshot {
  name: string;
  creationTime: number | null;
}

function render(entries: MarkedSnapshot[]): string {
  return buildXml({
    restored: {
      snapshot: entries.map((e) => (e.creationTime === null ? { "@name": e.name } : { "@name": e.name, "@creationTime": String(e.creationTime) })),
    },
  });
}

/** The entries of a mark as libvirt returns it (the element may carry the namespace prefix). */
export function parseMark(xml: string | null): MarkedSnapshot[] {
  if (!xml) return [];
  const doc = parseXml(xml);
  const root = child(doc, "restored") ?? child(doc, `${KEY}:restored`);
  const entries = many(root?.snapshot).concat(many(root?.[`${KEY}:snapshot`] as XmlNode[] | undefined));
  return entries.map((e) => ({
    name: String(e["@name"] ?? ""),
    creationTime: e["@creationTime"] === undefined ? null : Number(e["@creationTime"]),
  }));
}

export async function writeRestoredMark(dom: DomainHandle, entries: MarkedSnapshot[]): Promise<void> {
  await dom.setMetadata(entries.length === 0 ? null : render(entries), KEY, RESTORE_MARK_NS);
}

/**
 * Runs `define` (a redefinition of the domain from the inputs, which has no
 * <metadata>) and puts the restore mark back, so that an update before the
 * Snapshot resources adopted their snapshots does not make them refused.
 */
export async function keepingRestoredMark(dom: DomainHandle, define: () => Promise<void>): Promise<void> {
  const entries = parseMark(await dom.metadata(RESTORE_MARK_NS));
  await define();
  if (entries.length > 0) await writeRestoredMark(dom, entries);
}

/** One take at a time per domain in this process: two Snapshot resources of the same name cannot both adopt one snapshot. */
const queues = new Map<string, Promise<unknown>>();

/**
 * Whether the restore mark names `name` with `creationTime`; if so the entry is
 * taken off (the mark removed with its last entry) and true returned.
 */
export function takeRestoredMark(dom: DomainHandle, name: string, creationTime: number | undefined): Promise<boolean> {
  const key = dom.uuid();
  const run = (queues.get(key) ?? Promise.resolve())
    .catch(() => undefined)
    .then(async () => {
      const entries = parseMark(await dom.metadata(RESTORE_MARK_NS));
      const at = entries.findIndex((e) => e.name === name && (e.creationTime ?? undefined) === creationTime);
      if (at < 0) return false;
      entries.splice(at, 1);
      await writeRestoredMark(dom, entries);
      return true;
    });
  queues.set(key, run);
  const forget = () => {
    if (queues.get(key) === run) queues.delete(key);
  };
  run.then(forget, forget);
  return run;
}
