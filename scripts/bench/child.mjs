// The measuring half of one benchmark process, imported by child.cjs (which loads
// the provider first; see there). Writes its result to argv[3].
//   mode "ab":     provider and floor runs, in the order given, in this one process
//                  (items 1-3), each with its wall time, libvirt call counts and
//                  event-loop delay; a run with `hosts` ([{ uri, pool, n }]) spreads
//                  its domains over those hypervisors (item 7, two hypervisors);
//   mode "memory": one fresh process per measurement (item 4): @pulumi/pulumi loaded,
//                  then nothing ("idle") or N lifecycles; reports VmHWM;
//   mode "graceful": stopping real guests, gracefully and not (item 6, graceful.mjs).
import { readFileSync, writeFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { getHeapSpaceStatistics } from "node:v8";
import { sweep } from "./lib.mjs";
import { smapsBreakdown } from "./smaps.mjs";
import { gracefulMode } from "./graceful.mjs";
import { floorSide, instrument, loadBuild, providerSide, specs } from "./workload.mjs";

const outFile = process.argv[3];
const { plan, stages } = globalThis.__lvpBench;
const spawnStats = globalThis.__lvpSpawnStats ?? { count: 0, ms: 0 };
const threads = () => Number(/^Threads:\s+(\d+)/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1]);

function procStatus() {
  const s = readFileSync("/proc/self/status", "utf8");
  const kib = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(s)?.[1] ?? NaN);
  return { hwmMiB: kib("VmHWM") / 1024, rssMiB: kib("VmRSS") / 1024 };
}

const pause = (ms) => new Promise((r) => setTimeout(r, ms));

async function abMode() {
  const b = loadBuild(plan.pkg);
  const counter = instrument(b);
  const sides = { provider: providerSide(b, plan.parallel), floor: floorSide(b, plan.parallel) };
  const results = [];
  for (const run of plan.runs) {
    const prefix = `${plan.prefix}${run.tag}-`;
    const hosts = run.hosts ?? [{ uri: plan.uri, pool: plan.pool, n: run.n }];
    // Per host its own names (h0-, h1-, ...), all run at once as one stack's work.
    const items = hosts.flatMap((h, i) => specs(run.hosts ? `${prefix}h${i}-` : prefix, h.n, h.pool, h.uri));
    await b.connection.closeAllConnections(); // each run opens its connections, as a fresh provider process does
    await pause(plan.settleMs ?? 500);
    counter.reset();
    const spawns0 = { ...spawnStats };
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const cpu0 = process.cpuUsage();
    const r = await sides[run.side](items);
    const cpu = process.cpuUsage(cpu0);
    loop.disable();
    const calls = counter.snapshot();
    calls.spawns = spawnStats.count - spawns0.count;
    calls.spawnMs = Math.round(spawnStats.ms - spawns0.ms);
    calls.threads = threads();
    const result = {
      ...run,
      upMs: r.upMs,
      destroyMs: r.destroyMs,
      totalMs: r.totalMs,
      perDomainMs: r.totalMs / run.n,
      errors: r.errors.slice(0, 5),
      errorCount: r.errors.length,
      ops: r.ops,
      loopDelay: { maxMs: loop.max / 1e6, p99Ms: loop.percentile(99) / 1e6, meanMs: loop.mean / 1e6 },
      cpuMs: (cpu.user + cpu.system) / 1000, // this process's CPU (main thread, libuv and libvirt threads)
      ...calls,
    };
    if (r.errors.length) result.swept = hosts.map((h) => sweep(h.uri, prefix));
    results.push(result);
    process.stderr.write(
      `[bench]   ${(run.layout ?? run.side).padEnd(8)} N=${String(run.n).padStart(2)} ${run.warmup ? "warm-up " : `round ${run.round}`}: ${(r.totalMs / 1000).toFixed(2)} s ` +
        `(up ${(r.upMs / 1000).toFixed(2)} s, destroy ${(r.destroyMs / 1000).toFixed(2)} s), ${calls.libvirtCalls} libvirt calls, ` +
        `loop max ${(loop.max / 1e6).toFixed(1)} ms${r.errors.length ? `, ${r.errors.length} ERRORS: ${r.errors[0]}` : ""}\n`,
    );
    writeFileSync(outFile, JSON.stringify({ results }, null, 1)); // partial results survive a crash
  }
  await b.connection.closeAllConnections();
  return { results, threadpool: Number(process.env.UV_THREADPOOL_SIZE) || 4, threads: threads() };
}

