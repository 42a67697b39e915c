// The Snapshot resource provider: its lifecycle on the provider kit
// (resource/provider.ts), which owns check, the diff skeleton and redaction.
import { withConnection, type Connection } from "../libvirt/connection";
import { withDomain, type DomainHandle } from "../libvirt/domain";
import { isLibvirtError, isNoDomain, isNoSnapshot, LibvirtError } from "../libvirt/errors";
import { orFlags, withoutFlags } from "../libvirt/flags";
import { virDomainSnapshotCreateFlags as C, virDomainSnapshotDeleteFlags as D, virErrorNumber as E } from "../libvirt/libvirt.gen";
import type { SnapshotHandle } from "../libvirt/snapshot";
import { withoutUndefined } from "../state-values";
import { defineProvider } from "../resource/provider";
import { canonicalEqual } from "../equality";
import { NotReadyError } from "../resource/not-ready";
import { revertRequested } from "../teardown/revert";
import { SnapshotOptionError } from "./errors";
import { carryOutRevert, diskTargets, planRevertNow, RevertFailedError } from "./revert";
import type { ProviderHooks } from "../hooks";
import { checkSnapshotInputs, type SnapshotInputs } from "./inputs";
import { snapshotSpec } from "./spec";
import { defaultsFor } from "../resource/spec";
import { UUID_RE } from "../libvirt/uuid";
import { keepsDataOnDestroy, snapshotDeleteFailure } from "../teardown/snapshot";
import { buildSnapshotXml, parseSnapshotXml, withDescription, type SnapshotKind } from "./xml";
import { takeRestoredMark } from "../domain/restore-mark";
import { adoptHint, differences, refuseMismatch, type Comparison } from "../resource/adopt";
import { keptReplaceOf } from "../domain/replace-note";

/** The inputs a Snapshot of a Domain resource takes from it (sdk/snapshot.ts). */
const KEPT_WITH_DOMAIN = ["domain", "uri", "auth"];

export interface SnapshotOutputs extends Omit<SnapshotInputs, "xml"> {
  /** The UUID of the domain the snapshot belongs to. */
  domainUuid: string;
  /** The URI libvirt reported for the connection (virConnectGetURI). */
  uri: string;
  /** The parent snapshot's name; absent for a root snapshot. */
  parent?: string;
  /** Names of the direct children. */
  children: string[];
  /** The domain state captured: "running", "shutoff", "paused", "disk-snapshot", ... */
  state?: string;
  /** When libvirt took the snapshot, in seconds since the Unix epoch. */
  creationTime?: number;
  isCurrent: boolean;
  kind: SnapshotKind;
  /** The snapshot XML as libvirt returns it now. */
  xml: string;
  /** The raw `xml` input, as given (the `xml` output is libvirt's document). */
  inputXml?: string;
  /** The snapshots of the domain's state taken before each revert (revertTrigger), oldest first; not managed by Pulumi. */
  preRevertSnapshots: string[];
  /** The create took over a snapshot that already existed (adopt: true). */
  adopted?: boolean;
}

export { SnapshotOptionError };

/** libvirt's ways of saying "this driver / this configuration cannot do that". */
const CANNOT_CODES = [
  E.VIR_ERR_NO_SUPPORT,
  E.VIR_ERR_CONFIG_UNSUPPORTED,
  E.VIR_ERR_OPERATION_UNSUPPORTED,
  E.VIR_ERR_ARGUMENT_UNSUPPORTED,
  E.VIR_ERR_INVALID_ARG,
  E.VIR_ERR_XML_ERROR,
  E.VIR_ERR_XML_INVALID_SCHEMA,
  E.VIR_ERR_OPERATION_INVALID,
];

/** The Pulumi ID: the domain UUID (always 36 characters), "/", the snapshot name. */
export function snapshotId(domainUuid: string, name: string): string {
  return `${domainUuid}/${name}`;
}

export function parseSnapshotId(id: string): { domainUuid: string; name: string } {
  const domainUuid = id.slice(0, 36);
  if (!UUID_RE.test(domainUuid) || id[36] !== "/" || id.length < 38) {
    throw new Error(`"${id}" is not a Snapshot ID: expected "<domain UUID>/<snapshot name>"`);
  }
  return { domainUuid, name: id.slice(37) };
}

