// Loaded with NODE_OPTIONS=--require into every Node process `pulumi up` and
// `pulumi destroy` start (the program run by the language host, the
// dynamic-provider host), when LVP_BENCH_TIMELINE names a file. It appends one
// JSON line per event: process start, the program reaching `libvirt-pulumi`,
// the provider module loaded, and every provider call's start and end. The
// benchmark turns these into a timeline of where an engine run spends its time;
// test/e2e/two-hosts.test.ts reads the hypervisor of each call (scheme and host
// of its uri: no user or parameters) to see two hosts' work overlap.
"use strict";
const file = process.env.LVP_BENCH_TIMELINE;
if (file) {
  const fs = require("fs");
  const script = process.argv[1] || "";
  const role = /dynamic-provider/.test(script) ? "provider" : /[\\/]cmd[\\/]run/.test(script) ? "program" : "other";
  const now = () => performance.timeOrigin + performance.now();
  const threads = () => {
    try {
      return Number(/^Threads:\s+(\d+)/m.exec(fs.readFileSync("/proc/self/status", "utf8"))[1]);
    } catch {
      return null;
    }
  };
  const log = (ev, extra) => {
    try {
      fs.appendFileSync(file, JSON.stringify({ t: now(), pid: process.pid, role, ev, ...extra }) + "\n");
    } catch {
      // the timeline is best effort; never disturb the run
    }
  };
  if (role !== "other") {
    log("process-start", { t: performance.timeOrigin });
    process.on("exit", () => log("exit", { threads: threads(), uvThreadpoolSize: process.env.UV_THREADPOOL_SIZE ?? null }));
    const Module = require("module");
    const load = Module._load;
    const seen = new Set();
    Module._load = function (request, ...rest) {
      const m = load.call(this, request, ...rest);
      if ((request === "libvirt-pulumi" || request === "libvirt-pulumi/provider") && !seen.has(request)) {
        seen.add(request);
        log("loaded", { module: request, threads: threads() });
        if (request === "libvirt-pulumi/provider") wrapProviders(m);
      }
      return m;
    };
    // The uri of a call's inputs or saved outputs without its user and parameters ("qemu+ssh://127.0.0.1:2222/session").
    const hypervisorOf = (props) =>
      typeof props?.uri === "string" ? props.uri.replace(/[?#].*$/s, "").replace(/^([^:]+:\/\/)[^@/]*@/, "$1") : undefined;
    const wrapProviders = (m) => {
      for (const kind of ["domainProvider", "snapshotProvider", "volumeProvider", "poolProvider"]) {
        const p = m[kind];
        if (!p) continue;
        for (const method of ["check", "diff", "create", "read", "update", "delete"]) {
          const fn = p[method];
          if (typeof fn !== "function") continue;
          p[method] = async function (...args) {
            const id = `${kind}.${method}`;
            const hypervisor = hypervisorOf(method === "create" ? args[0] : args[1]);
            log("op-start", { op: id, hypervisor });
            try {
              return await fn.apply(this, args);
            } finally {
              log("op-end", { op: id, hypervisor, threads: threads() });
            }
          };
        }
      }
    };
  }
}
