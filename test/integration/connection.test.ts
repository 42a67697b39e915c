// Connections survive a daemon restart: the pooled connection is found dead
// and replaced, and the operation succeeds.
import { afterAll, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";
import { QEMU_URI } from "../helpers/host";
import { restartLibvirtd } from "../helpers/daemon";

const { withConnection, closeAllConnections } = provider;

afterAll(() => closeAllConnections());

describe("daemon restart between two operations", () => {
  it("the next operation reconnects and succeeds", async () => {
    const before = await withConnection({ uri: QEMU_URI }, async (c) => {
      await c.call("reading capabilities", "virConnectGetCapabilities", c.ptr as never);
      return c;
    });
    restartLibvirtd();
    const after = await withConnection({ uri: QEMU_URI }, async (c) => {
      const caps = await c.call("reading capabilities", "virConnectGetCapabilities", c.ptr as never);
      return { conn: c, caps };
    });
    expect(after.caps).toMatch(/<capabilities>/);
    expect(after.conn).not.toBe(before);
  });
});
