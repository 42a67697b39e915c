// The Snapshot provider on the real QEMU driver. The provider acts; virsh and
// qemu-img say independently what exists afterwards.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";
import { createDomainOnImage } from "../helpers/domains";
import { QEMU_URI, domainNames, makeImageDir, qcow2Snapshots, removeDomain, snapshotNames, virsh } from "../helpers/host";

const { snapshotProvider: sp, SnapshotOptionError } = provider;
type Outs = Record<string, any>;

let images: ReturnType<typeof makeImageDir>;
const made: string[] = [];

beforeAll(() => {
  images = makeImageDir("snap");
});

afterAll(async () => {
  await provider.closeAllConnections();
  // Independent of the provider: whatever state a failed test left.
  for (const name of made) {
    removeDomain(QEMU_URI, name);
  }
  images.remove();
});

interface Dom {
  name: string;
  uuid: string;
  disk: string;
}

async function makeDomain(label: string, running = true): Promise<Dom> {
  const { name, outs, disk } = await createDomainOnImage(images, label, { running }, made);
  return { name, uuid: outs.uuid, disk };
}

async function snap(dom: Dom, name: string, extra: Record<string, unknown> = {}): Promise<{ id: string; outs: Outs }> {
  const { inputs, failures } = await sp.check!({}, { name, domain: dom.uuid, uri: QEMU_URI, ...extra });
  expect(failures ?? []).toEqual([]);
  return (await sp.create(inputs)) as { id: string; outs: Outs };
}

const info = (dom: Dom, name: string) =>
  Object.fromEntries(
    virsh(QEMU_URI, "snapshot-info", dom.name, name)
      .split("\n")
      .map((l) => l.split(/:\s+/, 2) as [string, string]),
  );
const tree = (dom: Dom) => virsh(QEMU_URI, "snapshot-list", dom.name, "--tree");
const parentOf = (dom: Dom, name: string) => virsh(QEMU_URI, "snapshot-parent", dom.name, name);
const activeDisk = (dom: Dom) =>
  virsh(QEMU_URI, "domblklist", dom.name)
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .find((c) => c[0] === "vda")?.[1];
const backingOf = (file: string) =>
  JSON.parse(execFileSync("qemu-img", ["info", "-U", "--output=json", file], { encoding: "utf8" }))["backing-filename"];

