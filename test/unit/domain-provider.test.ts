// The Domain provider end to end on libvirt's in-process test driver. The test
// driver keeps its state per process, so what the provider did is checked
// through the binding in this same process (withConnection + DomainHandle),
// never through the provider's own outputs alone.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { built, provider } from "../helpers/lib";
import { createDomain } from "../helpers/domains";
import type { DomainOutputs } from "../../provider/domain/provider";

const { domainProvider, withConnection, DomainHandle, closeAllConnections, TeardownRefusedError } = provider;
const teardown = built<typeof import("../../provider/teardown/domain")>("provider/teardown/domain");
type Handle = InstanceType<typeof DomainHandle>;

const URI = "test:///default";
const require = createRequire(import.meta.url);
const providerEntry = require.resolve("libvirt-pulumi/provider");
// The same module instance the provider uses (one path, one require cache entry).
const { SnapshotHandle } = require(join(dirname(providerEntry), "libvirt", "snapshot.js")) as typeof import("../../provider/libvirt/snapshot");

let seq = 0;
const created: string[] = [];
const uniqueName = (label: string) => `unit-${label}-${process.pid}-${++seq}`;

afterEach(async () => {
  vi.restoreAllMocks();
  delete process.env[teardown.DELETE_SNAPSHOTS_ENV];
  // Remove whatever a test left, through the binding, whatever the provider did.
  for (const name of created.splice(0)) {
    await withConnection({ uri: URI }, async (conn) => {
      const dom = await conn.lookupDomain(name);
      if (!dom) return;
      try {
        for (const s of (await dom.listSnapshots()).reverse()) {
          await s.delete(0);
          s.free();
        }
        const persistent = await dom.isPersistent();
        if (await dom.isActive()) await dom.destroy();
        if (persistent) await dom.undefine(0);
      } finally {
        dom.free();
      }
    });
  }
});

afterAll(() => closeAllConnections());

/** Runs fn on the domain as libvirt has it now (null when it does not exist). */
function onDomain<T>(idOrName: string, fn: (dom: Handle | null) => Promise<T>): Promise<T> {
  return withConnection({ uri: URI }, async (conn) => {
    const dom = await conn.lookupDomain(idOrName);
    try {
      return await fn(dom);
    } finally {
      dom?.free();
    }
  });
}

const exists = (idOrName: string) => onDomain(idOrName, async (d) => d !== null);
const isActive = (id: string) => onDomain(id, async (d) => d!.isActive());
const snapshotsOf = (id: string) => onDomain(id, async (d) => d!.snapshotNames());

/** A snapshot taken outside the provider, the way a user with virsh would. */
function takeSnapshot(id: string, name: string): Promise<void> {
  return onDomain(id, async (dom) => {
    const ptr = await dom!.conn.call("snap", "virDomainSnapshotCreateXML", dom!.ptr, `<domainsnapshot><name>${name}</name></domainsnapshot>`, 0);
    new SnapshotHandle(dom!.conn, ptr!, dom!.name()).free();
  });
}

interface Made {
  id: string;
  name: string;
  outs: DomainOutputs;
  /** What the engine passes as `news`: the checked inputs. */
  inputs: Record<string, unknown>;
}

async function makeDomain(label: string, extra: Record<string, unknown> = {}): Promise<Made> {
  const { id, name, outs, inputs } = await createDomain(label, { uri: URI, ...extra }, created, uniqueName(label));
  return { id, name, outs: outs as DomainOutputs, inputs };
}

