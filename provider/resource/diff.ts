// Which inputs changed, decided the same way for every resource: an unknown input
// (a preview) counts as changed; an input with `unsetKeepsSaved` left unset keeps
// what was resolved at creation; the rest is compared, ignoring key order, with
// the value saved in the outputs (under `savedAs` where the output of the same
// name is libvirt's, such as the raw xml saved as inputXml).
import { canonicalEqual } from "../equality";
import type { ResourceSpec } from "./spec";

/** An input's value as saved in a resource's outputs. */
export function savedInput(spec: ResourceSpec, olds: object, key: string): unknown {
  const saved: Record<string, unknown> = { ...olds };
  return saved[spec.inputs[key]?.savedAs ?? key];
}

/** Saved values in place of the unknown inputs: the known rest can then be normalized and compared as usual. */
export function withStandIns(spec: ResourceSpec, olds: object, news: Record<string, unknown>, unknownKeys: Set<string>): Record<string, unknown> {
  return { ...news, ...Object.fromEntries([...unknownKeys].map((k) => [k, savedInput(spec, olds, k)])) };
}

/**
 * The inputs whose new value differs from the saved one. `sameAsSaved` lets a
 * resource accept another spelling of the saved value (a Snapshot's domain given
 * by name or by UUID).
 */
export function changedInputs(
  spec: ResourceSpec,
  olds: object,
  inputs: Record<string, unknown>,
  unknownKeys: Set<string>,
  sameAsSaved?: (key: string, next: unknown) => boolean,
): string[] {
  return Object.entries(spec.inputs)
    .filter(([key, input]) => {
      if (unknownKeys.has(key)) return true;
      const next = inputs[key];
      if (input.unsetKeepsSaved && next === undefined) return false;
      if (sameAsSaved?.(key, next)) return false;
      return !canonicalEqual(savedInput(spec, olds, key), next);
    })
    .map(([key]) => key);
}
