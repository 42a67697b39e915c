// The benchmark's two-hypervisor row (item 7, scripts/bench/run.mjs): printed from the
// results JSON with `--table`, a measured row gives both times per domain and the
// ratio; a second hypervisor that could not be started gives a row that says why,
// never a missing one. (No timing is asserted: the numbers here are made up.)
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "lvp-bench-table-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function table(twoHosts: unknown): string {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify({ items: { providerVsFloor: [], twoHosts } }));
  return execFileSync(process.execPath, [join(__dirname, "../../scripts/bench/run.mjs"), "--table", file], { encoding: "utf8" });
}

describe("bench item 7: the two-hypervisor row", () => {
  it("measured: time per domain all on one host and split over two, and their ratio", () => {
    const out = table({
      n: 8,
      hosts: ["qemu:///system", "qemu+ssh://lvp-test@127.0.0.1:40000/session"],
      split: [4, 4],
      oneHost: { perDomainS: 0.8, errors: [] },
      twoHosts: { perDomainS: 0.6, errors: [] },
      ratio: 0.75,
    });
    expect(out).toMatch(
      /7 two hypervisors: per domain, split vs one\s+8\s+0\.80 s \(one\)\s+0\.60 s \(split\)\s+ratio 0\.75 \(4 \+ 4 over 2 hosts\)/,
    );
  });

  it("not measured: the row says why (the second hypervisor could not be started)", () => {
    const why = "the second hypervisor (sshd on loopback to lvp-test's session daemon) could not be started: /usr/sbin/sshd is missing";
    const out = table({ n: 8, error: why });
    expect(out).toMatch(/7 two hypervisors\s+8\s+NOT MEASURED: the second hypervisor .*could not be started: \/usr\/sbin\/sshd is missing/);
  });
});
