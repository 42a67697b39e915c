#!/usr/bin/env node
// npm run bench -- [--out bench-results/run.json] [--quick] [options]
//
// Measures the provider's own cost against the floor (the same libvirt calls made
// directly through the binding, concurrently, in the same process), its scaling
// with N, the event-loop delay, the memory it adds, and a real `pulumi up` +
// `pulumi destroy`. Prints one table and writes everything as JSON.
// See docs/performance.md.
import { execFileSync, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PREFIX, createPool, median, parseArgs, removePool, round, sweep, sweepStale, virsh, virshTry, waitQuiet } from "./lib.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "../..");

const USAGE = `usage: npm run bench -- [options]
  --out FILE          where to write the JSON results (default bench-results/bench-<time>.json)
  --quick             development run: N = 1, 4; one round; memory and engine at N = 4
  --sizes 1,4,16,64   domain counts for items 1-2
  --rounds 3          A/B rounds per size (provider and floor alternate, ABBA order); N = 1 runs 3x, N = 4 +2
  --parallel P        resource operations at once, as pulumi --parallel (default: the CLI's default)
  --memory-n 64       lifecycles in the memory measurement (item 4)
  --engine-n 16       domains in the pulumi up/destroy measurement (item 5)
  --two-hosts-n 8     domains in the two-hypervisor measurement (item 7): all on --uri, or half of
                      them on a second hypervisor (lvp-test's session over qemu+ssh, an sshd on loopback)
  --skip-memory, --skip-engine, --skip-graceful, --skip-two-hosts
  --source DIR        a tree with provider/ and sdk/ to build and measure (default: this repository)
  --pkg DIR           measure an already built package directory instead (with dist/ and node_modules/)
  --uri URI           hypervisor (default qemu:///system)
  --wait-for PATTERN  before each phase, wait until no other process matches (pgrep -f), e.g. vitest
  --cpu-prof          profile the N = 16 process (node --cpu-prof; slows it) and report its longest
                      main-thread stretches, by package (scripts/bench/long-tasks.mjs)
  --keep              keep the work directory (/var/tmp/lvp-bench-<pid>)
  --table FILE        only print the table of an earlier run's JSON`;

const args = parseArgs(process.argv.slice(2), {
  defaults: { uri: "qemu:///system", rounds: "3", sizes: "1,4,16,64", "memory-n": "64", "engine-n": "16", "two-hosts-n": "8" },
  flags: ["quick", "skip-memory", "skip-engine", "skip-graceful", "skip-two-hosts", "keep", "help", "cpu-prof"],
  options: ["out", "sizes", "rounds", "parallel", "memory-n", "engine-n", "two-hosts-n", "source", "pkg", "uri", "wait-for", "table"],
  usage: USAGE,
});
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
if (args.table) {
  // Print the table of an earlier run's JSON again (after the table code changed, say).
  setImmediate(() => console.log(table(JSON.parse(readFileSync(args.table, "utf8")))));
}
if (args.quick) Object.assign(args, { sizes: "1,4", rounds: "1", "memory-n": "4", "engine-n": "4", "two-hosts-n": "4" });

const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);
const uri = args.uri;
const sizes = args.sizes.split(",").map(Number);
const rounds = Number(args.rounds);
const runId = `${PREFIX}${process.pid}-`;
const work = `/var/tmp/lvp-bench-${process.pid}`;
const outFile = resolve(args.out ?? join(repoRoot, "bench-results", `bench-${new Date().toISOString().replace(/[:.]/g, "-")}.json`));
const started = Date.now();

function sh(cmd, argv, opts = {}) {
  return (execFileSync(cmd, argv, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...opts }) ?? "").trim();
}

function pulumiBinDir() {
  return sh("bash", [join(repoRoot, "scripts/ensure-pulumi.sh")], { stdio: ["ignore", "pipe", "inherit"] })
    .split("\n")
    .at(-1);
}

/** The CLI's own default for --parallel (it depends on the CPU count). */
function cliDefaultParallel(bin) {
  try {
    const help = sh(join(bin, "pulumi"), ["up", "--help"], { env: { ...process.env, PULUMI_SKIP_UPDATE_CHECK: "true" } });
    const m = /--parallel int32[^\n]*\(default (\d+)\)/.exec(help);
    if (m) return Number(m[1]);
  } catch {
    // fall through
  }
  return 4 * cpus().length;
}

