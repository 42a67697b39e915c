// Item 6: stopping a real guest (scripts/guest-image.sh). Four guests boot at
// once from overlays of the same image; then, side by side:
//   floor          the agent's shutdown request and a poll until it stops, then
//                  undefine, made directly through the binding (what any tool must wait for);
//   provider agent domainProvider.delete with the agent channel (graceful, agent);
//   provider acpi  the same after the guest's agent was stopped from inside: the
//                  provider falls back to the ACPI power button;
//   provider hard  shutdownTimeoutSeconds: 0, the hard stop of the other items.
// The deletes run concurrently; the table compares the provider's graceful delete
// with the floor's. QEMU's log says how each guest ended (reason=shutdown|destroyed).
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { virshTry } from "./lib.mjs";
import { loadBuild } from "./workload.mjs";

const POLL_MS = 300; // as the provider polls (provider/domain/lifecycle.ts)
const BOOT_TIMEOUT_MS = 15 * 60_000;
const STOP_TIMEOUT_S = 120;

const wire = (o) => JSON.parse(JSON.stringify(o));

function agent(uri, name, command) {
  const r = virshTry(uri, "qemu-agent-command", name, JSON.stringify(command));
  return r.ok ? JSON.parse(r.out).return : undefined;
}

/** How QEMU's log says the guest's last run ended. */
function lastReason(name) {
  const log = `/var/log/libvirt/qemu/${name}.log`;
  if (!existsSync(log)) return null;
  return [...readFileSync(log, "utf8").matchAll(/shutting down, reason=(\w+)/g)].at(-1)?.[1] ?? null;
}

/** Runs `fn` with the provider's console.error lines collected (the deletes run at once: one collector for all). */
async function collectingOutput(fn) {
  const lines = [];
  const orig = console.error;
  console.error = (...a) => lines.push(a.join(" "));
  try {
    return { value: await fn(), lines };
  } finally {
    console.error = orig;
  }
}

async function timed(fn) {
  const t0 = performance.now();
  try {
    await fn();
    return { ms: performance.now() - t0 };
  } catch (err) {
    return { ms: performance.now() - t0, error: String(err?.message ?? err) };
  }
}

export async function gracefulMode(plan) {
  const b = loadBuild(plan.pkg);
  const { domainProvider } = b.provider;
  const { withConnection } = b.connection;
  const { withDomain } = b.domain;
  const { virDomainShutdownFlagValues, virDomainUndefineFlagsValues } = b.gen;
  const { uri, guest } = plan;
  const roles = [
    { role: "floor", agentChannel: true, timeout: STOP_TIMEOUT_S },
    { role: "provider agent", agentChannel: true, timeout: STOP_TIMEOUT_S },
    { role: "provider acpi", agentChannel: true, timeout: STOP_TIMEOUT_S, stopAgentFirst: true },
    { role: "provider hard", agentChannel: true, timeout: 0 },
  ].map((r, i) => ({ ...r, name: `${plan.prefix}g${i}` }));

  // Overlays of the one base image, then the domains, booted at once (not timed).
  for (const r of roles) {
    r.disk = join(guest.dir, `${r.name}.qcow2`);
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", "-b", guest.base, "-F", "qcow2", r.disk]);
  }
  const t0 = Date.now();
  await Promise.all(
    roles.map(async (r) => {
      const { inputs, failures } = await domainProvider.check(
        {},
        wire({
          name: r.name,
          uri,
          type: "qemu",
          machine: "pc",
          memoryMiB: 512,
          kernel: guest.kernel,
          initrd: guest.initrd,
          cmdline: guest.cmdline,
          serialConsole: true,
          qemuGuestAgent: r.agentChannel,
          shutdownTimeoutSeconds: r.timeout,
          disks: [{ file: r.disk, format: "qcow2" }],
        }),
      );
      if (failures?.length) throw new Error(`check failed: ${JSON.stringify(failures)}`);
      const made = await domainProvider.create(wire(inputs));
      r.id = made.id;
      r.outs = wire(made.outs);
    }),
  );
  process.stderr.write(`[bench] graceful: 4 real guests defined and started in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  await Promise.all(
    roles.map(async (r) => {
      const start = Date.now();
      while (agent(uri, r.name, { execute: "guest-ping" }) === undefined) {
        if (Date.now() - start > BOOT_TIMEOUT_MS) throw new Error(`guest ${r.name}: the agent did not answer within ${BOOT_TIMEOUT_MS / 1000} s`);
        await sleep(2000);
      }
      r.bootS = (Date.now() - t0) / 1000;
    }),
  );
  process.stderr.write(`[bench] graceful: all guests booted (agent answers) after ${Math.max(...roles.map((r) => r.bootS)).toFixed(0)} s\n`);
  // The ACPI guest: stop its agent from inside, so that the provider's agent request fails and it presses the power button.
  for (const r of roles.filter((x) => x.stopAgentFirst)) {
    agent(uri, r.name, { execute: "guest-exec", arguments: { path: "/bin/systemctl", arg: ["stop", "qemu-guest-agent"] } });
    const start = Date.now();
    while (agent(uri, r.name, { execute: "guest-ping" }) !== undefined && Date.now() - start < 30_000) await sleep(500);
  }
  await sleep(5000); // let the guests settle after boot (cloud-init's last steps)

  const floorStop = async (r) =>
    withConnection({ uri }, (conn) =>
      withDomain(conn, r.id, async (dom) => {
        await dom.shutdown(virDomainShutdownFlagValues.VIR_DOMAIN_SHUTDOWN_GUEST_AGENT);
        const deadline = Date.now() + r.timeout * 1000;
        while (await dom.isActive()) {
          if (Date.now() > deadline) {
            await dom.destroy();
            break;
          }
          await sleep(POLL_MS);
        }
        await dom.undefine(virDomainUndefineFlagsValues.VIR_DOMAIN_UNDEFINE_NVRAM);
      }),
    );
  const { value: stops, lines } = await collectingOutput(() =>
    Promise.all(roles.map((r) => timed(() => (r.role === "floor" ? floorStop(r) : domainProvider.delete(r.id, r.outs))))),
  );
  const results = roles.map((r, i) => {
    const res = stops[i];
    return {
      role: r.role,
      name: r.name,
      bootS: r.bootS,
      stopS: res.ms / 1000,
      printed: lines.filter((l) => l.includes(`"${r.name}"`)),
      error: res.error,
      reason: lastReason(r.name),
      gone: !virshTry(uri, "dominfo", r.name).ok,
    };
  });
  for (const r of results) {
    process.stderr.write(
      `[bench]   ${r.role.padEnd(14)}: ${r.stopS.toFixed(1)} s, QEMU: reason=${r.reason}${r.error ? `, ERROR: ${r.error}` : ""}${r.printed.length ? ` — ${r.printed.join(" / ")}` : ""}\n`,
    );
  }
  await b.connection.closeAllConnections();
  return { results };
}
