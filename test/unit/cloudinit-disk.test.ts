// CloudInitDisk without a hypervisor: check, the files' YAML, the instance-id,
// and the ISO itself, read back with an independent reader (isoinfo, from
// genisoimage's package: the label, the Rock Ridge and Joliet names, the
// contents). No failure may quote user-data (it often holds passwords).
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { built, provider } from "../helpers/lib";

const seedLib = built<typeof import("../../provider/cloudinitdisk/seed")>("provider/cloudinitdisk/seed");
const { UNKNOWN } = built<typeof import("../../provider/unknowns")>("provider/unknowns");
const { cloudInitDiskInputSchema } = built<typeof import("../../provider/cloudinitdisk/inputs")>("provider/cloudinitdisk/inputs");
const { CLOUD_INIT_DISK_SECRET_FLOWS } = built<typeof import("../../sdk/generated/cloudinitdisk")>("sdk/generated/cloudinitdisk");
const p = provider.cloudInitDiskProvider;
const SECRET = "s3cr3t-Pa55-" + Math.random().toString(36).slice(2, 10);

afterAll(() => provider.closeAllConnections());

const check = async (inputs: Record<string, unknown>) => p.check!({}, { pool: "default", name: "seed.iso", ...inputs });
const checked = async (inputs: Record<string, unknown>) => {
  const r = await check(inputs);
  expect(r.failures).toEqual([]);
  return r.inputs as Record<string, any>;
};
const isoinfo = (...args: string[]) => execFileSync("isoinfo", args, { encoding: "utf8" });

describe("CloudInitDisk: the secret flow table", () => {
  it("has an entry for every input, each listing its own output; content reaches every output it decides (what the provider writes: test/integration/cloudinit-disk.test.ts)", () => {
    const inputs = Object.keys(cloudInitDiskInputSchema.shape).sort();
    expect(Object.keys(CLOUD_INIT_DISK_SECRET_FLOWS).sort()).toEqual(inputs);
    for (const input of inputs) expect(CLOUD_INIT_DISK_SECRET_FLOWS[input], input).toContain(input);
    for (const doc of ["userData", "metaData", "networkConfig", "vendorData"])
      expect([...CLOUD_INIT_DISK_SECRET_FLOWS[doc]].sort(), doc).toEqual([...new Set([doc, "instanceId", "metaData", "size"])].sort());
  });
});

describe("CloudInitDisk check", () => {
  it("requires pool, name and userData", async () => {
    const r = await p.check!({}, {});
    expect(r.failures!.map((f) => f.property).sort()).toEqual(["name", "pool", "userData"]);
  });

  it("refuses a document that is neither a string nor an object", async () => {
    const r = await check({ userData: 42, networkConfig: [1] });
    expect(r.failures!.map((f) => f.property).sort()).toEqual(["networkConfig", "userData"]);
  });

  it("refuses meta-data that is no YAML mapping, without quoting it", async () => {
    const bad = await check({ userData: `#cloud-config\npassword: ${SECRET}\n`, metaData: `local-hostname: [${SECRET}\n` });
    expect(bad.failures!.map((f) => f.property)).toEqual(["metaData"]);
    expect(JSON.stringify(bad.failures)).not.toContain(SECRET);
    const list = await check({ userData: "x", metaData: `- ${SECRET}\n` });
    expect(list.failures![0].reason).toMatch(/mapping/);
    expect(JSON.stringify(list.failures)).not.toContain(SECRET);
  });

  it("leaves unknown documents as they are in a preview", async () => {
    const r = await check({ userData: UNKNOWN, metaData: { "local-hostname": "web" } });
    expect(r.failures).toEqual([]);
    expect((r.inputs as any).userData).toBe(UNKNOWN);
  });
});