describe("Snapshot on qemu:///system", () => {
  let run: Dom;
  let off: Dom;

  beforeAll(async () => {
    [run, off] = await Promise.all([makeDomain("snap-run"), makeDomain("snap-off", false)]);
  });

  it("internal snapshot of a running domain: memory and disks in the qcow2 image", async () => {
    const { id, outs } = await snap(run, "live-1", { description: "first" });
    expect(id).toBe(`${run.uuid}/live-1`);
    expect(outs).toMatchObject({ state: "running", kind: "internal", isCurrent: true, domainUuid: run.uuid, uri: QEMU_URI });
    expect(info(run, "live-1")).toMatchObject({ State: "running", Location: "internal", Current: "yes" });
    expect(qcow2Snapshots(run.disk)).toContain("live-1");
  });

  it("internal snapshot of a shut-off domain", async () => {
    const { outs } = await snap(off, "cold-1");
    expect(outs).toMatchObject({ state: "shutoff", kind: "internal" });
    expect(info(off, "cold-1")).toMatchObject({ State: "shutoff", Location: "internal" });
    expect(qcow2Snapshots(off.disk)).toEqual(["cold-1"]);
  });

  it("memory state for the shut-off domain is refused naming memory, nothing made", async () => {
    const err = await snap(off, "cold-mem", { memory: "internal" }).catch((e) => e);
    expect(err).toBeInstanceOf(SnapshotOptionError);
    expect(err.option).toBe("memory");
    expect(snapshotNames(QEMU_URI, off.name)).toEqual(["cold-1"]);
  });

  it("changes the description in place: same snapshot, same creation time, still current", async () => {
    const { id, outs } = await snap(run, "desc-1", { description: "one" });
    const { inputs } = await sp.check!(outs, { name: "desc-1", domain: run.uuid, uri: QEMU_URI, description: "two" });
    expect(await sp.diff!(id, outs, inputs)).toMatchObject({ changes: true, replaces: [] });
    const { outs: updated } = (await sp.update!(id, outs, inputs)) as { outs: Outs };
    expect(updated).toMatchObject({ description: "two", creationTime: outs.creationTime });
    expect(virsh(QEMU_URI, "snapshot-dumpxml", run.name, "desc-1")).toContain("<description>two</description>");
    expect(info(run, "desc-1")).toMatchObject({ Current: "yes" });
    expect(qcow2Snapshots(run.disk)).toContain("desc-1");
  });

  it("refresh after virsh snapshot-delete outside Pulumi: gone", async () => {
    const { id, outs } = await snap(run, "outside-1");
    expect(((await sp.read!(id, outs)) as { props: Outs }).props.name).toBe("outside-1");
    virsh(QEMU_URI, "snapshot-delete", run.name, "outside-1");
    expect(await sp.read!(id, outs)).toEqual({});
    await sp.delete!(id, outs); // already gone: a successful delete
  });

  it("deleteDataOnDestroy: false removes libvirt's metadata and leaves the data in the image", async () => {
    const { id, outs } = await snap(off, "keep-1", { deleteDataOnDestroy: false });
    expect(qcow2Snapshots(off.disk)).toContain("keep-1");
    await sp.delete!(id, outs);
    expect(snapshotNames(QEMU_URI, off.name)).not.toContain("keep-1");
    expect(qcow2Snapshots(off.disk)).toContain("keep-1");
  });

  it("waits for the domain's job lock instead of failing (QEMU stopped while another snapshot holds the job)", async () => {
    const dom = await makeDomain("snap-job");
    const pid = Number(readFileSync(`/run/libvirt/qemu/${dom.name}.pid`, "utf8").trim());
    process.kill(pid, "SIGSTOP");
    let holder: ReturnType<typeof spawn> | undefined;
    try {
      // The holder takes the job, then waits for the stopped QEMU to answer.
      holder = spawn("virsh", ["-q", "-c", QEMU_URI, "snapshot-create-as", dom.name, "holder"], { stdio: "ignore" });
      const holderDone = new Promise<number>((resolve) => holder!.on("exit", (code) => resolve(code ?? -1)));
      await new Promise((r) => setTimeout(r, 1_000));
      const started = Date.now();
      let settled = false;
      const mine = snap(dom, "waiter").finally(() => {
        settled = true;
      });
      // libvirt gives up on the lock after 30 s (VIR_ERR_OPERATION_TIMEOUT); the provider must retry.
      await new Promise((r) => setTimeout(r, 32_000));
      expect(settled).toBe(false);
      process.kill(pid, "SIGCONT");
      const { outs } = await mine;
      expect(Date.now() - started).toBeGreaterThan(30_000);
      expect(outs.name).toBe("waiter");
      expect(await holderDone).toBe(0);
      expect(snapshotNames(QEMU_URI, dom.name).sort()).toEqual(["holder", "waiter"]);
    } finally {
      try {
        process.kill(pid, "SIGCONT");
      } catch {
        // already continued, or QEMU is gone
      }
    }
  }, 90_000);
});

