// Side-effecting half of the teardown rules: gathers the facts that
// ../teardown.ts decides on, and carries out the plan it returns.
import type { DomainHandle } from "../libvirt/domain";
import { isUnsupported } from "../libvirt/errors";
import { SnapshotHandle } from "../libvirt/snapshot";
import type { DomainFacts, TeardownDecision, TeardownStep } from "../teardown";
import { parseDomainXml } from "./xml";
import { testPause } from "../test-hooks";
import { TeardownRefusedError } from "../refusal";

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

async function runStep(dom: DomainHandle, step: TeardownStep): Promise<void> {
  switch (step.call) {
    case "deleteSnapshots":
      for (const name of step.names) {
        const snap = await SnapshotHandle.lookup(dom, name);
        if (!snap) continue;
        try {
          await snap.delete(0);
        } finally {
          snap.free();
        }
      }
      return;
    case "destroy":
      await dom.destroy();
      return;
    case "undefine":
      await testPause("beforeUndefine");
      if (step.expectSnapshots) {
        const seen = new Set(step.expectSnapshots);
        const appeared = (await dom.snapshotNames()).filter((n) => !seen.has(n));
        if (appeared.length > 0) {
          throw new TeardownRefusedError(
            `refusing to undefine domain "${dom.name()}": ${appeared.length === 1 ? "a snapshot" : "snapshots"} ` +
              `(${appeared.map((n) => `"${n}"`).join(", ")}) appeared after the teardown check, and the metadata ` +
              `cascade would remove ${appeared.length === 1 ? "its" : "their"} metadata too. The domain still exists ` +
              `(stopped, if it was running) with all its snapshots; run the destroy again to include ${appeared.length === 1 ? "it" : "them"}.`,
          );
        }
      }
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

/** Carries out an allowed decision, or throws the refusal before touching anything. */
export async function carryOut(dom: DomainHandle, decision: TeardownDecision): Promise<void> {
  if (!decision.allowed) throw new TeardownRefusedError(decision.message);
  for (const step of decision.steps) await runStep(dom, step);
}
