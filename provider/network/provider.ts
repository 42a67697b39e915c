// The Network resource provider: its lifecycle on the provider kit
// (resource/provider.ts), which owns check, the diff skeleton and redaction.
// create = define (+ autostart) + start; DHCP and DNS hosts and autostart and
// active change in place; delete = stop + undefine, refused while any domain
// has an interface on the network (../teardown/network.ts).
import { randomUUID } from "node:crypto";
import { withConnection, type Connection } from "../libvirt/connection";
import { isUnsupported } from "../libvirt/errors";
import { virNetworkUpdateCommand as Cmd, virNetworkUpdateFlags as Upd, virNetworkUpdateSection as Sec } from "../libvirt/libvirt.gen";
import type { virNetworkUpdateFlags, virNetworkUpdateSection } from "../libvirt/libvirt.gen";
import { withNetwork, type NetworkHandle } from "../libvirt/network";
import { orFlags } from "../libvirt/flags";
import { redactUri } from "../libvirt/uri";
import { canonical, canonicalEqual } from "../equality";
import type { ProviderHooks } from "../hooks";
import { defineProvider } from "../resource/provider";
import { planNetworkDelete, planNetworkReplace, planNetworkStop, type NetworkDecision } from "../teardown/network";
import { TeardownRefusedError } from "../teardown/refused";
import { gatherNetworkFacts } from "./facts";
import { checkNetworkInputs, subnetIndex, type DhcpHost, type DnsHost, type NetworkInputs } from "./inputs";
import { networkSpec } from "./spec";
import { buildNetworkXml, dhcpHostXml, dnsHostXml, parseNetworkXml } from "./xml";
import { adoptHint, differences, refuseMismatch } from "../resource/adopt";

export interface NetworkOutputs extends Omit<NetworkInputs, "mode"> {
  /** libvirt's UUID of the network; also the Pulumi ID. */
  uuid: string;
  /** The URI libvirt reported for the connection (virConnectGetURI). */
  uri: string;
  /** libvirt's forward mode ("isolated" when there is none). */
  mode: string;
  /** The persistent definition, as libvirt returns it. */
  xml: string;
  /** The create took over a network that already existed (adopt: true). */
  adopted?: boolean;
}

/** The persistent definition; drivers without VIR_NETWORK_XML_INACTIVE (the test driver) give the live one. */
async function definitionXml(net: NetworkHandle): Promise<string> {
  try {
    return await net.xml({ inactive: true });
  } catch (err) {
    if (!isUnsupported(err)) throw err;
    return net.xml();
  }
}

async function describe(conn: Connection, net: NetworkHandle, saved: Omit<NetworkInputs, "mode"> & { mode?: string }): Promise<NetworkOutputs> {
  const xml = await definitionXml(net);
  const o = parseNetworkXml(xml);
  return {
    ...saved,
    name: net.name(),
    uuid: net.uuid(),
    uri: conn.uri,
    // What libvirt has now, so that a refresh shows changes made outside Pulumi.
    mode: o.mode,
    bridgeName: o.bridgeName,
    domain: o.domain,
    mtu: o.mtu,
    addresses: o.addresses,
    dhcp: o.dhcp,
    dnsHosts: o.dnsHosts,
    autostart: await net.autostart(),
    active: await net.isActive(),
    xml,
  };
}

/** Carries out an allowed decision, or throws the refusal before anything changes. */
async function carryOut(net: NetworkHandle, decision: NetworkDecision): Promise<void> {
  if (!decision.allowed) throw new TeardownRefusedError(decision.message);
  for (const step of decision.steps) {
    if (step.call === "destroy") await net.destroy();
    else await net.undefine();
  }
}

/** Removes a network this create just defined, so a failed create leaves nothing behind. */
async function removePartlyCreated(net: NetworkHandle): Promise<string> {
  try {
    if (await net.isActive()) await net.destroy();
    await net.undefine();
    return "the partly created network was removed";
  } catch (err) {
    return `removing the partly created network also failed (${(err as Error).message}); remove it with virsh net-destroy and net-undefine`;
  }
}

