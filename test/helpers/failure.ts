// For operations that must fail: their error, and how long failing took.

/** Runs `op`; returns its error and the time it took (a success becomes an error saying so). */
export async function failing(op: () => Promise<unknown>): Promise<{ err: Error; ms: number; value?: unknown }> {
  const t0 = Date.now();
  try {
    const value = await op();
    return { err: new Error(`expected a failure, got ${JSON.stringify(value)}`), ms: Date.now() - t0, value };
  } catch (err) {
    return { err: err as Error, ms: Date.now() - t0 };
  }
}
