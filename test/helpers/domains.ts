// The one way tests make a test domain: with the provider (checked inputs, a
// create, the name remembered for clean-up; each file's own defaults go in
// `inputs`), or by hand with virsh, as one no stack manages.
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { provider } from "./lib";
import { QEMU_URI, uniqueName, virsh } from "./host";

export interface MadeDomain {
  id: string;
  outs: Record<string, any>;
  /** The checked inputs: what the engine passes as `news` to update. */
  inputs: Record<string, any>;
  name: string;
}

/** Where a file collects the names it made, for its afterAll: an array or a Set. */
export type MadeNames = { push(name: string): unknown } | { add(name: string): unknown };

function remember(made: MadeNames | undefined, name: string): void {
  if (made && "push" in made) made.push(name);
  else made?.add(name);
}

/**
 * Creates a domain named after `label` (test prefix and run) on qemu:///system with
 * 64 MiB and shutdownTimeoutSeconds: 0 (unless `inputs` say otherwise, or give raw `xml`), after `check` found no
 * failures. `made`, when given, collects the name for the file's afterAll.
 */
export async function createDomain(label: string, inputs: Record<string, unknown>, made?: MadeNames, name = uniqueName(label)): Promise<MadeDomain> {
  remember(made, name);
  const typed = inputs.xml === undefined ? { memoryMiB: 64 } : {};
  // Test domains boot no OS and ignore the ACPI request: hard stop at once unless a test asks otherwise.
  const checked = await provider.domainProvider.check!({}, { name, uri: QEMU_URI, shutdownTimeoutSeconds: 0, ...typed, ...inputs });
  expect(checked.failures).toEqual([]);
  const { id, outs } = await provider.domainProvider.create!(checked.inputs);
  return { id: id!, outs, inputs: checked.inputs, name };
}

/** A domain on a fresh qcow2 image of `images` (makeImageDir), named after `label`. */
export async function createDomainOnImage(
  images: { qcow2(name: string): string },
  label: string,
  extra: Record<string, unknown> = {},
  made?: MadeNames,
): Promise<MadeDomain & { disk: string }> {
  const name = uniqueName(label);
  const disk = images.qcow2(`${name}.qcow2`);
  return { ...(await createDomain(label, { disks: [{ file: disk }], ...extra }, made, name)), disk };
}

export interface HandDomainOptions {
  /** The hypervisor to define it on (default qemu:///system). */
  uri?: string;
  /** The domain type (default qemu). */
  type?: string;
  uuid?: string;
  /** qcow2 disks vda, vdb, ...: a file, or a pool volume (`<disk type='volume'>`). */
  disks?: Array<{ file: string } | { pool: string; volume: string }>;
  /** More XML inside <devices>, after the disks. */
  devices?: string;
}

/** The XML of a minimal hand-made domain (64 MiB, no OS). */
export function handDomainXml(name: string, opts: HandDomainOptions = {}): string {
  const disks = (opts.disks ?? []).map((d, n) => {
    const source = "file" in d ? `<source file='${d.file}'/>` : `<source pool='${d.pool}' volume='${d.volume}'/>`;
    const target = `<target dev='vd${String.fromCharCode(97 + n)}' bus='virtio'/>`;
    return `<disk type='${"file" in d ? "file" : "volume"}' device='disk'><driver name='qemu' type='qcow2'/>${source}${target}</disk>`;
  });
  const devices = disks.join("") + (opts.devices ?? "");
  return (
    `<domain type='${opts.type ?? "qemu"}'><name>${name}</name>${opts.uuid ? `<uuid>${opts.uuid}</uuid>` : ""}` +
    `<memory unit='MiB'>64</memory><os><type>hvm</type></os>${devices ? `<devices>${devices}</devices>` : ""}</domain>`
  );
}

/**
 * Defines (virsh define, never started) a domain named after `label`, as one not
 * managed by any stack, and returns its name. `made` collects the name.
 */
export function defineDomainByHand(label: string, opts: HandDomainOptions = {}, made?: MadeNames, name = uniqueName(label)): string {
  remember(made, name);
  const file = join(tmpdir(), `${name}.xml`);
  writeFileSync(file, handDomainXml(name, opts));
  try {
    virsh(opts.uri ?? QEMU_URI, "define", file);
  } finally {
    rmSync(file, { force: true });
  }
  return name;
}
