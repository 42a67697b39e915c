// Entry point of one benchmark process: `node child.cjs <plan.json> <result.json>`.
// CommonJS on purpose: Node's ES-module loader reads files through libuv's
// threadpool, which starts the pool (and fixes its size) before any user code
// runs. Pulumi's dynamic-provider host is CommonJS, and the provider is loaded
// into it before anything else uses the pool; to measure what a user gets, the
// same happens here: @pulumi/pulumi (memory mode) and the provider are required
// first, then the measuring code (child.mjs) is imported.
"use strict";
const { readFileSync } = require("node:fs");
const { createRequire } = require("node:module");
const { join } = require("node:path");

const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
const status = () => {
  const s = readFileSync("/proc/self/status", "utf8");
  const kib = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(s)?.[1] ?? NaN);
  const m = process.memoryUsage();
  return {
    hwmMiB: kib("VmHWM") / 1024,
    rssMiB: kib("VmRSS") / 1024,
    heapTotalMiB: m.heapTotal / 2 ** 20,
    heapUsedMiB: m.heapUsed / 2 ** 20,
    externalMiB: m.external / 2 ** 20,
  };
};
const stages = [{ stage: "node started", ...status() }];
const req = createRequire(join(plan.pkg, "package.json"));
if (plan.mode === "memory") {
  // The dynamic-provider host has @pulumi/pulumi loaded: so does every memory measurement.
  req("@pulumi/pulumi");
  stages.push({ stage: "@pulumi/pulumi loaded", ...status() });
}
if (plan.mode !== "memory" || plan.side !== "idle") {
  require("./workload-spawns.cjs"); // counts qemu-img spawns: before the provider captures execFile
  req(join(plan.pkg, "dist/provider/index.js"));
  stages.push({ stage: "provider modules loaded", ...status() });
}
globalThis.__lvpBench = { plan, stages };
import("./child.mjs").catch((err) => {
  console.error(err);
  process.exit(1);
});
