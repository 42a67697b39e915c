// The SDK's CloudInitDisk class under Pulumi's mocks: what it registers and
// which outputs it keeps secret: user-data and vendor-data always (with what
// their content flows into), whatever the program passed.
import { createRequire } from "node:module";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { sdkPath } from "../helpers/lib";

const requireFromSdk = createRequire(sdkPath);
const sdk = requireFromSdk("libvirt-pulumi") as typeof import("../../sdk");
const registered = new Map<string, Record<string, any>>();
const sent = new Map<string, string[]>();

beforeAll(() => {
  pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.set(args.name, args.inputs);
        return { id: `${args.name}-id`, state: { ...args.inputs, key: "/p/seed.iso", path: "/p/seed.iso", instanceId: "iid-x", size: 2048 } };
      },
      call: () => ({}),
    },
    "project",
    "stack",
    false,
  );
  const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource(req: any, cb: unknown): unknown };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) => {
    sent.set(req.getName(), [...req.getAdditionalsecretoutputsList()].sort());
    return register(req, cb);
  };
});

const value = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));

describe("CloudInitDisk (SDK)", () => {
  it("defaults the name, takes a Pool's name and uri, forwards to cloudInitDiskProvider", async () => {
    const pool = new sdk.Pool("ci-pool", { path: "/var/lib/libvirt/images/ci", uri: "qemu:///system" });
    const seed = new sdk.CloudInitDisk("seed", { pool, userData: { hostname: "web" } });
    await value(seed.urn);
    const inputs = registered.get("seed")!;
    expect(inputs).toMatchObject({ name: "seed", pool: "ci-pool", uri: "qemu:///system" });
    expect(inputs.__provider).toContain("cloudInitDiskProvider");
    expect(await value(seed.path)).toBe("/p/seed.iso");
  });

  it("keeps user-data secret although it was passed in plain, with what it flows into", async () => {
    const seed = new sdk.CloudInitDisk("plain-seed", {
      pool: "default",
      userData: "#cloud-config\npassword: pw\n",
      metaData: { "local-hostname": "h" },
    });
    await value(seed.urn);
    expect(sent.get("plain-seed")).toEqual(["auth", "instanceId", "metaData", "size", "userData", "vendorData"]);
    expect(await pulumi.isSecret(seed.userData)).toBe(true);
  });

  it("a secret meta-data makes its own output secret too", async () => {
    const seed = new sdk.CloudInitDisk("meta-seed", { pool: "default", userData: "x", metaData: pulumi.secret({ "local-hostname": "h" }) });
    await value(seed.urn);
    expect(sent.get("meta-seed")).toEqual(["auth", "instanceId", "metaData", "size", "userData", "vendorData"]);
  });

  it("is a Domain disk as a volume: a raw cdrom unless the disk says otherwise", async () => {
    const seed = new sdk.CloudInitDisk("dom-seed", { pool: "default", name: "dom-seed.iso", userData: "x" });
    const vm = new sdk.Domain("dom-with-seed", { memoryMiB: 64, disks: [{ volume: seed }, { volume: seed, device: "disk", target: "vdb" }] });
    await value(vm.urn);
    expect(registered.get("dom-with-seed")!.disks).toEqual([
      { volume: { pool: "default", name: "dom-seed.iso" }, format: "raw", device: "cdrom" },
      { volume: { pool: "default", name: "dom-seed.iso" }, format: "raw", device: "disk", target: "vdb" },
    ]);
  });
});
