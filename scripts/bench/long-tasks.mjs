#!/usr/bin/env node
// node scripts/bench/long-tasks.mjs <file.cpuprofile> [--min-ms 8] [--top 8]
//
// The main thread's longest busy stretches in a V8 CPU profile (node --cpu-prof):
// runs of consecutive samples that are not "(idle)", i.e. the time the event loop
// could not turn. For each, where the time went: self time by function (with the
// file it is in), and how much was garbage collection. Used by `npm run bench --
// --cpu-prof` to explain the event-loop delay (item 3).
import { readFileSync } from "node:fs";
import { basename } from "node:path";

export function longTasks(profile, { minMs = 8, top = 8 } = {}) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (n) => {
    const f = n.callFrame;
    const where = f.url ? `${basename(f.url)}:${f.lineNumber + 1}` : "";
    return `${f.functionName || "(anonymous)"}${where ? ` ${where}` : ""}`;
  };
  /** The innermost frame of a sample that is in a package or the provider (not node internals). */
  const owner = (id) => {
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const url = byId.get(cur).callFrame.url ?? "";
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url) ?? /(dist\/provider\/[^:]+)/.exec(url) ?? /(scripts\/bench\/[^:]+)/.exec(url);
      if (m) return m[1];
    }
    return "(node internals / native)";
  };
  let t = profile.startTime;
  const times = profile.timeDeltas.map((d) => (t += d));
  const stretches = [];
  let cur = null;
  profile.samples.forEach((id, i) => {
    const name = byId.get(id).callFrame.functionName;
    const idle = name === "(idle)";
    if (idle) {
      if (cur) stretches.push(cur);
      cur = null;
      return;
    }
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    cur ??= { startMs: (times[i] - profile.startTime) / 1000, ms: 0, self: new Map(), owners: new Map(), gcMs: 0 };
    cur.ms += dt;
    const n = byId.get(id);
    cur.self.set(label(n), (cur.self.get(label(n)) ?? 0) + dt);
    const o = owner(id);
    cur.owners.set(o, (cur.owners.get(o) ?? 0) + dt);
    if (name === "(garbage collector)") cur.gcMs += dt;
  });
  if (cur) stretches.push(cur);
  const sorted = stretches
    .filter((s) => s.ms >= minMs)
    .sort((a, b) => b.ms - a.ms)
    .slice(0, top);
  const fmt = (m) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6)
      .map(([k, v]) => ({ what: k, ms: Number(v.toFixed(1)) }));
  return {
    durationMs: (profile.endTime - profile.startTime) / 1000,
    busyMs: stretches.reduce((a, s) => a + s.ms, 0),
    stretchesOver: { minMs, count: stretches.filter((s) => s.ms >= minMs).length },
    longest: sorted.map((s) => ({
      atMs: Math.round(s.startMs),
      ms: Number(s.ms.toFixed(1)),
      gcMs: Number(s.gcMs.toFixed(1)),
      byPackage: fmt(s.owners),
      selfTime: fmt(s.self),
    })),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, ...rest] = process.argv.slice(2);
  const opt = (k, d) => (rest.includes(k) ? Number(rest[rest.indexOf(k) + 1]) : d);
  const r = longTasks(JSON.parse(readFileSync(file, "utf8")), { minMs: opt("--min-ms", 8), top: opt("--top", 8) });
  console.log(JSON.stringify(r, null, 2));
}
