// The check every resource runs: the spec's schema on the known inputs, each
// required input reported with its own reason, the resource's cross-field rules,
// then the spec's defaults. During a preview some inputs are Pulumi's unknown (a
// Volume's path before it exists): they are left as they are, `unknownKeys` names
// them, and the rules that combine fields wait for the `pulumi up`, when Pulumi
// checks again with every value known.
import { knownOnly } from "../unknowns";
import { toFailures, userInputs, type CheckFailure } from "../validation";
import { defaultsFor, inputSchema, type ParsedInputs, type ResourceSpec } from "./spec";

export interface Checked<I> {
  /** The normalized inputs, defaults applied; absent when a failure was found. Unknown inputs stay unknown. */
  inputs?: I;
  failures: CheckFailure[];
  /** Inputs that are (or contain) Pulumi's unknown: the preview's; empty in an up. */
  unknownKeys: Set<string>;
}

export interface CheckRules<S extends ResourceSpec, I> {
  /** Rules that combine fields; run only when every input is known. */
  crossField?: (parsed: ParsedInputs<S>) => CheckFailure[];
  /** The last step: the parsed inputs with the spec's defaults, as the resource keeps them (an empty description dropped, say). */
  normalize: (withDefaults: ParsedInputs<S>) => I;
}

/** The check of a resource: `check(news)` for its provider, and for tests. */
export function inputChecker<S extends ResourceSpec, I>(spec: S, rules: CheckRules<S, I>): (news: Record<string, unknown>) => Checked<I> {
  // Built once: zod compiles a schema's parser on its first use (see docs/performance.md).
  const schema = inputSchema(spec);
  const required = Object.entries(spec.inputs).filter(([, i]) => i.required !== undefined);
  return (news) => {
    const raw = userInputs(news);
    const { known, unknownKeys } = knownOnly(raw);
    const missing: CheckFailure[] = required
      .filter(([k]) => known[k] === undefined && !unknownKeys.has(k))
      .map(([k, i]) => ({ property: k, reason: i.required! }));
    const parsed = schema.safeParse(known);
    if (!parsed.success) return { failures: [...missing, ...toFailures(parsed.error)], unknownKeys };
    if (missing.length > 0) return { failures: missing, unknownKeys };
    const failures = unknownKeys.size === 0 && rules.crossField ? rules.crossField(parsed.data) : [];
    if (failures.length > 0) return { failures, unknownKeys };
    const unknown = Object.fromEntries([...unknownKeys].map((k) => [k, raw[k]]));
    return { failures: [], unknownKeys, inputs: rules.normalize({ ...defaultsFor(spec, raw), ...parsed.data, ...unknown }) };
  };
}

/** libvirt cannot hold an empty description (it drops the element): "" means none. */
export function emptyDescriptionAsNone<T extends { description?: unknown }>(inputs: T): T {
  return inputs.description === "" ? { ...inputs, description: undefined } : inputs;
}