export function createFlags(i: SnapshotInputs): C {
  return orFlags(
    i.atomic ? C.VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC : 0,
    i.diskOnly ? C.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY : 0,
    i.quiesce ? C.VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE : 0,
    i.live ? C.VIR_DOMAIN_SNAPSHOT_CREATE_LIVE : 0,
    i.halt ? C.VIR_DOMAIN_SNAPSHOT_CREATE_HALT : 0,
  );
}

const FLAG_OPTIONS: Array<[number, string]> = [
  [C.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY, "diskOnly"],
  [C.VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE, "quiesce"],
  [C.VIR_DOMAIN_SNAPSHOT_CREATE_LIVE, "live"],
  [C.VIR_DOMAIN_SNAPSHOT_CREATE_HALT, "halt"],
  [C.VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC, "atomic"],
];

/** The options the user set that decide how the snapshot is taken, as `key: value` text. */
function chosenOptions(i: SnapshotInputs): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (i.xml !== undefined) out.push(["xml", "(raw snapshot XML)"]);
  if (i.memory !== undefined) out.push(["memory", JSON.stringify(i.memory)]);
  if (i.diskOnly) out.push(["diskOnly", "true"]);
  i.disks?.forEach((d, n) => out.push([`disks[${n}].snapshot`, `${JSON.stringify(d.snapshot)} (${d.target})`]));
  if (i.live) out.push(["live", "true"]);
  if (i.quiesce) out.push(["quiesce", "true"]);
  if (i.halt) out.push(["halt", "true"]);
  return out;
}

/** Our own first line of defence: options that cannot apply to a domain in this state. */
function stateConflict(i: SnapshotInputs, active: boolean, state: string, domainName: string): SnapshotOptionError | undefined {
  if (active) return undefined;
  const why = `domain "${domainName}" is ${state}, so there is no memory state to save`;
  if (i.memory === "internal" || i.memory === "external") {
    return new SnapshotOptionError(
      "memory",
      `cannot take snapshot "${i.name}" with memory: "${i.memory}": ${why}; set memory: "none" (or leave it unset), or start the domain first`,
    );
  }
  if (i.live) return new SnapshotOptionError("live", `cannot take snapshot "${i.name}" with live: true: ${why}; drop live`);
  if (i.quiesce)
    return new SnapshotOptionError(
      "quiesce",
      `cannot take snapshot "${i.name}" with quiesce: true: domain "${domainName}" is ${state} and has no running guest agent to freeze its file systems; drop quiesce`,
    );
  return undefined;
}

/** A disks[n].target that is not a disk of the domain. */
async function unknownDisk(dom: DomainHandle, i: SnapshotInputs, domainName: string): Promise<SnapshotOptionError | undefined> {
  if (!i.disks?.length) return undefined;
  const targets = await diskTargets(dom);
  const n = i.disks.findIndex((d) => !targets.includes(d.target));
  if (n < 0) return undefined;
  return new SnapshotOptionError(
    `disks[${n}].target`,
    `cannot take snapshot "${i.name}": domain "${domainName}" has no disk "${i.disks[n].target}" (its disks: ${targets.length ? targets.map((t) => `"${t}"`).join(", ") : "none"}); fix disks[${n}].target`,
  );
}

/** Turns libvirt's "cannot do that" into an error that names the option to change. */
function explainCreateFailure(err: unknown, i: SnapshotInputs, active: boolean, state: string, domainName: string): unknown {
  if (!isLibvirtError(err, ...CANNOT_CODES)) return err;
  const e = err as LibvirtError;
  const intro = `libvirt cannot take snapshot "${i.name}" of domain "${domainName}" (${state}) as configured: ${e.libvirtMessage} [${e.codeName}]`;
  const bits = /unsupported flags \(0x([0-9a-f]+)\)/i.exec(e.libvirtMessage);
  if (bits) {
    const value = parseInt(bits[1], 16);
    const options = FLAG_OPTIONS.filter(([flag]) => value & flag).map(([, o]) => o);
    if (options.length > 0) {
      return new SnapshotOptionError(
        options[0],
        `${intro}. This hypervisor driver does not support ${options.map((o) => `${o}: ${o === "atomic" ? "true (the default)" : "true"}`).join(", ")}; change ${options.join(" / ")}`,
        e,
      );
    }
  }
  const external = (i.disks ?? []).findIndex((d) => d.snapshot === "external");
  if (!active && external >= 0 && !i.diskOnly) {
    return new SnapshotOptionError(
      "diskOnly",
      `${intro}. A ${state} domain takes external disk snapshots only as a disk-only snapshot: set diskOnly: true, or use disks[${external}].snapshot: "internal"`,
      e,
    );
  }
  const chosen = chosenOptions(i);
  if (chosen.length === 0) {
    return new SnapshotOptionError(
      "memory",
      `${intro}. This is libvirt's default snapshot for a ${state} domain; choose the kind explicitly with memory, diskOnly and disks`,
      e,
    );
  }
  return new SnapshotOptionError(
    chosen[0][0],
    `${intro}. The options that decide this: ${chosen.map(([k, v]) => `${k}: ${v}`).join(", ")}; change one of them`,
    e,
  );
}

