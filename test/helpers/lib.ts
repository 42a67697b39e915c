// Tests load the built package by its name, exactly as Pulumi's provider
// process and users do (npm test builds it first).
import { createRequire } from "node:module";
import { join } from "node:path";
import { vi } from "vitest";

const require = createRequire(import.meta.url);
const root = join(__dirname, "../..");

export const provider: typeof import("../../provider") = require("libvirt-pulumi/provider");
export const sdkPath = require.resolve("libvirt-pulumi");

/**
 * A module of the built package, by its path under the repository (no extension):
 * `built<typeof import("../../provider/storage/qcow2")>("provider/storage/qcow2")`.
 * The same instance the providers use (its classes for instanceof, its caches).
 */
export function built<T>(modulePath: string): T {
  return require(join(root, "dist", `${modulePath}.js`)) as T;
}

/** Runs fn, collecting what the provider prints for the engine (console.error, which Pulumi shows as diagnostics). */
export async function logged<T>(fn: () => Promise<T>): Promise<{ value: T; log: string }> {
  const spy = vi.spyOn(console, "error").mockImplementation(() => undefined);
  try {
    const value = await fn();
    return { value, log: spy.mock.calls.map((c) => c.join(" ")).join("\n") };
  } finally {
    spy.mockRestore();
  }
}
