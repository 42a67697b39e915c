// Domain inputs: the rules that combine fields, and the normalized shape. The
// inputs themselves (schemas, defaults, change rules) are in spec.ts; `check`
// runs this; everything after check may rely on the normalized shape.
import { parseXml, child, text } from "../xml/xml";
import { emptyDescriptionAsNone, inputChecker } from "../resource/check";
import { groupKeys, inputSchema, type CheckedInputs, type ParsedInputs } from "../resource/spec";
import type { CheckFailure } from "../validation";
import { domainSpec } from "./spec";

/** The delete options (saved in the outputs: Pulumi's delete sees only those). */
export const TEARDOWN_KEYS = groupKeys(domainSpec, "teardown") as ReadonlyArray<
  | "deleteSnapshotsOnDestroy"
  | "deleteSnapshotDataOnDestroy"
  | "deleteManagedSaveOnDestroy"
  | "deleteCheckpointsOnDestroy"
  | "keepNvramOnDestroy"
  | "archiveSecretsOnDestroy"
>;

/** Inputs that describe the machine; with `xml` none of them may be set. */
export const TYPED_KEYS = groupKeys(domainSpec, "machine") as ReadonlyArray<keyof Parsed>;

type Parsed = ParsedInputs<typeof domainSpec>;
export type DiskInput = NonNullable<Parsed["disks"]>[number];
export type NetworkInterfaceInput = NonNullable<Parsed["networkInterfaces"]>[number];

/** Inputs after check: defaults applied where they need no hypervisor. */
export type DomainInputs = CheckedInputs<typeof domainSpec>;

function crossFieldFailures(i: Parsed): CheckFailure[] {
  const f: CheckFailure[] = [];
  if (i.xml !== undefined) {
    for (const key of TYPED_KEYS) {
      if (i[key] !== undefined)
        f.push({ property: key, reason: `cannot be combined with xml: describe the whole domain in xml, or drop xml and use the typed inputs` });
    }
    let doc;
    try {
      doc = parseXml(i.xml);
    } catch (err) {
      f.push({ property: "xml", reason: `is not well-formed XML: ${(err as Error).message}` });
    }
    const domain = doc && child(doc, "domain");
    if (doc && !domain) f.push({ property: "xml", reason: "must be a <domain> document" });
    const xmlName = domain && text(domain.name);
    if (domain && xmlName !== undefined && xmlName !== i.name) {
      f.push({
        property: "name",
        reason: `is "${i.name}" but the xml names the domain "${xmlName}"; make them equal or leave <name> out of the xml`,
      });
    }
  } else {
    if (i.memoryMiB === undefined)
      f.push({ property: "memoryMiB", reason: "is required (the guest's memory in MiB, e.g. 512), unless xml is given" });
  }
  if ((i.initrd !== undefined || i.cmdline !== undefined) && i.kernel === undefined) {
    f.push({
      property: i.initrd !== undefined ? "initrd" : "cmdline",
      reason: "needs kernel: an initrd or kernel command line only applies to direct kernel boot",
    });
  }
  i.networkInterfaces?.forEach((nic, n) => {
    if ((nic.network === undefined) === (nic.bridge === undefined)) {
      f.push({ property: `networkInterfaces[${n}]`, reason: "set exactly one of network (a libvirt network name) or bridge (a host bridge name)" });
    }
    if (nic.waitForAddress === "agent" && !i.qemuGuestAgent) {
      f.push({
        property: `networkInterfaces[${n}].waitForAddress`,
        reason:
          'is "agent", which needs the guest agent\'s channel: set qemuGuestAgent: true (and run qemu-guest-agent in the guest), or wait for "lease"',
      });
    }
    if (nic.waitForAddress === "lease" && nic.bridge !== undefined) {
      f.push({
        property: `networkInterfaces[${n}].waitForAddress`,
        reason: `is "lease", but a host bridge has no libvirt DHCP leases (only a libvirt network's dnsmasq hands them out): wait for "agent" (with qemuGuestAgent: true)`,
      });
    }
    if (nic.waitForAddress === "any" && nic.bridge !== undefined && !i.qemuGuestAgent) {
      f.push({
        property: `networkInterfaces[${n}].waitForAddress`,
        reason: `is "any", but on a host bridge only the guest agent can report an address: set qemuGuestAgent: true`,
      });
    }
  });
  const targets = new Map<string, number>();
  i.disks?.forEach((d, n) => {
    if ((d.file === undefined) === (d.volume === undefined)) {
      f.push({
        property: `disks[${n}]`,
        reason: "set exactly one of file (an image path on the host) or volume ({ pool, name } of a storage volume)",
      });
    }
    if (d.device === "cdrom" && d.format === "qcow2") f.push({ property: `disks[${n}].format`, reason: 'a cdrom takes a "raw" image (an ISO)' });
    const t = d.target;
    if (t && targets.has(t)) f.push({ property: `disks[${n}].target`, reason: `"${t}" is already used by disks[${targets.get(t)}]` });
    if (t) targets.set(t, n);
  });
  if (i.persistent === false && i.running === false) {
    f.push({
      property: "running",
      reason: "a transient domain (persistent: false) exists only while it runs; set running: true or persistent: true",
    });
  }
  if (i.persistent === false && i.autostart === true) {
    f.push({ property: "autostart", reason: "only a persistent domain can autostart; set persistent: true or autostart: false" });
  }
  if (i.restoreSnapshotsFrom !== undefined && i.persistent === false) {
    f.push({
      property: "restoreSnapshotsFrom",
      reason: "restores snapshot metadata, which libvirt drops when a transient domain stops; set persistent: true (or drop restoreSnapshotsFrom)",
    });
  }
  if (i.deleteSnapshotDataOnDestroy && !i.deleteSnapshotsOnDestroy) {
    f.push({
      property: "deleteSnapshotDataOnDestroy",
      reason: "deletes snapshot contents as part of the snapshot cascade; set deleteSnapshotsOnDestroy: true as well",
    });
  }
  return f;
}

/**
 * Validates and normalizes Domain inputs (resource/check.ts: a preview's unknown
 * inputs stay unknown, `unknownKeys` names them, and the rules that combine
 * fields wait for the `pulumi up`).
 */
export const checkDomainInputs = inputChecker(domainSpec, {
  crossField: crossFieldFailures,
  normalize: (i) => emptyDescriptionAsNone(i as DomainInputs),
});

/** The zod object of every Domain input (each optional), as check parses them. */
export const domainInputSchema = inputSchema(domainSpec);
