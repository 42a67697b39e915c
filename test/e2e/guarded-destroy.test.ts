// examples/guarded-destroy through the real `pulumi` CLI: opting in with
// `deleteSnapshotsOnDestroy: true` and an `up` lets the destroy through; the
// exported state holds no native handle, no build-machine path and no secret
// (a secret description that the domain really gets: virsh shows it).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PulumiProject, repoRoot } from "../helpers/pulumi-cli";
import { QEMU_URI, domainNames, domainState, snapshotNames, uniqueName, virsh, virshTry } from "../helpers/host";

const prefix = uniqueName("e2e-guard");
const secret = "e2e-secret-value-8f3a";
let project: PulumiProject;

beforeAll(async () => {
  project = PulumiProject.prepare("guarded-destroy");
  await project.newStack("guarded", { prefix, poolPath: `/var/lib/libvirt/images/${prefix}-pool` });
  await project.ok(["config", "set", "--secret", "description", secret]);
});

afterAll(() => project?.destroyAllAndRemove());

describe("examples/guarded-destroy with the pulumi CLI", () => {
  const domain = `${prefix}-vm`;

  it("the exported state holds no native handle, no path of the build machine and no secret", async () => {
    await project.ok(["up", "--yes", "--skip-preview"]);
    const { text, resources } = await project.exportState();
    expect(resources.filter((r) => r.type.includes("libvirt-pulumi")).length).toBe(3);
    expect(text).not.toMatch(/\[External|koffi|napi_|0x[0-9a-f]{8,}/i);
    expect(text).not.toContain(repoRoot);
    expect(text).not.toContain(project.root);
    expect(text).not.toContain(secret);
    expect(text).not.toContain(project.env.PULUMI_CONFIG_PASSPHRASE!);
    // Not vacuous: the domain received the secret (libvirt has it), and the ciphertext holds it.
    expect(virsh(QEMU_URI, "dumpxml", "--inactive", domain)).toContain(`<description>${secret}</description>`);
    expect((await project.ok(["stack", "export", "--show-secrets"])).stdout).toContain(secret);
  });

  it("refused while a foreign snapshot exists; deleteSnapshotsOnDestroy: true and an up let the destroy through", async () => {
    virsh(QEMU_URI, "snapshot-create-as", domain, "by-hand");
    const refused = await project.run(["destroy", "--yes"]);
    expect(refused.code).not.toBe(0);
    expect(refused.output).toMatch(/refusing to delete domain/);
    // Issue 13 item 7: the refusal is reported once, on the Domain, and not again under the Stack (the provider
    // host's stderr echo of it was). Pulumi's non-interactive progress repeats a row's latest diagnostic on
    // each line it prints for the row; the Diagnostics section holds each diagnostic once.
    const text = `refusing to delete domain "${domain}"`;
    const [progress, diagnostics = ""] = refused.output.split("\nDiagnostics:\n");
    const blocks = diagnostics.split(/\n(?= {2}\S)/).filter((b) => b.includes(text));
    expect(
      blocks.map((b) => [b.split("\n")[0], b.split(text).length - 1]),
      refused.output,
    ).toEqual([["  pulumi-nodejs:dynamic/libvirt-pulumi:Domain (vm):", 1]]);
    const progressRows = progress.split("\n").filter((l) => l.includes(text));
    expect(progressRows.length).toBeGreaterThan(0);
    for (const row of progressRows) expect(row).toMatch(/^ - {2}pulumi-nodejs:dynamic\/libvirt-pulumi:Domain vm .*error: refusing/);
    expect(domainState(QEMU_URI, domain)).toBe("running");
    expect(snapshotNames(QEMU_URI, domain)).toEqual(["by-hand"]);

    await project.ok(["config", "set", "deleteSnapshotsOnDestroy", "true"]);
    await project.ok(["config", "set", "deleteVolumeSnapshotData", "true"]);
    const up = await project.ok(["up", "--yes", "--skip-preview"]);
    expect(up.output).not.toMatch(/replaced/);
    expect(domainState(QEMU_URI, domain)).toBe("running");

    await project.ok(["destroy", "--yes"]);
    expect(domainNames(QEMU_URI)).not.toContain(domain);
    expect(virshTry(QEMU_URI, "pool-info", `${prefix}-pool`).ok).toBe(false);
  });
});
