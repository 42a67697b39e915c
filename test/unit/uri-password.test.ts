// Item 10 of issue 11: a password in a URI never appears in a message, however it
// is spelled. check refuses every spelling (userinfo, percent-encoded, "#", "/",
// "?" or spaces inside it, password-like parameters in ?, &, ; or # with any case or
// encoding of the key), and redactUri hides every spelling wherever a URI is
// printed — including libvirt's own text, which repeats a URI it cannot parse.
import { describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";

const { domainProvider, snapshotProvider, poolProvider, volumeProvider, redactUri, uriHasPassword, LibvirtError } = provider;
const SECRET = "Zq7secret";

const kinds = [
  ["Domain", domainProvider, { name: "web", memoryMiB: 64 }],
  ["Snapshot", snapshotProvider, { name: "before", domain: "test" }],
  ["Pool", poolProvider, { name: "images", path: "/var/lib/libvirt/images/x" }],
  ["Volume", volumeProvider, { name: "a.qcow2", pool: "default-pool", capacity: "1MiB" }],
] as const;

/** [label, URI, the password text that must never be repeated] */
const spellings: Array<[string, string, string]> = [
  ["plain userinfo", `qemu+tcp://u:${SECRET}@127.0.0.1/system`, SECRET],
  ["# in the password", `qemu+tcp://u:pa#${SECRET}@127.0.0.1/system`, `pa#${SECRET}`],
  ["%23 (encoded #) in the password", `qemu+tcp://u:pa%23${SECRET}@127.0.0.1/system`, SECRET],
  ["/ in the password", `qemu+tcp://u:pa/${SECRET}@127.0.0.1/system`, SECRET],
  ["? in the password", `qemu+tcp://u:pa?${SECRET}@127.0.0.1/system`, SECRET],
  ["space in the password", `qemu+tcp://u:pa ${SECRET}@127.0.0.1/system`, SECRET],
  ["; in the password", `qemu+tcp://u:pa;${SECRET}@127.0.0.1/system`, SECRET],
  ["colon encoded %3A", `qemu+tcp://u%3A${SECRET}@127.0.0.1/system`, SECRET],
  ["colon encoded %3a (lower case)", `qemu+tcp://u%3a${SECRET}@127.0.0.1/system`, SECRET],
  ["colon encoded twice %253A", `qemu+tcp://u%253A${SECRET}@127.0.0.1/system`, SECRET],
  ["empty user", `qemu+tcp://:${SECRET}@127.0.0.1/system`, SECRET],
  ["upper-case scheme", `QEMU+TCP://u:${SECRET}@127.0.0.1/system`, SECRET],
  ["?password=", `qemu+tcp://127.0.0.1/system?password=${SECRET}`, SECRET],
  ["?PASSWORD= (upper case)", `qemu+tcp://127.0.0.1/system?PASSWORD=${SECRET}`, SECRET],
  ["?pwd=", `qemu+tcp://127.0.0.1/system?pwd=${SECRET}`, SECRET],
  ["?pass=", `qemu+tcp://127.0.0.1/system?pass=${SECRET}`, SECRET],
  ["?passwd=", `qemu+tcp://127.0.0.1/system?passwd=${SECRET}`, SECRET],
  ["?passphrase=", `qemu+tcp://127.0.0.1/system?passphrase=${SECRET}`, SECRET],
  ["?secret=", `qemu+tcp://127.0.0.1/system?secret=${SECRET}`, SECRET],
  ["&Pwd= after another parameter", `qemu+ssh://root@h/system?keyfile=/k&Pwd=${SECRET}`, SECRET],
  [";password= parameter", `qemu+tcp://127.0.0.1/system;password=${SECRET}`, SECRET],
  ["#password= fragment", `qemu+tcp://127.0.0.1/system#password=${SECRET}`, SECRET],
  ["key percent-encoded (pass%77ord)", `qemu+tcp://127.0.0.1/system?pass%77ord=${SECRET}`, SECRET],
  ["= percent-encoded (password%3D)", `qemu+tcp://127.0.0.1/system?password%3D${SECRET}`, SECRET],
  ["# inside the parameter value", `qemu+tcp://127.0.0.1/system?password=pa#${SECRET}`, SECRET],
  ["space inside the parameter value", `qemu+tcp://127.0.0.1/system?password=pa ${SECRET}`, SECRET],
  ["the @ percent-encoded (%40): no userinfo, the password where the port goes", `qemu+tcp://u:${SECRET}%40127.0.0.1/system`, SECRET],
];

const clean = [
  "qemu:///system",
  "qemu:///session",
  "test:///default",
  "qemu+ssh://root@host/system",
  "qemu+ssh://root@host:2222/system?keyfile=/root/.ssh/id_passwordless",
  "qemu+tcp://127.0.0.1:16509/system",
  "qemu+ssh://user@[::1]:22/system?no_verify=1&sshauth=password",
  "qemu:///system?socket=/run/libvirt/libvirt-sock",
  "qemu+ssh://host:2222/system?keyfile=/keys/a%40b",
  "qemu+tcp://[::1]:16509/system",
  "qemu+tcp://127.0.0.1:16509",
  "qemu+tcp://127.0.0.1:/system",
];

describe.each(kinds)("%s check: a URI password in any spelling is refused on uri, without repeating it", (_kind, prov, base) => {
  it.each(spellings)("%s", async (_label, uri, secret) => {
    const { failures } = await prov.check!({}, { ...base, uri });
    expect(failures).toHaveLength(1);
    expect(failures![0].property).toBe("uri");
    expect(failures![0].reason).toMatch(/must not embed a password.*auth/);
    expect(JSON.stringify(failures)).not.toContain(SECRET);
    expect(JSON.stringify(failures)).not.toContain(secret);
  });

  it('an "@" after host:port looks like a password and is refused; written as %40 it passes', async () => {
    const refused = await prov.check!({}, { ...base, uri: "qemu+ssh://host:2222/system?keyfile=/keys/a@b" });
    expect(refused.failures?.[0]?.reason).toMatch(/written as %40/);
    const passed = await prov.check!({}, { ...base, uri: "qemu+ssh://host:2222/system?keyfile=/keys/a%40b" });
    expect(passed.failures).toEqual([]);
  });

  it.each(clean)("%s passes", async (uri) => {
    const { failures } = await prov.check!({}, { ...base, uri });
    expect(failures).toEqual([]);
  });
});

describe("redactUri hides every spelling, alone and inside a message", () => {
  it.each(spellings)("%s", (_label, uri, secret) => {
    expect(uriHasPassword(uri)).toBe(true);
    for (const text of [uri, `internal error: Unable to parse URI ${uri}`, `connecting to ${uri}: refused (retry)\nnext line`]) {
      const out = redactUri(text);
      expect(out).not.toContain(SECRET);
      expect(out).not.toContain(secret);
      expect(out).toContain("***");
    }
  });

  it.each([
    [`qemu+tcp://u:pa#${SECRET}@127.0.0.1/system`, "qemu+tcp://u:***@127.0.0.1/system"],
    [`qemu+tcp://u%3A${SECRET}@127.0.0.1/system`, "qemu+tcp://u:***@127.0.0.1/system"],
    [`qemu+tcp://h/system?a=1&pwd=${SECRET}&b=2`, "qemu+tcp://h/system?a=1&pwd=***&b=2"],
    [`qemu+tcp://h/system;PASSWORD=${SECRET}`, "qemu+tcp://h/system;PASSWORD=***"],
  ])("keeps the rest readable: %s", (text, redacted) => {
    expect(redactUri(text)).toBe(redacted);
  });

  it.each(clean)("%s is left as it is", (uri) => {
    expect(uriHasPassword(uri)).toBe(false);
    expect(redactUri(uri)).toBe(uri);
  });

  it("a LibvirtError built from libvirt's own text never carries the password, in any part", () => {
    for (const [, uri, secret] of spellings) {
      const err = new LibvirtError(`connecting to ${uri}`, 1, 0, `Unable to parse URI ${uri}`, `check ${uri}`);
      for (const text of [err.message, err.libvirtMessage, err.operation]) {
        expect(text).not.toContain(SECRET);
        expect(text).not.toContain(secret);
      }
    }
  });
});
