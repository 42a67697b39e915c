// Side-effecting half of the teardown rules: gathers the facts that
// ../teardown/domain.ts decides on, and carries out the plan it returns.
import { setTimeout as delay } from "node:timers/promises";
import type { DomainHandle } from "../libvirt/domain";
import { isUnsupported } from "../libvirt/errors";
import { virDomainShutdownFlagValues } from "../libvirt/libvirt.gen";
import { planLateDrop, type DomainFacts, type DropExpectations, type TeardownDecision, type TeardownStep } from "../teardown/domain";
import { parseDomainXml } from "./xml";
import { definedDisks } from "./disk-chain";
import { writeArchive } from "./archive";
import { isLocal } from "../libvirt/connection";
import type { ProviderHooks } from "../hooks";
import { TeardownRefusedError } from "../teardown/refused";

export { TeardownRefusedError };

async function unsupportedAs<T>(fallback: T, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (isUnsupported(err)) return fallback;
    throw err;
  }
}

export async function gatherFacts(dom: DomainHandle): Promise<DomainFacts> {
  const persistent = await dom.isPersistent();
  const active = await dom.isActive();
  const xml = await dom.xml({ inactive: persistent });
  const snapshots = await dom.snapshotNames();
  return {
    name: dom.name(),
    persistent,
    active,
    snapshots,
    hasManagedSave: await unsupportedAs(false, () => dom.hasManagedSave()),
    checkpoints: await unsupportedAs(0, () => dom.checkpointCount()),
    hasNvram: parseDomainXml(xml).hasNvram,
    // From the XML, whatever input put the channel there (or the user's own xml).
    guestAgent: /<target\b[^>]*\bname=["']org\.qemu\.guest_agent\.0["']/.test(xml),
    // Only the snapshot archive needs these: read when there are snapshots.
    ...(snapshots.length > 0 ? await archiveFacts(dom, xml) : {}),
  };
}

/** Where the snapshot archive could go (../teardown/domain.ts decides): the first disk image, its pool, the hypervisor's place. */
async function archiveFacts(
  dom: DomainHandle,
  xml: string,
): Promise<Pick<DomainFacts, "firstDisk" | "localHypervisor" | "archiveStamp" | "inMemoryDriver">> {
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  const facts = { localHypervisor: isLocal(dom.conn.uri), archiveStamp: stamp, inMemoryDriver: /^test(\+[a-z0-9.-]+)?:/i.test(dom.conn.uri) };
  const disk = definedDisks(xml).find((d) => (d.element?.["@device"] ?? "disk") === "disk" && (d.type === "volume" || d.type === "file") && d.source);
  if (!disk) return facts;
  if (disk.type === "volume") return { ...facts, firstDisk: { pool: String(disk.source!["@pool"]) } };
  const file = disk.source!["@file"] === undefined ? undefined : String(disk.source!["@file"]);
  if (file === undefined) return facts;
  // A file libvirt knows as a volume: its pool takes the archive (reachable over a remote connection too).
  if (facts.localHypervisor) return { ...facts, firstDisk: { file } };
  const pool = await poolOfFile(dom, file).catch(() => undefined);
  return { ...facts, firstDisk: pool === undefined ? { file } : { file, pool } };
}

/** Lists again right before a domain-wide drop of metadata and throws the late refusal (../teardown/domain.ts). */
async function refuseNewSince(dom: DomainHandle, step: DropExpectations, verb: "stop transient" | "undefine"): Promise<void> {
  const now = {
    name: dom.name(),
    snapshots: step.expectSnapshots ? await dom.snapshotNames() : [],
    checkpoints: step.expectCheckpoints !== undefined ? await unsupportedAs(0, () => dom.checkpointCount()) : 0,
  };
  const decision = planLateDrop(step, now, verb);
  if (!decision.allowed) throw new TeardownRefusedError(decision.message);
}

const POLL_MS = 300;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** What the steps so far left behind: a graceful shutdown that stopped the domain leaves the hard stop nothing to do. */
interface StepState {
  /** A shutdown step ran (the domain may have stopped by itself since). */
  asked: boolean;
}

/** The ACPI power button; a driver that rejects the flag (the test driver) gets its own default shutdown. */
async function pressPowerButton(dom: DomainHandle, acpi: virDomainShutdownFlagValues): Promise<void> {
  try {
    await dom.shutdown(acpi);
  } catch (err) {
    if (isUnsupported(err)) await dom.shutdown(0);
    else throw err;
  }
}

/**
 * Asks the guest to shut down (the agent, falling back to the ACPI power button
 * when the agent does not answer) and polls until the domain stops or the time is up.
 * Says which happened; the hard stop after a timeout is the destroy step's.
 */
async function gracefulShutdown(dom: DomainHandle, step: Extract<TeardownStep, { call: "shutdown" }>, state: StepState): Promise<void> {
  const { VIR_DOMAIN_SHUTDOWN_GUEST_AGENT: AGENT, VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN: ACPI } = virDomainShutdownFlagValues;
  let how = "ACPI power button";
  state.asked = true;
  const started = Date.now();
  if (step.via === "agent") {
    try {
      await dom.shutdown(AGENT);
      how = "guest agent";
    } catch (err) {
      console.error(
        `domain "${dom.name()}": the guest agent did not take the shutdown request (${(err as Error).message}); pressing the ACPI power button instead`,
      );
      await pressPowerButton(dom, ACPI);
    }
  } else {
    await pressPowerButton(dom, ACPI);
  }
  const deadline = started + step.timeoutSeconds * 1000;
  for (;;) {
    if (!(await dom.isActive())) {
      console.error(`domain "${dom.name()}": shut down cleanly (${how}) in ${seconds(Date.now() - started)}`);
      return;
    }
    if (Date.now() >= deadline) break;
    await delay(Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
  }
  console.error(
    `domain "${dom.name()}": did not shut down within ${step.timeoutSeconds} s of the ${how} request; powering it off (hard stop). ` +
      `To stop it cleanly, have the guest act on ACPI (acpid, systemd-logind) or run qemu-guest-agent; shutdownTimeoutSeconds: 0 skips the wait`,
  );
}

async function runStep(dom: DomainHandle, step: TeardownStep, hooks: ProviderHooks, state: StepState): Promise<void> {
  switch (step.call) {
    case "shutdown":
      await hooks.pause?.("beforeShutdown");
      await gracefulShutdown(dom, step, state);
      return;
    case "archiveSnapshots": {
      const where = await writeArchive(dom, step.to, step.snapshots, step.secure, step.forReplacement === true);
      // Pulumi's delete has no outputs: the engine shows what the provider prints.
      console.error(
        `domain "${dom.name()}": archived the domain XML and ${step.snapshots.length === 1 ? "its snapshot's" : `its ${step.snapshots.length} snapshots'`} XML ` +
          `to ${where} before removing libvirt's snapshot metadata (the contents stay in the disk images; \`virsh snapshot-create --redefine\` takes each one back)`,
      );
      return;
    }
    case "deleteSnapshots":
      for (const name of step.names) {
        const snap = await dom.lookupSnapshot(name);
        if (!snap) continue;
        try {
          await snap.delete(0);
        } finally {
          snap.free();
        }
      }
      return;
    case "destroy":
      await hooks.pause?.("beforeDestroy");
      if (step.expectSnapshots || step.expectCheckpoints !== undefined) {
        // A transient domain: libvirt drops its metadata as it stops.
        await refuseNewSince(dom, step, "stop transient");
      }
      // After a graceful shutdown that worked there is nothing left to power off.
      if (state.asked && !(await dom.isActive())) return;
      await dom.destroy();
      return;
    case "undefine":
      await hooks.pause?.("beforeUndefine");
      await refuseNewSince(dom, step, "undefine");
      try {
        await dom.undefine(step.flags);
      } catch (err) {
        // Drivers without NVRAM support (the test driver) reject the NVRAM flags.
        if (step.fallbackFlags !== step.flags && isUnsupported(err)) await dom.undefine(step.fallbackFlags);
        else throw err;
      }
      return;
  }
}

/** Carries out an allowed decision, or throws the refusal before touching anything; `hooks` pause at its race windows. */
export async function carryOut(dom: DomainHandle, decision: TeardownDecision, hooks: ProviderHooks): Promise<void> {
  if (!decision.allowed) throw new TeardownRefusedError(decision.message);
  const state: StepState = { asked: false };
  for (const step of decision.steps) await runStep(dom, step, hooks, state);
}

/** The running pool that holds `file` as a volume (virStorageVolLookupByPath, then the pool whose volume of that name has its key). */
async function poolOfFile(dom: DomainHandle, file: string): Promise<string | undefined> {
  const vol = await dom.conn.lookupVolumeByPath(file);
  if (!vol) return undefined;
  const pools = await dom.conn.listPools();
  try {
    for (const pool of pools) {
      if (!(await pool.isActive())) continue;
      const same = await pool.lookupVolume(vol.name());
      if (!same) continue;
      const match = same.key() === vol.key();
      same.free();
      if (match) return pool.name();
    }
    return undefined;
  } finally {
    vol.free();
    pools.forEach((p) => p.free());
  }
}
