// The `auth` input of all four resources, and URIs that carry credentials:
// check names the property and never repeats a password; redactUri hides
// passwords wherever a URI appears in a text. That credentials given in `auth`
// reach libvirt is tested where they matter, on a SASL listener
// (test/integration/remote-sasl.test.ts): test:///default takes any.
import { afterAll, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";
import { uniqueName } from "../helpers/host";

const { domainProvider, snapshotProvider, poolProvider, volumeProvider, redactUri, uriHasPassword } = provider;
const PASSWORD = "pw-unit-7f3a9c1e";
const TEST_URI = "test:///default";

afterAll(() => provider.closeAllConnections());

const kinds = [
  ["Domain", domainProvider, { name: "web", memoryMiB: 64 }],
  ["Snapshot", snapshotProvider, { name: "before", domain: "test" }],
  ["Pool", poolProvider, { name: "images", path: "/var/lib/libvirt/images/x" }],
  ["Volume", volumeProvider, { name: "a.qcow2", pool: "default-pool", capacity: "1MiB" }],
] as const;

const badAuth: Array<[label: string, auth: unknown, property: string, reason: RegExp]> = [
  ["no password", { username: "admin" }, "auth.password", /must be a string .*Pulumi secret/],
  ["no username", { password: PASSWORD }, "auth.username", /must be a string .*saslpasswd2/],
  ["empty password", { username: "admin", password: "" }, "auth.password", /must not be empty/],
  ["empty username", { username: "", password: PASSWORD }, "auth.username", /must not be empty/],
  ["password a number", { username: "admin", password: 1234 }, "auth.password", /must be a string/],
  ["username with a newline", { username: "ad\nmin", password: PASSWORD }, "auth.username", /control characters/],
  ["password with NUL", { username: "admin", password: `${PASSWORD}\0` }, "auth.password", /NUL/],
  ["unknown key", { username: "admin", password: PASSWORD, realm: PASSWORD }, "auth.realm", /unknown property "realm"/],
  ["a string", PASSWORD, "auth", /must be an object \{ username, password \}/],
];

describe.each(kinds)("%s check: auth", (_kind, prov, base) => {
  it.each(badAuth)("%s → %s", async (_label, auth, property, reason) => {
    const { failures } = await prov.check!({}, { ...base, uri: TEST_URI, auth });
    expect(failures).toHaveLength(1);
    expect(failures![0].property).toBe(property);
    expect(failures![0].reason).toMatch(reason);
    expect(JSON.stringify(failures)).not.toContain(PASSWORD);
  });

  it("good credentials pass and are kept as given", async () => {
    const { inputs, failures } = await prov.check!({}, { ...base, uri: TEST_URI, auth: { username: "admin", password: PASSWORD } });
    expect(failures).toEqual([]);
    expect(inputs.auth).toEqual({ username: "admin", password: PASSWORD });
  });

  const uris = [
    ["userinfo", `qemu+tcp://admin:${PASSWORD}@127.0.0.1/system`],
    ["userinfo, empty user", `qemu+tcp://:${PASSWORD}@host/system`],
    ["password parameter", `qemu+tcp://host/system?password=${PASSWORD}`],
    ["passwd parameter after another", `qemu+ssh://root@host/system?keyfile=/k&passwd=${PASSWORD}`],
  ] as const;
  it.each(uris)("a URI with a password (%s) is refused on uri, naming auth, without repeating it", async (_label, uri) => {
    const { failures } = await prov.check!({}, { ...base, uri });
    expect(failures).toHaveLength(1);
    expect(failures![0].property).toBe("uri");
    expect(failures![0].reason).toMatch(/must not embed a password.*give the credentials in auth \(\{ username, password \}, a Pulumi secret\)/);
    expect(JSON.stringify(failures)).not.toContain(PASSWORD);
    // A create that gets it anyway refuses before connecting, without the password.
    const err = await prov.create!({ ...base, uri }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/uri must not embed a password/);
    expect(err?.message).not.toContain(PASSWORD);
  });

  it("a user name alone in the URI is fine", async () => {
    const { failures } = await prov.check!({}, { ...base, uri: "qemu+ssh://root@host/system" });
    expect(failures).toEqual([]);
  });
});

describe("redactUri", () => {
  it.each([
    [`qemu+tcp://admin:${PASSWORD}@host/system`, "qemu+tcp://admin:***@host/system"],
    [
      `failed to connect to qemu+tcp://admin:${PASSWORD}@host:16509/system: refused`,
      "failed to connect to qemu+tcp://admin:***@host:16509/system: refused",
    ],
    [`a qemu+ssh://u:${PASSWORD}@h/system and b qemu+tcp://v:${PASSWORD}@k/system`, "a qemu+ssh://u:***@h/system and b qemu+tcp://v:***@k/system"],
    [`qemu+tcp://host/system?password=${PASSWORD}&no_verify=1`, "qemu+tcp://host/system?password=***&no_verify=1"],
    [`qemu+tcp://host/system?no_verify=1&pwd=${PASSWORD}`, "qemu+tcp://host/system?no_verify=1&pwd=***"],
    [`qemu+tcp://host/system?pass=${PASSWORD}`, "qemu+tcp://host/system?pass=***"],
    ["qemu+ssh://root@host/system?keyfile=/root/.ssh/id_passwordless", "qemu+ssh://root@host/system?keyfile=/root/.ssh/id_passwordless"],
    ["qemu+ssh://root@host/system", "qemu+ssh://root@host/system"],
    ["qemu:///system", "qemu:///system"],
  ])("%s", (text, redacted) => {
    expect(redactUri(text)).toBe(redacted);
    expect(uriHasPassword(text)).toBe(redacted !== text);
  });
});

describe("auth in diff and in LIBVIRT_DEFAULT_URI", () => {
  it("a changed password is an in-place change, never a replacement", async () => {
    const olds = {
      name: "web",
      uri: TEST_URI,
      memoryMiB: 64,
      vcpus: 1,
      running: true,
      persistent: true,
      autostart: false,
      auth: { username: "admin", password: "old" },
    };
    const diff = await domainProvider.diff!("id", olds, { ...olds, auth: { username: "admin", password: PASSWORD } });
    expect(diff.changes).toBe(true);
    expect(diff.replaces).toEqual([]);
    const volumeDiff = await volumeProvider.diff!(
      "id",
      { name: "a.qcow2", pool: "p", uri: TEST_URI, capacity: 1048576, format: "qcow2", auth: olds.auth } as never,
      { name: "a.qcow2", pool: "p", uri: TEST_URI, capacity: "1MiB", auth: { username: "admin", password: PASSWORD } },
    );
    expect(volumeDiff.changes).toBe(true);
    expect(volumeDiff.replaces).toEqual([]);
  });

  it("LIBVIRT_DEFAULT_URI with a password is refused at connect, and the message hides it", async () => {
    process.env.LIBVIRT_DEFAULT_URI = `test://admin:${PASSWORD}@/default`;
    try {
      const { inputs } = await domainProvider.check!({}, { name: uniqueName("env"), memoryMiB: 64 });
      const err = await domainProvider.create!(inputs).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message).toMatch(
        /^connecting to test:\/\/admin:\*\*\*@\/default: the URI \(from LIBVIRT_DEFAULT_URI\) embeds a password.*give the credentials in auth/,
      );
      expect(err?.message).not.toContain(PASSWORD);
    } finally {
      delete process.env.LIBVIRT_DEFAULT_URI;
    }
  });
});
