// Adopting an existing object (the `adopt` input every resource has): Pulumi
// cannot `import` a dynamic resource, so a create with adopt: true takes over an
// object of that name that is already there, once its definition matches the
// inputs. What "matches" means is each resource's (its provider lists the
// properties to compare, read from libvirt's XML with its own parser); what is
// the same everywhere is here: the spec entries, the comparison (an input left
// unset is no difference) and the one refusal, which lists every difference
// and changes nothing.
import { canonicalEqual } from "../equality";
import { DeliberateError } from "../deliberate";
import { flag } from "../validation";
import { redactUri } from "../libvirt/uri";

/** The `adopt` input: read by create only (a later change is only recorded). */
export const adoptInput = (resource: string, what: string) =>
  ({
    schema: flag("adopt"),
    // No default filled in: left unset it is false, and a state saved before the input existed shows no change.
    defaultDoc: "`false`",
    change: "record",
    doc:
      `\`true\`: when ${what} already exists, a create takes it over instead of refusing it, after checking that its definition matches the inputs ` +
      "(a mismatch is refused, listing the differences, changing nothing); when there is none, it creates one as usual. Output `adopted` says which. " +
      "Read by create only; see [Adopting existing objects](#adopting-existing-objects)",
    sdkDoc:
      `Take over ${what} that already exists instead of refusing it (Pulumi cannot \`import\` a dynamic resource): the create checks that its definition matches the inputs ` +
      `(a mismatch is refused, listing the differences, and nothing is changed), then manages it like a ${resource} it created, teardown rules included. ` +
      "If there is none, it is created. Default: false. Read by create only.",
  }) as const;

/** The `adopted` output. */
export const adoptedOutput = {
  type: "boolean",
  doc: "true when the create took over an object that already existed (adopt: true), false when it made it.",
} as const;

/** One property whose input differs from what libvirt has. */
export interface Difference {
  property: string;
  /** The input's value, as the message shows it. */
  input: unknown;
  /** libvirt's value, as the message shows it. */
  actual: unknown;
  /** Why it counts, when that is not plain (an input left unset that an update would apply). */
  note?: string;
}

/** A property to compare: its input (undefined: left unset, never a difference) and what libvirt has. */
export type Comparison = [property: string, input: unknown, actual: unknown, note?: string];

/** The differences among `comparisons`: an input left unset is none; values are compared structurally. */
export function differences(comparisons: Comparison[]): Difference[] {
  return comparisons
    .filter(([, input, actual]) => input !== undefined && !canonicalEqual(input, actual))
    .map(([property, input, actual, note]) => ({ property, input, actual, ...(note ? { note } : {}) }));
}

const shown = (v: unknown): string => (v === undefined || v === null ? "none" : JSON.stringify(v));

/** A create with adopt: true found an object whose definition differs from the inputs; nothing was changed. */
export class AdoptMismatchError extends DeliberateError {
  constructor(
    readonly what: string,
    readonly differences: Difference[],
    uri: string,
  ) {
    const list = differences.map(
      (d) => `${d.property}: ${shown(d.input)} in the inputs, ${shown(d.actual)} in libvirt${d.note ? ` (${d.note})` : ""}`,
    );
    super(
      `cannot adopt ${what} on ${redactUri(uri)}: its definition differs from the inputs in ${list.length === 1 ? "1 property" : `${list.length} properties`}: ` +
        `${list.join("; ")}. Nothing was changed. To adopt it as it is, set ${differences.map((d) => d.property).join(", ")} to libvirt's values ` +
        `(or leave them unset where that is allowed), then change them in a later \`pulumi up\`; or give the resource another name to create a new one.`,
    );
  }
}

/** Throws the refusal when there are differences. */
export function refuseMismatch(what: string, uri: string, diffs: Difference[]): void {
  if (diffs.length > 0) throw new AdoptMismatchError(what, diffs, uri);
}

/** The advice every "already exists" refusal ends with. */
export const adoptHint = (resource: string): string =>
  `Pulumi's \`import\` resource option does not work here: ${resource} is a dynamic resource, and Pulumi cannot import dynamic resources; ` +
  `to take the existing one over instead, set \`adopt: true\` (it is adopted when its definition matches the inputs).`;
