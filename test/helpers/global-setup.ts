// Removes what an interrupted earlier run left behind: domains and image
// directories named with the test prefix, and networks. Uses virsh, not the provider, so a
// provider bug cannot hide leftovers.
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { QEMU_URI, TEST_PREFIX, domainNames, removeDomain, removePool, runOf, virshTry } from "./host";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A leftover: named by a test run that has ended (or by an older naming scheme). */
export function isLeftover(name: string): boolean {
  if (!name.startsWith(TEST_PREFIX)) return false;
  const run = runOf(name);
  return run === undefined || (run !== process.pid && !alive(run));
}

export default function sweep(): void {
  // Test files (forked workers) name what they create after this run.
  process.env.LVP_TEST_RUN = String(process.pid);
  for (const name of domainNames(QEMU_URI).filter(isLeftover)) {
    removeDomain(QEMU_URI, name);
  }
  // Storage pools (their directories are removed below, with the image directories).
  const pools = virshTry(QEMU_URI, "pool-list", "--all", "--name");
  for (const pool of (pools.ok ? pools.out.split("\n") : []).map((n) => n.trim()).filter(isLeftover)) {
    removePool(QEMU_URI, pool);
  }
  // Networks (after the domains, whose interfaces would keep them).
  const networks = virshTry(QEMU_URI, "net-list", "--all", "--name");
  for (const net of (networks.ok ? networks.out.split("\n") : []).map((n) => n.trim()).filter(isLeftover)) {
    virshTry(QEMU_URI, "net-destroy", net);
    virshTry(QEMU_URI, "net-undefine", net);
  }
  for (const entry of readdirSync("/var/lib/libvirt/images").filter(isLeftover)) {
    rmSync(join("/var/lib/libvirt/images", entry), { recursive: true, force: true });
  }
}
