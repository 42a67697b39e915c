// Snapshot XML (<domainsnapshot>): built from the typed inputs (or the user's
// raw XML with the name filled in), edited for a redefine (description), and
// read back into the facts the provider reports.
import { buildXml, child, compact, editElement, exactChildText, many, parseXml, setChildText, text, type XmlNode } from "../xml/xml";
import type { SnapshotInputs } from "./inputs";

/** libvirt's spelling of the modes: our "none" is its "no". */
const LIBVIRT_MODE = { internal: "internal", external: "external", none: "no" } as const;

/** The snapshot XML for typed inputs; every value goes through the XML builder's escaping. */
export function buildSnapshotXml(i: SnapshotInputs): string {
  if (i.xml !== undefined) return withName(i.xml, i.name);
  const disks = i.disks ?? [];
  return buildXml({
    domainsnapshot: compact({
      name: i.name,
      description: i.description,
      memory: i.memory === undefined ? undefined : compact({ "@snapshot": LIBVIRT_MODE[i.memory], "@file": i.memoryFile }),
      disks:
        disks.length === 0
          ? undefined
          : {
              disk: disks.map((d) =>
                compact({
                  "@name": d.target,
                  "@snapshot": LIBVIRT_MODE[d.snapshot],
                  driver: d.snapshot === "external" ? { "@type": "qcow2" } : undefined,
                  source: d.snapshot === "external" && d.file ? { "@file": d.file } : undefined,
                }),
              ),
            },
    }),
  });
}

// Raw and libvirt-returned XML keep their element order when edited (the
// embedded <domain> has order-sensitive devices): provider/xml/xml.ts's editElement.

/** The user's raw XML with <name> set to the resource's snapshot name. */
function withName(xml: string, name: string): string {
  return editElement(xml, "domainsnapshot", (body) => setChildText(body, "name", name));
}

/** A snapshot's XML (as libvirt returned it) with a new description, for VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE. */
export function withDescription(xml: string, description: string | undefined): string {
  return editElement(xml, "domainsnapshot", (body) =>
    setChildText(body, "description", description === "" ? undefined : description, { after: "name" }),
  );
}

export type SnapshotKind = "internal" | "external" | "disk-only";

/** What the provider reports from a snapshot's XML. */
export interface ObservedSnapshot {
  name?: string;
  description?: string;
  /** The domain state captured ("running", "shutoff", "disk-snapshot", ...). */
  state?: string;
  parent?: string;
  /** Seconds since the Unix epoch. */
  creationTime?: number;
  memory?: { snapshot: string; file?: string };
  disks: Array<{ target: string; snapshot: string; file?: string }>;
  /** The UUID of the domain the snapshot belongs to, from the embedded <domain>. */
  domainUuid?: string;
  kind: SnapshotKind;
}

export function parseSnapshotXml(xml: string): ObservedSnapshot {
  const snap = child(parseXml(xml), "domainsnapshot") ?? {};
  const memory = child(snap, "memory");
  const disks = many(child(snap, "disks")?.disk).map((d) =>
    compact({ target: String(d["@name"] ?? ""), snapshot: String(d["@snapshot"] ?? ""), file: child(d, "source")?.["@file"] as string | undefined }),
  ) as ObservedSnapshot["disks"];
  const state = text(snap.state);
  const memoryMode = memory?.["@snapshot"] as string | undefined;
  const external = memoryMode === "external" || disks.some((d) => d.snapshot === "external");
  const created = text(snap.creationTime);
  return {
    name: text(snap.name),
    description: snap.description === undefined ? undefined : exactChildText(xml, "domainsnapshot", "description"),
    state,
    parent: text(child(snap, "parent")?.name),
    creationTime: created === undefined ? undefined : Number(created),
    memory:
      memoryMode === undefined
        ? undefined
        : (compact({ snapshot: memoryMode, file: memory?.["@file"] as string | undefined }) as ObservedSnapshot["memory"]),
    disks,
    domainUuid: text(child(child(snap, "domain"), "uuid") as XmlNode | undefined),
    kind: state === "disk-snapshot" ? "disk-only" : external ? "external" : "internal",
  };
}
