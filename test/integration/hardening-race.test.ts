// Hardening: a snapshot taken by hand between the Domain delete's teardown
// check and its undefine. The provider pauses right before the undefine in the
// provider this file builds with a beforeUndefine pause (provider/hooks.ts,
// its length set per test); virsh takes the snapshot inside that window. What
// survives is checked with virsh (metadata) and qemu-img (data).
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";
import type { ProviderHooks } from "../../provider";
import { createDomainOnImage } from "../helpers/domains";
import { QEMU_URI, domainNames, domainState, makeImageDir, qcow2Snapshots, removeDomain, snapshotNames, virsh } from "../helpers/host";

/** How long the injected beforeUndefine pause lasts (0: none); a test sets it. */
let pausing = 0;
const hooks: ProviderHooks = {
  pause: async (point) => {
    if (point === "beforeUndefine" && pausing > 0) await new Promise((resolve) => setTimeout(resolve, pausing));
  },
};
const domainProvider = provider.makeDomainProvider(hooks);
/** Where libvirt's QEMU driver keeps snapshot metadata, one directory per domain. */
const SNAPSHOT_METADATA_DIR = "/var/lib/libvirt/qemu/snapshot";
const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let images: ReturnType<typeof makeImageDir>;
const made: string[] = [];

beforeAll(() => {
  images = makeImageDir("race");
});

afterEach(() => {
  pausing = 0;
});

afterAll(async () => {
  await provider.closeAllConnections();
  for (const name of made) {
    removeDomain(QEMU_URI, name);
  }
  images.remove();
});

interface Made {
  id: string;
  outs: Record<string, unknown>;
  name: string;
  disk: string;
}

async function makeDomain(label: string, extra: Record<string, unknown>): Promise<Made> {
  return createDomainOnImage(images, label, extra, made);
}

/** Starts a delete that pauses `pauseMs` before its undefine; the result settles later. */
function pausedDelete(m: Made, props: Record<string, unknown>, pauseMs: number): { started: number; done: Promise<Error | undefined> } {
  pausing = pauseMs;
  const started = Date.now();
  const done = domainProvider.delete!(m.id, props).then(
    () => undefined,
    (err: unknown) => err as Error,
  );
  return { started, done };
}

/** virsh, without blocking the event loop (the provider runs in this process). */
async function virshAsync(...args: string[]): Promise<string> {
  return (await run("virsh", ["-q", "-c", QEMU_URI, ...args], { encoding: "utf8" })).stdout.trim();
}

const exists = (name: string) => domainNames(QEMU_URI).includes(name);

