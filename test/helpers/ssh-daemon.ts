// An sshd on loopback, started by the test, in front of a second hypervisor: the QEMU
// session daemon (qemu:///session) of the unprivileged user lvp-test, which shares
// nothing with qemu:///system (its own domains, pools, snapshots, config under
// /var/lib/lvp-test). libvirt's qemu+ssh transport runs the `ssh` binary; on the far
// side sshd runs virt-ssh-helper as lvp-test, which starts that user's session
// daemon (`libvirtd --timeout=120`) when none runs.
//
// scripts/setup.sh installs openssh-server and creates the user; everything else is
// here and per run: a throw-away host key and client key, an sshd_config in a temp
// dir under /run (root-owned and not writable by others all the way up, so sshd's
// StrictModes check of the AuthorizedKeysFile passes), `ListenAddress 127.0.0.1`, a
// free port, key-only login for lvp-test alone. sshd runs in the foreground (-D) as
// a child and is stopped by its PID.
//
// Host keys: the ssh binary reads the known_hosts of the passwd entry of the user it
// runs as (root's /root/.ssh/known_hosts; $HOME is not consulted), so that is what
// these tests exercise. Only lines for this run's "[127.0.0.1]:PORT" are ever added
// or removed there (plain or hashed, as no_verify=1 makes ssh write them), and they
// are removed again at stop and at process exit; a file or folder that was not there
// before is removed again.
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHmac } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { userInfo } from "node:os";
import { join } from "node:path";
import { isLeftover } from "./global-setup";
import { virshTry } from "./host";

export const SSH_USER = "lvp-test";
export const SSH_USER_HOME = "/var/lib/lvp-test";

