// The SDK's provider object is what Pulumi serializes into the stack state and
// later runs in its dynamic-provider process. Serialize it the way
// pulumi.dynamic.Resource does, check the text captures nothing of this
// machine, and run it in a fresh node process.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { provider, sdkPath } from "../helpers/lib";

const requireFromSdk = createRequire(sdkPath);
const { forwardingProvider } = requireFromSdk("./serializable") as typeof import("../../sdk/serializable");
const packageRoot = dirname(requireFromSdk.resolve("libvirt-pulumi/package.json"));

// Two forms: the one the brief of this test names (isFactoryFunction: true, so
// `exports.handler` is the provider object itself), and the one
// pulumi.dynamic.Resource stores (no factory flag) which Pulumi's
// dynamic-provider host loads as `requireFromString(text).handler()`.
const forms = {
  factory: { options: { isFactoryFunction: true, allowSecrets: true }, load: (exportName: string) => `require("./factory.js").${exportName}` },
  dynamicResource: { options: { allowSecrets: true }, load: (exportName: string) => `require("./dynamicResource.js").${exportName}()` },
} as const;
type Form = keyof typeof forms;

const texts = {} as Record<Form, { text: string; exportName: string }>;
let dir: string;

beforeAll(async () => {
  const prov = forwardingProvider("domainProvider");
  // A directory outside the repository where the package is installed by name,
  // as in a user's project: node_modules/libvirt-pulumi -> the package.
  dir = mkdtempSync(join(tmpdir(), "lvp-serialized-"));
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(packageRoot, join(dir, "node_modules", "libvirt-pulumi"), "dir");
  for (const form of Object.keys(forms) as Form[]) {
    const serialized = await pulumi.runtime.serializeFunction(() => prov, forms[form].options);
    texts[form] = { text: serialized.text, exportName: serialized.exportName };
    writeFileSync(join(dir, `${form}.js`), serialized.text);
  }
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs the serialized provider's method in a fresh node process; returns its JSON result. */
function runSerialized(form: Form, method: string, args: unknown[]): unknown {
  const script = `
    const prov = ${forms[form].load(texts[form].exportName)};
    Promise.resolve(prov.${method}(...${JSON.stringify(args)}))
      .then((r) => process.stdout.write(JSON.stringify({ ok: r })))
      .catch((e) => process.stdout.write(JSON.stringify({ error: String(e && e.message) })));`;
  // A clean environment: nothing but PATH, no NODE_PATH pointing into the repository.
  const r = spawnSync(process.execPath, ["-e", script], { cwd: dir, encoding: "utf8", timeout: 30_000, env: { PATH: process.env.PATH ?? "" } });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout);
}

describe.each(Object.keys(forms) as Form[])("the serialized Domain provider (%s form)", (form) => {
  const text = () => texts[form].text;
  it("serializes to a factory exported as handler", () => {
    expect(texts[form].exportName).toBe("handler");
    expect(text()).toMatch(/exports\.handler = /);
  });

  it("captures no native handle, external or module object", () => {
    expect(text()).not.toMatch(/\[External|External:|koffi|virConnect|virDomain\b|Buffer|pointer/i);
    // It requires the provider by package name at call time instead.
    expect(text()).toContain('require("libvirt-pulumi/provider")');
    expect(text()).not.toMatch(/require\(["'][./]/);
  });

  it("contains no absolute path of this machine", () => {
    expect(text()).not.toContain("/work/");
    expect(text()).not.toContain(packageRoot);
    expect(text()).not.toContain(process.cwd());
    expect(text()).not.toContain(tmpdir() + "/");
    expect(text()).not.toMatch(/\/(home|root|usr|tmp|var)\//);
  });

  it("every ResourceProvider method is there", () => {
    for (const m of ["check", "diff", "create", "read", "update", "delete"]) expect(text()).toMatch(new RegExp(`\\b${m}: __f\\d+`));
  });

  it("runs in a fresh node process and checks good inputs like a direct call", async () => {
    const news = { name: "a", memoryMiB: 64 };
    const direct = await provider.domainProvider.check!({}, news);
    expect(runSerialized(form, "check", [{}, news])).toEqual({ ok: JSON.parse(JSON.stringify(direct)) });
    expect(direct.failures).toEqual([]);
  });

  it("runs in a fresh node process and returns the same failures as a direct call", async () => {
    const news = { name: "x</name>", memoryMiB: 1.5, disks: [{ file: "rel.img" }], memroy: 1 };
    const direct = await provider.domainProvider.check!({}, news);
    expect(direct.failures!.length).toBeGreaterThanOrEqual(3);
    expect(runSerialized(form, "check", [{}, news])).toEqual({ ok: JSON.parse(JSON.stringify(direct)) });
  });

  it("diff also forwards (no libvirt needed)", async () => {
    const olds = { name: "a", memoryMiB: 64, uri: "test:///default", type: "test", vcpus: 1, running: true, persistent: true, autostart: false };
    const news = { name: "b", memoryMiB: 64 };
    const direct = await provider.domainProvider.diff!("id", olds, news);
    expect(runSerialized(form, "diff", ["id", olds, news])).toEqual({ ok: JSON.parse(JSON.stringify(direct)) });
  });

  it("creates a domain on test:///default from the fresh process (native code loads there, not here)", () => {
    const result = runSerialized(form, "create", [
      { name: "serialized", memoryMiB: 64, uri: "test:///default", running: true, persistent: true },
    ]) as { ok?: { id: string; outs: Record<string, unknown> } };
    expect(result.ok?.outs).toMatchObject({ name: "serialized", uri: "test:///default", state: "running", type: "test" });
    expect(result.ok?.id).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("the serialized providers of all four resources, after operations with credentials", () => {
  const PASSWORD = "pw-serialized-2b9e4d";
  const USER = "serialized-user";

  it("hold no credentials and no native handle, though this process has open, authenticated connections", async () => {
    // Credentials now live in this process (the connection pool, koffi's native state):
    // none of it may reach the text Pulumi stores.
    const auth = { username: USER, password: PASSWORD };
    const { inputs } = await provider.domainProvider.check!({}, { name: "with-auth", memoryMiB: 64, uri: "test:///default", auth });
    const { id, outs } = await provider.domainProvider.create!(inputs);
    expect(outs.auth).toEqual(auth);
    for (const name of ["domainProvider", "snapshotProvider", "poolProvider", "volumeProvider"] as const) {
      const prov = forwardingProvider(name);
      for (const form of Object.keys(forms) as Form[]) {
        const { text } = await pulumi.runtime.serializeFunction(() => prov, forms[form].options);
        expect(text, `${name} (${form})`).not.toContain(PASSWORD);
        expect(text, `${name} (${form})`).not.toContain(USER);
        expect(text, `${name} (${form})`).not.toMatch(/\[External|External:|koffi|virConnect|Buffer|pointer|password/i);
        expect(text).toContain(`require("libvirt-pulumi/provider")[name]`);
      }
    }
    await provider.domainProvider.delete!(id, outs);
  });
});
