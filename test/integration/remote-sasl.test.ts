// Remote authentication: the providers over qemu+tcp://127.0.0.1:<port>/system,
// a SASL (DIGEST-MD5) listener of the system libvirtd (test/helpers/sasl-daemon.ts
// restarts it with --listen for this file and normally afterwards). Credentials
// go in through `auth` and virConnectOpenAuth; virsh on qemu:///system (the
// unix socket) says independently what exists. No error text may carry the
// password or a URI with it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";
import { failing } from "../helpers/failure";
import {
  QEMU_URI,
  domainNames,
  domainState,
  makeImageDir,
  removeDomain,
  removePool,
  snapshotNames,
  uniqueName,
  virsh,
  virshTry,
} from "../helpers/host";
import { startSaslDaemon, writeVirshAuthFile, type SaslDaemon } from "../helpers/sasl-daemon";

const { domainProvider: dp, snapshotProvider: sp, poolProvider: pp, volumeProvider: vp } = provider;
type Outs = Record<string, any>;

let d: SaslDaemon;
let images: ReturnType<typeof makeImageDir>;
const made = { domains: new Set<string>(), pools: new Set<string>() };

beforeAll(() => {
  d = startSaslDaemon();
  images = makeImageDir("sasl");
});

afterAll(async () => {
  try {
    await provider.closeAllConnections();
    // Independent of the provider: whatever a failed test left.
    for (const name of made.domains) {
      removeDomain(QEMU_URI, name);
    }
    for (const pool of made.pools) {
      removePool(QEMU_URI, pool);
    }
    images?.remove();
  } finally {
    d?.restore();
  }
  // The system daemon is back as it was: no TCP listener, the unix socket answers.
  expect(virshTry(QEMU_URI, "version").ok).toBe(true);
});

const right = () => ({ username: d.username, password: d.password });
const wrong = () => ({ username: d.username, password: `${d.password}-wrong` });

/** Nothing that reaches a user may carry the password, with or without its URI. */
function expectNoPassword(text: string): void {
  expect(text).not.toContain(d.password);
  expect(text).not.toMatch(/:\/\/[^/\s]*:[^/\s@]*@/);
}

async function checked(prov: typeof dp, news: Record<string, unknown>): Promise<Outs> {
  const { inputs, failures } = await prov.check!({}, news);
  expect(failures ?? []).toEqual([]);
  return inputs;
}