/** The elements of `from` that `other` lacks (compared canonically). */
const missingFrom = <T>(from: T[], other: T[]): T[] => {
  const have = new Set(other.map(canonical));
  return from.filter((x) => !have.has(canonical(x)));
};

/** One section's elements made what is wanted: deletes first (a name that moves to another MAC must be gone before it is added again), then adds. */
async function syncSection<T extends { ip: string }>(
  net: NetworkHandle,
  section: virNetworkUpdateSection,
  what: string,
  have: T[],
  want: T[],
  xml: (h: T) => string,
  parentIndex: (h: T) => number,
  flags: virNetworkUpdateFlags,
): Promise<void> {
  for (const h of missingFrom(have, want))
    await net.update(Cmd.VIR_NETWORK_UPDATE_COMMAND_DELETE, section, parentIndex(h), xml(h), flags, `removing ${what} ${h.ip} from`);
  for (const h of missingFrom(want, have))
    await net.update(Cmd.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST, section, parentIndex(h), xml(h), flags, `adding ${what} ${h.ip} to`);
}

/**
 * DHCP and DNS hosts, in place: each host libvirt has that is not wanted is
 * deleted, then each wanted host it lacks is added (VIR_NETWORK_UPDATE_COMMAND_DELETE /
 * ADD_LAST), in the persistent definition and, while the network runs, live.
 */
async function updateHosts(
  net: NetworkHandle,
  current: { addresses: string[]; dhcp: DhcpHost[]; dns: DnsHost[] },
  want: NetworkInputs,
  active: boolean,
) {
  const flags = orFlags(Upd.VIR_NETWORK_UPDATE_AFFECT_CONFIG, active ? Upd.VIR_NETWORK_UPDATE_AFFECT_LIVE : 0);
  await syncSection(
    net,
    Sec.VIR_NETWORK_SECTION_IP_DHCP_HOST,
    "DHCP host",
    current.dhcp,
    want.dhcp?.hosts ?? [],
    dhcpHostXml,
    (h) => subnetIndex(current.addresses, h.ip),
    flags,
  );
  await syncSection(net, Sec.VIR_NETWORK_SECTION_DNS_HOST, "DNS host", current.dns, want.dnsHosts, dnsHostXml, () => -1, flags);
}

/**
 * A replacement deletes the network first (names, bridges and subnets are
 * unique per hypervisor): if that delete is going to be refused, the
 * replacement is refused here, in diff, while nothing has happened (it shows in
 * `pulumi preview`).
 */
async function refuseUnsafeReplace(id: string, olds: NetworkOutputs, replaces: string[], hooks: ProviderHooks): Promise<void> {
  let refusal: string | undefined;
  try {
    await withConnection({ uri: olds.uri, auth: olds.auth, hooks }, (conn) =>
      withNetwork(conn, id, async (net) => {
        if (!net) return; // gone: the replacement's delete has nothing to do
        const decision = planNetworkReplace(await gatherNetworkFacts(conn, net), replaces);
        if (!decision.allowed) refusal = decision.message;
      }),
    );
  } catch (err) {
    const keys = replaces.map((k) => `\`${k}\``).join(", ");
    throw new Error(
      `cannot check whether replacing network "${olds.name}" (${id}) is safe: ${(err as Error).message}. Changing ${keys} replaces the network, ` +
        `which deletes it first, so the replacement is not planned without checking which domains have interfaces on it: ` +
        `make ${olds.uri} reachable (start libvirtd, fix uri or auth) and run it again, or revert the change to ${keys}.`,
      { cause: err },
    );
  }
  if (refusal) throw new TeardownRefusedError(refusal);
}

