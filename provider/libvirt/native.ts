// The only module that loads libvirt through koffi. It declares libvirt's opaque
// types and binds every function in the generated FUNCTIONS table, once, lazily:
// importing the provider must not need libvirt until a resource is actually used.
import { isMainThread } from "node:worker_threads";
import koffi from "koffi";
import { FUNCTIONS, OPAQUE_TYPES, STRUCTS, type LibvirtFunctions, type Ptr } from "./libvirt.gen";
import { LibvirtFunctionUnavailableError } from "./errors";

export type { Ptr } from "./libvirt.gen";

export const THREADPOOL_ENV = "UV_THREADPOOL_SIZE";
export const MALLOC_ENV = { arenaMax: "LIBVIRT_PULUMI_MALLOC_ARENA_MAX", threshold: "LIBVIRT_PULUMI_MALLOC_THRESHOLD" } as const;
export const MALLOC_DEFAULTS = { arenaMax: 2, threshold: 128 * 1024 } as const;
const M_TRIM_THRESHOLD = -1;
const M_MMAP_THRESHOLD = -3;
const M_ARENA_MAX = -8;

/** The arena cap and the mmap/trim threshold (bytes) the provider sets for an environment; 0: left to glibc. */
export function mallocSettings(env: NodeJS.ProcessEnv): { arenaMax: number; threshold: number } {
  const read = (name: string, fallback: number) => {
    const v = env[name] === undefined || env[name] === "" ? fallback : Number(env[name]);
    return Number.isInteger(v) && v > 0 ? v : 0;
  };
  return {
    arenaMax: env.MALLOC_ARENA_MAX !== undefined ? 0 : read(MALLOC_ENV.arenaMax, MALLOC_DEFAULTS.arenaMax),
    threshold:
      env.MALLOC_MMAP_THRESHOLD_ !== undefined || env.MALLOC_TRIM_THRESHOLD_ !== undefined
        ? 0
        : read(MALLOC_ENV.threshold, MALLOC_DEFAULTS.threshold),
  };
}

/** What the provider applied in this process (0: left to glibc). */
export const mallocTuning = { arenaMax: 0, threshold: 0 };
let tuned = false;

/**
 * Sizes libuv's thread pool for libvirt calls (UV_THREADPOOL_SIZE, when unset) and
 * tunes glibc's malloc (LIBVIRT_PULUMI_MALLOC_*, unless the user set glibc's own
 * MALLOC_* variables); why, and the measurements: docs/performance.md, "Process
 * tuning". Once per process, on the main thread, before the first libvirt call:
 * provider/index.ts calls it when loaded. Later calls do nothing.
 */
export function tuneProcess(): void {
  if (tuned || !isMainThread) return;
  tuned = true;
  if (!process.env[THREADPOOL_ENV]) {
    process.env[THREADPOOL_ENV] = String((Number(process.env.LIBVIRT_PULUMI_MAX_CONNECTIONS) || 16) + 4);
  }
  if (process.platform !== "linux") return;
  const wanted = mallocSettings(process.env);
  if (!wanted.arenaMax && !wanted.threshold) return;
  try {
    const mallopt = koffi.load("libc.so.6").func("int mallopt(int param, int value)");
    if (wanted.arenaMax && mallopt(M_ARENA_MAX, wanted.arenaMax) === 1) mallocTuning.arenaMax = wanted.arenaMax;
    if (wanted.threshold && mallopt(M_MMAP_THRESHOLD, wanted.threshold) === 1 && mallopt(M_TRIM_THRESHOLD, wanted.threshold) === 1) {
      mallocTuning.threshold = wanted.threshold;
    }
  } catch {
    // Not glibc (musl has neither arenas nor these thresholds): nothing to tune.
  }
}

/** Raised when libvirt.so.0 cannot be loaded: says which package provides it. */
export class LibvirtLibraryMissingError extends Error {
  constructor(path: string, cause: unknown) {
    super(
      `cannot load the libvirt client library (${path}): ${(cause as Error)?.message ?? cause}. ` +
        `Install it: Debian/Ubuntu "apt-get install libvirt0", Fedora/RHEL "dnf install libvirt-libs"; ` +
        `or point LIBVIRT_PULUMI_LIBRARY at libvirt.so.0.`,
    );
    this.name = "LibvirtLibraryMissingError";
  }
}

type AsyncFn<F> = F extends (...args: infer A) => infer R ? (...args: A) => Promise<R> : never;
export type LibvirtAsyncFunctions = { [K in keyof LibvirtFunctions]: AsyncFn<LibvirtFunctions[K]> };

export interface Native {
  /** Synchronous calls: only for calls that never reach the daemon (getters, free, error access). */
  readonly sync: LibvirtFunctions;
  /** The same functions run on a libuv worker thread; use for anything that may talk to the daemon. */
  readonly async: LibvirtAsyncFunctions;
  /** Reads a `virError *` into a plain object. */
  decodeError(ptr: unknown): VirErrorFields | null;
  /** Turns an address (from the opener worker thread) back into a `virConnect *`. */
  connectionFromAddress(address: bigint): Ptr<"virConnect">;
  addressOf(ptr: unknown): bigint;
  /** Reads `count` pointers from a libvirt-allocated array and frees the array itself. */
  takePointerArray(array: unknown, count: number): unknown[];
  /** Reads a `virDomainInterface *` (and its address array) into plain objects. */
  decodeInterface(ptr: unknown): DomainInterfaceFields;
  readonly koffi: typeof koffi;
}

