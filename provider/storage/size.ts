// Volume sizes: a number of bytes, or a readable string ("10GiB", "512 MiB",
// "1.5G", "20GB"). Binary units (K, M, G, T, with or without "iB") are powers
// of 1024; decimal units (KB, MB, GB, TB) powers of 1000, as qemu-img and
// libvirt read them.
const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kib: 1024,
  kb: 1000,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  tb: 1000 ** 4,
};

export const SIZE_HINT = 'a whole number of bytes or a size such as "10GiB", "512MiB" or "20GB"';

/** Bytes for a size string, or undefined when it is not one. Fractions must come out whole. */
export function parseSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!m) return undefined;
  const unit = UNITS[m[2].toLowerCase()];
  if (unit === undefined) return undefined;
  const bytes = Number(m[1]) * unit;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** "1.5 GiB", "512 MiB", "100 B": for messages. */
export function formatSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let n = bytes;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${Number.isInteger(n) ? n : n.toFixed(1)} ${units[i]}`;
}
