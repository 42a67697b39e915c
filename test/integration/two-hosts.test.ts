// One provider process working on two hypervisors at once (issue 14 item 2):
// qemu:///system and a second, separate one, lvp-test's session daemon reached
// over qemu+ssh through an sshd on loopback (test/helpers/ssh-daemon.ts).
// Connections are pooled per hypervisor URI, counted from outside the provider:
// for qemu:///system the clients the system libvirtd itself lists for this
// process (virt-admin), for the ssh URI the logins sshd logged and the ssh
// processes libvirt keeps running. A refusal on one host does not stop the
// other's work. Outcomes are checked with `virsh -c` on each hypervisor.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";
import { providerCalls } from "../helpers/provider-calls";
import { createDomain, createDomainOnImage } from "../helpers/domains";
import {
  QEMU_URI,
  daemonClientsOf,
  domainNames,
  makeImageDir,
  removeDomain,
  removePool,
  snapshotNames,
  uniqueName,
  virsh,
  volumeNames,
} from "../helpers/host";
import { SSH_USER_HOME, cleanSession, sshProcesses, startSshDaemon, sweepSession, type SshDaemon } from "../helpers/ssh-daemon";

const { poolProvider: pp, volumeProvider: vp, domainProvider: dp } = provider;

let s: SshDaemon;
let images: ReturnType<typeof makeImageDir>;
/** The second hypervisor. */
let second: string;
const onSystem = { domains: new Set<string>(), pools: new Set<string>(), dirs: new Set<string>() };
const onSession = { domains: new Set<string>(), pools: new Set<string>(), dirs: new Set<string>() };

beforeAll(async () => {
  images = makeImageDir("two-hosts");
  s = await startSshDaemon();
  s.trustHostKey();
  second = s.uri();
  sweepSession(second);
  await provider.closeAllConnections();
});

afterAll(async () => {
  try {
    await provider.closeAllConnections();
    for (const d of onSystem.domains) removeDomain(QEMU_URI, d);
    for (const p of onSystem.pools) removePool(QEMU_URI, p);
    for (const d of onSystem.dirs) rmSync(d, { recursive: true, force: true });
    if (s) cleanSession(second, onSession);
    images?.remove();
  } finally {
    await s?.stop();
  }
});

// Every call below names its host's uri, which wins over this default.
const { checked } = providerCalls(QEMU_URI);

/** The logins sshd accepted so far: one per connection libvirt opened over ssh. */
const sshLogins = () => (s.log().match(/Accepted publickey for lvp-test/g) ?? []).length;
const ourSystemClients = () => daemonClientsOf(process.pid).sort((a, b) => a - b);

async function waitFor(cond: () => boolean, ms = 5000): Promise<boolean> {
  for (const t0 = Date.now(); Date.now() - t0 < ms;) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return cond();
}

interface Timed {
  host: "first" | "second";
  start: number;
  end: number;
}

