// Hardening: one table of bad inputs across Domain, Snapshot, Pool and Volume,
// each driven through the provider as Pulumi does (check; create only when
// check passes). Every row must fail with an error that names the property
// (check) or the operation and the reason (create), must not take the provider
// down, and must leave the hypervisor exactly as it was: virsh and the pool
// directory are compared before and after each row.
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";
import { createDomain } from "../helpers/domains";
import { QEMU_URI, TEST_PREFIX, makeImageDir, removeDomain, removePool, testRunId, uniqueName, virsh } from "../helpers/host";

const { domainProvider, snapshotProvider, poolProvider, volumeProvider } = provider;
const IMAGES = "/var/lib/libvirt/images";
const UNKNOWN_SCHEME = "lvpbogus:///system";
const UNREACHABLE = "qemu+tcp://127.0.0.1:1/system"; // port 1: connection refused
const KIB4 = "a".repeat(4096);
const MISSING_UUID = "0badf00d-0000-4000-8000-00000000beef";

/** Every name a row may create, so that afterAll can remove what a provider bug left behind. */
const made = new Set<string>();
const n = (label: string): string => {
  const name = uniqueName(label);
  made.add(name);
  return name;
};

const poolName = uniqueName("bad-pool");
const poolDir = join(IMAGES, poolName);
const idlePoolName = uniqueName("bad-idle");
const idlePoolDir = join(IMAGES, idlePoolName);
const domName = uniqueName("bad-dom");
let images: ReturnType<typeof makeImageDir>;
let domUuid = "";
let domOuts: Record<string, unknown> = {};
let aFile = ""; // a regular file where a directory is expected

beforeAll(async () => {
  images = makeImageDir("bad-aux");
  aFile = join(images.dir, "plain-file");
  writeFileSync(aFile, "not a directory\n");
  // The pool and its base volume are made with virsh, independently of the provider.
  virsh(QEMU_URI, "pool-define-as", poolName, "dir", "--target", poolDir);
  virsh(QEMU_URI, "pool-build", poolName);
  virsh(QEMU_URI, "pool-start", poolName);
  chmodSync(poolDir, 0o755);
  virsh(QEMU_URI, "vol-create-as", poolName, "base.qcow2", "16M", "--format", "qcow2");
  // A pool that is defined but not running.
  virsh(QEMU_URI, "pool-define-as", idlePoolName, "dir", "--target", idlePoolDir);
  // A shut-off domain with one snapshot.
  const disk = images.qcow2("dom.qcow2");
  const created = await createDomain(domName, { running: false, disks: [{ file: disk }] }, undefined, domName);
  domUuid = created.id;
  domOuts = created.outs;
  virsh(QEMU_URI, "snapshot-create-as", domName, "pre");
});

afterAll(async () => {
  await provider.closeAllConnections();
  for (const name of [...made, domName]) {
    removeDomain(QEMU_URI, name);
  }
  for (const name of [...made, poolName, idlePoolName]) {
    removePool(QEMU_URI, name);
  }
  for (const dir of [poolDir, idlePoolDir, ...[...made].map((m) => join(IMAGES, m))]) rmSync(dir, { recursive: true, force: true });
  images?.remove();
});

/** Names other runs (and the benchmark) create and remove meanwhile: not ours to compare. */
function foreign(name: string): boolean {
  return name.startsWith("lvp-bench") || (name.startsWith(TEST_PREFIX) && !name.startsWith(`${TEST_PREFIX}${testRunId()}-`));
}

/** What exists, seen by virsh (one process, one connection) and in the pool directory. */
function inventory(): Record<string, string[]> {
  const out = execFileSync(
    "virsh",
    [
      "-q",
      "-c",
      QEMU_URI,
      `pool-refresh ${poolName}; echo @@; list --all --name; echo @@; pool-list --all --name; echo @@; ` +
        `vol-list ${poolName}; echo @@; snapshot-list ${domName} --name`,
    ],
    { encoding: "utf8" },
  );
  const [, domains, pools, vols, snaps] = out.split("@@").map((s) =>
    s
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean),
  );
  return {
    domains: domains.filter((d) => !foreign(d)).sort(),
    pools: pools.filter((p) => !foreign(p)).sort(),
    volumes: vols,
    snapshots: snaps,
    files: readdirSync(poolDir).sort(),
    // The domain's own definition must not change either (a create that "adopted" it would).
    domainUuid: [virsh(QEMU_URI, "domuuid", domName)],
  };
}

