// Item 6 of issue 11: a hypervisor that hangs cannot starve the others. The test
// starts a TCP listener on loopback that accepts connections and never answers
// (a host whose libvirtd hangs). In one provider process:
// - 40 reads (what `pulumi refresh` runs) of Domains, Pools, Volumes and Snapshots on
//   it each fail within the connect timeout (not 16 at a time, one timeout after
//   another), and 40 more after them fail at once;
// - meanwhile reads on qemu:///system, started every 100 ms throughout, all succeed
//   in normal time (no thread of libuv's shared pool is held by the stuck opens);
// - a stuck credentialed open fails only itself: a credentialed open and an open
//   that needs the opener thread to read its error, both made while it is stuck,
//   complete at once with their own outcome;
// - the circuit's states, one by one (refused, probe, cap of two stuck, closed again).
// Every time is measured and printed.
import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";
import { QEMU_URI, domainNames, removeDomain, uniqueName } from "../helpers/host";

const { domainProvider, poolProvider, volumeProvider, snapshotProvider } = provider;
const TIMEOUT_MS = 3000;
/** Slack on top of the connect timeout for a failed operation: timers, two cores shared with other work. */
const SLACK_MS = 2000;
/** A read on qemu:///system takes milliseconds; starved, it would wait for the stuck opens (forever here). */
const LOCAL_BOUND_MS = 3000;

let server: Server;
const sockets: Socket[] = [];
let hungUri: string;
const domainName = uniqueName("hung-other");
let dom: { id: string; outs: Record<string, unknown> };

