import * as pulumi from "@pulumi/pulumi";
import { rememberAuth, secretAuth, withSecretAuth } from "./auth";
import { forwardingProvider } from "./serializable";
import { rememberSecretOutputs, withDerivedSecrets } from "./secret-outputs";
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
    // Every output must be a registered property, or it stays undefined on the
    // resource when it was not also an input (bridgeName picked by libvirt, say).
    const outputs = Object.fromEntries(NETWORK_OUTPUT_KEYS.map((k) => [k, undefined]));
    const auth = secretAuth(args.auth);
    const secrets = withDerivedSecrets({
      props: { ...outputs, ...args, auth, name: args.name ?? name },
      flows: NETWORK_SECRET_FLOWS,
      gateKey: "uuid",
      opts: withSecretAuth(opts),
    });
    super(forwardingProvider("networkProvider"), name, secrets.props, secrets.opts, "libvirt-pulumi", "Network");
    rememberAuth(this, auth);
    rememberSecretOutputs(this, secrets.decision);
  }
}
