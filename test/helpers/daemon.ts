// Stops, kills and starts the system libvirtd for the daemon-fault tests. Tests
// that use it run one file at a time (vitest runs files sequentially here) and
// always leave the daemon running, as scripts/setup.sh starts it.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { QEMU_URI } from "./host";

function succeeds(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** A live libvirtd process (`pgrep` alone also matches a zombie left by `libvirtd -d`). */
function libvirtdAlive(): boolean {
  let pids: string[];
  try {
    pids = execFileSync("pgrep", ["-x", "libvirtd"], { encoding: "utf8" }).split("\n").filter(Boolean);
  } catch {
    return false; // none
  }
  return pids.some((pid) => {
    try {
      return !/^State:\s*Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
    } catch {
      return false; // exited meanwhile
    }
  });
}
export const libvirtdAnswers = () => succeeds("virsh", ["-c", QEMU_URI, "version"]);

/** Sends `signal` to libvirtd and waits until it is gone. */
export async function stopLibvirtd(signal: "TERM" | "KILL" = "TERM"): Promise<void> {
  succeeds("pkill", [`-${signal}`, "-x", "libvirtd"]);
  for (let i = 0; i < 100 && libvirtdAlive(); i++) await sleep(100);
  if (libvirtdAlive()) throw new Error(`libvirtd did not exit after SIG${signal}`);
}

/** Starts libvirtd (`libvirtd -d`, as scripts/setup.sh does) and waits until it answers. */
export async function startLibvirtd(): Promise<void> {
  if (libvirtdAnswers()) return;
  // Closing inherited descriptors first: the daemon would otherwise hold, for as
  // long as it runs, whatever this process inherited (a caller's flock, CI pipes).
  execFileSync("bash", ["-c", 'for fd in $(ls /proc/$$/fd); do if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null; fi; done; exec libvirtd -d'], { stdio: "ignore" });
  for (let i = 0; i < 300; i++) {
    if (libvirtdAnswers()) return;
    await sleep(100);
  }
  throw new Error("libvirtd did not answer on qemu:///system within 30 s; see /var/log/libvirt/libvirtd.log");
}

export async function restartLibvirtd(): Promise<void> {
  await stopLibvirtd();
  await startLibvirtd();
}