beforeAll(async () => {
  process.env.LIBVIRT_PULUMI_CONNECT_TIMEOUT_MS = String(TIMEOUT_MS);
  server = createServer((s) => {
    sockets.push(s);
    s.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  hungUri = `qemu+tcp://127.0.0.1:${(server.address() as { port: number }).port}/system`;
  const { inputs } = await domainProvider.check!({}, { name: domainName, uri: QEMU_URI, memoryMiB: 64, running: false });
  dom = await domainProvider.create!(inputs);
});

afterAll(async () => {
  // Closing the sockets ends the opens still waiting inside libvirt.
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => server.close(resolve));
  delete process.env.LIBVIRT_PULUMI_CONNECT_TIMEOUT_MS;
  await provider.closeAllConnections();
  removeDomain(QEMU_URI, domainName);
});

interface Timed {
  ms: number;
  ok: boolean;
  message: string;
}

async function timed(op: () => Promise<unknown>, bound?: number): Promise<Timed> {
  const start = Date.now();
  const BOUND = Symbol("bound");
  const limit = bound ? new Promise((resolve) => setTimeout(() => resolve(BOUND), bound).unref()) : new Promise(() => undefined);
  try {
    const r = await Promise.race([op(), limit]);
    if (r === BOUND) return { ms: Date.now() - start, ok: false, message: `no answer within ${bound} ms (starved)` };
    return { ms: Date.now() - start, ok: true, message: JSON.stringify(r).slice(0, 80) };
  } catch (err) {
    return { ms: Date.now() - start, ok: false, message: (err as Error).message };
  }
}

const uuid = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`;

/** 40 reads of all four kinds on the hung host, as `pulumi refresh` would run them. */
function hungReads(offset: number): Array<() => Promise<unknown>> {
  return Array.from({ length: 40 }, (_, i) => {
    const n = offset + i;
    switch (i % 4) {
      case 0:
        return () => domainProvider.read!(uuid(n), { name: `d${n}`, uri: hungUri } as never);
      case 1:
        return () => poolProvider.read!(uuid(n), { name: `p${n}`, uri: hungUri, path: "/var/lib/libvirt/images/x" } as never);
      case 2:
        return () => volumeProvider.read!(`/var/lib/libvirt/images/x/v${n}`, { name: `v${n}`, pool: "x", uri: hungUri } as never);
      default:
        return () => snapshotProvider.read!(`${uuid(n)}/s${n}`, { name: `s${n}`, domainUuid: uuid(n), uri: hungUri } as never);
    }
  });
}

/** Reads of the real domain on qemu:///system, one started every 100 ms until `until` settles. */
async function localReadsDuring(until: Promise<unknown>): Promise<Timed[]> {
  let done = false;
  void until.finally(() => (done = true));
  const runs: Array<Promise<Timed>> = [];
  while (!done) {
    runs.push(timed(() => domainProvider.read!(dom.id, dom.outs as never), LOCAL_BOUND_MS));
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  runs.push(timed(() => domainProvider.read!(dom.id, dom.outs as never), LOCAL_BOUND_MS));
  return Promise.all(runs);
}

const stats = (t: Timed[]) => `n=${t.length} min=${Math.min(...t.map((x) => x.ms))} ms max=${Math.max(...t.map((x) => x.ms))} ms`;

describe("a hung hypervisor does not starve the others", () => {
  it("40 reads on it fail within the connect timeout while qemu:///system reads complete, twice", async () => {
    for (const [round, offset] of [
      ["first", 0],
      ["second", 100],
    ] as const) {
      const hung = Promise.all(hungReads(offset).map((op) => timed(op)));
      const [failed, local] = await Promise.all([hung, localReadsDuring(hung)]);
      console.log(`${round} round: hung-host reads ${stats(failed)}; qemu:///system reads ${stats(local)}`);
      for (const f of failed) {
        expect(f.ok).toBe(false);
        expect(f.message).toMatch(
          new RegExp(
            `^connecting to ${hungUri.replace(/[+.]/g, "\\$&")}: .*no answer within ${TIMEOUT_MS / 1000} s.*LIBVIRT_PULUMI_CONNECT_TIMEOUT_MS`,
          ),
        );
        expect(f.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
      }
      // The first round lasts the timeout (3 s: ~30 local reads); the second fails at once.
      expect(local.length).toBeGreaterThanOrEqual(round === "first" ? 20 : 1);
      for (const l of local) {
        expect(l.message).not.toMatch(/starved/);
        expect(l.ok).toBe(true);
        expect(l.ms).toBeLessThan(LOCAL_BOUND_MS);
      }
    }
    // Only the first open of the hung host ever reached it: the others waited for its verdict.
    expect(sockets.length).toBeLessThanOrEqual(2);
    expect(domainNames(QEMU_URI)).toContain(domainName);
  });

  it("the circuit: refused during one more timeout period, then one probe, at most two left stuck, closed once they return", async () => {
    process.env.LIBVIRT_PULUMI_CONNECT_TIMEOUT_MS = "1000";
    const mine: Socket[] = [];
    const silent = createServer((sock) => {
      mine.push(sock);
      sock.on("error", () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const uri = `qemu+tcp://127.0.0.1:${(silent.address() as { port: number }).port}/system`;
    const read = () => timed(() => domainProvider.read!(uuid(800), { name: "c", uri } as never));
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    try {
      const steps: Array<[string, Timed, number]> = [];
      steps.push(["first open: waits for the timeout", await read(), mine.length]);
      steps.push(["at once after it: refused by the circuit", await read(), mine.length]);
      await pause(1200);
      steps.push(["a timeout period later: one probe reaches the host", await read(), mine.length]);
      await pause(1200);
      steps.push(["two stuck: refused even after the period", await read(), mine.length]);
      for (const sock of mine) sock.destroy(); // the stuck opens return
      await pause(500);
      steps.push(["after they returned: the host is tried again", await read(), mine.length]);
      for (const [what, t, n] of steps) console.log(`${what}: ${t.ms} ms, ${n} connection(s) reached the host; ${t.message.slice(0, 110)}`);
      const [first, refused, probe, stillRefused, again] = steps;
      expect(first[1].ms).toBeGreaterThanOrEqual(950);
      expect(first[1].message).toMatch(/: no answer within 1 s/);
      expect(first[2]).toBe(1);
      expect(refused[1].ms).toBeLessThan(300);
      expect(refused[1].message).toMatch(/an earlier connection attempt got no answer within 1 s and is still waiting/);
      expect(refused[2]).toBe(1);
      expect(probe[1].ms).toBeGreaterThanOrEqual(950);
      expect(probe[2]).toBe(2);
      expect(stillRefused[1].ms).toBeLessThan(300);
      expect(stillRefused[1].message).toMatch(/an earlier connection attempt/);
      expect(stillRefused[2]).toBe(2);
      expect(again[1].ms).toBeGreaterThanOrEqual(950);
      expect(again[1].message).toMatch(/: no answer within 1 s/);
      expect(again[2]).toBe(3);
    } finally {
      for (const sock of mine) sock.destroy();
      await new Promise((resolve) => silent.close(resolve));
      process.env.LIBVIRT_PULUMI_CONNECT_TIMEOUT_MS = String(TIMEOUT_MS);
    }
  });

  it("a stuck credentialed open fails only itself; opens made meanwhile complete with their own outcome", async () => {
    const auth = { username: "admin", password: "pw-hung-4b1d" };
    const stuck = timed(() => domainProvider.read!(uuid(900), { name: "s", uri: hungUri.replace("/system", "/session"), auth } as never));
    await new Promise((resolve) => setTimeout(resolve, 300)); // the stuck open is inside libvirt now
    const [credentialed, refused] = await Promise.all([
      // Credentialed: on an opener thread (test:///default takes any credentials).
      timed(() => domainProvider.read!(uuid(901), { name: "t", uri: "test:///default", auth } as never)),
      // A closed loopback port: fails at once, and its error is read on an opener thread.
      timed(() => domainProvider.read!(uuid(902), { name: "r", uri: "qemu+tcp://127.0.0.1:1/system" } as never)),
    ]);
    const s = await stuck;
    console.log(`stuck credentialed open: ${s.ms} ms; credentialed open meanwhile: ${credentialed.ms} ms; refused open meanwhile: ${refused.ms} ms`);
    expect(s.ok).toBe(false);
    expect(s.message).toMatch(/no answer within 3 s/);
    expect(s.message).not.toContain(auth.password);
    expect(credentialed).toMatchObject({ ok: true, message: "{}" });
    expect(credentialed.ms).toBeLessThan(2000);
    expect(refused.ok).toBe(false);
    expect(refused.message).toMatch(/Connection refused/);
    expect(refused.ms).toBeLessThan(2000);
  });
});