type Kind = "Domain" | "Snapshot" | "Pool" | "Volume";
type Expect =
  /** check fails with a failure for this property. */
  | { property: string; reason?: RegExp }
  /** create fails with "<operation> ...: <reason>" (libvirt's reason, or ours, after what was being done). */
  | { operation: RegExp; reason: RegExp }
  /** create fails with the provider's own refusal, which names the input to change. */
  | { own: RegExp; names: string };
interface Row {
  kind: Kind;
  label: string;
  news: () => Record<string, unknown>;
  expect: Expect;
  /** Extra checks after the row (a file that must survive, say). */
  after?: () => void;
}

const providers = { Domain: domainProvider, Snapshot: snapshotProvider, Pool: poolProvider, Volume: volumeProvider };

const dom = (extra: Record<string, unknown> = {}) => ({ name: n("d"), uri: QEMU_URI, memoryMiB: 64, running: false, ...extra });
const snap = (extra: Record<string, unknown> = {}) => ({ name: "s-new", domain: domName, uri: QEMU_URI, ...extra });
const pool = (extra: Record<string, unknown> = {}) => {
  const name = n("p");
  return { name, path: join(IMAGES, name), uri: QEMU_URI, ...extra };
};
const vol = (extra: Record<string, unknown> = {}) => ({ name: "new.qcow2", pool: poolName, uri: QEMU_URI, capacity: "16MiB", ...extra });
const domXml = (name: string, body: string) =>
  `<domain type='kvm'><name>${name}</name><memory unit='MiB'>64</memory><os><type>hvm</type></os>${body}</domain>`;

const NAME_RULE = /letters, digits and _ \. \+ : -.*"\/", spaces, quotes and XML characters are not allowed/;
const checkRow = (kind: Kind, label: string, news: () => Record<string, unknown>, property: string, reason?: RegExp): Row => ({
  kind,
  label,
  news,
  expect: { property, reason },
});
const createRow = (kind: Kind, label: string, news: () => Record<string, unknown>, operation: RegExp, reason: RegExp, after?: () => void): Row => ({
  kind,
  label,
  news,
  expect: { operation, reason },
  after,
});
const refusedRow = (kind: Kind, label: string, news: () => Record<string, unknown>, own: RegExp, names: string): Row => ({
  kind,
  label,
  news,
  expect: { own, names },
});