/** Builds the package from `source` into a private directory: the repository's dist/ is never touched. */
function buildPackage(source) {
  const pkg = join(work, "pkg");
  mkdirSync(pkg, { recursive: true });
  for (const f of ["package.json", "README.md", "tsconfig.json", "provider", "sdk"]) cpSync(join(source, f), join(pkg, f), { recursive: true });
  symlinkSync(join(repoRoot, "node_modules"), join(pkg, "node_modules"));
  const t0 = Date.now();
  sh(process.execPath, [join(repoRoot, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], { cwd: pkg });
  log(`built ${source} into ${pkg} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return pkg;
}

function runChild(plan, name, nodeArgs = []) {
  const planFile = join(work, `${name}.plan.json`);
  const resultFile = join(work, `${name}.result.json`);
  writeFileSync(planFile, JSON.stringify(plan));
  return new Promise((resolveP, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, join(here, "child.cjs"), planFile, resultFile], { stdio: ["ignore", "inherit", "inherit"] });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (code !== 0) return reject(new Error(`benchmark process ${name} exited with ${code ?? signal}`));
      resolveP(JSON.parse(readFileSync(resultFile, "utf8")));
    });
  });
}

async function quietBefore(what) {
  if (!args["wait-for"]) return;
  const waited = await waitQuiet(args["wait-for"], log);
  if (waited > 0) log(`machine quiet after ${Math.round(waited / 1000)} s; starting ${what}`);
}

// ---- items 1-3: provider vs floor, A/B alternating, one process per N ----
async function abPhase(ctx) {
  const bySize = [];
  for (const n of sizes) {
    await quietBefore(`N = ${n}`);
    const runs = [
      { side: "floor", n: 1, tag: `w${n}f`, warmup: true },
      { side: "provider", n: 1, tag: `w${n}p`, warmup: true },
    ];
    // Small runs are cheap and their noise (a guest's stop takes 1.2 s or 2.0 s) is not
    // averaged over many domains: more rounds for them.
    const roundsN = args.quick ? rounds : n <= 1 ? 3 * rounds : n <= 4 ? rounds + 2 : rounds;
    for (let r = 1; r <= roundsN; r++) {
      const order = r % 2 === 1 ? ["provider", "floor"] : ["floor", "provider"];
      for (const side of order) runs.push({ side, n, round: r, tag: `${side[0]}${n}r${r}` });
    }
    log(`N = ${n}: ${roundsN} rounds of provider and floor (ABBA), after a warm-up of each at N = 1`);
    // --cpu-prof: a V8 profile of the N = 16 process (item 3), summarized as its longest busy stretches.
    const profDir = join(work, `prof-${n}`);
    const profile = args["cpu-prof"] && n === (sizes.includes(16) ? 16 : sizes.at(-1));
    const { results, threadpool, threads } = await runChild(
      { mode: "ab", pkg: ctx.pkg, uri, pool: ctx.pool.name, prefix: runId, parallel: ctx.parallel, runs },
      `ab-${n}`,
      profile ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`, "--cpu-prof-interval", "250"] : [],
    );
    let longTasksFound;
    if (profile) {
      const { longTasks } = await import("./long-tasks.mjs");
      const file = readdirSync(profDir).find((f) => f.endsWith(".cpuprofile"));
      longTasksFound = longTasks(JSON.parse(readFileSync(join(profDir, file), "utf8")), { minMs: 8, top: 10 });
      log(
        `N = ${n}: CPU profile ${join(profDir, file)}; longest main-thread stretches: ${longTasksFound.longest
          .slice(0, 5)
          .map((t) => `${t.ms} ms (${t.byPackage[0]?.what})`)
          .join(", ")}`,
      );
    }
    const timed = results.filter((r) => !r.warmup);
    const side = (s) => timed.filter((r) => r.side === s);
    const summary = (rs) => ({
      medianS: median(rs.map((r) => r.totalMs)) / 1000,
      upMedianS: median(rs.map((r) => r.upMs)) / 1000,
      destroyMedianS: median(rs.map((r) => r.destroyMs)) / 1000,
      perDomainS: median(rs.map((r) => r.totalMs)) / 1000 / n,
      runsS: rs.map((r) => round(r.totalMs / 1000, 2)),
      libvirtCallsPerDomain: median(rs.map((r) => r.libvirtCalls)) / n,
      spawnsPerDomain: median(rs.map((r) => r.spawns)) / n,
      loopDelayMaxMs: Math.max(...rs.map((r) => r.loopDelay.maxMs)),
      loopDelayP99Ms: median(rs.map((r) => r.loopDelay.p99Ms)),
      errors: rs.flatMap((r) => r.errors),
      cpuMsPerDomain: median(rs.map((r) => r.cpuMs)) / n,
      // Each operation's mean duration (median over the rounds): where the time goes.
      opsMeanMs: Object.fromEntries(Object.keys(rs[0]?.ops ?? {}).map((k) => [k, round(median(rs.map((r) => r.ops?.[k]?.meanMs ?? NaN)))])),
      calls: rs.at(-1)?.calls,
    });
    const p = summary(side("provider"));
    const f = summary(side("floor"));
    bySize.push({
      n,
      threadpool,
      threads,
      provider: p,
      floor: f,
      ratio: p.medianS / f.medianS,
      overheadPerDomainS: (p.medianS - f.medianS) / n,
      cpuProfile: longTasksFound,
      runs: results,
    });
  }
  return bySize;
}

