// What every libvirt object handle shares: its pointer is freed once, and a
// looked-up handle is freed when the work with it ends, whatever happens.

export interface Freeable {
  free(): void;
}

/** Runs fn with the handle `lookup` gives (null when the object does not exist), freeing it afterwards. */
export async function withLookedUp<H extends Freeable, T>(lookup: Promise<H | null>, fn: (handle: H | null) => Promise<T>): Promise<T> {
  const handle = await lookup;
  try {
    return await fn(handle);
  } finally {
    handle?.free();
  }
}
