// The stack's default hypervisor (`libvirt-pulumi:uri` in the stack config), on
// the provider's side: the SDK sends it as `__stackUri`; check resolves the URI
// from it only where the resource gives none, at creation; afterwards the URI
// recorded then stands, and a changed default is said, never acted on.
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { provider } from "../helpers/lib";

const { domainProvider, volumeProvider, withConnection, closeAllConnections } = provider;
const URI = "test:///default";
let seq = 0;
const uniqueName = (label: string) => `unit-stack-${label}-${process.pid}-${++seq}`;

/** What the provider printed (console.error) while `fn` ran, and its result. */
async function printing<T>(fn: () => Promise<T>): Promise<{ value: T; printed: string }> {
  const spy = vi.spyOn(console, "error").mockImplementation(() => {});
  try {
    const value = await fn();
    return { value, printed: spy.mock.calls.map((c) => c.join(" ")).join("\n") };
  } finally {
    spy.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());
afterAll(() => closeAllConnections());

describe("a resource without uri takes the stack default when it is created", () => {
  it("check resolves uri from the stack default, and the domain is made on that hypervisor", async () => {
    const name = uniqueName("create");
    const { inputs, failures } = await domainProvider.check!({}, { name, memoryMiB: 64, __stackUri: URI });
    expect(failures).toEqual([]);
    expect(inputs.uri).toBe(URI);
    expect(inputs.__stackUri).toBeUndefined(); // not recorded: only the resolved uri is
    const made = await domainProvider.create!(inputs);
    try {
      expect(made.outs.uri).toBe(URI);
      // Asked independently through the binding: it is on the test driver.
      const found = await withConnection({ uri: URI }, async (conn) => {
        const dom = await conn.lookupDomain(name);
        dom?.free();
        return dom !== null;
      });
      expect(found).toBe(true);
    } finally {
      await domainProvider.delete!(made.id, made.outs);
    }
  });

  it("the resource's own uri wins over the stack default, silently", async () => {
    const { value, printed } = await printing(() =>
      domainProvider.check!({}, { name: uniqueName("own"), memoryMiB: 64, uri: URI, __stackUri: "qemu+tcp://elsewhere/system" }),
    );
    expect(value.inputs.uri).toBe(URI);
    expect(printed).toBe("");
  });

  it("without a stack default nothing changes: uri stays unset (LIBVIRT_DEFAULT_URI, then libvirt's default, at connect time)", async () => {
    const { inputs } = await domainProvider.check!({}, { name: uniqueName("none"), memoryMiB: 64 });
    expect(inputs.uri).toBeUndefined();
  });
});

describe("a changed stack default never re-points an existing resource", () => {
  it("the URI recorded at creation stands, there is no diff, and the change is said with what to do", async () => {
    const name = uniqueName("moved");
    const created = await domainProvider.check!({}, { name, memoryMiB: 64, __stackUri: URI });
    const made = await domainProvider.create!(created.inputs);
    try {
      const { value, printed } = await printing(() =>
        domainProvider.check!(created.inputs, { name, memoryMiB: 64, __stackUri: "qemu+tcp://other.example/system" }),
      );
      expect(value.failures).toEqual([]);
      expect(value.inputs.uri).toBe(URI);
      expect(printed).toContain(`Domain "${name}" stays on hypervisor ${URI}`);
      expect(printed).toContain("libvirt-pulumi:uri is now qemu+tcp://other.example/system");
      expect(printed).toContain("set its uri to the new hypervisor (that replaces it there)");
      const diff = await domainProvider.diff!(made.id, made.outs, value.inputs);
      expect(diff.changes).toBe(false);
      expect(diff.replaces ?? []).toEqual([]);
    } finally {
      await domainProvider.delete!(made.id, made.outs);
    }
  });

  it("a resource created before any stack default keeps its hypervisor too (uri stays unset; the saved uri output stands)", async () => {
    const name = uniqueName("before");
    const olds = { name, memoryMiB: 64 };
    const { value, printed } = await printing(() =>
      domainProvider.check!(olds, { name, memoryMiB: 64, __stackUri: "qemu+tcp://other.example/system" }),
    );
    expect(value.inputs.uri).toBeUndefined();
    expect(printed).toContain(`Domain "${name}" stays on the hypervisor it was created on`);
  });

  it("an unchanged default says nothing", async () => {
    const name = uniqueName("same");
    const { value, printed } = await printing(() =>
      domainProvider.check!({ name, memoryMiB: 64, uri: URI }, { name, memoryMiB: 64, __stackUri: URI }),
    );
    expect(value.inputs.uri).toBe(URI);
    expect(printed).toBe("");
  });
});

describe("a stack default is checked like a uri input", () => {
  it("one that embeds a password is refused, on uri, without the password in the reason", async () => {
    const { failures } = await volumeProvider.check!(
      {},
      { pool: "default", name: "x.qcow2", capacity: "1MiB", __stackUri: "qemu+tcp://admin:hunter2-stack@host/system" },
    );
    expect(failures.map((f) => f.property)).toEqual(["uri"]);
    expect(JSON.stringify(failures)).not.toContain("hunter2-stack");
  });
});
