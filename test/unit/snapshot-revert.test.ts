// A Snapshot's revertTrigger and discardStateOnRevert on libvirt's in-process test
// driver (test:///default): check and diff, and the revert's outcome as the
// binding lists it (snapshots, the current one, the domain's state), never only
// through the provider's outputs.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";

const URI = "test:///default";
const { snapshotProvider: sp, domainProvider: dp, withConnection, closeAllConnections, SnapshotOptionError } = provider;
type Outs = Record<string, any>;

async function checked(inputs: Record<string, unknown>, olds: Outs = {}): Promise<Outs> {
  const { inputs: out, failures } = await sp.check!(olds, { uri: URI, ...inputs });
  expect(failures ?? []).toEqual([]);
  return out;
}

async function create(inputs: Record<string, unknown>, p = sp): Promise<{ id: string; outs: Outs }> {
  return (await p.create(await checked(inputs))) as { id: string; outs: Outs };
}

/** What libvirt has: the snapshot names, the current one, the domain's state. */
async function seen(domain: string): Promise<{ names: string[]; current?: string; active: boolean }> {
  return withConnection({ uri: URI }, async (conn) => {
    const dom = (await conn.lookupDomain(domain))!;
    try {
      const snaps = await dom.listSnapshots();
      let current: string | undefined;
      for (const s of snaps) if (await s.isCurrent()) current = s.name();
      const names = snaps.map((s) => s.name()).sort();
      snaps.forEach((s) => s.free());
      return { names, current, active: await dom.isActive() };
    } finally {
      dom.free();
    }
  });
}

async function onDomain(domain: string, fn: (dom: any) => Promise<void>): Promise<void> {
  await withConnection({ uri: URI }, async (conn) => {
    const dom = (await conn.lookupDomain(domain))!;
    try {
      await fn(dom);
    } finally {
      dom.free();
    }
  });
}

const domains: Array<{ uuid: string; name: string }> = [];
async function makeDomain(name: string, running: boolean): Promise<{ uuid: string; name: string }> {
  const { inputs } = await dp.check!(
    {},
    { name, uri: URI, memoryMiB: 64, disks: [{ file: `/test-driver/${name}.qcow2` }], running, deleteSnapshotsOnDestroy: true },
  );
  const { outs } = await dp.create(inputs);
  domains.push({ uuid: outs.uuid, name });
  return { uuid: outs.uuid, name };
}

let run: { uuid: string; name: string };

beforeAll(async () => {
  run = await makeDomain("revert-unit-run", true);
});

afterAll(async () => {
  for (const d of domains) await dp.delete(d.uuid, { uri: URI, deleteSnapshotsOnDestroy: true } as never);
  await closeAllConnections();
});

