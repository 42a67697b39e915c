// Graceful stop (issue 13 item 5): `running: false` and a delete of a running
// persistent domain ask the guest to shut down (the agent when the domain has its
// channel, else the ACPI power button) and hard-stop only after shutdownTimeoutSeconds.
// A domain that boots no OS ignores ACPI: the fallback. The real guest shuts down
// cleanly: libvirt's log of the domain says "reason=shutdown", not "reason=destroyed".
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { provider } from "../helpers/lib";
import { createDomain } from "../helpers/domains";
import { QEMU_URI, domainState, removeDomain, removePool, uniqueName, virsh } from "../helpers/host";
import { agentCommand, guestDomainInputs, stageGuestBoot, waitFor, type GuestImage } from "../helpers/guest";

const { domainProvider, poolProvider, volumeProvider } = provider;
const made: string[] = [];
const IMAGES = "/var/lib/libvirt/images";
const BOOT_TIMEOUT_MS = 10 * 60_000;

/** What the provider printed (console.error) while `fn` ran. */
async function printed(fn: () => Promise<unknown>): Promise<string> {
  const spy = vi.spyOn(console, "error").mockImplementation(() => {});
  try {
    await fn();
    return spy.mock.calls.map((c) => c.join(" ")).join("\n");
  } finally {
    spy.mockRestore();
  }
}

/** The last "shutting down, reason=..." line of libvirt's log of the domain. */
function lastShutdownReason(name: string): string | undefined {
  const log = `/var/log/libvirt/qemu/${name}.log`;
  if (!existsSync(log)) return undefined;
  const reasons = [...readFileSync(log, "utf8").matchAll(/shutting down, reason=(\w+)/g)];
  return reasons.at(-1)?.[1];
}

afterAll(async () => {
  await provider.closeAllConnections();
  for (const n of made) removeDomain(QEMU_URI, n);
});

describe("hard-stop fallback: a domain that boots no OS ignores the ACPI request", () => {
  it("running: false waits shutdownTimeoutSeconds, then powers it off and says so", async () => {
    const m = await createDomain("stop-hard-upd", { shutdownTimeoutSeconds: 2 }, made);
    expect(domainState(QEMU_URI, m.name)).toBe("running");
    const t0 = Date.now();
    const out = await printed(() => domainProvider.update!(m.id, m.outs, { ...m.inputs, running: false }));
    const took = (Date.now() - t0) / 1000;
    expect(out).toMatch(
      new RegExp(`domain "${m.name}": did not shut down within 2 s of the ACPI power button request; powering it off \\(hard stop\\)`),
    );
    // Bounds that tell "waited the 2 s asked for" from "did not wait" and from "waited
    // the 60 s default", with room for a loaded machine: not a speed target.
    expect(took).toBeGreaterThanOrEqual(2);
    expect(took).toBeLessThan(45);
    expect(domainState(QEMU_URI, m.name)).toBe("shut off");
    expect(lastShutdownReason(m.name)).toBe("destroyed");
    console.log(`[graceful-stop] hard-stop fallback (running: false, 2 s timeout) took ${took.toFixed(1)} s`);
  }, 60_000);

  it("a delete waits, powers it off and undefines it", async () => {
    const m = await createDomain("stop-hard-del", { shutdownTimeoutSeconds: 2 }, made);
    const t0 = Date.now();
    const out = await printed(() => domainProvider.delete!(m.id, m.outs));
    const took = (Date.now() - t0) / 1000;
    expect(out).toContain(`domain "${m.name}": did not shut down within 2 s`);
    expect(out).toContain("(hard stop)");
    expect(took).toBeGreaterThanOrEqual(2);
    expect(virsh(QEMU_URI, "list", "--all", "--name")).not.toContain(m.name);
    console.log(`[graceful-stop] hard-stop fallback (delete, 2 s timeout) took ${took.toFixed(1)} s`);
  }, 60_000);

  it("shutdownTimeoutSeconds: 0 stops at once, with no shutdown request and no message", async () => {
    const m = await createDomain("stop-zero", { shutdownTimeoutSeconds: 0 }, made);
    const t0 = Date.now();
    const out = await printed(() => domainProvider.update!(m.id, m.outs, { ...m.inputs, running: false }));
    // No wait at all: far below the 60 s default (a generous bound, not a speed target;
    // a loaded CI machine took 2.04 s here). The outcome that matters is below.
    expect((Date.now() - t0) / 1000).toBeLessThan(30);
    expect(out).not.toMatch(/shut down|hard stop/);
    expect(domainState(QEMU_URI, m.name)).toBe("shut off");
    expect(lastShutdownReason(m.name)).toBe("destroyed");
  }, 60_000);

  it("an out-of-range shutdownTimeoutSeconds is refused by check", async () => {
    const { failures } = await domainProvider.check!({}, { name: "x", uri: QEMU_URI, memoryMiB: 64, shutdownTimeoutSeconds: -1 });
    expect(failures).toEqual([{ property: "shutdownTimeoutSeconds", reason: expect.stringContaining("at least 0") }]);
  });
});

