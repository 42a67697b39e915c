// Drives the real `pulumi` CLI on a throw-away copy of an example: the package
// is installed packed (npm install-links), as a user gets it from npm, into a
// project outside the repository, with a local file backend.
import { execFileSync, spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, isAbsolute, join, resolve } from "node:path";

export const repoRoot = resolve(__dirname, "../..");

let cachedBin: string | undefined;

/** The directory with pulumi, the Node language host and the dynamic-provider shim (built once, cached). */
export function pulumiBin(): string {
  cachedBin ??= execFileSync("bash", [join(repoRoot, "scripts/ensure-pulumi.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] })
    .trim()
    .split("\n")
    .at(-1)!;
  return cachedBin;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr together, for assertions on what a user sees. */
  output: string;
}

export class PulumiProject {
  private constructor(
    readonly root: string,
    readonly dir: string,
    readonly env: NodeJS.ProcessEnv,
  ) {}

  /** Copies examples/<name> (or the program at an absolute path) to a temp dir and installs its dependencies with this repo's package packed in. */
  static prepare(example: string): PulumiProject {
    const root = mkdtempSync("/var/tmp/lvp-e2e-");
    const dir = join(root, basename(example));
    cpSync(isAbsolute(example) ? example : join(repoRoot, "examples", example), dir, {
      recursive: true,
      filter: (src) => !/node_modules|package-lock\.json|\.pulumi/.test(src),
    });
    const pkgPath = join(dir, "package.json");
    const pkg = JSON.parse(readFileSync(pkgPath, "utf8"));
    pkg.dependencies["libvirt-pulumi"] = `file:${repoRoot}`;
    writeFileSync(pkgPath, JSON.stringify(pkg, null, 2));
    writeFileSync(join(dir, ".npmrc"), "install-links=true\n");
    execFileSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], {
      cwd: dir,
      stdio: ["ignore", "ignore", "inherit"],
    });
    mkdirSync(join(root, "state"));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: `${pulumiBin()}:${process.env.PATH}`,
      PULUMI_HOME: join(root, "pulumi-home"),
      PULUMI_BACKEND_URL: `file://${join(root, "state")}`,
      PULUMI_CONFIG_PASSPHRASE: "lvp-e2e-passphrase",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      NO_COLOR: "1",
    };
    delete env.LIBVIRT_PULUMI_DELETE_SNAPSHOTS_ON_DESTROY;
    return new PulumiProject(root, dir, env);
  }

  /** Runs `pulumi <args>` in the project; never throws on a non-zero exit. */
  run(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<RunResult> {
    return new Promise((resolvePromise, reject) => {
      const child = spawn("pulumi", [...args, "--non-interactive", "--color=never"], { cwd: this.dir, env: { ...this.env, ...extraEnv } });
      let stdout = "";
      let stderr = "";
      let output = "";
      child.stdout.on("data", (d) => {
        stdout += d;
        output += d;
      });
      child.stderr.on("data", (d) => {
        stderr += d;
        output += d;
      });
      child.on("error", reject);
      child.on("close", (code) => resolvePromise({ code: code ?? -1, stdout, stderr, output }));
    });
  }

  /** Like run, but throws with the CLI's output when it fails. */
  async ok(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<RunResult> {
    const r = await this.run(args, extraEnv);
    if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")} exited ${r.code}:\n${r.output}`);
    return r;
  }

  async newStack(name: string, config: Record<string, string>): Promise<void> {
    await this.ok(["stack", "init", name]);
    for (const [k, v] of Object.entries(config)) await this.ok(["config", "set", k, v]);
  }

  async exportState(): Promise<{
    text: string;
    resources: Array<{ type: string; id?: string; urn: string; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> }>;
  }> {
    const r = await this.ok(["stack", "export"]);
    return { text: r.stdout, resources: JSON.parse(r.stdout).deployment.resources ?? [] };
  }

  /**
   * Tears down whatever a test (or a failed assertion) left: allows every cascade
   * the examples expose, applies it, destroys, then removes the project.
   */
  async destroyAllAndRemove(): Promise<void> {
    await this.run(["config", "set", "deleteSnapshotsOnDestroy", "true"]);
    await this.run(["config", "set", "deleteVolumeSnapshotData", "true"]);
    await this.run(["up", "--yes", "--skip-preview"]);
    await this.run(["destroy", "--yes"], { LIBVIRT_PULUMI_DELETE_SNAPSHOTS_ON_DESTROY: "1" });
    this.remove();
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