export interface DomainInterfaceFields {
  name: string | null;
  hwaddr: string | null;
  addrs: Array<{ type: number; addr: string | null; prefix: number }>;
}

export interface VirErrorFields {
  code: number;
  domain: number;
  message: string | null;
  level: number;
  str1: string | null;
  int1: number;
}

/** A function koffi bound: callable, and `.async(...args, callback)` on a worker thread. */
export interface BoundFunction {
  (...args: unknown[]): unknown;
  async(...args: unknown[]): void;
}

/**
 * Binds every function of the generated table through `bind` (koffi's `lib.func`).
 * A function the library lacks (an older libvirt: each entry carries the version
 * that introduced it, from libvirt-api.xml) gets a stand-in that throws
 * LibvirtFunctionUnavailableError when, and only when, it is called: one missing
 * symbol must not stop the provider, and a caller that can do without it (the
 * checkpoint count) decides on that error's function name.
 */
export function bindFunctions(
  bind: (decl: string) => BoundFunction,
  path: string,
): {
  sync: Record<string, (...args: unknown[]) => unknown>;
  async: Record<string, (...args: unknown[]) => Promise<unknown>>;
} {
  const sync: Record<string, (...args: unknown[]) => unknown> = {};
  const asyncFns: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const [name, { decl, since }] of Object.entries(FUNCTIONS)) {
    let fn: BoundFunction;
    try {
      fn = bind(decl);
    } catch (err) {
      const missing = () => {
        throw new LibvirtFunctionUnavailableError(name, since, path, (err as Error).message);
      };
      sync[name] = missing;
      asyncFns[name] = async () => missing();
      continue;
    }
    sync[name] = fn;
    asyncFns[name] = (...args: unknown[]) =>
      new Promise((resolve, reject) => fn.async(...args, (err: unknown, res: unknown) => (err ? reject(err) : resolve(res))));
  }
  return { sync, async: asyncFns };
}

let loaded: Native | undefined;

export function libraryPath(): string {
  return process.env.LIBVIRT_PULUMI_LIBRARY || "libvirt.so.0";
}

export function native(): Native {
  if (loaded) return loaded;
  const path = libraryPath();
  let lib: ReturnType<typeof koffi.load>;
  try {
    lib = koffi.load(path);
  } catch (err) {
    throw new LibvirtLibraryMissingError(path, err);
  }
  for (const opaque of OPAQUE_TYPES) koffi.opaque(opaque);
  // A `char *` that libvirt allocated for us: decoded to a JS string, then freed.
  koffi.disposable("HeapString", "const char *");
  const virError = koffi.struct("virError", STRUCTS.virError);
  koffi.proto("void virErrorFunc(void *userData, virError *error)");
  koffi.struct("virConnectCredential", STRUCTS.virConnectCredential);
  koffi.proto("int virConnectAuthCallback(virConnectCredential *cred, unsigned int ncred, void *cbdata)");
  koffi.struct("virConnectAuth", STRUCTS.virConnectAuth);
  koffi.struct("virDomainIPAddress", STRUCTS.virDomainIPAddress);
  koffi.struct("virDomainInterface", STRUCTS.virDomainInterface);

  const { sync, async: asyncFns } = bindFunctions((decl) => lib.func(decl), path);

  // libvirt prints every error to stderr unless a handler is set; errors are
  // read from the connection instead, so the handler only keeps stderr quiet.
  // Sets up libvirt's thread-local error slots; calls such as virResetLastError crash before it.
  (sync.virInitialize as () => number)();

  // The handler is process-wide: only the main thread installs it (the opener
  // worker's isolate may go away, and its callback with it).
  if (isMainThread) {
    const quietHandler = koffi.register(() => {}, koffi.pointer("virErrorFunc"));
    (sync.virSetErrorFunc as (u: unknown, h: unknown) => void)(null, quietHandler);
  }

  loaded = {
    sync: sync as unknown as LibvirtFunctions,
    async: asyncFns as unknown as LibvirtAsyncFunctions,
    decodeError(ptr) {
      if (!ptr) return null;
      const e = koffi.decode(ptr, virError) as VirErrorFields;
      return { code: e.code, domain: e.domain, message: e.message, level: e.level, str1: e.str1, int1: e.int1 };
    },
    connectionFromAddress(address) {
      const cell = Buffer.alloc(8);
      cell.writeBigUInt64LE(address);
      return koffi.decode(cell, "virConnect *") as Ptr<"virConnect">;
    },
    addressOf: (ptr) => koffi.address(ptr),
    decodeInterface(ptr) {
      const i = koffi.decode(ptr, "virDomainInterface") as { name: string | null; hwaddr: string | null; naddrs: number; addrs: unknown };
      const addrs = i.naddrs > 0 && i.addrs ? (koffi.decode(i.addrs, "virDomainIPAddress", i.naddrs) as DomainInterfaceFields["addrs"]) : [];
      return { name: i.name, hwaddr: i.hwaddr, addrs: addrs.map((a) => ({ type: a.type, addr: a.addr, prefix: a.prefix })) };
    },
    takePointerArray(array, count) {
      if (!array) return [];
      const pointers = count > 0 ? (koffi.decode(array, "void *", count) as unknown[]) : [];
      koffi.free(array);
      return pointers;
    },
    koffi,
  };
  return loaded;
}
