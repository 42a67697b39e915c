// The SSH transport for real: the providers over qemu+ssh://lvp-test@127.0.0.1:PORT/session,
// an sshd this file starts on loopback (test/helpers/ssh-daemon.ts) in front of a second,
// separate hypervisor: the QEMU session daemon of the unprivileged user lvp-test (its own
// domains, pools and snapshots; nothing shared with qemu:///system). Outcomes are checked
// with virsh on each hypervisor independently: `virsh -c <the ssh URI>` for the session,
// `virsh -c qemu:///system` to show nothing landed there.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";
import { defineDomainByHand } from "../helpers/domains";
import { failing } from "../helpers/failure";
import { QEMU_URI, domainNames, domainState, qcow2Snapshots, snapshotNames, uniqueName, virsh, virshTry } from "../helpers/host";
import {
  SSH_USER_HOME,
  alive,
  cleanSession,
  freePort,
  sessionDaemonPid,
  sshProcesses,
  startSshDaemon,
  sweepSession,
  type SshDaemon,
} from "../helpers/ssh-daemon";

const { domainProvider: dp, snapshotProvider: sp, poolProvider: pp, volumeProvider: vp, cloudInitDiskProvider: cp } = provider;
type Outs = Record<string, any>;

let s: SshDaemon;
/** The URI the resources use: key-only login, the host key in root's known_hosts. */
let uri: string;
const made = { domains: new Set<string>(), pools: new Set<string>(), dirs: new Set<string>() };

beforeAll(async () => {
  s = await startSshDaemon();
  s.trustHostKey();
  uri = s.uri();
  // What an interrupted earlier run left in the session.
  sweepSession(uri);
});

afterAll(async () => {
  try {
    await provider.closeAllConnections();
    // Independent of the provider, and through the daemon's own sshd: whatever a failed test left.
    s?.trustHostKey();
    if (s) {
      const left = cleanSession(uri, made);
      // Stopped by their PIDs, unless another run's domains keep them.
      if (left.length === 0) {
        expect(sessionDaemonPid("libvirtd")).toBeUndefined();
        expect(sessionDaemonPid("virtlogd")).toBeUndefined();
      }
      for (const d of made.dirs) expect(existsSync(d)).toBe(false);
    }
  } finally {
    await s?.stop();
  }
  // sshd gone (stopped by its PID) and no known_hosts line of this port left behind.
  if (s) {
    expect(alive(s.pid)).toBe(false);
    expect(s.hostKnown()).toBe(false);
  }
});

async function checked(prov: typeof dp, news: Record<string, unknown>): Promise<Outs> {
  const { inputs, failures } = await prov.check!({}, news);
  expect(failures ?? []).toEqual([]);
  return inputs;
}

const sessionDomains = () => domainNames(uri);
const sessionPools = () => virsh(uri, "pool-list", "--all", "--name").split("\n").filter(Boolean);
const systemPools = () => virsh(QEMU_URI, "pool-list", "--all", "--name").split("\n").filter(Boolean);

/** A pool directory in lvp-test's home, where its session QEMU may read and write. */
function poolDir(name: string): string {
  const dir = join(SSH_USER_HOME, name);
  made.dirs.add(dir);
  return dir;
}

/** Nothing of a private key, and no URI with a password, in what reaches a user. */
function expectNoSecrets(text: string): void {
  expect(text).not.toMatch(/PRIVATE KEY|BEGIN OPENSSH/);
  expect(text).not.toContain(readFileSync(s.clientKey, "utf8").split("\n")[1]);
  expect(text).not.toMatch(/:\/\/[^/\s]*:[^/\s@]*@/);
}

