// Stops, kills and starts the system libvirtd for the daemon-fault and remote
// tests: the one place that controls the daemon. Tests that use it run one file
// at a time (vitest runs files sequentially here), hold
// /var/tmp/lvp-libvirtd.lock when run by hand, and leave the daemon running as
// scripts/setup.sh starts it.
//
// Synchronous on purpose: sasl-daemon.ts restores the daemon from a process
// "exit" handler, where nothing asynchronous runs.
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { QEMU_URI } from "./host";

/** Where `libvirtd -d` run as root writes its PID. */
const PIDFILE = "/run/libvirtd.pid";

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** A live process (a killed daemon can linger as a zombie until its parent reaps it). */
function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

/** The running libvirtd, by its pidfile (never by name: other daemons are not ours). */
function daemonPid(): number | undefined {
  try {
    const pid = Number(readFileSync(PIDFILE, "utf8").trim());
    return pid > 0 && readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "libvirtd" ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function libvirtdAnswers(): boolean {
  return spawnSync("virsh", ["-c", QEMU_URI, "version"], { stdio: "ignore", timeout: 10_000 }).status === 0;
}

/** Sends `signal` to libvirtd and waits until it is gone. */
export function stopLibvirtd(signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): void {
  const pid = daemonPid();
  if (!pid) return;
  process.kill(pid, signal);
  for (let i = 0; i < 200 && alive(pid); i++) sleep(50);
  if (alive(pid)) throw new Error(`libvirtd (pid ${pid}) did not exit within 10 s of ${signal}; stop it by hand and run \`libvirtd -d\``);
}

/**
 * Runs a command with only stdin/stdout/stderr open. A daemon keeps every
 * descriptor it inherits: started with a caller's flock descriptor open, it
 * would hold that lock for as long as it runs, and later test runs would wait forever.
 */
const WITHOUT_INHERITED_FDS = 'for fd in /proc/$$/fd/*; do n=${fd##*/}; if [ "$n" -gt 2 ]; then eval "exec $n>&-" 2>/dev/null; fi; done; exec "$@"';

/**
 * Starts `libvirtd -d` (as scripts/setup.sh does; `args` and `env` for a special
 * configuration) unless a daemon answers already, and waits until it answers.
 */
export function startLibvirtd(opts: { args?: string[]; env?: NodeJS.ProcessEnv; what?: string } = {}): void {
  if (libvirtdAnswers()) return;
  execFileSync("bash", ["-c", WITHOUT_INHERITED_FDS, "bash", "libvirtd", "-d", ...(opts.args ?? [])], {
    env: opts.env ?? process.env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  for (let i = 0; i < 300; i++) {
    if (libvirtdAnswers()) return;
    sleep(100);
  }
  throw new Error(`${opts.what ?? "starting libvirtd"}: libvirtd did not answer on ${QEMU_URI} within 30 s; see /var/log/libvirt/libvirtd.log`);
}

export function restartLibvirtd(): void {
  stopLibvirtd();
  startLibvirtd();
}
