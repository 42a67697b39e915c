// Where a process's resident memory is, from /proc/self/smaps: by kind of mapping.
// glibc's non-main malloc arenas are anonymous mappings starting on a 64 MiB
// boundary (HEAP_MAX_SIZE); a thread's stack is an anonymous read-write mapping
// right after its guard page (---p); file mappings are grouped by file. The rest
// of the anonymous memory is mostly V8's heap (process.memoryUsage() says how
// much), large malloc chunks (mmap'd) and koffi's call buffers.
import { readFileSync } from "node:fs";
import { basename } from "node:path";

const ARENA_ALIGN = 64n * 2n ** 20n;

export function smapsBreakdown() {
  const text = readFileSync("/proc/self/smaps", "utf8");
  const maps = [];
  let cur = null;
  for (const line of text.split("\n")) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      cur = { start: BigInt(`0x${head[1]}`), end: BigInt(`0x${head[2]}`), perms: head[3], path: head[4], rssKiB: 0 };
      maps.push(cur);
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && cur) cur.rssKiB = Number(rss[1]);
  }
  const kinds = { arenas: 0, mainHeap: 0, threadStacks: 0, mainStack: 0, otherAnon: 0, files: 0 };
  const counts = { arenas: 0, threadStacks: 0 };
  const byFile = {};
  const anonBySize = {}; // the other anonymous mappings by size: what they are is told by their sizes
  const bucket = (bytes) => {
    const k = Number(bytes) / 1024;
    return k <= 4096 ? `<=${2 ** Math.ceil(Math.log2(Math.max(k, 4)))}K` : `${Math.round(k / 1024)}M`;
  };
  for (let i = 0; i < maps.length; i++) {
    const m = maps[i];
    const prev = maps[i - 1];
    if (m.path === "[heap]") kinds.mainHeap += m.rssKiB;
    else if (m.path === "[stack]") kinds.mainStack += m.rssKiB;
    else if (m.path.startsWith("/")) {
      kinds.files += m.rssKiB;
      const f = basename(m.path);
      byFile[f] = (byFile[f] ?? 0) + m.rssKiB;
    } else if (m.path === "" && m.perms === "rw-p" && m.start % ARENA_ALIGN === 0n && m.end - m.start <= ARENA_ALIGN) {
      kinds.arenas += m.rssKiB;
      counts.arenas++;
    } else if (m.path === "" && m.perms === "rw-p" && prev && prev.perms === "---p" && prev.end === m.start && prev.end - prev.start <= 65536n) {
      kinds.threadStacks += m.rssKiB;
      counts.threadStacks++;
    } else if (m.path === "" || m.path.startsWith("[anon")) {
      kinds.otherAnon += m.rssKiB;
      if (m.rssKiB > 0) {
        const b = (anonBySize[bucket(m.end - m.start)] ??= { count: 0, rssKiB: 0 });
        b.count++;
        b.rssKiB += m.rssKiB;
      }
    } else kinds.files += m.rssKiB;
  }
  const mib = (k) => Math.round((k / 1024) * 10) / 10;
  const topFiles = Object.entries(byFile)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([f, k]) => [f, mib(k)]);
  return {
    ...Object.fromEntries(Object.entries(kinds).map(([k, v]) => [`${k}MiB`, mib(v)])),
    ...counts,
    topFilesMiB: Object.fromEntries(topFiles),
    otherAnonBySize: Object.fromEntries(
      Object.entries(anonBySize)
        .filter(([, b]) => b.rssKiB >= 256)
        .map(([k, b]) => [k, `${b.count} maps, ${mib(b.rssKiB)} MiB`]),
    ),
  };
}
