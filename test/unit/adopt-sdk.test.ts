// The SDK passes `adopt` through to each resource's provider, and exposes the
// `adopted` output (under Pulumi's mocks: what each class registers); the
// provider's check keeps it, so the create sees it.
import { createRequire } from "node:module";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { provider, sdkPath } from "../helpers/lib";

const requireFromSdk = createRequire(sdkPath);
const sdk = requireFromSdk("libvirt-pulumi") as typeof import("../../sdk");
const registered = new Map<string, Record<string, any>>();
const DOMAIN_UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f";

beforeAll(() => {
  pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.set(args.name, args.inputs);
        return { id: `${args.name}-id`, state: { ...args.inputs, uuid: DOMAIN_UUID, adopted: args.inputs.adopt === true } };
      },
      call: () => ({}),
    },
    "project",
    "stack",
    false,
  );
});

const value = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));

describe("adopt (SDK)", () => {
  it("each resource registers adopt: true as given, with its provider, and exposes adopted", async () => {
    const uri = "qemu:///system";
    const vm = new sdk.Domain("adopt-vm", { memoryMiB: 64, uri, adopt: true });
    const resources = [
      [vm, "domainProvider"],
      [new sdk.Snapshot("adopt-snap", { domain: vm, adopt: true }), "snapshotProvider"],
      [new sdk.Pool("adopt-pool", { path: "/var/lib/libvirt/images/x", uri, adopt: true }), "poolProvider"],
      [new sdk.Volume("adopt-vol", { pool: "default", capacity: "1MiB", uri, adopt: true }), "volumeProvider"],
      [new sdk.Network("adopt-net", { mode: "isolated", uri, adopt: true }), "networkProvider"],
    ] as const;
    for (const [r, providerName] of resources) {
      const name = await value(r.urn).then((urn) => urn.split("::").pop()!);
      expect(registered.get(name), name).toMatchObject({ adopt: true });
      expect(registered.get(name)!.__provider).toContain(providerName);
      expect(await value((r as unknown as { adopted: pulumi.Output<boolean> }).adopted), name).toBe(true);
    }
  });

  it("left out, adopt is not registered (the provider takes it as false)", async () => {
    const n = new sdk.Network("no-adopt", { mode: "isolated", uri: "qemu:///system" });
    await value(n.urn);
    expect(registered.get("no-adopt")).not.toHaveProperty("adopt");
    expect(await value(n.adopted)).toBe(false);
  });

  it("each provider's check keeps adopt, and refuses a value that is not a boolean", async () => {
    const cases: Array<[any, Record<string, unknown>]> = [
      [provider.domainProvider, { name: "d", memoryMiB: 64 }],
      [provider.snapshotProvider, { name: "s", domain: "d" }],
      [provider.poolProvider, { name: "p", path: "/srv/p" }],
      [provider.volumeProvider, { name: "v", pool: "p", capacity: 1048576 }],
      [provider.networkProvider, { name: "n", mode: "isolated" }],
    ];
    for (const [p, inputs] of cases) {
      const ok = await p.check({}, { uri: "test:///default", ...inputs, adopt: true });
      expect(ok.failures ?? []).toEqual([]);
      expect(ok.inputs.adopt).toBe(true);
      const bad = await p.check({}, { uri: "test:///default", ...inputs, adopt: "yes" });
      expect(bad.failures.map((f: { property: string }) => f.property)).toContain("adopt");
    }
  });
});