describe("a snapshot taken between the teardown check and the undefine", () => {
  it("A (default options, inactive, no snapshots at the check): libvirt refuses the undefine; domain and snapshot survive; a re-run refuses naming it", async () => {
    const m = await makeDomain("race-a", { running: false });
    expect(snapshotNames(QEMU_URI, m.name)).toEqual([]);

    const del = pausedDelete(m, m.outs, 2000);
    await sleep(500); // the check (a handful of calls on a warm connection) is long over
    await virshAsync("snapshot-create-as", m.name, "race");
    const err = await del.done;

    expect(Date.now() - del.started).toBeGreaterThanOrEqual(2000); // the snapshot landed inside the pause
    expect(err).toBeInstanceOf(Error);
    // libvirt's own refusal (the second line of defence), with what was being done.
    expect(err!.message).toMatch(/undefining domain .* on qemu:\/\/\/system: .*cannot delete inactive domain with 1 snapshots/);
    expect(exists(m.name)).toBe(true);
    expect(domainState(QEMU_URI, m.name)).toBe("shut off");
    expect(snapshotNames(QEMU_URI, m.name)).toEqual(["race"]);
    expect(existsSync(join(SNAPSHOT_METADATA_DIR, m.name, "race.xml"))).toBe(true);
    expect(qcow2Snapshots(m.disk)).toEqual(["race"]);

    // Without the race, our own check sees it and refuses before anything changes.
    pausing = 0;
    await expect(domainProvider.delete!(m.id, m.outs)).rejects.toThrow(
      /refusing to delete domain "[^"]+" \(nothing was changed on this domain\): \(1\) it has 1 snapshot \("race"\).*deleteSnapshotsOnDestroy: true/,
    );
    expect(snapshotNames(QEMU_URI, m.name)).toEqual(["race"]);
    expect(qcow2Snapshots(m.disk)).toEqual(["race"]);

    await domainProvider.delete!(m.id, { ...m.outs, deleteSnapshotsOnDestroy: true });
    expect(exists(m.name)).toBe(false);
  });

  it("B (deleteSnapshotsOnDestroy, one snapshot at the check, a second in the window): refused before the undefine; both snapshots survive; a re-run cascades both", async () => {
    const m = await makeDomain("race-b", { running: false });
    virsh(QEMU_URI, "snapshot-create-as", m.name, "s1");

    const del = pausedDelete(m, { ...m.outs, deleteSnapshotsOnDestroy: true }, 2000);
    await sleep(500);
    await virshAsync("snapshot-create-as", m.name, "s2");
    const err = await del.done;

    expect(Date.now() - del.started).toBeGreaterThanOrEqual(2000);
    // VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA is domain-wide: s2, which the check never saw,
    // would lose its metadata too. The provider lists the snapshots again right before the
    // undefine and refuses, naming s2.
    expect(String(err)).toMatch(/"s2"\) appeared after the teardown check/);
    expect(exists(m.name)).toBe(true);
    expect(snapshotNames(QEMU_URI, m.name).sort()).toEqual(["s1", "s2"]);
    expect(qcow2Snapshots(m.disk).sort()).toEqual(["s1", "s2"]);

    // The re-run sees both and cascades both, keeping their data in the image.
    await domainProvider.delete!(m.id, { ...m.outs, deleteSnapshotsOnDestroy: true });
    expect(exists(m.name)).toBe(false);
    expect(existsSync(join(SNAPSHOT_METADATA_DIR, m.name))).toBe(false);
    expect(qcow2Snapshots(m.disk).sort()).toEqual(["s1", "s2"]);
  });

  it("C (running, deleteSnapshotDataOnDestroy, one snapshot at the check, a second after the stop): libvirt refuses the undefine; the steps before it stay done; a re-run finishes", async () => {
    const m = await makeDomain("race-c", { running: true, deleteSnapshotsOnDestroy: true, deleteSnapshotDataOnDestroy: true });
    expect(domainState(QEMU_URI, m.name)).toBe("running");
    virsh(QEMU_URI, "snapshot-create-as", m.name, "s1");
    expect(qcow2Snapshots(m.disk)).toEqual(["s1"]);

    // Plan at the check: delete s1 with its data, stop the domain, undefine (no metadata flag:
    // the data cascade leaves no snapshot behind). s2 is taken once the domain is stopped.
    const del = pausedDelete(m, m.outs, 2500);
    // The pause starts once the stop is done (virDomainDestroy may wait seconds for QEMU to exit).
    while ((await virshAsync("domstate", m.name)) !== "shut off") {
      if (Date.now() - del.started > 30_000) throw new Error("the domain was not stopped within 30 s");
      await sleep(50);
    }
    await virshAsync("snapshot-create-as", m.name, "s2");
    const err = await del.done;

    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toMatch(/undefining domain .* on qemu:\/\/\/system: .*cannot delete inactive domain with 1 snapshots/);
    // What the check allowed is done (s1 and its data deleted, the VM stopped); s2 is untouched.
    expect(exists(m.name)).toBe(true);
    expect(domainState(QEMU_URI, m.name)).toBe("shut off");
    expect(snapshotNames(QEMU_URI, m.name)).toEqual(["s2"]);
    expect(qcow2Snapshots(m.disk)).toEqual(["s2"]);

    // A re-run (no race) sees s2 and carries out the same options: s2 deleted with its data, domain gone.
    pausing = 0;
    await domainProvider.delete!(m.id, m.outs);
    expect(exists(m.name)).toBe(false);
    expect(qcow2Snapshots(m.disk)).toEqual([]);
  });
});
