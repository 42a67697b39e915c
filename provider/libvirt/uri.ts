// URIs can carry credentials (qemu+tcp://user:secret@host/system, or a
// ?password=... parameter). Such URIs are refused before they are used or
// stored (the `auth` input carries credentials instead), and anything we print
// goes through redactUri first, so that a password in a URI that reaches an
// error message anyway (LIBVIRT_DEFAULT_URI, libvirt's own text) is not repeated.

/** user:password@ in a URI's authority, anywhere in a text. */
const USERINFO_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^/@:\s?#]*):[^/@\s?#]*@/gi;
/**
 * Query parameters that would carry a password. libvirt's drivers honour none we
 * know of (credentials go through the auth callback or auth.conf), but a URI that
 * names one almost certainly holds a secret in clear.
 */
const PASSWORD_PARAM = /([?&;](?:password|passwd|pass|pwd)=)[^&;#\s]*/gi;

/** Replaces passwords in URIs (userinfo and password parameters) with "***", anywhere in `text`. */
export function redactUri(text: string | null | undefined): string {
  if (!text) return "libvirt's default URI";
  return text.replace(USERINFO_PASSWORD, "$1:***@").replace(PASSWORD_PARAM, "$1***");
}

/** True when the URI embeds a password (user:password@host, or a password query parameter). */
export function uriHasPassword(uri: string | null | undefined): boolean {
  if (!uri) return false;
  return [USERINFO_PASSWORD, PASSWORD_PARAM].some((re) => new RegExp(re.source, "i").test(uri));
}
