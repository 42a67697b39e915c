// During a preview, inputs computed from other resources (a Volume's path) reach
// check and diff as Pulumi's unknown sentinel: they are neither rejected nor
// mistaken for the saved values.
import { describe, expect, it } from "vitest";
import { built, provider } from "../helpers/lib";

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const { domainProvider } = provider;
const { checkDomainInputs } = built<typeof import("../../provider/domain/inputs")>("provider/domain/inputs");
const { buildDomainXml } = built<typeof import("../../provider/domain/xml")>("provider/domain/xml");

describe("Domain inputs that are unknown during a preview", () => {
  it("check accepts a disk whose file is not known yet and still rejects known bad inputs", async () => {
    const ok = await domainProvider.check!({}, { name: "web", memoryMiB: 128, disks: [{ file: UNKNOWN }] });
    expect(ok.failures).toEqual([]);
    const bad = await domainProvider.check!({}, { name: "web", memoryMiB: 0, disks: [{ file: UNKNOWN }] });
    expect(bad.failures.map((f: { property: string }) => f.property)).toEqual(["memoryMiB"]);
  });

  it("check keeps the defaults of the known inputs, so a preview does not show them removed", async () => {
    const known = await domainProvider.check!({}, { name: "web", memoryMiB: 128, disks: [{ file: "/var/lib/libvirt/images/a.qcow2" }] });
    const preview = await domainProvider.check!({}, { name: "web", memoryMiB: 128, disks: [{ file: UNKNOWN }] });
    const { disks: _knownDisks, ...knownRest } = known.inputs;
    const { disks, ...previewRest } = preview.inputs;
    expect(previewRest).toEqual(knownRest);
    expect(disks).toEqual([{ file: UNKNOWN }]);
    expect(preview.inputs).toMatchObject({ vcpus: 1, running: true, persistent: true, autostart: false, deleteSnapshotsOnDestroy: false });
    const raw = await domainProvider.check!({}, { name: "web", xml: UNKNOWN });
    expect(raw.inputs.vcpus).toBeUndefined();
    expect(raw.inputs.running).toBe(true);
  });

  it("diff reports the unknown input as a change and the known defaults as unchanged", async () => {
    const checked = await domainProvider.check!(
      {},
      { name: "web", uri: "test:///default", memoryMiB: 64, disks: [{ file: "/var/lib/libvirt/images/a.qcow2" }] },
    );
    const olds = { ...checked.inputs, uuid: "u", state: "running", type: "test" };
    const d = await domainProvider.diff!("u", olds, { name: "web", uri: "test:///default", memoryMiB: 64, disks: UNKNOWN });
    expect(d.changes).toBe(true);
    expect(d.replaces).toEqual([]);
    const unchanged = await domainProvider.diff!("u", olds, {
      name: "web",
      uri: "test:///default",
      memoryMiB: 64,
      disks: [{ file: "/var/lib/libvirt/images/a.qcow2" }],
    });
    expect(unchanged.changes).toBe(false);
  });

  it("an unknown name is a replacement", async () => {
    const checked = await domainProvider.check!({}, { name: "web", uri: "test:///default", memoryMiB: 64 });
    const d = await domainProvider.diff!("u", { ...checked.inputs, uuid: "u" }, { name: UNKNOWN, memoryMiB: 64 });
    expect(d.replaces).toEqual(["name"]);
    expect(d.deleteBeforeReplace).toBe(true);
  });
});

describe("disks from storage volumes", () => {
  it.each([
    [{ name: "v", memoryMiB: 64, disks: [{}] }, "disks[0]"],
    [{ name: "v", memoryMiB: 64, disks: [{ file: "/a.qcow2", volume: { pool: "p", name: "a.qcow2" } }] }, "disks[0]"],
    [{ name: "v", memoryMiB: 64, disks: [{ volume: { pool: "p/q", name: "a" } }] }, "disks[0].volume.pool"],
    [{ name: "v", memoryMiB: 64, disks: [{ volume: { pool: "p", name: "a", extra: 1 } }] }, "disks[0].volume.extra"],
  ])("refuses %j naming %s", async (news, property) => {
    const { failures } = await domainProvider.check!({}, news);
    expect(failures.map((f: { property: string }) => f.property)).toContain(property);
  });

  it("a volume disk becomes <disk type='volume'> with its pool and name, format from the name", async () => {
    const { inputs } = checkDomainInputs({ name: "v", memoryMiB: 64, disks: [{ volume: { pool: "images", name: "web.qcow2" } }] });
    const xml = buildDomainXml(inputs!, { type: "kvm" });
    expect(xml).toMatch(
      /<disk type="volume" device="disk">\s*<driver name="qemu" type="qcow2"\/?>(<\/driver>)?\s*<source pool="images" volume="web.qcow2"/,
    );
  });
});