const rows: Row[] = [
  // ---- Domain: rejected by check ----
  checkRow("Domain", "name with /", () => dom({ name: "lvp/etc" }), "name", NAME_RULE),
  checkRow("Domain", "name ..", () => dom({ name: ".." }), "name", NAME_RULE),
  checkRow("Domain", "name ../escape", () => dom({ name: "../escape" }), "name", NAME_RULE),
  checkRow("Domain", "name with a single quote", () => dom({ name: "it's" }), "name", NAME_RULE),
  checkRow("Domain", "name with a double quote", () => dom({ name: 'say"hi' }), "name", NAME_RULE),
  checkRow("Domain", "name with XML metacharacters", () => dom({ name: "x</name><devices/>" }), "name", NAME_RULE),
  checkRow("Domain", "name with &", () => dom({ name: "a&amp;b" }), "name", NAME_RULE),
  checkRow("Domain", "4 KiB name", () => dom({ name: KIB4 }), "name", /at most 200 characters/),
  checkRow("Domain", "name a number", () => dom({ name: 7 }), "name", /must be a string/),
  checkRow("Domain", "memoryMiB a string", () => dom({ memoryMiB: "64" }), "memoryMiB", /number of MiB/),
  checkRow("Domain", "memoryMiB negative", () => dom({ memoryMiB: -64 }), "memoryMiB", /at least 1 MiB/),
  checkRow("Domain", "memoryMiB beyond 16 TiB", () => dom({ memoryMiB: 2 ** 40 }), "memoryMiB", /at most 16 TiB/),
  checkRow("Domain", "vcpus 0", () => dom({ vcpus: 0 }), "vcpus", /at least 1/),
  checkRow("Domain", "vcpus 1.5", () => dom({ vcpus: 1.5 }), "vcpus", /whole number/),
  checkRow("Domain", "unknown type xen", () => dom({ type: "xen" }), "type", /must be one of "kvm", "qemu"/),
  checkRow("Domain", "unknown firmware", () => dom({ firmware: "uefi" }), "firmware", /must be one of "bios", "efi"/),
  checkRow("Domain", "unknown disk bus", () => dom({ disks: [{ file: "/img/a.qcow2", bus: "floppy" }] }), "disks[0].bus", /must be one of/),
  checkRow("Domain", "relative disk file", () => dom({ disks: [{ file: "a.qcow2" }] }), "disks[0].file", /absolute path/),
  checkRow("Domain", "disk file with ..", () => dom({ disks: [{ file: `${IMAGES}/../../../etc/shadow` }] }), "disks[0].file", /"\.\." segments/),
  checkRow(
    "Domain",
    "disk with file and volume",
    () => dom({ disks: [{ file: "/img/a.qcow2", volume: { pool: poolName, name: "base.qcow2" } }] }),
    "disks[0]",
    /exactly one of file/,
  ),
  checkRow(
    "Domain",
    "disk volume pool with /",
    () => dom({ disks: [{ volume: { pool: "../p", name: "v" } }] }),
    "disks[0].volume.pool",
    /pool may use letters/,
  ),
  checkRow(
    "Domain",
    "nic with network and bridge",
    () => dom({ networkInterfaces: [{ network: "default", bridge: "br0" }] }),
    "networkInterfaces[0]",
    /exactly one of network/,
  ),
  checkRow("Domain", "xml together with memoryMiB", () => dom({ xml: domXml("x", "") }), "memoryMiB", /cannot be combined with xml/),
  checkRow("Domain", "xml not well-formed", () => ({ name: "x", uri: QEMU_URI, xml: "<domain><name>x</name>" }), "xml", /not well-formed/),
  checkRow("Domain", "description over 4 KiB", () => dom({ description: `${KIB4}b` }), "description", /at most 4096/),
  checkRow("Domain", "running not a boolean", () => dom({ running: "yes" }), "running", /true or false/),
  checkRow("Domain", "transient and not running", () => dom({ persistent: false, running: false }), "running", /exists only while it runs/),
  checkRow("Domain", "uri with a password", () => dom({ uri: "qemu+tcp://root:hunter2@127.0.0.1/system" }), "uri", /must not embed a password/),
  checkRow("Domain", "uri without a scheme", () => dom({ uri: "system" }), "uri", /libvirt URI/),
  checkRow("Domain", "disks not an array", () => dom({ disks: { file: "/img/a.qcow2" } }), "disks", /array/),
  checkRow("Domain", "unknown property", () => dom({ memroy: 64 }), "memroy", /unknown property/),
  // ---- Domain: passes check, fails in libvirt (nothing may stay defined) ----
  createRow(
    "Domain",
    "a disk file that does not exist (start fails, domain removed)",
    () => dom({ running: true, disks: [{ file: join(IMAGES, n("missing"), "gone.qcow2") }] }),
    /starting domain "lvp-test-[^"]+" on qemu:\/\/\/system/,
    /gone\.qcow2.*No such file or directory.*the partly created domain was removed/,
  ),
  ((name) =>
    createRow(
      "Domain",
      "autostart with a missing disk (removed with its autostart link)",
      () => dom({ name, running: true, autostart: true, disks: [{ file: join(IMAGES, n("missing"), "gone.qcow2") }] }),
      /starting domain "lvp-test-[^"]+"/,
      /No such file or directory.*the partly created domain was removed/,
      () => expect(existsSync(`/etc/libvirt/qemu/autostart/${name}.xml`)).toBe(false),
    ))(n("d-auto")),
  createRow(
    "Domain",
    "a transient domain with a missing disk",
    () => dom({ running: true, persistent: false, disks: [{ file: join(IMAGES, n("missing"), "gone.qcow2") }] }),
    /creating transient domain "lvp-test-[^"]+"/,
    /No such file or directory/,
  ),
  createRow(
    "Domain",
    "a disk volume in a pool that does not exist",
    () => dom({ running: true, disks: [{ volume: { pool: n("nopool"), name: "v.qcow2" } }] }),
    /starting domain "lvp-test-[^"]+"/,
    /Storage pool not found: no storage pool with matching name 'lvp-test-.*the partly created domain was removed/,
  ),
  createRow(
    "Domain",
    "a disk volume that does not exist",
    () => dom({ running: true, disks: [{ volume: { pool: poolName, name: "nope.qcow2" } }] }),
    /starting domain "lvp-test-[^"]+"/,
    /Storage volume not found: no storage vol with matching name 'nope\.qcow2'.*the partly created domain was removed/,
  ),
  createRow(
    "Domain",
    "a network that does not exist",
    () => dom({ running: true, networkInterfaces: [{ network: n("nonet") }] }),
    /starting domain "lvp-test-[^"]+"/,
    /Network not found: no network with matching name 'lvp-test-.*the partly created domain was removed/,
  ),
  // libvirt 9.0's reason for an unknown machine is "XML error: No PCI buses available" (it does not name the machine).
  createRow(
    "Domain",
    "an unknown machine type",
    () => dom({ machine: "lvp-no-such-machine" }),
    /defining domain "lvp-test-[^"]+" on qemu:\/\/\/system/,
    /XML error/,
  ),
  refusedRow(
    "Domain",
    "an architecture the host has no guest for",
    () => dom({ arch: "lvp_arch" }),
    /the hypervisor at qemu:\/\/\/system offers no guest type for architecture "lvp_arch"; set arch/,
    "arch",
  ),
  createRow(
    "Domain",
    "raw xml that fails libvirt's schema",
    () => {
      const name = n("d");
      return { name, uri: QEMU_URI, running: false, xml: domXml(name, "<devices><bogus/></devices>") };
    },
    /defining domain "lvp-test-[^"]+"/,
    /XML document failed to validate against schema/,
  ),
  createRow(
    "Domain",
    "the name of an existing domain",
    () => dom({ name: domName }),
    /creating domain "lvp-test-[^"]+" on qemu:\/\/\/system/,
    /already exists there/,
  ),
  createRow(
    "Domain",
    "raw xml carrying an existing domain's UUID",
    () => {
      const name = n("d");
      return { name, uri: QEMU_URI, running: false, xml: domXml(name, "").replace("</name>", `</name><uuid>${domUuid}</uuid>`) };
    },
    /creating domain "lvp-test-[^"]+"/,
    /already exists there/,
  ),
  createRow(
    "Domain",
    "a uri with an unknown scheme",
    () => dom({ uri: UNKNOWN_SCHEME }),
    /connecting to lvpbogus:\/\/\/system/,
    /no connection driver available/,
  ),
  createRow(
    "Domain",
    "an unreachable host",
    () => dom({ uri: UNREACHABLE }),
    /connecting to qemu\+tcp:\/\/127\.0\.0\.1:1\/system/,
    /Connection refused.*libvirtd -d/,
  ),

  // ---- Snapshot: rejected by check ----
  checkRow("Snapshot", "name with /", () => snap({ name: "a/b" }), "name", NAME_RULE),
  checkRow("Snapshot", "name ..", () => snap({ name: ".." }), "name", NAME_RULE),
  checkRow("Snapshot", "name with a quote", () => snap({ name: "it's" }), "name", NAME_RULE),
  checkRow("Snapshot", "name with XML metacharacters", () => snap({ name: "<snap>" }), "name", NAME_RULE),
  checkRow("Snapshot", "4 KiB name", () => snap({ name: KIB4 }), "name", /at most 200/),
  checkRow("Snapshot", "no domain", () => snap({ domain: undefined }), "domain", /is required/),
  checkRow("Snapshot", "domain with a newline", () => snap({ domain: "web\nrm" }), "domain", /control characters/),
  checkRow("Snapshot", "domain over 1 KiB", () => snap({ domain: KIB4 }), "domain", /at most 1024/),
  checkRow("Snapshot", "unknown memory mode", () => snap({ memory: "disk" }), "memory", /must be one of "internal", "external", "none"/),
  checkRow(
    "Snapshot",
    "memory internal with diskOnly",
    () => snap({ memory: "internal", diskOnly: true }),
    "memory",
    /disk-only snapshot never does/,
  ),
  checkRow(
    "Snapshot",
    "memoryFile without external memory",
    () => snap({ memoryFile: "/tmp/mem" }),
    "memoryFile",
    /only applies with memory: "external"/,
  ),
  checkRow(
    "Snapshot",
    "external disk without file",
    () => snap({ diskOnly: true, disks: [{ target: "vda", snapshot: "external" }] }),
    "disks[0].file",
    /is required/,
  ),
  checkRow(
    "Snapshot",
    "disk target with ..",
    () => snap({ disks: [{ target: "../vda", snapshot: "internal" }] }),
    "disks[0].target",
    /guest device name/,
  ),
  checkRow(
    "Snapshot",
    "xml together with description",
    () => snap({ xml: "<domainsnapshot/>", description: "x" }),
    "description",
    /cannot be combined with xml/,
  ),
  checkRow("Snapshot", "description over 4 KiB", () => snap({ description: `${KIB4}b` }), "description", /at most 4096/),
  checkRow("Snapshot", "live without external memory", () => snap({ live: true }), "live", /needs memory: "external"/),
  checkRow("Snapshot", "atomic as a string", () => snap({ atomic: "true" }), "atomic", /true or false/),
  checkRow("Snapshot", "unknown option", () => snap({ children: true }), "children", /unknown property/),
  // ---- Snapshot: passes check, fails on the hypervisor ----
  createRow(
    "Snapshot",
    "a domain name that does not exist",
    () => snap({ domain: n("nodom") }),
    /cannot take snapshot "s-new"/,
    /there is no domain "lvp-test-[^"]+" on qemu:\/\/\/system/,
  ),
  createRow(
    "Snapshot",
    "a domain UUID that does not exist",
    () => snap({ domain: MISSING_UUID }),
    /cannot take snapshot "s-new"/,
    /there is no domain "0badf00d/,
  ),
  refusedRow(
    "Snapshot",
    "a name the domain already has",
    () => snap({ name: "pre" }),
    /domain "lvp-test-[^"]+" already has a snapshot named "pre" .*choose another name/,
    "name",
  ),
  createRow(
    "Snapshot",
    "memory state of a shut-off domain",
    () => snap({ memory: "internal" }),
    /cannot take snapshot "s-new" with memory: "internal"/,
    /is shutoff, so there is no memory state/,
  ),
  createRow(
    "Snapshot",
    "a disk target the domain does not have",
    () => snap({ disks: [{ target: "vdz", snapshot: "internal" }] }),
    /cannot take snapshot "s-new"/,
    /has no disk "vdz".*fix disks\[0\]\.target/,
  ),
  createRow(
    "Snapshot",
    "an external overlay in a directory that does not exist",
    () => snap({ diskOnly: true, disks: [{ target: "vda", snapshot: "external", file: join(IMAGES, n("nodir"), "ov.qcow2") }] }),
    /creating snapshot "s-new" of domain "lvp-test-[^"]+" on qemu:\/\/\/system/,
    /qemu-img.*Could not create .*ov\.qcow2.*No such file or directory/,
  ),
  refusedRow(
    "Snapshot",
    "raw xml that fails libvirt's schema",
    () => snap({ xml: "<domainsnapshot><bogus/></domainsnapshot>" }),
    /libvirt cannot take snapshot "s-new" of domain "lvp-test-[^"]+" \(shutoff\) as configured: XML document failed to validate against schema/,
    "xml",
  ),
  createRow(
    "Snapshot",
    "a uri with an unknown scheme",
    () => snap({ uri: UNKNOWN_SCHEME }),
    /connecting to lvpbogus:\/\/\/system/,
    /no connection driver available/,
  ),
  createRow(
    "Snapshot",
    "an unreachable host",
    () => snap({ uri: UNREACHABLE }),
    /connecting to qemu\+tcp:\/\/127\.0\.0\.1:1\/system/,
    /Connection refused.*libvirtd -d/,
  ),

  // ---- Pool: rejected by check ----
  checkRow("Pool", "name with /", () => pool({ name: "a/b" }), "name", NAME_RULE),
  checkRow("Pool", "name ..", () => pool({ name: ".." }), "name", NAME_RULE),
  checkRow("Pool", "name with quotes", () => pool({ name: `"p'` }), "name", NAME_RULE),
  checkRow("Pool", "name with XML metacharacters", () => pool({ name: "p<x/>" }), "name", NAME_RULE),
  checkRow("Pool", "4 KiB name", () => pool({ name: KIB4 }), "name", /at most 200/),
  checkRow("Pool", "relative path", () => pool({ path: "images/p" }), "path", /absolute path/),
  checkRow("Pool", "path with ..", () => pool({ path: `${IMAGES}/../../etc` }), "path", /"\.\." segments/),
  checkRow("Pool", "the root directory", () => pool({ path: "/" }), "path", /root directory/),
  checkRow("Pool", "path a number", () => pool({ path: 42 }), "path", /must be a string/),
  checkRow("Pool", "path with a newline", () => pool({ path: `${IMAGES}/a\nb` }), "path", /NUL or newline/),
  checkRow("Pool", "autostart not a boolean", () => pool({ autostart: "yes" }), "autostart", /true or false/),
  checkRow("Pool", "pool type (unknown property)", () => pool({ type: "logical" }), "type", /unknown property/),
  checkRow("Pool", "uri with a password", () => pool({ uri: "qemu+ssh://u:pw@host/system" }), "uri", /must not embed a password/),
  // ---- Pool: passes check, fails on the hypervisor ----
  createRow(
    "Pool",
    "the name of an existing pool",
    () => pool({ name: poolName }),
    /invalid Pool input name/,
    /already exists on qemu:\/\/\/system.*nothing was created/,
  ),
  createRow(
    "Pool",
    "the directory of another pool",
    () => pool({ path: poolDir }),
    /defining storage pool "lvp-test-[^"]+" on qemu:\/\/\/system/,
    /Storage source conflict with pool: 'lvp-test-/,
  ),
  createRow(
    "Pool",
    "a path that is a regular file (kept)",
    () => pool({ path: aFile }),
    /starting storage pool "lvp-test-[^"]+" on qemu:\/\/\/system/,
    /Not a directory.*the partly created pool was removed/,
    () => expect(readdirSync(images.dir)).toContain("plain-file"),
  ),
  createRow(
    "Pool",
    "a path under /proc (cannot be made)",
    () => pool({ path: `/proc/${n("proc")}` }),
    /building storage pool "lvp-test-[^"]+" on qemu:\/\/\/system/,
    /failed to create directory .*the partly created pool was removed/,
  ),
  createRow(
    "Pool",
    "a uri with an unknown scheme",
    () => pool({ uri: UNKNOWN_SCHEME }),
    /connecting to lvpbogus:\/\/\/system/,
    /no connection driver available/,
  ),
  createRow(
    "Pool",
    "an unreachable host",
    () => pool({ uri: UNREACHABLE }),
    /connecting to qemu\+tcp:\/\/127\.0\.0\.1:1\/system/,
    /Connection refused.*libvirtd -d/,
  ),

  // ---- Volume: rejected by check ----
  checkRow("Volume", "name with /", () => vol({ name: "sub/v.qcow2" }), "name", NAME_RULE),
  checkRow("Volume", "name ..", () => vol({ name: ".." }), "name", NAME_RULE),
  checkRow("Volume", "name ../escape", () => vol({ name: "../escape.qcow2" }), "name", NAME_RULE),
  checkRow("Volume", "name with quotes and XML", () => vol({ name: `v'"<&>.qcow2` }), "name", NAME_RULE),
  checkRow("Volume", "4 KiB name", () => vol({ name: KIB4 }), "name", /at most 200/),
  checkRow("Volume", "pool with /", () => vol({ pool: "../pool" }), "pool", NAME_RULE),
  checkRow("Volume", "capacity 0", () => vol({ capacity: 0 }), "capacity", /greater than 0/),
  checkRow("Volume", "negative capacity", () => vol({ capacity: "-1GiB" }), "capacity", /must be/),
  checkRow("Volume", "capacity not a size", () => vol({ capacity: "12 parsecs" }), "capacity", /must be/),
  checkRow("Volume", "capacity not whole sectors", () => vol({ capacity: 1000 }), "capacity", /512-byte sectors/),
  checkRow("Volume", "capacity a boolean", () => vol({ capacity: true }), "capacity", /must be/),
  checkRow("Volume", "unknown format", () => vol({ format: "vmdk" }), "format", /must be one of "qcow2", "raw"/),
  checkRow(
    "Volume",
    "source with backingVolume",
    () => vol({ capacity: undefined, source: "/etc/hostname", backingVolume: `${IMAGES}/b.qcow2` }),
    "source",
    /cannot be combined with backingVolume/,
  ),
  checkRow("Volume", "relative backingVolume", () => vol({ backingVolume: "base.qcow2" }), "backingVolume", /absolute path/),
  checkRow(
    "Volume",
    "deleteSnapshotDataOnDestroy a string",
    () => vol({ deleteSnapshotDataOnDestroy: "yes" }),
    "deleteSnapshotDataOnDestroy",
    /true or false/,
  ),
  // ---- Volume: passes check, fails on the hypervisor ----
  createRow(
    "Volume",
    "a pool that does not exist",
    () => vol({ pool: n("nopool") }),
    /invalid Volume input pool/,
    /storage pool "lvp-test-[^"]+" does not exist on qemu:\/\/\/system.*nothing was created/,
  ),
  refusedRow(
    "Volume",
    "a pool that is not running",
    () => vol({ pool: idlePoolName }),
    /storage pool "lvp-test-[^"]+" on qemu:\/\/\/system is not active: start it \(`virsh pool-start/,
    "pool",
  ),
  createRow(
    "Volume",
    "a backing volume that does not exist",
    () => vol({ capacity: undefined, backingVolume: join(poolDir, "nope.qcow2") }),
    /invalid Volume input backingVolume/,
    /nope\.qcow2 is neither a volume.*nothing was created/,
  ),
  createRow(
    "Volume",
    "a name already in the pool",
    () => vol({ name: "base.qcow2" }),
    /invalid Volume input name/,
    /already exists in storage pool.*nothing was created/,
  ),
  createRow(
    "Volume",
    "a raw volume larger than the file system allows",
    () => vol({ format: "raw", capacity: "64TiB" }),
    /creating volume "new\.qcow2" in storage pool "lvp-test-[^"]+" on qemu:\/\/\/system/,
    /cannot extend file .*File too large/,
  ),
  createRow(
    "Volume",
    "a uri with an unknown scheme",
    () => vol({ uri: UNKNOWN_SCHEME }),
    /connecting to lvpbogus:\/\/\/system/,
    /no connection driver available/,
  ),
  createRow(
    "Volume",
    "an unreachable host",
    () => vol({ uri: UNREACHABLE }),
    /connecting to qemu\+tcp:\/\/127\.0\.0\.1:1\/system/,
    /Connection refused.*libvirtd -d/,
  ),
];

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

