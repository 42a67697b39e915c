// Issue 11 item 2 (storage) through the real `pulumi` CLI: a replacement whose
// delete the teardown rules would refuse is refused in the preview (and in an
// `up` without one), before the engine creates, updates or deletes anything:
// a Volume replaced while a Domain uses it (delete-before-replace and
// create-before-replace), a Pool replaced while it holds a Volume. virsh and
// qemu-img then show everything as it was.
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PulumiProject } from "../helpers/pulumi-cli";
import { QEMU_URI, domainNames, domainState, removeDomain, removePool, uniqueName, virsh, virshTry } from "../helpers/host";

const prefix = uniqueName("e2e-srep");
const poolPath = `/var/lib/libvirt/images/${prefix}-pool`;
const otherPath = `/var/lib/libvirt/images/${prefix}-pool2`;
const disk = `${prefix}-disk.img`;
const pool = `${prefix}-pool`;
const vm = `${prefix}-vm`;
let project: PulumiProject;

beforeAll(async () => {
  project = PulumiProject.prepare(join(__dirname, "programs", "storage-replace"));
  await project.newStack("srep", { prefix, poolPath });
});

afterAll(async () => {
  await project?.run(["config", "rm", "diskFormat"]);
  await project?.run(["config", "rm", "diskName"]);
  await project?.run(["config", "set", "poolPath", poolPath]);
  await project?.destroyAllAndRemove();
  // Whatever the provider did: virsh removes what is left.
  removeDomain(QEMU_URI, vm);
  virshTry(QEMU_URI, "vol-delete", "--pool", pool, disk);
  removePool(QEMU_URI, pool);
  for (const d of [poolPath, otherPath]) rmSync(d, { recursive: true, force: true });
});

const imgFormat = (path: string) =>
  (JSON.parse(execFileSync("qemu-img", ["info", "-U", "--output=json", path], { encoding: "utf8" })) as { format: string }).format;

/** Everything as the first up made it. */
function intact(): void {
  expect(domainNames(QEMU_URI)).toContain(vm);
  expect(domainState(QEMU_URI, vm)).toBe("shut off");
  expect(virsh(QEMU_URI, "domblklist", vm)).toContain(join(poolPath, disk));
  expect(virsh(QEMU_URI, "pool-info", pool)).toMatch(/State:\s+running/);
  expect(virsh(QEMU_URI, "pool-dumpxml", pool)).toContain(`<path>${poolPath}</path>`);
  virsh(QEMU_URI, "pool-refresh", pool);
  expect(virsh(QEMU_URI, "vol-list", pool)).toContain(disk);
  expect(imgFormat(join(poolPath, disk))).toBe("qcow2");
  expect(virshTry(QEMU_URI, "pool-info", `${prefix}-pool2`).ok).toBe(false);
}

describe("storage replacements that the teardown rules would refuse, with the pulumi CLI", () => {
  it("pulumi up creates the pool, the volume and the domain", async () => {
    await project.ok(["up", "--yes"]);
    intact();
  });

  it("a Volume replaced (deleteBeforeReplace: format) while the Domain uses it: refused in the preview and in up; nothing changed", async () => {
    await project.ok(["config", "set", "diskFormat", "raw"]);
    for (const args of [["preview"], ["up", "--yes", "--skip-preview"]]) {
      const r = await project.run(args);
      expect(r.code, r.output).not.toBe(0);
      expect(r.output).toMatch(
        new RegExp(
          `refusing to replace volume "${disk}" in storage pool "${pool}" \\(changed: format; nothing was changed\\).*1 domain still uses it as a disk \\("${vm}"\\)`,
        ),
      );
      intact();
    }
    await project.ok(["config", "rm", "diskFormat"]);
  });

  it("a Volume replaced (create-before-replace: a new name) while the Domain uses it: refused in the preview and in up; nothing changed", async () => {
    await project.ok(["config", "set", "diskName", `${prefix}-disk2.img`]);
    for (const args of [["preview"], ["up", "--yes", "--skip-preview"]]) {
      const r = await project.run(args);
      expect(r.code, r.output).not.toBe(0);
      expect(r.output).toMatch(new RegExp(`refusing to replace volume "${disk}".*changed: name.*1 domain still uses it as a disk \\("${vm}"\\)`));
      intact();
      virsh(QEMU_URI, "pool-refresh", pool);
      expect(virsh(QEMU_URI, "vol-list", pool)).not.toContain(`${prefix}-disk2.img`);
    }
    await project.ok(["config", "rm", "diskName"]);
  });

  it("a Pool replaced (path) while it holds the Volume: refused in the preview and in up; nothing changed", async () => {
    await project.ok(["config", "set", "poolPath", otherPath]);
    for (const args of [["preview"], ["up", "--yes", "--skip-preview"]]) {
      const r = await project.run(args);
      expect(r.code, r.output).not.toBe(0);
      expect(r.output).toMatch(
        new RegExp(`refusing to replace storage pool "${pool}" \\(changed: path; nothing was changed\\).*holds 1 volume \\("${disk}"\\)`),
      );
      intact();
    }
    await project.ok(["config", "set", "poolPath", poolPath]);
  });

  it("with the config as it was, nothing is left to change", async () => {
    const r = await project.run(["preview", "--expect-no-changes"]);
    expect(r.code, r.output).toBe(0);
    intact();
  });
});