describe("external and disk-only snapshots on qemu:///system", () => {
  it("disk-only external snapshot: the overlay is on disk, backed by the original image, and in use", async () => {
    const dom = await makeDomain("snap-ext");
    const overlay = `${images.dir}/${dom.name}.ext-1.qcow2`;
    const { id, outs } = await snap(dom, "ext-1", { diskOnly: true, disks: [{ target: "vda", snapshot: "external", file: overlay }] });
    expect(outs).toMatchObject({ kind: "disk-only", state: "disk-snapshot", diskOnly: true });
    expect(existsSync(overlay)).toBe(true);
    expect(backingOf(overlay)).toBe(dom.disk);
    expect(activeDisk(dom)).toBe(overlay);
    expect(info(dom, "ext-1")).toMatchObject({ Location: "external" });
    // libvirt 9.0 deletes an external snapshot by committing the overlay back.
    await sp.delete!(id, outs);
    expect(snapshotNames(QEMU_URI, dom.name)).toEqual([]);
    expect(activeDisk(dom)).toBe(dom.disk);
  });

  it("an external snapshot libvirt cannot delete with its data: refused naming deleteDataOnDestroy, nothing deleted", async () => {
    const dom = await makeDomain("snap-mix");
    await snap(dom, "int-1");
    const overlay = `${images.dir}/${dom.name}.ext-2.qcow2`;
    const { id, outs } = await snap(dom, "ext-2", { diskOnly: true, disks: [{ target: "vda", snapshot: "external", file: overlay }] });
    expect(outs.parent).toBe("int-1");
    const err = await sp.delete!(id, outs).catch((e) => e);
    expect(err).toBeInstanceOf(SnapshotOptionError);
    expect(err.option).toBe("deleteDataOnDestroy");
    expect(err.message).toMatch(/internal snapshot as parent/);
    expect(err.message).toMatch(/deleteDataOnDestroy: false/);
    expect(snapshotNames(QEMU_URI, dom.name).sort()).toEqual(["ext-2", "int-1"]);
    // Keeping the data: only the metadata goes, the overlay stays in use.
    await sp.delete!(id, { ...outs, deleteDataOnDestroy: false });
    expect(snapshotNames(QEMU_URI, dom.name)).toEqual(["int-1"]);
    expect(existsSync(overlay)).toBe(true);
    expect(activeDisk(dom)).toBe(overlay);
  });
});

describe("hierarchy and concurrency on qemu:///system", () => {
  it("three levels: parent/children right; deleting the middle one keeps the others and re-parents", async () => {
    const dom = await makeDomain("snap-tree");
    const a = await snap(dom, "a");
    const b = await snap(dom, "b");
    const c = await snap(dom, "c");
    expect(a.outs.parent).toBeUndefined();
    expect(b.outs.parent).toBe("a");
    expect(c.outs.parent).toBe("b");
    const ra = ((await sp.read!(a.id, a.outs)) as { props: Outs }).props;
    const rb = ((await sp.read!(b.id, b.outs)) as { props: Outs }).props;
    expect(ra).toMatchObject({ children: ["b"], isCurrent: false });
    expect(rb).toMatchObject({ parent: "a", children: ["c"], isCurrent: false });
    expect(tree(dom).replace(/\s+/g, " ")).toBe("a | +- b | +- c");

    await sp.delete!(b.id, rb);
    expect(tree(dom).replace(/\s+/g, " ")).toBe("a | +- c");
    expect(parentOf(dom, "c")).toBe("a");
    expect(qcow2Snapshots(dom.disk).sort()).toEqual(["a", "c"]);
    const rc = ((await sp.read!(c.id, c.outs)) as { props: Outs }).props;
    expect(rc).toMatchObject({ parent: "a", isCurrent: true });
  });

  it("8 snapshots of one running domain created at once all exist; deleted at once all go", async () => {
    const dom = await makeDomain("snap-par");
    const names = Array.from({ length: 8 }, (_, i) => `p${i}`);
    const results = await Promise.all(names.map((n) => snap(dom, n)));
    expect(snapshotNames(QEMU_URI, dom.name).sort()).toEqual(names);
    expect(qcow2Snapshots(dom.disk).sort()).toEqual(names);
    // One chain, in whatever order libvirt took them.
    const parents = results.map((r) => r.outs.parent ?? null);
    expect(parents.filter((p) => p === null).length).toBe(1);
    await Promise.all(results.map((r) => sp.delete!(r.id, r.outs)));
    expect(snapshotNames(QEMU_URI, dom.name)).toEqual([]);
    expect(qcow2Snapshots(dom.disk)).toEqual([]);
  });

  it("a snapshot whose domain is gone reads as gone and deletes as done", async () => {
    const dom = await makeDomain("snap-gone", false);
    const { id, outs } = await snap(dom, "orphan", { deleteDataOnDestroy: false });
    virsh(QEMU_URI, "undefine", dom.name, "--snapshots-metadata");
    expect(domainNames(QEMU_URI)).not.toContain(dom.name);
    expect(await sp.read!(id, outs)).toEqual({});
    await sp.delete!(id, outs);
  });
});
