// CloudInitDisk on qemu:///system, in a pool of a fresh directory: the provider
// acts; virsh (vol-list, vol-dumpxml, vol-download) and isoinfo say
// independently what is in the pool. No guest is started: the domain that holds
// the seed as a cdrom is only defined.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { afterAll, describe, expect, it } from "vitest";
import { provider, sdkPath } from "../helpers/lib";
import { createDomain, defineDomainByHand } from "../helpers/domains";
import { failing } from "../helpers/failure";
import { QEMU_URI, makeImageDir, removeDomain, removePool, uniqueName, virsh, volumeNames } from "../helpers/host";

const { poolProvider, cloudInitDiskProvider: cp } = provider;
const requireFromSdk = createRequire(sdkPath);
const { CLOUD_INIT_DISK_SECRET_FLOWS } = requireFromSdk("./generated/cloudinitdisk") as typeof import("../../sdk/generated/cloudinitdisk");

const pools = new Set<string>();
const domains = new Set<string>();
const dirs: Array<{ remove(): void }> = [];
const scratch = mkdtempSync(join(tmpdir(), "lvp-ci-it-"));

afterAll(async () => {
  await provider.closeAllConnections();
  for (const d of domains) removeDomain(QEMU_URI, d);
  for (const p of pools) removePool(QEMU_URI, p);
  for (const d of dirs) d.remove();
  rmSync(scratch, { recursive: true, force: true });
});

const marker = (label: string) => `mk${label}${Math.random().toString(36).slice(2, 10)}`;
const holding = (outs: Record<string, unknown>, m: string) =>
  Object.keys(outs)
    .filter((k) => JSON.stringify(outs[k]).includes(m))
    .sort();

async function makePool(label: string) {
  const dir = makeImageDir(label);
  dirs.push(dir);
  const name = uniqueName(label);
  pools.add(name);
  const pc = await poolProvider.check!({}, { name, path: dir.dir, uri: QEMU_URI });
  await poolProvider.create!(pc.inputs);
  return name;
}

async function makeSeed(pool: string, inputs: Record<string, unknown>) {
  const c = await cp.check!({}, { pool, name: "seed.iso", uri: QEMU_URI, ...inputs });
  expect(c.failures).toEqual([]);
  const { id, outs } = await cp.create!(c.inputs);
  return { id: id!, outs: outs as Record<string, any>, inputs: c.inputs };
}

/** The volume's bytes through libvirt (vol-download), then read with isoinfo. */
function downloaded(pool: string, name: string) {
  const file = join(scratch, `${uniqueName("dl")}.iso`);
  virsh(QEMU_URI, "vol-download", "--pool", pool, name, file);
  const iso = (...args: string[]) => execFileSync("isoinfo", [...args, "-i", file], { encoding: "utf8" });
  return { iso, file };
}

const cdromDomain = (path: string) =>
  defineDomainByHand(
    "ci-user",
    {
      devices: `<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='${path}'/><target dev='hdc' bus='ide'/><readonly/></disk>`,
    },
    domains,
  );

