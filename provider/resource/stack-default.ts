// The stack's default hypervisor (`pulumi config set libvirt-pulumi:uri ...`):
// the SDK reads it in the program and sends it beside the inputs as
// `__stackUri` whenever a resource gives no `uri` of its own. Precedence: the
// resource's `uri` > the stack default > LIBVIRT_DEFAULT_URI > libvirt's default.
//
// A resource takes the stack default when it is created, and the resolved URI
// is then its own recorded input: a later change of the stack default never
// re-points it (that would be a replacement on another hypervisor, or worse, a
// delete sent to the wrong one). It is said instead, once per check.
import { redactUri } from "../libvirt/uri";

export const STACK_URI_KEY = "__stackUri";

/** Whether `olds` are the recorded inputs of a resource that exists (Pulumi passes {} before a create). */
function exists(olds: object | undefined): olds is Record<string, unknown> {
  return olds !== undefined && Object.keys(olds).some((k) => !k.startsWith("__"));
}

/**
 * `news` with `uri` resolved from the stack default where the resource gives
 * none: at creation the default itself; afterwards the URI recorded then (or,
 * for a resource created without any, nothing: the saved `uri` output stands).
 */
export function withStackDefaultUri(what: string, news: Record<string, unknown>, olds: object | undefined): Record<string, unknown> {
  const stackUri = news[STACK_URI_KEY];
  if (typeof stackUri !== "string" || stackUri === "" || (news.uri !== undefined && news.uri !== null)) return news;
  if (!exists(olds)) return { ...news, uri: stackUri };
  const kept = typeof olds.uri === "string" ? olds.uri : undefined;
  if (kept !== stackUri) {
    const name = typeof news.name === "string" ? ` "${news.name}"` : "";
    console.error(
      `${what}${name} stays on ${kept !== undefined ? `hypervisor ${redactUri(kept)}` : "the hypervisor it was created on"}: the stack default ` +
        `libvirt-pulumi:uri is now ${redactUri(stackUri)}, and a changed default never moves an existing resource. ` +
        `To move it, set its uri to the new hypervisor (that replaces it there); to keep it, nothing needs doing`,
    );
  }
  return kept !== undefined ? { ...news, uri: kept } : news;
}
