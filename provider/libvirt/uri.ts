// URIs can carry credentials (qemu+tcp://user:secret@host/system, or a
// ?password=... parameter). Such URIs are refused before they are used or
// stored (the `auth` input carries credentials instead), and anything we print
// goes through redactUri first, so that a password in a URI that reaches an
// error message anyway (LIBVIRT_DEFAULT_URI, libvirt's own text) is not repeated.
//
// Both work on the text as written and as percent-decoded (once, twice, ...), and
// deliberately over-match: a password may hold any character ("#", "/", "?", ";",
// spaces), and libvirt's parse errors print the URI exactly as given
// ("Unable to parse URI qemu+tcp://u:pa#ss@127.0.0.1/system"). Refusing a URI that
// only looks as if it held a password costs the user a "%40" for an "@"; printing
// one would leak it.

/** `scheme://`: where a URI starts, anywhere in a text. */
const SCHEME = /[a-z][a-z0-9+.-]*:\/\//gi;
/** A parameter name that would carry a password (password, passwd, pass, pwd, passphrase, secret, token, ...). */
const PASSWORD_KEY = /pass|pwd|secret|token/i;
/** Separators that start a parameter: query, further parameters, `;` parameters, a fragment. */
const PARAM_START = /[?&;#]/g;

/** Percent-decodes until nothing changes (double encoding too); malformed escapes stay as they are. */
export function percentDecoded(text: string): string {
  let current = text;
  for (let i = 0; i < 5; i++) {
    const next = current.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    if (next === current) break;
    current = next;
  }
  return current;
}

/**
 * The userinfo of the URI starting at `start` (just after `://`): everything up to
 * the first "@" on the line, when the authority is not empty. A password may hold
 * "/", "?", "#" and spaces, so the usual end of the authority is not looked for.
 */
function userinfoAt(text: string, start: number): { end: number; userinfo: string } | undefined {
  if (text[start] === "/") return undefined; // empty authority (qemu:///system): no userinfo
  const at = text.indexOf("@", start);
  const eol = text.indexOf("\n", start);
  if (at < 0 || (eol >= 0 && eol < at)) return undefined;
  return { end: at, userinfo: text.slice(start, at) };
}

/** The user part of a userinfo that carries a password ("u" of "u:pw", "u%3Apw"), or undefined if it carries none. */
function userBeforePassword(userinfo: string): string | undefined {
  const m = /:|%3a/i.exec(userinfo);
  if (m) return userinfo.slice(0, m.index);
  // Encoded more than once ("u%253Apw"): the decoded form tells.
  const decoded = percentDecoded(userinfo);
  const i = decoded.indexOf(":");
  return i < 0 ? undefined : decoded.slice(0, i);
}

/**
 * With no "@" at all, a ":" in the authority that is not followed by a port number
 * ("u:pw%40host": the "@" was percent-encoded, so libvirt reads "pw%40host" as the
 * port and prints it in its parse error) counts as a password too. Returns where
 * that supposed password starts and ends, or undefined.
 */
function portPasswordAt(text: string, start: number): { from: number; to: number } | undefined {
  if (text[start] === "/" || userinfoAt(text, start)) return undefined;
  const end = text.slice(start).search(/[/?#\s]|$/);
  const authority = text.slice(start, start + end);
  const host = /^\[[^\]]*\]/.exec(authority)?.[0].length ?? 0; // [IPv6]
  const colon = authority.indexOf(":", host);
  if (colon < 0 || /^\d*$/.test(authority.slice(colon + 1))) return undefined;
  return { from: start + colon + 1, to: start + end };
}

/** Whether a parameter ("password=x", "pass%77ord=x", "password%3Dx") names a password. */
function passwordParam(param: string): boolean {
  const decoded = percentDecoded(param);
  const eq = decoded.indexOf("=");
  return eq >= 0 && PASSWORD_KEY.test(decoded.slice(0, eq));
}

function startsOf(text: string, re: RegExp): number[] {
  return [...text.matchAll(new RegExp(re.source, re.flags))].map((m) => m.index! + m[0].length);
}

/** True when the URI embeds a password: in the userinfo (user:password@host) or as a password-like parameter, encoded or not. */
export function uriHasPassword(uri: string | null | undefined): boolean {
  if (!uri) return false;
  // The userinfo ends at the first "@" as written (an encoded %40 is no delimiter);
  // userBeforePassword decodes the userinfo itself.
  for (const start of startsOf(uri, SCHEME)) {
    const u = userinfoAt(uri, start);
    if (u && userBeforePassword(u.userinfo) !== undefined) return true;
    if (portPasswordAt(uri, start)) return true;
  }
  for (const form of new Set([uri, percentDecoded(uri)])) {
    for (const start of startsOf(form, PARAM_START)) {
      if (passwordParam(form.slice(start).split(/[?&;#\s]/, 1)[0] ?? "")) return true;
    }
  }
  return false;
}

/** Replaces passwords in URIs (userinfo and password-like parameters, encoded or not) with "***", anywhere in `text`. */
export function redactUri(text: string | null | undefined): string {
  if (!text) return "libvirt's default URI";
  const out = redactParams(redactPortPasswords(redactUserinfo(text)));
  // Spellings only the decoded form shows (a parameter name or "=" that is encoded,
  // say): then the decoded text, redacted, replaces the original. (Userinfo is
  // judged as written: redactUserinfo decodes the userinfo itself.) (Redacting is
  // idempotent, so a text already clean decodes and redacts to itself.)
  const decoded = percentDecoded(out);
  const decodedRedacted = redactParams(decoded);
  return decodedRedacted === decoded ? out : decodedRedacted;
}

function redactUserinfo(text: string): string {
  let out = "";
  let pos = 0;
  for (const start of startsOf(text, SCHEME)) {
    if (start < pos) continue;
    const u = userinfoAt(text, start);
    const user = u && userBeforePassword(u.userinfo);
    if (!u || user === undefined) continue;
    out += `${text.slice(pos, start)}${/:|%3a/i.test(u.userinfo) ? user : percentDecoded(user)}:***`;
    pos = u.end; // keeps the "@"
  }
  return out + text.slice(pos);
}

function redactPortPasswords(text: string): string {
  let out = "";
  let pos = 0;
  for (const start of startsOf(text, SCHEME)) {
    if (start < pos) continue;
    const p = portPasswordAt(text, start);
    if (!p) continue;
    out += `${text.slice(pos, p.from)}***`;
    pos = p.to;
  }
  return out + text.slice(pos);
}

/** A password-like parameter's value runs to the next "&" or ";" or the end of the line: it may hold "#", "?" and spaces. */
function redactParams(text: string): string {
  let out = "";
  let pos = 0;
  for (const start of startsOf(text, PARAM_START)) {
    if (start < pos) continue;
    const param = text.slice(start).split(/[?&;#\s]/, 1)[0] ?? "";
    if (!passwordParam(param)) continue;
    const eq = param.indexOf("=");
    const key = eq >= 0 ? param.slice(0, eq) : percentDecoded(param).split("=", 1)[0];
    const rest = text.slice(start);
    const valueEnd = rest.search(/[&;\n]/);
    out += `${text.slice(pos, start)}${key}=***`;
    pos = valueEnd < 0 ? text.length : start + valueEnd;
  }
  return out + text.slice(pos);
}
