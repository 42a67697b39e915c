// The Snapshot provider on libvirt's in-process test driver (test:///default):
// state lives in this test process only; results are checked through the
// binding's own listing, not through the provider's outputs.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { built, provider } from "../helpers/lib";

const URI = "test:///default";
const { snapshotProvider: sp, domainProvider: dp, withConnection, closeAllConnections, SnapshotOptionError } = provider;

type Outs = Record<string, any>;

async function createChecked(inputs: Record<string, unknown>): Promise<{ id: string; outs: Outs; inputs: Record<string, unknown> }> {
  const { inputs: checked, failures } = await sp.check!({}, { uri: URI, ...inputs });
  expect(failures ?? []).toEqual([]);
  return { ...((await sp.create(checked)) as { id: string; outs: Outs }), inputs: checked };
}

const create = (inputs: Record<string, unknown>): Promise<{ id: string; outs: Outs }> => createChecked(inputs);

/** Pulumi's unknown value, as the engine sends it to a dynamic provider. */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** The domain's snapshots as libvirt lists them: name -> parent. */
async function tree(domain: string): Promise<Map<string, string | null>> {
  return withConnection({ uri: URI }, async (conn) => {
    const dom = (await conn.lookupDomain(domain))!;
    try {
      const snaps = await dom.listSnapshots();
      const out = new Map<string, string | null>();
      for (const s of snaps) {
        out.set(s.name(), await s.parentName());
        s.free();
      }
      return out;
    } finally {
      dom.free();
    }
  });
}

let running: { uuid: string; name: string };
let stopped: { uuid: string; name: string };

beforeAll(async () => {
  for (const [name, run] of [
    ["snap-unit-run", true],
    ["snap-unit-off", false],
  ] as const) {
    const { inputs } = await dp.check!(
      {},
      { name, uri: URI, memoryMiB: 64, disks: [{ file: `/test-driver/${name}.qcow2` }], running: run, deleteSnapshotsOnDestroy: true },
    );
    const { outs } = await dp.create(inputs);
    if (run) running = { uuid: outs.uuid, name };
    else stopped = { uuid: outs.uuid, name };
  }
});

afterAll(async () => {
  for (const d of [running, stopped]) if (d) await dp.delete(d.uuid, { uri: URI, deleteSnapshotsOnDestroy: true } as never);
  await closeAllConnections();
});