export interface SshDaemon {
  port: number;
  pid: number;
  dir: string;
  /** The private key authorized for lvp-test. */
  clientKey: string;
  /** A private key sshd does not accept. */
  otherKey: string;
  /** "ssh-ed25519 AAAA...": the daemon's host key. */
  hostKey: string;
  /** A host key that is not the daemon's (for a "changed host key"). */
  otherHostKey: string;
  /** qemu+ssh://lvp-test@127.0.0.1:PORT/session?keyfile=<clientKey>, with `params` after it (a param set to null is left out). */
  uri(params?: Record<string, string | null>): string;
  /** Replaces this port's known_hosts entries of the client (root) by one line for `key` (default: the daemon's own). */
  trustHostKey(key?: string): void;
  /** Removes every known_hosts line of the client for this port (hashed ones too). */
  forgetHostKey(): void;
  /** Whether the client's known_hosts has a line for this port. */
  hostKnown(): boolean;
  log(): string;
  /** Stops sshd by its PID (and waits for it), removes this port's known_hosts lines and the temp dir; safe to call twice. */
  stop(): Promise<void>;
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** A port nothing listens on right now (bound to 127.0.0.1:0, then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function keyPair(file: string, comment: string): string {
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file]);
  return readFileSync(`${file}.pub`, "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
}

/** The client's known_hosts: that of the passwd entry of the user this process runs as, as ssh reads it. */
function knownHostsFile(): string {
  return join(userInfo().homedir, ".ssh", "known_hosts");
}

/** Whether a known_hosts line is for `host` ("[127.0.0.1]:PORT"): a plain pattern list, or a hashed |1|salt|hash entry. */
function lineIsFor(line: string, host: string): boolean {
  const first = line.trim().split(/\s+/, 1)[0] ?? "";
  if (first.startsWith("|1|")) {
    const [, , salt, hash] = first.split("|");
    if (!salt || !hash) return false;
    return createHmac("sha1", Buffer.from(salt, "base64")).update(host).digest("base64") === hash;
  }
  return first.split(",").includes(host);
}

/** Starts sshd; call stop() in afterAll (it also runs when the process exits without it). */
export async function startSshDaemon(): Promise<SshDaemon> {
  if (!existsSync("/usr/sbin/sshd")) throw new Error("/usr/sbin/sshd is missing: run scripts/setup.sh (it installs openssh-server)");
  if (spawnSync("id", [SSH_USER]).status !== 0) throw new Error(`user ${SSH_USER} is missing: run scripts/setup.sh (it creates it)`);
  // sshd's privilege-separation directory lives on /run (a tmpfs): gone after a reboot.
  if (!existsSync("/run/sshd")) mkdirSync("/run/sshd", { mode: 0o755 });
  const dir = mkdtempSync("/run/lvp-ssh-");
  chmodSync(dir, 0o755);
  const hostKeyFile = join(dir, "host_key");
  const hostKey = keyPair(hostKeyFile, "lvp-test-host");
  const otherHostKey = keyPair(join(dir, "other_host_key"), "lvp-test-other-host");
  const clientKey = join(dir, "client_key");
  writeFileSync(join(dir, "authorized_keys"), `${keyPair(clientKey, "lvp-test-client")}\n`, { mode: 0o644 });
  const otherKey = join(dir, "other_key");
  keyPair(otherKey, "lvp-test-unauthorized");
  const port = await freePort();
  const config = join(dir, "sshd_config");
  writeFileSync(
    config,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKeyFile}`,
      "PidFile none",
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      "PubkeyAuthentication yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "PermitRootLogin no",
      `AllowUsers ${SSH_USER}`,
      "AllowTcpForwarding no",
      "X11Forwarding no",
      "LogLevel VERBOSE",
      "",
    ].join("\n"),
  );
  const logFile = join(dir, "sshd.log");
  const test = spawnSync("/usr/sbin/sshd", ["-t", "-f", config], { encoding: "utf8" });
  if (test.status !== 0) throw new Error(`sshd rejects its test config: ${test.stderr}`);
  const child: ChildProcess = spawn("/usr/sbin/sshd", ["-D", "-f", config, "-E", logFile], { stdio: "ignore" });
  const pid = child.pid!;

  const host = `[127.0.0.1]:${port}`;
  const khFile = knownHostsFile();
  const sshDirExisted = existsSync(join(khFile, ".."));
  const khExisted = existsSync(khFile);
  const readLines = () => (existsSync(khFile) ? readFileSync(khFile, "utf8").split("\n") : []);
  const writeLines = (lines: string[]) => {
    const kept = lines.filter((l) => l.trim() !== "");
    if (kept.length === 0 && !khExisted) {
      rmSync(khFile, { force: true });
      return;
    }
    const mode = existsSync(khFile) ? statSync(khFile).mode & 0o777 : 0o644;
    writeFileSync(khFile, kept.length ? `${kept.join("\n")}\n` : "", { mode });
  };
  const forgetHostKey = () => writeLines(readLines().filter((l) => !lineIsFor(l, host)));

  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let stopped = false;
  /** Synchronous, for the exit handler too: the signal, then this run's traces. */
  const stopNow = () => {
    if (stopped) return;
    stopped = true;
    process.removeListener("exit", stopNow);
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      // already gone
    }
    forgetHostKey();
    if (!sshDirExisted && !existsSync(khFile)) {
      try {
        rmdirSync(join(khFile, ".."));
      } catch {
        // not empty: something else wrote there meanwhile; left alone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const stop = async () => {
    stopNow();
    // Reaped by this process (its parent), within 5 s, or killed.
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  };
  process.on("exit", stopNow);

  // Listening once it answers with its banner.
  const banner = () => spawnSync("nc", ["-w", "1", "127.0.0.1", String(port)], { input: "", encoding: "utf8", timeout: 2000 }).stdout ?? "";
  for (let i = 0; i < 100 && !banner().startsWith("SSH-2.0-"); i++) sleep(50);
  if (!banner().startsWith("SSH-2.0-")) {
    const log = existsSync(logFile) ? readFileSync(logFile, "utf8") : "";
    await stop();
    throw new Error(`sshd did not answer on 127.0.0.1:${port}: ${log}`);
  }
  forgetHostKey(); // a line a dead run left for this port

  return {
    port,
    pid,
    dir,
    clientKey,
    otherKey,
    hostKey,
    otherHostKey,
    uri(params = {}) {
      const all: Record<string, string | null> = { keyfile: clientKey, ...params };
      const q = Object.entries(all)
        .filter((e): e is [string, string] => e[1] !== null)
        .map(([k, v]) => `${k}=${encodeURIComponent(v).replace(/%2F/g, "/")}`)
        .join("&");
      return `qemu+ssh://${SSH_USER}@127.0.0.1:${port}/session${q ? `?${q}` : ""}`;
    },
    trustHostKey(key = hostKey) {
      if (!existsSync(join(khFile, ".."))) mkdirSync(join(khFile, ".."), { mode: 0o700 });
      writeLines([...readLines().filter((l) => !lineIsFor(l, host)), `${host} ${key}`]);
    },
    forgetHostKey,
    hostKnown: () => readLines().some((l) => lineIsFor(l, host)),
    log: () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : ""),
    stop,
  };
}

