// A SASL-authenticated TCP listener on loopback, for the remote-authentication
// tests. A second root libvirtd cannot run beside the system one (the QEMU
// driver locks its pidfile in /run/libvirt/qemu), so the *system* libvirtd is
// restarted with `--listen -f <temp libvirtd.conf>` for the duration of a test
// file and restarted normally (`libvirtd -d`, as scripts/setup.sh does) after it.
// Running domains survive both restarts; the unix sockets keep working
// unauthenticated (as before) in between, so virsh -c qemu:///system still
// checks outcomes independently.
//
// Nothing is installed here: scripts/setup.sh installs sasl2-bin (saslpasswd2)
// and libsasl2-modules (the DIGEST-MD5 plugin). Nothing in /etc is changed:
// Cyrus SASL reads the server's libvirt.conf from SASL_CONF_PATH (honoured for
// processes that are not setuid), which points into the temp dir.
// Callers must hold /var/tmp/lvp-libvirtd.lock (see the README's Tests section).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLibvirtd, stopLibvirtd } from "./daemon";
import { testRunId } from "./host";

/** Fixed and uncommon, so that it cannot meet a libvirtd listening on the standard 16509. */
export const SASL_PORT = 16599;

export interface SaslDaemon {
  /** qemu+tcp://127.0.0.1:<port>/system */
  uri: string;
  username: string;
  /** Random per run, and distinctive enough to search for in state and output. */
  password: string;
  dir: string;
  /** Changes the SASL user's password (DIGEST-MD5 reads the sasldb at every login: effective at once). */
  setPassword(password: string): void;
  /** Restarts the system libvirtd normally and removes the temp dir; safe to call twice. */
  restore(): void;
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function tcpListening(port: number): boolean {
  const out = spawnSync("ss", ["-Htln", `sport = :${port}`], { encoding: "utf8" }).stdout ?? "";
  return out.trim().length > 0;
}

/** The daemon as scripts/setup.sh starts it. */
function restartNormally(): void {
  stopLibvirtd();
  const env = { ...process.env };
  delete env.SASL_CONF_PATH;
  startLibvirtd({ env, what: "restoring the normal daemon" });
}

/**
 * Restarts the system libvirtd with a SASL (DIGEST-MD5) listener on
 * 127.0.0.1:SASL_PORT and one SASL user. Call restore() in afterAll; it also runs
 * when the process exits without it.
 */
export function startSaslDaemon(): SaslDaemon {
  for (const tool of ["saslpasswd2", "ss"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) {
      throw new Error(`${tool} is missing: run scripts/setup.sh (it installs sasl2-bin and libsasl2-modules)`);
    }
  }
  if (!existsSync("/usr/lib/x86_64-linux-gnu/sasl2/libdigestmd5.so") && spawnSync("sh", ["-c", "ls /usr/lib/*/sasl2/libdigestmd5.so"]).status !== 0) {
    throw new Error("the SASL DIGEST-MD5 plugin is missing: run scripts/setup.sh (it installs libsasl2-modules)");
  }
  const dir = mkdtempSync(join(tmpdir(), "lvp-sasl-"));
  const db = join(dir, "passwd.db");
  const username = `lvp-test-${testRunId()}`;
  const password = `pw-${randomBytes(12).toString("hex")}`;
  writeFileSync(
    join(dir, "libvirtd.conf"),
    [
      "listen_tls = 0",
      "listen_tcp = 1",
      'listen_addr = "127.0.0.1"',
      `tcp_port = "${SASL_PORT}"`,
      'auth_tcp = "sasl"',
      // The unix sockets stay where they are and as open to root as before (no polkit), so local tests and virsh keep working.
      'auth_unix_rw = "none"',
      'auth_unix_ro = "none"',
      "",
    ].join("\n"),
  );
  // DIGEST-MD5, not SCRAM or PLAIN: over plain TCP libvirt refuses a mechanism without a security layer (SSF 0).
  writeFileSync(join(dir, "libvirt.conf"), `mech_list: digest-md5\nsasldb_path: ${db}\n`);
  const setPassword = (pw: string) =>
    execFileSync("saslpasswd2", ["-a", "libvirt", "-f", db, "-p", "-c", username], { input: pw, stdio: ["pipe", "ignore", "pipe"] });
  setPassword(password);

  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    process.removeListener("exit", restore);
    try {
      restartNormally();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  // A crashed test file must not leave the system daemon listening on TCP.
  process.on("exit", restore);
  try {
    // Stopped first: a run that died without restore() left libvirtd itself listening there.
    stopLibvirtd();
    if (tcpListening(SASL_PORT))
      throw new Error(`port ${SASL_PORT} is in use by another program; stop it, or change SASL_PORT in test/helpers/sasl-daemon.ts`);
    startLibvirtd({
      args: ["--listen", "-f", join(dir, "libvirtd.conf")],
      env: { ...process.env, SASL_CONF_PATH: dir },
      // Its TCP listener is on the host's loopback, where the tests connect from.
      hostNetwork: true,
      what: "starting libvirtd with a SASL listener",
    });
    for (let i = 0; i < 100 && !tcpListening(SASL_PORT); i++) sleep(50);
    if (!tcpListening(SASL_PORT)) throw new Error(`libvirtd runs but does not listen on 127.0.0.1:${SASL_PORT}`);
  } catch (err) {
    restore();
    throw err;
  }
  const daemon: SaslDaemon = {
    uri: `qemu+tcp://127.0.0.1:${SASL_PORT}/system`,
    username,
    password,
    dir,
    restore,
    setPassword(pw) {
      setPassword(pw);
      daemon.password = pw;
    },
  };
  return daemon;
}

/** A libvirt client auth file (LIBVIRT_AUTH_FILE) for virsh, so the tests can check the listener independently of the provider. */
export function writeVirshAuthFile(d: SaslDaemon): string {
  const file = join(d.dir, "auth.conf");
  writeFileSync(file, `[credentials-lvp]\nauthname=${d.username}\npassword=${d.password}\n\n[auth-libvirt-127.0.0.1]\ncredentials=lvp\n`, {
    mode: 0o600,
  });
  return file;
}
