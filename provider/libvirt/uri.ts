// URIs can carry credentials (qemu+tcp://user:secret@host/system). Anything we
// print or store goes through redactUri first.

/** Replaces the password part of a URI's userinfo with "***". */
export function redactUri(uri: string | null | undefined): string {
  if (!uri) return "libvirt's default URI";
  return uri.replace(/^([a-z0-9+.-]+:\/\/[^/@:]*):[^/@]*@/i, "$1:***@");
}

/** True when the URI embeds a password (user:password@host). */
export function uriHasPassword(uri: string | null | undefined): boolean {
  return !!uri && /^[a-z0-9+.-]+:\/\/[^/@:]*:[^/@]*@/i.test(uri);
}
