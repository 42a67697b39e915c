// Independent views of the hypervisor (virsh, qemu-img) and throw-away disks.
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";

export const QEMU_URI = "qemu:///system";
/** Everything an integration test creates is named with this prefix; the sweeper removes leftovers. */
export const TEST_PREFIX = "lvp-test-";

/**
 * The vitest run that creates a name: its main process's PID, set by the global
 * setup. The sweeper removes only names of runs that are no longer alive, so
 * two runs side by side do not remove each other's domains.
 */
export const testRunId = (): string => process.env.LVP_TEST_RUN ?? String(process.pid);

export function uniqueName(label: string): string {
  return `${TEST_PREFIX}${testRunId()}-${label}-${randomBytes(3).toString("hex")}`;
}

/** The run PID in a test name, if it has one. */
export function runOf(name: string): number | undefined {
  const m = new RegExp(`^${TEST_PREFIX}(\\d+)-`).exec(name);
  return m ? Number(m[1]) : undefined;
}

export function virsh(uri: string, ...args: string[]): string {
  return execFileSync("virsh", ["-q", "-c", uri, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

/** Like virsh, but returns the error text instead of throwing. */
export function virshTry(uri: string, ...args: string[]): { ok: boolean; out: string } {
  try {
    return { ok: true, out: virsh(uri, ...args) };
  } catch (err) {
    return { ok: false, out: String((err as { stderr?: string }).stderr ?? err) };
  }
}

/**
 * Removes a domain whatever state it is in (stopped first; its snapshot, managed-save,
 * checkpoint metadata and NVRAM with it), with virsh: a provider bug cannot get in the way.
 */
export function removeDomain(uri: string, name: string): void {
  virshTry(uri, "destroy", name);
  virshTry(uri, "undefine", name, "--snapshots-metadata", "--managed-save", "--checkpoints-metadata", "--nvram");
}

/** Removes a storage pool (stopped first), with virsh; its directory is left to the caller. */
export function removePool(uri: string, name: string): void {
  virshTry(uri, "pool-destroy", name);
  virshTry(uri, "pool-undefine", name);
}

export function domainNames(uri: string): string[] {
  const out = virsh(uri, "list", "--all", "--name");
  return out
    ? out
        .split("\n")
        .map((s) => s.trim())
        .filter(Boolean)
    : [];
}

/** Every network libvirt has, running or not (`virsh net-list --all`). */
export function networkNames(uri: string): string[] {
  return virsh(uri, "net-list", "--all", "--name")
    .split("\n")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** `virsh net-info` of a network as a record ("Name", "UUID", "Active", "Persistent", "Autostart", "Bridge"). */
export function netInfo(uri: string, name: string): Record<string, string> {
  return Object.fromEntries(
    virsh(uri, "net-info", name)
      .split("\n")
      .map((l) => /^([^:]+):\s*(.*)$/.exec(l.trim()))
      .filter((m): m is RegExpExecArray => !!m)
      .map((m) => [m[1], m[2]]),
  );
}

export function domainState(uri: string, name: string): string {
  return virsh(uri, "domstate", name);
}

export function snapshotNames(uri: string, domain: string): string[] {
  const out = virsh(uri, "snapshot-list", domain, "--name");
  return out
    ? out
        .split("\n")
        .map((s) => s.trim())
        .filter(Boolean)
    : [];
}

/** Internal snapshots recorded inside a qcow2 image, as qemu-img sees them (-U: the VM may hold the image). */
export function qcow2Snapshots(file: string): string[] {
  const out = execFileSync("qemu-img", ["snapshot", "-U", "-l", file], { encoding: "utf8" });
  return out
    .split("\n")
    .slice(2)
    .map((l) => l.trim().split(/\s+/)[1])
    .filter(Boolean);
}

/** Writes 64 KiB of `byte` at offset 0 of a qcow2 image that no running VM uses (qemu-io): a marker to find again. */
export function writeMarker(file: string, byte: number): void {
  execFileSync("qemu-io", ["-f", "qcow2", "-c", `write -P ${byte} 0 64k`, file], { stdio: ["ignore", "pipe", "pipe"] });
}

/** The same marker written into vda of a running domain through QEMU's monitor (qemu-io on the device: the VM holds the image's lock), flushed. */
export function writeMarkerLive(domain: string, byte: number): void {
  for (const command of [`write -P ${byte} 0 64k`, "flush"])
    virsh(QEMU_URI, "qemu-monitor-command", domain, "--hmp", `qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend "${command}"`);
}

/** Whether the first 64 KiB of a qcow2 image are all `byte`, as qemu-io reads them (read-only). */
export function holdsMarker(file: string, byte: number): boolean {
  try {
    const out = execFileSync("qemu-io", ["-r", "-f", "qcow2", "-c", `read -P ${byte} 0 64k`, file], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    return /read 65536\/65536 bytes/.test(out);
  } catch (err) {
    // qemu-io exits 1 when the data differs from the pattern; anything else is a real failure.
    if (/Pattern verification failed/.test(String((err as { stdout?: string }).stdout))) return false;
    throw err;
  }
}

/**
 * Whether the image's internal snapshot `snapshot` holds the marker `byte`: the
 * snapshot is applied (qemu-img snapshot -a) to a copy in `dir`, never to the image.
 */
export function snapshotHoldsMarker(file: string, snapshot: string, byte: number, dir: string): boolean {
  const copy = join(dir, `copy-${randomBytes(3).toString("hex")}.qcow2`);
  copyFileSync(file, copy);
  try {
    execFileSync("qemu-img", ["snapshot", "-a", snapshot, copy]);
    return holdsMarker(copy, byte);
  } finally {
    rmSync(copy, { force: true });
  }
}

/** Images live where libvirt's QEMU user may read them (a 0700 mkdtemp dir is not). */
export function makeImageDir(label: string): { dir: string; qcow2(name: string, sizeMiB?: number): string; remove(): void } {
  const dir = join("/var/lib/libvirt/images", uniqueName(label));
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  return {
    dir,
    qcow2(name, sizeMiB = 16) {
      const file = join(dir, name);
      execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", file, `${sizeMiB}M`]);
      return file;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function hasKvm(): boolean {
  try {
    execFileSync("test", ["-w", "/dev/kvm"]);
    return true;
  } catch {
    return false;
  }
}

/** The volumes libvirt lists in `pool` after a rescan (files made by hand included), sorted. */
export function volumeNames(uri: string, pool: string): string[] {
  virsh(uri, "pool-refresh", pool);
  const out = virsh(uri, "vol-list", pool);
  return out
    ? out
        .split("\n")
        .map((l) => l.trim().split(/\s+/)[0])
        .filter(Boolean)
        .sort()
    : [];
}

/**
 * The clients of the system libvirtd that process `pid` has connected (their client IDs), as the
 * daemon itself lists them (virt-admin srv-clients-list, then client-info for each one's PID).
 */
export function daemonClientsOf(pid: number): number[] {
  const admin = (...args: string[]) =>
    execFileSync("virt-admin", ["-q", "-c", "libvirtd:///system", ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const ids = admin("srv-clients-list", "libvirtd")
    .split("\n")
    .map((l) => Number(l.trim().split(/\s+/)[0]))
    .filter((id) => Number.isInteger(id) && id > 0);
  return ids.filter((id) => {
    try {
      return Number(/unix_process_id\s*:\s*(\d+)/.exec(admin("client-info", "libvirtd", String(id)))?.[1]) === pid;
    } catch {
      return false; // disconnected between the list and the lookup
    }
  });
}
