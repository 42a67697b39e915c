// Errors a provider raises on purpose — a teardown refusal, inputs that fail
// their check — are answers for the user, not crashes: their message says it
// all, they carry no stack trace, and `pulumi` prints them once, on the resource.
//
// Pulumi's dynamic-provider host (@pulumi/pulumi cmd/dynamic-provider) writes
// `${err}: ${err.stack}` to its stderr for a failed check, diff, read or delete
// before it returns the error over gRPC; the engine shows that stderr under
// pulumi:pulumi:Stack, so each refusal was printed again there, both in the
// progress and in the Diagnostics section. For a DeliberateError leaving a
// provider, quietHostEcho() drops exactly that one line (same text, within a
// moment): the error itself still reaches the engine, which reports it on the
// resource. Anything else — an unexpected error with its stack, progress lines —
// is printed as before, and a host that words its echo differently just
// prints it (a repeat, never a loss).

/** An error raised on purpose; its stack is its message alone (no trace). */
export class DeliberateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
    this.stack = `${this.name}: ${message}`;
  }
}

/** The kit's inputs that fail their check at create or update (see resource/provider.ts). */
export class InvalidInputsError extends DeliberateError {}

/** The host's stderr echoes still to drop: text -> how many times. */
const pending = new Map<string, number>();
let installed = false;

/** How long an echo is waited for: the host writes it as soon as the provider's promise rejects. */
const ECHO_WINDOW_MS = 1000;

/** Takes one expected echo of text; false when none is expected. */
function take(text: string): boolean {
  const n = pending.get(text);
  if (!n) return false;
  if (n === 1) pending.delete(text);
  else pending.set(text, n - 1);
  return true;
}

function installFilter(): void {
  if (installed) return;
  installed = true;
  const original = console.error.bind(console);
  console.error = (...args: unknown[]) => {
    if (args.length === 1 && typeof args[0] === "string" && take(args[0])) return;
    original(...args);
  };
}

/** For a DeliberateError: the host's `${err}: ${err.stack}` line on stderr is dropped once. Returns err. */
export function quietHostEcho(err: unknown): unknown {
  if (!(err instanceof DeliberateError)) return err;
  installFilter();
  const echo = `${err}: ${err.stack}`;
  pending.set(echo, (pending.get(echo) ?? 0) + 1);
  setTimeout(() => take(echo), ECHO_WINDOW_MS).unref();
  return err;
}
