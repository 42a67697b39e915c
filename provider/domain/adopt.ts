// What adopting an existing domain compares (README's "Adopting existing
// objects"): each set typed input, or what a raw xml sets, against libvirt's
// definition, read the same way from both XMLs. The refusal and the comparison
// rule (an unset input is no difference) are ../resource/adopt.ts.
import type { Comparison } from "../resource/adopt";
import { TYPED_KEYS, type DomainInputs } from "./inputs";
import { buildDomainXml, parseDomainXml, typedFacts } from "./xml";

/** A machine type as libvirt canonicalizes it: "q35" becomes "pc-q35-8.2", "pc" "pc-i440fx-8.2". */
const sameMachine = (input: unknown, actual: unknown) =>
  typeof input === "string" &&
  typeof actual === "string" &&
  (actual === input || actual.startsWith(`pc-${input}-`) || (input === "pc" && actual.startsWith("pc-i440fx-")));

/** What adopt compares: each set typed input (or what the raw xml sets) against libvirt's definition; unset inputs are no difference. */
export function domainComparisons(inputs: DomainInputs, existingXml: string, persistent: boolean): Comparison[] {
  const actual = typedFacts(existingXml);
  const out: Comparison[] = [["persistent", inputs.persistent, persistent]];
  if (inputs.xml !== undefined) {
    const given = typedFacts(inputs.xml);
    for (const key of ["type", "memoryMiB", "vcpus", "description"]) if (given[key] !== undefined) out.push([`xml: ${key}`, given[key], actual[key]]);
    const uuid = parseDomainXml(inputs.xml).uuid;
    if (uuid !== undefined) out.push(["xml: uuid", uuid, parseDomainXml(existingXml).uuid]);
    return out;
  }
  const wanted = typedFacts(buildDomainXml(inputs, { type: String(actual.type ?? "") }));
  const given = inputs as Record<string, unknown>;
  for (const key of TYPED_KEYS) {
    if (key === "disks" || key === "networkInterfaces") continue;
    if (given[key] === undefined) continue;
    if (key === "machine" && sameMachine(given[key], actual[key])) continue;
    out.push([key, key === "type" ? given[key] : wanted[key], actual[key]]);
  }
  // Disks and interfaces are not in the outputs: left unset, a later update that redefines the
  // domain from the inputs would drop libvirt's without the preview showing it. So they count.
  const unsetNote = "left unset: an update that redefines the domain from the inputs would drop them";
  const disks = actual.disks as unknown[];
  out.push(["disks", inputs.disks === undefined && disks.length === 0 ? undefined : wanted.disks, disks, inputs.disks ? undefined : unsetNote]);
  const nics = actual.networkInterfaces as Array<Record<string, unknown>>;
  const wantedNics = wanted.networkInterfaces as Array<Record<string, unknown>>;
  // A MAC counts only where the input gives one (else the one libvirt has is kept).
  const nicsSeen = nics.map((n, i) => (wantedNics[i]?.mac === undefined ? { ...n, mac: undefined } : n));
  out.push([
    "networkInterfaces",
    inputs.networkInterfaces === undefined && nics.length === 0 ? undefined : wantedNics,
    nicsSeen,
    inputs.networkInterfaces ? undefined : unsetNote,
  ]);
  return out;
}
