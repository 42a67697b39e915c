// examples/two-hosts through the real `pulumi` CLI (issue 14 item 2): one stack over
// two hypervisors, qemu:///system as the stack's default (`libvirt-pulumi:uri`) and
// lvp-test's session daemon over qemu+ssh (an sshd this file starts on loopback,
// test/helpers/ssh-daemon.ts) as the example's `two-hosts:secondUri`. Pulumi creates
// and destroys the two hosts' resources at the same time (seen in the engine's event
// log); a destroy refused on one host still tears down the other; the last destroy
// leaves nothing on either. Each host is checked with `virsh -c` on its own URI.
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PulumiProject, repoRoot } from "../helpers/pulumi-cli";
import { QEMU_URI, domainNames, domainState, removeDomain, removePool, snapshotNames, uniqueName, virsh, virshTry } from "../helpers/host";
import { SSH_USER_HOME, cleanSession, startSshDaemon, sweepSession, type SshDaemon } from "../helpers/ssh-daemon";

const prefix = uniqueName("e2e-two");
const firstPoolPath = `/var/lib/libvirt/images/${prefix}-first-pool`;
const secondPoolPath = join(SSH_USER_HOME, `${prefix}-second-pool`);
const names = (host: string) => [0, 1].map((i) => `${prefix}-${host}-${i}`);
// Were the stack default ignored, the first host's resources would go to the provider process's in-memory test driver.
const env = { LIBVIRT_DEFAULT_URI: "test:///default" };
let s: SshDaemon;
let second: string;
/** The second hypervisor as the hook's timeline names it (no user, no parameters). */
let secondHost: string;
let project: PulumiProject | undefined;

beforeAll(async () => {
  s = await startSshDaemon();
  s.trustHostKey();
  second = s.uri();
  secondHost = `qemu+ssh://127.0.0.1:${s.port}/session`;
  sweepSession(second);
  project = PulumiProject.prepare("two-hosts");
  await project.newStack("two", { prefix, poolPath: firstPoolPath, secondPoolPath, "libvirt-pulumi:uri": QEMU_URI });
  // The second hypervisor from the example's own stack config.
  await project.ok(["config", "set", "secondUri", second]);
});

afterAll(async () => {
  try {
    await project?.destroyAllAndRemove();
  } finally {
    // Whatever a failed test left, removed with virsh on each host, whether or not the stack could.
    for (const d of names("first")) removeDomain(QEMU_URI, d);
    removePool(QEMU_URI, `${prefix}-first-pool`);
    virshTry(QEMU_URI, "pool-undefine", `${prefix}-first-pool`);
    // (The pool directories too: a cascade's snapshot archive stays in its pool's directory.)
    rmSync(firstPoolPath, { recursive: true, force: true });
    if (s) {
      cleanSession(second, { domains: names("second"), pools: [`${prefix}-second-pool`], dirs: [secondPoolPath] });
      await s.stop();
    }
  }
});

const run = (args: string[], extra: NodeJS.ProcessEnv = {}) => project!.run(args, { ...env, ...extra });
const poolNames = (uri: string) => virsh(uri, "pool-list", "--all", "--name").split("\n").filter(Boolean);
const ours = (uri: string) => domainNames(uri).filter((d) => d.startsWith(prefix));

/**
 * Runs pulumi with scripts/bench/engine-hook.cjs loaded into its Node processes: each provider
 * call's start and end, with its hypervisor (the uri without user and parameters), in `file`.
 */
const timed = (file: string): NodeJS.ProcessEnv => ({
  NODE_OPTIONS: `--require ${join(repoRoot, "scripts/bench/engine-hook.cjs")}`,
  LVP_BENCH_TIMELINE: file,
});

interface Call {
  op: string;
  hypervisor: string;
  start: number;
  end: number;
}

/** The provider calls of one run, from the hook's timeline. */
function calls(file: string): Call[] {
  const events = readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((e) => e.ev === "op-start" || e.ev === "op-end");
  const open = new Map<string, number[]>();
  const done: Call[] = [];
  for (const e of events.sort((x, y) => x.t - y.t)) {
    const key = `${e.op} ${e.hypervisor}`;
    if (e.ev === "op-start") open.set(key, [...(open.get(key) ?? []), e.t]);
    else {
      const start = open.get(key)?.shift();
      if (start !== undefined) done.push({ op: e.op, hypervisor: e.hypervisor, start, end: e.t });
    }
  }
  return done;
}

/** The `method` calls (create, delete) on the first host that ran while one on the second did, as "op@ms - op@ms" (for the message). */
function overlaps(all: Call[], method: string, first: string, second: string): string[] {
  const on = (h: string) => all.filter((c) => c.op.endsWith(`.${method}`) && c.hypervisor === h);
  const t0 = Math.min(...all.map((c) => c.start));
  const show = (c: Call) => `${c.op} ${Math.round(c.start - t0)}-${Math.round(c.end - t0)} ms`;
  return on(first).flatMap((a) => on(second).flatMap((b) => (a.start < b.end && b.start < a.end ? [`${show(a)} with ${show(b)}`] : [])));
}

