// The network teardown rules: pure facts → plan. A network that any domain has
// an interface on is never deleted, replaced or stopped under it.
import { describe, expect, it } from "vitest";
import { planNetworkDelete, planNetworkReplace, planNetworkStop, type NetworkFacts, type NetworkUser } from "../../../provider/teardown/network";

const user = (domain: string, over: Partial<NetworkUser> = {}): NetworkUser => ({
  domain,
  running: false,
  in: ["persistent"],
  macs: ["52:54:00:00:00:01"],
  ...over,
});
const facts = (over: Partial<NetworkFacts> = {}): NetworkFacts => ({ name: "lab", active: true, users: [], ...over });

describe("planNetworkDelete", () => {
  const table: Array<[string, NetworkFacts, ReturnType<typeof planNetworkDelete>]> = [
    ["unused, running: stop, then undefine", facts(), { allowed: true, steps: [{ call: "destroy" }, { call: "undefine" }] }],
    ["unused, stopped: undefine only", facts({ active: false }), { allowed: true, steps: [{ call: "undefine" }] }],
  ];
  it.each(table)("%s", (_what, f, expected) => expect(planNetworkDelete(f)).toEqual(expected));

  it("a defined (not running) domain with an interface on it: refused, naming it, its MAC and what to do", () => {
    expect(planNetworkDelete(facts({ users: [user("web")] }))).toEqual({
      allowed: false,
      message:
        'refusing to delete network "lab" (nothing was changed): 1 domain has an interface on it: "web" (not running; 1 interface 52:54:00:00:00:01, in its persistent definition). ' +
        "A domain whose network is gone cannot start, and a running one loses its connection. " +
        "Remove its interface on the network first (the Domain's networkInterfaces, in its own `pulumi up`; or `virsh detach-interface <domain> network --mac <mac> --config`), " +
        "or delete that domain first; no option overrides this.",
    });
  });

  it("refused whatever the network's state and wherever the interface is (live only, both definitions)", () => {
    for (const active of [true, false]) {
      for (const u of [user("a", { running: true, in: ["live"] }), user("b", { running: true, in: ["live", "persistent"] })]) {
        const d = planNetworkDelete(facts({ active, users: [u] }));
        expect(d.allowed).toBe(false);
      }
    }
    const d = planNetworkDelete(facts({ users: [user("a", { running: true, in: ["live", "persistent"], macs: ["m1", "m2"] }), user("b")] }));
    expect(d).toMatchObject({ allowed: false });
    if (!d.allowed) {
      expect(d.message).toContain(
        '2 domains have interfaces on it: "a" (running; 2 interfaces m1, m2, in its live and persistent definitions), "b" (not running;',
      );
      expect(d.message).toContain("Remove their interfaces on the network first");
      expect(d.message).toContain("or delete those domains first");
    }
  });

  it("more than ten domains: ten are named, the rest counted", () => {
    const users = Array.from({ length: 12 }, (_, n) => user(`d${n}`));
    const d = planNetworkDelete(facts({ users }));
    expect(d.allowed).toBe(false);
    if (!d.allowed) expect(d.message).toMatch(/"d9" \(not running;[^)]*\) and 2 more\./);
  });
});

describe("planNetworkReplace", () => {
  it("unused: allowed with the delete's steps", () => {
    expect(planNetworkReplace(facts(), ["addresses"])).toEqual({ allowed: true, steps: [{ call: "destroy" }, { call: "undefine" }] });
  });
  it("used: refused, naming the changed inputs and how to keep the network", () => {
    const d = planNetworkReplace(facts({ users: [user("web")] }), ["addresses", "dhcp"]);
    expect(d.allowed).toBe(false);
    if (!d.allowed) {
      expect(d.message).toMatch(
        /^refusing to replace network "lab" \(nothing was changed\): changing `addresses`, `dhcp` replaces it, which deletes the old network first, and 1 domain has an interface on it: "web"/,
      );
      expect(d.message).toMatch(/Or revert the change to `addresses`, `dhcp`\.$/);
    }
  });
});

describe("planNetworkStop", () => {
  const table: Array<[string, NetworkFacts, boolean]> = [
    ["already stopped: nothing to do", facts({ active: false, users: [user("a", { running: true, in: ["live"] })] }), true],
    ["only defined domains on it: allowed", facts({ users: [user("a")] }), true],
    [
      "a running domain whose persistent definition only has it (hot-unplugged live): allowed",
      facts({ users: [user("a", { running: true, in: ["persistent"] })] }),
      true,
    ],
    ["a running domain with a live interface on it: refused", facts({ users: [user("a", { running: true, in: ["live"] })] }), false],
  ];
  it.each(table)("%s", (_what, f, allowed) => expect(planNetworkStop(f).allowed).toBe(allowed));

  it("the refusal names the running domains only and says what to do", () => {
    const d = planNetworkStop(facts({ users: [user("off"), user("on", { running: true, in: ["live", "persistent"] })] }));
    expect(d).toEqual({
      allowed: false,
      message:
        'refusing to stop network "lab" (nothing was changed): 1 running domain has an interface on it ("on" (running; 1 interface 52:54:00:00:00:01, in its live and persistent definitions)), ' +
        "which would lose its connection. Stop that domain first, or keep active: true.",
    });
    expect(planNetworkStop(facts())).toEqual({ allowed: true, steps: [{ call: "destroy" }] });
  });
});
