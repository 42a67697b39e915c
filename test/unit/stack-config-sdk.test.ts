// The stack's default hypervisor on the SDK's side, under Pulumi's mocks: what a
// resource registers when the stack config has libvirt-pulumi:uri (and a
// username with a secret password). The provider's side is stack-default-uri.test.ts.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { createRequire } from "node:module";
import { sdkPath } from "../helpers/lib";

const sdk = createRequire(sdkPath)("libvirt-pulumi") as typeof import("../../sdk");
const registered = new Map<string, Record<string, any>>();
const PASSWORD = "pw-stack-8e21";
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";
const secret = (value: unknown) => ({ [SECRET_SIG]: SECRET_VALUE, value });
const STACK_URI = "qemu+tcp://hv1.example/system";

beforeAll(() => {
  pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.set(args.name, args.inputs);
        const { auth: _auth, ...state } = args.inputs;
        return {
          id: `${args.name}-id`,
          state: { ...state, uri: args.inputs.uri ?? args.inputs.__stackUri, uuid: "6695eb01-f6a4-8304-79aa-97f2502e193f" },
        };
      },
      call: () => ({}),
    },
    "project",
    "stack",
    true,
  );
});

const settled = (r: pulumi.CustomResource) => new Promise((resolve) => r.urn.apply(resolve));
const withConfig = (config: Record<string, string>, secretKeys: string[] = []) => pulumi.runtime.setAllConfig(config, secretKeys);

describe("stack config libvirt-pulumi:uri, username and password", () => {
  it("every resource is sent the stack default; the credentials go, as a secret, only to resources that give no uri", async () => {
    withConfig({ "libvirt-pulumi:uri": STACK_URI, "libvirt-pulumi:username": "admin", "libvirt-pulumi:password": PASSWORD }, [
      "libvirt-pulumi:password",
    ]);
    const vm = new sdk.Domain("vm-stack", { memoryMiB: 64 });
    const snap = new sdk.Snapshot("snap-stack", { domain: vm });
    const pool = new sdk.Pool("pool-stack", { path: "/var/lib/libvirt/images/p" });
    const vol = new sdk.Volume("vol-stack", { pool, capacity: "1MiB" });
    const local = new sdk.Domain("vm-local", { memoryMiB: 64, uri: "qemu:///system" });
    const net = new sdk.Network("net-stack", { mode: "isolated" });
    await Promise.all([vm, snap, pool, vol, local, net].map(settled));
    const creds = secret({ username: "admin", password: PASSWORD });
    for (const name of ["vm-stack", "pool-stack", "net-stack"]) {
      expect(registered.get(name)!.__stackUri, name).toBe(STACK_URI);
      expect(registered.get(name)!.uri, name).toBeUndefined(); // the provider resolves it (and keeps it later)
      expect(registered.get(name)!.auth, name).toEqual(creds);
    }
    // A Snapshot of a Domain and a Volume in a Pool: their parent's uri and credentials.
    expect(registered.get("snap-stack")!.auth).toEqual(creds);
    expect(registered.get("vol-stack")!.auth).toEqual(creds);
    // Its own uri wins, and the stack's credentials are not sent to another hypervisor.
    expect(registered.get("vm-local")!.uri).toBe("qemu:///system");
    expect(registered.get("vm-local")!.auth).toBeUndefined();
    expect(JSON.stringify(registered.get("vm-local"))).not.toContain(PASSWORD);
  });

  it("without stack config nothing is added", async () => {
    withConfig({});
    const vm = new sdk.Domain("vm-no-stack", { memoryMiB: 64 });
    await settled(vm);
    expect(registered.get("vm-no-stack")!.__stackUri).toBeUndefined();
    expect(registered.get("vm-no-stack")!.auth).toBeUndefined();
  });

  it("a username without a password (or credentials without a uri) is a clear error naming the config keys", () => {
    withConfig({ "libvirt-pulumi:uri": STACK_URI, "libvirt-pulumi:username": "admin" });
    expect(() => new sdk.Domain("vm-half", { memoryMiB: 64 })).toThrow(/libvirt-pulumi:username and libvirt-pulumi:password go together/);
    withConfig({ "libvirt-pulumi:username": "admin", "libvirt-pulumi:password": PASSWORD }, ["libvirt-pulumi:password"]);
    expect(() => new sdk.Domain("vm-nouri", { memoryMiB: 64 })).toThrow(/libvirt-pulumi:uri is not set/);
    withConfig({});
  });
});
