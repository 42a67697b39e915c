// Issue 11 item 11 through the real `pulumi` CLI: examples/no-changes uses a
// broad spread of inputs of every resource (values libvirt normalizes among
// them). After `pulumi up`, `pulumi preview --expect-no-changes` passes; after
// `pulumi refresh`, again; `pulumi destroy` then leaves nothing (virsh says).
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PulumiProject } from "../helpers/pulumi-cli";
import { QEMU_URI, domainNames, domainState, snapshotNames, uniqueName, virsh, virshTry } from "../helpers/host";

const prefix = uniqueName("e2e-nochg");
const poolPath = `/var/lib/libvirt/images/${prefix}-pool`;
let project: PulumiProject;

beforeAll(async () => {
  project = PulumiProject.prepare("no-changes");
  await project.newStack("nochg", { prefix, poolPath });
});

afterAll(() => project?.destroyAllAndRemove());

describe("examples/no-changes with the pulumi CLI", () => {
  it("up, then preview --expect-no-changes passes", async () => {
    await project.ok(["up", "--yes"]);
    expect(domainState(QEMU_URI, `${prefix}-vm`)).toBe("running");
    expect(domainState(QEMU_URI, `${prefix}-idle`)).toBe("shut off");
    expect(snapshotNames(QEMU_URI, `${prefix}-vm`)).toHaveLength(1);
    expect(snapshotNames(QEMU_URI, `${prefix}-idle`)).toEqual(["offline"]);
    expect(virsh(QEMU_URI, "dumpxml", `${prefix}-vm`)).toContain("<description>  a description with spaces around it  </description>");
    const r = await project.run(["preview", "--expect-no-changes", "--diff"]);
    expect(r.code, r.output).toBe(0);
  });

  it("refresh, then preview --expect-no-changes passes again; the running VM was never redefined", async () => {
    const before = virsh(QEMU_URI, "dumpxml", "--inactive", `${prefix}-vm`);
    await project.ok(["refresh", "--yes"]);
    const r = await project.run(["preview", "--expect-no-changes", "--diff"]);
    expect(r.code, r.output).toBe(0);
    const up = await project.ok(["up", "--yes"]);
    expect(up.output).not.toMatch(/updated|replaced|created|deleted/);
    expect(virsh(QEMU_URI, "dumpxml", "--inactive", `${prefix}-vm`)).toBe(before);
  });

  it("destroy leaves nothing: no domain, no pool, no pool directory", async () => {
    await project.ok(["destroy", "--yes"]);
    expect(domainNames(QEMU_URI).filter((n) => n.startsWith(prefix))).toEqual([]);
    expect(virshTry(QEMU_URI, "pool-info", `${prefix}-pool`).ok).toBe(false);
    expect(existsSync(poolPath)).toBe(false);
  });
});