/** V8's heap by space: committed (physical) and used, MiB. */
function heapSpaces() {
  const r = (b) => Math.round((b / 2 ** 20) * 10) / 10;
  return Object.fromEntries(
    getHeapSpaceStatistics().map((sp) => [sp.space_name, { physical: r(sp.physical_space_size), used: r(sp.space_used_size) }]),
  );
}

async function memoryMode() {
  // RSS after each stage (VmRSS now; VmHWM is the peak so far), to say where memory goes.
  const mark = (stage) => {
    const m = process.memoryUsage();
    stages.push({
      stage,
      ...procStatus(),
      heapTotalMiB: m.heapTotal / 2 ** 20,
      heapUsedMiB: m.heapUsed / 2 ** 20,
      externalMiB: m.external / 2 ** 20,
      threads: threads(),
      smaps: smapsBreakdown(),
      v8Spaces: heapSpaces(),
    });
  };
  let r = null;
  if (plan.side === "idle") {
    await pause(2000);
    mark("idle 2 s");
  } else {
    const b = loadBuild(plan.pkg);
    b.native.native();
    mark("libvirt loaded and bound (koffi)");
    await b.connection.withConnection({ uri: plan.uri }, async () => undefined);
    mark("first connection open");
    const side = plan.side === "provider" ? providerSide(b, plan.parallel) : floorSide(b, plan.parallel);
    const prefix = `${plan.prefix}${plan.tag}-`;
    // Where the peak happens: RSS sampled every 20 ms, with the V8 heap and threads at that moment.
    let top = { rssMiB: 0 };
    const sampler = setInterval(() => {
      const s = procStatus();
      if (s.rssMiB > top.rssMiB) {
        const m = process.memoryUsage();
        // The mappings at the peak (read again only when it grew by 1 MiB: reading smaps costs a few ms).
        const fresh = s.rssMiB >= (top.smapsAtMiB ?? 0) + 1;
        const smaps = fresh ? smapsBreakdown() : top.smaps;
        const v8Spaces = fresh ? heapSpaces() : top.v8Spaces;
        top = {
          rssMiB: s.rssMiB,
          heapTotalMiB: m.heapTotal / 2 ** 20,
          heapUsedMiB: m.heapUsed / 2 ** 20,
          externalMiB: m.external / 2 ** 20,
          threads: threads(),
          smapsAtMiB: fresh ? s.rssMiB : top.smapsAtMiB,
          smaps,
          v8Spaces,
        };
      }
    }, 20);
    r = await side(specs(prefix, plan.n, plan.pool, plan.uri));
    clearInterval(sampler);
    stages.push({ stage: "sampled peak during the lifecycles", ...top, hwmMiB: procStatus().hwmMiB });
    if (r.errors.length) sweep(plan.uri, prefix);
    mark(`${plan.n} lifecycles done`);
    await b.connection.closeAllConnections();
  }
  const end = procStatus();
  return {
    side: plan.side,
    n: plan.n ?? 0,
    peakRssMiB: end.hwmMiB,
    endRssMiB: end.rssMiB,
    stages,
    // glibc malloc as the provider's binding left it (0: glibc's own behaviour; absent in older trees).
    mallocTuning: plan.side === "idle" ? null : (loadBuild(plan.pkg).native.mallocTuning ?? null),
    totalMs: r?.totalMs ?? null,
    errors: r?.errors.slice(0, 5) ?? [],
  };
}

const modes = { memory: memoryMode, ab: abMode, graceful: () => gracefulMode(plan) };
const result = await modes[plan.mode]();
writeFileSync(outFile, JSON.stringify(result, null, 1));
// The opener worker and pooled handles are closed; exit without waiting for stragglers.
process.exit(0);
