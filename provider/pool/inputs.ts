// Pool inputs: the normalized shape. The inputs themselves (schemas, defaults,
// change rules) are in spec.ts; a directory pool has no rules that combine fields.
import { inputChecker } from "../resource/check";
import { inputSchema, type CheckedInputs } from "../resource/spec";
import { poolSpec } from "./spec";

/** Inputs after check: defaults applied, the path as libvirt reports it. */
export type PoolInputs = CheckedInputs<typeof poolSpec>;

/** Validates and normalizes Pool inputs (resource/check.ts: a preview's unknown inputs stay unknown). */
export const checkPoolInputs = inputChecker(poolSpec, {
  normalize: (i): PoolInputs => {
    const p = i as PoolInputs;
    // libvirt reports the directory without doubled or trailing slashes: so refresh shows no change.
    return typeof p.path === "string" ? { ...p, path: p.path.replace(/\/{2,}/g, "/").replace(/(.)\/$/, "$1") } : p;
  },
});

/** The zod object of every Pool input (each optional), as check parses them. */
export const poolInputSchema = inputSchema(poolSpec);
