// The Domain resource provider: check / diff / create / read / update / delete,
// as Pulumi's dynamic-provider host calls them.
import { randomUUID } from "node:crypto";
import { withConnection, type Connection } from "../libvirt/connection";
import { DomainHandle, withDomain, type DomainStateName } from "../libvirt/domain";
import { isUnsupported } from "../libvirt/errors";
import { redactUri } from "../libvirt/uri";
import { virDomainCreateFlags, virDomainDefineFlags, virDomainUndefineFlagsValues } from "../libvirt/libvirt.gen";
import { effectiveTeardownOptions, planDomainDelete, planDomainStop, planMakeTransient, type ArchiveLocation } from "../teardown/domain";
import { describeKeptDelete, keptTreeAdvice, planKeptDelete, planReplacement, type ReplaceChange } from "../teardown/keep-replace";
import { TeardownRefusedError } from "../teardown/refused";
import { defineProvider, type CreateContext, type DiffContext } from "../resource/provider";
import { changedInputs } from "../resource/diff";
import type { ProviderHooks } from "../hooks";
import { child, many, parseXml } from "../xml/xml";
import { checkDomainInputs, TEARDOWN_KEYS, TYPED_KEYS, type DomainInputs } from "./inputs";
import { domainSpec } from "./spec";
import { carryOut, gatherFacts } from "./lifecycle";
import { definedDisks, externalSnapshotDisks, planDiskChains, planXmlDiskChains, type DefinedDisk, type ExternalSnapshotDisk } from "./disk-chain";
import { buildDomainXml, parseDomainXml } from "./xml";
import { adoptHint, differences, refuseMismatch } from "../resource/adopt";
import { domainComparisons } from "./adopt";
import { firstIpv4, observeInterfaces, waitForAddresses, type InterfaceReport } from "./addresses";
import { NotReadyError } from "../resource/not-ready";
import {
  prepareRestore,
  redefineArchived,
  removeRedefined,
  unverifiableOnLive,
  type ArchiveSource,
  type PreparedRestore,
  type RestoreOutcome,
} from "./restore";
import { forgetKeptReplace, keptReplaceOf, noteKeptReplace, takeKeptReplaceFor, type ReplaceNote } from "./replace-note";
import { keepingRestoredMark } from "./restore-mark";

export interface DomainOutputs extends Omit<DomainInputs, "type"> {
  /** libvirt's UUID of the domain; also the Pulumi ID. */
  uuid: string;
  /** The URI libvirt reported for the connection (virConnectGetURI). */
  uri: string;
  /** The domain type libvirt uses (kvm, qemu, test). */
  type: string;
  state: DomainStateName;
  snapshots: string[];
  /** The persistent definition (or the live one for a transient domain), as libvirt returns it. */
  xml: string;
  /** The raw `xml` input as given (the `xml` output is libvirt's version of it). */
  inputXml?: string;
  /** The persistent definition changed while the domain ran: the change applies at its next start. */
  pendingRestart: boolean;
  /** The interfaces and the addresses libvirt knows for them (addresses.ts). */
  interfaces: InterfaceReport[];
  ipAddress?: string;
  /** The create took over a domain that already existed (adopt: true). */
  adopted: boolean;
  /** restoreSnapshotsFrom: what the create redefined, and what it skipped with why (restore.ts). */
  restoredSnapshots?: string[];
  skippedSnapshots?: RestoreOutcome["skipped"];
}

/** The restore's outputs, set by the create and kept as they were by every later operation. */
const restoreOutputs = (o: { restoredSnapshots?: string[]; skippedSnapshots?: RestoreOutcome["skipped"] } | undefined) =>
  o?.restoredSnapshots === undefined ? {} : { restoredSnapshots: o.restoredSnapshots, skippedSnapshots: o.skippedSnapshots ?? [] };

/** What an operation knows of the inputs: the checked ones, or those saved in the outputs (whose `type` is libvirt's). */
type DomainRecord = Omit<DomainInputs, "type"> & { type?: string; adopted?: boolean };

const label = (name: string) => `"${name}"`;

