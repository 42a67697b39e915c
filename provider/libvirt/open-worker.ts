// Runs in a worker thread. Opening a connection may block (a remote host, an
// authentication exchange), and a failed open leaves its error in the opening
// thread's libvirt error slot. Doing the whole open synchronously here keeps the
// main event loop free and reads that error on the right thread.
import { parentPort } from "node:worker_threads";
import { native } from "./native";
import { virConnectCredentialType } from "./libvirt.gen";
import type { OpenReply, OpenRequest } from "./open-protocol";

function openConnection(req: OpenRequest): OpenReply {
  const n = native();
  const { koffi } = n;
  n.sync.virResetLastError();
  let conn;
  if (req.auth) {
    conn = openWithCredentials(req, n);
  } else {
    conn = n.sync.virConnectOpen(req.uri);
  }
  if (!conn) {
    const e = n.decodeError(n.sync.virGetLastError());
    return { id: req.id, error: e ?? { code: 1, domain: 0, message: "unknown error", level: 2, str1: null, int1: 0 } };
  }
  const uri = n.sync.virConnectGetURI(conn) ?? req.uri ?? "";
  return { id: req.id, address: koffi.address(conn), uri };
}

function openWithCredentials(req: OpenRequest, n: ReturnType<typeof native>) {
  const { koffi } = n;
  const libc = koffi.load("libc.so.6");
  const strdup = libc.func("void *strdup(const char *s)");
  const { username, password } = req.auth!;
  const types = [virConnectCredentialType.VIR_CRED_AUTHNAME, virConnectCredentialType.VIR_CRED_PASSPHRASE];
  const callback = koffi.register((creds: unknown, ncred: number) => {
    const list = koffi.decode(creds, "virConnectCredential", ncred) as Array<{ type: number }>;
    const size = koffi.sizeof("virConnectCredential");
    for (let i = 0; i < ncred; i++) {
      const value =
        list[i].type === virConnectCredentialType.VIR_CRED_AUTHNAME
          ? username
          : list[i].type === virConnectCredentialType.VIR_CRED_PASSPHRASE
            ? password
            : null;
      if (value === null) return -1;
      // libvirt frees `result` itself, so it must come from malloc.
      koffi.encode(creds, i * size, "virConnectCredential", { ...list[i], result: strdup(value), resultlen: Buffer.byteLength(value) });
    }
    return 0;
  }, koffi.pointer("virConnectAuthCallback"));
  try {
    return n.sync.virConnectOpenAuth(req.uri, { credtype: types, ncredtype: types.length, cb: callback, cbdata: null }, 0);
  } finally {
    koffi.unregister(callback);
  }
}

parentPort!.on("message", (req: OpenRequest) => {
  let reply: OpenReply;
  try {
    reply = openConnection(req);
  } catch (err) {
    reply = { id: req.id, fatal: (err as Error).message };
  }
  parentPort!.postMessage(reply);
});
