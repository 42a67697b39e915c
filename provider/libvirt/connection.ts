// Connections to a hypervisor, pooled per URI. An operation leases one
// connection for its whole duration, and calls on a connection are queued one
// after the other (Connection.call), so at most one call is in flight on a
// connection: libvirt's per-connection error slot (virConnGetLastError) then
// belongs to the call that just failed, even though calls run on libuv worker
// threads (libvirt's thread-local error would be on the wrong thread).
import { createHmac, randomBytes } from "node:crypto";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { DomainHandle } from "./domain";
import { LibvirtError, isConnectionLost, isNoDomain, isNoNetwork, isNoPool, isNoVolume, orNull } from "./errors";
import { native, type LibvirtAsyncFunctions, type Ptr, type VirErrorFields } from "./native";
import type { Credentials, OpenReply, OpenRequest } from "./open-protocol";
import { redactUri, uriHasPassword } from "./uri";
import { sshHint, sshTimeoutHint, withoutTerminalPrompts } from "./ssh-hints";
import {
  virErrorNumber,
  type virConnectListAllDomainsFlags,
  type virConnectListAllNetworksFlags,
  type virDomainCreateFlags,
  type virDomainDefineFlags,
} from "./libvirt.gen";
import { changesState } from "./calls";
import { StoragePoolHandle, StorageVolHandle } from "./storage";
import { UUID_RE } from "./uuid";
import { NetworkHandle } from "./network";

type Fn = keyof LibvirtAsyncFunctions;
type Args<K extends Fn> = Parameters<LibvirtAsyncFunctions[K]>;
type Result<K extends Fn> = Awaited<ReturnType<LibvirtAsyncFunctions[K]>>;

/**
 * Observers called synchronously around libvirt calls on a leased connection, so
 * a test can stop or kill the daemon to fail exactly one call. Production passes none.
 */
export interface CallHooks {
  /** Around every call that may change something (calls.ts): "before" just before it is handed to its thread, "sent" right after. */
  changingCall?(fn: string, phase: "before" | "sent"): void;
  /** Just before any call (read-only ones included). */
  anyCall?(fn: string): void;
}

export interface ConnectOptions {
  /** Hypervisor URI; null/undefined means LIBVIRT_DEFAULT_URI, then libvirt's default. */
  uri?: string | null;
  auth?: Credentials;
  /** Held by the lease while `fn` runs, never by the pooled connection after it. */
  hooks?: CallHooks;
}

const DAEMON_HINT = "is the libvirt daemon running and reachable? Start it with `libvirtd -d` (or `systemctl start libvirtd`), then retry";

export class Connection {
  dead = false;
  /**
   * Whether a call that may change something (calls.ts) was sent on this lease,
   * answered or not: the daemon may have carried it out, so a retry could repeat it.
   */
  changeSent = false;
  /** The current lease's observers (ConnectOptions.hooks), if any. */
  hooks: CallHooks | undefined;
  /** The call in flight, if any: the next one starts after it (one call at a time per connection). */
  private queue: Promise<unknown> = Promise.resolve();
  constructor(
    readonly ptr: Ptr<"virConnect">,
    /** The URI libvirt reports for this connection (virConnectGetURI). */
    readonly uri: string,
  ) {}

