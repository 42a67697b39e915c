// The libvirt binding: generated declarations, library loading, connections and errors.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ts from "typescript";
import { afterAll, describe, expect, it } from "vitest";
import { provider, sdkPath } from "../helpers/lib";
import { repoRoot } from "../helpers/pulumi-cli";

const { withConnection, closeAllConnections, LibvirtError } = provider;

afterAll(() => closeAllConnections());

describe("generated binding", () => {
  it("libvirt.gen.ts is what the generator makes from this machine's libvirt-api.xml", () => {
    const out = execFileSync("node", ["scripts/gen-libvirt.mjs", "--check"], { cwd: repoRoot, encoding: "utf8" });
    expect(out).toMatch(/is current/);
  });

  it("each flags argument takes its own flag group or 0: another group's flags, or a plain number, is a type error", () => {
    // Type-checks a snippet against the built declarations (dist/provider/libvirt/*.d.ts).
    const lib = require.resolve("libvirt-pulumi/provider", { paths: [sdkPath] }).replace(/index\.js$/, "libvirt/");
    const dir = mkdtempSync(join(tmpdir(), "flag-types-"));
    try {
      const file = join(dir, "use.ts");
      const lines = [
        `import { virDomainSnapshotDeleteFlags as D, virDomainUndefineFlagsValues as U, type LibvirtFunctions } from ${JSON.stringify(lib + "libvirt.gen")};`,
        `import { orFlags } from ${JSON.stringify(lib + "flags")};`,
        `declare const f: LibvirtFunctions;`,
        `f.virDomainUndefineFlags(null, U.VIR_DOMAIN_UNDEFINE_NVRAM);`,
        `f.virDomainUndefineFlags(null, 0);`,
        `f.virDomainUndefineFlags(null, orFlags(U.VIR_DOMAIN_UNDEFINE_NVRAM, U.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE));`,
        `f.virDomainUndefineFlags(null, D.VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY); // error`,
        `f.virDomainUndefineFlags(null, 4); // error`,
        `f.virDomainUndefineFlags(null, U.VIR_DOMAIN_UNDEFINE_NVRAM | U.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE); // error`,
        `f.virDomainUndefineFlags(null, orFlags(U.VIR_DOMAIN_UNDEFINE_NVRAM, D.VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY)); // error`,
        `f.virDomainSnapshotIsCurrent(null, 0);`,
        `f.virDomainSnapshotIsCurrent(null, D.VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY); // error`,
      ];
      writeFileSync(file, lines.join("\n"));
      const program = ts.createProgram([file], { strict: true, noEmit: true, types: [], skipLibCheck: true });
      const errorLines = ts
        .getPreEmitDiagnostics(program)
        .filter((d) => d.file?.fileName === file)
        .map((d) => d.file!.getLineAndCharacterOfPosition(d.start!).line);
      const expected = lines.flatMap((l, i) => (l.endsWith("// error") ? [i] : []));
      expect([...new Set(errorLines)].sort((a, b) => a - b)).toEqual(expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("loading libvirt", () => {
  it("a missing libvirt.so.0 gives one error naming the package to install", () => {
    const script = `require(${JSON.stringify(require.resolve("libvirt-pulumi/provider", { paths: [sdkPath] }))}).domainProvider
      .create({ name: "x", memoryMiB: 64, uri: "test:///default" }).catch((e) => { console.log(e.message); });`;
    const r = spawnSync("node", ["-e", script], { env: { ...process.env, LIBVIRT_PULUMI_LIBRARY: "/nonexistent/libvirt.so.0" }, encoding: "utf8" });
    expect(r.stdout).toMatch(
      /cannot load the libvirt client library \(\/nonexistent\/libvirt\.so\.0\).*apt-get install libvirt0.*dnf install libvirt-libs/,
    );
  });
});

describe("malloc tuning (glibc)", () => {
  // In a fresh process: the provider tunes malloc when it loads (tuneProcess), on the main thread.
  const providerModule = require.resolve("libvirt-pulumi/provider", { paths: [sdkPath] });
  const nativeModule = providerModule.replace(/index\.js$/, "libvirt/native.js");
  const tuning = (env: Record<string, string>) => {
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith("MALLOC_") && !k.startsWith("LIBVIRT_PULUMI_MALLOC_")),
    );
    const r = spawnSync(
      "node",
      ["-e", `require(${JSON.stringify(providerModule)}); console.log(JSON.stringify(require(${JSON.stringify(nativeModule)}).mallocTuning))`],
      {
        env: { ...clean, ...env },
        encoding: "utf8",
      },
    );
    return JSON.parse(r.stdout);
  };

  it("caps the arenas at 2 and fixes the mmap/trim threshold at 128 KiB by default", () => {
    expect(tuning({})).toEqual({ arenaMax: 2, threshold: 131072 });
  });

  it("takes its own variables, 0 leaving glibc's behaviour", () => {
    expect(tuning({ LIBVIRT_PULUMI_MALLOC_ARENA_MAX: "4", LIBVIRT_PULUMI_MALLOC_THRESHOLD: "0" })).toEqual({ arenaMax: 4, threshold: 0 });
  });

  it("leaves malloc alone where the user set glibc's own variables", () => {
    expect(tuning({ MALLOC_ARENA_MAX: "8", MALLOC_TRIM_THRESHOLD_: "1048576" })).toEqual({ arenaMax: 0, threshold: 0 });
  });
});

describe("connections", () => {
  it("records the URI libvirt reports and reuses one pooled connection per URI", async () => {
    const first = await withConnection({ uri: "test:///default" }, async (c) => c);
    const second = await withConnection({ uri: "test:///default" }, async (c) => c);
    expect(first.uri).toBe("test:///default");
    expect(second).toBe(first);
  });

  it("uses LIBVIRT_DEFAULT_URI when a resource has no uri", async () => {
    process.env.LIBVIRT_DEFAULT_URI = "test:///default";
    try {
      const uri = await withConnection({}, async (c) => c.uri);
      expect(uri).toBe("test:///default");
    } finally {
      delete process.env.LIBVIRT_DEFAULT_URI;
    }
  });

  it("concurrent operations get separate connections, so each reads its own error", async () => {
    const seen = new Set<unknown>();
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, n) =>
        withConnection({ uri: "test:///default" }, async (c) => {
          seen.add(c);
          return c.lookupDomain(n % 2 ? "test" : `missing-${n}`).then((d) => (d ? (d.free(), "found") : "absent"));
        }),
      ),
    );
    expect(results.map((r) => (r as PromiseFulfilledResult<string>).value)).toEqual(["absent", "found", "absent", "found", "absent", "found"]);
    expect(seen.size).toBeGreaterThan(1);
  });

  it("a daemon that is not there: the error says what failed and how to start it", async () => {
    const err = await withConnection({ uri: "qemu+unix:///system?socket=/nonexistent/libvirt-sock" }, async () => "connected").catch((e) => e);
    expect(err).toBeInstanceOf(LibvirtError);
    expect(err.message).toMatch(/connecting to qemu\+unix:\/\/\/system\?socket=\/nonexistent\/libvirt-sock: Failed to connect socket.*libvirtd -d/);
  });

  it("an unknown URI scheme is libvirt's own error, with its code", async () => {
    const err = await withConnection({ uri: "bogus:///x" }, async () => "connected").catch((e) => e);
    expect(err.codeName).toBe("VIR_ERR_NO_CONNECT");
    expect(err.message).toMatch(/no connection driver available for bogus:\/\/\/x/);
  });

  it("libvirt errors carry code, domain and what we were doing", async () => {
    const err = await withConnection({ uri: "test:///default" }, (c) =>
      c.defineDomain("<domain type='test'><name>bad</name></domain>", 0, '"bad"'),
    ).catch((e) => e);
    expect(err).toBeInstanceOf(LibvirtError);
    expect(err.message).toMatch(/^defining domain "bad" on test:\/\/\/default: /);
    expect(err.codeName).toMatch(/^VIR_ERR_/);
    expect(err.domainName).toMatch(/^VIR_FROM_/);
  });
});