/** kvm where the hypervisor offers it for the architecture, else qemu, else the driver's own type (test). */
async function resolveType(conn: Connection, arch: string | undefined): Promise<string> {
  const caps = child(parseXml(await conn.capabilities()), "capabilities");
  const hostArch = String(child(child(caps, "host"), "cpu")?.arch ?? "");
  const guests = many(caps?.guest).filter((g) => (child(g, "arch")?.["@name"] ?? "") === (arch ?? hostArch));
  const types = guests.flatMap((g) => many(child(g, "arch")?.domain).map((d) => String(d["@type"])));
  if (types.includes("kvm")) return "kvm";
  if (types.includes("qemu")) return "qemu";
  if (types.length > 0) return types[0];
  throw new Error(`the hypervisor at ${conn.uri} offers no guest type for architecture "${arch ?? hostArch}"; set arch to one it supports`);
}

/** Define with libvirt's schema validation; drivers that lack the flag get a plain define. */
async function defineValidated(conn: Connection, xml: string, name: string): Promise<DomainHandle> {
  try {
    return await conn.defineDomain(xml, virDomainDefineFlags.VIR_DOMAIN_DEFINE_VALIDATE, label(name));
  } catch (err) {
    if (!isUnsupported(err) || !/flag/i.test((err as Error).message)) throw err;
    return await conn.defineDomain(xml, 0, label(name));
  }
}

/**
 * Without adopt, a create never takes over or redefines a domain it did not make:
 * defining XML that carries an existing domain's name and UUID would silently
 * overwrite it, and a failed start would then "clean up" someone else's VM.
 */
async function refuseExisting(conn: Connection, name: string, uuid: string | undefined): Promise<void> {
  for (const key of uuid ? [name, uuid] : [name]) {
    const found = await conn.lookupDomain(key);
    if (!found) continue;
    const existingName = found.name();
    const description = `"${existingName}" (uuid ${found.uuid()})`;
    found.free();
    const byUuid = key === uuid && existingName !== name;
    const virsh = `virsh -c ${shellWord(redactUri(conn.uri))}`;
    throw new Error(
      `creating domain "${name}" on ${redactUri(conn.uri)}: a domain ${description} already exists there` +
        (byUuid ? ` with the <uuid> that the xml input gives` : ``) +
        `, and a Domain takes over a domain it did not create only with \`adopt: true\`. ` +
        `Nothing was changed. Either ` +
        (byUuid
          ? `drop <uuid> from the xml input (libvirt then picks a new one) or give another one`
          : `give this resource another name (its \`name\` input)`) +
        `; or, if that domain is no longer wanted, remove it and run \`pulumi up\` again: \`${virsh} destroy ${shellWord(existingName)}\` ` +
        `(only if it runs), then \`${virsh} undefine ${shellWord(existingName)}\` (libvirt refuses this while it has snapshots, ` +
        `checkpoints, a managed-save image or NVRAM; \`virsh undefine --help\` lists the flags that discard them). ` +
        adoptHint("Domain"),
    );
  }
}

/**
 * adopt: true and a domain of that name (or the xml's UUID) exists: it is taken
 * over when its definition matches the inputs, else refused with every
 * difference before anything changes. Then only what an update applies without
 * redefining follows the inputs: autostart, and running (a stop by the teardown rules).
 */
async function adoptDomain(conn: Connection, dom: DomainHandle, inputs: DomainInputs, hooks: ProviderHooks): Promise<DomainOutputs> {
  const what = `domain "${dom.name()}" (uuid ${dom.uuid()})`;
  const persistent = await dom.isPersistent();
  const diffs = differences([["name", inputs.name, dom.name()], ...domainComparisons(inputs, await dom.xml({ inactive: persistent }), persistent)]);
  if (inputs.restoreSnapshotsFrom !== undefined)
    diffs.push({
      property: "restoreSnapshotsFrom",
      input: inputs.restoreSnapshotsFrom,
      actual: undefined,
      note: "only a created domain restores snapshots: drop it to adopt",
    });
  refuseMismatch(what, conn.uri, diffs);
  if (persistent && (await dom.autostart()) !== inputs.autostart) await dom.setAutostart(inputs.autostart);
  const facts = await gatherFacts(dom);
  if (inputs.running && !facts.active) await dom.start();
  else if (!inputs.running && facts.active) await carryOut(dom, planDomainStop(facts, effectiveTeardownOptions(inputs)), hooks);
  console.error(`${what}: adopted (it existed, and its definition matches the inputs)`);
  return { ...(await describe(conn, dom, inputs, false)), adopted: true };
}