  /**
   * Calls a libvirt function on a worker thread. `operation` says what we are
   * doing, for the error message ("defining domain \"web\"").
   */
  call<K extends Fn>(operation: string, name: K, ...args: Args<K>): Promise<Result<K>> {
    // Queued, never concurrent: two calls at once on one connection (a Promise.all
    // over one lease) would read each other's error from the shared slot.
    const run = this.queue.then(() => this.callNow(operation, name, ...args));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async callNow<K extends Fn>(operation: string, name: K, ...args: Args<K>): Promise<Result<K>> {
    const n = native();
    const changing = changesState(name);
    this.hooks?.anyCall?.(name);
    if (changing) {
      this.hooks?.changingCall?.(name, "before");
      // Before the call, not after it succeeded: a daemon killed while it runs may have done it.
      this.changeSent = true;
    }
    n.sync.virConnResetLastError(this.ptr);
    const pending = (n.async[name] as (...a: unknown[]) => Promise<unknown>)(...args);
    if (changing) this.hooks?.changingCall?.(name, "sent");
    const result = (await pending) as Result<K>;
    if (result === null || (typeof result === "number" && result < 0)) {
      const err = this.lastError(operation);
      if (isConnectionLost(err)) this.dead = true;
      throw err;
    }
    return result;
  }

  /** The hypervisor's capabilities XML (virConnectGetCapabilities). */
  async capabilities(): Promise<string> {
    return (await this.call("reading hypervisor capabilities", "virConnectGetCapabilities", this.ptr))!;
  }

  /** The libvirt version of the hypervisor side (virConnectGetLibVersion): major * 1000000 + minor * 1000 + release. */
  async libVersion(): Promise<number> {
    const out: [number] = [0];
    await this.call("reading the libvirt version", "virConnectGetLibVersion", this.ptr, out);
    return out[0];
  }

  // Lookups and listings of the objects a connection owns (as on libvirt-go-module's Connect).
  // The handles hold this connection; the caller frees them.

  /** The domain by UUID (36 chars with dashes) or name; null when libvirt says it does not exist. */
  lookupDomain(idOrName: string): Promise<DomainHandle | null> {
    return orNull(isNoDomain, async () => {
      const ptr = UUID_RE.test(idOrName)
        ? await this.call(`looking up domain ${idOrName}`, "virDomainLookupByUUIDString", this.ptr, idOrName)
        : await this.call(`looking up domain "${idOrName}"`, "virDomainLookupByName", this.ptr, idOrName);
      return new DomainHandle(this, ptr!, idOrName);
    });
  }

  /** virDomainDefineXMLFlags. */
  async defineDomain(xml: string, flags: virDomainDefineFlags | 0, label: string): Promise<DomainHandle> {
    const ptr = await this.call(`defining domain ${label}`, "virDomainDefineXMLFlags", this.ptr, xml, flags);
    return new DomainHandle(this, ptr!, label);
  }

  /** Creates and starts a transient domain (virDomainCreateXML). */
  async createTransientDomain(xml: string, flags: virDomainCreateFlags | 0, label: string): Promise<DomainHandle> {
    const ptr = await this.call(`creating transient domain ${label}`, "virDomainCreateXML", this.ptr, xml, flags);
    return new DomainHandle(this, ptr!, label);
  }

  /** The domains a virConnectListAllDomains filter selects (0: every one); `what` names them in the error ("running"). */
  async listDomains(flags: virConnectListAllDomainsFlags | 0 = 0, what?: string): Promise<DomainHandle[]> {
    const out: [unknown] = [null];
    const count = await this.call(`listing ${what ? `${what} ` : ""}domains`, "virConnectListAllDomains", this.ptr, out, flags);
    return native()
      .takePointerArray(out[0], count)
      .map((p) => new DomainHandle(this, p as Ptr<"virDomain">, `"${native().sync.virDomainGetName(p as Ptr<"virDomain">) ?? ""}"`));
  }

  /** The storage pool by UUID or name; null when libvirt says there is no such pool. */
  lookupPool(idOrName: string): Promise<StoragePoolHandle | null> {
    return orNull(isNoPool, async () => {
      const ptr = UUID_RE.test(idOrName)
        ? await this.call(`looking up storage pool ${idOrName}`, "virStoragePoolLookupByUUIDString", this.ptr, idOrName)
        : await this.call(`looking up storage pool "${idOrName}"`, "virStoragePoolLookupByName", this.ptr, idOrName);
      return new StoragePoolHandle(this, ptr!, `"${idOrName}"`);
    });
  }

  /** virStoragePoolDefineXML. */
  async definePool(xml: string, label: string): Promise<StoragePoolHandle> {
    const ptr = await this.call(`defining storage pool ${label}`, "virStoragePoolDefineXML", this.ptr, xml, 0);
    return new StoragePoolHandle(this, ptr!, label);
  }

  /** Every storage pool (active and inactive). */
  async listPools(): Promise<StoragePoolHandle[]> {
    const out: [unknown] = [null];
    const count = await this.call("listing storage pools", "virConnectListAllStoragePools", this.ptr, out, 0);
    return native()
      .takePointerArray(out[0], count)
      .map((p) => new StoragePoolHandle(this, p as Ptr<"virStoragePool">, ""));
  }

  /** The volume whose file is `path`, in any active pool; null when no pool holds it. */
  lookupVolumeByPath(path: string): Promise<StorageVolHandle | null> {
    return orNull(isNoVolume, async () => {
      const ptr = await this.call(`looking up volume ${path}`, "virStorageVolLookupByPath", this.ptr, path);
      return new StorageVolHandle(this, ptr!);
    });
  }

  /** The virtual network by UUID or name; null when libvirt says there is no such network. */
  lookupNetwork(idOrName: string): Promise<NetworkHandle | null> {
    return orNull(isNoNetwork, async () => {
      const ptr = UUID_RE.test(idOrName)
        ? await this.call(`looking up network ${idOrName}`, "virNetworkLookupByUUIDString", this.ptr, idOrName)
        : await this.call(`looking up network "${idOrName}"`, "virNetworkLookupByName", this.ptr, idOrName);
      return new NetworkHandle(this, ptr!, `"${idOrName}"`);
    });
  }

  /** virNetworkDefineXML: a persistent, inactive network. */
  async defineNetwork(xml: string, label: string): Promise<NetworkHandle> {
    const ptr = await this.call(`defining network ${label}`, "virNetworkDefineXML", this.ptr, xml);
    return new NetworkHandle(this, ptr!, label);
  }

  /** The networks a virConnectListAllNetworks filter selects (0: every one, active or not). */
  async listNetworks(flags: virConnectListAllNetworksFlags | 0 = 0): Promise<NetworkHandle[]> {
    const out: [unknown] = [null];
    const count = await this.call("listing networks", "virConnectListAllNetworks", this.ptr, out, flags);
    return native()
      .takePointerArray(out[0], count)
      .map((p) => new NetworkHandle(this, p as Ptr<"virNetwork">, ""));
  }

  /** The error libvirt recorded on this connection for the call that just failed. */
  lastError(operation: string): LibvirtError {
    const n = native();
    const e = n.decodeError(n.sync.virConnGetLastError(this.ptr));
    return toLibvirtError(`${operation} on ${redactUri(this.uri)}`, e);
  }
}

function toLibvirtError(operation: string, e: VirErrorFields | null): LibvirtError {
  if (!e) return new LibvirtError(operation, virErrorNumber.VIR_ERR_INTERNAL_ERROR, 0, "libvirt reported a failure without an error message");
  const err = new LibvirtError(operation, e.code, e.domain, redactUri(e.message ?? "unknown libvirt error"));
  return isConnectionLost(err) ? new LibvirtError(operation, e.code, e.domain, err.libvirtMessage, DAEMON_HINT) : err;
}

/** Open timeouts, told apart from libvirt's own VIR_ERR_OPERATION_TIMEOUT. */
const openTimeouts = new WeakSet<Error>();

function openTimeoutError(uri: string | null, timeoutMs: number): LibvirtError {
  const err = new LibvirtError(
    `connecting to ${redactUri(uri)}`,
    virErrorNumber.VIR_ERR_OPERATION_TIMEOUT,
    0,
    `no answer within ${timeoutMs / 1000} s`,
    `${sshTimeoutHint(uri) ?? DAEMON_HINT}; LIBVIRT_PULUMI_CONNECT_TIMEOUT_MS sets the limit`,
  );
  openTimeouts.add(err);
  return err;
}

/** Idle opener threads kept for the next credentialed or remote open; more are started when opens overlap. */
const IDLE_OPENERS = 2;

/**
 * Opens on worker threads of their own, one open per thread at a time. A thread
 * stuck inside libvirt (a host that accepts the connection and never answers)
 * fails only its own open at the timeout and is abandoned: it ends when libvirt
 * returns. The other pending opens run on other threads and are not affected.
 */
class Opener {
  private idle: Worker[] = [];
  private nextId = 1;