describe("one provider process, two hypervisors", () => {
  it("connections are pooled per hypervisor URI: concurrent work on both opens at most one connection per operation in flight on each, later work reuses them (counted by libvirtd and sshd)", async () => {
    expect(ourSystemClients()).toEqual([]);
    const loginsBefore = sshLogins();
    const hosts = [
      { host: "first" as const, uri: QEMU_URI, made: onSystem, dir: (n: string) => `/var/lib/libvirt/images/${n}` },
      { host: "second" as const, uri: second, made: onSession, dir: (n: string) => join(SSH_USER_HOME, n) },
    ];
    const pools = await Promise.all(
      hosts.map(async (h) => {
        const name = uniqueName(`two-${h.host}`);
        h.made.pools.add(name);
        h.made.dirs.add(h.dir(name));
        const pool = await pp.create!(await checked(pp, { name, path: h.dir(name), uri: h.uri }));
        return { ...h, name, pool };
      }),
    );

    // Six volume creates per host, all twelve at once.
    const PER_HOST = 6;
    const t0 = performance.now();
    const spans: Timed[] = [];
    const vols = await Promise.all(
      pools.flatMap((p) =>
        Array.from({ length: PER_HOST }, async (_, i) => {
          const start = performance.now() - t0;
          const v = await vp.create!(await checked(vp, { name: `v${i}.qcow2`, pool: p.name, uri: p.uri, capacity: "8MiB" }));
          spans.push({ host: p.host, start, end: performance.now() - t0 });
          return { p, v };
        }),
      ),
    );
    // The two hosts' operations ran side by side: some create on one overlapped one on the other.
    const firsts = spans.filter((x) => x.host === "first");
    const seconds = spans.filter((x) => x.host === "second");
    expect(firsts.some((a) => seconds.some((b) => a.start < b.end && b.start < a.end))).toBe(true);

    // What stays open (counted before any virsh, whose own ssh logins sshd would log too): qemu:///system's connections as libvirtd lists them for this process,
    // the ssh URI's as the logins sshd accepted, each still held by a running ssh.
    const systemClients = ourSystemClients();
    const logins = sshLogins() - loginsBefore;
    expect(systemClients.length).toBeGreaterThanOrEqual(1);
    expect(systemClients.length).toBeLessThanOrEqual(PER_HOST);
    expect(logins).toBeGreaterThanOrEqual(1);
    expect(logins).toBeLessThanOrEqual(PER_HOST);
    expect(sshProcesses(s.port)).toHaveLength(logins);

    // Each landed on its own hypervisor, and nowhere else.
    for (const p of pools) expect(volumeNames(p.uri, p.name)).toEqual(Array.from({ length: PER_HOST }, (_, i) => `v${i}.qcow2`));
    expect(virsh(QEMU_URI, "pool-list", "--all", "--name")).not.toContain(pools[1].name);
    expect(virsh(second, "pool-list", "--all", "--name")).not.toContain(pools[0].name);
    const loginsMark = sshLogins();

    // More work, one operation at a time per host (both hosts at once): every one on a pooled
    // connection, so no new client of libvirtd and no new ssh login.
    await Promise.all(
      pools.map(async (p) => {
        for (const { v } of vols.filter((x) => x.p === p)) {
          expect((await vp.read!(v.id!, v.outs)).id).toBe(v.id);
          await vp.delete!(v.id!, v.outs);
        }
        await pp.delete!(p.pool.id!, p.pool.outs);
        p.made.pools.delete(p.name);
      }),
    );
    expect(ourSystemClients()).toEqual(systemClients);
    expect(sshLogins()).toBe(loginsMark);
    expect(virsh(QEMU_URI, "pool-list", "--all", "--name")).not.toContain(pools[0].name);
    expect(virsh(second, "pool-list", "--all", "--name")).not.toContain(pools[1].name);

    // Closing the pools closes both hosts' connections: libvirtd lists none of this process, the ssh processes end.
    await provider.closeAllConnections();
    expect(await waitFor(() => ourSystemClients().length === 0)).toBe(true);
    expect(await waitFor(() => sshProcesses(s.port).length === 0)).toBe(true);
  });

  it("a refused delete on one host does not stop the other's: both at once, the refused domain untouched, the other gone (virsh -c each)", async () => {
    // A disk on the first host for the snapshot made by hand (a domain without one has nothing to snapshot).
    const refused = await createDomainOnImage(images, "two-refused", { running: false, type: "qemu" }, onSystem.domains);
    const other = await createDomain("two-other", { uri: second, running: false, type: "qemu" }, onSession.domains);
    const another = await createDomain("two-another", { uri: second, running: false, type: "qemu" }, onSession.domains);
    virsh(QEMU_URI, "snapshot-create-as", refused.name, "by-hand");

    const results = await Promise.allSettled([refused, other, another].map((d) => dp.delete!(d.id, d.outs)));
    expect(results[0].status).toBe("rejected");
    expect(String((results[0] as PromiseRejectedResult).reason?.message)).toMatch(
      /refusing to delete domain .*"by-hand".*deleteSnapshotsOnDestroy: true/s,
    );
    expect(results.slice(1).map((r) => r.status)).toEqual(["fulfilled", "fulfilled"]);
    // Nothing changed on the first host; the second's are gone.
    expect(domainNames(QEMU_URI)).toContain(refused.name);
    expect(snapshotNames(QEMU_URI, refused.name)).toEqual(["by-hand"]);
    expect(domainNames(second)).not.toContain(other.name);
    expect(domainNames(second)).not.toContain(another.name);
    onSession.domains.delete(other.name);
    onSession.domains.delete(another.name);

    // The refusal left the first host's pool usable: the cascade goes through on it.
    await dp.delete!(refused.id, { ...refused.outs, deleteSnapshotsOnDestroy: true });
    expect(domainNames(QEMU_URI)).not.toContain(refused.name);
    onSystem.domains.delete(refused.name);
  });
});
