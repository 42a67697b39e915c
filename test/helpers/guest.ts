// The real Linux guest of the tests (scripts/guest-image.sh: built once from
// Debian packages, cached outside the clone by its recipe) and what it takes to
// talk to it from outside: the QEMU guest agent through libvirt.
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { virshTry } from "./host";

const root = join(__dirname, "../..");

export interface GuestImage {
  dir: string;
  disk: string;
  kernel: string;
  initrd: string;
  cmdline: string;
}

/** Builds the image on first use (about a minute, with progress on stderr), else returns the cached one. */
export function guestImage(): GuestImage {
  const out = execFileSync("bash", [join(root, "scripts/guest-image.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 15 * 60_000,
  });
  const dir = out.trim().split("\n").pop()!;
  const cmdline = execFileSync("cat", [join(dir, "cmdline")], { encoding: "utf8" }).trim();
  return { dir, disk: join(dir, "disk.qcow2"), kernel: join(dir, "vmlinuz"), initrd: join(dir, "initrd.img"), cmdline };
}

/**
 * The image, with its kernel and initrd copied to `dir`/boot: QEMU runs as
 * libvirt-qemu, which cannot enter /root where the image is cached.
 */
export function stageGuestBoot(dir: string): GuestImage {
  const image = guestImage();
  mkdirSync(join(dir, "boot"), { recursive: true });
  chmodSync(dir, 0o755);
  chmodSync(join(dir, "boot"), 0o755);
  copyFileSync(image.kernel, join(dir, "boot/vmlinuz"));
  copyFileSync(image.initrd, join(dir, "boot/initrd.img"));
  return image;
}

/**
 * Domain inputs that boot the real guest staged in `dir` (stageGuestBoot): TCG
 * (type "qemu": KVM cannot boot a Linux kernel on these nested hosts), machine
 * "pc" (its IDE bus takes a cloud-init cdrom), direct kernel boot, a serial
 * console and the agent's channel. `extra` adds disks and the rest.
 */
export function guestDomainInputs(name: string, dir: string, image: GuestImage, extra: Record<string, unknown>): Record<string, unknown> {
  return {
    name,
    type: "qemu",
    machine: "pc",
    memoryMiB: 512,
    kernel: join(dir, "boot/vmlinuz"),
    initrd: join(dir, "boot/initrd.img"),
    cmdline: image.cmdline,
    serialConsole: true,
    qemuGuestAgent: true,
    ...extra,
  };
}

/** One guest-agent command through libvirt (virsh qemu-agent-command); undefined while the agent does not answer. */
export function agentCommand(uri: string, domain: string, command: object): unknown {
  const { ok, out } = virshTry(uri, "qemu-agent-command", domain, JSON.stringify(command));
  return ok ? (JSON.parse(out) as { return: unknown }).return : undefined;
}

/** Polls `probe` every 2 s (without blocking the event loop) until it returns a value, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined): Promise<{ value: T; seconds: number }> {
  const start = Date.now();
  for (;;) {
    const value = probe();
    if (value !== undefined) return { value, seconds: (Date.now() - start) / 1000 };
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: nothing after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** The contents of a file inside the guest, read through the agent (guest-file-open/read/close). */
export function readGuestFile(uri: string, domain: string, path: string): string | undefined {
  const handle = agentCommand(uri, domain, { execute: "guest-file-open", arguments: { path, mode: "r" } });
  if (typeof handle !== "number") return undefined;
  try {
    const read = agentCommand(uri, domain, { execute: "guest-file-read", arguments: { handle, count: 65536 } }) as { "buf-b64"?: string } | undefined;
    return read?.["buf-b64"] === undefined ? undefined : Buffer.from(read["buf-b64"], "base64").toString("utf8");
  } finally {
    agentCommand(uri, domain, { execute: "guest-file-close", arguments: { handle } });
  }
}

/**
 * Runs a program in the guest through the agent (guest-exec, then guest-exec-status
 * until it exits, at most `timeoutMs`) and returns its output; undefined while the
 * agent does not answer. For diagnostics: what the guest itself says.
 */
export async function guestExec(uri: string, domain: string, path: string, args: string[], timeoutMs = 20_000): Promise<string | undefined> {
  const started = agentCommand(uri, domain, { execute: "guest-exec", arguments: { path, arg: args, "capture-output": true } }) as
    { pid?: number } | undefined;
  if (started?.pid === undefined) return undefined;
  const t0 = Date.now();
  for (;;) {
    const s = agentCommand(uri, domain, { execute: "guest-exec-status", arguments: { pid: started.pid } }) as
      { exited?: boolean; exitcode?: number; "out-data"?: string; "err-data"?: string } | undefined;
    if (s?.exited) {
      const text = (b64?: string) => (b64 ? Buffer.from(b64, "base64").toString("utf8") : "");
      return `${text(s["out-data"])}${text(s["err-data"])}${s.exitcode ? `(exit code ${s.exitcode})\n` : ""}`;
    }
    if (Date.now() - t0 > timeoutMs) return `(${path} did not exit within ${timeoutMs / 1000} s)`;
    await new Promise((r) => setTimeout(r, 500));
  }
}
