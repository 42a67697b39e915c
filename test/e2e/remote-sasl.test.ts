// examples/basic through the real `pulumi` CLI against a SASL listener
// (qemu+tcp://127.0.0.1:<port>/system, see test/helpers/sasl-daemon.ts), with
// the password given by `pulumi config set --secret`. The state holds it only
// as ciphertext; no CLI output carries it, or a URI with it.
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PulumiProject } from "../helpers/pulumi-cli";
import { QEMU_URI, domainNames, domainState, removeDomain, removePool, snapshotNames, uniqueName, virsh, virshTry } from "../helpers/host";
import { startSaslDaemon, type SaslDaemon } from "../helpers/sasl-daemon";

const prefix = uniqueName("e2e-sasl");
const poolPath = `/var/lib/libvirt/images/${prefix}-pool`;
const WRONG = "e2e-wrong-password-5d1c";
/** Every password this file has used: none may appear in clear. */
const used: string[] = [WRONG];
/** Pulumi's marker for a secret value in an exported state. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
let d: SaslDaemon;
let project: PulumiProject;

beforeAll(async () => {
  d = startSaslDaemon();
  used.push(d.password);
  project = PulumiProject.prepare("basic");
  await project.newStack("sasl", { prefix, poolPath, uri: d.uri, authUser: d.username });
  await project.ok(["config", "set", "--secret", "authPassword", d.password]);
});

afterAll(async () => {
  try {
    await project?.ok(["config", "set", "--secret", "authPassword", d.password]).catch(() => undefined);
    await project?.destroyAllAndRemove();
  } finally {
    // Independent of Pulumi: whatever a failed test left.
    removeDomain(QEMU_URI, `${prefix}-web`);
    removePool(QEMU_URI, `${prefix}-pool`);
    // A pool made over a remote URI keeps its directory (the provider cannot look at it from here).
    rmSync(poolPath, { recursive: true, force: true });
    d?.restore();
  }
});

function expectNoPassword(text: string): void {
  for (const pw of used) expect(text).not.toContain(pw);
  expect(text).not.toMatch(/qemu\+tcp:\/\/[^/\s]*:[^/\s@]*@/);
}

describe("examples/basic over a SASL listener with the pulumi CLI", () => {
  const domain = `${prefix}-web`;

  it("pulumi up with auth from `config set --secret` creates what virsh on qemu:///system then shows", async () => {
    const r = await project.ok(["up", "--yes"]);
    expectNoPassword(r.output);
    expect(domainState(QEMU_URI, domain)).toBe("running");
    expect(snapshotNames(QEMU_URI, domain)).toEqual(["before-upgrade"]);
    expect(virsh(QEMU_URI, "vol-list", `${prefix}-pool`)).toContain(`${prefix}-web.qcow2`);
  });

  it("pulumi stack export holds the password only as ciphertext, in every resource's auth input and output", async () => {
    const { text, resources } = await project.exportState();
    expectNoPassword(text);
    const ours = resources.filter((r) => r.type.includes("libvirt-pulumi"));
    expect(ours.map((r) => r.type.split(":").at(-1)).sort()).toEqual(["Domain", "Pool", "Snapshot", "Volume"]);
    for (const r of ours) {
      for (const where of [r.inputs, r.outputs]) {
        const auth = where?.auth as Record<string, unknown> | undefined;
        expect(auth?.[SECRET_SIG], `${r.type} auth`).toBe("1b47061264138c4ac30d75fd1eb44270");
        expect(typeof auth?.ciphertext, `${r.type} auth`).toBe("string");
      }
      expect(r.outputs?.uri).toBe(d.uri);
    }
    // The control: the ciphertext does hold it (so the search above looked at the right state).
    const shown = await project.ok(["stack", "export", "--show-secrets"]);
    expect(shown.stdout).toContain(d.password);
  });

  it("a second preview reports no changes", async () => {
    const r = await project.run(["preview", "--expect-no-changes"]);
    expect(r.code).toBe(0);
    expectNoPassword(r.output);
  });

  it("a wrong password: pulumi up fails saying authentication failed and what to check, with no password in the output; the state keeps the right one", async () => {
    await project.ok(["config", "set", "--secret", "authPassword", WRONG]);
    const r = await project.run(["up", "--yes", "--skip-preview"]);
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/authentication failed/);
    expect(r.output).toMatch(/check auth\.username and auth\.password/);
    expectNoPassword(r.output);
    expect(domainState(QEMU_URI, domain)).toBe("running");
    // Refresh connects with the saved credentials, which are still the right ones.
    await project.ok(["config", "set", "--secret", "authPassword", d.password]);
    const refreshed = await project.ok(["refresh", "--yes"]);
    expectNoPassword(refreshed.output);
    expectNoPassword((await project.exportState()).text);
  });

  it("a password changed on the hypervisor and in the config: pulumi up records it in place (4 updated, nothing replaced), still only as ciphertext", async () => {
    const uuid = virsh(QEMU_URI, "domuuid", domain);
    d.setPassword(`${d.password}-rotated`);
    used.push(d.password);
    await project.ok(["config", "set", "--secret", "authPassword", d.password]);
    const r = await project.ok(["up", "--yes", "--skip-preview"]);
    expect(r.output).toMatch(/4 updated/);
    expect(r.output).not.toMatch(/replaced/);
    expectNoPassword(r.output);
    expect(virsh(QEMU_URI, "domuuid", domain)).toBe(uuid);
    expectNoPassword((await project.exportState()).text);
    expect((await project.ok(["stack", "export", "--show-secrets"])).stdout).toContain(d.password);
  });

  it("pulumi destroy over the SASL listener removes everything", async () => {
    const r = await project.ok(["destroy", "--yes"]);
    expectNoPassword(r.output);
    expect(domainNames(QEMU_URI)).not.toContain(domain);
    expect(virshTry(QEMU_URI, "pool-info", `${prefix}-pool`).ok).toBe(false);
  });
});
