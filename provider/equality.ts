// Structural equality that ignores key order and undefined members: Pulumi's
// saved state and freshly checked inputs order object keys differently.
export function canonical(value: unknown): string {
  return (
    JSON.stringify(value, (_k, v) =>
      v && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(
            Object.entries(v)
              .filter(([, x]) => x !== undefined)
              .sort(([a], [b]) => (a < b ? -1 : 1)),
          )
        : v,
    ) ?? "undefined"
  );
}

export const canonicalEqual = (a: unknown, b: unknown): boolean => canonical(a) === canonical(b);
