// A real Linux guest, booted by the provider and configured by cloud-init: the
// image of scripts/guest-image.sh as a base Volume, an overlay Volume on it, a
// CloudInitDisk (NoCloud user-data, meta-data) as an IDE cdrom, direct kernel boot under
// TCG (type "qemu": KVM cannot boot a Linux kernel on these nested hosts), the
// guest agent's channel. Cloud-init's effect is checked from outside through the
// agent: the hostname it set and a file its runcmd wrote. The guest has no
// network interface: no traffic leaves it.
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";
import { QEMU_URI, domainState, removeDomain, removePool, uniqueName, virsh } from "../helpers/host";
import { agentCommand, guestDomainInputs, readGuestFile, stageGuestBoot, waitFor, type GuestImage } from "../helpers/guest";

const { cloudInitDiskProvider, domainProvider, poolProvider, volumeProvider } = provider;
const IMAGES = "/var/lib/libvirt/images";
const BOOT_TIMEOUT_MS = 10 * 60_000;

const name = uniqueName("guest");
const dir = join(IMAGES, name);
const made = { domain: false, pool: false };
let image: GuestImage;

afterAll(async () => {
  await provider.closeAllConnections();
  if (made.domain) removeDomain(QEMU_URI, name);
  if (made.pool) removePool(QEMU_URI, name);
  rmSync(dir, { recursive: true, force: true });
});

/** A resource made through its provider as the engine would: check, then create. */
type MakesResources = { check?: (olds: any, news: any) => Promise<any>; create?: (inputs: any) => Promise<any> };

async function create(p: MakesResources, inputs: Record<string, unknown>): Promise<{ id: string; outs: Record<string, any> }> {
  const checked = await p.check!({}, { uri: QEMU_URI, ...inputs });
  expect(checked.failures).toEqual([]);
  const { id, outs } = await p.create!(checked.inputs);
  return { id: id!, outs };
}

describe("a real guest on a base + overlay volume, configured by cloud-init", () => {
  beforeAll(() => {
    image = stageGuestBoot(dir);
  }, 20 * 60_000);

  it(
    "boots, runs cloud-init from the seed, and the agent reports what cloud-init did",
    async () => {
      const pool = await create(poolProvider, { name, path: join(dir, "pool") });
      made.pool = true;
      const base = await create(volumeProvider, { pool: pool.outs.name, name: "base.qcow2", source: image.disk, format: "qcow2" });
      const overlay = await create(volumeProvider, {
        pool: pool.outs.name,
        name: "web.qcow2",
        backingVolume: base.outs.path,
        backingFormat: "qcow2",
        format: "qcow2",
      });
      const hostname = `lvp-${process.pid}`;
      const marker = `cloud-init-ran-${Date.now()}`;
      const seed = await create(cloudInitDiskProvider, {
        pool: pool.outs.name,
        name: "seed.iso",
        metaData: { "local-hostname": hostname },
        userData: { runcmd: [["sh", "-c", `echo ${marker} > /run/lvp-marker`]] },
      });

      made.domain = true;
      const vm = await create(
        domainProvider,
        guestDomainInputs(name, dir, image, {
          disks: [
            { volume: { pool: pool.outs.name, name: overlay.outs.name }, format: "qcow2" },
            // The Debian cloud kernel has no AHCI: the seed goes on IDE (machine "pc").
            { volume: { pool: pool.outs.name, name: seed.outs.name }, device: "cdrom", bus: "ide", format: "raw" },
          ],
        }),
      );
      expect(domainState(QEMU_URI, name)).toBe("running");
      const disks = virsh(QEMU_URI, "domblklist", name);
      expect(disks).toMatch(/vda\s+web\.qcow2/);
      expect(disks).toMatch(/hda\s+seed\.iso/);

      const agentHost = await waitFor("the guest agent reporting the seed's hostname", BOOT_TIMEOUT_MS, () => {
        const r = agentCommand(QEMU_URI, name, { execute: "guest-get-host-name" }) as { "host-name"?: string } | undefined;
        return r?.["host-name"] === hostname ? r["host-name"] : undefined;
      });
      console.log(`[real-guest] the agent reported hostname ${agentHost.value} after ${agentHost.seconds.toFixed(0)} s`);
      const ran = await waitFor("the file cloud-init's runcmd writes", BOOT_TIMEOUT_MS, () => readGuestFile(QEMU_URI, name, "/run/lvp-marker"));
      expect(ran.value.trim()).toBe(marker);

      // The guest's writes went to the overlay; the base image is as uploaded.
      const info = JSON.parse(execFileSync("qemu-img", ["info", "-U", "--output=json", overlay.outs.path], { encoding: "utf8" })) as {
        "backing-filename"?: string;
      };
      expect(info["backing-filename"]).toBe(base.outs.path);

      await domainProvider.delete!(vm.id, vm.outs);
      made.domain = false;
      expect(virsh(QEMU_URI, "list", "--all", "--name")).not.toContain(name);
      await cloudInitDiskProvider.delete!(seed.id, seed.outs);
      for (const v of [overlay, base]) await volumeProvider.delete!(v.id, v.outs);
      await poolProvider.delete!(pool.id, pool.outs);
      made.pool = false;
    },
    2 * BOOT_TIMEOUT_MS + 120_000,
  );
});
