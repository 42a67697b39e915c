// A slow libvirt call (starting or destroying a real QEMU guest) neither holds
// up other libvirt calls nor blocks Node's event loop: Pulumi runs independent
// resource operations concurrently in one provider process.
import { monitorEventLoopDelay } from "node:perf_hooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";
import { createDomain } from "../helpers/domains";
import { QEMU_URI, domainState, makeImageDir, removeDomain, uniqueName } from "../helpers/host";

const { domainProvider, withConnection, closeAllConnections } = provider;
type Handle = InstanceType<typeof provider.DomainHandle>;

let images: ReturnType<typeof makeImageDir>;
let name: string;
let id: string;
/** The checked inputs: what the engine passes as `news`. */
let inputs: Record<string, unknown>;

beforeAll(async () => {
  images = makeImageDir("concurrency");
  name = uniqueName("concurrency");
  const disk = images.qcow2(`${name}.qcow2`);
  ({ id, inputs } = await createDomain(name, { running: false, disks: [{ file: disk }] }, undefined, name));
});

afterAll(async () => {
  if (name) {
    removeDomain(QEMU_URI, name);
  }
  await closeAllConnections();
  images?.remove();
});

interface Timing {
  slowMs: number;
  /** When each quick call finished, from the start of the slow one. */
  quickDoneMs: number[];
  /** Longest gap between ticks of a 5 ms timer while the slow call ran. */
  maxTickGapMs: number;
  ticks: number;
  /** Event-loop delay histogram maximum while the slow call ran. */
  loopDelayMaxMs: number;
}

/** Runs `slow` on one pooled connection and, while it is in flight, quick calls on others. */
async function whileSlow(slow: (dom: Handle) => Promise<void>): Promise<Timing> {
  return withConnection({ uri: QEMU_URI }, async (conn) => {
    const dom = (await conn.lookupDomain(id))!;
    try {
      const histogram = monitorEventLoopDelay({ resolution: 5 });
      let ticks = 0;
      let maxTickGapMs = 0;
      let last = performance.now();
      const timer = setInterval(() => {
        const now = performance.now();
        maxTickGapMs = Math.max(maxTickGapMs, now - last);
        last = now;
        ticks++;
      }, 5);
      histogram.enable();
      const t0 = performance.now();
      const slowDone = slow(dom).then(() => performance.now() - t0);
      // Other operations, each on its own pooled connection, started while the slow call runs.
      const quick = [
        withConnection({ uri: QEMU_URI }, async (c) => {
          const caps = await c.call("reading capabilities", "virConnectGetCapabilities", c.ptr as never);
          expect(caps).toMatch(/<capabilities>/);
          return performance.now() - t0;
        }),
        withConnection({ uri: QEMU_URI }, async (c) => {
          expect(await c.lookupDomain(`${name}-does-not-exist`)).toBeNull();
          return performance.now() - t0;
        }),
        withConnection({ uri: QEMU_URI }, async (c) => {
          const version: [number] = [0];
          await c.call("reading libvirt version", "virConnectGetLibVersion", c.ptr as never, version as never);
          expect(version[0]).toBeGreaterThan(0);
          return performance.now() - t0;
        }),
      ];
      const [slowMs, ...quickDoneMs] = await Promise.all([slowDone, ...quick]);
      clearInterval(timer);
      histogram.disable();
      return { slowMs, quickDoneMs, maxTickGapMs, ticks, loopDelayMaxMs: histogram.max / 1e6 };
    } finally {
      dom.free();
    }
  });
}

function expectNotHeldUp(t: Timing): void {
  // Each quick call finished while the slow one was still running, well before it ended.
  for (const done of t.quickDoneMs) expect(done).toBeLessThan(t.slowMs / 2);
  // The event loop kept turning: a 5 ms timer never waited anywhere near the slow call's duration.
  expect(t.maxTickGapMs).toBeLessThan(Math.min(100, t.slowMs / 2));
  expect(t.loopDelayMaxMs).toBeLessThan(Math.min(100, t.slowMs / 2));
  expect(t.ticks).toBeGreaterThan(t.slowMs / 5 / 4);
}

describe("concurrency on qemu:///system", () => {
  it("while a guest starts, other calls complete and the event loop keeps running", async () => {
    const t = await whileSlow((dom) => dom.start());
    expect(domainState(QEMU_URI, name)).toBe("running");
    expect(t.slowMs).toBeGreaterThan(50); // a real, slow call (≈0.3 s with KVM)
    expectNotHeldUp(t);
  });

  it("while a guest is destroyed, other calls complete and the event loop keeps running", async () => {
    const t = await whileSlow((dom) => dom.destroy());
    expect(domainState(QEMU_URI, name)).toBe("shut off");
    expect(t.slowMs).toBeGreaterThan(50); // ≈1.5 s
    expectNotHeldUp(t);
  });

  it("a provider update that starts the guest does not hold up other operations", async () => {
    expect(domainState(QEMU_URI, name)).toBe("shut off");
    const { props: olds } = await domainProvider.read!(id, { ...inputs, uuid: id, uri: QEMU_URI } as never);
    const t0 = performance.now();
    const updating = domainProvider.update!(id, olds, { ...inputs, running: true }).then(() => performance.now() - t0);
    const others = [
      withConnection({ uri: QEMU_URI }, (c) => c.call("reading capabilities", "virConnectGetCapabilities", c.ptr as never)).then(
        () => performance.now() - t0,
      ),
      domainProvider.check!({}, { name: "other", memoryMiB: 64 }).then(() => performance.now() - t0),
    ];
    const [updateMs, ...otherMs] = await Promise.all([updating, ...others]);
    expect(domainState(QEMU_URI, name)).toBe("running");
    for (const ms of otherMs) expect(ms).toBeLessThan(updateMs);
  });
});
