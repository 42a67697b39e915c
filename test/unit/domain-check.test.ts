// Domain check: every bad input is refused with one failure that names the
// exact property and says what is allowed; good inputs get their defaults.
import { describe, expect, it } from "vitest";
import { built, provider } from "../helpers/lib";

const { domainProvider } = provider;
const { checkDomainInputs } = built<typeof import("../../provider/domain/inputs")>("provider/domain/inputs");
const base = { name: "web", memoryMiB: 64 };
const XML = (name: string) => `<domain type='test'><name>${name}</name><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>`;
const NAME_RULE = /may use letters, digits and _ \. \+ : -.*"\/", spaces, quotes and XML characters are not allowed/;

const bad: Array<[label: string, news: Record<string, unknown>, property: string, reason: RegExp]> = [
  ["name with /", { ...base, name: "a/b" }, "name", NAME_RULE],
  ["name that would inject XML", { ...base, name: "x</name><devices>" }, "name", NAME_RULE],
  ["empty name", { ...base, name: "" }, "name", /must not be empty/],
  ["4 KiB name", { ...base, name: "a".repeat(4096) }, "name", /at most 200 characters/],
  ["name starting with a dot", { ...base, name: ".hidden" }, "name", NAME_RULE],
  ["name not a string", { ...base, name: 42 }, "name", /must be a string/],
  ["missing name", { memoryMiB: 64 }, "name", /is required/],
  ["memoryMiB 0", { ...base, memoryMiB: 0 }, "memoryMiB", /must be at least 1 MiB/],
  ["memoryMiB 1.5", { ...base, memoryMiB: 1.5 }, "memoryMiB", /whole number of MiB/],
  ["memoryMiB as a string", { ...base, memoryMiB: "512" }, "memoryMiB", /must be a number of MiB/],
  ["memoryMiB beyond 16 TiB", { ...base, memoryMiB: 16 * 1024 * 1024 + 1 }, "memoryMiB", /at most 16 TiB/],
  ["missing memoryMiB", { name: "web" }, "memoryMiB", /is required .*unless xml is given/],
  ["vcpus 0", { ...base, vcpus: 0 }, "vcpus", /must be at least 1/],
  [
    "unknown disk bus",
    { ...base, disks: [{ file: "/img/a.qcow2", bus: "floppy" }] },
    "disks[0].bus",
    /must be one of "virtio", "sata", "scsi", "ide", "usb"/,
  ],
  ["unknown disk device", { ...base, disks: [{ file: "/img/a.qcow2", device: "lun" }] }, "disks[0].device", /must be one of "disk", "cdrom"/],
  ["unknown disk format", { ...base, disks: [{ file: "/img/a.qcow2", format: "vmdk" }] }, "disks[0].format", /must be one of "raw", "qcow2"/],
  ["relative disk file", { ...base, disks: [{ file: "images/a.qcow2" }] }, "disks[0].file", /must be an absolute path/],
  [
    "disk file with ..",
    { ...base, disks: [{ file: "/var/lib/libvirt/images/../../../etc/shadow" }] },
    "disks[0].file",
    /must not contain "\.\." segments/,
  ],
  ["disk with neither file nor volume", { ...base, disks: [{ bus: "virtio" }] }, "disks[0]", /exactly one of file .* or volume/],
  ["bad target vdA1", { ...base, disks: [{ file: "/img/a.qcow2", target: "vdA1" }] }, "disks[0].target", /device name such as "vda", "sdb" or "hdc"/],
  [
    "duplicate targets",
    {
      ...base,
      disks: [
        { file: "/img/a.qcow2", target: "vda" },
        { file: "/img/b.qcow2", target: "vda" },
      ],
    },
    "disks[1].target",
    /"vda" is already used by disks\[0\]/,
  ],
  [
    "cdrom with qcow2",
    { ...base, disks: [{ file: "/img/a.qcow2", device: "cdrom", format: "qcow2" }] },
    "disks[0].format",
    /cdrom takes a "raw" image/,
  ],
  ["unknown disk property", { ...base, disks: [{ file: "/img/a.qcow2", cache: "none" }] }, "disks[0].cache", /unknown property "cache"/],
  [
    "nic with both network and bridge",
    { ...base, networkInterfaces: [{ network: "default", bridge: "br0" }] },
    "networkInterfaces[0]",
    /exactly one of network .* or bridge/,
  ],
  [
    "nic with neither network nor bridge",
    { ...base, networkInterfaces: [{ model: "virtio" }] },
    "networkInterfaces[0]",
    /exactly one of network .* or bridge/,
  ],
  ["second nic bad", { ...base, networkInterfaces: [{ network: "default" }, {}] }, "networkInterfaces[1]", /exactly one of network .* or bridge/],
  [
    "bad mac",
    { ...base, networkInterfaces: [{ network: "default", mac: "52:54:00:zz:00:01" }] },
    "networkInterfaces[0].mac",
    /MAC address such as "52:54:00:12:34:56"/,
  ],
  [
    "unknown nic model",
    { ...base, networkInterfaces: [{ network: "default", model: "ne2k_pci" }] },
    "networkInterfaces[0].model",
    /must be one of "virtio", "e1000", "e1000e", "rtl8139"/,
  ],
  ["network name with /", { ...base, networkInterfaces: [{ network: "../default" }] }, "networkInterfaces[0].network", /network may use letters/],
  ["unknown bootDevice", { ...base, bootDevices: ["hd", "usb"] }, "bootDevices[1]", /must be one of "hd", "cdrom", "network", "fd"/],
  ["initrd without kernel", { ...base, initrd: "/boot/initrd.img" }, "initrd", /needs kernel/],
  ["cmdline without kernel", { ...base, cmdline: "console=ttyS0" }, "cmdline", /needs kernel/],
  ["relative kernel", { ...base, kernel: "vmlinuz" }, "kernel", /kernel must be an absolute path/],
  ["unknown firmware", { ...base, firmware: "uefi" }, "firmware", /must be one of "bios", "efi"/],
  ["unknown graphics", { ...base, graphics: "sdl" }, "graphics", /must be one of "vnc", "spice"/],
  ["unknown type", { ...base, type: "xen" }, "type", /must be one of "kvm", "qemu"/],
  ["xml plus memoryMiB", { name: "web", memoryMiB: 64, xml: XML("web") }, "memoryMiB", /cannot be combined with xml/],
  ["xml plus disks", { name: "web", xml: XML("web"), disks: [{ file: "/img/a.qcow2" }] }, "disks", /cannot be combined with xml/],
  ["malformed xml", { name: "web", xml: "<domain><name>web</name>" }, "xml", /is not well-formed XML/],
  ["xml naming a different domain", { name: "web", xml: XML("db") }, "name", /is "web" but the xml names the domain "db"/],
  ["xml that is not a <domain>", { name: "web", xml: "<network><name>web</name></network>" }, "xml", /must be a <domain> document/],
  ["empty xml", { name: "web", xml: "" }, "xml", /must not be empty/],
  ["persistent false + running false", { ...base, persistent: false, running: false }, "running", /transient domain .* exists only while it runs/],
  ["autostart with a transient domain", { ...base, persistent: false, autostart: true }, "autostart", /only a persistent domain can autostart/],
  [
    "deleteSnapshotDataOnDestroy without deleteSnapshotsOnDestroy",
    { ...base, deleteSnapshotDataOnDestroy: true },
    "deleteSnapshotDataOnDestroy",
    /set deleteSnapshotsOnDestroy: true as well/,
  ],
  [
    "restoreSnapshotsFrom on a transient domain",
    { ...base, persistent: false, restoreSnapshotsFrom: "/img/web.snapshots-x.json" },
    "restoreSnapshotsFrom",
    /libvirt drops when a transient domain stops; set persistent: true/,
  ],
  ["restoreSnapshotsFrom relative", { ...base, restoreSnapshotsFrom: "web.json" }, "restoreSnapshotsFrom", /must be an absolute path/],
  [
    "restoreSnapshotsFrom without a pool",
    { ...base, restoreSnapshotsFrom: { name: "a.json" } },
    "restoreSnapshotsFrom",
    /or \{ pool, name \} of the archive volume/,
  ],
  ["teardown option not a boolean", { ...base, deleteSnapshotsOnDestroy: "yes" }, "deleteSnapshotsOnDestroy", /must be true or false/],
  ["uri not a uri", { ...base, uri: "not a uri" }, "uri", /must be a libvirt URI such as qemu:\/\/\/system/],
  ["uri embedding a password", { ...base, uri: "qemu+ssh://root:hunter2@host/system" }, "uri", /must not embed a password/],
  ["unknown property memroy", { ...base, memroy: 512 }, "memroy", /unknown property "memroy"/],
  ["running 'yes' (a string)", { ...base, running: "yes" }, "running", /running must be true or false/],
];

