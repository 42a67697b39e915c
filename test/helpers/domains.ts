// The one way tests create a Domain with the provider: checked inputs, a create,
// the name remembered for clean-up. Each file's own defaults go in `extra`.
import { expect } from "vitest";
import { provider } from "./lib";
import { QEMU_URI, uniqueName } from "./host";

export interface MadeDomain {
  id: string;
  outs: Record<string, any>;
  /** The checked inputs: what the engine passes as `news` to update. */
  inputs: Record<string, any>;
  name: string;
}

/**
 * Creates a domain named after `label` (test prefix and run), after `check` found
 * no failures. `made`, when given, collects the name for the file's afterAll.
 */
export async function createDomain(
  label: string,
  inputs: Record<string, unknown>,
  made?: { push(name: string): unknown },
  name = uniqueName(label),
): Promise<MadeDomain> {
  made?.push(name);
  const checked = await provider.domainProvider.check!({}, { name, uri: QEMU_URI, memoryMiB: 64, ...inputs });
  expect(checked.failures).toEqual([]);
  const { id, outs } = await provider.domainProvider.create!(checked.inputs);
  return { id: id!, outs, inputs: checked.inputs, name };
}

/** A domain on a fresh qcow2 image of `images` (makeImageDir), named after `label`. */
export async function createDomainOnImage(
  images: { qcow2(name: string): string },
  label: string,
  extra: Record<string, unknown> = {},
  made?: { push(name: string): unknown },
): Promise<MadeDomain & { disk: string }> {
  const name = uniqueName(label);
  const disk = images.qcow2(`${name}.qcow2`);
  return { ...(await createDomain(label, { disks: [{ file: disk }], ...extra }, made, name)), disk };
}
