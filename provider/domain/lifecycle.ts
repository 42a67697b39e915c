// Side-effecting half of the teardown rules: gathers the facts that
// ../teardown.ts decides on, and carries out the plan it returns.
import type { DomainHandle } from "../libvirt/domain";
import { isUnsupported } from "../libvirt/errors";
import { SnapshotHandle } from "../libvirt/snapshot";
import type { DomainFacts, TeardownDecision, TeardownStep } from "../teardown";
import { parseDomainXml } from "./xml";
import type { ProviderHooks } from "../hooks";
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

/**
 * The second line of defence for a domain-wide drop of metadata (a transient
 * domain's stop, or an undefine with a cascade flag): lists again right before
 * the call and refuses if a snapshot or checkpoint appeared after the check.
 */
async function refuseNewSince(
  dom: DomainHandle,
  step: { expectSnapshots?: string[]; expectCheckpoints?: number },
  verb: string,
  still: string,
): Promise<void> {
  const found: string[] = [];
  if (step.expectSnapshots) {
    const seen = new Set(step.expectSnapshots);
    const appeared = (await dom.snapshotNames()).filter((n) => !seen.has(n));
    if (appeared.length > 0) found.push(`${appeared.length === 1 ? "a snapshot" : "snapshots"} (${appeared.map((n) => `"${n}"`).join(", ")})`);
  }
  if (step.expectCheckpoints !== undefined) {
    const now = await unsupportedAs(0, () => dom.checkpointCount());
    if (now > step.expectCheckpoints)
      found.push(
        `${now - step.expectCheckpoints === 1 ? "a checkpoint" : `${now - step.expectCheckpoints} checkpoints`} (${now} now, ${step.expectCheckpoints} at the check)`,
      );
  }
  if (found.length === 0) return;
  const one = found.length === 1 && /^a /.test(found[0]);
  throw new TeardownRefusedError(
    `refusing to ${verb} domain "${dom.name()}": ${found.join(" and ")} appeared after the teardown check, and ` +
      `${verb === "undefine" ? "the metadata cascade" : "stopping it"} would remove ${one ? "its" : "their"} metadata too. ` +
      `${still}; run the operation again to include ${one ? "it" : "them"} in the check.`,
  );
}

async function runStep(dom: DomainHandle, step: TeardownStep, hooks: ProviderHooks): Promise<void> {
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
      await hooks.pause?.("beforeDestroy");
      if (step.expectSnapshots || step.expectCheckpoints !== undefined) {
        // A transient domain: libvirt drops its metadata as it stops.
        await refuseNewSince(dom, step, "stop transient", "The domain is still running with all its snapshots and checkpoints");
      }
      await dom.destroy();
      return;
    case "undefine":
      await hooks.pause?.("beforeUndefine");
      await refuseNewSince(dom, step, "undefine", "The domain still exists (stopped, if it was running) with all its snapshots and checkpoints");
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
