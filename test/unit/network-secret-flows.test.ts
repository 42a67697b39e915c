// The Network's secret flows (sdk/generated/network.ts, derived from its spec)
// against what the provider really writes on test:///default: a distinctive
// value per input, searched for in every output. A missing entry would be a
// leak; an extra one, secrecy the user did not ask for.
import { createRequire } from "node:module";
import { afterAll, describe, expect, it } from "vitest";
import { provider, sdkPath } from "../helpers/lib";

const requireFromSdk = createRequire(sdkPath);
const { NETWORK_SECRET_FLOWS } = requireFromSdk("./generated/network") as typeof import("../../sdk/generated/network");
const { networkInputSchema } = requireFromSdk("../provider/network/inputs") as typeof import("../../provider/network/inputs");

const U = "test:///default";
const np = provider.networkProvider;
const m = (label: string) => `mk${label}${Math.random().toString(36).slice(2, 8)}`;
const holding = (outs: Record<string, unknown>, marker: string) =>
  Object.keys(outs)
    .filter((k) => JSON.stringify(outs[k]).includes(marker))
    .sort();
const made: Array<{ id: string; outs: Record<string, any> }> = [];

afterAll(async () => {
  for (const n of made) await np.delete!(n.id, n.outs).catch(() => undefined);
  await provider.closeAllConnections();
});

async function create(inputs: Record<string, unknown>) {
  const { inputs: checked, failures } = await np.check!({}, { uri: U, ...inputs });
  expect(failures).toEqual([]);
  const { id, outs } = await np.create(checked);
  made.push({ id: id!, outs });
  return outs;
}

describe("Network: the secret flow table", () => {
  it("has an entry for every input, each listing its own output", () => {
    const inputs = Object.keys(networkInputSchema.shape).sort();
    expect(Object.keys(NETWORK_SECRET_FLOWS).sort()).toEqual(inputs);
    for (const input of inputs) expect(NETWORK_SECRET_FLOWS[input], input).toContain(input);
  });

  it("is what the provider writes", async () => {
    const mk = { name: `lvp-test-${m("n")}`, domain: `${m("d")}.example`, bridge: m("b").slice(0, 12), user: m("u"), password: m("p") };
    const a = await create({
      name: mk.name,
      mode: "route",
      domain: mk.domain,
      bridgeName: mk.bridge,
      addresses: ["10.77.0.1/24"],
      auth: { username: mk.user, password: mk.password },
    });
    const observed: Record<string, string[]> = {
      name: holding(a, mk.name),
      domain: holding(a, mk.domain),
      bridgeName: holding(a, mk.bridge),
      addresses: holding(a, "10.77.0.1"),
      auth: holding(a, mk.password),
      uri: holding(a, U),
    };
    const host = m("h");
    const dns = m("dns");
    const b = await create({
      name: `lvp-test-${m("n2")}`,
      addresses: ["10.78.0.1/24"],
      dhcp: { hosts: [{ ip: "10.78.0.9", name: host }] },
      dnsHosts: [{ ip: "10.78.0.9", hostnames: [dns] }],
    });
    observed.dhcp = holding(b, host);
    observed.dnsHosts = holding(b, dns);
    for (const [input, outputs] of Object.entries(observed)) expect(outputs, input).toEqual([...NETWORK_SECRET_FLOWS[input]].sort());
  });
});