describe("bad inputs: check names the property, create names the operation and reason, nothing is created", () => {
  it("the table has at least 60 rows across all four resources", () => {
    expect(rows.length).toBeGreaterThanOrEqual(60);
    for (const kind of Object.keys(providers)) expect(rows.filter((r) => r.kind === kind).length).toBeGreaterThanOrEqual(8);
  });

  it.each(rows.map((r) => [`${r.kind}: ${r.label}`, r] as const))("%s", async (_title, row) => {
    const before = inventory();
    const p = providers[row.kind];
    const news = JSON.parse(JSON.stringify(row.news())) as Record<string, unknown>; // as Pulumi sends them: plain JSON
    const checked = await p.check!({}, news);
    const want = row.expect;
    if ("property" in want) {
      const failure = checked.failures?.find((f) => f.property === want.property);
      expect(failure, `failures: ${JSON.stringify(checked.failures)}`).toBeDefined();
      expect(failure!.reason.length).toBeGreaterThan(10);
      if (want.reason) expect(failure!.reason).toMatch(want.reason);
      // Pulumi stops at a failed check; a create that got the raw inputs anyway refuses before libvirt.
      await expect(p.create!(news)).rejects.toThrow(new RegExp(`invalid ${row.kind} inputs: .*${escape(want.property)}`, "s"));
    } else {
      expect(checked.failures, "check should pass: the failure comes from create").toEqual([]);
      const err = await p.create!(checked.inputs).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err, "create should fail").toBeInstanceOf(Error);
      if ("own" in want) {
        expect(err!.message).toMatch(want.own);
        expect(err!.message).toContain(want.names);
      } else {
        const { operation, reason } = want;
        expect(err!.message).toMatch(new RegExp(`(?:${operation.source}).*: .*(?:${reason.source})`, `s${reason.flags}`));
      }
    }
    expect(inventory()).toEqual(before);
    row.after?.();
  });

  it("the provider is still up: a read and a create/delete succeed after the table", async () => {
    expect(process.kill(process.pid, 0)).toBe(true);
    const read = await domainProvider.read!(domUuid, domOuts as never);
    expect(read.props).toMatchObject({ name: domName, state: "shutoff", snapshots: ["pre"] });
    const checked = await volumeProvider.check!({}, vol({ name: "after-table.qcow2" }));
    const created = await volumeProvider.create!(checked.inputs);
    expect(virsh(QEMU_URI, "vol-list", poolName)).toContain("after-table.qcow2");
    await volumeProvider.delete!(created.id, created.outs);
    expect(readdirSync(poolDir)).toEqual(["base.qcow2"]);
  });
});
