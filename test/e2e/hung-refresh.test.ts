// Item 6 of issue 11, end to end through the real `pulumi` CLI: "a `pulumi refresh`
// of 40 resources on a host that accepts connections and never answers ... must fail
// each of them within the connect timeout, while operations on qemu:///system in the
// same provider process still complete".
//
// The hung host is a proxy this test controls, on loopback only: while it forwards,
// every connection is piped to the local libvirtd's unix socket, so the stack's 40
// resources on it are real objects on this libvirtd; switched to silent, it accepts
// new connections and never answers (nor forwards). Both transports, because
// connection.ts opens them differently: a TCP listener on 127.0.0.1
// (qemu+tcp://127.0.0.1:PORT/system: a URI with a host, opened on opener threads of
// its own) and a unix socket (qemu+unix:///system?socket=...: local, opened with a
// plain call on libuv's shared pool). Half the Domains (and their Snapshots) carry
// credentials (the credentialed open path); the password must never be printed.
//
// The program (test/e2e/programs/hung-refresh) makes, on the proxied URI, a Pool and
// 13 x (Volume, shut-off Domain booting from it, Snapshot) = 40 resources, and the
// same four kinds once on qemu:///system. `pulumi up` (forwarding) creates them; a
// refresh while forwarding gives the time a refresh takes here. Then the proxy goes
// silent, with a 3 s connect timeout:
// - `pulumi refresh --yes` (preview first, as a user runs it): the preview's reads of
//   the 40 fail with the timeout (or the URI circuit's) message in bounded time, the
//   qemu:///system Domain's read completes and shows the change made with virsh, and
//   (Pulumi's engine: a failed preview applies nothing) the state is left as it was;
// - `pulumi refresh --yes --skip-preview`: each of the 40 fails with that message,
//   each within the timeout (the CLI's per-resource seconds), the whole refresh in
//   bounded time (not 40, nor 5 waves of the engine's 8, timeouts); the
//   qemu:///system resources are refreshed (the description changed with virsh is
//   in `pulumi stack export`), the 40 stay in the state as they were;
// - nothing in libvirt changed (virsh), and at most two opens per provider process
//   reached the silent host.
// Back to forwarding, `pulumi destroy` leaves nothing (virsh).
import { createServer, connect, type Server, type Socket } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PulumiProject, type RunResult } from "../helpers/pulumi-cli";
import { QEMU_URI, domainNames, removeDomain, removePool, snapshotNames, uniqueName, virsh, virshTry } from "../helpers/host";

const LIBVIRTD_SOCKET = "/var/run/libvirt/libvirt-sock";
const TIMEOUT_MS = 3000;
const TIMEOUT_S = TIMEOUT_MS / 1000;
const GROUPS = 13;
const HUNG_COUNT = 1 + 3 * GROUPS;
/** A refresh that never ends (a starved provider) is given up on after this. */
const REFRESH_KILL_MS = 60_000;
/**
 * Allowed on top of a forwarding refresh's duration: the first open's timeout, one
 * probe's, and slack (two cores shared). One timeout per wave of the engine's 8 at
 * a time would be 5 x 3 = 15 s; one after another, 40 x 3 = 120 s.
 */
const EXTRA_MS = 4 * TIMEOUT_MS;
const PASSWORD = `Pw-${Math.random().toString(36).slice(2, 10)}-lvp`;

/** A proxy on loopback (TCP port or unix socket) that pipes each connection to libvirtd, or accepts it and never answers. */
class SwitchableProxy {
  mode: "forward" | "silent" = "forward";
  /** Connections accepted while silent (each one an open that reached the "host"). */
  readonly silentSockets: Socket[] = [];
  forwarded = 0;
  private readonly live = new Set<Socket>();
  private server!: Server;
  private dir?: string;
  uri = "";

  constructor(readonly transport: "tcp" | "unix") {}

