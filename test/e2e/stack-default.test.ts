// Issue 14 item 3 through the real `pulumi` CLI: a program whose Pool, Volume and
// Domain give no uri takes the hypervisor from the stack config
// (`libvirt-pulumi:uri`), ahead of LIBVIRT_DEFAULT_URI; the stack's credentials
// stay secret in the state; a later change of the stack default moves nothing
// (no changes, and it is said), and destroy deletes from the hypervisor the
// resources are on.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PulumiProject } from "../helpers/pulumi-cli";
import { QEMU_URI, domainNames, domainState, uniqueName, virsh, virshTry } from "../helpers/host";

const prefix = uniqueName("e2e-stackuri");
const poolPath = `/var/lib/libvirt/images/${prefix}-pool`;
const PASSWORD = "pw-stack-e2e-5b7d";
// Were the stack default ignored, everything would go to the provider process's own in-memory test driver.
const env = { LIBVIRT_DEFAULT_URI: "test:///default" };
let project: PulumiProject;

beforeAll(async () => {
  project = PulumiProject.prepare(join(__dirname, "programs", "stack-default"));
  await project.newStack("stackuri", { prefix, poolPath, "libvirt-pulumi:uri": QEMU_URI, "libvirt-pulumi:username": "nobody" });
  await project.ok(["config", "set", "--secret", "libvirt-pulumi:password", PASSWORD]);
});

afterAll(async () => {
  await project?.run(["config", "set", "libvirt-pulumi:uri", QEMU_URI]);
  await project?.destroyAllAndRemove();
});

describe("the stack's default hypervisor, libvirt-pulumi:uri, with the pulumi CLI", () => {
  it("up puts every resource that gives no uri on it, ahead of LIBVIRT_DEFAULT_URI; the password is a secret in the state", async () => {
    await project.ok(["up", "--yes"], env);
    expect(domainState(QEMU_URI, `${prefix}-vm`)).toBe("shut off");
    expect(virsh(QEMU_URI, "vol-list", `${prefix}-pool`)).toContain(`${prefix}-disk.qcow2`);
    const outs = JSON.parse((await project.ok(["stack", "output", "--json"], env)).stdout);
    expect(outs).toEqual({ domainUri: QEMU_URI, poolUri: QEMU_URI, volumeUri: QEMU_URI });
    const state = await project.exportState();
    expect(state.text.includes(PASSWORD), "the password in plain text in the state").toBe(false);
    // Only the resolved uri is recorded, not the stack default beside it.
    const ours = state.resources.filter((r) => r.type.includes("libvirt-pulumi"));
    expect(ours).toHaveLength(3);
    for (const r of ours) {
      expect(r.inputs?.uri, r.urn).toBe(QEMU_URI);
      expect(r.inputs && "__stackUri" in r.inputs, r.urn).toBe(false);
    }
    const r = await project.run(["preview", "--expect-no-changes", "--diff"], env);
    expect(r.code, r.output).toBe(0);
  });

  it("a changed stack default moves nothing: no changes, and each resource says where it stays and what to do", async () => {
    await project.ok(["config", "set", "libvirt-pulumi:uri", "test:///default"]);
    const r = await project.run(["preview", "--expect-no-changes"], env);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain(`Domain "${prefix}-vm" stays on hypervisor ${QEMU_URI}`);
    expect(r.output).toContain("libvirt-pulumi:uri is now test:///default");
    const up = await project.ok(["up", "--yes"], env);
    expect(up.output).not.toMatch(/\b(updated|replaced|created|deleted)\b/);
    expect(domainState(QEMU_URI, `${prefix}-vm`)).toBe("shut off");
  });

  it("destroy deletes them from the hypervisor they are on (not the new default)", async () => {
    await project.ok(["destroy", "--yes"], env);
    expect(domainNames(QEMU_URI).filter((n) => n.startsWith(prefix))).toEqual([]);
    expect(virshTry(QEMU_URI, "pool-info", `${prefix}-pool`).ok).toBe(false);
  });
});
