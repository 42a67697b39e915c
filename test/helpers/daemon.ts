// Stops, kills and starts the system libvirtd for the daemon-fault and remote
// tests: the one place that controls the daemon. Tests that use it run one file
// at a time (vitest runs files sequentially here), hold
// /var/tmp/lvp-libvirtd.lock when run by hand, and leave the daemon running as
// scripts/setup.sh starts it.
//
// Synchronous on purpose: sasl-daemon.ts restores the daemon from a process
// "exit" handler, where nothing asynchronous runs.
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
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

/** scripts/start-libvirtd.sh: `libvirtd -d` in the test network namespace, as scripts/setup.sh starts it. */
const START_SCRIPT = join(__dirname, "../../scripts/start-libvirtd.sh");

/** The network namespace the tests' libvirtd runs in (scripts/start-libvirtd.sh). */
export const TEST_NETNS = process.env.LIBVIRT_PULUMI_NETNS || "lvp-test";

/**
 * Starts libvirtd (scripts/start-libvirtd.sh; `args` and `env` for a special
 * configuration, `hostNetwork` for a TCP listener the host must reach) unless a
 * daemon answers already, and waits until it answers.
 */
export function startLibvirtd(opts: { args?: string[]; env?: NodeJS.ProcessEnv; what?: string; hostNetwork?: boolean } = {}): void {
  if (libvirtdAnswers()) return;
  const env = { ...(opts.env ?? process.env), ...(opts.hostNetwork ? { LIBVIRT_PULUMI_NETNS: "none" } : {}) };
  execFileSync(START_SCRIPT, opts.args ?? [], { env, stdio: ["ignore", "ignore", "pipe"] });
  for (let i = 0; i < 300; i++) {
    if (libvirtdAnswers()) return;
    sleep(100);
  }
  throw new Error(`${opts.what ?? "starting libvirtd"}: libvirtd did not answer on ${QEMU_URI} within 30 s; see /var/log/libvirt/libvirtd.log`);
}

/** Whether the running libvirtd is inside the test network namespace (where networks with host-side addresses may be made). */
export function libvirtdInTestNetns(): boolean {
  const pid = daemonPid();
  if (!pid) return false;
  try {
    return statSync(`/proc/${pid}/ns/net`).ino === statSync(`/run/netns/${TEST_NETNS}`).ino;
  } catch {
    return false;
  }
}

export function restartLibvirtd(): void {
  stopLibvirtd();
  startLibvirtd();
}