/** Whether a process runs (a zombie, dead but not yet reaped, does not). */
export function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

/** The PID of lvp-test's session libvirtd or virtlogd (from its pid file), if one runs. */
export function sessionDaemonPid(daemon: "libvirtd" | "virtlogd" = "libvirtd"): number | undefined {
  const file = join(SSH_USER_HOME, `.cache/libvirt/${daemon}.pid`);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, "utf8").trim());
  if (!pid || !alive(pid)) return undefined;
  // The PID is that daemon's only if the process is that program running as lvp-test (a stale file may name another).
  const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
  const program = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0];
  const expectedUid = Number(execFileSync("id", ["-u", SSH_USER], { encoding: "utf8" }).trim());
  return uid === expectedUid && program.endsWith(`/${daemon}`) ? pid : undefined;
}

function stopByPid(pid: number | undefined): void {
  if (!pid) return;
  process.kill(pid, "SIGTERM");
  for (let i = 0; i < 100 && alive(pid); i++) sleep(50);
}

/** Removes domains (stopped first, with their snapshot metadata), pools and folders, through virsh on `uri` (folders directly). */
function removeFromSession(uri: string, what: { domains?: Iterable<string>; pools?: Iterable<string>; dirs?: Iterable<string> }): void {
  for (const d of what.domains ?? []) {
    virshTry(uri, "destroy", d);
    virshTry(uri, "undefine", d, "--snapshots-metadata", "--managed-save", "--checkpoints-metadata", "--nvram");
  }
  for (const p of what.pools ?? []) {
    virshTry(uri, "pool-destroy", p);
    virshTry(uri, "pool-undefine", p);
  }
  for (const d of what.dirs ?? []) rmSync(d, { recursive: true, force: true });
}

const listed = (r: { ok: boolean; out: string }) =>
  r.ok
    ? r.out
        .split("\n")
        .map((l) => l.trim())
        .filter(Boolean)
    : [];

/** What runs that are no longer alive left in lvp-test's session (their names carry the dead run's PID), removed through `uri`. */
export function sweepSession(uri: string): void {
  removeFromSession(uri, {
    domains: listed(virshTry(uri, "list", "--all", "--name")).filter(isLeftover),
    pools: listed(virshTry(uri, "pool-list", "--all", "--name")).filter(isLeftover),
    dirs: readdirSync(SSH_USER_HOME)
      .filter(isLeftover)
      .map((d) => join(SSH_USER_HOME, d)),
  });
}

/**
 * Removes what a run made in lvp-test's session daemon (domains with their snapshot
 * metadata, pools, the pools' folders under its home), through virsh on `uri`,
 * then stops the session daemon and its virtlogd by their PIDs when no domain is
 * left in it (another run's would keep them). Returns the domains left there.
 */
export function cleanSession(uri: string, names: { domains: Iterable<string>; pools: Iterable<string>; dirs: Iterable<string> }): string[] {
  removeFromSession(uri, names);
  const left = virshTry(uri, "list", "--all", "--name");
  if (left.ok && left.out.trim() === "") {
    // The session daemon, then the log daemon it started (both would end after 120 s idle anyway).
    stopByPid(sessionDaemonPid("libvirtd"));
    stopByPid(sessionDaemonPid("virtlogd"));
  }
  return listed(left);
}

/** The command lines of the ssh processes whose arguments name `port` (read from /proc; nothing is signalled). */
export function sshProcesses(port: number): string[][] {
  return readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .flatMap((p) => {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0");
        return cmd[0] === "ssh" && cmd.includes(String(port)) ? [cmd] : [];
      } catch {
        return [];
      }
    });
}