describe("revertTrigger and discardStateOnRevert: check and diff", () => {
  it("takes any JSON value; null is unset, as for every input; a function is refused, naming revertTrigger", async () => {
    for (const v of ["build-7", 7, true, { build: 7, tags: ["a", null] }]) {
      expect((await checked({ name: "c", domain: run.name, revertTrigger: v })).revertTrigger).toEqual(v);
    }
    expect((await checked({ name: "c", domain: run.name, revertTrigger: null })).revertTrigger).toBeUndefined();
    const { failures } = await sp.check!({}, { uri: URI, name: "c", domain: run.name, revertTrigger: { f: () => 1 } });
    expect(failures?.map((f) => f.property)).toEqual(["revertTrigger"]);
    expect(failures?.[0].reason).toMatch(/must be a JSON value/);
    const bad = await sp.check!({}, { uri: URI, name: "c", domain: run.name, discardStateOnRevert: "yes" });
    expect(bad.failures?.map((f) => f.property)).toEqual(["discardStateOnRevert"]);
  });

  it("creating with a trigger reverts nothing; a changed trigger is an in-place update, an unchanged one no change", async () => {
    const { id, outs } = await create({ name: "d1", domain: run.name, revertTrigger: "1" });
    expect(outs).toMatchObject({ revertTrigger: "1", discardStateOnRevert: false, preRevertSnapshots: [] });
    expect((await seen(run.name)).names).toEqual(["d1"]);
    expect(await sp.diff!(id, outs, await checked({ name: "d1", domain: run.name, revertTrigger: "1" }, outs))).toMatchObject({ changes: false });
    expect(await sp.diff!(id, outs, await checked({ name: "d1", domain: run.name, revertTrigger: "2" }, outs))).toMatchObject({
      changes: true,
      replaces: [],
    });
    expect(
      await sp.diff!(id, outs, await checked({ name: "d1", domain: run.name, revertTrigger: "1", discardStateOnRevert: true }, outs)),
    ).toMatchObject({ changes: true, replaces: [] });
    // An object trigger with its keys in another order is the same trigger.
    const { id: oid, outs: o } = await create({ name: "d2", domain: run.name, revertTrigger: { a: 1, b: [2] } });
    expect(await sp.diff!(oid, o, await checked({ name: "d2", domain: run.name, revertTrigger: { b: [2], a: 1 } }, o))).toMatchObject({
      changes: false,
    });
    await sp.delete!(oid, o);
    await sp.delete!(id, outs);
  });

  it("a state saved before these inputs existed shows no change, and its update reverts nothing", async () => {
    const { id, outs } = await create({ name: "old-state", domain: run.name });
    const { discardStateOnRevert, preRevertSnapshots, ...older } = outs;
    expect([discardStateOnRevert, preRevertSnapshots]).toEqual([false, []]);
    const inputs = await checked({ name: "old-state", domain: run.name }, older);
    expect(await sp.diff!(id, older, inputs)).toMatchObject({ changes: false });
    const before = await seen(run.name);
    const { outs: updated } = (await sp.update!(id, older, await checked({ name: "old-state", domain: run.name, revertTrigger: "x" }, older))) as {
      outs: Outs;
    };
    expect(updated.preRevertSnapshots).toEqual([]);
    expect(await seen(run.name)).toEqual(before);
    await sp.delete!(id, updated);
  });
});

