// A connect timeout names the configured limit (LIBVIRT_PULUMI_CONNECT_TIMEOUT_MS),
// not what was left of it when the open reached its opener thread. Found by
// test/e2e/hung-refresh.test.ts: with 40 refreshes at once, one of them reported
// "no answer within 2.999 s" for a 3000 ms limit. Here that passing millisecond is
// made certain: Date.now advances 1 ms on every call, as on a busy machine (with a
// limit above the opener's 1 s floor). The host is a loopback listener that
// accepts connections and never answers.
import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { provider } from "../helpers/lib";

const { domainProvider } = provider;
let server: Server;
const sockets: Socket[] = [];
let port = 0;

beforeAll(async () => {
  server = createServer((s) => {
    sockets.push(s);
    s.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  vi.restoreAllMocks();
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => server.close(resolve));
  delete process.env.LIBVIRT_PULUMI_CONNECT_TIMEOUT_MS;
  await provider.closeAllConnections();
});

describe("the connect timeout's message", () => {
  it.each([
    ["uncredentialed", undefined],
    ["credentialed", { username: "u", password: "Zq7-not-printed" }],
  ])("%s open of a host that never answers: says the configured limit, never a remainder", async (_what, auth) => {
    process.env.LIBVIRT_PULUMI_CONNECT_TIMEOUT_MS = "2000";
    let clock = Date.now();
    const spy = vi.spyOn(Date, "now").mockImplementation(() => (clock += 1));
    // Its own URI per case (a path of its own): each gets a fresh circuit.
    const uri = `qemu+tcp://127.0.0.1:${port}/system?name=${auth ? "cred" : "plain"}`;
    try {
      const err = await domainProvider.read!("00000000-0000-4000-8000-000000000001", { name: "d", uri, auth } as never).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message).toMatch(
        /^connecting to qemu\+tcp:\/\/127\.0\.0\.1:\d+\/system\?name=\w+: no answer within 2 s \(.*LIBVIRT_PULUMI_CONNECT_TIMEOUT_MS sets the limit\)$/,
      );
      expect(err?.message).not.toContain("Zq7-not-printed");
    } finally {
      spy.mockRestore();
    }
  });
});