  private spawn(): Worker {
    const worker = new Worker(join(__dirname, "open-worker.js"));
    // A thread that dies while idle is simply not reused; its open (if any) is failed by open().
    worker.on("error", () => undefined);
    worker.on("exit", () => {
      this.idle = this.idle.filter((w) => w !== worker);
    });
    // An idle opener must not keep the provider process alive.
    worker.unref();
    return worker;
  }

  /**
   * `timeoutMs`: how long this open may wait; `limitMs`: the configured limit that
   * its timeout message names (the wait may be what remains of it after a quick
   * attempt). `onLateReturn`: called when an open that timed out finally leaves
   * libvirt (its thread ends).
   */
  open(
    req: Omit<OpenRequest, "id">,
    timeoutMs: number,
    limitMs: number,
    onLateReturn?: () => void,
    /** The URI its timeout message names (default req.uri). */
    shownUri: string | null = req.uri,
  ): Promise<OpenReply> {
    const id = this.nextId++;
    const worker = this.idle.pop() ?? this.spawn();
    return new Promise<OpenReply>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
        worker.unref();
      };
      const onMessage = (reply: OpenReply) => {
        if (reply.id !== id) return;
        done();
        if (this.idle.length < IDLE_OPENERS) this.idle.push(worker);
        else void worker.terminate();
        resolve(reply);
      };
      const onError = (err: Error) => {
        done();
        reject(err);
      };
      const onExit = (code: number) => {
        done();
        reject(new Error(`libvirt connection opener exited (code ${code})`));
      };
      const timer = setTimeout(() => {
        done();
        // Stuck inside libvirt: abandon this thread (it stops when libvirt returns); only this open fails.
        worker.once("exit", () => onLateReturn?.());
        void worker.terminate();
        reject(openTimeoutError(shownUri, limitMs));
      }, timeoutMs);
      timer.unref();
      worker.on("message", onMessage);
      worker.on("error", onError);
      worker.on("exit", onExit);
      // Keep the process alive while an open is pending, not while the opener idles.
      worker.ref();
      worker.postMessage({ ...req, id } satisfies OpenRequest);
    });
  }
}