describe("a changed revertTrigger reverts on test:///default", () => {
  it("keeps the state in a pre-revert snapshot, reverts, and reports it; setting or removing the trigger reverts nothing", async () => {
    const { id, outs } = await create({ name: "r1", domain: run.name });
    await create({ name: "later", domain: run.name, description: "taken after r1" });
    expect((await seen(run.name)).current).toBe("later");

    // First set: only recorded.
    const armed = (await sp.update!(id, outs, await checked({ name: "r1", domain: run.name, revertTrigger: "a" }, outs))).outs as Outs;
    expect(armed.preRevertSnapshots).toEqual([]);
    expect((await seen(run.name)).current).toBe("later");

    const t0 = Date.now();
    const reverted = (await sp.update!(id, armed, await checked({ name: "r1", domain: run.name, revertTrigger: "b" }, armed))).outs as Outs;
    const pre = reverted.preRevertSnapshots as string[];
    expect(pre).toHaveLength(1);
    expect(pre[0]).toMatch(/^pre-revert-\d{8}T\d{6}Z$/);
    expect(Math.abs(Date.parse(pre[0].replace(/^pre-revert-(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, "$1-$2-$3T$4:$5:$6Z")) - t0)).toBeLessThan(
      60_000,
    );
    const after = await seen(run.name);
    expect(after.names).toEqual(["later", pre[0], "r1"].sort());
    expect(after.current).toBe("r1");
    expect(after.active).toBe(true);
    expect(reverted).toMatchObject({ revertTrigger: "b", isCurrent: true });
    // The pre-revert snapshot is a child of the one that was current (later), taken with the running guest's memory.
    const preXml = await withConnection({ uri: URI }, async (conn) => {
      const dom = (await conn.lookupDomain(run.name))!;
      const s = (await dom.lookupSnapshot(pre[0]))!;
      const out = { xml: await s.xml(), parent: await s.parentName() };
      s.free();
      dom.free();
      return out;
    });
    expect(preXml.parent).toBe("later");
    expect(preXml.xml).toMatch(/<state>running<\/state>/);
    expect(preXml.xml).toContain("before libvirt-pulumi reverted it to snapshot &quot;r1&quot;");

    // A refresh keeps the list; the same trigger again is no change.
    const refreshed = (await sp.read!(id, reverted)) as { props: Outs };
    expect(refreshed.props.preRevertSnapshots).toEqual(pre);
    expect(await sp.diff!(id, refreshed.props, await checked({ name: "r1", domain: run.name, revertTrigger: "b" }, refreshed.props))).toMatchObject({
      changes: false,
    });

    // Removing the trigger reverts nothing.
    const removed = (await sp.update!(id, reverted, await checked({ name: "r1", domain: run.name }, reverted))).outs as Outs;
    expect(removed.preRevertSnapshots).toEqual(pre);
    expect((await seen(run.name)).names).toHaveLength(3);
  });

  it("discardStateOnRevert: true reverts without an extra snapshot", async () => {
    const { id, outs } = await create({ name: "r2", domain: run.name, revertTrigger: 1, discardStateOnRevert: true });
    await create({ name: "after-r2", domain: run.name });
    const before = await seen(run.name);
    const { outs: o } = (await sp.update!(
      id,
      outs,
      await checked({ name: "r2", domain: run.name, revertTrigger: 2, discardStateOnRevert: true }, outs),
    )) as {
      outs: Outs;
    };
    const after = await seen(run.name);
    expect(after.names).toEqual(before.names);
    expect(after.current).toBe("r2");
    expect(o.preRevertSnapshots).toEqual([]);
  });

  it("refuses to stop a running guest for a snapshot without memory state, changing nothing", async () => {
    const dom = await makeDomain("revert-unit-cold", false);
    const { id, outs } = await create({ name: "cold", domain: dom.name, revertTrigger: "a" });
    expect(outs.state).toBe("shutoff");
    await onDomain(dom.name, (d) => d.start());
    const before = await seen(dom.name);
    const err = await sp.update!(id, outs, await checked({ name: "cold", domain: dom.name, revertTrigger: "b", description: "new" }, outs)).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(SnapshotOptionError);
    expect(err.option).toBe("revertTrigger");
    expect(err.message).toMatch(/refusing to revert domain "revert-unit-cold" to snapshot "cold" \(revertTrigger changed; nothing was changed\)/);
    expect(err.message).toMatch(/Stop the domain first/);
    expect(await seen(dom.name)).toEqual(before);
    expect(before.active).toBe(true);
    // Not even the description changed: the refusal came first.
    const read = (await sp.read!(id, outs)) as { props: Outs };
    expect(read.props.description).toBeUndefined();

    // Stopped, the same update reverts (the domain stays shut off, as the snapshot was).
    await onDomain(dom.name, (d) => d.destroy());
    const { outs: o } = (await sp.update!(id, outs, await checked({ name: "cold", domain: dom.name, revertTrigger: "b" }, outs))) as { outs: Outs };
    expect(o.preRevertSnapshots).toHaveLength(1);
    const after = await seen(dom.name);
    expect(after.active).toBe(false);
    expect(after.current).toBe("cold");
    expect(after.names).toEqual(["cold", o.preRevertSnapshots[0]].sort());
  });

  it("a revert that fails after the pre-revert snapshot names it and records it, with the old trigger so the next up tries again", async () => {
    const { id, outs } = await create({ name: "r3", domain: run.name, revertTrigger: "a" });
    // Inside the window between the pre-revert snapshot and the revert, the target goes away.
    const failing = provider.makeSnapshotProvider({
      pause: async (point) => {
        if (point === "beforeRevert") await onDomain(run.name, async (d) => (await d.lookupSnapshot("r3")).delete(0));
      },
    });
    const err = await failing.update!(id, outs, await checked({ name: "r3", domain: run.name, revertTrigger: "b" }, outs)).catch((e) => e);
    expect(err.name).toBe("NotReadyError");
    const kept = err.properties.preRevertSnapshots as string[];
    expect(kept).toHaveLength(1);
    expect(err.message).toMatch(
      new RegExp(`reverting domain "revert-unit-run" to snapshot "r3" failed \\(revertTrigger changed\\): .*kept in snapshot "${kept[0]}"`),
    );
    expect(err.message).toMatch(/The next `pulumi up` tries the revert again/);
    expect(err.properties.revertTrigger).toBe("a");
    expect((await seen(run.name)).names).toContain(kept[0]);
  });
});
