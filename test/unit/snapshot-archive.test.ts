// The snapshot archive's writer (provider/domain/archive.ts) on libvirt's test
// driver: what it collects, its format, the read-back, and a failed write as a
// refusal. Where it goes is the planner's (teardown/domain.test.ts, `archive:` rows).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { built, provider } from "../helpers/lib";
import { createDomain } from "../helpers/domains";

const { withConnection, closeAllConnections, TeardownRefusedError } = provider;
const archive = built<typeof import("../../provider/domain/archive")>("provider/domain/archive");
const URI = "test:///default";
let dir: string;
let name: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "lvp-archive-unit-"));
  name = `unit-archive-${process.pid}`;
  await createDomain("archive", { uri: URI, running: false }, undefined, name);
  await withConnection({ uri: URI }, async (conn) => {
    const dom = (await conn.lookupDomain(name))!;
    try {
      for (const s of ["root", "leaf"]) (await dom.createSnapshot(`<domainsnapshot><name>${s}</name></domainsnapshot>`, 0, `"${s}"`)).free();
    } finally {
      dom.free();
    }
  });
});

afterAll(async () => {
  await withConnection({ uri: URI }, async (conn) => {
    const dom = await conn.lookupDomain(name);
    if (!dom) return;
    for (const s of (await dom.listSnapshots()).reverse()) {
      await s.delete(0);
      s.free();
    }
    await dom.undefine(0);
    dom.free();
  });
  await closeAllConnections();
  rmSync(dir, { recursive: true, force: true });
});

const write = (path: string, names = ["root", "leaf"]) =>
  withConnection({ uri: URI }, async (conn) => {
    const dom = (await conn.lookupDomain(name))!;
    try {
      return await archive.writeArchive(dom, { kind: "file", path }, names, false);
    } finally {
      dom.free();
    }
  });

describe("writeArchive", () => {
  it("writes one JSON: format, version, the domain XML, the snapshots parent before child with their XML", async () => {
    const path = join(dir, "a.json");
    expect(await write(path)).toBe(`file ${path}`);
    const a = JSON.parse(readFileSync(path, "utf8"));
    expect(a).toMatchObject({ format: "libvirt-pulumi-snapshot-archive", version: 1, secure: false, domain: { name, persistent: true } });
    expect(a.domain.xml).toContain(`<name>${name}</name>`);
    expect(a.snapshots.map((s: { name: string; parent: string | null; isCurrent: boolean }) => [s.name, s.parent, s.isCurrent])).toEqual([
      ["root", null, false],
      ["leaf", "root", true],
    ]);
    for (const s of a.snapshots) {
      expect(s.xml).toContain(`<name>${s.name}</name>`);
      expect(s.xml).toContain(`<creationTime>${s.creationTime}</creationTime>`);
    }
  });

  it("never writes over an existing file: refused, the file unchanged", async () => {
    const path = join(dir, "taken.json");
    writeFileSync(path, "older archive");
    const err = await write(path).catch((e: Error) => e);
    expect(err).toBeInstanceOf(TeardownRefusedError);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^refusing to delete domain "${name}" \\(nothing was changed on this domain\\): .*its 2 snapshots, which is archived first, and writing the archive to file .*taken\\.json failed: EEXIST`,
      ),
    );
    expect(readFileSync(path, "utf8")).toBe("older archive");
  });

  it("a directory that does not exist: refused, naming the place and what to do", async () => {
    await expect(write(join(dir, "missing", "a.json"))).rejects.toThrow(
      /writing the archive to file .*missing\/a\.json failed: ENOENT.*deleteSnapshotDataOnDestroy: true/,
    );
  });

  it("a snapshot that went away meanwhile: refused", async () => {
    await expect(write(join(dir, "gone.json"), ["root", "nope"])).rejects.toThrow(/snapshot "nope" of domain .* disappeared while it was archived/);
  });
});