/** A word as a POSIX shell reads it back: quoted only when it needs to be. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Removes a domain this create just defined, so a failed create leaves nothing behind. */
async function removePartlyCreated(dom: DomainHandle): Promise<string> {
  try {
    if (await dom.isActive()) await dom.destroy();
    if (await dom.isPersistent()) {
      try {
        await dom.undefine(virDomainUndefineFlagsValues.VIR_DOMAIN_UNDEFINE_NVRAM);
      } catch (err) {
        if (!isUnsupported(err)) throw err;
        await dom.undefine(0);
      }
    }
    return "the partly created domain was removed";
  } catch (cleanupErr) {
    return `removing the partly created domain also failed (${(cleanupErr as Error).message}); remove it with virsh undefine`;
  }
}

async function describe(conn: Connection, dom: DomainHandle, inputs: DomainRecord, pendingRestart: boolean): Promise<DomainOutputs> {
  const persistent = await dom.isPersistent();
  const { state } = await dom.state();
  const xml = await dom.xml({ inactive: persistent });
  const observed = parseDomainXml(xml);
  const typed = inputs.xml === undefined;
  const active = await dom.isActive();
  const interfaces = await observeInterfaces(dom, active ? await dom.xml() : xml, active);
  return {
    ...inputs,
    inputXml: inputs.xml,
    name: dom.name(),
    uuid: dom.uuid(),
    uri: conn.uri,
    type: observed.type ?? inputs.type ?? "",
    // What libvirt has now, so that a refresh shows changes made outside Pulumi.
    memoryMiB: typed ? observed.memoryMiB : inputs.memoryMiB,
    vcpus: typed ? observed.vcpus : inputs.vcpus,
    description: typed ? observed.description : inputs.description,
    // Active, as the update decides it: a pmsuspended or crashed domain is still
    // active, and no start would change it, so reporting running: false there
    // would be a change on every diff that the update never applies.
    running: active,
    persistent,
    autostart: persistent ? await dom.autostart() : false,
    state,
    snapshots: await dom.snapshotNames(),
    xml,
    pendingRestart: pendingRestart && state !== "shutoff",
    interfaces,
    ipAddress: firstIpv4(interfaces),
    adopted: !!inputs.adopted,
  };
}

/**
 * The outputs recorded for a create whose outcome is unknown: the inputs and the
 * identity; what libvirt has (state, XML, snapshots) is left for \`pulumi refresh\`.
 */
function partlyCreated(inputs: DomainInputs, uuid: string, uri: string, type: string): DomainOutputs {
  return {
    ...inputs,
    inputXml: inputs.xml,
    uuid,
    uri,
    type,
    running: false,
    autostart: false,
    state: "nostate",
    snapshots: [],
    xml: "",
    pendingRestart: false,
    interfaces: [],
    adopted: false,
  };
}

