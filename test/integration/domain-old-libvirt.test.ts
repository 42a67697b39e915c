// issue 11 item 12(d): a libvirt client library without the checkpoint API (older
// than 5.6) must not make every Domain delete fail. The missing symbol is simulated
// where it really goes missing: koffi's lib.func() throws for that one declaration,
// exactly as it does for a symbol the loaded libvirt.so.0 lacks, in a fresh provider
// process; everything else is the real binding on qemu:///system.
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sdkPath } from "../helpers/lib";
import { defineDomainByHand } from "../helpers/domains";
import { QEMU_URI, domainNames, makeImageDir, removeDomain, snapshotNames, uniqueName, virsh } from "../helpers/host";

let images: ReturnType<typeof makeImageDir>;
const made: string[] = [];

beforeAll(() => {
  images = makeImageDir("oldlv");
});

afterAll(() => {
  for (const name of made) removeDomain(QEMU_URI, name);
  images.remove();
});

function defineByHand(label: string): { name: string; uuid: string } {
  const name = uniqueName(label);
  defineDomainByHand(label, { disks: [{ file: images.qcow2(`${name}.qcow2`) }] }, made, name);
  return { name, uuid: virsh(QEMU_URI, "domuuid", name) };
}

/** Deletes the domain through the provider in a fresh process whose libvirt lacks `hidden`. */
function deleteWithout(hidden: string, uuid: string, props: Record<string, unknown> = {}): { ok: boolean; message?: string } {
  const providerModule = require.resolve("libvirt-pulumi/provider", { paths: [sdkPath] });
  const script = `
    const koffi = require(${JSON.stringify(require.resolve("koffi", { paths: [sdkPath] }))});
    const load = koffi.load;
    koffi.load = (...a) => {
      const lib = load(...a);
      return new Proxy(lib, { get(t, k) {
        if (k !== "func") return typeof t[k] === "function" ? t[k].bind(t) : t[k];
        return (decl, ...rest) => {
          if (new RegExp("\\\\b" + ${JSON.stringify(hidden)} + "\\\\(").test(decl)) throw new Error("Cannot find function '" + ${JSON.stringify(hidden)} + "' in shared library");
          return t.func(decl, ...rest);
        };
      } });
    };
    const p = require(${JSON.stringify(providerModule)});
    p.domainProvider.delete(${JSON.stringify(uuid)}, ${JSON.stringify({ uri: QEMU_URI, ...props })})
      .then(() => console.log(JSON.stringify({ ok: true })), (e) => console.log(JSON.stringify({ ok: false, message: e.message })))
      .finally(() => p.closeAllConnections());`;
  const r = spawnSync("node", ["-e", script], { encoding: "utf8", timeout: 120_000 });
  const last = r.stdout.trim().split("\n").pop() ?? "";
  if (!last.startsWith("{")) throw new Error(`provider process failed: ${r.stdout}${r.stderr}`);
  return JSON.parse(last);
}

describe("a libvirt without the checkpoint API (older than 5.6)", () => {
  it("a Domain delete counts 0 checkpoints and undefines the domain", () => {
    const dom = defineByHand("nockpt");
    expect(deleteWithout("virDomainListAllCheckpoints", dom.uuid)).toEqual({ ok: true });
    expect(domainNames(QEMU_URI)).not.toContain(dom.name);
  });

  it("the other teardown rules still hold: a domain with a snapshot is still refused", () => {
    const dom = defineByHand("nockpt-snap");
    virsh(QEMU_URI, "snapshot-create-as", dom.name, "by-hand");
    const r = deleteWithout("virDomainListAllCheckpoints", dom.uuid);
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/refusing to delete domain .*1 snapshot \("by-hand"\).*deleteSnapshotsOnDestroy: true/);
    expect(domainNames(QEMU_URI)).toContain(dom.name);
    expect(snapshotNames(QEMU_URI, dom.name)).toEqual(["by-hand"]);
  });

  it("only that function falls back: a missing managed-save check still stops the delete, naming the function and version", () => {
    const dom = defineByHand("nomsave");
    const r = deleteWithout("virDomainHasManagedSaveImage", dom.uuid);
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/libvirt function virDomainHasManagedSaveImage is not available in libvirt\.so\.0 \(needs libvirt 0\.8\.0 or later/);
    expect(domainNames(QEMU_URI)).toContain(dom.name);
  });
});
