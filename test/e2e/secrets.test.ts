// examples/secrets through the real `pulumi` CLI, over the SASL listener
// (test/helpers/sasl-daemon.ts restarts the system libvirtd with --listen for
// this file, and normally afterwards): every secret the program gives reaches a
// resource (virsh on qemu:///system shows it in libvirt's definitions, or the
// listener refuses without it), and `pulumi stack export` holds none of them in
// clear, anywhere: each output it flows into is a Pulumi secret.
import { rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PulumiProject } from "../helpers/pulumi-cli";
import { QEMU_URI, domainNames, hasKvm, removeDomain, removePool, snapshotNames, uniqueName, virsh, virshTry } from "../helpers/host";
import { startSaslDaemon, type SaslDaemon } from "../helpers/sasl-daemon";

const prefix = uniqueName("e2e-secrets");
const mark = (label: string) => `${label}-${randomBytes(6).toString("hex")}`;
/** The secret config values; each one is looked for in clear in the exported state. */
const secrets = {
  // QEMU takes at most 8 characters.
  vncPassword: randomBytes(4).toString("hex"),
  description: mark("domain-description"),
  cmdline: mark("console=ttyS0 secret"),
  snapshotDescription: mark("snapshot-description"),
  snapshotXmlDescription: mark("raw-snapshot-description"),
  poolName: `${prefix}-${mark("pool")}`,
};
/** Pulumi's marker for a secret value in an exported state. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const poolPath = `/var/lib/libvirt/images/${prefix}-pool`;
let d: SaslDaemon;
let project: PulumiProject;

beforeAll(async () => {
  d = startSaslDaemon();
  project = PulumiProject.prepare("secrets");
  await project.newStack("secrets", { prefix, poolPath, uri: d.uri, authUser: d.username, domainType: hasKvm() ? "kvm" : "qemu" });
  await project.ok(["config", "set", "--secret", "authPassword", d.password]);
  for (const [key, value] of Object.entries(secrets)) await project.ok(["config", "set", "--secret", key, value]);
});

afterAll(async () => {
  try {
    await project?.destroyAllAndRemove();
  } finally {
    // Independent of Pulumi: whatever a failed test left.
    for (const name of [`${prefix}-typed`, `${prefix}-raw`]) removeDomain(QEMU_URI, name);
    removePool(QEMU_URI, secrets.poolName);
    // A pool made over a remote URI keeps its directory (the provider cannot look at it from there).
    rmSync(poolPath, { recursive: true, force: true });
    d?.restore();
  }
});

const all = () => ({ ...secrets, authPassword: d.password });

function expectNoSecret(text: string): void {
  for (const [key, value] of Object.entries(all())) expect(text, `${key} in clear`).not.toContain(value);
}

/** Where each secret is in clear in an exported state: "<resource>.<inputs|outputs|id>.<key>: <secret>". */
function leaks(text: string): string[] {
  const found: string[] = [];
  for (const r of JSON.parse(text).deployment.resources ?? []) {
    const name = String(r.urn).split("::").at(-1);
    const parts: Array<[string, Record<string, unknown>]> = [
      ["inputs", r.inputs ?? {}],
      ["outputs", r.outputs ?? {}],
      ["id", { id: r.id }],
    ];
    for (const [part, values] of parts) {
      for (const [key, v] of Object.entries(values)) {
        for (const [secret, value] of Object.entries(all()))
          if (JSON.stringify(v ?? null).includes(value)) found.push(`${name}.${part}.${key}: ${secret}`);
      }
    }
  }
  return found.sort();
}

type Res = { type: string; urn: string; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> };
const isSecret = (v: unknown) => typeof v === "object" && v !== null && (v as Record<string, unknown>)[SECRET_SIG] !== undefined;
const byName = (resources: Res[], name: string) => resources.find((r) => r.urn.endsWith(`::${name}`))!;

