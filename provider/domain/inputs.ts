// Domain inputs: their schema, defaults and cross-field rules. `check` runs this;
// everything after check may rely on the normalized shape.
import { z } from "zod";
import { parseXml, child, text } from "../xml/xml";
import { knownOnly } from "../unknowns";
import { withoutUndefined } from "../state-values";
import { absolutePath, flag, credentials, hypervisorUri, objectName, oneOf, toFailures, userInputs, type CheckFailure } from "../validation";

const diskSchema = z
  .object({
    file: absolutePath("file").optional(),
    /** A libvirt storage volume instead of a file: `<disk type='volume'>`. */
    volume: z
      .object({ pool: objectName("pool"), name: objectName("volume name") })
      .strict()
      .optional(),
    format: oneOf(["raw", "qcow2"]).optional(),
    target: z
      .string()
      .regex(/^(vd|sd|hd|xvd)[a-z]{1,2}$/, { error: 'must be a device name such as "vda", "sdb" or "hdc"' })
      .optional(),
    bus: oneOf(["virtio", "sata", "scsi", "ide", "usb"]).optional(),
    device: oneOf(["disk", "cdrom"]).optional(),
    readOnly: flag("readOnly").optional(),
  })
  .strict();

const nicSchema = z
  .object({
    network: objectName("network").optional(),
    bridge: objectName("bridge").optional(),
    mac: z
      .string()
      .regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i, { error: 'must be a MAC address such as "52:54:00:12:34:56"' })
      .optional(),
    model: oneOf(["virtio", "e1000", "e1000e", "rtl8139"]).optional(),
  })
  .strict();

export const TEARDOWN_KEYS = [
  "deleteSnapshotsOnDestroy",
  "deleteSnapshotDataOnDestroy",
  "deleteManagedSaveOnDestroy",
  "deleteCheckpointsOnDestroy",
  "keepNvramOnDestroy",
] as const;

/** Inputs that describe the machine; with `xml` none of them may be set. */
export const TYPED_KEYS = [
  "type",
  "memoryMiB",
  "vcpus",
  "arch",
  "machine",
  "disks",
  "networkInterfaces",
  "bootDevices",
  "kernel",
  "initrd",
  "cmdline",
  "firmware",
  "graphics",
  "serialConsole",
  "description",
] as const;

export const domainInputSchema = z
  .object({
    name: objectName("name"),
    uri: hypervisorUri.optional(),
    auth: credentials.optional(),
    type: oneOf(["kvm", "qemu"]).optional(),
    memoryMiB: z
      .number({ error: "must be a number of MiB" })
      .int({ error: "must be a whole number of MiB" })
      .min(1, { error: "must be at least 1 MiB" })
      .max(16 * 1024 * 1024, { error: "must be at most 16 TiB (16777216 MiB)" })
      .optional(),
    vcpus: z
      .number({ error: "must be a number" })
      .int({ error: "must be a whole number" })
      .min(1, { error: "must be at least 1" })
      .max(4096, { error: "must be at most 4096" })
      .optional(),
    arch: z
      .string()
      .regex(/^[a-z0-9_]+$/, { error: 'must be a libvirt architecture such as "x86_64" or "aarch64"' })
      .optional(),
    machine: z
      .string()
      .regex(/^[a-z0-9_.-]+$/i, { error: 'must be a machine type such as "q35" or "pc"' })
      .optional(),
    disks: z.array(diskSchema).max(64).optional(),
    networkInterfaces: z.array(nicSchema).max(32).optional(),
    bootDevices: z
      .array(oneOf(["hd", "cdrom", "network", "fd"]))
      .max(4)
      .optional(),
    kernel: absolutePath("kernel").optional(),
    initrd: absolutePath("initrd").optional(),
    cmdline: z.string().max(4096, { error: "must be at most 4096 characters" }).optional(),
    firmware: oneOf(["bios", "efi"]).optional(),
    graphics: oneOf(["vnc", "spice"]).optional(),
    serialConsole: flag("serialConsole").optional(),
    description: z.string().max(4096, { error: "must be at most 4096 characters" }).optional(),
    xml: z.string().min(1, { error: "must not be empty" }).optional(),
    running: flag("running").optional(),
    persistent: flag("persistent").optional(),
    autostart: flag("autostart").optional(),
    deleteSnapshotsOnDestroy: flag("deleteSnapshotsOnDestroy").optional(),
    deleteSnapshotDataOnDestroy: flag("deleteSnapshotDataOnDestroy").optional(),
    deleteManagedSaveOnDestroy: flag("deleteManagedSaveOnDestroy").optional(),
    deleteCheckpointsOnDestroy: flag("deleteCheckpointsOnDestroy").optional(),
    keepNvramOnDestroy: flag("keepNvramOnDestroy").optional(),
  })
  .strict();

