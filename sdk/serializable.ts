// Pulumi serializes a dynamic resource's provider into the stack state and runs
// that text in its dynamic-provider process. The provider objects here capture
// nothing: each method require()s the real provider by package name at call
// time, so no native handle, connection or local module path is serialized.
import type * as pulumi from "@pulumi/pulumi";

export type ProviderName = "domainProvider" | "snapshotProvider" | "poolProvider" | "volumeProvider" | "networkProvider" | "cloudInitDiskProvider";

const made = new Map<ProviderName, pulumi.dynamic.ResourceProvider>();

/**
 * A ResourceProvider whose methods forward to `require("libvirt-pulumi/provider")[name]`.
 * One object per name: Pulumi caches a provider's serialized text by object, and
 * serializing it (closure capture through the inspector) costs tens of milliseconds,
 * paid for every resource when each gets a new object.
 */
export function forwardingProvider(name: ProviderName): pulumi.dynamic.ResourceProvider {
  let provider = made.get(name);
  if (!provider) made.set(name, (provider = makeForwardingProvider(name)));
  return provider;
}

function makeForwardingProvider(name: ProviderName): pulumi.dynamic.ResourceProvider {
  // Each method is written out (not generated in a loop) so that the serialized
  // text of every function is self-contained: only `name` and `require` are free.
  return {
    check: (olds, news) => require("libvirt-pulumi/provider")[name].check(olds, news),
    diff: (id, olds, news) => require("libvirt-pulumi/provider")[name].diff(id, olds, news),
    create: (inputs) => require("libvirt-pulumi/provider")[name].create(inputs),
    read: (id, props) => require("libvirt-pulumi/provider")[name].read(id, props),
    update: (id, olds, news) => require("libvirt-pulumi/provider")[name].update(id, olds, news),
    delete: (id, props) => require("libvirt-pulumi/provider")[name].delete(id, props),
  };
}