// ---- item 4: peak RSS in fresh processes ----
async function memoryPhase(ctx) {
  const n = Number(args["memory-n"]);
  await quietBefore("the memory measurement");
  const base = { mode: "memory", pkg: ctx.pkg, uri, pool: ctx.pool.name, prefix: runId, parallel: ctx.parallel, n };
  const idle = await runChild({ ...base, side: "idle" }, "mem-idle");
  log(`memory: idle process with @pulumi/pulumi: peak ${idle.peakRssMiB.toFixed(1)} MiB`);
  const provider = await runChild({ ...base, side: "provider", tag: "mp" }, "mem-provider");
  log(`memory: ${n} provider lifecycles: peak ${provider.peakRssMiB.toFixed(1)} MiB`);
  const floor = await runChild({ ...base, side: "floor", tag: "mf" }, "mem-floor");
  log(`memory: ${n} floor lifecycles: peak ${floor.peakRssMiB.toFixed(1)} MiB`);
  return {
    n,
    idle,
    provider,
    floor,
    providerAddedMiB: provider.peakRssMiB - idle.peakRssMiB,
    floorAddedMiB: floor.peakRssMiB - idle.peakRssMiB,
  };
}

// ---- item 5: the real engine ----
function engineProgram(n) {
  return `// Generated by scripts/bench/run.mjs: ${n} volumes, domains and snapshots.
import * as pulumi from "@pulumi/pulumi";
import * as libvirt from "libvirt-pulumi";

const config = new pulumi.Config();
const prefix = config.require("prefix");
const pool = config.require("pool");
const uri = config.require("uri");
const n = config.requireNumber("n");

for (let i = 0; i < n; i++) {
  const name = \`\${prefix}\${String(i).padStart(2, "0")}\`;
  const disk = new libvirt.Volume(\`disk-\${i}\`, { pool, uri, name: \`\${name}.qcow2\`, capacity: "16MiB", format: "qcow2" });
  const vm = new libvirt.Domain(\`vm-\${i}\`, { name, uri, type: "kvm", memoryMiB: 64, vcpus: 1, shutdownTimeoutSeconds: 0, disks: [{ volume: disk }] });
  new libvirt.Snapshot(\`snap-\${i}\`, { domain: vm, name: "bench", description: "taken by the benchmark" });
}
`;
}

function runTimed(cmd, argv, opts) {
  return new Promise((resolveP, reject) => {
    const t0 = Date.now();
    const child = spawn(cmd, argv, opts);
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", reject);
    child.on("close", (code) => resolveP({ code, output, t0, t1: Date.now(), ms: Date.now() - t0 }));
  });
}