async function describe(
  conn: Connection,
  dom: DomainHandle,
  snap: SnapshotHandle,
  inputs: SnapshotInputs,
  preRevertSnapshots: string[] = [],
): Promise<SnapshotOutputs> {
  const xml = await snap.xml();
  const observed = parseSnapshotXml(xml);
  const { xml: inputXml, ...rest } = inputs;
  return {
    ...rest,
    preRevertSnapshots,
    name: snap.name(),
    domainUuid: dom.uuid(),
    uri: conn.uri,
    // The description libvirt has now, so that a refresh shows a change made outside Pulumi.
    description: inputXml === undefined ? observed.description : inputs.description,
    parent: (await snap.parentName()) ?? undefined,
    children: await snap.childNames(),
    state: observed.state,
    creationTime: observed.creationTime,
    isCurrent: await snap.isCurrent(),
    // A disk-only snapshot of a shut-off domain records state "shutoff": the flag it was made with says more.
    kind: inputs.diskOnly ? "disk-only" : observed.kind,
    xml,
    inputXml,
  };
}

/** The outputs recorded for a create whose outcome is unknown; \`pulumi refresh\` reads the rest. */
function partlyCreated(inputs: SnapshotInputs, domainUuid: string, uri: string): SnapshotOutputs {
  const { xml: inputXml, ...rest } = inputs;
  return withoutUndefined({
    ...rest,
    domainUuid,
    uri,
    children: [],
    isCurrent: false,
    kind: inputs.diskOnly ? "disk-only" : "internal",
    xml: "",
    inputXml,
    preRevertSnapshots: [],
  });
}

function domainGone(what: string, domain: string, conn: Connection): Error {
  return new Error(`${what}: domain ${domain} no longer exists on ${conn.uri}; run \`pulumi refresh\` to forget its snapshots`);
}

/** The inputs as stored in outputs (the raw xml input lives under inputXml), defaults for what an older state lacks. */
function storedInputs(props: Partial<SnapshotOutputs>, domainUuid: string, name: string): SnapshotInputs {
  const { inputXml, ...rest } = props;
  return { domain: domainUuid, name, ...defaultsFor(snapshotSpec, rest), ...rest, xml: inputXml } as SnapshotInputs;
}

/**
 * A same-named replacement deletes the old snapshot (with its data, by default)
 * before it takes the new one. If the new one cannot be taken (options that do
 * not fit the domain's state, a disk it does not have), the restore point would be
 * gone and nothing in its place: that is refused here, in diff, before anything happened.
 */
async function refuseDoomedReplace(olds: SnapshotOutputs, inputs: SnapshotInputs, replaces: string[], hooks: ProviderHooks): Promise<void> {
  const keys = replaces.map((k) => `\`${k}\``).join(", ");
  let conflict: SnapshotOptionError | undefined;
  let domainName = olds.domainUuid;
  try {
    await withConnection({ uri: olds.uri, auth: olds.auth, hooks }, (conn) =>
      withDomain(conn, olds.domainUuid, async (dom) => {
        if (!dom) return; // the domain is gone: the create fails on its own, and there is no old snapshot to lose
        domainName = dom.name();
        const { state } = await dom.state();
        conflict = stateConflict(inputs, await dom.isActive(), state, domainName) ?? (await unknownDisk(dom, inputs, domainName));
      }),
    );
  } catch (err) {
    throw new Error(
      `cannot check whether replacing snapshot "${olds.name}" is safe: ${(err as Error).message}. Changing ${keys} replaces it, ` +
        `which deletes the old snapshot first: make ${olds.uri} reachable (start libvirtd, fix uri or auth) and run it again, or revert the change to ${keys}.`,
      { cause: err },
    );
  }
  if (!conflict) return;
  throw new SnapshotOptionError(
    conflict.option,
    `refusing to replace snapshot "${olds.name}" of domain "${domainName}" (nothing was changed): changing ${keys} replaces it, which ` +
      `deletes the old snapshot${keepsDataOnDestroy(olds) ? "" : " with its data"} before taking the new one, and the new one could not be taken: ${conflict.message}. ` +
      `Or revert the change to ${keys} to keep the snapshot as it is.`,
  );
}

