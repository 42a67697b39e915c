// IP addresses and CIDR blocks for the Network resource: parsed strictly (a
// failure says what is wrong), held as bigints so that subnet membership is one
// comparison, and written in one canonical spelling (IPv4 dotted decimal, IPv6
// as RFC 5952 compresses it) so that what libvirt reports back compares equal
// to what was given.
import { isIPv6 } from "node:net";

export type Family = 4 | 6;

export interface Ip {
  family: Family;
  value: bigint;
  /** The canonical spelling. */
  text: string;
}

export interface Cidr extends Ip {
  prefix: number;
  /** The first and last address of the subnet. */
  first: bigint;
  last: bigint;
  /** `text/prefix`, canonical. */
  cidr: string;
}

const BITS: Record<Family, number> = { 4: 32, 6: 128 };

function parseV4(s: string): Ip | string {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return `"${s}" is not an IPv4 address (four decimal numbers 0-255, such as 192.168.150.1)`;
  const octets = m.slice(1).map((o) => {
    if (o.length > 1 && o.startsWith("0")) return NaN;
    return Number(o);
  });
  if (octets.some((o) => Number.isNaN(o)))
    return `"${s}" has a leading zero in a number, which some tools read as octal; write it without (such as 10.0.0.1)`;
  if (octets.some((o) => o > 255)) return `"${s}" has a number above 255`;
  const value = octets.reduce((acc, o) => (acc << 8n) | BigInt(o), 0n);
  return { family: 4, value, text: octets.join(".") };
}

function parseV6(s: string): Ip | string {
  if (s.includes("%")) return `"${s}" has a zone index (%...), which a network address cannot have`;
  if (!isIPv6(s)) return `"${s}" is not an IPv6 address (such as fd00:150::1)`;
  let text = s;
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    const v4 = parseV4(dotted[2]);
    if (typeof v4 === "string") return v4;
    const tail = [Number(v4.value >> 16n), Number(v4.value & 0xffffn)];
    text = dotted[1] + tail.map((t) => t.toString(16)).join(":");
  }
  const [head, rest] = text.includes("::") ? text.split("::") : [text, undefined];
  const hextets = (part: string) => (part === "" ? [] : part.split(":").map((h) => parseInt(h, 16)));
  const left = hextets(head);
  const right = rest === undefined ? [] : hextets(rest);
  const groups = rest === undefined ? left : [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
  if (groups.length !== 8 || groups.some((g) => Number.isNaN(g) || g > 0xffff)) return `"${s}" is not an IPv6 address (such as fd00:150::1)`;
  const value = groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
  return { family: 6, value, text: formatV6(value) };
}

/** RFC 5952: lower case, no leading zeros, the longest run of two or more zero groups as "::". */
function formatV6(value: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(16 * (7 - i))) & 0xffffn));
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.len && j - i >= 2) best = { at: i, len: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.at < 0) return hex.join(":");
  return `${hex.slice(0, best.at).join(":")}::${hex.slice(best.at + best.len).join(":")}`;
}

/** The canonical spelling of an address given as a number. */
export const formatIp = (family: Family, value: bigint): string =>
  family === 6 ? formatV6(value) : [24n, 16n, 8n, 0n].map((s) => (value >> s) & 255n).join(".");

/** An IPv4 or IPv6 address, or why it is not one. */
export function parseIp(s: string): Ip | string {
  return s.includes(":") ? parseV6(s) : parseV4(s);
}

/** "address/prefix", or why it is not one. */
export function parseCidr(s: string): Cidr | string {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m) return `"${s}" is not in CIDR form: an address, "/", a prefix length (such as 192.168.150.1/24 or fd00:150::1/64)`;
  const ip = parseIp(m[1]);
  if (typeof ip === "string") return ip;
  const prefix = Number(m[2]);
  const bits = BITS[ip.family];
  if (prefix < 1 || prefix > bits) return `"${s}" has prefix length ${prefix}; an IPv${ip.family} prefix is 1 to ${bits}`;
  const hostBits = BigInt(bits - prefix);
  const first = (ip.value >> hostBits) << hostBits;
  const last = first + (1n << hostBits) - 1n;
  return { ...ip, prefix, first, last, cidr: `${ip.text}/${prefix}` };
}

export const inSubnet = (ip: Ip, net: Cidr): boolean => ip.family === net.family && ip.value >= net.first && ip.value <= net.last;

/** The IPv4 netmask libvirt may write instead of a prefix ("255.255.255.0" → 24), or undefined when it is not one. */
export function netmaskPrefix(mask: string): number | undefined {
  const ip = parseV4(mask);
  if (typeof ip === "string") return undefined;
  const bits = ip.value.toString(2).padStart(32, "0");
  return /^1*0*$/.test(bits) ? (bits.indexOf("0") === -1 ? 32 : bits.indexOf("0")) : undefined;
}