/** The Domain provider; a test passes `hooks` to act inside its race windows (hooks.ts). */
export const makeDomainProvider = (hooks: ProviderHooks = {}) =>
  defineProvider<DomainInputs, DomainOutputs>({
    spec: domainSpec,
    check: checkDomainInputs,

    async diff({ id, olds, inputs, unknownKeys, changed, replaces }: DiffContext<DomainInputs, DomainOutputs>) {
      // A transient domain cannot be redefined in place: a new machine config replaces it.
      const machineChanges = changed.filter((k) => k === "xml" || (TYPED_KEYS as readonly string[]).includes(k));
      const all = !inputs.persistent && !olds.persistent ? [...new Set([...replaces, ...machineChanges])] : replaces;
      // No replacement: no note of one left from an earlier diff.
      if (all.length === 0) forgetKeptReplace(id);
      if (all.length > 0) await refuseUnsafeReplace(id, olds, inputs, all, disksOf(olds, inputs, changed, unknownKeys), hooks);
      else if (olds.persistent && changed.some((k) => (k === "disks" || k === "xml") && !unknownKeys.has(k)))
        await refuseUnsafeDiskChange(id, olds, inputs, hooks);
      // Always delete first: a replacement uses the same disk images (two VMs on one
      // image corrupt it), and a same-named one could not be defined anyway. A
      // refused delete then stops the replacement before anything is created.
      return { replaces: all, deleteBeforeReplace: all.length > 0 };
    },

    async create(inputs, ctx) {
      // The second half of a replacement that keeps the snapshot tree: the delete just archived them (replace-note.ts).
      const kept = takeKeptReplaceFor(inputs.name, inputs.uri);
      if (!kept) return createDomain(inputs, ctx, undefined, hooks);
      try {
        return await createDomain(inputs, ctx, kept, hooks);
      } catch (err) {
        if (kept.archive) (err as Error).message += `. ${keptTreeAdvice(kept.oldName, kept.archive, kept.snapshots?.length ?? 0)}`;
        throw err;
      }
    },

    async read(id, props) {
      return withConnection({ uri: props.uri, auth: props.auth, hooks }, (conn) =>
        withDomain(conn, id, async (dom) => {
          if (!dom) return undefined; // deleted outside Pulumi
          // The saved outputs hold every checked input; the raw xml input is saved as inputXml.
          const saved = { ...props, xml: props.inputXml } as DomainRecord;
          return describe(conn, dom, saved, !!props.pendingRestart);
        }),
      );
    },

    async update(id, olds, inputs) {
      const opts = effectiveTeardownOptions(inputs);
      // The new credentials: an update is how a changed password gets recorded.
      const outs = await withConnection({ uri: olds.uri, auth: inputs.auth, hooks }, (conn) =>
        withDomain(conn, id, async (dom) => {
          if (!dom)
            throw new Error(
              `domain "${olds.name}" (${id}) no longer exists on ${conn.uri}; run \`pulumi refresh\` to forget it, then \`pulumi up\` to create it again`,
            );
          let facts = await gatherFacts(dom);
          let pendingRestart = !!olds.pendingRestart && facts.active;

          const configChanged = changedInputs(domainSpec, olds, { ...inputs }, new Set()).some(
            (k) => k === "xml" || (TYPED_KEYS as readonly string[]).includes(k),
          );
          if (configChanged && facts.persistent) {
            const currentXml = await dom.xml({ inactive: true });
            const current = parseDomainXml(currentXml);
            const keptDisks = await keepDiskChains(dom, olds, inputs, currentXml, facts.active);
            const xml = buildDomainXml(inputs, { type: olds.type, uuid: id, interfaces: current.interfaces, keptDisks });
            await keepingRestoredMark(dom, async () => (await defineValidated(conn, xml, inputs.name)).free());
            // Pending only when libvirt's definition really changed: an input that is not
            // in the XML (networkInterfaces[].waitForAddress) redefines it as it was.
            if (facts.active && (await dom.xml({ inactive: true })) !== currentXml) pendingRestart = true;
          }

          if (inputs.persistent && !facts.persistent) {
            // Transient -> persistent: define the running configuration.
            (await defineValidated(conn, await dom.xml(), inputs.name)).free();
          } else if (!inputs.persistent && facts.persistent) {
            if (!facts.active) await dom.start();
            facts = await gatherFacts(dom);
            await carryOut(dom, planMakeTransient(facts, opts), hooks);
          }

          if (inputs.persistent && (await dom.autostart()) !== inputs.autostart) await dom.setAutostart(inputs.autostart);

          facts = await gatherFacts(dom);
          if (inputs.running && !facts.active) {
            await dom.start();
            pendingRestart = false;
          } else if (!inputs.running && facts.active) {
            await carryOut(dom, planDomainStop(facts, opts), hooks);
            pendingRestart = false;
          }
          return { ...(await describe(conn, dom, inputs, pendingRestart)), adopted: !!olds.adopted, ...restoreOutputs(olds) };
        }),
      );
      return withAddresses(id, inputs, outs, hooks);
    },

    async delete(id, props) {
      // Only the saved outputs are known here; the environment can allow the cascade for this destroy.
      const opts = effectiveTeardownOptions(teardownOptionsOf(props));
      // A replacement whose diff decided to keep the snapshot tree (replace-note.ts): archive, then the metadata-only undefine.
      const kept = keptReplaceOf(id);
      try {
        await withConnection({ uri: props.uri, auth: props.auth, hooks }, (conn) =>
          withDomain(conn, id, async (dom) => {
            if (!dom) {
              if (kept) kept.deleted = true;
              return; // already gone: nothing to do
            }
            if (!kept) return carryOut(dom, planDomainDelete(await gatherFacts(dom), opts), hooks);
            const { decision, keepsTree } = planKeptDelete(await gatherFacts(dom), opts);
            const archive = decision.allowed && keepsTree ? decision.steps.find((s) => s.call === "archiveSnapshots") : undefined;
            await carryOut(dom, decision, hooks);
            Object.assign(kept, { deleted: true, archive: archive?.to, snapshots: archive?.snapshots });
            if (archive) console.error(describeKeptDelete(props.name, archive.to, archive.snapshots));
          }),
        );
      } catch (err) {
        // The replacement stops here: no create follows that could take the note.
        forgetKeptReplace(id);
        throw err;
      }
    },
  });