describe("a SASL listener on qemu+tcp://127.0.0.1 (DIGEST-MD5)", () => {
  it("the fixture: virsh connects over TCP with the right password, is refused with a wrong one or none", () => {
    process.env.LIBVIRT_AUTH_FILE = writeVirshAuthFile(d);
    try {
      expect(virshTry(d.uri, "version").ok).toBe(true);
    } finally {
      delete process.env.LIBVIRT_AUTH_FILE;
    }
    // No auth file: virsh has no terminal to prompt on, so it has no credentials.
    const none = virshTry(d.uri, "version");
    expect(none.ok).toBe(false);
    expect(none.out).toMatch(/authentication/i);
  });

  it("right password: a Domain is created, read, updated and deleted over TCP; virsh on qemu:///system sees each step", async () => {
    const name = uniqueName("sasl-dom");
    made.domains.add(name);
    const disk = images.qcow2(`${name}.qcow2`);
    const inputs = await checked(dp, { name, uri: d.uri, auth: right(), memoryMiB: 64, disks: [{ file: disk }] });
    const { id, outs } = await dp.create!(inputs);
    expect(domainState(QEMU_URI, name)).toBe("running");
    expect(virsh(QEMU_URI, "domuuid", name)).toBe(id);
    expect(outs.uri).toBe(d.uri);
    // Kept for read and delete, which get only the saved outputs; the SDK makes it a secret.
    expect(outs.auth).toEqual(right());
    const { auth: _auth, ...rest } = outs;
    expectNoPassword(JSON.stringify(rest));

    const read = await dp.read!(id, outs);
    expect(read.id).toBe(id);
    expect(read.props.state).toBe("running");

    const stopped = await dp.update!(id, outs, await checked(dp, { ...inputs, running: false }));
    expect(domainState(QEMU_URI, name)).toBe("shut off");

    await dp.delete!(id, stopped.outs);
    expect(domainNames(QEMU_URI)).not.toContain(name);
    made.domains.delete(name);
  });

  it("right password: a Pool, a Volume in it and a Snapshot of a Domain on that Volume, all over TCP", async () => {
    const poolName = uniqueName("sasl-pool");
    made.pools.add(poolName);
    const pool = await pp.create!(await checked(pp, { name: poolName, path: `${images.dir}/pool`, uri: d.uri, auth: right() }));
    expect(virsh(QEMU_URI, "pool-info", poolName)).toMatch(/State:\s+running/);

    const vol = await vp.create!(await checked(vp, { name: "disk.qcow2", pool: poolName, uri: d.uri, auth: right(), capacity: "16MiB" }));
    expect(virsh(QEMU_URI, "vol-list", poolName)).toContain("disk.qcow2");

    const domName = uniqueName("sasl-snap");
    made.domains.add(domName);
    const dom = await dp.create!(
      await checked(dp, {
        name: domName,
        uri: d.uri,
        auth: right(),
        memoryMiB: 64,
        running: false,
        disks: [{ volume: { pool: poolName, name: "disk.qcow2" } }],
      }),
    );
    const snap = await sp.create!(await checked(sp, { name: "before", domain: dom.id, uri: d.uri, auth: right() }));
    expect(snapshotNames(QEMU_URI, domName)).toEqual(["before"]);
    expect((await sp.read!(snap.id, snap.outs)).props.name).toBe("before");

    await sp.delete!(snap.id, snap.outs);
    expect(snapshotNames(QEMU_URI, domName)).toEqual([]);
    await dp.delete!(dom.id, dom.outs);
    expect(domainNames(QEMU_URI)).not.toContain(domName);
    made.domains.delete(domName);
    await vp.delete!(vol.id, vol.outs);
    expect(virsh(QEMU_URI, "vol-list", poolName)).not.toContain("disk.qcow2");
    await pp.delete!(pool.id, pool.outs);
    expect(virsh(QEMU_URI, "pool-list", "--all", "--name")).not.toContain(poolName);
    made.pools.delete(poolName);
  });

  // Formerly a unit test on test:///default, which takes any credentials: here the
  // listener refuses a wrong password, so each success below is the credentials'.
  it("credentials in auth reach libvirt: every resource kind's create, read and delete use them (the saved ones after create), a wrong saved password fails the read; the password is only under the auth output", async () => {
    const poolName = uniqueName("sasl-creds");
    made.pools.add(poolName);
    const domName = uniqueName("sasl-creds");
    made.domains.add(domName);
    const created: Array<[kind: string, prov: typeof dp, id: string, outs: Outs]> = [];
    const create = async (kind: string, prov: typeof dp, news: Record<string, unknown>) => {
      const { id, outs } = await prov.create!(await checked(prov, { ...news, uri: d.uri, auth: right() }));
      created.push([kind, prov, id, outs]);
    };
    await create("Pool", pp, { name: poolName, path: `${images.dir}/creds-pool` });
    await create("Volume", vp, { name: "creds.qcow2", pool: poolName, capacity: "16MiB" });
    await create("Domain", dp, { name: domName, memoryMiB: 64, running: false, disks: [{ volume: { pool: poolName, name: "creds.qcow2" } }] });
    await create("Snapshot", sp, { name: "creds", domain: created[2][2] });
    expect(virsh(QEMU_URI, "pool-info", poolName)).toMatch(/State:\s+running/);
    expect(virsh(QEMU_URI, "vol-list", poolName)).toContain("creds.qcow2");
    expect(snapshotNames(QEMU_URI, domName)).toEqual(["creds"]);
    for (const [kind, prov, id, outs] of created) {
      // Saved (as a secret, by the SDK) because read and delete get only the saved outputs.
      expect(outs.auth, kind).toEqual(right());
      const { auth: _auth, ...rest } = outs;
      expectNoPassword(JSON.stringify(rest));
      expect(outs.uri, kind).toBe(d.uri);
      expect((await prov.read!(id, outs)).id, kind).toBe(id);
      const { err } = await failing(() => prov.read!(id, { ...outs, auth: wrong() }));
      expect(err.message, kind).toMatch(/authentication failed.*check auth\.username and auth\.password/);
      expectNoPassword(err.message);
    }
    for (const [kind, prov, id, outs] of created.reverse()) {
      await prov.delete!(id, outs);
      expect(await prov.read!(id, outs), kind).toEqual({});
    }
    expect(domainNames(QEMU_URI)).not.toContain(domName);
    expect(virsh(QEMU_URI, "pool-list", "--all", "--name")).not.toContain(poolName);
    made.domains.delete(domName);
    made.pools.delete(poolName);
  });

  const kinds = () =>
    [
      ["Domain", dp, { name: uniqueName("sasl-bad"), memoryMiB: 64 }],
      ["Snapshot", sp, { name: "never", domain: "0badf00d-0000-4000-8000-0000000000d0" }],
      ["Pool", pp, { name: uniqueName("sasl-bad"), path: `${images.dir}/never` }],
      ["Volume", vp, { name: "never.qcow2", pool: "default", capacity: "1MiB" }],
    ] as const;

  it("wrong password: every resource's create fails within 10 s, says authentication failed and what to check, without the password; nothing is created", async () => {
    const before = { domains: domainNames(QEMU_URI), pools: virsh(QEMU_URI, "pool-list", "--all", "--name") };
    for (const [kind, prov, base] of kinds()) {
      const { err, ms, value } = await failing(async () => prov.create!(await checked(prov, { ...base, uri: d.uri, auth: wrong() })));
      expect(value, kind).toBeUndefined();
      expect(ms, kind).toBeLessThan(10_000);
      expect(err.message, kind).toMatch(/^connecting to qemu\+tcp:\/\/127\.0\.0\.1:\d+\/system: authentication failed/);
      expect(err.message, kind).toMatch(/check auth\.username and auth\.password/);
      expectNoPassword(err.message);
      expectNoPassword(String(err.stack));
    }
    expect(domainNames(QEMU_URI)).toEqual(before.domains);
    expect(virsh(QEMU_URI, "pool-list", "--all", "--name")).toBe(before.pools);
  });

  it("wrong password saved in the state: read throws (never reports the domain gone), delete throws and deletes nothing", async () => {
    const name = uniqueName("sasl-stale");
    made.domains.add(name);
    const { id, outs } = await dp.create!(await checked(dp, { name, uri: d.uri, auth: right(), memoryMiB: 64, running: false }));
    const stale = { ...outs, auth: wrong() };
    for (const op of [() => dp.read!(id, stale), () => dp.delete!(id, stale)]) {
      const { err, value } = await failing(op);
      expect(value).toBeUndefined();
      expect(err.message).toMatch(/authentication failed.*check auth\.username and auth\.password/);
      expectNoPassword(err.message);
    }
    expect(domainNames(QEMU_URI)).toContain(name);
    await dp.delete!(id, outs);
    expect(domainNames(QEMU_URI)).not.toContain(name);
    made.domains.delete(name);
  });

  it("connections are pooled per credentials: a wrong password after a right one still fails, and the right one still works after it", async () => {
    const probe = (auth: { username: string; password: string }) =>
      provider.withConnection({ uri: d.uri, auth }, (c) => c.call("reading capabilities", "virConnectGetCapabilities", c.ptr as never));
    expect(await probe(right())).toMatch(/<capabilities>/);
    const { err } = await failing(() => probe(wrong()));
    expect(err.message).toMatch(/authentication failed/);
    expect(await probe(right())).toMatch(/<capabilities>/);
    // Another user with the right user's password is another key too.
    expect((await failing(() => probe({ username: "nobody", password: d.password }))).err.message).toMatch(/authentication failed/);
  });

  it("no credentials on a SASL URI: the error says to set auth", async () => {
    const { err, ms } = await failing(async () => dp.create!(await checked(dp, { name: uniqueName("sasl-none"), uri: d.uri, memoryMiB: 64 })));
    expect(ms).toBeLessThan(10_000);
    expect(err.message).toMatch(
      /^connecting to qemu\+tcp:\/\/127\.0\.0\.1:\d+\/system: authentication failed.*this URI requires credentials: set auth \(\{ username, password \}/s,
    );
  });

  it("the right password inside the URI is refused at check (on uri, naming auth), and create refuses it before connecting", async () => {
    const withPassword = d.uri.replace("tcp://", `tcp://${d.username}:${d.password}@`);
    for (const [kind, prov, base] of kinds()) {
      const { failures } = await prov.check!({}, { ...base, uri: withPassword });
      expect(failures, kind).toHaveLength(1);
      expect(failures![0].property).toBe("uri");
      expect(failures![0].reason).toMatch(/must not embed a password.*auth/);
      expectNoPassword(JSON.stringify(failures));
      const { err } = await failing(() => prov.create!({ ...base, uri: withPassword }));
      expect(err.message).toMatch(/uri must not embed a password/);
      expectNoPassword(err.message);
    }
  });
});