describe("CloudInitDisk on qemu:///system", () => {
  it("creates a cidata ISO volume whose files read back through vol-download; its flows are what the secret table says", async () => {
    const pool = await makePool("ci-create");
    const m = { user: marker("u"), host: marker("h"), net: marker("n"), vendor: marker("v") };
    const s = await makeSeed(pool, {
      userData: { users: [{ name: "me", passwd: m.user }] },
      metaData: { "local-hostname": m.host },
      networkConfig: { version: 2, ethernets: { [m.net]: { dhcp4: true } } },
      vendorData: `#cloud-config\nruncmd: [${m.vendor}]\n`,
    });
    expect(volumeNames(QEMU_URI, pool)).toEqual(["seed.iso"]);
    const xml = virsh(QEMU_URI, "vol-dumpxml", "--pool", pool, "seed.iso");
    expect(xml).toContain(`<path>${s.outs.path}</path>`);
    expect(xml).toMatch(/<format type='(raw|iso)'\/>/);
    expect(s.id).toBe(s.outs.key);
    expect(s.outs.instanceId).toMatch(/^iid-[0-9a-f]{20}$/);

    const { iso, file } = downloaded(pool, "seed.iso");
    expect(s.outs.size).toBe(Number(execFileSync("stat", ["-c", "%s", file], { encoding: "utf8" })));
    expect(iso("-d")).toMatch(/^Volume id: cidata$/m);
    expect(iso("-R", "-f").trim().split("\n").sort()).toEqual(["/meta-data", "/network-config", "/user-data", "/vendor-data"]);
    expect(iso("-J", "-f").trim().split("\n").sort()).toEqual(["/meta-data", "/network-config", "/user-data", "/vendor-data"]);
    expect(iso("-R", "-x", "/user-data")).toBe(`#cloud-config\nusers:\n  - name: me\n    passwd: ${m.user}\n`);
    expect(iso("-R", "-x", "/meta-data")).toBe(`instance-id: ${s.outs.instanceId}\nlocal-hostname: ${m.host}\n`);
    expect(iso("-R", "-x", "/network-config")).toContain(m.net);

    // Every output a content input's value shows up in is one its flows make secret.
    const observed: Record<string, string[]> = {
      userData: holding(s.outs, m.user),
      metaData: holding(s.outs, m.host),
      networkConfig: holding(s.outs, m.net),
      vendorData: holding(s.outs, m.vendor),
      pool: holding(s.outs, pool),
    };
    for (const [input, outputs] of Object.entries(observed)) for (const o of outputs) expect(CLOUD_INIT_DISK_SECRET_FLOWS[input], input).toContain(o);
    expect(observed.userData).toEqual(["userData"]);

    // A refresh reads the same.
    const read = await cp.read!(s.id, s.outs);
    expect(read.props).toEqual(s.outs);
    expect((await cp.diff!(s.id, s.outs, s.inputs)).changes).toBe(false);
  });

  it("replaces on a change of content (delete first: same name), with a new instance-id; refuses while a domain has it as a cdrom; delete leaves nothing", async () => {
    const pool = await makePool("ci-replace");
    const secret = marker("pw");
    const a = await makeSeed(pool, { userData: `#cloud-config\npassword: ${secret}\n`, metaData: { "local-hostname": "a" } });
    const nextInputs = (
      await cp.check!(a.outs, {
        pool,
        name: "seed.iso",
        uri: QEMU_URI,
        userData: `#cloud-config\npassword: ${secret}-2\n`,
        metaData: { "local-hostname": "a" },
      })
    ).inputs;
    const d = await cp.diff!(a.id, a.outs, nextInputs);
    expect(d).toMatchObject({ changes: true, deleteBeforeReplace: true });
    expect(d.replaces).toContain("userData");

    // A domain (defined, never started) holds the seed as its cdrom: the replacement and the delete are refused.
    const dom = cdromDomain(a.outs.path);
    const refusedDiff = await failing(() => cp.diff!(a.id, a.outs, nextInputs));
    expect(refusedDiff.err.message).toMatch(new RegExp(`refusing to replace volume "seed.iso".*1 domain still uses it as a disk \\("${dom}"\\)`));
    expect(refusedDiff.err.message).not.toContain(secret);
    const refusedDelete = await failing(() => cp.delete!(a.id, a.outs));
    expect(refusedDelete.err.message).toMatch(/refusing to delete volume "seed.iso".*nothing was changed.*still uses it as a disk/);
    expect(refusedDelete.err.message).not.toContain(secret);
    expect(volumeNames(QEMU_URI, pool)).toEqual(["seed.iso"]);
    removeDomain(QEMU_URI, dom);
    domains.delete(dom);

    // The engine's delete-before-replace: the old one goes, the new one is made under the same name.
    await cp.delete!(a.id, a.outs);
    expect(volumeNames(QEMU_URI, pool)).toEqual([]);
    const { id, outs } = await cp.create!(nextInputs);
    const b = outs as Record<string, any>;
    expect(b.instanceId).not.toBe(a.outs.instanceId);
    expect(downloaded(pool, "seed.iso").iso("-R", "-x", "/user-data")).toBe(`#cloud-config\npassword: ${secret}-2\n`);
    expect(downloaded(pool, "seed.iso").iso("-R", "-x", "/meta-data")).toContain(`instance-id: ${b.instanceId}`);

    await cp.delete!(id!, b);
    expect(volumeNames(QEMU_URI, pool)).toEqual([]);
    expect(existsSync(b.path)).toBe(false);
    expect(await cp.read!(id!, b)).toEqual({});
  });

  it("as a Domain's cdrom volume (the SDK's disks: [{ volume: seed }]): the domain's XML names it, and its delete is refused until the domain is gone", async () => {
    const pool = await makePool("ci-domain");
    const s = await makeSeed(pool, { userData: "#cloud-config\n{}\n" });
    // What the SDK's Domain registers for { volume: seed } (test/unit/cloudinit-disk-sdk.test.ts); never started.
    const vm = await createDomain(
      "ci-dom",
      { running: false, disks: [{ volume: { pool, name: "seed.iso" }, format: "raw", device: "cdrom" }] },
      domains,
    );
    const xml = virsh(QEMU_URI, "dumpxml", "--inactive", vm.name);
    expect(xml).toMatch(/<disk type='volume' device='cdrom'>/);
    expect(xml).toContain(`<source pool='${pool}' volume='seed.iso'/>`);
    const refused = await failing(() => cp.delete!(s.id, s.outs));
    expect(refused.err.message).toMatch(new RegExp(`refusing to delete volume "seed.iso".*still uses it as a disk \\("${vm.name}"\\)`));
    expect(volumeNames(QEMU_URI, pool)).toEqual(["seed.iso"]);
    await provider.domainProvider.delete!(vm.id, vm.outs);
    domains.delete(vm.name);
    await cp.delete!(s.id, s.outs);
    expect(volumeNames(QEMU_URI, pool)).toEqual([]);
  });
});
