// The SDK's Snapshot class under Pulumi's mocks (what it registers), and its
// serialized provider run in a fresh node process (as Pulumi's dynamic-provider
// host does), loaded by package name from outside the repository.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sdkPath } from "../helpers/lib";

const requireFromSdk = createRequire(sdkPath);
const sdk = requireFromSdk("libvirt-pulumi") as typeof import("../../sdk");
const { forwardingProvider } = requireFromSdk("./serializable") as typeof import("../../sdk/serializable");
const packageRoot = dirname(requireFromSdk.resolve("libvirt-pulumi/package.json"));

const DOMAIN_UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f";
const registered = new Map<string, Record<string, any>>();

beforeAll(() => {
  pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.set(args.name, args.inputs);
        const extra = args.name === "vm" ? { uuid: DOMAIN_UUID } : {};
        return { id: `${args.name}-id`, state: { ...args.inputs, ...extra } };
      },
      call: () => ({}),
    },
    "project",
    "stack",
    false,
  );
});

const value = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));

describe("Snapshot (SDK)", () => {
  it("given a Domain, uses its resolved uuid and uri, and defaults the name to the resource name", async () => {
    const vm = new sdk.Domain("vm", { memoryMiB: 64, uri: "qemu:///system" });
    const s = new sdk.Snapshot("before-upgrade", { domain: vm, description: "pre" });
    await value(s.urn);
    await value(s.name);
    const inputs = registered.get("before-upgrade")!;
    expect(inputs).toMatchObject({ domain: DOMAIN_UUID, uri: "qemu:///system", name: "before-upgrade", description: "pre" });
    expect(inputs.__provider).toContain(`require("libvirt-pulumi/provider")`);
    expect(inputs.__provider).toContain("snapshotProvider");
  });

  it("exposes every output, and given a Domain without uri uses the default URI as that Domain does", async () => {
    const vm = new sdk.Domain("vm", { memoryMiB: 64 });
    const s = new sdk.Snapshot("defaults", { domain: vm });
    for (const key of [
      "domainUuid",
      "parent",
      "children",
      "state",
      "creationTime",
      "isCurrent",
      "kind",
      "xml",
      "deleteDataOnDestroy",
      "atomic",
      "uri",
    ]) {
      expect(pulumi.Output.isInstance((s as any)[key]), key).toBe(true);
    }
    expect(await value(s.domain)).toBe(DOMAIN_UUID);
    expect(registered.get("defaults")!.uri).toBeUndefined();
  });

  it("given a domain name, passes it with the uri", async () => {
    const s = new sdk.Snapshot("by-name", { domain: "web", uri: "qemu:///system", name: "snap-1", deleteDataOnDestroy: false });
    await value(s.name);
    expect(registered.get("by-name")).toMatchObject({ domain: "web", uri: "qemu:///system", name: "snap-1", deleteDataOnDestroy: false });
  });

  it("refuses a uri next to a Domain resource", () => {
    const vm = new sdk.Domain("vm2", { memoryMiB: 64 });
    expect(() => new sdk.Snapshot("bad", { domain: vm, uri: "qemu:///session" })).toThrow(/uri applies only/);
  });
});

describe("the serialized Snapshot provider", () => {
  let dir: string;
  let text: string;
  let exportName: string;

  beforeAll(async () => {
    const prov = forwardingProvider("snapshotProvider");
    const serialized = await pulumi.runtime.serializeFunction(() => prov, { allowSecrets: true });
    text = serialized.text;
    exportName = serialized.exportName;
    dir = mkdtempSync(join(tmpdir(), "lvp-serialized-snap-"));
    mkdirSync(join(dir, "node_modules"));
    symlinkSync(packageRoot, join(dir, "node_modules", "libvirt-pulumi"), "dir");
    writeFileSync(join(dir, "provider.js"), text);
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("captures nothing of this machine and requires the provider by package name", () => {
    expect(text).toContain('require("libvirt-pulumi/provider")');
    expect(text).not.toMatch(/koffi|\[External|require\(["'][./]/);
    expect(text).not.toContain("/work/");
  });

  it("runs check in a fresh process: property-named failures come back", () => {
    const script = `
      const prov = require("./provider.js").${exportName}();
      prov.check({}, { name: "s", domain: "web", memory: "internal", diskOnly: true })
        .then((r) => process.stdout.write(JSON.stringify(r.failures)));`;
    const r = spawnSync(process.execPath, ["-e", script], { cwd: dir, encoding: "utf8", timeout: 30_000, env: { PATH: process.env.PATH ?? "" } });
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual([expect.objectContaining({ property: "memory" })]);
  });
});