/**
 * The update's refusal to stop the network under a running domain, made in diff
 * already so that the preview shows it. Only a refusal counts here: anything else
 * (an unreachable host) is left to the update, which reads the facts again before
 * it changes anything.
 */
async function refuseUnsafeStop(id: string, olds: NetworkOutputs, hooks: ProviderHooks): Promise<void> {
  let refusal: string | undefined;
  try {
    await withConnection({ uri: olds.uri, auth: olds.auth, hooks }, (conn) =>
      withNetwork(conn, id, async (net) => {
        if (!net) return;
        const decision = planNetworkStop(await gatherNetworkFacts(conn, net));
        if (!decision.allowed) refusal = decision.message;
      }),
    );
  } catch {
    return;
  }
  if (refusal) throw new TeardownRefusedError(refusal);
}

/**
 * adopt: true and a network of that name exists: taken over when its definition
 * matches the inputs, else refused with every difference before anything
 * changes. Addresses, DHCP and DNS hosts count also when left unset (none): a
 * later update would remove or replace what libvirt has. Then it is started or
 * stopped (by the teardown rule) and its autostart set, as an update would.
 */
async function adoptNetwork(conn: Connection, net: NetworkHandle, inputs: NetworkInputs): Promise<NetworkOutputs> {
  const o = parseNetworkXml(await definitionXml(net));
  const what = `network "${net.name()}" (uuid ${net.uuid()})`;
  const none = (v: unknown) => (v === undefined || (Array.isArray(v) && v.length === 0) ? "none" : undefined);
  const unsetNote = (input: unknown, actual: unknown, change: string) =>
    none(input) && !none(actual) ? `left unset: the next update would ${change}` : undefined;
  refuseMismatch(
    what,
    conn.uri,
    differences([
      ["mode", inputs.mode, o.mode],
      ["bridgeName", inputs.bridgeName, o.bridgeName],
      ["domain", inputs.domain, o.domain],
      ["mtu", inputs.mtu, o.mtu],
      ["addresses", inputs.addresses, o.addresses, unsetNote(inputs.addresses, o.addresses, "replace the network without them")],
      ["dhcp", inputs.dhcp ?? null, o.dhcp ?? null, unsetNote(inputs.dhcp, o.dhcp, "replace the network without them")],
      ["dnsHosts", inputs.dnsHosts, o.dnsHosts, unsetNote(inputs.dnsHosts, o.dnsHosts, "remove them")],
    ]),
  );
  const active = await net.isActive();
  if (!inputs.active && active) await carryOut(net, planNetworkStop(await gatherNetworkFacts(conn, net)));
  if (inputs.active && !active) await net.start();
  if ((await net.autostart()) !== inputs.autostart) await net.setAutostart(inputs.autostart);
  console.error(`${what}: adopted (it existed, and its definition matches the inputs)`);
  return { ...(await describe(conn, net, inputs)), adopted: true };
}