export const domainProvider = makeDomainProvider();

/**
 * Defines (and starts) the domain. `kept`: this create replaces a domain whose
 * snapshot tree the replacement keeps: the new domain gets the old UUID and
 * redefines the snapshots from the archive the delete just wrote.
 */
async function createDomain(inputs: DomainInputs, { recordPartlyCreated }: CreateContext, kept: ReplaceNote | undefined, hooks: ProviderHooks) {
  const made = await withConnection({ uri: inputs.uri, auth: inputs.auth, hooks }, async (conn) => {
    const type = inputs.xml === undefined ? (inputs.type ?? (await resolveType(conn, inputs.arch))) : "";
    const givenUuid = inputs.xml === undefined ? undefined : parseDomainXml(inputs.xml).uuid;
    // Chosen here rather than by libvirt, so that the ID is known even when the daemon never answers.
    const uuid = givenUuid ?? kept?.oldUuid ?? randomUUID();
    // A replacement's create has just deleted the domain it replaces: there is nothing of it to adopt.
    if (inputs.adopt && !kept) {
      const found = (await conn.lookupDomain(inputs.name)) ?? (givenUuid ? await conn.lookupDomain(givenUuid) : undefined);
      if (found) {
        try {
          const outs = await adoptDomain(conn, found, inputs, hooks);
          return { id: outs.uuid, outs };
        } finally {
          found.free();
        }
      }
    }
    await refuseExisting(conn, inputs.name, givenUuid ?? kept?.oldUuid);
    // Everything the restore decides (the archive, each snapshot's contents) is read before anything changes.
    // A kept tree comes from the archive the replacement's delete just wrote, whatever restoreSnapshotsFrom says.
    const from: ArchiveSource | undefined = kept ? kept.archive && archiveSource(kept.archive) : inputs.restoreSnapshotsFrom;
    const restore: PreparedRestore | undefined = from === undefined ? undefined : await prepareRestore(conn, from, inputs);
    const xml = buildDomainXml(inputs, { type, uuid, keptDisks: restore?.keptDisks });
    const partial = () => ({ id: uuid, props: partlyCreated(inputs, uuid, conn.uri, type) });
    return recordPartlyCreated(`domain "${inputs.name}" (uuid ${uuid})`, partial, async (sent) => {
      let dom: DomainHandle;
      let restored: RestoreOutcome | undefined;
      sent();
      if (inputs.persistent) {
        dom = await defineValidated(conn, xml, inputs.name);
        const redefined: string[] = [];
        try {
          await hooks.pause?.("afterCreate");
          if (restore) restored = await redefineArchived(dom, restore, redefined, { mark: !kept });
          if (inputs.autostart) await dom.setAutostart(true);
          if (inputs.running) await dom.start();
        } catch (err) {
          // The redefined snapshots' metadata first (the contents stay in the images), or the undefine is refused.
          const metadata = await removeRedefined(dom, redefined).then(
            () => "",
            (e: Error) => `; removing the redefined snapshots' metadata failed (${e.message})`,
          );
          const cleanup = await removePartlyCreated(dom);
          dom.free();
          (err as Error).message += ` (${cleanup}${metadata})`;
          throw err;
        }
      } else {
        dom = await conn.createTransientDomain(xml, virDomainCreateFlags.VIR_DOMAIN_START_VALIDATE, label(inputs.name));
        await hooks.pause?.("afterCreate");
      }
      try {
        const outs = {
          ...(await describe(conn, dom, inputs, false)),
          adopted: false,
          ...restoreOutputs(restored && { restoredSnapshots: restored.restored, skippedSnapshots: restored.skipped }),
        };
        return { id: outs.uuid, outs };
      } finally {
        dom.free();
      }
    });
  });
  return { id: made.id, outs: await withAddresses(made.id, inputs, made.outs, hooks) };
}