/**
 * A snapshot of this name that a Domain's restoreSnapshotsFrom redefined is the
 * one this resource stands for: it is adopted (outputs as for a new one, no new
 * snapshot) when the domain's restore mark names it with its creation time, and
 * taken off the mark, so only one resource adopts it. Anything else (a snapshot
 * made by hand) returns undefined, and the create refuses. Frees `existing`.
 */
async function adoptRestored(conn: Connection, dom: DomainHandle, existing: SnapshotHandle, inputs: SnapshotInputs) {
  try {
    const { creationTime } = parseSnapshotXml(await existing.xml());
    if (!(await takeRestoredMark(dom, inputs.name, creationTime))) return undefined;
    console.error(`snapshot "${inputs.name}" of domain "${dom.name()}": adopted the snapshot the domain's restoreSnapshotsFrom redefined`);
    const outs = await describe(conn, dom, existing, inputs);
    return { id: snapshotId(outs.domainUuid, outs.name), outs };
  } finally {
    existing.free();
  }
}

/** libvirt's spelling of a memory mode, as the input says it ("no" is "none"). */
const memoryInput = (mode: string | undefined) => (mode === "no" ? "none" : mode);

/**
 * adopt: true and the domain has a snapshot of that name: taken over when what
 * the inputs set (description, memory, disk-only, each disk's mode; or what a raw
 * xml sets of those) matches libvirt's, else refused with every difference.
 * Nothing is changed either way. Does not free `existing`.
 */
async function adoptSnapshot(conn: Connection, dom: DomainHandle, existing: SnapshotHandle, inputs: SnapshotInputs): Promise<SnapshotOutputs> {
  const o = parseSnapshotXml(await existing.xml());
  const what = `snapshot "${inputs.name}" of domain "${dom.name()}"`;
  const comparisons: Comparison[] = [];
  if (inputs.xml !== undefined) {
    const given = parseSnapshotXml(inputs.xml);
    comparisons.push(
      ["xml: description", given.description, o.description],
      ["xml: memory", memoryInput(given.memory?.snapshot), memoryInput(o.memory?.snapshot)],
    );
  } else {
    const modes = new Map(o.disks.map((d) => [d.target, memoryInput(d.snapshot)]));
    comparisons.push(
      ["description", inputs.description === "" ? undefined : inputs.description, o.description],
      ["memory", inputs.memory, memoryInput(o.memory?.snapshot)],
      ["memoryFile", inputs.memoryFile, o.memory?.file],
      ["diskOnly", inputs.diskOnly ? true : undefined, o.kind === "disk-only"],
      ...(inputs.disks ?? []).map((d, n): Comparison => [
        `disks[${n}].snapshot`,
        `${d.target}: ${d.snapshot}`,
        `${d.target}: ${modes.get(d.target) ?? "none"}`,
      ]),
    );
  }
  refuseMismatch(what, conn.uri, differences(comparisons));
  // A snapshot a Domain's restoreSnapshotsFrom redefined is this resource's now: off the mark, so no other adopts it.
  await takeRestoredMark(dom, inputs.name, o.creationTime);
  console.error(`${what}: adopted (it existed, and it matches the inputs)`);
  return { ...(await describe(conn, dom, existing, inputs)), adopted: true };
}

