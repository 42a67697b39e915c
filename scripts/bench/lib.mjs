// Shared pieces of the benchmark: naming, the virsh sweeper, the quiet-machine
// wait, statistics. Everything the benchmark creates on the hypervisor is named
// `lvp-bench-<orchestrator PID>-...`; the sweeper only ever touches such names.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";

export const PREFIX = "lvp-bench-";
export const IMAGES_DIR = "/var/lib/libvirt/images";

export function virsh(uri, ...args) {
  return execFileSync("virsh", ["-q", "-c", uri, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

export function virshTry(uri, ...args) {
  try {
    return { ok: true, out: virsh(uri, ...args) };
  } catch (err) {
    return { ok: false, out: String(err.stderr ?? err) };
  }
}

const lines = (s) =>
  s
    ? s
        .split("\n")
        .map((l) => l.trim())
        .filter(Boolean)
    : [];

/** A directory pool for the run's volumes (transient: nothing is left in libvirt's config). */
export function createPool(uri, name) {
  const dir = `${IMAGES_DIR}/${name}`;
  execFileSync("mkdir", ["-p", "-m", "0711", dir]);
  virsh(uri, "pool-create-as", name, "dir", "--target", dir);
  return { name, dir };
}

/**
 * Removes every domain (stopped first, snapshot metadata with it) and every volume
 * whose name starts with `prefix`, in every active pool whose name starts with the
 * benchmark prefix. Only names beginning with PREFIX are ever considered.
 */
export function sweep(uri, prefix) {
  if (!prefix.startsWith(PREFIX)) throw new Error(`refusing to sweep "${prefix}": not a benchmark prefix`);
  const removed = { domains: 0, volumes: 0 };
  const doms = virshTry(uri, "list", "--all", "--name");
  for (const d of doms.ok ? lines(doms.out) : []) {
    if (!d.startsWith(prefix)) continue;
    virshTry(uri, "destroy", d);
    const u = virshTry(uri, "undefine", d, "--snapshots-metadata", "--nvram", "--managed-save", "--checkpoints-metadata");
    if (!u.ok) virshTry(uri, "undefine", d, "--snapshots-metadata");
    removed.domains++;
  }
  const pools = virshTry(uri, "pool-list", "--name");
  for (const p of pools.ok ? lines(pools.out) : []) {
    if (!p.startsWith(PREFIX)) continue;
    virshTry(uri, "pool-refresh", p);
    const vols = virshTry(uri, "vol-list", p);
    for (const row of vols.ok ? lines(vols.out) : []) {
      const v = row.split(/\s+/)[0];
      if (!v.startsWith(prefix)) continue;
      virshTry(uri, "vol-delete", "--pool", p, v);
      removed.volumes++;
    }
  }
  return removed;
}

/** Sweeps the run's names, then removes its pool and the pool's directory. */
export function removePool(uri, pool) {
  if (!pool.name.startsWith(PREFIX)) throw new Error(`refusing to remove pool "${pool.name}"`);
  sweep(uri, pool.name.replace(/-pool$/, "-"));
  virshTry(uri, "pool-destroy", pool.name);
  virshTry(uri, "pool-undefine", pool.name);
  if (pool.dir.startsWith(`${IMAGES_DIR}/${PREFIX}`)) rmSync(pool.dir, { recursive: true, force: true });
}

const alive = (pid) => existsSync(`/proc/${pid}`);

/** Removes what benchmark runs that are no longer alive left behind (names lvp-bench-<pid>-...). */
export function sweepStale(uri) {
  const stale = new Set();
  const collect = (name) => {
    const m = /^lvp-bench-(\d+)-/.exec(name);
    if (m && !alive(Number(m[1]))) stale.add(`${PREFIX}${m[1]}-`);
  };
  const doms = virshTry(uri, "list", "--all", "--name");
  if (doms.ok) lines(doms.out).forEach(collect);
  const pools = virshTry(uri, "pool-list", "--all", "--name");
  if (pools.ok) lines(pools.out).forEach(collect);
  for (const prefix of stale) {
    sweep(uri, prefix);
    const name = `${prefix}pool`;
    removePool(uri, { name, dir: `${IMAGES_DIR}/${name}` });
  }
  return [...stale];
}

/** PIDs of this process and its ancestors (so a pattern that matches our own command line is ignored). */
function ancestry() {
  const pids = new Set();
  let pid = process.pid;
  while (pid > 1 && !pids.has(pid)) {
    pids.add(pid);
    try {
      pid = Number(
        readFileSync(`/proc/${pid}/stat`, "utf8")
          .replace(/^.*\) /s, "")
          .split(" ")[1],
      );
    } catch {
      break;
    }
  }
  return pids;
}

/** Other processes whose command line matches `pattern` (pgrep -f), ourselves excluded. */
export function busyProcesses(pattern) {
  let out;
  try {
    out = execFileSync("pgrep", ["-f", pattern], { encoding: "utf8" });
  } catch {
    return [];
  }
  const mine = ancestry();
  return lines(out)
    .map(Number)
    .filter((p) => !mine.has(p) && alive(p));
}

/** Waits, polling every `everyMs`, until no other process matches `pattern`. */
export async function waitQuiet(pattern, log, everyMs = 15_000) {
  if (!pattern) return 0;
  const t0 = Date.now();
  let said = false;
  for (;;) {
    const busy = busyProcesses(pattern);
    if (busy.length === 0) return Date.now() - t0;
    if (!said) log(`waiting for processes matching "${pattern}" to finish (${busy.join(", ")}); polling every ${everyMs / 1000} s`);
    said = true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export const round = (x, digits = 0) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : null);

export function parseArgs(argv, spec) {
  const out = { ...spec.defaults };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) throw new Error(`unexpected argument ${a}`);
    const [k, inline] = a.slice(2).split(/=(.*)/s, 2);
    if (spec.flags.includes(k)) {
      out[k] = true;
      continue;
    }
    if (!spec.options.includes(k)) throw new Error(`unknown option --${k}\n${spec.usage}`);
    out[k] = inline ?? argv[++i];
    if (out[k] === undefined) throw new Error(`--${k} needs a value`);
  }
  return out;
}
