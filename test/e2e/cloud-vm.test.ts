// examples/cloud-vm through the real `pulumi` CLI: two real Debian guests
// (scripts/guest-image.sh) on an isolated network that has no host address, each
// configured by cloud-init with a static IPv4 address that its guest agent
// reports. `up` waits for those addresses and outputs them (checked again with
// `virsh domifaddr --source agent`); a second preview has no changes; `destroy`
// leaves no domain, network, pool or volume. No traffic goes to the guests.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PulumiProject } from "../helpers/pulumi-cli";
import { QEMU_URI, domainNames, domainState, uniqueName, virsh, virshTry } from "../helpers/host";
import { guestImage } from "../helpers/guest";

const prefix = uniqueName("cloudvm");
const poolPath = `/var/lib/libvirt/images/${prefix}-pool`;
let project: PulumiProject;
let keyDir: string;
/** Set once the test's own destroy passed: afterAll then has nothing to tear down (an up there would boot the guests again). */
let destroyed = false;

beforeAll(async () => {
  const image = guestImage();
  keyDir = mkdtempSync("/var/tmp/lvp-cloudvm-key-");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "lvp-cloudvm-e2e", "-f", join(keyDir, "id")]);
  project = PulumiProject.prepare("cloud-vm");
  await project.newStack("cloudvm", {
    prefix,
    poolPath,
    imageDir: image.dir,
    cmdline: readFileSync(join(image.dir, "cmdline"), "utf8").trim(),
    sshPublicKey: readFileSync(join(keyDir, "id.pub"), "utf8").trim(),
  });
}, 20 * 60_000);

afterAll(async () => {
  if (destroyed) project.remove();
  else await project?.destroyAllAndRemove();
  if (keyDir) rmSync(keyDir, { recursive: true, force: true });
}, 10 * 60_000);

/** The IPv4 addresses the guest agent reports for a domain (not loopback). */
function agentIPv4(domain: string): string[] {
  const out = virshTry(QEMU_URI, "domifaddr", domain, "--source", "agent").out;
  return [...out.matchAll(/ipv4\s+(\d+\.\d+\.\d+\.\d+)\/\d+/g)].map((m) => m[1]).filter((a) => !a.startsWith("127."));
}

describe("examples/cloud-vm with the pulumi CLI", () => {
  const vms = [`${prefix}-vm1`, `${prefix}-vm2`];
  const ips = ["10.213.0.11", "10.213.0.12"];

  it(
    "up boots both guests and outputs the addresses their agents report; a second preview has no changes; destroy leaves nothing",
    async () => {
      const t0 = Date.now();
      await project.ok(["up", "--yes", "--skip-preview"]);
      const upSeconds = (Date.now() - t0) / 1000;
      console.log(`[cloud-vm] pulumi up (two guests booting concurrently under TCG): ${upSeconds.toFixed(0)} s`);

      const outputs = JSON.parse((await project.ok(["stack", "output", "--json"])).stdout) as {
        ipAddresses: string[];
        domainNames: string[];
        interfaces: Array<
          Array<{ mac: string; network?: string; addresses: Array<{ type: string; address: string; prefix: number; source: string }> }>
        >;
      };
      expect(outputs.domainNames).toEqual(vms);
      expect(outputs.ipAddresses).toEqual(ips);
      for (const [i, nics] of outputs.interfaces.entries()) {
        expect(nics).toHaveLength(1);
        expect(nics[0].network).toBe(`${prefix}-net`);
        expect(nics[0].addresses).toContainEqual({ type: "ipv4", address: ips[i], prefix: 24, source: "agent" });
      }
      // Independently: libvirt asks each guest's agent again.
      for (const [i, vm] of vms.entries()) {
        expect(domainState(QEMU_URI, vm)).toBe("running");
        expect(agentIPv4(vm)).toEqual([ips[i]]);
        expect(virsh(QEMU_URI, "qemu-agent-command", vm, '{"execute":"guest-get-host-name"}')).toContain(`"host-name":"${vm}"`);
      }
      // The network really has no host side: no <ip> element, no forward.
      const netXml = virsh(QEMU_URI, "net-dumpxml", `${prefix}-net`);
      expect(netXml).not.toMatch(/<ip[\s>]/);
      expect(netXml).not.toMatch(/<forward/);

      await project.ok(["preview", "--expect-no-changes"]);

      const t1 = Date.now();
      await project.ok(["destroy", "--yes"]);
      console.log(`[cloud-vm] pulumi destroy: ${((Date.now() - t1) / 1000).toFixed(0)} s`);
      for (const vm of vms) expect(domainNames(QEMU_URI)).not.toContain(vm);
      expect(virsh(QEMU_URI, "net-list", "--all", "--name")).not.toContain(`${prefix}-net`);
      expect(virsh(QEMU_URI, "pool-list", "--all", "--name")).not.toContain(`${prefix}-pool`);
      expect(virshTry(QEMU_URI, "vol-list", `${prefix}-pool`).ok).toBe(false);
      for (const what of ["list", "net-list", "pool-list"]) expect(virsh(QEMU_URI, what, "--all", "--name")).not.toContain(prefix);
      destroyed = true;
    },
    30 * 60_000,
  );
});
