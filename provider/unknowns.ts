// During a preview, an input computed from another resource's output (a Pool's
// name, a base Volume's path) reaches check as Pulumi's "unknown" sentinel.
// Those inputs are validated once known; the rest are checked now.

/** Pulumi's wire value for an unknown (runtime/rpc.ts `unknownValue`). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export function containsUnknown(v: unknown): boolean {
  if (v === UNKNOWN) return true;
  if (Array.isArray(v)) return v.some(containsUnknown);
  if (v && typeof v === "object") return Object.values(v).some(containsUnknown);
  return false;
}

/** The inputs without the ones that are (or contain) unknowns, and the names of those. */
export function knownOnly(raw: Record<string, unknown>): { known: Record<string, unknown>; unknownKeys: Set<string> } {
  const unknownKeys = new Set(Object.keys(raw).filter((k) => containsUnknown(raw[k])));
  return { known: Object.fromEntries(Object.entries(raw).filter(([k]) => !unknownKeys.has(k))), unknownKeys };
}