describe("graceful stop of a real guest (the guest agent)", () => {
  const name = uniqueName("stop-guest");
  const dir = join(IMAGES, name);
  let poolMade = false;
  beforeAll(() => {
    ctx.image = stageGuestBoot(dir);
  }, 20 * 60_000);
  const ctx: { image?: GuestImage } = {};
  afterAll(() => {
    removeDomain(QEMU_URI, name);
    if (poolMade) removePool(QEMU_URI, name);
    rmSync(dir, { recursive: true, force: true });
  });

  const booted = () =>
    waitFor("the guest agent answering", BOOT_TIMEOUT_MS, () =>
      agentCommand(QEMU_URI, name, { execute: "guest-ping" }) === undefined ? undefined : true,
    );

  it(
    "running: false and a delete shut it down cleanly, without the hard stop",
    async () => {
      const image = ctx.image!;
      const mk = async (p: any, inputs: Record<string, unknown>) => {
        const c = await p.check!({}, { uri: QEMU_URI, ...inputs });
        expect(c.failures).toEqual([]);
        return { ...(await p.create!(c.inputs)), inputs: c.inputs };
      };
      const pool = await mk(poolProvider, { name, path: join(dir, "pool") });
      poolMade = true;
      const base = await mk(volumeProvider, { pool: name, name: "base.qcow2", source: image.disk, format: "qcow2" });
      const overlay = await mk(volumeProvider, {
        pool: name,
        name: "vm.qcow2",
        backingVolume: base.outs.path,
        backingFormat: "qcow2",
        format: "qcow2",
      });
      const vm = await mk(
        domainProvider,
        guestDomainInputs(name, dir, image, {
          disks: [{ volume: { pool: name, name: overlay.outs.name }, format: "qcow2" }],
          shutdownTimeoutSeconds: 120,
        }),
      );
      console.log(`[graceful-stop] guest booted (agent answers) after ${(await booted()).seconds.toFixed(0)} s`);

      const stop = await printed(() => domainProvider.update!(vm.id, vm.outs, { ...vm.inputs, running: false }));
      expect(stop).toMatch(new RegExp(`domain "${name}": shut down cleanly \\(guest agent\\) in [0-9.]+ s`));
      expect(stop).not.toContain("hard stop");
      expect(domainState(QEMU_URI, name)).toBe("shut off");
      expect(lastShutdownReason(name)).toBe("shutdown");
      console.log(`[graceful-stop] ${stop}`);

      const started = await domainProvider.update!(vm.id, vm.outs, { ...vm.inputs, running: true });
      await booted();
      const del = await printed(() => domainProvider.delete!(vm.id, started.outs as any));
      expect(del).toMatch(new RegExp(`domain "${name}": shut down cleanly \\(guest agent\\) in [0-9.]+ s`));
      expect(lastShutdownReason(name)).toBe("shutdown");
      expect(virsh(QEMU_URI, "list", "--all", "--name")).not.toContain(name);
      console.log(`[graceful-stop] ${del}`);
      for (const v of [overlay, base]) await volumeProvider.delete!(v.id, v.outs);
      await poolProvider.delete!(pool.id, pool.outs);
      poolMade = false;
    },
    3 * BOOT_TIMEOUT_MS,
  );
});
