// The memory a Volume create costs Pulumi's provider process, measured in a fresh
// Node process that loads only the provider (as Pulumi's does). Its peak is
// VmHWM (this process image's high-water RSS) and 10 ms samples; getrusage's
// maxRSS is no use here, as Linux carries the parent's (vitest's) peak over fork + exec.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";

export interface MeasuredCreate {
  id: string;
  outs: Record<string, unknown> & { path: string; name: string };
  /** RSS once libvirt is loaded and a connection open, before check. */
  base: number;
  peak: number;
  sampled: number;
  hwm: number;
  seconds: number;
  /** What the provider printed (progress lines). */
  stderr: string;
}

/** check + create of a Volume with `inputs` in a fresh provider process. */
export async function measuredVolumeCreate(uri: string, inputs: Record<string, unknown>): Promise<MeasuredCreate> {
  const providerPath = createRequire(__filename).resolve("libvirt-pulumi/provider");
  const script = `
    const p = require(${JSON.stringify(providerPath)});
    (async () => {
      await p.withConnection({ uri: ${JSON.stringify(uri)} }, async () => undefined); // libvirt loaded, connection open
      const base = process.memoryUsage().rss;
      let sampled = base;
      const timer = setInterval(() => { sampled = Math.max(sampled, process.memoryUsage().rss); }, 10);
      const started = Date.now();
      const checked = await p.volumeProvider.check({}, ${JSON.stringify(inputs)});
      const { id, outs } = await p.volumeProvider.create(checked.inputs);
      clearInterval(timer);
      const seconds = (Date.now() - started) / 1000;
      const hwm = Number(/VmHWM:\\s+(\\d+) kB/.exec(require("fs").readFileSync("/proc/self/status", "utf8"))[1]) * 1024;
      process.stdout.write(JSON.stringify({ id, outs, base, sampled, hwm, seconds }));
      await p.closeAllConnections();
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const code = await new Promise<number>((resolve) => child.on("close", resolve));
  if (code !== 0) throw new Error(`the provider process failed (exit ${code}): ${stderr}`);
  const r = JSON.parse(stdout) as Omit<MeasuredCreate, "peak" | "stderr">;
  return { ...r, peak: Math.max(r.sampled, r.hwm), stderr };
}

const MiB = 1024 * 1024;

/** One line for the test log: duration, RSS before, peak and growth. */
export const rssReport = (label: string, r: MeasuredCreate): string =>
  `[${label}] ${r.seconds.toFixed(2)} s; provider RSS before ${(r.base / MiB).toFixed(1)} MiB, peak ${(r.peak / MiB).toFixed(1)} MiB ` +
  `(sampled ${(r.sampled / MiB).toFixed(1)}, VmHWM ${(r.hwm / MiB).toFixed(1)}): growth ${((r.peak - r.base) / MiB).toFixed(1)} MiB`;