describe("Snapshot provider on test:///default", () => {
  it("creates an internal snapshot of a running domain and reports every output", async () => {
    const { id, outs } = await create({ name: "first", domain: running.name, description: "before" });
    expect(id).toBe(`${running.uuid}/first`);
    expect(outs).toMatchObject({
      name: "first",
      domain: running.name,
      domainUuid: running.uuid,
      uri: URI,
      description: "before",
      state: "running",
      kind: "internal",
      isCurrent: true,
      children: [],
      atomic: true,
      deleteDataOnDestroy: true,
    });
    expect(outs.parent).toBeUndefined();
    expect(typeof outs.creationTime).toBe("number");
    expect(outs.xml).toContain("<name>first</name>");
    expect((await tree(running.name)).has("first")).toBe(true);
  });

  it("builds the hierarchy; read refreshes parent, children and isCurrent", async () => {
    const { id: aId, outs: a } = await create({ name: "h-a", domain: running.uuid });
    const { outs: b } = await create({ name: "h-b", domain: running.uuid });
    const { outs: c } = await create({ name: "h-c", domain: running.uuid });
    expect(b.parent).toBe("h-a");
    expect(c.parent).toBe("h-b");
    const t = await tree(running.name);
    expect(t.get("h-b")).toBe("h-a");
    expect(t.get("h-c")).toBe("h-b");
    const refreshed = (await sp.read!(aId, a)) as { id: string; props: Outs };
    expect(refreshed.props).toMatchObject({ children: ["h-b"], isCurrent: false });
  });

  it("its domain and uri unknown (Pulumi's check of a replaced Domain's dependents): replaced, unless the Domain's diff noted it keeps the tree", async () => {
    const note = built<typeof import("../../provider/domain/replace-note")>("provider/domain/replace-note");
    const { id, outs, inputs } = await createChecked({ name: "dependent", domain: running.uuid });
    const unknown = { ...inputs, domain: UNKNOWN, uri: UNKNOWN };
    expect(await sp.diff!(id, outs, unknown)).toMatchObject({ changes: true, replaces: ["domain", "uri"] });
    note.noteKeptReplace({ oldUuid: running.uuid, oldName: running.name, newName: running.name, newUri: URI });
    try {
      expect(await sp.diff!(id, outs, unknown)).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
      // Only what comes from the Domain: a change of its own still counts.
      expect(await sp.diff!(id, outs, { ...unknown, memory: "none" })).toMatchObject({ replaces: ["memory"] });
    } finally {
      note.forgetKeptReplace(running.uuid);
    }
    expect(await sp.diff!(id, outs, unknown)).toMatchObject({ replaces: ["domain", "uri"] });
    await sp.delete!(id, outs);
    expect((await tree(running.name)).has("dependent")).toBe(false);
  });

  it("changes the description in place (redefine), keeping creation time and current snapshot", async () => {
    const { id, outs } = await create({ name: "desc", domain: running.name, description: "one" });
    const { inputs } = await sp.check!(outs, { uri: URI, name: "desc", domain: running.name, description: "two <&>" });
    const d = await sp.diff!(id, outs, inputs);
    expect(d).toMatchObject({ changes: true, replaces: [] });
    const { outs: updated } = (await sp.update!(id, outs, inputs)) as { outs: Outs };
    expect(updated).toMatchObject({ description: "two <&>", creationTime: outs.creationTime, isCurrent: true });
    const xml = await withConnection({ uri: URI }, async (conn) => {
      const dom = (await conn.lookupDomain(running.name))!;
      const snaps = await dom.listSnapshots();
      const s = snaps.find((x) => x.name() === "desc")!;
      const text = await s.xml();
      snaps.forEach((x) => x.free());
      dom.free();
      return text;
    });
    expect(xml).toContain("<description>two &lt;&amp;&gt;</description>");
  });

  it("refuses a disk-only snapshot on the test driver, naming diskOnly", async () => {
    const err = await create({ name: "dk", domain: running.name, diskOnly: true }).catch((e) => e);
    expect(err).toBeInstanceOf(SnapshotOptionError);
    expect(err.option).toBe("diskOnly");
    expect(err.message).toMatch(/diskOnly/);
    expect((await tree(running.name)).has("dk")).toBe(false);
  });

  it("refuses memory state for a shut-off domain before asking libvirt, naming memory", async () => {
    const err = await create({ name: "m", domain: stopped.name, memory: "internal" }).catch((e) => e);
    expect(err).toBeInstanceOf(SnapshotOptionError);
    expect(err.option).toBe("memory");
    expect(err.message).toMatch(/shutoff/);
    expect((await tree(stopped.name)).size).toBe(0);
  });

  it("takes a snapshot of a shut-off domain with libvirt's default", async () => {
    const { outs } = await create({ name: "off", domain: stopped.name });
    expect(outs).toMatchObject({ state: "shutoff", kind: "internal" });
  });

  it("explains an external snapshot libvirt cannot take, naming the option", async () => {
    const err = await create({ name: "ext", domain: stopped.name, disks: [{ target: "vda", snapshot: "external", file: "/tmp/x.qcow2" }] }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(SnapshotOptionError);
    expect(err.option).toBe("diskOnly");
  });

  it("refuses a disk the domain does not have, naming disks[n].target", async () => {
    const err = await create({
      name: "nodisk",
      domain: running.name,
      disks: [
        { target: "vda", snapshot: "internal" },
        { target: "vdz", snapshot: "none" },
      ],
    }).catch((e) => e);
    expect(err).toBeInstanceOf(SnapshotOptionError);
    expect(err.option).toBe("disks[1].target");
    expect(err.message).toMatch(/no disk "vdz"/);
    expect((await tree(running.name)).has("nodisk")).toBe(false);
  });

  it("refuses a name that already exists on the domain", async () => {
    const err = await create({ name: "first", domain: running.name }).catch((e) => e);
    expect(err.option).toBe("name");
    expect(err.message).toMatch(/already has a snapshot named "first"/);
  });

  it("refuses an unknown domain, naming domain", async () => {
    const err = await create({ name: "x", domain: "no-such-domain" }).catch((e) => e);
    expect(err.option).toBe("domain");
  });

  it("deletes only its own snapshot; children are re-parented; a second delete succeeds", async () => {
    const { id: pId, outs: p } = await create({ name: "d-p", domain: running.name });
    await create({ name: "d-c1", domain: running.name });
    const before = await tree(running.name);
    await sp.delete!(pId, p);
    const after = await tree(running.name);
    expect(after.has("d-p")).toBe(false);
    expect(after.get("d-c1")).toBe(before.get("d-p"));
    expect(after.size).toBe(before.size - 1);
    await sp.delete!(pId, p); // already gone: success
  });

  it("reports a snapshot deleted outside Pulumi as gone, and a gone domain's snapshots too", async () => {
    const { id, outs } = await create({ name: "outside", domain: running.name });
    await withConnection({ uri: URI }, async (conn) => {
      const dom = (await conn.lookupDomain(running.name))!;
      const snaps = await dom.listSnapshots();
      await snaps.find((s) => s.name() === "outside")!.delete(0);
      snaps.forEach((s) => s.free());
      dom.free();
    });
    expect(await sp.read!(id, outs)).toEqual({});
    expect(await sp.read!("00000000-0000-0000-0000-000000000000/outside", { ...outs, domainUuid: "00000000-0000-0000-0000-000000000000" })).toEqual(
      {},
    );
    await sp.delete!("00000000-0000-0000-0000-000000000000/outside", outs); // domain gone: success
  });

  it("fails deleteDataOnDestroy: false on a driver without metadata-only delete, naming the option, deleting nothing", async () => {
    const { id, outs } = await create({ name: "keep", domain: running.name, deleteDataOnDestroy: false });
    const err = await sp.delete!(id, outs).catch((e) => e);
    expect(err).toBeInstanceOf(SnapshotOptionError);
    expect(err.option).toBe("deleteDataOnDestroy");
    expect(err.message).toMatch(/Nothing was deleted/);
    expect((await tree(running.name)).has("keep")).toBe(true);
  });

  it("creates and deletes 8 snapshots of one domain concurrently", async () => {
    const names = Array.from({ length: 8 }, (_, i) => `par-${i}`);
    const made = await Promise.all(names.map((name) => create({ name, domain: running.name })));
    const t = await tree(running.name);
    for (const n of names) expect(t.has(n)).toBe(true);
    await Promise.all(made.map(({ id, outs }) => sp.delete!(id, outs)));
    const after = await tree(running.name);
    for (const n of names) expect(after.has(n)).toBe(false);
    expect(after.has("first")).toBe(true);
  });
});