/** The archive as restoreSnapshotsFrom names it. */
const archiveSource = (to: ArchiveLocation): ArchiveSource => (to.kind === "file" ? to.path : { pool: to.pool, name: to.name });

/**
 * Waits for the addresses that the interfaces' waitForAddress asks for, then reads
 * the domain again. The domain exists by now: any failure from here records it, as
 * not ready, rather than forgetting a VM that runs.
 */
async function withAddresses(id: string, inputs: DomainInputs, outs: DomainOutputs, hooks: ProviderHooks): Promise<DomainOutputs> {
  if (!outs.running || !inputs.networkInterfaces?.some((n) => n.waitForAddress)) return outs;
  const connect = { uri: outs.uri, auth: inputs.auth, hooks };
  let failure: Error | undefined;
  let seconds: number | undefined;
  try {
    seconds = await waitForAddresses(connect, id, outs.name, inputs.networkInterfaces, inputs.waitForAddressTimeoutSeconds);
  } catch (err) {
    failure = err as Error;
  }
  const fresh = await withConnection(connect, (conn) =>
    withDomain(conn, id, async (dom) =>
      dom ? { ...(await describe(conn, dom, inputs, outs.pendingRestart)), adopted: outs.adopted, ...restoreOutputs(outs) } : outs,
    ),
  ).catch(() => outs);
  if (failure) throw new NotReadyError(id, fresh, failure.message);
  // Pulumi shows what the provider prints: the time a boot took is worth knowing.
  console.error(
    `domain "${outs.name}": address ${fresh.ipAddress ?? fresh.interfaces.flatMap((i) => i.addresses)[0]?.address} after ${seconds!.toFixed(1)} s`,
  );
  return fresh;
}

/**
 * The update's disk-chain refusal, made in diff already so that the preview shows
 * it. Only a refusal counts here: anything else (an unreachable host) is left to
 * the update, which reads the same facts again before it changes anything.
 */
async function refuseUnsafeDiskChange(id: string, olds: DomainOutputs, inputs: DomainInputs, hooks: ProviderHooks): Promise<void> {
  try {
    await withConnection({ uri: olds.uri, auth: olds.auth, hooks }, (conn) =>
      withDomain(conn, id, async (dom) => {
        if (!dom || !(await dom.isPersistent())) return;
        await keepDiskChains(dom, olds, inputs, await dom.xml({ inactive: true }), await dom.isActive());
      }),
    );
  } catch (err) {
    if (err instanceof TeardownRefusedError) throw err;
  }
}

/**
 * The disks whose current chain (an external snapshot's overlay) the redefinition
 * keeps; throws the refusal when a changed disk input would point past an overlay.
 */
async function keepDiskChains(
  dom: DomainHandle,
  olds: DomainOutputs,
  inputs: DomainInputs,
  inactiveXml: string,
  active: boolean,
): Promise<Array<DefinedDisk | undefined>> {
  const defined = definedDisks(inactiveXml);
  if (active) {
    // The live definition records the whole chain; the persistent one at most a level of it.
    const live = new Map(definedDisks(await dom.xml()).map((d) => [d.target, d]));
    for (const d of defined) {
      const l = live.get(d.target);
      if (l && l.key === d.key) d.backingKeys = [...new Set([...d.backingKeys, ...l.backingKeys])];
    }
  }
  const external: ExternalSnapshotDisk[] = [];
  const snaps = await dom.listSnapshots();
  try {
    for (const s of snaps) external.push(...externalSnapshotDisks(await s.xml()));
  } finally {
    snaps.forEach((s) => s.free());
  }
  const decision =
    inputs.xml !== undefined && olds.inputXml !== undefined
      ? planXmlDiskChains(dom.name(), olds.inputXml, inputs.xml, defined, external)
      : planDiskChains({
          domain: dom.name(),
          // Typed inputs saved for a domain that had a raw xml before (or the other way) have no disks to compare: libvirt's own are the old ones.
          oldDisks: olds.inputXml === undefined ? (olds.disks ?? []) : [],
          oldMachine: olds.machine,
          newDisks: inputs.disks ?? [],
          newMachine: inputs.machine,
          defined,
          external,
        });
  if (!decision.allowed) throw new TeardownRefusedError(decision.message);
  return decision.keep;
}