describe("examples/secrets over a SASL listener with the pulumi CLI", () => {
  it("pulumi up: every secret reaches its resource (virsh on qemu:///system shows it; the listener wants the password)", async () => {
    const r = await project.ok(["up", "--yes"]);
    expectNoSecret(r.output);
    const typed = `${prefix}-typed`;
    const raw = `${prefix}-raw`;
    expect(domainNames(QEMU_URI)).toEqual(expect.arrayContaining([typed, raw]));
    const typedXml = virsh(QEMU_URI, "dumpxml", "--inactive", typed);
    expect(typedXml).toContain(`<description>${secrets.description}</description>`);
    expect(typedXml).toContain(`<cmdline>${secrets.cmdline}</cmdline>`);
    // libvirt shows a VNC password only with --security-info.
    expect(virsh(QEMU_URI, "dumpxml", "--inactive", "--security-info", raw)).toContain(`passwd='${secrets.vncPassword}'`);
    expect(typedXml).toContain(`pool='${secrets.poolName}'`);
    expect(snapshotNames(QEMU_URI, typed)).toEqual(["typed-snapshot"]);
    expect(virsh(QEMU_URI, "snapshot-dumpxml", typed, "typed-snapshot")).toContain(`<description>${secrets.snapshotDescription}</description>`);
    // The typed snapshot's XML embeds the domain's definition, description and command line included.
    expect(virsh(QEMU_URI, "snapshot-dumpxml", typed, "typed-snapshot")).toContain(secrets.cmdline);
    expect(virsh(QEMU_URI, "snapshot-dumpxml", raw, "raw-snapshot")).toContain(`<description>${secrets.snapshotXmlDescription}</description>`);
    expect(virsh(QEMU_URI, "vol-list", secrets.poolName)).toContain(`${prefix}-typed.qcow2`);
    // Everything was made over the SASL listener, which refuses a client without the password.
    const none = virshTry(d.uri, "version");
    expect(none.ok).toBe(false);
    expect(none.out).toMatch(/authentication/i);
  });

  it("pulumi stack export holds none of them in clear, and every output they flow into is a secret", async () => {
    const { text, resources } = await project.exportState();
    expect(leaks(text)).toEqual([]);
    expectNoSecret(text);
    const ours = resources.filter((r) => r.type.includes("libvirt-pulumi")) as Res[];
    expect(ours).toHaveLength(7);
    const secretOutputs: Record<string, string[]> = {
      typed: ["auth", "cmdline", "description", "disks", "xml"],
      raw: ["auth", "inputXml", "xml", "type"],
      "typed-snapshot": ["auth", "description", "xml"],
      "raw-snapshot": ["auth", "inputXml", "xml"],
      pool: ["auth", "name"],
      "typed-disk": ["auth", "pool"],
      "raw-disk": ["auth", "pool"],
    };
    for (const [name, keys] of Object.entries(secretOutputs)) {
      const r = byName(ours, name);
      for (const key of keys) expect(isSecret(r.outputs?.[key]), `${name}.outputs.${key} is a secret`).toBe(true);
    }
    // The control: the ciphertext does hold each value (so the search above looked at the right state).
    const shown = (await project.ok(["stack", "export", "--show-secrets"])).stdout;
    for (const [key, value] of Object.entries(all())) expect(shown, key).toContain(value);
  });

  it("a second preview reports no changes, and shows no secret", async () => {
    const r = await project.run(["preview", "--expect-no-changes"]);
    expect(r.code, r.output).toBe(0);
    expectNoSecret(r.output);
  });

  it("pulumi refresh keeps them secret (the outputs read back from libvirt)", async () => {
    const r = await project.ok(["refresh", "--yes"]);
    expectNoSecret(r.output);
    const { text } = await project.exportState();
    expect(leaks(text)).toEqual([]);
    expectNoSecret(text);
  });

  it("pulumi destroy removes everything", async () => {
    const r = await project.ok(["destroy", "--yes"]);
    expectNoSecret(r.output);
    expect(domainNames(QEMU_URI)).not.toContain(`${prefix}-typed`);
    expect(virshTry(QEMU_URI, "pool-info", secrets.poolName).ok).toBe(false);
  });
});
