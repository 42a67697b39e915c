// Issue 11 item 4: the second line of defence for drops of metadata that
// libvirt itself does not refuse. Stopping a transient domain deletes it, and
// libvirt drops its snapshot and checkpoint metadata without asking; an undefine
// with VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA drops every checkpoint's. The
// provider lists again right before those calls. The provider pauses right
// before a destroy in the provider this file builds with a
// beforeDestroy pause (provider/hooks.ts); virsh acts inside that window, as in
// hardening-race.test.ts. virsh and qemu-img say what survived.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";
import type { ProviderHooks } from "../../provider";
import { createDomainOnImage } from "../helpers/domains";
import { QEMU_URI, domainNames, domainState, makeImageDir, qcow2Snapshots, removeDomain, snapshotNames, virsh } from "../helpers/host";

/** How long the injected beforeDestroy pause lasts (0: none); a test sets it. */
let pauseMs = 0;
const hooks: ProviderHooks = {
  pause: async (point) => {
    if (point === "beforeDestroy" && pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
  },
};
const domainProvider = provider.makeDomainProvider(hooks);
const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let images: ReturnType<typeof makeImageDir>;
const made: string[] = [];

beforeAll(() => {
  images = makeImageDir("transient-race");
});

afterEach(() => {
  pauseMs = 0;
});

afterAll(async () => {
  await provider.closeAllConnections();
  for (const name of made) removeDomain(QEMU_URI, name);
  images.remove();
});

async function makeDomain(label: string, extra: Record<string, unknown>) {
  return createDomainOnImage(images, label, extra, made);
}

/** A delete that pauses `pauseMs` right before its destroy; `act` runs inside the window. */
async function deleteWithActInWindow(id: string, props: Record<string, unknown>, act: () => Promise<unknown>) {
  pauseMs = 2000;
  const started = Date.now();
  const done = domainProvider.delete!(id, props).then(
    () => undefined,
    (err: unknown) => err as Error,
  );
  await sleep(500); // the teardown check (a handful of calls on a warm connection) is long over
  const acted = await act().then(
    () => "ok",
    (err: unknown) => String(err),
  );
  const err = await done;
  return { err, acted, elapsed: Date.now() - started };
}

/** virsh, without blocking the event loop (the provider runs in this process). */
async function virshAsync(...args: string[]): Promise<string> {
  return (await run("virsh", ["-q", "-c", QEMU_URI, ...args], { encoding: "utf8" })).stdout.trim();
}

const checkpointNames = (name: string) =>
  virsh(QEMU_URI, "checkpoint-list", name, "--name")
    .split("\n")
    .map((s) => s.trim())
    .filter(Boolean);

describe("something appears between the teardown check and the call that would drop it", () => {
  it("transient domain, a snapshot taken right before its destroy: refused; it keeps running with the snapshot", async () => {
    const m = await makeDomain("tr-snap", { persistent: false });
    const r = await deleteWithActInWindow(m.id, m.outs, () => virshAsync("snapshot-create-as", m.name, "race"));
    expect(r.acted).toBe("ok"); // the snapshot landed inside the window
    expect(r.elapsed).toBeGreaterThanOrEqual(2000);
    expect(r.err?.message).toMatch(
      new RegExp(`^refusing to stop transient domain "${m.name}": a snapshot \\("race"\\) appeared after the teardown check.*still running`),
    );
    expect(domainState(QEMU_URI, m.name)).toBe("running");
    expect(snapshotNames(QEMU_URI, m.name)).toEqual(["race"]);
    expect(qcow2Snapshots(m.disk)).toEqual(["race"]);
    // Without the race, the first check names it.
    await expect(domainProvider.delete!(m.id, m.outs)).rejects.toThrow(
      /refusing to delete domain .*1 snapshot \("race"\).*dropped by libvirt when the transient domain stops/,
    );
  });

  it("transient domain with deleteSnapshotsOnDestroy and one snapshot at the check, a second in the window: refused, both kept", async () => {
    const m = await makeDomain("tr-snap2", { persistent: false });
    virsh(QEMU_URI, "snapshot-create-as", m.name, "s1");
    const r = await deleteWithActInWindow(m.id, { ...m.outs, deleteSnapshotsOnDestroy: true }, () => virshAsync("snapshot-create-as", m.name, "s2"));
    expect(r.acted).toBe("ok");
    expect(r.err?.message).toMatch(/a snapshot \("s2"\) appeared after the teardown check/);
    expect(domainState(QEMU_URI, m.name)).toBe("running");
    expect(snapshotNames(QEMU_URI, m.name).sort()).toEqual(["s1", "s2"]);
    // The re-run includes both.
    await domainProvider.delete!(m.id, { ...m.outs, deleteSnapshotsOnDestroy: true });
    expect(domainNames(QEMU_URI)).not.toContain(m.name);
  });

  it("transient domain, a checkpoint created right before its destroy: refused; it keeps running with the checkpoint", async () => {
    const m = await makeDomain("tr-ckpt", { persistent: false });
    const r = await deleteWithActInWindow(m.id, m.outs, () => virshAsync("checkpoint-create-as", m.name, "race"));
    expect(r.acted).toBe("ok");
    expect(r.err?.message).toMatch(
      /^refusing to stop transient domain ".*": a checkpoint \(1 now, 0 at the check\) appeared after the teardown check/,
    );
    expect(domainState(QEMU_URI, m.name)).toBe("running");
    expect(checkpointNames(m.name)).toEqual(["race"]);
  });

  it("persistent domain with deleteCheckpointsOnDestroy and one checkpoint at the check, a second before the undefine: refused; both kept", async () => {
    const m = await makeDomain("ckpt-undef", {});
    virsh(QEMU_URI, "checkpoint-create-as", m.name, "c1");
    // The window before the destroy (checkpoints need a running domain); the undefine's re-list catches it.
    const r = await deleteWithActInWindow(m.id, { ...m.outs, deleteCheckpointsOnDestroy: true }, () =>
      virshAsync("checkpoint-create-as", m.name, "c2"),
    );
    expect(r.acted).toBe("ok");
    expect(r.err?.message).toMatch(
      new RegExp(
        `^refusing to undefine domain "${m.name}": a checkpoint \\(2 now, 1 at the check\\) appeared after the teardown check, and the metadata cascade`,
      ),
    );
    expect(domainNames(QEMU_URI)).toContain(m.name);
    expect(checkpointNames(m.name).sort()).toEqual(["c1", "c2"]);
    // The re-run sees both and removes their metadata with the domain.
    await domainProvider.delete!(m.id, { ...m.outs, deleteCheckpointsOnDestroy: true });
    expect(domainNames(QEMU_URI)).not.toContain(m.name);
  });
});