describe("qemu+ssh to lvp-test's session daemon through an sshd on loopback", () => {
  it("the fixture: virsh reaches qemu:///session of lvp-test over ssh; a second hypervisor, not qemu:///system", () => {
    expect(virsh(uri, "uri")).toBe(uri);
    expect(virsh(uri, "version")).toMatch(/Running hypervisor: QEMU/);
    // The session daemon runs as lvp-test (virt-ssh-helper started it on demand).
    const pid = sessionDaemonPid();
    expect(pid).toBeDefined();
    expect(readFileSync(`/proc/${pid}/status`, "utf8")).toMatch(
      new RegExp(`^Uid:\\s+${execFileSync("id", ["-u", "lvp-test"], { encoding: "utf8" }).trim()}\\s`, "m"),
    );
    expect(s.log()).toMatch(/Accepted publickey for lvp-test from 127\.0\.0\.1/);
  });

  it("Pool, Volume, CloudInitDisk, a running Domain and a Snapshot over ssh: each in the session (virsh -c the ssh URI), none in qemu:///system; refusals and cascades work through it", async () => {
    const poolName = uniqueName("ssh-pool");
    made.pools.add(poolName);
    const domName = uniqueName("ssh-dom");
    made.domains.add(domName);
    const dir = poolDir(poolName);

    const pool = await pp.create!(await checked(pp, { name: poolName, path: dir, uri }));
    expect(virsh(uri, "pool-info", poolName)).toMatch(/State:\s+running/);
    expect(systemPools()).not.toContain(poolName);
    expect(pool.outs.uri).toBe(uri);

    expect((await pp.read!(pool.id!, pool.outs)).props.active).toBe(true);

    const vol = await vp.create!(await checked(vp, { name: "disk.qcow2", pool: poolName, uri, capacity: "16MiB" }));
    expect(virsh(uri, "vol-list", poolName)).toContain("disk.qcow2");
    expect(virsh(uri, "vol-dumpxml", "--pool", poolName, "disk.qcow2")).toMatch(/<format type='qcow2'\/>/);
    expect((await vp.read!(vol.id!, vol.outs)).id).toBe(vol.id);

    // A CloudInitDisk: the ISO built here, uploaded through the ssh connection (a libvirt stream).
    const seed = await cp.create!(
      await checked(cp, { name: "seed.iso", pool: poolName, uri, userData: "#cloud-config\n", metaData: { "local-hostname": "ssh" } }),
    );
    expect(virsh(uri, "vol-list", poolName)).toContain("seed.iso");
    expect(execFileSync("isoinfo", ["-d", "-i", join(dir, "seed.iso")], { encoding: "utf8" })).toMatch(/Volume id: cidata/);
    expect((await cp.read!(seed.id!, seed.outs)).id).toBe(seed.id);
    await cp.delete!(seed.id!, seed.outs);
    expect(virsh(uri, "vol-list", poolName)).not.toContain("seed.iso");

    const domInputs = await checked(dp, {
      name: domName,
      uri,
      type: "qemu",
      memoryMiB: 64,
      shutdownTimeoutSeconds: 0,
      disks: [{ volume: { pool: poolName, name: "disk.qcow2" } }],
    });
    const dom = await dp.create!(domInputs);
    expect(domainState(uri, domName)).toBe("running");
    expect(virsh(uri, "domuuid", domName)).toBe(dom.id);
    expect(virsh(uri, "dumpxml", domName)).toMatch(/<domain type='qemu'/);
    expect(domainNames(QEMU_URI)).not.toContain(domName);
    // The URI is saved as given (no_tty=1 is added for the open only).
    expect(dom.outs.uri).toBe(uri);
    expect((await dp.read!(dom.id!, dom.outs)).props.state).toBe("running");

    // An in-place update over ssh.
    const described = await dp.update!(dom.id!, dom.outs, await checked(dp, { ...domInputs, description: "over ssh" }));
    // The persistent definition (a running domain takes it at its next start).
    expect(virsh(uri, "dumpxml", "--inactive", domName)).toContain("<description>over ssh</description>");

    const snap = await sp.create!(await checked(sp, { name: "before", domain: dom.id, uri }));
    expect(snapshotNames(uri, domName)).toEqual(["before"]);
    expect(virshTry(QEMU_URI, "snapshot-list", domName).ok).toBe(false);
    expect((await sp.read!(snap.id!, snap.outs)).props.name).toBe("before");

    // Refused while it has a snapshot: before stopping it, nothing changed.
    const { err: refused } = await failing(() => dp.delete!(dom.id!, described.outs));
    expect(refused.message).toMatch(
      /refusing to delete domain .*it is still running and nothing was changed.*"before".*deleteSnapshotsOnDestroy: true/s,
    );
    expect(domainState(uri, domName)).toBe("running");
    expect(snapshotNames(uri, domName)).toEqual(["before"]);

    await sp.delete!(snap.id!, snap.outs);
    expect(snapshotNames(uri, domName)).toEqual([]);

    // A snapshot taken by hand (no stack manages it): refused again, then the cascade.
    virsh(uri, "snapshot-create-as", domName, "by-hand");
    await expect(dp.delete!(dom.id!, described.outs)).rejects.toThrow(/refusing to delete domain .*"by-hand"/s);
    expect(domainState(uri, domName)).toBe("running");
    await dp.delete!(dom.id!, { ...described.outs, deleteSnapshotsOnDestroy: true });
    expect(sessionDomains()).not.toContain(domName);
    made.domains.delete(domName);
    // Metadata gone, contents kept in the image; the remote URI's archive went into the pool as a volume.
    expect(qcow2Snapshots(join(dir, "disk.qcow2"))).toEqual(["by-hand"]);
    const archive = virsh(uri, "vol-list", poolName)
      .split("\n")
      .map((l) => l.trim().split(/\s+/)[0])
      .find((v) => v.startsWith(`${domName}.snapshots-`));
    expect(archive).toBeDefined();
    expect(JSON.parse(readFileSync(join(dir, archive!), "utf8")).format).toBe("libvirt-pulumi-snapshot-archive");

    // The Pool still holds the Volume: refused, nothing changed.
    await expect(pp.delete!(pool.id!, pool.outs)).rejects.toThrow(/refusing to delete storage pool .*"disk\.qcow2".*deleteVolumesOnDestroy/s);
    expect(virsh(uri, "pool-info", poolName)).toMatch(/State:\s+running/);

    // The Volume holds an internal snapshot: refused without deleteSnapshotDataOnDestroy.
    await expect(vp.delete!(vol.id!, vol.outs)).rejects.toThrow(/by-hand.*deleteSnapshotDataOnDestroy/s);
    expect(virsh(uri, "vol-list", poolName)).toContain("disk.qcow2");
    await vp.delete!(vol.id!, { ...vol.outs, deleteSnapshotDataOnDestroy: true });
    expect(virsh(uri, "vol-list", poolName)).not.toContain("disk.qcow2");

    // Only the archive is left, which a pool delete keeps in the directory.
    await pp.delete!(pool.id!, pool.outs);
    expect(sessionPools()).not.toContain(poolName);
    expect(existsSync(join(dir, archive!))).toBe(true);
    made.pools.delete(poolName);
  });

  describe("host keys: known_hosts is honoured", () => {
    // Each attempt must open a connection (ssh checks the key then), not reuse a pooled one.
    beforeEach(() => provider.closeAllConnections());
    const attempt = async (u: string) => {
      const name = uniqueName("ssh-keys");
      made.pools.add(name);
      return { name, ...(await failing(async () => pp.create!(await checked(pp, { name, path: poolDir(name), uri: u })))) };
    };

    it("an unknown host key: a clear error naming known_hosts and no_verify; nothing accepted, nothing created", async () => {
      s.forgetHostKey();
      try {
        const { err, ms, name } = await attempt(uri);
        expect(ms).toBeLessThan(10_000);
        expect(err.message).toMatch(/^connecting to qemu\+ssh:\/\/lvp-test@127\.0\.0\.1:\d+\/session\?keyfile=\S+: .*Host key verification failed/);
        expect(err.message).toMatch(/not in the known_hosts of the user the provider runs as/);
        expect(err.message).toContain(`ssh-keyscan -p ${s.port} 127.0.0.1`);
        expect(err.message).toMatch(/no_verify=1 in the URI skips the check/);
        expectNoSecrets(err.message);
        // Never a silent accept: ssh saved no key.
        expect(s.hostKnown()).toBe(false);
        s.trustHostKey();
        expect(sessionPools()).not.toContain(name);
      } finally {
        s.trustHostKey();
      }
    });

    it("a changed host key: refused, the message says to find out why and how to replace the line", async () => {
      s.trustHostKey(s.otherHostKey);
      try {
        const { err, name } = await attempt(uri);
        expect(err.message).toMatch(/Host key verification failed/);
        expect(err.message).toMatch(/the host's key differs.*find out why/);
        expect(err.message).toContain(`ssh-keygen -R '[127.0.0.1]:${s.port}'`);
        s.trustHostKey();
        expect(sessionPools()).not.toContain(name);
      } finally {
        s.trustHostKey();
      }
    });

    it("no_verify=1 accepts an unknown key and saves it (ssh's StrictHostKeyChecking=no); with libvirt 9 it accepts a changed one too", async () => {
      const noVerify = s.uri({ no_verify: "1" });
      const probe = () =>
        provider.withConnection({ uri: noVerify }, (c) => c.call("reading capabilities", "virConnectGetCapabilities", c.ptr as never));
      try {
        s.forgetHostKey();
        expect(await probe()).toMatch(/<capabilities>/);
        expect(s.hostKnown()).toBe(true);
        await provider.closeAllConnections();
        s.trustHostKey(s.otherHostKey);
        expect(await probe()).toMatch(/<capabilities>/);
      } finally {
        await provider.closeAllConnections();
        s.trustHostKey();
      }
    });
  });

  describe("the libssh and libssh2 transports: known_hosts= names the file", () => {
    beforeEach(() => provider.closeAllConnections());
    const probe = (u: string) => provider.withConnection({ uri: u }, (c) => c.call("reading the URI", "virConnectGetURI", c.ptr as never));
    const libUri = (transport: string, knownHosts: string) =>
      s.uri({ known_hosts: knownHosts, sshauth: "privkey" }).replace("qemu+ssh://", `qemu+${transport}://`);

    it.each(["libssh", "libssh2"])(
      "qemu+%s: the key in that file connects; a file without it refuses, naming known_hosts= and known_hosts_verify",
      async (transport) => {
        const listed = join(s.dir, `${transport}-known_hosts`);
        writeFileSync(listed, `[127.0.0.1]:${s.port} ${s.hostKey}\n`);
        const empty = join(s.dir, `${transport}-empty_known_hosts`);
        writeFileSync(empty, "");
        expect(await probe(libUri(transport, listed))).toBe(libUri(transport, listed));
        const { err, ms } = await failing(() => probe(libUri(transport, empty)));
        expect(ms).toBeLessThan(10_000);
        expect(err.message).toMatch(/host key/i);
        expect(err.message).toMatch(/known_hosts=.*known_hosts_verify=auto/s);
        // Nothing accepted silently.
        expect(readFileSync(empty, "utf8")).toBe("");
      },
    );
  });

  describe("authentication and the URI's parameters", () => {
    beforeEach(() => provider.closeAllConnections());
    it("a key sshd does not accept (keyfile=): Permission denied, naming keyfile and authorized_keys; nothing created", async () => {
      const name = uniqueName("ssh-auth");
      made.pools.add(name);
      const { err, ms } = await failing(async () =>
        pp.create!(await checked(pp, { name, path: poolDir(name), uri: s.uri({ keyfile: s.otherKey }) })),
      );
      expect(ms).toBeLessThan(10_000);
      expect(err.message).toMatch(/Permission denied \(publickey\)/);
      expect(err.message).toMatch(/refused the login of lvp-test.*keyfile= \(\/run\/lvp-ssh-\w+\/other_key/s);
      expect(err.message).toContain("~lvp-test/.ssh/authorized_keys on the host");
      expectNoSecrets(err.message);
      expect(sessionPools()).not.toContain(name);
      expect(s.log()).toMatch(/Failed publickey for lvp-test|Connection closed by authenticating user lvp-test/);
    });

    it("a keyfile that does not exist: says it cannot be read", async () => {
      const { err } = await failing(() =>
        provider.withConnection({ uri: s.uri({ keyfile: "/nonexistent/lvp-key" }) }, (c) =>
          c.call("reading capabilities", "virConnectGetCapabilities", c.ptr as never),
        ),
      );
      expect(err.message).toMatch(/keyfile= \(\/nonexistent\/lvp-key\) cannot be read.*refused the login/s);
    });

    it("socket= with proxy=netcat reaches the daemon on that socket; a wrong socket says what to check", async () => {
      const sock = join(SSH_USER_HOME, ".cache/libvirt/libvirt-sock");
      // The session daemon runs (virt-ssh-helper started it for the earlier tests; nc cannot start it).
      expect(virsh(uri, "version")).toMatch(/Running hypervisor: QEMU/);
      const viaNc = s.uri({ proxy: "netcat", socket: sock });
      const probe = (u: string) =>
        provider.withConnection({ uri: u }, async (c) => {
          const doms = await c.listDomains();
          const names = doms.map((d) => d.name()).sort();
          doms.forEach((d) => d.free());
          return names;
        });
      // The hypervisor the default proxy (virt-ssh-helper) reaches: the domain defined there is seen.
      const name = defineDomainByHand("ssh-nc", { uri }, made.domains);
      const seen = await probe(viaNc);
      expect(seen).toContain(name);
      expect(seen).toEqual(sessionDomains().sort());
      const { err } = await failing(() => probe(s.uri({ proxy: "netcat", socket: "/nonexistent/libvirt-sock" })));
      expect(err.message).toMatch(/nc: \/nonexistent\/libvirt-sock: No such file or directory/);
      expect(err.message).toMatch(/SSH login to lvp-test@127\.0\.0\.1 worked, but the far side could not reach libvirt.*socket=/s);
    });

    it("an sshd that accepts and never answers: cut off by the connect timeout, with what to check; ssh ends when the peer goes", async () => {
      const sockets: Socket[] = [];
      const silent: Server = createServer((sock) => sockets.push(sock));
      const port = await freePort();
      await new Promise<void>((resolve) => silent.listen(port, "127.0.0.1", resolve));
      const before = process.env.LIBVIRT_PULUMI_CONNECT_TIMEOUT_MS;
      process.env.LIBVIRT_PULUMI_CONNECT_TIMEOUT_MS = "3000";
      const hung = s.uri().replace(`:${s.port}/`, `:${port}/`);
      try {
        const { err, ms } = await failing(() => provider.withConnection({ uri: hung }, (c) => c.call("x", "virConnectGetURI", c.ptr as never)));
        expect(ms).toBeGreaterThanOrEqual(2900);
        expect(ms).toBeLessThan(6000);
        expect(err.message).toMatch(/no answer within 3 s/);
        expect(err.message).toContain(`the SSH server at 127.0.0.1:${port} accepted the connection but did not finish the SSH exchange`);
        expect(err.message).toMatch(/LIBVIRT_PULUMI_CONNECT_TIMEOUT_MS/);
        expect(sockets.length).toBeGreaterThan(0);
        // The ssh that libvirt runs (still waiting): in batch mode, from the no_tty=1 the provider added.
        const [cmd] = sshProcesses(port);
        expect(cmd).toBeDefined();
        expect(cmd.join(" ")).toContain("-o BatchMode=yes");
        expect(cmd.join(" ")).not.toContain("StrictHostKeyChecking");
      } finally {
        if (before === undefined) delete process.env.LIBVIRT_PULUMI_CONNECT_TIMEOUT_MS;
        else process.env.LIBVIRT_PULUMI_CONNECT_TIMEOUT_MS = before;
        for (const sock of sockets) sock.destroy();
        await new Promise<void>((resolve) => silent.close(() => resolve()));
      }
      // The ssh child that libvirt started ends once its peer is gone (no ssh left on that port).
      const sshOnPort = () => sshProcesses(port).length > 0;
      for (let i = 0; i < 50 && sshOnPort(); i++) await new Promise((r) => setTimeout(r, 100));
      expect(sshOnPort()).toBe(false);
    });
  });
});