/** Where one CLI run spent its time, from the hook's events (ms from the CLI's start). */
function timeline(events, t0, t1) {
  const rel = (t) => (t === undefined ? null : round(t - t0));
  const first = (pred) => events.filter(pred).sort((a, b) => a.t - b.t)[0]?.t;
  const last = (pred) => events.filter(pred).sort((a, b) => b.t - a.t)[0]?.t;
  const programStart = first((e) => e.role === "program" && e.ev === "process-start");
  const programReady = first((e) => e.role === "program" && e.ev === "loaded" && e.module === "libvirt-pulumi");
  const programExit = last((e) => e.role === "program" && e.ev === "exit");
  const providerStart = first((e) => e.role === "provider" && e.ev === "process-start");
  const providerReady = first((e) => e.role === "provider" && e.ev === "loaded" && e.module === "libvirt-pulumi/provider");
  const opsStart = first((e) => e.ev === "op-start");
  const opsEnd = last((e) => e.ev === "op-end");
  // Busy time per provider method, and the time some provider call was running.
  const byOp = {};
  const open = new Map();
  const spans = [];
  for (const e of [...events].sort((a, b) => a.t - b.t)) {
    if (e.ev === "op-start") {
      const q = open.get(e.op) ?? [];
      q.push(e.t);
      open.set(e.op, q);
    } else if (e.ev === "op-end") {
      const s = open.get(e.op)?.shift();
      if (s === undefined) continue;
      const o = (byOp[e.op] ??= { count: 0, totalMs: 0 });
      o.count++;
      o.totalMs += e.t - s;
      spans.push([s, e.t]);
    }
  }
  spans.sort((a, b) => a[0] - b[0]);
  let busy = 0;
  let cur = null;
  for (const [s, e] of spans) {
    if (!cur || s > cur[1]) {
      if (cur) busy += cur[1] - cur[0];
      cur = [s, e];
    } else cur[1] = Math.max(cur[1], e);
  }
  if (cur) busy += cur[1] - cur[0];
  for (const o of Object.values(byOp)) {
    o.meanMs = round(o.totalMs / o.count, 1);
    o.totalMs = round(o.totalMs);
  }
  const seg = (a, b) => (a !== undefined && b !== undefined ? round(b - a) : null);
  return {
    wallMs: t1 - t0,
    marks: {
      programStart: rel(programStart),
      programReady: rel(programReady),
      programExit: rel(programExit),
      providerStart: rel(providerStart),
      providerReady: rel(providerReady),
      firstOp: rel(opsStart),
      lastOpEnd: rel(opsEnd),
    },
    segments: {
      "CLI start + language host (to the program's node process)": seg(t0, programStart),
      "program load (ts-node compile, @pulumi/pulumi, to `libvirt-pulumi` loaded)": seg(programStart, programReady),
      "CLI start (to the provider's node process, no program)": programStart === undefined ? seg(t0, providerStart) : null,
      "engine: registration to provider process start": programReady !== undefined ? seg(programReady, providerStart) : null,
      "provider start (node, @pulumi/pulumi, dynamic-provider host, to libvirt-pulumi/provider loaded)": seg(providerStart, providerReady),
      "operations (first provider call to last)": seg(opsStart, opsEnd),
      "  of which some provider call was running": round(busy),
      "engine finish (last call to CLI exit)": seg(opsEnd, t1),
    },
    providerCalls: byOp,
    // Threads of the provider process when the provider loaded and at most later: 4 more
    // means libuv's default pool of 4; more, a larger UV_THREADPOOL_SIZE took effect.
    providerThreads: {
      atLoad: events.find((e) => e.role === "provider" && e.ev === "loaded" && e.module === "libvirt-pulumi/provider")?.threads ?? null,
      max: Math.max(...events.filter((e) => e.role === "provider" && e.threads).map((e) => e.threads)),
    },
  };
}

