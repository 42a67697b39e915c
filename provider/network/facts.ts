// The facts the network teardown rules decide on (../teardown/network.ts): every
// domain on the connection, managed or not, running or not, whose live XML or
// persistent definition has an <interface type='network'> on the network.
import type { Connection } from "../libvirt/connection";
import { isNoDomain, isNotRunning } from "../libvirt/errors";
import type { NetworkHandle } from "../libvirt/network";
import type { NetworkFacts, NetworkUser } from "../teardown/network";
import { interfacesOnNetwork } from "./xml";

/** A domain that disappears or stops while it is read is skipped (or read as stopped). */
async function unlessGone<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (isNoDomain(err) || isNotRunning(err)) return undefined;
    throw err;
  }
}

/** The domains with interfaces on `network` (by name), from every domain's live and persistent XML. */
export async function networkUsers(conn: Connection, network: string): Promise<NetworkUser[]> {
  const doms = await conn.listDomains();
  const users: NetworkUser[] = [];
  try {
    for (const dom of doms) {
      const running = (await unlessGone(() => dom.isActive())) ?? false;
      const persistent = (await unlessGone(() => dom.isPersistent())) ?? false;
      const macs = new Set<string>();
      const where: NetworkUser["in"] = [];
      if (running) {
        const live = await unlessGone(() => dom.xml());
        const found = live === undefined ? [] : interfacesOnNetwork(live, network);
        if (found.length > 0) where.push("live");
        found.forEach((m) => macs.add(m));
      }
      if (persistent) {
        const defined = await unlessGone(() => dom.xml({ inactive: true }));
        const found = defined === undefined ? [] : interfacesOnNetwork(defined, network);
        if (found.length > 0) where.push("persistent");
        found.forEach((m) => macs.add(m));
      }
      if (where.length > 0) users.push({ domain: dom.name(), running, in: where, macs: [...macs].sort() });
    }
  } finally {
    doms.forEach((d) => d.free());
  }
  return users.sort((a, b) => (a.domain < b.domain ? -1 : 1));
}

export async function gatherNetworkFacts(conn: Connection, net: NetworkHandle): Promise<NetworkFacts> {
  const name = net.name();
  return { name, active: await net.isActive(), users: await networkUsers(conn, name) };
}