describe("Domain check refuses bad inputs", () => {
  it("the table has at least 25 cases", () => {
    expect(bad.length).toBeGreaterThanOrEqual(25);
  });

  it.each(bad)("%s → %s", async (_label, news, property, reason) => {
    const result = await domainProvider.check!({}, news);
    expect(result.failures).toHaveLength(1);
    expect(result.failures![0].property).toBe(property);
    expect(result.failures![0].reason).toMatch(reason);
    // On failure the engine gets the inputs back unchanged.
    expect(result.inputs).toEqual(news);
  });

  it("several problems are all reported, each with its property", async () => {
    const { failures } = await domainProvider.check!({}, { name: "a/b", memoryMiB: 0, disks: [{ file: "rel.img" }], graphics: "sdl" });
    expect(failures!.map((f) => f.property).sort()).toEqual(["disks[0].file", "graphics", "memoryMiB", "name"]);
  });

  it("a password in the uri is not repeated in the failure", async () => {
    const { failures } = await domainProvider.check!({}, { ...base, uri: "qemu+ssh://root:hunter2@host/system" });
    expect(JSON.stringify(failures)).not.toContain("hunter2");
  });
});

describe("Domain check accepts good inputs", () => {
  it("applies the defaults: running, persistent, 1 vcpu, no autostart, a 300 s address wait, every teardown option off, no tree kept on replace", async () => {
    const { inputs, failures } = await domainProvider.check!({}, base);
    expect(failures).toEqual([]);
    expect(inputs).toEqual({
      name: "web",
      memoryMiB: 64,
      vcpus: 1,
      waitForAddressTimeoutSeconds: 300,
      running: true,
      persistent: true,
      autostart: false,
      deleteSnapshotsOnDestroy: false,
      deleteSnapshotDataOnDestroy: false,
      deleteManagedSaveOnDestroy: false,
      deleteCheckpointsOnDestroy: false,
      keepNvramOnDestroy: false,
      archiveSecretsOnDestroy: false,
      keepSnapshotsOnReplace: false,
      shutdownTimeoutSeconds: 60,
    });
  });

  it("ignores the dynamic-provider __provider key and null/undefined members", async () => {
    const { inputs, failures } = await domainProvider.check!(
      {},
      { ...base, __provider: "exports.handler = ...", description: undefined, graphics: null },
    );
    expect(failures).toEqual([]);
    expect(inputs).not.toHaveProperty("__provider");
    expect(inputs).not.toHaveProperty("description");
    expect(inputs).not.toHaveProperty("graphics");
  });

  it("keeps explicit values", async () => {
    const news = {
      ...base,
      vcpus: 2,
      running: false,
      autostart: true,
      uri: "test:///default",
      disks: [{ file: "/img/a.qcow2" }, { file: "/img/cd.iso", device: "cdrom", bus: "sata", target: "sdb" }],
      networkInterfaces: [{ network: "default", mac: "52:54:00:12:34:56", model: "e1000" }, { bridge: "br0" }],
      bootDevices: ["cdrom", "hd"],
      kernel: "/boot/vmlinuz",
      initrd: "/boot/initrd.img",
      cmdline: "console=ttyS0",
      firmware: "efi",
      graphics: "vnc",
      serialConsole: true,
      description: "the web server",
      deleteSnapshotsOnDestroy: true,
      deleteSnapshotDataOnDestroy: true,
      keepNvramOnDestroy: true,
    };
    const { inputs, failures } = await domainProvider.check!({}, news);
    expect(failures).toEqual([]);
    expect(inputs).toMatchObject(news);
  });

  it("a raw xml domain: no vcpus default, name may be left out of the xml", async () => {
    const xml = "<domain type='test'><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>";
    const { inputs, failures } = await domainProvider.check!({}, { name: "web", xml });
    expect(failures).toEqual([]);
    expect(inputs).toMatchObject({ name: "web", xml, running: true, persistent: true });
    expect(inputs).not.toHaveProperty("vcpus");
    expect(inputs).not.toHaveProperty("memoryMiB");
  });

  it.each(["test:///default", "qemu:///system", "qemu+ssh://user@host/system", "qemu+tcp://host:16509/system"])("accepts the uri %s", async (uri) => {
    const { failures } = await domainProvider.check!({}, { ...base, uri });
    expect(failures).toEqual([]);
  });

  it("check is the same through checkDomainInputs", () => {
    const direct = checkDomainInputs({ ...base, vcpus: 0 });
    expect(direct.inputs).toBeUndefined();
    expect(direct.failures).toEqual([{ property: "vcpus", reason: "must be at least 1" }]);
  });
});