type Parsed = z.infer<typeof domainInputSchema>;
export type DiskInput = z.infer<typeof diskSchema>;
export type NetworkInterfaceInput = z.infer<typeof nicSchema>;

/** Inputs after check: defaults applied where they need no hypervisor. */
export type DomainInputs = Parsed & {
  running: boolean;
  persistent: boolean;
  autostart: boolean;
  deleteSnapshotsOnDestroy: boolean;
  deleteSnapshotDataOnDestroy: boolean;
  deleteManagedSaveOnDestroy: boolean;
  deleteCheckpointsOnDestroy: boolean;
  keepNvramOnDestroy: boolean;
};

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
  if (i.deleteSnapshotDataOnDestroy && !i.deleteSnapshotsOnDestroy) {
    f.push({
      property: "deleteSnapshotDataOnDestroy",
      reason: "deletes snapshot contents as part of the snapshot cascade; set deleteSnapshotsOnDestroy: true as well",
    });
  }
  return f;
}

/**
 * Validates and normalizes Domain inputs. During a preview some inputs are not
 * known yet (a Volume's path, say): those are left out here, `unknownKeys` names
 * them, no normalized inputs are returned, and the rules that combine fields wait
 * for the `pulumi up`, when Pulumi checks again with every value known.
 */
export function checkDomainInputs(news: Record<string, unknown>): { inputs?: DomainInputs; failures: CheckFailure[]; unknownKeys: Set<string> } {
  const { known, unknownKeys } = knownOnly(userInputs(news));
  if (known.name === undefined && !unknownKeys.has("name")) {
    return { failures: [{ property: "name", reason: "is required (the SDK's Domain defaults it to the resource name)" }], unknownKeys };
  }
  const schema = unknownKeys.has("name") ? domainInputSchema.partial({ name: true }) : domainInputSchema;
  const parsed = schema.safeParse(known);
  if (!parsed.success) return { failures: toFailures(parsed.error), unknownKeys };
  if (unknownKeys.size > 0) return { failures: [], unknownKeys };
  const failures = crossFieldFailures(parsed.data as Parsed);
  if (failures.length > 0) return { failures, unknownKeys };
  const i = parsed.data as Parsed;
  return {
    failures: [],
    unknownKeys,
    inputs: {
      ...domainDefaults(i.xml !== undefined),
      ...withoutUndefined(i),
      vcpus: i.xml === undefined ? (i.vcpus ?? 1) : undefined,
      // libvirt cannot hold an empty description (it drops the element): "" means none.
      description: i.description === "" ? undefined : i.description,
    },
  };
}

/**
 * The defaults check fills in for inputs left out. Also applied to the known part of
 * a preview's inputs when some are unknown, so that the preview does not show the
 * defaulted inputs as removed.
 */
export function domainDefaults(hasXml: boolean) {
  return {
    ...(hasXml ? {} : { vcpus: 1 }),
    running: true,
    persistent: true,
    autostart: false,
    deleteSnapshotsOnDestroy: false,
    deleteSnapshotDataOnDestroy: false,
    deleteManagedSaveOnDestroy: false,
    deleteCheckpointsOnDestroy: false,
    keepNvramOnDestroy: false,
  };
}