async function enginePhase(ctx) {
  const n = Number(args["engine-n"]);
  const dir = join(work, "engine");
  mkdirSync(dir, { recursive: true });
  const devDeps = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")).devDependencies;
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify(
      {
        name: "lvp-bench-engine",
        private: true,
        main: "index.ts",
        dependencies: { "@pulumi/pulumi": devDeps["@pulumi/pulumi"], "libvirt-pulumi": `file:${ctx.pkg}` },
        devDependencies: { "@types/node": devDeps["@types/node"], typescript: devDeps.typescript },
      },
      null,
      2,
    ),
  );
  writeFileSync(join(dir, ".npmrc"), "install-links=true\n");
  writeFileSync(join(dir, "Pulumi.yaml"), "name: lvp-bench\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n");
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify(
      {
        compilerOptions: { strict: true, target: "ES2022", module: "commonjs", moduleResolution: "node", esModuleInterop: true, skipLibCheck: true },
        files: ["index.ts"],
      },
      null,
      2,
    ),
  );
  writeFileSync(join(dir, "index.ts"), engineProgram(n));
  const t0 = Date.now();
  sh("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
  log(`engine: program with ${n} domains installed in ${((Date.now() - t0) / 1000).toFixed(1)} s (not timed)`);
  mkdirSync(join(work, "state"), { recursive: true });
  const timelineFile = join(work, "timeline.jsonl");
  const env = {
    ...process.env,
    PATH: `${ctx.bin}:${process.env.PATH}`,
    PULUMI_HOME: join(work, "pulumi-home"),
    PULUMI_BACKEND_URL: `file://${join(work, "state")}`,
    PULUMI_CONFIG_PASSPHRASE: "lvp-bench",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    NO_COLOR: "1",
  };
  delete env.LIBVIRT_PULUMI_DELETE_SNAPSHOTS_ON_DESTROY;
  const pulumi = (argv, extraEnv = {}) =>
    runTimed("pulumi", [...argv, "--non-interactive", "--color=never"], { cwd: dir, env: { ...env, ...extraEnv } });
  const ok = async (argv, extraEnv) => {
    const r = await pulumi(argv, extraEnv);
    if (r.code !== 0) throw new Error(`pulumi ${argv.join(" ")} exited ${r.code}:\n${r.output.slice(-4000)}`);
    return r;
  };
  await ok(["stack", "init", "bench"]);
  const prefix = `${runId}e${n}-`;
  for (const [k, v] of Object.entries({ prefix, pool: ctx.pool.name, uri, n: String(n) })) await ok(["config", "set", k, v]);
  const cliStart = [];
  for (let i = 0; i < 3; i++) cliStart.push((await ok(["version"])).ms);
  await quietBefore(`pulumi up of ${n} domains`);
  const hooked = {
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --require ${join(here, "engine-hook.cjs")}`.trim(),
    LVP_BENCH_TIMELINE: timelineFile,
  };
  const readEvents = () =>
    existsSync(timelineFile)
      ? readFileSync(timelineFile, "utf8")
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l))
      : [];
  const parallel = ["--parallel", String(ctx.parallel)];
  let up;
  let destroy;
  try {
    up = await ok(["up", "--yes", "--skip-preview", ...parallel], hooked);
    const upEvents = readEvents();
    rmSync(timelineFile, { force: true });
    log(`engine: pulumi up of ${n} domains: ${(up.ms / 1000).toFixed(2)} s`);
    destroy = await ok(["destroy", "--yes", "--skip-preview", ...parallel], hooked);
    log(`engine: pulumi destroy: ${(destroy.ms / 1000).toFixed(2)} s`);
    const destroyEvents = readEvents();
    return {
      n,
      parallel: ctx.parallel,
      flags: "--yes --skip-preview",
      cliVersionMs: median(cliStart),
      upS: up.ms / 1000,
      destroyS: destroy.ms / 1000,
      totalS: (up.ms + destroy.ms) / 1000,
      up: timeline(upEvents, up.t0, up.t1),
      destroy: timeline(destroyEvents, destroy.t0, destroy.t1),
    };
  } catch (err) {
    log(`engine: ${err.message}`);
    if (!destroy)
      await pulumi(["destroy", "--yes", "--skip-preview"], {
        LIBVIRT_PULUMI_DELETE_SNAPSHOTS_ON_DESTROY: "1",
        LIBVIRT_PULUMI_DELETE_SNAPSHOT_DATA_ON_DESTROY: "1",
      });
    sweep(uri, prefix);
    return { n, error: err.message.slice(0, 2000) };
  }
}

// ---- item 6: stopping a real guest, gracefully and not ----
async function gracefulPhase(ctx) {
  await quietBefore("the real guests");
  const image = sh("bash", [join(repoRoot, "scripts/guest-image.sh")], { stdio: ["ignore", "pipe", "inherit"] })
    .split("\n")
    .at(-1);
  // QEMU runs as libvirt-qemu, which cannot enter the image cache under /root: a copy in the work directory.
  const dir = join(work, "guest");
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (const f of ["disk.qcow2", "vmlinuz", "initrd.img"]) cpSync(join(image, f), join(dir, f));
  const guest = {
    dir,
    base: join(dir, "disk.qcow2"),
    kernel: join(dir, "vmlinuz"),
    initrd: join(dir, "initrd.img"),
    cmdline: readFileSync(join(image, "cmdline"), "utf8").trim(),
  };
  try {
    const { results } = await runChild({ mode: "graceful", pkg: ctx.pkg, uri, prefix: runId, guest }, "graceful");
    const by = Object.fromEntries(results.map((r) => [r.role, r]));
    const floor = by.floor;
    const agent = by["provider agent"];
    return {
      results,
      ratio: agent.stopS / floor.stopS,
      guest: "TCG, 512 MiB, 1 vCPU, Debian 12 with systemd and qemu-guest-agent (scripts/guest-image.sh)",
    };
  } catch (err) {
    log(`graceful: ${err.message}`);
    sweep(uri, `${runId}g`);
    return { error: err.message.slice(0, 2000) };
  }
}

// ---- item 7: one stack's domains over two hypervisors vs all on one ----
/**
 * The second hypervisor: lvp-test's session daemon over qemu+ssh, through the sshd on
 * loopback the tests use (test/helpers/ssh-daemon.ts, compiled here into the work
 * directory: the repository's own build is not touched). Throws saying why it cannot.
 */
function startSecondHypervisor() {
  const out = join(work, "ssh-helper");
  try {
    sh(process.execPath, [
      join(repoRoot, "node_modules/typescript/bin/tsc"),
      ...["--outDir", out, "--rootDir", join(repoRoot, "test/helpers")],
      ...["--module", "commonjs", "--target", "ES2022", "--moduleResolution", "node", "--esModuleInterop", "--skipLibCheck", "--types", "node"],
      join(repoRoot, "test/helpers/ssh-daemon.ts"),
    ]);
  } catch (err) {
    throw new Error(`compiling test/helpers/ssh-daemon.ts failed: ${String(err.stdout || err.message).slice(0, 500)}`, { cause: err });
  }
  return createRequire(join(repoRoot, "package.json"))(join(out, "ssh-daemon.js"));
}

/** Set while item 7 runs: removes what it made on the second hypervisor (for Ctrl-C). */
let cleanSecond = null;

async function twoHostsPhase(ctx) {
  const n = Number(args["two-hosts-n"]);
  if (!(n >= 2)) return { n, error: `--two-hosts-n must be 2 or more (got ${args["two-hosts-n"]})` };
  let helper;
  let daemon;
  try {
    helper = startSecondHypervisor();
    daemon = await helper.startSshDaemon();
    daemon.trustHostKey();
  } catch (err) {
    await daemon?.stop();
    return { n, error: `the second hypervisor (sshd on loopback to lvp-test's session daemon) could not be started: ${err.message}` };
  }
  const second = daemon.uri();
  const shown = `qemu+ssh://${helper.SSH_USER}@127.0.0.1:${daemon.port}/session`;
  const poolName = `${runId}spool`;
  const poolDir = join(helper.SSH_USER_HOME, poolName);
  const made = { domains: [], pools: [poolName], dirs: [poolDir] };
  cleanSecond = () => {
    sweep(second, runId);
    helper.cleanSession(second, made);
  };
  try {
    helper.sweepSession(second);
    // What earlier benchmark runs that are gone left there (their pool directories are in lvp-test's home).
    for (const stale of sweepStale(second)) rmSync(join(helper.SSH_USER_HOME, `${stale}spool`), { recursive: true, force: true });
    // Built by the session daemon itself, so the directory is lvp-test's.
    virsh(second, "pool-create-as", poolName, "dir", "--target", poolDir, "--build");
    await quietBefore("the two-hypervisor measurement");
    const half = Math.floor(n / 2);
    const one = (tag) => ({ side: "provider", n, tag, hosts: [{ uri, pool: ctx.pool.name, n }] });
    const split = (tag) => ({
      side: "provider",
      n,
      tag,
      hosts: [
        { uri, pool: ctx.pool.name, n: n - half },
        { uri: second, pool: poolName, n: half },
      ],
    });
    // A warm-up of each (the session daemon starts on the first login), then ABBA rounds.
    const runs = [
      { ...one("t1w"), warmup: true, layout: "one" },
      { ...split("t2w"), warmup: true, layout: "split" },
    ];
    for (let r = 1; r <= rounds; r++) {
      const order = r % 2 === 1 ? ["split", "one"] : ["one", "split"];
      for (const layout of order) runs.push({ ...(layout === "one" ? one(`t1r${r}`) : split(`t2r${r}`)), round: r, layout });
    }
    log(`two hypervisors: ${rounds} rounds of ${n} domains all on ${uri} vs ${n - half} there and ${half} on ${shown} (ABBA)`);
    const { results } = await runChild(
      { mode: "ab", pkg: ctx.pkg, uri, pool: ctx.pool.name, prefix: runId, parallel: ctx.parallel, runs },
      "two-hosts",
    );
    const timed = results.filter((r) => !r.warmup);
    const summary = (layout) => {
      const rs = timed.filter((r) => r.layout === layout);
      return {
        medianS: median(rs.map((r) => r.totalMs)) / 1000,
        perDomainS: median(rs.map((r) => r.totalMs)) / 1000 / n,
        runsS: rs.map((r) => round(r.totalMs / 1000, 2)),
        errors: rs.flatMap((r) => r.errors),
      };
    };
    const oneHost = summary("one");
    const twoHosts = summary("split");
    return {
      n,
      hosts: [uri, shown],
      split: [n - half, half],
      parallel: ctx.parallel,
      oneHost,
      twoHosts,
      ratio: twoHosts.perDomainS / oneHost.perDomainS,
      note: "both hypervisors run on this machine (same CPUs and disk): the ratio shows how far the provider works on two hosts at once, not a faster second machine",
      runs: results,
    };
  } catch (err) {
    log(`two hypervisors: ${err.message}`);
    return { n, error: err.message.slice(0, 2000) };
  } finally {
    cleanSecond();
    cleanSecond = null;
    await daemon.stop();
  }
}

// ---- the table ----
const fmtS = (s) => (Number.isFinite(s) ? `${s.toFixed(2)} s` : "-");
function table(res) {
  const rows = [["item", "N", "floor", "provider", "result", "target", ""]];
  const verdict = (ok) => (ok === undefined ? "" : ok ? "met" : "MISSED");
  for (const s of res.items.providerVsFloor) {
    const err = s.provider.errors.length || s.floor.errors.length ? ` (${s.provider.errors.length + s.floor.errors.length} errors)` : "";
    rows.push([
      "1 provider vs floor (median)",
      s.n,
      fmtS(s.floor.medianS),
      fmtS(s.provider.medianS),
      `ratio ${s.ratio.toFixed(2)}${err}`,
      "<= 1.10",
      verdict(s.ratio <= 1.1 && !err),
    ]);
  }
  for (const s of res.items.providerVsFloor) {
    rows.push([
      "2 time per domain",
      s.n,
      fmtS(s.floor.perDomainS),
      fmtS(s.provider.perDomainS),
      `+${(s.overheadPerDomainS * 1000).toFixed(0)} ms/domain; ${s.provider.libvirtCallsPerDomain.toFixed(1)} vs ${s.floor.libvirtCallsPerDomain.toFixed(1)} calls`,
      "",
      "",
    ]);
  }
  const g = res.items.scaling;
  // The floor's own growth is libvirt's and QEMU's; the provider must not add to it,
  // neither in time nor in libvirt calls per domain.
  if (g)
    rows.push([
      `2 growth N=${g.from}->${g.to} (per domain)`,
      "",
      `${g.floorGrowth.toFixed(2)}x`,
      `${g.providerGrowth.toFixed(2)}x`,
      `calls/domain ${g.providerCallsFrom.toFixed(1)} -> ${g.providerCallsTo.toFixed(1)} (floor ${g.floorCallsFrom.toFixed(1)} -> ${g.floorCallsTo.toFixed(1)})`,
      "floor's, calls +10%",
      verdict(g.providerGrowth <= g.floorGrowth * 1.1 && g.providerCallsTo <= g.providerCallsFrom * 1.1),
    ]);
  const l = res.items.eventLoop;
  if (l)
    rows.push([
      "3 event-loop delay, max",
      l.n,
      `${l.floorMaxMs.toFixed(1)} ms`,
      `${l.providerMaxMs.toFixed(1)} ms`,
      `p99 ${l.providerP99Ms.toFixed(1)} ms`,
      "<= 20 ms",
      verdict(l.providerMaxMs <= 20),
    ]);
  const m = res.items.memory;
  if (m)
    rows.push([
      "4 peak RSS added over idle",
      m.n,
      `+${m.floorAddedMiB.toFixed(1)} MiB`,
      `+${m.providerAddedMiB.toFixed(1)} MiB`,
      `idle ${m.idle.peakRssMiB.toFixed(1)} MiB`,
      "<= 30 MiB",
      verdict(m.providerAddedMiB <= 30),
    ]);
  const e = res.items.engine;
  if (e && !e.error)
    rows.push([
      "5 pulumi up + destroy",
      e.n,
      fmtS(e.floorS),
      fmtS(e.totalS),
      `ratio ${e.ratio?.toFixed(2) ?? "-"} (up ${e.upS.toFixed(1)} s, destroy ${e.destroyS.toFixed(1)} s)`,
      "(report)",
      "",
    ]);
  if (e?.error) rows.push(["5 pulumi up + destroy", e.n, "", "", "FAILED (see JSON)", "(report)", ""]);
  const gr = res.items.graceful;
  if (gr && !gr.error) {
    const by = Object.fromEntries(gr.results.map((r) => [r.role, r]));
    const how = (r) => `${r.error ? "ERROR " : ""}QEMU reason=${r.reason}`;
    const f = by.floor;
    const stop = (role, what) => {
      const r = by[role];
      rows.push([`6 ${what}`, 1, fmtS(f.stopS), fmtS(r.stopS), `ratio ${(r.stopS / f.stopS).toFixed(2)}; ${how(r)}`, "(report)", ""]);
    };
    stop("provider agent", "real guest: graceful delete (agent)");
    stop("provider acpi", "real guest: graceful delete (ACPI)");
    stop("provider hard", "real guest: hard-stop delete (timeout 0)");
  }
  if (gr?.error) rows.push(["6 real guest stops", 1, "", "", "FAILED (see JSON)", "(report)", ""]);
  const th = res.items.twoHosts;
  if (th && !th.error) {
    const err = th.oneHost.errors.length + th.twoHosts.errors.length;
    rows.push([
      "7 two hypervisors: per domain, split vs one",
      th.n,
      `${fmtS(th.oneHost.perDomainS)} (one)`,
      `${fmtS(th.twoHosts.perDomainS)} (split)`,
      `ratio ${th.ratio.toFixed(2)} (${th.split.join(" + ")} over ${th.hosts.length} hosts)${err ? ` (${err} errors)` : ""}`,
      "(report)",
      "",
    ]);
  }
  if (th?.error) rows.push(["7 two hypervisors", th.n, "", "", `NOT MEASURED: ${th.error}`, "(report)", ""]);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows
    .map((r, k) => {
      const line = r
        .map((c, i) => String(c).padEnd(widths[i]))
        .join("  ")
        .trimEnd();
      return k === 0 ? `${line}\n${widths.map((w) => "-".repeat(w)).join("  ")}` : line;
    })
    .join("\n");
}

// ---- main ----
async function main() {
  virsh(uri, "uri"); // fails early when the daemon is not reachable
  const stale = sweepStale(uri);
  if (stale.length) log(`removed what earlier benchmark runs left: ${stale.join(", ")}`);
  mkdirSync(work, { recursive: true });
  const bin = pulumiBinDir();
  const parallel = Number(args.parallel) || cliDefaultParallel(bin);
  const pkg = args.pkg ? resolve(args.pkg) : buildPackage(resolve(args.source ?? repoRoot));
  const pool = createPool(uri, `${runId}pool`);
  const ctx = { pkg, pool, parallel, bin };
  // Interrupted: the children die with us; remove everything this run made.
  for (const sig of ["SIGINT", "SIGTERM"]) {
    process.on(sig, () => {
      log(`${sig}: cleaning up`);
      try {
        sweep(uri, runId);
        removePool(uri, pool);
        cleanSecond?.(); // (its sshd is stopped by the helper's exit handler)
      } finally {
        if (!args.keep) rmSync(work, { recursive: true, force: true });
        process.exit(130);
      }
    });
  }
  const res = {
    meta: {
      date: new Date().toISOString(),
      host: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: round(totalmem() / 2 ** 30, 1), kvm: existsSync("/dev/kvm") },
      node: process.version,
      libvirt: virshTry(uri, "version")
        .out.split("\n")
        .map((s) => s.trim())
        .filter(Boolean),
      uri,
      source: args.pkg ? null : resolve(args.source ?? repoRoot),
      pkg,
      gitHead: (() => {
        try {
          return sh("git", ["-C", repoRoot, "rev-parse", "HEAD"]);
        } catch {
          return null;
        }
      })(),
      sizes,
      rounds,
      parallel,
      quick: !!args.quick,
      // As set for the benchmark processes (unset: Node's 4, unless the provider raises it when it loads;
      // the pool size each process really had is items.providerVsFloor[].threadpool).
      uvThreadpoolSizeEnv: process.env.UV_THREADPOOL_SIZE ?? null,
      maxConnections: Number(process.env.LIBVIRT_PULUMI_MAX_CONNECTIONS) || 16,
      guest: "kvm, 64 MiB, 1 vCPU, one 16 MiB qcow2 volume (virtio), no OS; snapshot: internal, with memory, of the running guest",
    },
    items: {},
  };
  const save = () => {
    mkdirSync(dirname(outFile), { recursive: true });
    writeFileSync(outFile, JSON.stringify(res, null, 2));
  };
  try {
    const ab = await abPhase(ctx);
    res.items.providerVsFloor = ab;
    const from = ab.find((s) => s.n === 4) ?? ab[0];
    const to = ab.at(-1);
    if (from && to && from !== to) {
      res.items.scaling = {
        from: from.n,
        to: to.n,
        providerGrowth: to.provider.perDomainS / from.provider.perDomainS,
        floorGrowth: to.floor.perDomainS / from.floor.perDomainS,
        providerCallsFrom: from.provider.libvirtCallsPerDomain,
        providerCallsTo: to.provider.libvirtCallsPerDomain,
        floorCallsFrom: from.floor.libvirtCallsPerDomain,
        floorCallsTo: to.floor.libvirtCallsPerDomain,
      };
    }
    const loopAt = ab.find((s) => s.n === 16) ?? ab.at(-1);
    res.items.eventLoop = {
      n: loopAt.n,
      providerMaxMs: loopAt.provider.loopDelayMaxMs,
      providerP99Ms: loopAt.provider.loopDelayP99Ms,
      floorMaxMs: loopAt.floor.loopDelayMaxMs,
      resolutionMs: 1,
    };
    save();
    if (!args["skip-memory"]) {
      res.items.memory = await memoryPhase(ctx);
      save();
    }
    if (!args["skip-engine"]) {
      const e = await enginePhase(ctx);
      const floorAt = ab.find((s) => s.n === e.n);
      if (floorAt && !e.error) {
        e.floorS = floorAt.floor.medianS;
        e.floorUpS = floorAt.floor.upMedianS;
        e.floorDestroyS = floorAt.floor.destroyMedianS;
        e.ratio = e.totalS / e.floorS;
      }
      res.items.engine = e;
      save();
    }
    if (!args["skip-graceful"]) {
      res.items.graceful = await gracefulPhase(ctx);
      save();
    }
    if (!args["skip-two-hosts"]) {
      res.items.twoHosts = await twoHostsPhase(ctx);
      save();
    }
  } finally {
    removePool(uri, pool);
    if (!args.keep) rmSync(work, { recursive: true, force: true });
    const left = virshTry(uri, "list", "--all", "--name")
      .out.split("\n")
      .filter((d) => d.startsWith(runId));
    if (left.length) log(`WARNING: still defined after cleanup: ${left.join(", ")}`);
  }
  res.meta.durationS = round((Date.now() - started) / 1000);
  res.table = table(res);
  save();
  console.log(res.table);
  log(`results written to ${outFile} (${res.meta.durationS} s in all)`);
}

if (!args.table)
  main().catch((err) => {
    log(`FAILED: ${err.stack ?? err}`);
    process.exitCode = 1;
  });