/** The Snapshot provider; a test passes `hooks` to act inside its race windows (hooks.ts). */
export const makeSnapshotProvider = (hooks: ProviderHooks = {}) =>
  defineProvider<SnapshotInputs, SnapshotOutputs>({
    spec: snapshotSpec,
    check: checkSnapshotInputs,

    // The domain may be given by name or by UUID: either spelling of the saved one is no change.
    // A state saved before discardStateOnRevert existed behaves as its default: no change either.
    sameAsSaved: (key, next, olds) =>
      (key === "domain" && (next === olds.domain || next === olds.domainUuid)) ||
      (key === "discardStateOnRevert" && next === false && olds.discardStateOnRevert === undefined),

    // While the Domain is replaced keeping its snapshot tree (its diff left the note), the new domain gets the
    // old UUID and URI: the inputs that come from it are unknown in Pulumi's check of dependents, yet no change.
    unknownAsSaved: (key, olds) => KEPT_WITH_DOMAIN.includes(key) && keptReplaceOf(olds.domainUuid) !== undefined,

    async diff({ olds, inputs, unknownKeys, replaces }) {
      const sameDomain = !replaces.includes("domain") && !replaces.includes("uri");
      // Snapshot names are unique per domain: the old one must go before a same-named new one.
      const deleteBeforeReplace = replaces.length > 0 && sameDomain && !unknownKeys.has("name") && inputs.name === olds.name;
      if (deleteBeforeReplace && unknownKeys.size === 0) await refuseDoomedReplace(olds, inputs, replaces, hooks);
      return { replaces, deleteBeforeReplace };
    },

    async create(inputs, ctx) {
      return withConnection({ uri: inputs.uri, auth: inputs.auth, hooks }, (conn) =>
        withDomain(conn, inputs.domain, async (dom) => {
          if (!dom) {
            throw new SnapshotOptionError(
              "domain",
              `cannot take snapshot "${inputs.name}": there is no domain "${inputs.domain}" on ${conn.uri}; check domain and uri`,
            );
          }
          const domainName = dom.name();
          const existing = await dom.lookupSnapshot(inputs.name);
          if (existing) {
            if (inputs.adopt) {
              try {
                const outs = await adoptSnapshot(conn, dom, existing, inputs);
                return { id: snapshotId(outs.domainUuid, outs.name), outs };
              } finally {
                existing.free();
              }
            }
            const adopted = await adoptRestored(conn, dom, existing, inputs);
            if (adopted) return adopted;
            throw new SnapshotOptionError(
              "name",
              `domain "${domainName}" already has a snapshot named "${inputs.name}" (made outside this resource?); choose another name, or delete that snapshot first (virsh snapshot-delete ${domainName} ${inputs.name}). ${adoptHint("Snapshot")}`,
            );
          }
          const active = await dom.isActive();
          const { state } = await dom.state();
          const conflict = stateConflict(inputs, active, state, domainName) ?? (await unknownDisk(dom, inputs, domainName));
          if (conflict) throw conflict;

          const xml = buildSnapshotXml(inputs);
          let flags = createFlags(inputs);
          // A raw document is checked against libvirt's schema first (drivers without the flag skip that).
          if (inputs.xml !== undefined) flags = orFlags(flags, C.VIR_DOMAIN_SNAPSHOT_CREATE_VALIDATE);
          const partial = () => ({ id: snapshotId(dom.uuid(), inputs.name), props: partlyCreated(inputs, dom.uuid(), conn.uri) });
          return ctx.recordPartlyCreated(`snapshot "${inputs.name}" of domain "${domainName}"`, partial, async (sent) => {
            let snap: SnapshotHandle;
            sent();
            try {
              try {
                snap = await dom.createSnapshot(xml, flags, `"${inputs.name}"`);
              } catch (err) {
                if (
                  !(flags & C.VIR_DOMAIN_SNAPSHOT_CREATE_VALIDATE) ||
                  !isLibvirtError(err, E.VIR_ERR_INVALID_ARG) ||
                  !/flags/i.test((err as LibvirtError).libvirtMessage)
                )
                  throw err;
                snap = await dom.createSnapshot(xml, withoutFlags(flags, C.VIR_DOMAIN_SNAPSHOT_CREATE_VALIDATE), `"${inputs.name}"`);
              }
            } catch (err) {
              throw explainCreateFailure(err, inputs, active, state, domainName);
            }
            try {
              await hooks.pause?.("afterCreate");
              const outs = { ...(await describe(conn, dom, snap, inputs)), adopted: false };
              return { id: snapshotId(outs.domainUuid, outs.name), outs };
            } finally {
              snap.free();
            }
          });
        }),
      );
    },

    async read(id, props) {
      const { domainUuid, name } = parseSnapshotId(id);
      return withConnection({ uri: props.uri, auth: props.auth, hooks }, (conn) =>
        withDomain(conn, domainUuid, async (dom) => {
          if (!dom) return undefined; // the domain is gone, and its snapshots with it
          const snap = await dom.lookupSnapshot(name);
          if (!snap) return undefined; // deleted outside Pulumi
          try {
            return await describe(conn, dom, snap, storedInputs(props, domainUuid, name), props.preRevertSnapshots ?? []);
          } finally {
            snap.free();
          }
        }),
      );
    },

    async update(id, olds, inputs) {
      const { domainUuid, name } = parseSnapshotId(id);
      // The new credentials: an update is how a changed password gets recorded.
      return withConnection({ uri: olds.uri, auth: inputs.auth, hooks }, (conn) =>
        withDomain(conn, domainUuid, async (dom) => {
          if (!dom) throw domainGone(`updating snapshot "${name}"`, domainUuid, conn);
          let snap = await dom.lookupSnapshot(name);
          if (!snap)
            throw new Error(
              `updating snapshot "${name}" of domain "${dom.name()}": it no longer exists; run \`pulumi refresh\` to forget it, then \`pulumi up\` to take it again`,
            );
          const revert = revertRequested(olds.revertTrigger, inputs.revertTrigger, canonicalEqual);
          const before = olds.preRevertSnapshots ?? [];
          try {
            // Every refusal is decided before the first change (the description's redefine included).
            const steps = revert ? await planRevertNow(conn, dom, snap, inputs.discardStateOnRevert) : [];
            if (inputs.xml === undefined) {
              // The secure form keeps what the plain form hides (passwords in the domain XML), so the redefine loses nothing.
              const current = await snap.xml({ secure: true });
              if ((parseSnapshotXml(current).description ?? "") !== (inputs.description ?? "")) {
                const redefined = await dom.redefineSnapshot(withDescription(current, inputs.description), `"${name}"`);
                snap.free();
                snap = redefined;
              }
            }
            if (!revert) return { ...(await describe(conn, dom, snap, { ...inputs, name }, before)), adopted: olds.adopted };
            let preRevert: string | undefined;
            try {
              preRevert = await carryOutRevert(dom, snap, steps, hooks);
            } catch (err) {
              if (!(err instanceof RevertFailedError)) throw err;
              // Recorded with the old trigger, so that the next `up` tries again, and with the snapshot just taken.
              const kept = err.preRevert ? [...before, err.preRevert] : before;
              const outs = await describe(conn, dom, snap, { ...inputs, name, revertTrigger: olds.revertTrigger }, kept).catch(() => ({
                ...olds,
                preRevertSnapshots: kept,
              }));
              throw new NotReadyError(id, withoutUndefined(outs), err.message);
            }
            console.error(
              `snapshot "${name}": domain "${dom.name()}" reverted to it` +
                (preRevert ? `; its state before is kept in snapshot "${preRevert}"` : " (discardStateOnRevert: the state before was not kept)"),
            );
            return { ...(await describe(conn, dom, snap, { ...inputs, name }, preRevert ? [...before, preRevert] : before)), adopted: olds.adopted };
          } finally {
            snap.free();
          }
        }),
      );
    },

    async delete(id, props) {
      const { domainUuid, name } = parseSnapshotId(id);
      const keepData = keepsDataOnDestroy(props);
      await withConnection({ uri: props.uri, auth: props.auth, hooks }, (conn) =>
        withDomain(conn, domainUuid, async (dom) => {
          if (!dom) return; // the domain is gone, and its snapshots with it
          const snap = await dom.lookupSnapshot(name);
          if (!snap) return; // already gone: nothing to do
          try {
            // Never VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN: libvirt re-parents the children.
            await snap.delete(keepData ? D.VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY : 0);
          } catch (err) {
            if (isNoSnapshot(err) || isNoDomain(err)) return; // deleted meanwhile
            if (!isLibvirtError(err, ...CANNOT_CODES)) throw err;
            const e = err as LibvirtError;
            const where = `snapshot "${name}" of domain "${dom.name()}"`;
            throw new SnapshotOptionError("deleteDataOnDestroy", snapshotDeleteFailure(where, `${e.libvirtMessage} [${e.codeName}]`, keepData), e);
          } finally {
            snap.free();
          }
        }),
      );
    },
  });

export const snapshotProvider = makeSnapshotProvider();
