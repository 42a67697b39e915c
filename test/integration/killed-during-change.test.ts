// Item 5 of issue 11: a reconnect retry never re-runs a create that was sent.
// libvirtd dies while the create's first changing call (virDomainDefineXMLFlags,
// virDomainCreateXML, virStoragePoolDefineXML) is in flight, and the calls before it
// were only failed lookups (an explicit `type`, or raw `xml`: no capabilities read).
// Deterministic, through the connection layer's test hook: the daemon is stopped
// (SIGSTOP) just before the call is handed to its thread, so it cannot carry it
// out, and killed (SIGKILL) once the request was written to its socket. The create
// must end as "partly created" (Pulumi keeps the ID; refresh then forgets it when
// libvirt has nothing), never as a plain error, and the changing call must be sent
// exactly once — both with the daemon left down and with it back at once (where a
// retry would reconnect and send the create again). virsh says what is there.
import { readFileSync } from "node:fs";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";
import type { ProviderHooks } from "../../provider";
import { startLibvirtd, stopLibvirtd } from "../helpers/daemon";
import { QEMU_URI, domainNames, hasKvm, removeDomain, removePool, uniqueName, virsh } from "../helpers/host";

// One hooks object, shared by the providers built for this file; a test arms it.
const testHooks: ProviderHooks = {};
const domainProvider = provider.makeDomainProvider(testHooks);
const poolProvider = provider.makePoolProvider(testHooks);
const PROVIDER_KEY = "serialized-provider-text";
const made = { domains: [] as string[], pools: [] as string[] };

afterEach(() => {
  testHooks.changingCall = undefined;
  startLibvirtd(); // whatever happened, the next test (and file) gets a daemon
});

afterAll(async () => {
  await provider.closeAllConnections();
  for (const name of made.domains) removeDomain(QEMU_URI, name);
  for (const name of made.pools) removePool(QEMU_URI, name);
});

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Arms the hook for `fn`: the first time it is sent, libvirtd is frozen before and
 * killed after (then started again at once when `restart`). Returns the calls of
 * `fn` that were sent.
 */
function killDuring(fn: string, restart: boolean): string[] {
  const sent: string[] = [];
  let fired = false;
  testHooks.changingCall = (name, phase) => {
    if (name !== fn) return;
    if (phase === "sent") sent.push(name);
    if (fired && phase === "before") return;
    if (phase === "before") {
      fired = true;
      process.kill(Number(readFileSync("/run/libvirtd.pid", "utf8").trim()), "SIGSTOP");
    } else if (sent.length === 1) {
      sleepSync(300); // the call's thread writes the request to the frozen daemon's socket
      stopLibvirtd("SIGKILL");
      if (restart) startLibvirtd();
    }
  };
  return sent;
}

interface Outcome extends Error {
  id?: string;
  properties?: Record<string, unknown>;
  reasons?: string[];
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => new Error("the create succeeded although libvirtd was killed during it") as Outcome,
    (e: Outcome) => e,
  );

function expectPartlyCreated(err: Outcome, what: RegExp): void {
  expect(err.message).toMatch(what);
  expect(err.message).toMatch(/may or may not exist: it is recorded in the stack as partly created/);
  expect(err.reasons).toHaveLength(1);
  expect(err.properties?.__provider).toBe(PROVIDER_KEY);
}

const type = hasKvm() ? "kvm" : "qemu";
const poolNames = () =>
  virsh(QEMU_URI, "pool-list", "--all", "--name")
    .split("\n")
    .map((l) => l.trim());

describe("libvirtd killed while a create's first changing call is in flight", () => {
  const domainCases = [
    [
      "persistent Domain with an explicit type (virDomainDefineXMLFlags), daemon left down",
      "virDomainDefineXMLFlags",
      false,
      (name: string) => ({ name, type, memoryMiB: 64, running: false }),
    ],
    [
      "persistent Domain with an explicit type (virDomainDefineXMLFlags), daemon back at once",
      "virDomainDefineXMLFlags",
      true,
      (name: string) => ({ name, type, memoryMiB: 64, running: false }),
    ],
    [
      "transient Domain (virDomainCreateXML), daemon back at once",
      "virDomainCreateXML",
      true,
      (name: string) => ({ name, type, memoryMiB: 64, persistent: false }),
    ],
    [
      "Domain from raw xml (virDomainDefineXMLFlags), daemon back at once",
      "virDomainDefineXMLFlags",
      true,
      (name: string) => ({
        name,
        running: false,
        xml: `<domain type='${type}'><name>${name}</name><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>`,
      }),
    ],
  ] as const;

  it.each(domainCases)("%s: partly created, sent once, and refresh forgets it", async (_label, fn, restart, args) => {
    const name = uniqueName("sent-dom");
    made.domains.push(name);
    const checked = await domainProvider.check!({}, { uri: QEMU_URI, ...args(name) });
    expect(checked.failures).toEqual([]);
    const sent = killDuring(fn, restart);
    const started = Date.now();
    const err = await failure(domainProvider.create!({ ...checked.inputs, __provider: PROVIDER_KEY }));
    console.log(`${fn} (restart ${restart}): failed after ${Date.now() - started} ms: ${err.message.slice(0, 160)}`);
    testHooks.changingCall = undefined;
    expectPartlyCreated(err, new RegExp(`domain "${name}" \\(uuid [0-9a-f-]{36}\\) may or may not exist`));
    expect(sent).toEqual([fn]); // never re-run by a reconnect retry
    startLibvirtd();
    // The daemon was frozen before it could read the request: nothing exists, and refresh forgets the resource.
    expect(domainNames(QEMU_URI)).not.toContain(name);
    expect(await domainProvider.read!(err.id!, err.properties!)).toEqual({});
  });

  it("Pool (virStoragePoolDefineXML), daemon left down: partly created, sent once, and refresh forgets it", async () => {
    const name = uniqueName("sent-pool");
    made.pools.push(name);
    const checked = await poolProvider.check!({}, { name, uri: QEMU_URI, path: `/var/lib/libvirt/images/${name}` });
    expect(checked.failures).toEqual([]);
    const sent = killDuring("virStoragePoolDefineXML", false);
    const err = await failure(poolProvider.create!({ ...checked.inputs, __provider: PROVIDER_KEY }));
    testHooks.changingCall = undefined;
    expectPartlyCreated(err, new RegExp(`storage pool "${name}" \\(uuid [0-9a-f-]{36}\\) may or may not exist`));
    expect(sent).toEqual(["virStoragePoolDefineXML"]);
    startLibvirtd();
    expect(poolNames()).not.toContain(name);
    expect(await poolProvider.read!(err.id!, err.properties!)).toEqual({});
  });
});
