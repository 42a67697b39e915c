// libvirt runs one job at a time per domain. A call that needs the domain's
// job while another call holds it waits inside libvirt (30 s on QEMU), then
// fails with VIR_ERR_OPERATION_TIMEOUT: "Timed out during operation: cannot
// acquire state change lock (held by monitor=remoteDispatchDomainSnapshotCreateXML)".
// Nothing was done when that happens, so the call can simply be made again.
// Pulumi runs independent resources at the same time (8 snapshots of one
// domain, say): this helper retries such calls, with backoff, for a bounded time.
import { setTimeout as wait } from "node:timers/promises";
import { isJobBusy, LibvirtError } from "./errors";

/** Total time (ms) to keep retrying a call while the domain's job lock is held. */
export const JOB_WAIT_ENV = "LIBVIRT_PULUMI_JOB_WAIT_TIMEOUT_MS";
export const DEFAULT_JOB_WAIT_MS = 5 * 60_000;

export function jobWaitLimitMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[JOB_WAIT_ENV]?.trim();
  if (!raw) return DEFAULT_JOB_WAIT_MS;
  const v = Number(raw);
  return Number.isFinite(v) && v >= 0 ? v : DEFAULT_JOB_WAIT_MS;
}

export interface JobWaitOptions {
  /** Overrides LIBVIRT_PULUMI_JOB_WAIT_TIMEOUT_MS. */
  limitMs?: number;
  /** First pause between attempts; doubles up to maxDelayMs. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** For tests: the clock and the sleep. */
  now?: () => number;
  /** Which failures mean "busy, try again" (default: the domain job lock, isJobBusy). */
  isBusy?: (err: unknown) => boolean;
  sleep?: (ms: number) => Promise<void>;
}

/** Raised when the domain stayed busy longer than the limit; `cause` is libvirt's last answer. */
export class JobBusyTimeoutError extends Error {
  constructor(
    readonly what: string,
    readonly attempts: number,
    readonly waitedMs: number,
    readonly last: LibvirtError,
  ) {
    super(
      `${what}: the domain stayed busy with another libvirt job for ${Math.round(waitedMs / 1000)} s ` +
        `(${attempts} attempts; libvirt: ${last.libvirtMessage}). Retry when the other operation has finished, ` +
        `or raise the limit with ${JOB_WAIT_ENV} (milliseconds, now ${jobWaitLimitMs()})`,
    );
    this.name = "JobBusyTimeoutError";
  }
}

/**
 * Runs `op`; while it fails because the domain's job lock is held (decided on
 * libvirt's error code, VIR_ERR_OPERATION_TIMEOUT), waits and runs it again,
 * until the limit is spent. Any other failure is thrown at once.
 */
export async function whileJobBusy<T>(what: string, op: () => Promise<T>, opts: JobWaitOptions = {}): Promise<T> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? wait;
  const limit = opts.limitMs ?? jobWaitLimitMs();
  const maxDelay = opts.maxDelayMs ?? 5_000;
  let delay = opts.initialDelayMs ?? 200;
  const start = now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      if (!(opts.isBusy ?? isJobBusy)(err)) throw err;
      const waited = now() - start;
      if (waited + delay > limit) throw new JobBusyTimeoutError(what, attempt, waited, err as LibvirtError);
      // Jitter spreads the retries of several waiting resources apart.
      await sleep(delay * (0.75 + Math.random() * 0.5));
      delay = Math.min(delay * 2, maxDelay);
    }
  }
}