const opener = new Opener();

function connectTimeoutMs(): number {
  return Number(process.env.LIBVIRT_PULUMI_CONNECT_TIMEOUT_MS) || 30_000;
}

/** Maximum simultaneous connections (and so concurrent operations) per hypervisor. */
export function maxConnectionsPerHypervisor(): number {
  return Number(process.env.LIBVIRT_PULUMI_MAX_CONNECTIONS) || 16;
}

/** A URI without a host (qemu:///system, test:///default, qemu+unix:///...) or libvirt's default: the daemon is on this machine. */
export function isLocal(uri: string | null): boolean {
  if (uri === null) return true;
  const m = /^[a-z0-9.-]+(?:\+([a-z0-9.-]+))?:\/\/([^/?#]*)/i.exec(uri);
  return !!m && (m[2] === "" || m[1]?.toLowerCase() === "unix");
}

/**
 * The common case, a local URI that needs no credentials, opens with a plain
 * worker-thread call: no opener thread (a second V8 isolate, ~10 MiB) is started.
 * libvirt leaves a failed open's error on the libuv thread that made the call,
 * where it cannot be read; only then is the open repeated on the opener thread,
 * which reads it. (Remote URIs, whose host may never answer, use opener threads
 * from the start: a stuck open must not hold a thread of libuv's shared pool,
 * which every other libvirt call and Node's own file work need.)
 */
async function openQuickly(uri: string | null, timeoutMs: number, onLateReturn?: () => void): Promise<Connection | null> {
  const n = native();
  const TIMED_OUT = Symbol("timed out");
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), timeoutMs);
    timer.unref();
  });
  const opened = n.async.virConnectOpen(uri);
  const ptr = await Promise.race([opened, timeout]);
  clearTimeout(timer);
  if (ptr === TIMED_OUT) {
    // Close it if it ever opens; a second attempt on the opener would only wait again.
    void opened
      .then((late) => late && n.async.virConnectClose(late))
      .catch(() => undefined)
      .finally(() => onLateReturn?.());
    throw openTimeoutError(uri, timeoutMs);
  }
  if (!ptr) return null; // failed: the caller repeats it where the error can be read
  return new Connection(ptr, n.sync.virConnectGetURI(ptr) ?? uri ?? "");
}

/** How many timed-out opens of one URI may be left waiting inside libvirt (each holds a thread) before no more are tried. */
const MAX_STUCK_OPENS = 2;

/**
 * Opens to one hypervisor URI. Until an open of it has succeeded, one open at a
 * time (the others wait for its outcome); after that, as many as the pools ask
 * for. When an open times out, the URI's circuit opens: the waiting opens, and
 * new ones for one more timeout period, fail at once with the same verdict
 * instead of each holding another thread for the full timeout. After that period
 * one probe is allowed again (while fewer than MAX_STUCK_OPENS are stuck); an
 * abandoned open that finally returns closes the circuit.
 */
class OpenGate {
  private proven = false;
  private inFlight = 0;
  private stuck = 0;
  private trippedAt = 0;
  private waiters: Array<() => void> = [];
  constructor(private readonly uri: string | null) {}

