// The NoCloud seed's files from the inputs, and the ISO 9660 image that holds
// them (label "cidata", Rock Ridge and Joliet so the file names survive), made
// by genisoimage (or xorriso's mkisofs emulation) on the machine running the
// provider. Nothing here puts a file's content into an error message: user-data
// often holds passwords and keys.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { parse, stringify } from "yaml";

const execFileAsync = promisify(execFile);

export const CLOUD_CONFIG_HEADER = "#cloud-config\n";

/**
 * cloud-init reads its files with PyYAML, which speaks YAML 1.1: there an unquoted
 * 52:54:00:24:08:33 is a number (base 60), yes/no/on/off are booleans, 2026-12-03 a
 * date. Written and read as 1.1, each string stays a string (quoted where 1.1
 * would read it otherwise), and meta-data given as text means what cloud-init reads.
 */
const YAML_VERSION = "1.1" as const;

/** A document input as YAML: objects with sorted keys, so that key order (which the engine may not keep) never changes the content. */
export const toYaml = (value: Record<string, unknown>): string => stringify(value, { sortMapEntries: true, lineWidth: 0, version: YAML_VERSION });

/** user-data / vendor-data: a string as it is, an object as `#cloud-config` YAML. */
export const cloudConfigText = (value: string | Record<string, unknown>): string =>
  typeof value === "string" ? value : CLOUD_CONFIG_HEADER + toYaml(value);

/** network-config: a string as it is, an object as YAML. */
export const yamlText = (value: string | Record<string, unknown>): string => (typeof value === "string" ? value : toYaml(value));

/** The meta-data mapping of a string (YAML) or object, or why it is not one; the reason never quotes the content. */
export function metaDataObject(value: string | Record<string, unknown>): Record<string, unknown> | { problem: string } {
  if (typeof value !== "string") return value;
  let doc: unknown;
  try {
    doc = parse(value, { version: YAML_VERSION });
  } catch (err) {
    const pos = (err as { linePos?: Array<{ line: number; col: number }> }).linePos?.[0];
    return { problem: `is not valid YAML${pos ? ` (line ${pos.line}, column ${pos.col})` : ""}` };
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) return { problem: "must be a YAML mapping (keys such as instance-id and local-hostname)" };
  return doc as Record<string, unknown>;
}

export interface SeedContent {
  userData: string;
  metaData: string;
  networkConfig?: string;
  vendorData?: string;
  instanceId: string;
}

/** The instance-id a seed gets when its meta-data names none: a hash of everything else in it. */
export function contentInstanceId(parts: {
  userData: string;
  metaData: Record<string, unknown>;
  networkConfig?: string;
  vendorData?: string;
}): string {
  const rest = Object.fromEntries(Object.entries(parts.metaData).filter(([k]) => k !== "instance-id"));
  const canonical = JSON.stringify([parts.userData, toYaml(rest), parts.networkConfig ?? null, parts.vendorData ?? null]);
  return `iid-${createHash("sha256").update(canonical).digest("hex").slice(0, 20)}`;
}

/** The files as written, from checked inputs (metaData already a mapping). */
export function seedContent(i: {
  userData: string | Record<string, unknown>;
  metaData?: Record<string, unknown>;
  networkConfig?: string | Record<string, unknown>;
  vendorData?: string | Record<string, unknown>;
}): SeedContent {
  const userData = cloudConfigText(i.userData);
  const networkConfig = i.networkConfig === undefined ? undefined : yamlText(i.networkConfig);
  const vendorData = i.vendorData === undefined ? undefined : cloudConfigText(i.vendorData);
  const meta = i.metaData ?? {};
  const given = meta["instance-id"];
  const instanceId =
    given !== undefined && given !== null && String(given) !== ""
      ? String(given)
      : contentInstanceId({ userData, metaData: meta, networkConfig, vendorData });
  return { userData, metaData: toYaml({ ...meta, "instance-id": instanceId }), networkConfig, vendorData, instanceId };
}

/** The ISO tools tried, in order: genisoimage, then xorriso's mkisofs emulation. */
const TOOLS: Array<{ cmd: string; pre: string[] }> = [
  { cmd: "genisoimage", pre: [] },
  { cmd: "xorriso", pre: ["-as", "mkisofs"] },
];

export class IsoToolMissingError extends Error {
  constructor() {
    super(
      "cannot build the cloud-init seed: neither genisoimage nor xorriso is installed on the machine running Pulumi " +
        "(the ISO is built there, then uploaded to the pool). Install one: `apt-get install genisoimage` (Debian/Ubuntu), " +
        "`dnf install genisoimage` or `xorriso` (Fedora), `brew install xorriso` (macOS); nothing was created",
    );
    this.name = "IsoToolMissingError";
  }
}

/**
 * Builds the seed ISO in a private temporary directory and runs `use` with its path;
 * the directory (and the files with their content) is removed afterwards.
 */
export async function withSeedIso<T>(seed: SeedContent, use: (iso: string, bytes: number) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "lvp-cidata-"));
  try {
    const files: Array<[string, string]> = [
      ["user-data", seed.userData],
      ["meta-data", seed.metaData],
      ...(seed.networkConfig !== undefined ? [["network-config", seed.networkConfig] as [string, string]] : []),
      ...(seed.vendorData !== undefined ? [["vendor-data", seed.vendorData] as [string, string]] : []),
    ];
    const content = join(dir, "content");
    await mkdir(content, { mode: 0o700 });
    for (const [name, text] of files) await writeFile(join(content, name), text, { mode: 0o600 });
    const iso = join(dir, "seed.iso");
    // -V volume label, -J Joliet, -R Rock Ridge: the short spellings both genisoimage and xorriso's mkisofs take.
    const args = ["-o", iso, "-V", "cidata", "-J", "-R", "-input-charset", "utf-8", "-quiet", content];
    let ran = false;
    for (const tool of TOOLS) {
      try {
        await execFileAsync(tool.cmd, [...tool.pre, ...args]);
        ran = true;
        break;
      } catch (err) {
        const e = err as NodeJS.ErrnoException & { stderr?: string };
        if (e.code === "ENOENT") continue;
        throw new Error(`${tool.cmd} failed to build the cloud-init seed ISO: ${(e.stderr ?? e.message).trim().split("\n").slice(-3).join(" ")}`, {
          cause: err,
        });
      }
    }
    if (!ran) throw new IsoToolMissingError();
    return await use(iso, (await stat(iso)).size);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