  async start(): Promise<void> {
    this.server = createServer((client) => {
      client.on("error", () => undefined);
      this.live.add(client);
      client.on("close", () => this.live.delete(client));
      if (this.mode === "silent") {
        this.silentSockets.push(client);
        return;
      }
      this.forwarded++;
      const upstream = connect(LIBVIRTD_SOCKET);
      upstream.on("error", () => client.destroy());
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
    if (this.transport === "tcp") {
      await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
      this.uri = `qemu+tcp://127.0.0.1:${(this.server.address() as { port: number }).port}/system`;
    } else {
      this.dir = mkdtempSync("/tmp/lvp-hung-");
      const path = join(this.dir, "proxy.sock");
      await new Promise<void>((resolve) => this.server.listen(path, resolve));
      this.uri = `qemu+unix:///system?socket=${path}`;
    }
  }

  /** Ends the silent connections (the opens stuck on them return) and forwards new ones again. */
  forward(): void {
    for (const s of this.silentSockets) s.destroy();
    this.mode = "forward";
  }

  async close(): Promise<void> {
    for (const s of this.live) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

type Timed = RunResult & { ms: number };

/** Each resource named in the CLI's Diagnostics section, with the lines printed under it. */
function diagnostics(output: string): Map<string, string> {
  const found = new Map<string, string>();
  const at = output.indexOf("\nDiagnostics:\n");
  if (at < 0) return found;
  for (const m of output.slice(at).matchAll(/^ {2}\S+ \(([^)]+)\):\n((?: {4}.*\n?)+)/gm)) found.set(m[1], (found.get(m[1]) ?? "") + m[2]);
  return found;
}

/** The seconds the CLI showed for each resource whose refresh failed ("hung-vm-3 refreshing (3s) error: ..."). */
function failedAfter(output: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const m of output.matchAll(/^ ~ {2}\S+ (\S+) refreshing \((\d+)s\) error: /gm)) found.set(m[1], Number(m[2]));
  return found;
}

describe.each(["tcp", "unix"] as const)("pulumi refresh on a hypervisor that accepts connections and never answers (%s proxy)", (transport) => {
  const prefix = uniqueName(`hungref-${transport}`);
  const proxy = new SwitchableProxy(transport);
  let project: PulumiProject;
  let forwardingRefreshMs = 0;

  const hungDomains = Array.from({ length: GROUPS }, (_, i) => `${prefix}-hung-vm-${i}`);
  const localDomain = `${prefix}-local-vm-0`;
  const pools = [`${prefix}-hung-pool`, `${prefix}-local-pool`];
  const silentEnv = { LIBVIRT_PULUMI_CONNECT_TIMEOUT_MS: String(TIMEOUT_MS) };
  const timeoutMessage = () =>
    new RegExp(
      `^ {4}error: (Preview failed: )?connecting to ${proxy.uri.replace(/[+.?]/g, "\\$&")}: (no answer within ${TIMEOUT_S} s|an earlier connection attempt got no answer within ${TIMEOUT_S} s and is still waiting.*) \\(.*LIBVIRT_PULUMI_CONNECT_TIMEOUT_MS sets the limit\\)$`,
      "m",
    );

  /** What libvirt holds of this test's objects, read with virsh on the real socket (never through the proxy). */
  function libvirtView(): string {
    const lines: string[] = [];
    for (const d of [...hungDomains, localDomain]) {
      const r = virshTry(QEMU_URI, "dumpxml", "--inactive", d);
      lines.push(
        `domain ${d}: ${r.ok ? r.out : "absent"}`,
        `  state ${virshTry(QEMU_URI, "domstate", d).out}`,
        `  snapshots ${r.ok ? snapshotNames(QEMU_URI, d).join(",") : "-"}`,
      );
    }
    for (const p of pools) {
      const r = virshTry(QEMU_URI, "pool-dumpxml", p);
      lines.push(
        `pool ${p}: ${r.ok ? r.out.replace(/<(capacity|allocation|available)[^<]*<\/\1>/g, "") : "absent"}`,
        `  volumes ${r.ok ? virsh(QEMU_URI, "vol-list", p) : "-"}`,
      );
    }
    return lines.join("\n");
  }

  /** Runs the CLI; one still running after killAfterMs is reported starved, and the proxy forwards again so that it ends. */
  async function timedRun(args: string[], env: NodeJS.ProcessEnv = {}, killAfterMs?: number): Promise<Timed> {
    const start = Date.now();
    const run = project.run(args, env).then((r) => ({ ...r, ms: Date.now() - start }));
    if (!killAfterMs) return run;
    const GAVE_UP = Symbol("gave up");
    const first = await Promise.race([run, new Promise<typeof GAVE_UP>((resolve) => setTimeout(() => resolve(GAVE_UP), killAfterMs).unref())]);
    if (first !== GAVE_UP) return first;
    proxy.forward(); // the opens stuck on the silent host return, so the CLI ends before the next step
    const late = await run;
    return {
      ...late,
      output: `pulumi ${args.join(" ")} still running after ${killAfterMs} ms (starved); it ended ${late.ms} ms after its start, once the host answered again\n${late.output}`,
    };
  }

  const hungResources = async () => (await project.exportState()).resources.filter((r) => r.outputs?.uri === proxy.uri);
  const resourceName = (urn: string) => urn.split("::").at(-1)!;

  beforeAll(async () => {
    await proxy.start();
    project = PulumiProject.prepare(join(__dirname, "programs/hung-refresh"));
    await project.newStack("hung", { prefix, hungUri: proxy.uri, groups: String(GROUPS) });
    await project.ok(["config", "set", "--secret", "authPassword", PASSWORD]);
  });

  afterAll(async () => {
    proxy.forward();
    if (project) await project.destroyAllAndRemove();
    await proxy.close();
    // Whatever a failure left, by name, with virsh.
    for (const d of [...hungDomains, localDomain]) removeDomain(QEMU_URI, d);
    for (const p of pools) {
      for (const line of virshTry(QEMU_URI, "vol-list", p).out.split("\n")) {
        const vol = line.trim().split(/\s+/)[0];
        if (vol?.endsWith(".qcow2")) virshTry(QEMU_URI, "vol-delete", vol, "--pool", p);
      }
      removePool(QEMU_URI, p);
      rmSync(`/var/lib/libvirt/images/${p}`, { recursive: true, force: true });
    }
  });

  it(`pulumi up creates ${HUNG_COUNT} resources through the proxy and 4 on qemu:///system; a refresh while it forwards changes nothing`, async () => {
    const up = await timedRun(["up", "--yes", "--skip-preview"]);
    expect(up.code, up.output).toBe(0);
    expect(up.output).toMatch(new RegExp(`\\+ ${HUNG_COUNT + 4 + 1} created`));
    const names = domainNames(QEMU_URI);
    for (const d of [...hungDomains, localDomain]) {
      expect(names).toContain(d);
      expect(virsh(QEMU_URI, "domstate", d)).toBe("shut off");
      expect(snapshotNames(QEMU_URI, d)).toEqual(["baseline"]);
    }
    expect(virsh(QEMU_URI, "vol-list", pools[0]).split("\n")).toHaveLength(GROUPS);
    const hung = await hungResources();
    expect(hung).toHaveLength(HUNG_COUNT);
    expect(hung.filter((r) => r.outputs?.auth !== undefined).length).toBeGreaterThanOrEqual(Math.floor(GROUPS / 2));
    const refresh = await timedRun(["refresh", "--yes", "--skip-preview", "--expect-no-changes"], silentEnv);
    expect(refresh.code, refresh.output).toBe(0);
    forwardingRefreshMs = refresh.ms;
    console.log(`[${transport}] pulumi up: ${up.ms} ms; refresh while forwarding: ${refresh.ms} ms; ${proxy.forwarded} connection(s) forwarded`);
  });

  it(`pulumi refresh --yes (with its preview): the preview fails each read on the silent host in bounded time, the qemu:///system read completes`, async () => {
    virsh(QEMU_URI, "desc", localDomain, "--config", "changed with virsh");
    const before = libvirtView();
    const stateBefore = (await project.exportState()).text;
    proxy.mode = "silent";
    const r = await timedRun(["refresh", "--yes"], silentEnv, REFRESH_KILL_MS);
    const reached = proxy.silentSockets.length;
    proxy.forward();
    const diags = diagnostics(r.output);
    console.log(
      `[${transport}] pulumi refresh --yes, silent host: exit ${r.code} after ${r.ms} ms; ${diags.size} resource(s) in Diagnostics; ${reached} connection(s) reached the silent host`,
    );
    expect(r.output).not.toMatch(/starved/);
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/error: preview failed/);
    // The qemu:///system Domain was read in that same provider process and showed the virsh change.
    expect(r.output).toMatch(/^ ~ {2}\S+:Domain local-vm-0 update\s*$/m);
    const reported = [...diags.entries()].filter(([name]) => name.startsWith("hung-"));
    expect(reported.length).toBeGreaterThan(0);
    for (const [name, text] of reported) expect(text, name).toMatch(timeoutMessage());
    expect([...diags.keys()].filter((k) => k.startsWith("local-"))).toEqual([]);
    expect(r.ms).toBeLessThan(forwardingRefreshMs + EXTRA_MS);
    expect(reached).toBeLessThanOrEqual(2);
    expect(r.output).not.toContain(PASSWORD);
    // A failed preview applies nothing.
    expect((await project.exportState()).text).toBe(stateBefore);
    expect(libvirtView()).toBe(before);
  });

  it(`pulumi refresh --yes --skip-preview: each of the ${HUNG_COUNT} fails within the connect timeout, the qemu:///system ones are refreshed, nothing changes`, async () => {
    virsh(QEMU_URI, "desc", hungDomains[0], "--config", "changed with virsh too");
    const before = libvirtView();
    const hungBefore = await hungResources();
    expect(hungBefore).toHaveLength(HUNG_COUNT);
    proxy.mode = "silent";
    const r = await timedRun(["refresh", "--yes", "--skip-preview"], silentEnv, REFRESH_KILL_MS);
    const reached = proxy.silentSockets.length;
    proxy.forward();
    const diags = diagnostics(r.output);
    const seconds = failedAfter(r.output);
    console.log(
      `[${transport}] pulumi refresh --yes --skip-preview, silent host: exit ${r.code} after ${r.ms} ms (forwarding: ${forwardingRefreshMs} ms); ` +
        `${diags.size} resource(s) in Diagnostics; per-resource seconds shown: max ${Math.max(...seconds.values())}; ${reached} connection(s) reached the silent host`,
    );
    expect(r.output).not.toMatch(/starved/);
    expect(r.code).not.toBe(0);

    for (const res of hungBefore) {
      const name = resourceName(res.urn);
      expect(diags.get(name), `Diagnostics of ${name}`).toMatch(timeoutMessage());
      expect(seconds.get(name), `seconds shown for ${name}`).toBeLessThanOrEqual(TIMEOUT_S + 1);
    }
    // Nothing else failed: the qemu:///system resources are not in the Diagnostics.
    expect([...diags.keys()].filter((k) => k.startsWith("local-"))).toEqual([]);
    expect(r.ms).toBeLessThan(forwardingRefreshMs + EXTRA_MS);
    expect(reached).toBeLessThanOrEqual(2);
    expect(r.output).not.toContain(PASSWORD);

    const state = await project.exportState();
    expect(state.text).not.toContain(PASSWORD);
    expect(state.resources.find((res) => res.urn.endsWith("::local-vm-0"))?.outputs?.description).toBe("changed with virsh");
    // The 40 are still in the state, exactly as they were: a failed read forgets and changes nothing.
    // (Secrets are encrypted afresh, with a new nonce, each time the state is written.)
    const comparable = (rs: typeof hungBefore) =>
      JSON.stringify(rs.map((res) => [res.urn, res.id, res.outputs])).replace(/"ciphertext":"[^"]*"/g, '"ciphertext":"…"');
    expect(comparable(await hungResources())).toBe(comparable(hungBefore));
    expect(libvirtView()).toBe(before);
  });

  it("back to forwarding, a refresh sees the hung host's change, and pulumi destroy leaves nothing", async () => {
    const refresh = await timedRun(["refresh", "--yes", "--skip-preview"], silentEnv);
    expect(refresh.code, refresh.output).toBe(0);
    const dom0 = (await project.exportState()).resources.find((res) => res.urn.endsWith("::hung-vm-0"));
    expect(dom0?.outputs?.description).toBe("changed with virsh too");
    const r = await timedRun(["destroy", "--yes", "--skip-preview"]);
    expect(r.code, r.output).toBe(0);
    const names = domainNames(QEMU_URI);
    for (const d of [...hungDomains, localDomain]) expect(names).not.toContain(d);
    for (const p of pools) expect(virshTry(QEMU_URI, "pool-info", p).ok).toBe(false);
  });
});
