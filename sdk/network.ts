import * as pulumi from "@pulumi/pulumi";
import { secretAuth } from "./auth";
import { forwardingProvider } from "./serializable";
import { registration } from "./registration";
import { NETWORK_OUTPUT_KEYS, NETWORK_SECRET_FLOWS, NetworkResource, type NetworkArgs } from "./generated/network";

export type { NetworkArgs, NetworkDhcpArgs, NetworkDhcpHostArgs, NetworkDhcpRangeArgs, NetworkDnsHostArgs } from "./generated/network";

/**
 * A libvirt virtual network (virNetworkDefineXML, then started).
 *
 * Deleting or replacing a network that any domain has an interface on (managed
 * by the stack or not, running or not) is refused before anything changes; a
 * replacement is refused already at preview. DHCP hosts, DNS hosts, autostart
 * and active change in place; everything else replaces the network.
 *
 * ```ts
 * import * as libvirt from "libvirt-pulumi";
 * const lab = new libvirt.Network("lab", {
 *   addresses: ["192.168.150.1/24"],
 *   dhcp: { ranges: [{ start: "192.168.150.100", end: "192.168.150.200" }] },
 * });
 * const vm = new libvirt.Domain("web", { memoryMiB: 512, networkInterfaces: [{ network: lab.name }] });
 * ```
 */
export class Network extends NetworkResource {
  constructor(name: string, args: NetworkArgs = {}, opts?: pulumi.CustomResourceOptions) {
    const r = registration({
      props: { ...args, name: args.name ?? name },
      outputKeys: NETWORK_OUTPUT_KEYS,
      flows: NETWORK_SECRET_FLOWS,
      gateKey: "uuid",
      opts,
      auth: secretAuth(args.auth),
      sharesAuth: true,
    });
    super(forwardingProvider("networkProvider"), name, r.props, r.opts, "libvirt-pulumi", "Network");
    r.registered(this);
  }
}
