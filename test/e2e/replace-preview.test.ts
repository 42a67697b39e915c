// Issue 11 item 2 through the real `pulumi` CLI, where the engine's ordering
// matters: replacing a Domain (deleteBeforeReplace) makes Pulumi delete the
// stack's Snapshot of it, with its data, before the Domain's own delete. A
// replacement that the teardown rules would refuse is refused at preview (and in
// `up --skip-preview`, by the engine's own diff) before anything is deleted.
// examples/basic: Pool, Volume, Domain (name from config), Snapshot.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PulumiProject } from "../helpers/pulumi-cli";
import { QEMU_URI, domainNames, domainState, qcow2Snapshots, snapshotNames, uniqueName, virsh } from "../helpers/host";

const prefix = uniqueName("e2e-repl");
let project: PulumiProject;
let domain: string;
let uuid: string;
let disk: string;

const output = async (name: string) => (await project.ok(["stack", "output", name])).stdout.trim();

beforeAll(async () => {
  project = PulumiProject.prepare("basic");
  await project.newStack("repl", { prefix, poolPath: `/var/lib/libvirt/images/${prefix}-pool` });
  await project.ok(["up", "--yes"]);
  domain = await output("domainName");
  uuid = await output("domainUuid");
  disk = await output("diskPath");
});

afterAll(() => project?.destroyAllAndRemove());

/** The domain, its uuid and state, and both views of its snapshots, exactly as before. */
function expectUntouched(snapshots: string[]) {
  expect(domainNames(QEMU_URI)).toContain(domain);
  expect(virsh(QEMU_URI, "domuuid", domain)).toBe(uuid);
  expect(domainState(QEMU_URI, domain)).toBe("running");
  expect(snapshotNames(QEMU_URI, domain).sort()).toEqual([...snapshots].sort());
  expect(qcow2Snapshots(disk).sort()).toEqual([...snapshots].sort());
  expect(domainNames(QEMU_URI)).not.toContain(`${prefix}-renamed`);
}

describe("a Domain replacement the teardown rules would refuse, through the pulumi CLI", () => {
  it("with the stack's Snapshot and a hand-made one: preview, up and up --skip-preview all fail with the refusal; both snapshots stay", async () => {
    virsh(QEMU_URI, "snapshot-create-as", domain, "by-hand");
    await project.ok(["config", "set", "domainName", `${prefix}-renamed`]);
    const refusal = new RegExp(
      `refusing to replace domain "${domain}" \\(nothing was changed on this domain or its snapshots\\): changing \`name\` replaces the domain.*` +
        `2 snapshots \\("before-upgrade", "by-hand"\\).*deleteSnapshotsOnDestroy: true.*revert the change to \`name\``,
      "s",
    );
    for (const args of [["preview"], ["up", "--yes"], ["up", "--yes", "--skip-preview"]]) {
      const r = await project.run(args);
      expect(r.code, args.join(" ")).not.toBe(0);
      expect(r.output, args.join(" ")).toMatch(refusal);
      expect(r.output).not.toMatch(/deleted|replaced/);
      expectUntouched(["before-upgrade", "by-hand"]);
    }
  });

  it("with only the stack's own Snapshot: still refused (its data is what the replacement throws away)", async () => {
    virsh(QEMU_URI, "snapshot-delete", domain, "by-hand");
    const r = await project.run(["up", "--yes", "--skip-preview"]);
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/refusing to replace domain .*changing `name` replaces the domain.*1 snapshot \("before-upgrade"\)/s);
    expectUntouched(["before-upgrade"]);
  });

  it("the opt-in in the same change is said not to apply; an up with only the option, then the change, replaces", async () => {
    await project.ok(["config", "set", "deleteSnapshotsOnDestroy", "true"]);
    const same = await project.run(["preview"]);
    expect(same.code).not.toBe(0);
    expect(same.output).toMatch(/The new deleteSnapshotsOnDestroy: true does not apply to this replacement/);
    expectUntouched(["before-upgrade"]);

    // What the message advises: first the option alone (an in-place update) ...
    await project.ok(["config", "rm", "domainName"]);
    const option = await project.ok(["up", "--yes"]);
    expect(option.output).toMatch(/1 updated/);
    expectUntouched(["before-upgrade"]);
    // ... then the replacing change.
    await project.ok(["config", "set", "domainName", `${prefix}-renamed`]);
    const replaced = await project.ok(["up", "--yes"]);
    expect(replaced.output).toMatch(/replaced/);
    expect(domainNames(QEMU_URI)).not.toContain(domain);
    expect(domainState(QEMU_URI, `${prefix}-renamed`)).toBe("running");
    expect(snapshotNames(QEMU_URI, `${prefix}-renamed`)).toEqual(["before-upgrade"]);
  });
});
