// The SDK's Network class under Pulumi's mocks: what it registers (the name
// defaults to the resource name, the serialized provider is a require() of
// networkProvider by package name), its outputs, and auth kept secret.
import { createRequire } from "node:module";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { sdkPath } from "../helpers/lib";

const requireFromSdk = createRequire(sdkPath);
const sdk = requireFromSdk("libvirt-pulumi") as typeof import("../../sdk");
const registered = new Map<string, { inputs: Record<string, any>; type: string }>();

beforeAll(() => {
  pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.set(args.name, { inputs: args.inputs, type: args.type });
        return { id: `${args.name}-id`, state: { ...args.inputs, uuid: "0d6c5c2e-7a43-4a43-9b1f-3c9b8f9a1e01", bridgeName: "virbr3" } };
      },
      call: () => ({}),
    },
    "project",
    "stack",
    false,
  );
});

const value = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));

describe("Network (SDK)", () => {
  it("defaults the name to the resource name and forwards to networkProvider", async () => {
    const n = new sdk.Network("lab", { mode: "isolated" });
    await value(n.urn);
    const { inputs } = registered.get("lab")!;
    expect(inputs).toMatchObject({ name: "lab", mode: "isolated" });
    expect(inputs.__provider).toContain(`require("libvirt-pulumi/provider")`);
    expect(inputs.__provider).toContain("networkProvider");
    expect(await value(n.uuid)).toBe("0d6c5c2e-7a43-4a43-9b1f-3c9b8f9a1e01");
    expect(await value(n.bridgeName)).toBe("virbr3");
  });

  it("takes no arguments at all (the provider's check then asks for addresses or mode)", async () => {
    const n = new sdk.Network("bare");
    await value(n.urn);
    expect(registered.get("bare")!.inputs).toMatchObject({ name: "bare" });
  });

  it("keeps auth secret", async () => {
    const n = new sdk.Network("authed", { mode: "isolated", auth: { username: "u", password: "p" } });
    await value(n.urn);
    expect(await pulumi.isSecret(n.auth)).toBe(true);
  });
});
