// Counts the child processes (qemu-img) the provider starts through
// child_process.execFile, with their wall time. Must be loaded before the
// provider, which captures promisify(execFile) when it loads.
"use strict";
const cp = require("node:child_process");
const util = require("node:util");
const stats = { count: 0, ms: 0 };
const orig = cp.execFile;
const custom = orig[util.promisify.custom];
function execFile(...args) {
  return orig.apply(this, args);
}
execFile[util.promisify.custom] = (...args) => {
  const t0 = performance.now();
  stats.count++;
  const p = custom(...args);
  const done = () => {
    stats.ms += performance.now() - t0;
  };
  p.then(done, done);
  return p;
};
cp.execFile = execFile;
module.exports = stats;
globalThis.__lvpSpawnStats = stats;
