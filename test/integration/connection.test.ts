// Connections survive a daemon restart: the pooled connection is found dead
// and replaced, and the operation succeeds.
import { execFileSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";
import { QEMU_URI } from "../helpers/host";

const { withConnection, closeAllConnections } = provider;

afterAll(() => closeAllConnections());

function restartLibvirtd(): void {
  execFileSync("pkill", ["-x", "libvirtd"]);
  for (let i = 0; i < 50 && spawnOk("pgrep", ["-x", "libvirtd"]); i++) execFileSync("sleep", ["0.1"]);
  execFileSync("libvirtd", ["-d"]);
  for (let i = 0; i < 100; i++) {
    if (spawnOk("virsh", ["-c", QEMU_URI, "version"])) return;
    execFileSync("sleep", ["0.1"]);
  }
  throw new Error("libvirtd did not come back");
}

function spawnOk(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

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