/** The calls of one run, for a message. */
const listed = (all: Call[]) => {
  const t0 = Math.min(...all.map((c) => c.start));
  return all.map((c) => `${c.op} ${c.hypervisor} ${Math.round(c.start - t0)}-${Math.round(c.end - t0)} ms`).join("\n");
};

describe("examples/two-hosts: one stack over qemu:///system and a second hypervisor over qemu+ssh", () => {
  it("pulumi up creates each host's pool, domains and snapshots on that host, both at once; the outputs name them per host", async () => {
    const log = join(project!.root, "up-calls.jsonl");
    await project!.ok(["up", "--yes"], { ...env, ...timed(log) });
    for (const [uri, host] of [
      [QEMU_URI, "first"],
      [second, "second"],
    ]) {
      for (const d of names(host)) {
        expect(domainState(uri, d), `${d} on ${uri}`).toBe("running");
        expect(snapshotNames(uri, d)).toEqual(["baseline"]);
      }
      expect(virsh(uri, "pool-info", `${prefix}-${host}-pool`)).toMatch(/State:\s+running/);
    }
    // Nothing of one host on the other.
    expect(ours(QEMU_URI).sort()).toEqual(names("first"));
    expect(ours(second).sort()).toEqual(names("second"));
    expect(poolNames(QEMU_URI)).not.toContain(`${prefix}-second-pool`);
    expect(poolNames(second)).not.toContain(`${prefix}-first-pool`);
    expect(JSON.parse((await project!.ok(["stack", "output", "--json"])).stdout)).toEqual({
      first: { uri: QEMU_URI, pool: `${prefix}-first-pool`, domains: names("first") },
      second: { uri: second, pool: `${prefix}-second-pool`, domains: names("second") },
    });
    // The provider was creating on both hosts at the same time, each create on its own host.
    const up = calls(log);
    for (const h of [QEMU_URI, secondHost]) {
      for (const kind of ["pool", "volume", "domain", "snapshot"])
        expect(
          up.filter((c) => c.op === `${kind}Provider.create` && c.hypervisor === h),
          `${kind} creates on ${h}`,
        ).toHaveLength(kind === "pool" ? 1 : 2);
    }
    expect(overlaps(up, "create", QEMU_URI, secondHost).length, listed(up)).toBeGreaterThan(0);
  });

  it("a second preview reports no changes", async () => {
    const r = await run(["preview", "--expect-no-changes"]);
    expect(r.code, r.output).toBe(0);
  });

  it("a destroy refused on the first host (a snapshot made with virsh) still tears down everything on the second, in the same pulumi destroy", async () => {
    const [held, free] = names("first");
    virsh(QEMU_URI, "snapshot-create-as", held, "by-hand");
    const log = join(project!.root, "destroy-calls.jsonl");
    // --continue-on-error: the engine goes on with what does not depend on the refused domain.
    const r = await run(["destroy", "--yes", "--continue-on-error"], timed(log));
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(new RegExp(`refusing to delete domain "${held}".*"by-hand".*deleteSnapshotsOnDestroy: true`, "s"));
    // The refused domain: untouched on the first host, with its volume and pool.
    expect(domainState(QEMU_URI, held)).toBe("running");
    expect(snapshotNames(QEMU_URI, held)).toEqual(["by-hand"]);
    expect(virsh(QEMU_URI, "vol-list", `${prefix}-first-pool`)).toContain(`${held}.qcow2`);
    // The independent work went on: the first host's other domain, and all of the second host.
    expect(ours(QEMU_URI)).toEqual([held]);
    expect(domainNames(QEMU_URI)).not.toContain(free);
    expect(ours(second)).toEqual([]);
    expect(poolNames(second)).not.toContain(`${prefix}-second-pool`);
    // And deleting on both at the same time.
    const destroyed = calls(log);
    expect(overlaps(destroyed, "delete", QEMU_URI, secondHost).length, listed(destroyed)).toBeGreaterThan(0);
    const left = (await project!.exportState()).resources.filter((x) => x.type.includes("libvirt-pulumi")).map((x) => x.urn);
    expect(left.some((u) => u.includes("::second-"))).toBe(false);
  });

  it("the last destroy, with the cascade for this run, leaves nothing on either hypervisor", async () => {
    await project!.ok(["destroy", "--yes"], {
      ...env,
      LIBVIRT_PULUMI_DELETE_SNAPSHOTS_ON_DESTROY: "1",
      LIBVIRT_PULUMI_DELETE_SNAPSHOT_DATA_ON_DESTROY: "1",
    });
    expect(ours(QEMU_URI)).toEqual([]);
    expect(ours(second)).toEqual([]);
    expect(poolNames(QEMU_URI).filter((p) => p.startsWith(prefix))).toEqual([]);
    expect(poolNames(second).filter((p) => p.startsWith(prefix))).toEqual([]);
    expect((await project!.exportState()).resources.filter((x) => x.type.includes("libvirt-pulumi"))).toEqual([]);
  });
});