describe("create", () => {
  it("defines and starts the domain by default; the outputs say what libvirt has", async () => {
    const m = await makeDomain("create");
    expect(m.outs).toMatchObject({
      name: m.name,
      uuid: m.id,
      uri: URI,
      type: "test",
      state: "running",
      running: true,
      persistent: true,
      autostart: false,
      memoryMiB: 64,
      vcpus: 1,
      snapshots: [],
      pendingRestart: false,
      deleteSnapshotsOnDestroy: false,
    });
    await onDomain(m.id, async (dom) => {
      expect(dom).not.toBeNull();
      expect(dom!.name()).toBe(m.name);
      expect(await dom!.isActive()).toBe(true);
      expect(await dom!.isPersistent()).toBe(true);
      expect(await dom!.xml({ inactive: true })).toMatch(/<memory unit='KiB'>65536<\/memory>/);
    });
  });

  it("running: false defines it without starting it", async () => {
    const m = await makeDomain("stopped", { running: false });
    expect(m.outs.state).toBe("shutoff");
    expect(await isActive(m.id)).toBe(false);
  });

  it("persistent: false creates a running transient domain", async () => {
    const m = await makeDomain("transient", { persistent: false });
    expect(m.outs).toMatchObject({ persistent: false, running: true, autostart: false });
    expect(await onDomain(m.id, async (d) => d!.isPersistent())).toBe(false);
  });

  it("autostart: true is set on the domain", async () => {
    const m = await makeDomain("autostart", { autostart: true });
    expect(m.outs.autostart).toBe(true);
    expect(await onDomain(m.id, async (d) => d!.autostart())).toBe(true);
  });

  it("a create whose start fails leaves no domain behind, and says so", async () => {
    // Start the domain just before the provider's own start: libvirt then
    // really refuses that start ("already running"), after the define succeeded.
    const realStart = DomainHandle.prototype.start;
    vi.spyOn(DomainHandle.prototype, "start").mockImplementationOnce(async function (this: Handle) {
      await realStart.call(this);
      return realStart.call(this);
    });
    const name = uniqueName("halfway");
    created.push(name);
    const { inputs } = await domainProvider.check!({}, { name, uri: URI, memoryMiB: 64 });
    await expect(domainProvider.create!(inputs)).rejects.toThrow(/starting domain .* already running .*\(the partly created domain was removed\)/);
    expect(await exists(name)).toBe(false);
  });

  it("a create whose define fails (bad xml for libvirt) leaves nothing and names the operation", async () => {
    const name = uniqueName("badxml");
    created.push(name);
    const { inputs, failures } = await domainProvider.check!({}, { name, uri: URI, xml: "<domain type='nosuchtype'><memory>1024</memory></domain>" });
    expect(failures).toEqual([]);
    await expect(domainProvider.create!(inputs)).rejects.toThrow(new RegExp(`defining domain "${name}" on test:///default`));
    expect(await exists(name)).toBe(false);
  });

  it("a create whose xml names an existing domain (same uuid) refuses and leaves that domain alone", async () => {
    const existing = await makeDomain("existing");
    const xml = `<domain type='test'><name>${existing.name}</name><uuid>${existing.id}</uuid><memory unit='MiB'>32</memory><os><type>hvm</type></os></domain>`;
    const { inputs, failures } = await domainProvider.check!({}, { name: existing.name, uri: URI, xml });
    expect(failures).toEqual([]);
    await expect(domainProvider.create!(inputs)).rejects.toThrow(/exist/);
    // The domain someone else owns is still there, running, with its own definition.
    expect(await exists(existing.id)).toBe(true);
    expect(await isActive(existing.id)).toBe(true);
    expect(await onDomain(existing.id, async (d) => d!.xml({ inactive: true }))).toMatch(/<memory unit='KiB'>65536<\/memory>/);
  });
});

describe("read", () => {
  it("reports the domain as libvirt has it, including changes made outside Pulumi", async () => {
    const m = await makeDomain("read");
    await takeSnapshot(m.id, "by-hand");
    const r = await domainProvider.read!(m.id, m.outs);
    expect(r.id).toBe(m.id);
    expect(r.props).toMatchObject({ name: m.name, uuid: m.id, state: "running", snapshots: ["by-hand"], memoryMiB: 64 });
  });

  it("notices a domain stopped outside Pulumi", async () => {
    const m = await makeDomain("read-stopped");
    await onDomain(m.id, (d) => d!.destroy());
    const r = await domainProvider.read!(m.id, m.outs);
    expect(r.props).toMatchObject({ state: "shutoff", running: false });
  });

  it("returns {} once the domain is gone", async () => {
    const m = await makeDomain("read-gone");
    await onDomain(m.id, async (d) => {
      await d!.destroy();
      await d!.undefine(0);
    });
    expect(await domainProvider.read!(m.id, m.outs)).toEqual({});
  });
});

