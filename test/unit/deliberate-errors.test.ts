// Issue 13 item 7: a refusal is printed once, on the resource. Pulumi's
// dynamic-provider host (@pulumi/pulumi cmd/dynamic-provider/index.js) writes
// `${e}: ${e.stack}` with console.error for a failed check, diff, read or delete
// before returning the error, and the engine shows that stderr under the Stack.
// `host()` below does what the host does; the provider drops that one echo for
// an error raised on purpose, and nothing else.
import { describe, expect, it } from "vitest";
import { built, provider } from "../helpers/lib";

// Recorded before any provider error: the provider's filter wraps whatever console.error is then.
const printed: string[] = [];
console.error = (...args: unknown[]) => void printed.push(args.map(String).join(" "));

const { defineProvider } = built<typeof import("../../provider/resource/provider")>("provider/resource/provider");
const { TeardownRefusedError, SnapshotOptionError } = provider;
const { DeliberateError, InvalidInputsError } = built<typeof import("../../provider/deliberate")>("provider/deliberate");

const refusal = 'refusing to delete domain "web" (nothing was changed on this domain): (1) it has 1 snapshot ("by-hand")';

const spec = { name: "Thing", inputs: {} } as never;
const kit = defineProvider<Record<string, never>, { id: string }>({
  spec,
  check: (news) =>
    news.bad
      ? { inputs: undefined, failures: [{ property: "bad", reason: "is not allowed" }], unknownKeys: new Set<string>() }
      : { inputs: news as Record<string, never>, failures: [], unknownKeys: new Set<string>() },
  create: async () => {
    throw new Error("not used");
  },
  read: async () => {
    throw new Error("the daemon went away");
  },
  update: async () => {
    throw new Error("not used");
  },
  delete: async () => {
    console.error("progress: looking at the snapshots");
    throw new TeardownRefusedError(refusal);
  },
});

/** What the host does with a failed delete/read: the echo on stderr, then the error over gRPC. */
async function host(call: () => Promise<unknown>): Promise<Error> {
  try {
    await call();
  } catch (e) {
    console.error(`${e}: ${(e as Error).stack}`);
    return e as Error;
  }
  throw new Error("expected a failure");
}

describe("errors raised on purpose leave the provider once", () => {
  it("a refused delete: the host's echo is dropped, the error keeps its message, no stack trace; other lines stay", async () => {
    printed.length = 0;
    const err = await host(() => kit.delete!("id", { id: "id" }));
    expect(err).toBeInstanceOf(TeardownRefusedError);
    expect(err.message).toBe(refusal);
    expect(err.stack).toBe(`TeardownRefusedError: ${refusal}`);
    expect(printed).toEqual(["progress: looking at the snapshots"]);
  });

  it("each refusal's echo is dropped once: two refusals at once, two echoes dropped, a third identical line printed", async () => {
    printed.length = 0;
    await Promise.all([host(() => kit.delete!("a", { id: "a" })), host(() => kit.delete!("b", { id: "b" }))]);
    const echo = `TeardownRefusedError: ${refusal}: TeardownRefusedError: ${refusal}`;
    console.error(echo);
    expect(printed.filter((l) => l.includes(refusal))).toEqual([echo]);
  });

  it("an unexpected error is echoed as before, with its stack trace", async () => {
    printed.length = 0;
    const err = await host(() => kit.read!("id", { id: "id" }));
    expect(err.message).toBe("the daemon went away");
    expect(printed).toHaveLength(1);
    expect(printed[0]).toMatch(/^Error: the daemon went away: Error: the daemon went away\n\s+at /);
  });

  it("the kit's input error at create is deliberate: one line, no trace", async () => {
    const err = await kit.create!({ bad: true }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(InvalidInputsError);
    expect((err as Error).stack).toBe("InvalidInputsError: invalid Thing inputs: bad is not allowed");
  });

  it("input errors, teardown refusals and snapshot option refusals are deliberate and carry no trace", () => {
    for (const err of [
      new InvalidInputsError("invalid Thing inputs: x is bad"),
      new TeardownRefusedError("no"),
      new SnapshotOptionError("quiesce", "no agent"),
    ]) {
      expect(err).toBeInstanceOf(DeliberateError);
      expect(err.stack).toBe(`${err.name}: ${err.message}`);
    }
    expect(new SnapshotOptionError("quiesce", "no agent").name).toBe("SnapshotOptionError");
  });
});