describe("CloudInitDisk documents", () => {
  it("writes an object as #cloud-config YAML with sorted keys, a string as it is", async () => {
    const i = await checked({ userData: { users: [{ name: "me", passwd: SECRET }], hostname: "web" }, networkConfig: { version: 2 } });
    expect(i.userData).toBe(`#cloud-config\nhostname: web\nusers:\n  - name: me\n    passwd: ${SECRET}\n`);
    expect(i.networkConfig).toBe("version: 2\n");
    const s = await checked({ userData: "#!/bin/sh\necho hi\n" });
    expect(s.userData).toBe("#!/bin/sh\necho hi\n");
    expect(s.networkConfig).toBeUndefined();
    expect(s.vendorData).toBeUndefined();
    const v = await checked({ userData: "x", vendorData: { runcmd: ["true"] } });
    expect(v.vendorData).toBe('#cloud-config\nruncmd:\n  - "true"\n');
  });

  it("writes strings that YAML 1.1 (cloud-init's PyYAML) would read as something else quoted: a MAC of digits stays a string", async () => {
    const strings = { mac: "52:54:00:24:08:33", yes: "yes", on: "on", date: "2026-12-03", under: "1_000", time: "12:30", mode: "0755" };
    const i = await checked({
      userData: { write_files: [{ path: "/x", permissions: strings.mode, content: strings.yes }] },
      networkConfig: { version: 2, ethernets: { lan: { match: { macaddress: strings.mac }, "set-name": "lan0", dhcp4: true } } },
      metaData: { "local-hostname": "web", extra: strings },
    });
    expect(i.networkConfig).toBe(
      'ethernets:\n  lan:\n    dhcp4: true\n    match:\n      macaddress: "52:54:00:24:08:33"\n    set-name: lan0\nversion: 2\n',
    );
    // Read back as YAML 1.1 reads it, every value is what was given.
    const { parse } = await import("yaml");
    const read11 = (text: string) => parse(text, { version: "1.1" });
    expect(read11(i.networkConfig).ethernets.lan).toEqual({ match: { macaddress: strings.mac }, "set-name": "lan0", dhcp4: true });
    expect(read11(i.userData).write_files).toEqual([{ path: "/x", permissions: "0755", content: "yes" }]);
    expect(read11(i.metaData).extra).toEqual(strings);
    // Meta-data given as text means what cloud-init reads from it: a plain yes is a boolean there.
    const text = await checked({ userData: "x", metaData: "local-hostname: web\nanswer: yes\n" });
    expect(text.metaData).toMatch(/^answer: true$/m);
  });

  it("gives a stable instance-id from the content: key order does not matter, any change does", async () => {
    const a = await checked({ userData: { a: 1, b: { c: 2, d: 3 } }, metaData: { "local-hostname": "web" } });
    const b = await checked({ userData: { b: { d: 3, c: 2 }, a: 1 }, metaData: "local-hostname: web\n" });
    expect(b.metaData).toBe(a.metaData);
    expect(a.metaData).toMatch(/^instance-id: iid-[0-9a-f]{20}\nlocal-hostname: web\n$/);
    const ids = new Set(
      await Promise.all(
        [
          { userData: { a: 1, b: { c: 2, d: 3 } }, metaData: { "local-hostname": "web" } },
          { userData: { a: 2, b: { c: 2, d: 3 } }, metaData: { "local-hostname": "web" } },
          { userData: { a: 1, b: { c: 2, d: 3 } }, metaData: { "local-hostname": "web2" } },
          { userData: { a: 1, b: { c: 2, d: 3 } }, metaData: { "local-hostname": "web" }, networkConfig: { version: 2 } },
          { userData: { a: 1, b: { c: 2, d: 3 } }, metaData: { "local-hostname": "web" }, vendorData: "x" },
        ].map(async (x) => (await checked(x)).metaData),
      ),
    );
    expect(ids.size).toBe(5);
  });

  it("keeps a given instance-id, and check of its own output changes nothing", async () => {
    const given = await checked({ userData: "x", metaData: { "instance-id": "mine-1", "local-hostname": "web" } });
    expect(given.metaData).toBe("instance-id: mine-1\nlocal-hostname: web\n");
    const first = await checked({ userData: { a: 1 }, metaData: { "local-hostname": "web" }, networkConfig: { version: 2 } });
    const again = await checked(first);
    expect(again).toEqual(first);
  });
});

