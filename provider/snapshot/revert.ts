// Carrying out a revert (a Snapshot's revertTrigger changed): the facts that
// teardown/revert.ts's planRevert decides on, read before anything changes, then
// its steps. A refusal changes nothing; a failed snapshot of the current state
// changes nothing; a revert that fails after that snapshot names it.
import type { Connection } from "../libvirt/connection";
import type { DomainHandle } from "../libvirt/domain";
import { isLibvirtError, type LibvirtError } from "../libvirt/errors";
import { virDomainSnapshotCreateFlags as C, virErrorNumber as E } from "../libvirt/libvirt.gen";
import type { SnapshotHandle } from "../libvirt/snapshot";
import type { ProviderHooks } from "../hooks";
import { planRevert, type RevertStep } from "../teardown/revert";
import { child, many, parseXml } from "../xml/xml";
import type { SnapshotInputs } from "./inputs";
import { buildSnapshotXml, parseSnapshotXml } from "./xml";
import { SnapshotOptionError } from "./errors";

/** The revert failed after the snapshot of the current state was taken: nothing is lost, and `preRevert` says where it is. */
export class RevertFailedError extends Error {
  constructor(
    message: string,
    readonly preRevert: string | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const libvirtText = (err: unknown) =>
  isLibvirtError(err) ? `${(err as LibvirtError).libvirtMessage} [${(err as LibvirtError).codeName}]` : String(err);

/** The guest device names of the domain's disks now. */
export async function diskTargets(dom: DomainHandle): Promise<string[]> {
  const devices = child(child(parseXml(await dom.xml()), "domain"), "devices");
  return many(devices?.disk).map((d) => String(child(d, "target")?.["@dev"] ?? ""));
}

/** Refuses (SnapshotOptionError on revertTrigger) or returns the steps, from facts read now. */
/** The domain's snapshots other than `except` that have a disk outside the images' own snapshot tables (an overlay). */
async function externalSnapshotsOf(dom: DomainHandle, names: string[], except: string): Promise<string[]> {
  const external: string[] = [];
  for (const name of names.filter((n) => n !== except)) {
    const other = await dom.lookupSnapshot(name);
    if (!other) continue;
    try {
      if (parseSnapshotXml(await other.xml()).disks.some((d) => d.snapshot === "external")) external.push(name);
    } finally {
      other.free();
    }
  }
  return external;
}

export async function planRevertNow(conn: Connection, dom: DomainHandle, snap: SnapshotHandle, discardStateOnRevert: boolean): Promise<RevertStep[]> {
  const target = parseSnapshotXml(await snap.xml());
  const names = await dom.snapshotNames();
  const plan = planRevert({
    snapshot: snap.name(),
    domain: dom.name(),
    active: await dom.isActive(),
    domainState: (await dom.state()).state,
    target: {
      state: target.state,
      memory: target.memory?.snapshot,
      external: target.memory?.snapshot === "external" || target.disks.some((d) => d.snapshot === "external"),
    },
    libVersion: await conn.libVersion(),
    discardStateOnRevert,
    snapshotNames: names,
    externalSnapshots: await externalSnapshotsOf(dom, names, snap.name()),
    now: new Date(),
  });
  if (!plan.allowed) throw new SnapshotOptionError("revertTrigger", plan.message);
  return plan.steps;
}

/** Carries out planRevertNow's steps; returns the name of the snapshot of the state before, if one was taken. */
export async function carryOutRevert(
  dom: DomainHandle,
  snap: SnapshotHandle,
  steps: RevertStep[],
  hooks: ProviderHooks,
): Promise<string | undefined> {
  const where = `domain "${dom.name()}" to snapshot "${snap.name()}"`;
  let preRevert: string | undefined;
  for (const step of steps) {
    if (step.kind === "preRevertSnapshot") {
      // Memory said explicitly either way: a domain started since the plan makes libvirt refuse rather than save what the plan did not expect.
      const xml = buildSnapshotXml({
        name: step.name,
        description: `The state of domain "${dom.name()}" before libvirt-pulumi reverted it to snapshot "${snap.name()}" (revertTrigger changed)`,
        memory: step.memory ? "internal" : "none",
      } as SnapshotInputs);
      await hooks.pause?.("beforePreRevertSnapshot");
      try {
        (await dom.createSnapshot(xml, C.VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC, `"${step.name}"`)).free();
      } catch (err) {
        const message =
          `cannot revert ${where}: the snapshot of its current state ("${step.name}") could not be taken: ${libvirtText(err)}. ` +
          `Nothing was changed. Make the current state snapshottable (internal snapshots need qcow2 disks), or set ` +
          `discardStateOnRevert: true to revert without keeping it`;
        throw isLibvirtError(err)
          ? new SnapshotOptionError("discardStateOnRevert", message, err as LibvirtError)
          : new Error(message, { cause: err });
      }
      preRevert = step.name;
    } else {
      await hooks.pause?.("beforeRevert");
      try {
        await snap.revert(0);
      } catch (err) {
        const risky = isLibvirtError(err, E.VIR_ERR_SNAPSHOT_REVERT_RISKY)
          ? " libvirt asks for VIR_DOMAIN_SNAPSHOT_REVERT_FORCE, which the provider never sets: revert by hand (virsh snapshot-revert --force) if you accept the risk."
          : "";
        const kept = preRevert
          ? ` The domain's state before the attempt is kept in snapshot "${preRevert}" (virsh snapshot-revert ${dom.name()} ${preRevert} goes back to it).`
          : " discardStateOnRevert was set, so no snapshot of the state before was taken.";
        throw new RevertFailedError(
          `reverting ${where} failed (revertTrigger changed): ${libvirtText(err)}.${risky}${kept} ` +
            `The next \`pulumi up\` tries the revert again.`,
          preRevert,
          { cause: err },
        );
      }
    }
  }
  return preRevert;
}
