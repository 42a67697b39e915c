// Networks: a network is never deleted, replaced or stopped under a domain that
// has an interface on it. A domain whose network is gone cannot start again (its
// <interface type='network'> names a network libvirt no longer has), and a
// running one loses its connection; libvirt itself does not refuse
// virNetworkDestroy or virNetworkUndefine for either. Any domain counts: managed
// by this stack or not, running or not, in its live XML or in its persistent
// definition. No option overrides this: the interfaces go first.
import { plural, type Decision } from "./shared";

/** A domain with at least one interface on the network. */
export interface NetworkUser {
  domain: string;
  running: boolean;
  /** Which of its definitions have the interface: the live XML of the running domain, the persistent one. */
  in: Array<"live" | "persistent">;
  /** The interfaces' MAC addresses, where they have one. */
  macs: string[];
}

/** What libvirt says right before the change, read before anything is changed. */
export interface NetworkFacts {
  name: string;
  active: boolean;
  users: NetworkUser[];
}

export type NetworkStep =
  /** virNetworkDestroy: stop the running network. */
  | { call: "destroy" }
  /** virNetworkUndefine: remove its definition. */
  | { call: "undefine" };

export type NetworkDecision = Decision<NetworkStep>;

function describeUsers(users: NetworkUser[]): string {
  const one = (u: NetworkUser) =>
    `"${u.domain}" (${u.running ? "running" : "not running"}; ${plural(u.macs.length, "interface")}${u.macs.length ? ` ${u.macs.join(", ")}` : ""}, in its ${u.in.join(" and ")} definition${u.in.length > 1 ? "s" : ""})`;
  const shown = users.slice(0, 10).map(one).join(", ");
  return users.length > 10 ? `${shown} and ${users.length - 10} more` : shown;
}

const advice = (users: NetworkUser[]) =>
  `Remove ${users.length === 1 ? "its interface" : "their interfaces"} on the network first (the Domain's networkInterfaces, in its own \`pulumi up\`; or \`virsh detach-interface <domain> network --mac <mac> --config\`), ` +
  `or delete ${users.length === 1 ? "that domain" : "those domains"} first; no option overrides this.`;

function usedBy(f: NetworkFacts): string {
  return `${plural(f.users.length, "domain")} ${f.users.length === 1 ? "has an interface" : "have interfaces"} on it: ${describeUsers(f.users)}`;
}

/** Deleting the network: refused while any domain has an interface on it; else stop it (if it runs) and undefine it. */
export function planNetworkDelete(f: NetworkFacts): NetworkDecision {
  if (f.users.length > 0) {
    return {
      allowed: false,
      message:
        `refusing to delete network "${f.name}" (nothing was changed): ${usedBy(f)}. A domain whose network is gone cannot start, and a running one loses its connection. ` +
        advice(f.users),
    };
  }
  return { allowed: true, steps: [...(f.active ? [{ call: "destroy" } as const] : []), { call: "undefine" }] };
}

/** A replacement deletes the old network first: refused, at preview, while the delete would be. `replaces`: the inputs whose change replaces it. */
export function planNetworkReplace(f: NetworkFacts, replaces: string[]): NetworkDecision {
  const decision = planNetworkDelete(f);
  if (decision.allowed) return decision;
  const keys = replaces.map((k) => `\`${k}\``).join(", ");
  return {
    allowed: false,
    message:
      `refusing to replace network "${f.name}" (nothing was changed): changing ${keys} replaces it, which deletes the old network first, and ${usedBy(f)}. ` +
      `${advice(f.users)} Or revert the change to ${keys}.`,
  };
}

/** Stopping the network (active: false): refused while a running domain has an interface on it in its live XML. */
export function planNetworkStop(f: NetworkFacts): NetworkDecision {
  const running = f.users.filter((u) => u.running && u.in.includes("live"));
  if (!f.active) return { allowed: true, steps: [] };
  if (running.length > 0) {
    return {
      allowed: false,
      message:
        `refusing to stop network "${f.name}" (nothing was changed): ${plural(running.length, "running domain")} ${running.length === 1 ? "has an interface" : "have interfaces"} on it ` +
        `(${describeUsers(running)}), which would lose ${running.length === 1 ? "its" : "their"} connection. Stop ${running.length === 1 ? "that domain" : "those domains"} first, or keep active: true.`,
    };
  }
  return { allowed: true, steps: [{ call: "destroy" }] };
}
