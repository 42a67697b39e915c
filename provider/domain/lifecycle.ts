// Side-effecting half of the teardown rules: gathers the facts that
// ../teardown/domain.ts decides on, and carries out the plan it returns.
import type { DomainHandle } from "../libvirt/domain";
import { isUnsupported } from "../libvirt/errors";
import { planLateDrop, type DomainFacts, type DropExpectations, type TeardownDecision, type TeardownStep } from "../teardown/domain";
import { parseDomainXml } from "./xml";
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
  return {
    name: dom.name(),
    persistent,
    active,
    snapshots: await dom.snapshotNames(),
    hasManagedSave: await unsupportedAs(false, () => dom.hasManagedSave()),
    checkpoints: await unsupportedAs(0, () => dom.checkpointCount()),
    hasNvram: parseDomainXml(xml).hasNvram,
  };
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

async function runStep(dom: DomainHandle, step: TeardownStep, hooks: ProviderHooks): Promise<void> {
  switch (step.call) {
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
  for (const step of decision.steps) await runStep(dom, step, hooks);
}