describe("CloudInitDisk ISO", () => {
  it("is an ISO 9660 image labelled cidata whose Rock Ridge and Joliet names and contents are the files", async () => {
    const seed = seedLib.seedContent({
      userData: { password: SECRET },
      metaData: { "local-hostname": "web" },
      networkConfig: { version: 2, ethernets: {} },
      vendorData: "#cloud-config\n{}\n",
    });
    let where = "";
    await seedLib.withSeedIso(seed, async (iso, bytes) => {
      where = iso;
      expect(bytes).toBeGreaterThan(0);
      expect(isoinfo("-d", "-i", iso)).toMatch(/^Volume id: cidata$/m);
      expect(isoinfo("-d", "-i", iso)).toMatch(/Rock Ridge signatures/);
      expect(isoinfo("-d", "-i", iso)).toMatch(/Joliet/);
      const names = ["/meta-data", "/network-config", "/user-data", "/vendor-data"];
      expect(isoinfo("-R", "-f", "-i", iso).trim().split("\n").sort()).toEqual(names);
      expect(isoinfo("-J", "-f", "-i", iso).trim().split("\n").sort()).toEqual(names);
      expect(isoinfo("-R", "-x", "/user-data", "-i", iso)).toBe(`#cloud-config\npassword: ${SECRET}\n`);
      expect(isoinfo("-R", "-x", "/meta-data", "-i", iso)).toBe(seed.metaData);
      expect(isoinfo("-J", "-x", "/network-config", "-i", iso)).toBe(seed.networkConfig);
      expect(isoinfo("-R", "-x", "/vendor-data", "-i", iso)).toBe("#cloud-config\n{}\n");
    });
    expect(existsSync(where)).toBe(false); // the temporary directory, content included, is gone
  });

  it("holds only user-data and meta-data when nothing else is given", async () => {
    await seedLib.withSeedIso(seedLib.seedContent({ userData: "x" }), async (iso) => {
      expect(isoinfo("-R", "-f", "-i", iso).trim().split("\n").sort()).toEqual(["/meta-data", "/user-data"]);
    });
  });

  it("falls back to xorriso -as mkisofs without genisoimage (scripts/setup.sh installs xorriso)", async () => {
    const xorriso = ["/usr/bin/xorriso", "/usr/local/bin/xorriso"].find((f) => existsSync(f));
    expect(xorriso, "xorriso is not installed: run bash scripts/setup.sh").toBeDefined();
    const bin = mkdtempSync(join(tmpdir(), "lvp-ci-bin-"));
    symlinkSync(xorriso!, join(bin, "xorriso"));
    const path = process.env.PATH;
    process.env.PATH = bin;
    try {
      await seedLib.withSeedIso(seedLib.seedContent({ userData: "x", networkConfig: "version: 2\n" }), async (iso) => {
        process.env.PATH = path;
        expect(isoinfo("-d", "-i", iso)).toMatch(/^Volume id: cidata$/m);
        expect(isoinfo("-J", "-f", "-i", iso).trim().split("\n").sort()).toEqual(["/meta-data", "/network-config", "/user-data"]);
        expect(isoinfo("-R", "-x", "/user-data", "-i", iso)).toBe("x");
      });
    } finally {
      process.env.PATH = path;
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it("says what to install when neither genisoimage nor xorriso is there", async () => {
    const path = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      await expect(seedLib.withSeedIso(seedLib.seedContent({ userData: SECRET }), async () => undefined)).rejects.toThrow(
        /neither genisoimage nor xorriso .*apt-get install genisoimage/,
      );
    } finally {
      process.env.PATH = path;
    }
  });
});

describe("CloudInitDisk provider on test:///default", () => {
  it("fails a create clearly when the pool is missing, without quoting user-data", async () => {
    const { inputs } = await p.check!({}, { uri: "test:///default", pool: "no-such-pool", name: "s.iso", userData: `pw: ${SECRET}` });
    const err = await p.create(inputs).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/storage pool "no-such-pool" does not exist/);
    expect(err?.message).not.toContain(SECRET);
  });

  it("removes the volume when the upload fails (the test driver has no virStorageVolUpload), without quoting user-data", async () => {
    const { inputs } = await p.check!({}, { uri: "test:///default", pool: "default-pool", name: "lvp-test-seed.iso", userData: `pw: ${SECRET}` });
    const err = await p.create(inputs).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/removed/);
    expect(err?.message).not.toContain(SECRET);
    // Nothing is left: the same name can be created (and fails the same way, not with "already exists").
    const again = await p.create(inputs).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(again?.message).not.toMatch(/already exists/);
  });
});
