// The last line of defence for URI passwords: whatever error leaves a resource
// provider (libvirt's text, our own messages, a partly created resource's reasons)
// has every URI password replaced by "***" (see libvirt/uri.ts). Inputs carrying one
// are refused at check; this covers texts that reach a message any other way.
// An error raised on purpose also leaves without the host's echo of it on stderr
// (deliberate.ts), so that `pulumi` prints it once, on the resource.
import type * as pulumi from "@pulumi/pulumi";
import { quietHostEcho } from "./deliberate";
import { redactUri } from "./libvirt/uri";

/** redactUri for any text (an empty one stays empty). */
const clean = (text: string): string => (text ? redactUri(text) : text);

function redacted(err: unknown): unknown {
  if (!(err instanceof Error)) return typeof err === "string" ? clean(err) : err;
  err.message = clean(err.message);
  if (err.stack) err.stack = clean(err.stack);
  const withReasons: Error & { reasons?: unknown } = err;
  if (Array.isArray(withReasons.reasons)) withReasons.reasons = withReasons.reasons.map((r) => (typeof r === "string" ? clean(r) : r));
  return err;
}

/** The same provider, each method's errors redacted (and a deliberate one not echoed by the host). */
export function redactingErrors<P extends pulumi.dynamic.ResourceProvider>(provider: P): P {
  const wrapped: Record<string, unknown> = { ...(provider as object) };
  for (const [key, method] of Object.entries(provider)) {
    if (typeof method !== "function") continue;
    wrapped[key] = async (...args: unknown[]) => {
      try {
        return await (method as (...a: unknown[]) => Promise<unknown>).apply(provider, args);
      } catch (err) {
        throw quietHostEcho(redacted(err));
      }
    };
  }
  return wrapped as P;
}
