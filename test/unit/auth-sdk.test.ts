// The SDK's auth under Pulumi's mocks in preview mode: what a Snapshot of a
// Domain and a Volume in a Pool register. They take the auth their parent was
// *given*: a parent output the provider did not return is unknown in a preview,
// and would show every Snapshot and Volume of a stack without auth as changing.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { createRequire } from "node:module";
import { sdkPath } from "../helpers/lib";

const sdk = createRequire(sdkPath)("libvirt-pulumi") as typeof import("../../sdk");
const registered = new Map<string, Record<string, any>>();
const PASSWORD = "pw-sdk-61c0";
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

beforeAll(() => {
  pulumi.runtime.setMocks(
    {
      // Like the engine in a preview of an unchanged stack: the saved outputs, which hold no auth when none was given.
      newResource: (args) => {
        registered.set(args.name, args.inputs);
        const { auth: _auth, ...state } = args.inputs;
        return { id: `${args.name}-id`, state: { ...state, uuid: "6695eb01-f6a4-8304-79aa-97f2502e193f" } };
      },
      call: () => ({}),
    },
    "project",
    "stack",
    true,
  );
});

const settled = (r: pulumi.CustomResource) => new Promise((resolve) => r.urn.apply(resolve));

describe("auth in the SDK (preview)", () => {
  it("without auth, a Snapshot of a Domain and a Volume in a Pool register none", async () => {
    const vm = new sdk.Domain("vm-plain", { memoryMiB: 64 });
    const pool = new sdk.Pool("pool-plain", { path: "/var/lib/libvirt/images/p" });
    const snap = new sdk.Snapshot("snap-plain", { domain: vm });
    const vol = new sdk.Volume("vol-plain", { pool, capacity: "1MiB" });
    await Promise.all([vm, pool, snap, vol].map(settled));
    for (const name of ["vm-plain", "pool-plain", "snap-plain", "vol-plain"]) expect(registered.get(name)!.auth, name).toBeUndefined();
  });

  it("with auth on the Domain and the Pool, the Snapshot and the Volume register the same credentials, all as secrets (a plain password included)", async () => {
    const auth = { username: "admin", password: PASSWORD };
    const vm = new sdk.Domain("vm-auth", { memoryMiB: 64, auth });
    const pool = new sdk.Pool("pool-auth", { path: "/var/lib/libvirt/images/p", auth });
    const snap = new sdk.Snapshot("snap-auth", { domain: vm });
    const vol = new sdk.Volume("vol-auth", { pool, capacity: "1MiB" });
    const own = new sdk.Volume("vol-own", { pool, capacity: "1MiB", auth: { username: "other", password: PASSWORD } });
    await Promise.all([vm, pool, snap, vol, own].map(settled));
    // What the mock monitor receives for a secret: Pulumi's secret signature around the value.
    const secret = (value: unknown) => ({ [SECRET_SIG]: SECRET_VALUE, value });
    for (const name of ["vm-auth", "pool-auth", "snap-auth", "vol-auth"]) expect(registered.get(name)!.auth, name).toEqual(secret(auth));
    expect(registered.get("vol-own")!.auth).toEqual(secret({ username: "other", password: PASSWORD }));
  });
});