/**
 * A replacement deletes the domain first, and before that Pulumi deletes the
 * stack's resources built on it (its Snapshots, with their data). If the
 * domain's delete is going to be refused, the replacement is refused here, in
 * diff, while nothing has happened yet (in the preview of \`pulumi up\`, too).
 * The delete will run with the saved outputs' options (Pulumi passes nothing
 * else to delete) and the environment, so those decide, not the new inputs.
 */
async function refuseUnsafeReplace(
  id: string,
  olds: DomainOutputs,
  inputs: DomainInputs,
  replaces: string[],
  disks: ReplaceChange["disks"],
  hooks: ProviderHooks,
): Promise<void> {
  const opts = effectiveTeardownOptions(teardownOptionsOf(olds));
  const newOpts = teardownOptionsOf(inputs);
  const keep = inputs.keepSnapshotsOnReplace === true;
  const givenUuid = inputs.xml === undefined ? undefined : parseDomainXml(inputs.xml).uuid;
  let refusal: string | undefined;
  forgetKeptReplace(id);
  try {
    await withConnection({ uri: olds.uri, auth: olds.auth, hooks }, (conn) =>
      withDomain(conn, id, async (dom) => {
        if (!dom) return; // gone: the replacement's delete has nothing to do
        const facts = await gatherFacts(dom);
        const change: ReplaceChange = {
          replacedBy: replaces,
          keepSnapshotsOnReplace: keep,
          persistent: inputs.persistent,
          disks,
          uuid: id,
          otherUuid: givenUuid !== undefined && givenUuid.toLowerCase() !== id.toLowerCase() ? givenUuid : undefined,
          // The create's content check, made now on the live snapshots: a snapshot it would skip refuses the replacement.
          // (Not where no image holds them at all: the rules refuse that on its own.)
          unverifiable:
            keep && facts.snapshots.length > 0 && facts.firstDisk && !facts.inMemoryDriver
              ? await unverifiableOnLive(conn, dom, facts.snapshots)
              : new Map(),
        };
        const { decision, keepsTree } = planReplacement(facts, opts, change, newOpts);
        if (!decision.allowed) refusal = decision.message;
        else if (keepsTree) noteKeptReplace({ oldUuid: id, oldName: olds.name, newName: inputs.name, newUri: inputs.uri });
      }),
    );
  } catch (err) {
    const keys = replaces.map((k) => `\`${k}\``).join(", ");
    throw new Error(
      `cannot check whether replacing domain "${olds.name}" (${id}) is safe: ${(err as Error).message}. ` +
        `Changing ${keys} replaces the domain, which deletes it first (and the stack's Snapshots of it), so the replacement ` +
        `is not planned without that check: make ${olds.uri} reachable (start libvirtd, fix uri or auth) and run it again, ` +
        `or revert the change to ${keys}.`,
      { cause: err },
    );
  }
  if (refusal) throw new TeardownRefusedError(refusal);
}

/** Whether a replacement keeps the disks: the typed `disks` input, or the <disk> elements of a raw xml input (their targets and images). */
function disksOf(olds: DomainOutputs, inputs: DomainInputs, changed: string[], unknownKeys: Set<string>): ReplaceChange["disks"] {
  if (unknownKeys.has("disks") || unknownKeys.has("xml")) return "unknown";
  if ((olds.inputXml === undefined) !== (inputs.xml === undefined)) return "changed";
  if (inputs.xml === undefined) return changed.includes("disks") ? "changed" : "same";
  const images = (xml: string) => JSON.stringify(definedDisks(xml).map((d) => [d.target, d.key]));
  return images(olds.inputXml!) === images(inputs.xml) ? "same" : "changed";
}

/** The delete options among saved outputs or inputs. */
function teardownOptionsOf(props: Partial<Record<(typeof TEARDOWN_KEYS)[number], boolean>> & { shutdownTimeoutSeconds?: number }) {
  return { ...Object.fromEntries(TEARDOWN_KEYS.map((k) => [k, props[k]])), shutdownTimeoutSeconds: props.shutdownTimeoutSeconds };
}