  async run(open: (onLateReturn: () => void) => Promise<Connection>): Promise<Connection> {
    for (;;) {
      const refusal = this.refusal();
      if (refusal) throw refusal;
      if (this.proven || this.inFlight === 0) break;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    this.inFlight++;
    try {
      const conn = await open(() => {
        this.stuck--;
        this.wakeAll();
      });
      this.proven = true;
      return conn;
    } catch (err) {
      if (openTimeouts.has(err as Error)) {
        this.proven = false;
        this.stuck++;
        this.trippedAt = Date.now();
      }
      throw err;
    } finally {
      this.inFlight--;
      this.wakeAll();
    }
  }

  private refusal(): LibvirtError | undefined {
    if (this.stuck === 0) return undefined;
    const timeoutMs = connectTimeoutMs();
    const since = Date.now() - this.trippedAt;
    if (this.stuck < MAX_STUCK_OPENS && since >= timeoutMs && this.inFlight === 0) return undefined;
    const err = new LibvirtError(
      `connecting to ${redactUri(this.uri)}`,
      virErrorNumber.VIR_ERR_OPERATION_TIMEOUT,
      0,
      `an earlier connection attempt got no answer within ${timeoutMs / 1000} s and is still waiting, so no other is made ` +
        `(each would hold a thread) until it returns or ${Math.max(1, Math.ceil((timeoutMs - since) / 1000))} s have passed`,
      `${DAEMON_HINT}; LIBVIRT_PULUMI_CONNECT_TIMEOUT_MS sets the limit`,
    );
    openTimeouts.add(err);
    return err;
  }

  private wakeAll(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }
}

const gates = new Map<string, OpenGate>();

function gateFor(uri: string | null): OpenGate {
  let gate = gates.get(uri ?? "");
  if (!gate) gates.set(uri ?? "", (gate = new OpenGate(uri)));
  return gate;
}

/**
 * What to do about a failed open, by libvirt's code: authentication failures say
 * which input to fix (the password itself is never part of a message).
 */
function openHint(code: number, auth: Credentials | undefined): string | undefined {
  if (
    code !== virErrorNumber.VIR_ERR_AUTH_FAILED &&
    code !== virErrorNumber.VIR_ERR_AUTH_CANCELLED &&
    code !== virErrorNumber.VIR_ERR_AUTH_UNAVAILABLE
  )
    return undefined;
  return auth
    ? `the hypervisor refused the credentials in auth: check auth.username and auth.password against the user on the hypervisor host; for SASL, sasldblistusers2 lists the users and saslpasswd2 -a libvirt sets a password`
    : "this URI requires credentials: set auth ({ username, password }, with the password as a Pulumi secret) on the resource";
}

async function openConnection(opts: ConnectOptions): Promise<Connection> {
  const uri = opts.uri ?? process.env.LIBVIRT_DEFAULT_URI ?? null;
  if (uriHasPassword(uri)) {
    // Inputs are refused at check; this catches LIBVIRT_DEFAULT_URI, whose value would be saved as the resource's uri.
    throw new LibvirtError(
      `connecting to ${redactUri(uri)}`,
      virErrorNumber.VIR_ERR_INVALID_ARG,
      0,
      `the URI${opts.uri ? "" : " (from LIBVIRT_DEFAULT_URI)"} embeds a password, which would be stored in plain text in the state`,
      "remove it from the URI and give the credentials in auth ({ username, password }) as a Pulumi secret",
    );
  }
  // Loads libvirt here first: that installs the process-wide quiet error handler, without
  // which an opener thread's failures (a stuck open ending late, say) are printed to stderr.
  native();
  return gateFor(uri).run((onLateReturn) => openThrough(uri, opts.auth, onLateReturn));
}

async function openThrough(uri: string | null, auth: Credentials | undefined, onLateReturn: () => void): Promise<Connection> {
  const timeoutMs = connectTimeoutMs();
  const deadline = Date.now() + timeoutMs;
  if (!auth && isLocal(uri)) {
    const conn = await openQuickly(uri, timeoutMs, onLateReturn);
    if (conn) return conn;
  }
  // The repeat after a quick failure gets what is left of the same time limit. (Messages name
  // the URI as given: the one opened may carry an added no_tty=1, see withoutTerminalPrompts.)
  const opened = withoutTerminalPrompts(uri);
  const reply = await opener.open({ uri: opened, auth }, Math.max(1000, deadline - Date.now()), timeoutMs, onLateReturn, uri);
  if ("fatal" in reply) throw new Error(`connecting to ${redactUri(uri)}: ${redactUri(reply.fatal)}`);
  if ("error" in reply) {
    const err = toLibvirtError(`connecting to ${redactUri(uri)}`, reply.error);
    // SSH first: libssh2's refused key comes as VIR_ERR_AUTH_FAILED, which is no matter of `auth`.
    const hint = sshHint(uri, err.libvirtMessage) ?? openHint(err.code, auth);
    if (hint) throw new LibvirtError(err.operation, err.code, err.domain, err.libvirtMessage, hint);
    throw isConnectionLost(err) || reply.error.code === virErrorNumber.VIR_ERR_SYSTEM_ERROR
      ? new LibvirtError(err.operation, err.code, err.domain, err.libvirtMessage, DAEMON_HINT)
      : err;
  }
  // libvirt reports the URI it was given: the one with the added no_tty=1 is reported (and saved) as the user wrote it.
  return new Connection(native().connectionFromAddress(reply.address), opened !== uri && reply.uri === opened ? uri! : reply.uri);
}

class HypervisorPool {
  private idle: Connection[] = [];
  private open = 0;
  private waiters: Array<() => void> = [];
  constructor(private readonly opts: ConnectOptions) {}

