// The vocabulary of a resource spec: for each input its schema, default, how a
// change applies, where its value flows (for secrets) and its doc; for each output
// its type and doc. Plain data (zod schemas convert to JSON Schema), so that
// check, diff, the SDK (scripts/gen-from-spec.mjs) and the README tables are all
// derived from one place. provider/<resource>/spec.ts fills it in.
import { z } from "zod";

/**
 * How a changed input applies:
 * - "replace": a new object replaces the old one;
 * - "update": the update changes the object in place;
 * - "record": nothing in libvirt changes; the new value is saved for later
 *   operations (a teardown option read by delete, credentials for the next connection).
 */
export type ChangeRule = "replace" | "update" | "record";

export interface InputSpec {
  /** The value's schema, without optionality (the kit adds it). `.describe()`/`.meta()` inside carry nested docs and SDK names. */
  schema: z.ZodType;
  /** Required: the failure reason when it is left out. */
  required?: string;
  /** Filled in by check when left out (unless `noDefaultWith` is set). */
  default?: string | number | boolean;
  /** The default does not apply when this input is given (vcpus: 1, but not with xml). */
  noDefaultWith?: string;
  /** The README's default column, when the default is not a plain value (or there is none to fill in). */
  defaultDoc?: string;
  change: ChangeRule;
  /** Left unset, the saved value stands: what was resolved at creation (uri, type). */
  unsetKeepsSaved?: true;
  /** The output the input is saved under, when it is not its own name (xml → inputXml). */
  savedAs?: string;
  /** Other outputs the value is written into (libvirt's xml): a secret input makes them secret too. */
  flowsInto?: readonly string[];
  /** Also an output of the SDK class. */
  output?: OutputSpec;
  /** A group the resource's own rules refer to ("machine": the typed inputs that xml replaces; "teardown": delete options). */
  group?: string;
  /** The README's notes (markdown). */
  doc: string;
  /** The SDK's doc comment, when it differs from `doc` (no markdown links). */
  sdkDoc?: string;
  /** The SDK's argument type, when the schema's is not what users give (a resource, a secret); wrapped in pulumi.Input. */
  sdkType?: string;
  /** The SDK argument's whole type, not wrapped in pulumi.Input (a resource or an input: `Pool | pulumi.Input<string>`). */
  sdkArg?: string;
  /** The SDK requires the argument (the provider's check still reports it missing with `required`'s reason). */
  sdkRequired?: true;
}

export interface OutputSpec {
  /** The TypeScript type of the value (the SDK wraps it in pulumi.Output). */
  type: string;
  /** The SDK property's whole type, when it is not pulumi.Output<type> (credentials: AuthOutput). */
  sdkType?: string;
  doc?: string;
}

export interface ResourceSpec {
  /** The resource's type name ("Domain"). */
  name: string;
  inputs: Readonly<Record<string, InputSpec>>;
  /** Outputs that are not inputs. */
  outputs: Readonly<Record<string, OutputSpec>>;
}

export const inputKeys = (spec: ResourceSpec): string[] => Object.keys(spec.inputs);

export const keysWhere = (spec: ResourceSpec, test: (input: InputSpec) => boolean): string[] =>
  Object.entries(spec.inputs)
    .filter(([, i]) => test(i))
    .map(([k]) => k);

export const groupKeys = (spec: ResourceSpec, group: string): string[] => keysWhere(spec, (i) => i.group === group);

export const replaceKeys = (spec: ResourceSpec): string[] => keysWhere(spec, (i) => i.change === "replace");

/** Declares a spec, keeping each input's schema type (so that the inputs' TypeScript type is derived from it). */
export const defineSpec = <const S extends ResourceSpec>(spec: S): S => spec;

/** The shape of a spec's inputs: each schema, optional. */
export type InputShape<S extends ResourceSpec> = { [K in keyof S["inputs"]]: z.ZodOptional<S["inputs"][K]["schema"]> };

/** The inputs as check parses them (each optional; defaults are filled in after parsing). */
export type ParsedInputs<S extends ResourceSpec> = z.infer<z.ZodObject<InputShape<S>>>;

/** The inputs check always fills in: the required ones, and those with a default that always applies. */
type AlwaysPresent<S extends ResourceSpec> = {
  [K in keyof S["inputs"]]: S["inputs"][K] extends { required: string } | { default: string | number | boolean; noDefaultWith?: undefined }
    ? K
    : never;
}[keyof S["inputs"]];

/** The inputs after check: what `AlwaysPresent` names is no longer optional. */
export type CheckedInputs<S extends ResourceSpec> = ParsedInputs<S> & {
  [K in AlwaysPresent<S> & keyof ParsedInputs<S>]-?: NonNullable<ParsedInputs<S>[K]>;
};

/** The zod object of all inputs, each optional; required ones are reported by check with their own reason. */
export function inputSchema<S extends ResourceSpec>(spec: S): z.ZodObject<InputShape<S>> {
  const shape = Object.fromEntries(Object.entries(spec.inputs).map(([k, i]) => [k, i.schema.optional()]));
  return z.object(shape as InputShape<S>).strict();
}

/** The defaults check fills in for inputs left out of `given`. */
export function defaultsFor(spec: ResourceSpec, given: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, i] of Object.entries(spec.inputs)) {
    if (i.default === undefined || given[k] !== undefined) continue;
    if (i.noDefaultWith !== undefined && given[i.noDefaultWith] !== undefined) continue;
    out[k] = i.default;
  }
  return out;
}

/** For each input, the outputs its value is written into (its own name included): the SDK marks them secret with it. */
export function secretFlows(spec: ResourceSpec): Record<string, string[]> {
  return Object.fromEntries(Object.entries(spec.inputs).map(([k, i]) => [k, [k, ...(i.savedAs ? [i.savedAs] : []), ...(i.flowsInto ?? [])]]));
}

/** The SDK class's outputs, in spec order: inputs that are also outputs, then the outputs proper. */
export function sdkOutputs(spec: ResourceSpec): Array<[string, OutputSpec]> {
  const fromInputs = Object.entries(spec.inputs).flatMap(([k, i]) => (i.output ? [[k, i.output] as [string, OutputSpec]] : []));
  return [...fromInputs, ...Object.entries(spec.outputs)];
}