/** The Network provider; a test passes `hooks` to act inside its race windows (hooks.ts). */
export const makeNetworkProvider = (hooks: ProviderHooks = {}) =>
  defineProvider<NetworkInputs, NetworkOutputs>({
    spec: networkSpec,
    check: checkNetworkInputs,

    async diff({ id, olds, inputs, unknownKeys, changed, replaces }) {
      // DHCP hosts change in place; its ranges are part of the <ip> definition: a change replaces.
      const rangesChanged =
        changed.includes("dhcp") && !unknownKeys.has("dhcp") && !canonicalEqual(olds.dhcp?.ranges ?? [], inputs.dhcp?.ranges ?? []);
      const all = rangesChanged ? [...replaces, "dhcp"] : replaces;
      if (all.length > 0) await refuseUnsafeReplace(id, olds, all, hooks);
      else if (changed.includes("active") && !unknownKeys.has("active") && !inputs.active) await refuseUnsafeStop(id, olds, hooks);
      // Always delete first: the old network holds the name, its bridge and its subnets.
      return { replaces: all, deleteBeforeReplace: all.length > 0 };
    },

    async create(inputs, { recordPartlyCreated }) {
      return withConnection({ uri: inputs.uri, auth: inputs.auth, hooks }, async (conn) => {
        const existing = await conn.lookupNetwork(inputs.name);
        if (existing && inputs.adopt) {
          try {
            const outs = await adoptNetwork(conn, existing, inputs);
            return { id: outs.uuid, outs };
          } finally {
            existing.free();
          }
        }
        if (existing) {
          const uuid = existing.uuid();
          existing.free();
          throw new Error(
            `creating network "${inputs.name}" on ${redactUri(conn.uri)}: a network of that name (uuid ${uuid}) already exists there, and a Network takes over one it did not create only with \`adopt: true\`. ` +
              `Nothing was changed. Give this resource another name (its \`name\` input), or, if that network is no longer wanted, remove it ` +
              `(\`virsh net-destroy ${inputs.name}\`, \`virsh net-undefine ${inputs.name}\`) and run \`pulumi up\` again. ${adoptHint("Network")}`,
          );
        }
        // Chosen here rather than by libvirt, so that the ID is known even when the daemon never answers.
        const uuid = randomUUID();
        const xml = buildNetworkXml(inputs, { uuid });
        const partial = () => ({ id: uuid, props: { ...inputs, uuid, uri: conn.uri, active: false, autostart: false, xml: "" } });
        return recordPartlyCreated(`network "${inputs.name}" (uuid ${uuid})`, partial, async (sent) => {
          sent();
          const net = await conn.defineNetwork(xml, `"${inputs.name}"`);
          try {
            try {
              await hooks.pause?.("afterCreate");
              if (inputs.autostart) await net.setAutostart(true);
              if (inputs.active) await net.start();
            } catch (err) {
              (err as Error).message += ` (${await removePartlyCreated(net)})`;
              throw err;
            }
            const outs = { ...(await describe(conn, net, inputs)), adopted: false };
            return { id: outs.uuid, outs };
          } finally {
            net.free();
          }
        });
      });
    },

    async read(id, props) {
      return withConnection({ uri: props.uri, auth: props.auth, hooks }, (conn) =>
        withNetwork(conn, id, async (net) => {
          if (!net) return undefined; // deleted outside Pulumi
          return describe(conn, net, props as NetworkOutputs);
        }),
      );
    },

    async update(id, olds, inputs) {
      // The new credentials: an update is how a changed password gets recorded.
      return withConnection({ uri: olds.uri, auth: inputs.auth, hooks }, (conn) =>
        withNetwork(conn, id, async (net) => {
          if (!net)
            throw new Error(
              `network "${olds.name}" (${id}) no longer exists on ${conn.uri}; run \`pulumi refresh\` to forget it, then \`pulumi up\` to create it again`,
            );
          let active = await net.isActive();
          if (!inputs.active && active) {
            await carryOut(net, planNetworkStop(await gatherNetworkFacts(conn, net)));
            active = false;
          }
          const current = parseNetworkXml(await definitionXml(net));
          await updateHosts(net, { addresses: current.addresses, dhcp: current.dhcp?.hosts ?? [], dns: current.dnsHosts }, inputs, active);
          if (inputs.active && !active) await net.start();
          if ((await net.autostart()) !== inputs.autostart) await net.setAutostart(inputs.autostart);
          return { ...(await describe(conn, net, inputs)), adopted: !!olds.adopted };
        }),
      );
    },

    async delete(id, props) {
      await withConnection({ uri: props.uri, auth: props.auth, hooks }, (conn) =>
        withNetwork(conn, id, async (net) => {
          if (!net) return; // already gone: nothing to do
          await carryOut(net, planNetworkDelete(await gatherNetworkFacts(conn, net)));
        }),
      );
    },
  });

export const networkProvider = makeNetworkProvider();