  async acquire(): Promise<Connection> {
    for (;;) {
      const conn = this.idle.pop();
      if (conn) {
        // virConnectIsAlive is local: it reports what the client already knows about the socket.
        if (native().sync.virConnectIsAlive(conn.ptr) === 1) return conn;
        this.discard(conn);
        continue;
      }
      if (this.open < maxConnectionsPerHypervisor()) {
        this.open++;
        try {
          return await openConnection(this.opts);
        } catch (err) {
          this.open--;
          this.wakeOne();
          throw err;
        }
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  release(conn: Connection): void {
    conn.changeSent = false;
    conn.hooks = undefined;
    if (conn.dead) this.discard(conn);
    else this.idle.push(conn);
    this.wakeOne();
  }

  private discard(conn: Connection): void {
    this.open--;
    void native()
      .async.virConnectClose(conn.ptr)
      .catch(() => undefined);
  }

  private wakeOne(): void {
    this.waiters.shift()?.();
  }

  async closeAll(): Promise<void> {
    const conns = this.idle.splice(0);
    await Promise.all(
      conns.map((c) => {
        this.open--;
        return native()
          .async.virConnectClose(c.ptr)
          .catch(() => undefined);
      }),
    );
  }
}

const pools = new Map<string, HypervisorPool>();

/** Keys the pool map; never printed, and keyed with a per-process secret so it cannot be matched against guessed passwords. */
const POOL_KEY_SECRET = randomBytes(32);

function poolKey(opts: ConnectOptions): string {
  const uri = opts.uri ?? process.env.LIBVIRT_DEFAULT_URI ?? "";
  if (!opts.auth) return uri;
  // Distinct credentials get distinct connections: a connection authenticated as
  // one user is never lent to an operation that gave another user or password.
  const id = createHmac("sha256", POOL_KEY_SECRET).update(`${opts.auth.username}\0${opts.auth.password}`).digest("hex");
  return `${uri}#${id}`;
}

/**
 * Runs `fn` with a connection leased exclusively for its duration. If the
 * connection is lost (the daemon restarted since it was pooled) while only
 * read-only calls were sent on it, nothing was changed: reconnect once and run
 * `fn` again. Once a changing call was sent (a define, a create, ...) it never
 * runs again: the error goes to the caller, which records a create whose outcome
 * is unknown as partly created (incomplete-create.ts).
 */
export async function withConnection<T>(opts: ConnectOptions, fn: (conn: Connection) => Promise<T>): Promise<T> {
  const key = poolKey(opts);
  let pool = pools.get(key);
  if (!pool) pools.set(key, (pool = new HypervisorPool({ uri: opts.uri, auth: opts.auth })));
  for (let attempt = 0; ; attempt++) {
    const conn = await pool.acquire();
    conn.hooks = opts.hooks;
    try {
      return await fn(conn);
    } catch (err) {
      if (attempt === 0 && conn.dead && !conn.changeSent) continue;
      throw err;
    } finally {
      pool.release(conn);
    }
  }
}

/** Closes every idle pooled connection (tests and benchmarks). */
export async function closeAllConnections(): Promise<void> {
  await Promise.all([...pools.values()].map((p) => p.closeAll()));
  pools.clear();
}