describe("diff", () => {
  const cases: Array<
    [label: string, change: Record<string, unknown>, expected: { changes: boolean; replaces: string[]; deleteBeforeReplace?: boolean }]
  > = [
    ["nothing changed", {}, { changes: false, replaces: [] }],
    ["uri left unset (what was resolved at creation)", { uri: undefined }, { changes: false, replaces: [] }],
    ["memoryMiB: update in place", { memoryMiB: 128 }, { changes: true, replaces: [] }],
    ["vcpus: update in place", { vcpus: 2 }, { changes: true, replaces: [] }],
    ["running: update in place", { running: false }, { changes: true, replaces: [] }],
    ["deleteSnapshotsOnDestroy: update (stored for delete), no replace", { deleteSnapshotsOnDestroy: true }, { changes: true, replaces: [] }],
    ["deleteManagedSaveOnDestroy: update, no replace", { deleteManagedSaveOnDestroy: true }, { changes: true, replaces: [] }],
    ["keepNvramOnDestroy: update, no replace", { keepNvramOnDestroy: true }, { changes: true, replaces: [] }],
    ["name: replace, deleting the old domain first", { name: "renamed" }, { changes: true, replaces: ["name"], deleteBeforeReplace: true }],
    [
      "uri: replace, deleting the old domain first",
      { uri: "test:///default?other" },
      { changes: true, replaces: ["uri"], deleteBeforeReplace: true },
    ],
    ["firmware: replace, deleting the old domain first", { firmware: "efi" }, { changes: true, replaces: ["firmware"], deleteBeforeReplace: true }],
  ];

  it.each(cases)("%s", async (_label, change, expected) => {
    const m = await makeDomain("diff");
    const news = { ...m.inputs, ...change };
    const d = await domainProvider.diff!(m.id, m.outs, news);
    expect(d.changes).toBe(expected.changes);
    expect(d.replaces ?? []).toEqual(expected.replaces);
    if (expected.deleteBeforeReplace !== undefined) expect(d.deleteBeforeReplace).toBe(expected.deleteBeforeReplace);
  });

  it("keepSnapshotsOnReplace on the test driver, which keeps no images: the replacement is refused saying so, the domain and its snapshot untouched", async () => {
    const m = await makeDomain("diff-keep", { disks: [{ file: "/test-driver/keep.qcow2" }] });
    await takeSnapshot(m.id, "s1");
    const err = await domainProvider.diff!(m.id, m.outs, { ...m.inputs, name: `${m.name}-renamed`, keepSnapshotsOnReplace: true }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(TeardownRefusedError);
    expect(err!.message).toMatch(
      new RegExp(
        `^refusing to replace domain "${m.name}" keeping its snapshot tree .*\\(1\\) libvirt's test driver keeps no disk images, so no snapshot contents stay behind`,
      ),
    );
    expect(await exists(m.id)).toBe(true);
    expect(await snapshotsOf(m.id)).toEqual(["s1"]);
    // Recorded alone, the option is no replacement.
    expect(await domainProvider.diff!(m.id, m.outs, { ...m.inputs, keepSnapshotsOnReplace: true })).toMatchObject({ changes: true, replaces: [] });
  });

  it("a transient domain's machine config change replaces it", async () => {
    const m = await makeDomain("diff-transient", { persistent: false });
    const d = await domainProvider.diff!(m.id, m.outs, { ...m.inputs, memoryMiB: 128 });
    expect(d.replaces).toContain("memoryMiB");
  });
});

describe("update", () => {
  it("memoryMiB on a running domain: redefined, still running, pendingRestart", async () => {
    const m = await makeDomain("update-mem");
    const { outs } = await domainProvider.update!(m.id, m.outs, { ...m.inputs, memoryMiB: 128 });
    expect(outs).toMatchObject({ memoryMiB: 128, state: "running", pendingRestart: true });
    await onDomain(m.id, async (dom) => {
      expect(await dom!.isActive()).toBe(true);
      expect(await dom!.xml({ inactive: true })).toMatch(/<memory unit='KiB'>131072<\/memory>/);
      expect(await dom!.xml()).toMatch(/<memory unit='KiB'>65536<\/memory>/);
    });
    // Pending until the next start; then the diff is clean.
    expect((await domainProvider.diff!(m.id, outs, { ...m.inputs, memoryMiB: 128 })).changes).toBe(false);
  });

  it("running: false stops it (and a restart clears pendingRestart)", async () => {
    const m = await makeDomain("update-stop");
    const first = await domainProvider.update!(m.id, m.outs, { ...m.inputs, memoryMiB: 96 });
    expect(first.outs.pendingRestart).toBe(true);
    const { outs } = await domainProvider.update!(m.id, first.outs, { ...m.inputs, memoryMiB: 96, running: false });
    expect(outs).toMatchObject({ state: "shutoff", running: false, pendingRestart: false });
    expect(await isActive(m.id)).toBe(false);
    const again = await domainProvider.update!(m.id, outs, { ...m.inputs, memoryMiB: 96, running: true });
    expect(again.outs).toMatchObject({ state: "running", pendingRestart: false });
    expect(await isActive(m.id)).toBe(true);
  });

  it("stopping a persistent domain that has snapshots is allowed", async () => {
    const m = await makeDomain("update-stop-snap");
    await takeSnapshot(m.id, "kept");
    const { outs } = await domainProvider.update!(m.id, m.outs, { ...m.inputs, running: false });
    expect(outs).toMatchObject({ state: "shutoff", snapshots: ["kept"] });
    expect(await snapshotsOf(m.id)).toEqual(["kept"]);
  });

  it("persistent: false on a running domain makes it transient; it keeps running, snapshots and all", async () => {
    const m = await makeDomain("to-transient");
    await takeSnapshot(m.id, "meta");
    const { outs } = await domainProvider.update!(m.id, m.outs, { ...m.inputs, persistent: false });
    expect(outs).toMatchObject({ persistent: false, state: "running" });
    await onDomain(m.id, async (dom) => {
      expect(await dom!.isPersistent()).toBe(false);
      expect(await dom!.isActive()).toBe(true);
      expect(await dom!.snapshotNames()).toEqual(["meta"]);
    });
  });

  it("persistent: true on a transient domain defines it with its running configuration", async () => {
    const m = await makeDomain("to-persistent", { persistent: false });
    const { outs } = await domainProvider.update!(m.id, m.outs, { ...m.inputs, persistent: true });
    expect(outs).toMatchObject({ persistent: true, state: "running", uuid: m.id });
    await onDomain(m.id, async (dom) => {
      expect(await dom!.isPersistent()).toBe(true);
      expect(await dom!.isActive()).toBe(true);
    });
  });

  it("autostart changes in place", async () => {
    const m = await makeDomain("autostart");
    const { outs } = await domainProvider.update!(m.id, m.outs, { ...m.inputs, autostart: true });
    expect(outs.autostart).toBe(true);
    expect(await onDomain(m.id, async (dom) => dom!.autostart())).toBe(true);
  });

  it("teardown options are stored in the outputs without touching the domain", async () => {
    const m = await makeDomain("update-opts");
    const { outs } = await domainProvider.update!(m.id, m.outs, { ...m.inputs, deleteSnapshotsOnDestroy: true });
    expect(outs).toMatchObject({ deleteSnapshotsOnDestroy: true, state: "running", pendingRestart: false });
  });
});

describe("delete", () => {
  it("a plain domain is stopped and undefined", async () => {
    const m = await makeDomain("delete");
    await domainProvider.delete!(m.id, m.outs);
    expect(await exists(m.id)).toBe(false);
  });

  it("with a snapshot: refused, the domain keeps running and keeps its snapshot", async () => {
    const m = await makeDomain("delete-refused");
    await takeSnapshot(m.id, "precious");
    const err = await domainProvider.delete!(m.id, m.outs).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TeardownRefusedError);
    expect((err as Error).message).toMatch(
      /refusing to delete domain ".*" \(it is still running and nothing was changed on this domain\).*1 snapshot \("precious"\).*deleteSnapshotsOnDestroy: true.*LIBVIRT_PULUMI_DELETE_SNAPSHOTS_ON_DESTROY=1/,
    );
    expect(await isActive(m.id)).toBe(true);
    expect(await snapshotsOf(m.id)).toEqual(["precious"]);
  });

  it("with a snapshot on an inactive domain: refused too", async () => {
    const m = await makeDomain("delete-refused-off", { running: false });
    await takeSnapshot(m.id, "offline");
    await expect(domainProvider.delete!(m.id, m.outs)).rejects.toThrow(/refusing to delete domain ".*" \(nothing was changed on this domain\)/);
    expect(await snapshotsOf(m.id)).toEqual(["offline"]);
  });

  it("with deleteSnapshotsOnDestroy (stored by an update): the domain and its snapshot metadata go", async () => {
    const m = await makeDomain("delete-cascade");
    await takeSnapshot(m.id, "s1");
    const { outs } = await domainProvider.update!(m.id, m.outs, { ...m.inputs, deleteSnapshotsOnDestroy: true });
    await domainProvider.delete!(m.id, outs);
    expect(await exists(m.id)).toBe(false);
    expect(await exists(m.name)).toBe(false);
  });

  it("with LIBVIRT_PULUMI_DELETE_SNAPSHOTS_ON_DESTROY=1 for this destroy", async () => {
    const m = await makeDomain("delete-env");
    await takeSnapshot(m.id, "s1");
    process.env.LIBVIRT_PULUMI_DELETE_SNAPSHOTS_ON_DESTROY = "1";
    await domainProvider.delete!(m.id, m.outs);
    expect(await exists(m.id)).toBe(false);
  });

  it("with deleteSnapshotDataOnDestroy: each snapshot deleted (children first), then the domain", async () => {
    const m = await makeDomain("delete-data", { deleteSnapshotsOnDestroy: true, deleteSnapshotDataOnDestroy: true });
    await takeSnapshot(m.id, "parent");
    await takeSnapshot(m.id, "child");
    expect(await snapshotsOf(m.id)).toEqual(["parent", "child"]);
    const deleted: string[] = [];
    const realDelete = SnapshotHandle.prototype.delete;
    vi.spyOn(SnapshotHandle.prototype, "delete").mockImplementation(async function (this: InstanceType<typeof SnapshotHandle>, flags: number) {
      deleted.push(this.name());
      return realDelete.call(this, flags);
    });
    await domainProvider.delete!(m.id, m.outs);
    expect(deleted).toEqual(["child", "parent"]);
    expect(await exists(m.id)).toBe(false);
  });

  it("a transient domain with a snapshot: refused, still running", async () => {
    const m = await makeDomain("delete-transient", { persistent: false });
    await takeSnapshot(m.id, "t1");
    await expect(domainProvider.delete!(m.id, m.outs)).rejects.toThrow(/dropped by libvirt when the transient domain stops/);
    expect(await isActive(m.id)).toBe(true);
  });

  it("an already-deleted domain: succeeds, nothing to do", async () => {
    const m = await makeDomain("delete-twice");
    await domainProvider.delete!(m.id, m.outs);
    await expect(domainProvider.delete!(m.id, m.outs)).resolves.toBeUndefined();
    expect(await exists(m.id)).toBe(false);
  });
});

describe("process lifetime", () => {
  it("a program that used the provider exits by itself (nothing keeps the event loop alive)", () => {
    const script = `
      const p = require(${JSON.stringify(providerEntry)});
      (async () => {
        const { inputs } = await p.domainProvider.check({}, { name: "lifetime", memoryMiB: 64, uri: "test:///default" });
        const { id, outs } = await p.domainProvider.create(inputs);
        await p.domainProvider.delete(id, outs);
        console.log("done");
      })();`;
    const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 20_000 });
    expect(r.stdout.trim()).toBe("done");
    expect(r.signal).toBeNull(); // not killed by the timeout
    expect(r.status).toBe(0);
  });
});
