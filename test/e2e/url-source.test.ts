// Issue 13 item 6 through the real `pulumi` CLI: a Volume from an http URL that
// carries user:password (served by this test on 127.0.0.1 with Basic auth). The
// password is in no CLI output and only as ciphertext in the state (the SDK makes
// the source a secret); a refresh and a second preview fetch nothing and show no
// change; qemu-img and virsh say what the volume holds.
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PulumiProject } from "../helpers/pulumi-cli";
import { QEMU_URI, makeImageDir, removePool, uniqueName, virsh, virshTry, volumeNames } from "../helpers/host";
import { bytesHandler, serve, sha256, type Served } from "../helpers/http-source";

const PASSWORD = "E2e-url-s3cret";
const prefix = uniqueName("e2e-url");
const poolPath = `/var/lib/libvirt/images/${prefix}-pool`;
const pool = `${prefix}-pool`;
const volume = `${prefix}-image.qcow2`;
const src = makeImageDir("e2e-url-src");
let project: PulumiProject;
let server: Served;
let image: string;

beforeAll(async () => {
  image = src.qcow2("served.qcow2", 8);
  execFileSync("qemu-io", ["-c", "write -P 0x3c 1M 1M", image]);
  const bytes = readFileSync(image);
  server = await serve(bytesHandler({ "/served.qcow2": bytes }, { basicAuth: `alice:${PASSWORD}` }));
  project = PulumiProject.prepare(join(__dirname, "programs", "url-source"));
  await project.newStack("url", { prefix, poolPath, sourceSha256: sha256(bytes) });
  // A secret in the stack's config (Pulumi keeps plain config values in clear in the state,
  // as its default provider's inputs); the program reads it with plain config.require, so
  // only the SDK can make the Volume's source a secret.
  await project.ok(["config", "set", "--secret", "sourceUrl", `${server.base.replace("http://", `http://alice:${PASSWORD}@`)}/served.qcow2`]);
});

afterAll(async () => {
  await project?.run(["destroy", "--yes"]);
  project?.remove();
  await server?.close();
  virshTry(QEMU_URI, "vol-delete", "--pool", pool, volume);
  removePool(QEMU_URI, pool);
  rmSync(poolPath, { recursive: true, force: true });
  src.remove();
});

describe("a Volume from a URL with credentials, with the pulumi CLI", () => {
  it("pulumi up downloads it; the password is in no output and only encrypted in the state", async () => {
    const r = await project.ok(["up", "--yes"]);
    expect(r.output).not.toContain(PASSWORD);
    expect(volumeNames(QEMU_URI, pool)).toContain(volume);
    const path = join(poolPath, volume);
    expect(execFileSync("qemu-img", ["compare", "-U", "-f", "qcow2", "-F", "qcow2", image, path], { encoding: "utf8" })).toMatch(/identical/);
    expect(server.requests.every((q) => q.authorization === `Basic ${Buffer.from(`alice:${PASSWORD}`).toString("base64")}`)).toBe(true);

    const state = await project.exportState();
    expect(state.text).not.toContain(PASSWORD);
    const vol = state.resources.find((res) => res.urn.endsWith("::image"))!;
    const secret = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", ciphertext: expect.any(String) };
    expect(vol.inputs?.source).toEqual(secret);
    expect(vol.outputs?.source).toEqual(secret);
    expect(vol.outputs?.sourceSha256).toBe(sha256(readFileSync(image)));
  });

  it("refresh and a second preview fetch nothing and show no change, even with the server gone", async () => {
    const fetched = server.requests.length;
    await project.ok(["refresh", "--yes", "--expect-no-changes"]);
    await server.close();
    const r = await project.ok(["preview", "--expect-no-changes"]);
    expect(r.output).not.toContain(PASSWORD);
    expect(server.requests.length).toBe(fetched);
    expect(virsh(QEMU_URI, "vol-info", "--pool", pool, volume)).toMatch(/Capacity:\s+8\.00 MiB/);
  });

  it("pulumi destroy removes the volume and the pool", async () => {
    await project.ok(["destroy", "--yes"]);
    expect(virshTry(QEMU_URI, "pool-info", pool).ok).toBe(false);
  });
});
