// Snapshot check / diff / XML / ID / job-wait logic: no hypervisor needed.
import { describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";
// Pure modules straight from the source; LibvirtError from the same instance as whileJobBusy.
import { checkSnapshotInputs } from "../../provider/snapshot/inputs";
import { buildSnapshotXml, parseSnapshotXml, withDescription } from "../../provider/snapshot/xml";
import { snapshotId, parseSnapshotId, createFlags } from "../../provider/snapshot/provider";
import { keepsDataOnDestroy } from "../../provider/teardown/snapshot";
import { whileJobBusy, JobBusyTimeoutError } from "../../provider/libvirt/job-wait";
import { LibvirtError } from "../../provider/libvirt/errors";

const { snapshotProvider } = provider;

// libvirt error codes (virErrorNumber).
const VIR_ERR_OPERATION_TIMEOUT = 68;
const VIR_ERR_CONFIG_UNSUPPORTED = 67;
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const base = { name: "s1", domain: "web" };

function failuresOf(inputs: Record<string, unknown>) {
  const { failures } = checkSnapshotInputs(inputs);
  return failures;
}

describe("Snapshot check: bad inputs name the property", () => {
  const cases: Array<[string, Record<string, unknown>, string, RegExp?]> = [
    ["unknown property (typo)", { ...base, diskonly: true }, "diskonly", /unknown property/],
    ["unknown memory mode", { ...base, memory: "ram" }, "memory", /"internal", "external", "none"/],
    ["memory: internal with diskOnly", { ...base, memory: "internal", diskOnly: true }, "memory", /disk-only/],
    ["memory: external without memoryFile", { ...base, memory: "external" }, "memoryFile", /required/],
    ["memoryFile without memory: external", { ...base, memoryFile: "/var/lib/x.mem" }, "memoryFile", /only applies/],
    ["relative memoryFile", { ...base, memory: "external", memoryFile: "x.mem" }, "memoryFile", /absolute/],
    ["external disk without file", { ...base, diskOnly: true, disks: [{ target: "vda", snapshot: "external" }] }, "disks[0].file", /required/],
    [
      "external disk with a relative file",
      { ...base, diskOnly: true, disks: [{ target: "vda", snapshot: "external", file: "overlay.qcow2" }] },
      "disks[0].file",
      /absolute/,
    ],
    [
      "external disk file with ..",
      { ...base, diskOnly: true, disks: [{ target: "vda", snapshot: "external", file: "/var/lib/../x.qcow2" }] },
      "disks[0].file",
      /\.\./,
    ],
    [
      "two disks with one overlay file",
      {
        ...base,
        diskOnly: true,
        disks: [
          { target: "vda", snapshot: "external", file: "/i/a.qcow2" },
          { target: "vdb", snapshot: "external", file: "/i/a.qcow2" },
        ],
      },
      "disks[1].file",
      /already used/,
    ],
    ["file on an internal disk", { ...base, disks: [{ target: "vda", snapshot: "internal", file: "/i/a.qcow2" }] }, "disks[0].file", /only applies/],
    ["unknown disk snapshot mode", { ...base, disks: [{ target: "vda", snapshot: "copy" }] }, "disks[0].snapshot"],
    [
      "duplicate disk target",
      {
        ...base,
        disks: [
          { target: "vda", snapshot: "internal" },
          { target: "vda", snapshot: "none" },
        ],
      },
      "disks[1].target",
      /already listed/,
    ],
    ["bad disk target", { ...base, disks: [{ target: "../vda", snapshot: "internal" }] }, "disks[0].target"],
    [
      "external disk with memory: internal",
      { ...base, memory: "internal", disks: [{ target: "vda", snapshot: "external", file: "/i/o.qcow2" }] },
      "disks[0].snapshot",
      /memory: "internal"/,
    ],
    ["raw xml mixed with description", { ...base, xml: "<domainsnapshot/>", description: "x" }, "description", /cannot be combined with xml/],
    [
      "raw xml mixed with disks",
      { ...base, xml: "<domainsnapshot/>", disks: [{ target: "vda", snapshot: "internal" }] },
      "disks",
      /cannot be combined with xml/,
    ],
    ["raw xml not well-formed", { ...base, xml: "<domainsnapshot><name>" }, "xml", /well-formed/],
    ["raw xml of another document", { ...base, xml: "<domain><name>s1</name></domain>" }, "xml", /<domainsnapshot>/],
    ["raw xml naming another snapshot", { ...base, xml: "<domainsnapshot><name>other</name></domainsnapshot>" }, "name", /"other"/],
    ["raw xml setting <parent>", { ...base, xml: "<domainsnapshot><parent><name>p</name></parent></domainsnapshot>" }, "xml", /<parent>/],
    ["quiesce without diskOnly", { ...base, quiesce: true }, "quiesce", /diskOnly/],
    ["live without external memory", { ...base, live: true }, "live", /memory: "external"/],
    ["live with halt", { ...base, live: true, halt: true, memory: "external", memoryFile: "/i/m" }, "halt", /live/],
    ["name with a slash", { ...base, name: "a/b" }, "name", /not allowed/],
    ["name injecting XML", { ...base, name: "a</name><x>" }, "name"],
    ["missing domain", { name: "s1" }, "domain", /required/],
    ["empty domain", { ...base, domain: "" }, "domain", /empty/],
    ["uri with a password", { ...base, uri: "qemu+tcp://u:secret@h/system" }, "uri", /password/],
    ["non-boolean atomic", { ...base, atomic: "yes" }, "atomic", /true or false/],
    ["non-boolean deleteDataOnDestroy", { ...base, deleteDataOnDestroy: 0 }, "deleteDataOnDestroy", /true or false/],
    ["description too long", { ...base, description: "x".repeat(5000) }, "description", /4096/],
    ["nothing captured", { ...base, diskOnly: true, disks: [{ target: "vda", snapshot: "none" }] }, "disks", /capture nothing/],
  ];
  it.each(cases)("%s", (_label, inputs, property, reason) => {
    const failures = failuresOf(inputs);
    const hit = failures.find((f) => f.property === property);
    expect(hit, `failures: ${JSON.stringify(failures)}`).toBeDefined();
    if (reason) expect(hit!.reason).toMatch(reason);
  });

  it("the provider's check returns the same failures to Pulumi", async () => {
    const res = await snapshotProvider.check!({}, { ...base, memory: "internal", diskOnly: true, __provider: "x" });
    expect(res.failures).toEqual([expect.objectContaining({ property: "memory" })]);
  });
});

describe("Snapshot check: defaults and unknowns", () => {
  it("applies the documented defaults", () => {
    const { inputs, failures } = checkSnapshotInputs({ ...base });
    expect(failures).toEqual([]);
    expect(inputs).toMatchObject({ atomic: true, diskOnly: false, quiesce: false, live: false, halt: false, deleteDataOnDestroy: true });
    expect(inputs!.memory).toBeUndefined();
  });

  it("accepts every documented option together", () => {
    const { failures } = checkSnapshotInputs({
      ...base,
      uri: "qemu:///system",
      description: "d",
      memory: "external",
      memoryFile: "/i/m.mem",
      live: true,
      atomic: false,
      disks: [
        { target: "vda", snapshot: "external", file: "/i/o.qcow2" },
        { target: "vdb", snapshot: "none" },
      ],
      deleteDataOnDestroy: false,
    });
    expect(failures).toEqual([]);
  });

  it("leaves values Pulumi does not know yet (preview) unvalidated and unchanged", () => {
    const { inputs, failures, unknownKeys } = checkSnapshotInputs({ name: "s1", domain: UNKNOWN, uri: UNKNOWN });
    expect(failures).toEqual([]);
    expect(unknownKeys.size > 0).toBe(true);
    expect(inputs).toMatchObject({ domain: UNKNOWN, uri: UNKNOWN });
    // A rule that involves an unknown value waits for it; a known bad value still fails.
    expect(checkSnapshotInputs({ name: "s1", domain: "web", live: true, memory: UNKNOWN }).failures).toEqual([]);
    expect(checkSnapshotInputs({ name: "s1", domain: UNKNOWN, memory: "ram" }).failures).toEqual([expect.objectContaining({ property: "memory" })]);
  });
});

describe("Snapshot diff", () => {
  const olds = {
    name: "s1",
    domain: "web",
    domainUuid: "11111111-2222-3333-4444-555555555555",
    uri: "test:///default",
    description: "a",
    atomic: true,
    diskOnly: false,
    quiesce: false,
    live: false,
    halt: false,
    deleteDataOnDestroy: true,
    children: [],
    isCurrent: true,
    kind: "internal",
    xml: "<domainsnapshot/>",
  };
  const diff = (news: Record<string, unknown>) => snapshotProvider.diff!("id", olds, news);

  it("no change, with the domain named by name or UUID, and uri unset", async () => {
    expect(await diff({ name: "s1", domain: "web", description: "a" })).toMatchObject({ changes: false, replaces: [] });
    expect(await diff({ name: "s1", domain: olds.domainUuid, uri: "test:///default", description: "a" })).toMatchObject({ changes: false });
  });

  it("description, atomic, halt and deleteDataOnDestroy change in place", async () => {
    for (const change of [{ description: "b" }, { atomic: false }, { halt: true }, { deleteDataOnDestroy: false }]) {
      const d = await diff({ name: "s1", domain: "web", description: "a", ...change });
      expect(d, JSON.stringify(change)).toMatchObject({ changes: true, replaces: [], deleteBeforeReplace: false });
    }
  });

  it("what was captured replaces; the same name deletes before it creates", async () => {
    const d = await diff({ name: "s1", domain: "web", description: "a", memory: "none" });
    expect(d).toMatchObject({ changes: true, replaces: ["memory"], deleteBeforeReplace: true });
    const renamed = await diff({ name: "s2", domain: "web", description: "a", diskOnly: true });
    expect(renamed).toMatchObject({ replaces: ["name", "diskOnly"], deleteBeforeReplace: false });
  });

  it("another domain replaces without deleting first; an unknown domain (preview) counts as a replacement", async () => {
    expect(await diff({ name: "s1", domain: "db", description: "a" })).toMatchObject({ replaces: ["domain"], deleteBeforeReplace: false });
    expect(await diff({ name: "s1", domain: UNKNOWN, uri: UNKNOWN, description: "a" })).toMatchObject({ changes: true, replaces: ["domain", "uri"] });
  });

  it("compares a raw xml input with the stored input, not with libvirt's document", async () => {
    const raw = "<domainsnapshot><description>r</description></domainsnapshot>";
    const withRaw = { ...olds, description: undefined, inputXml: raw };
    expect(await snapshotProvider.diff!("id", withRaw, { name: "s1", domain: "web", xml: raw })).toMatchObject({ changes: false });
    expect(await snapshotProvider.diff!("id", withRaw, { name: "s1", domain: "web", xml: raw.replace("r<", "q<") })).toMatchObject({
      replaces: ["xml"],
    });
  });
});

describe("Snapshot XML", () => {
  it("escapes text: a description cannot inject elements", () => {
    const { inputs } = checkSnapshotInputs({ ...base, description: "a</description><memory snapshot='external'/>&" });
    const xml = buildSnapshotXml(inputs!);
    expect(xml).not.toContain("<memory");
    expect(parseSnapshotXml(xml).description).toBe("a</description><memory snapshot='external'/>&");
  });

  it("builds memory and per-disk choices in libvirt's spelling", () => {
    const { inputs } = checkSnapshotInputs({
      ...base,
      memory: "none",
      diskOnly: true,
      disks: [
        { target: "vda", snapshot: "external", file: "/i/o.qcow2" },
        { target: "vdb", snapshot: "none" },
      ],
    });
    const o = parseSnapshotXml(buildSnapshotXml(inputs!));
    expect(o.memory).toEqual({ snapshot: "no" });
    expect(o.disks).toEqual([
      { target: "vda", snapshot: "external", file: "/i/o.qcow2" },
      { target: "vdb", snapshot: "no" },
    ]);
    expect(o.name).toBe("s1");
  });

  it("fills the name into raw xml, keeping the rest", () => {
    const { inputs } = checkSnapshotInputs({
      ...base,
      xml: "<domainsnapshot><description>raw</description><memory snapshot='no'/></domainsnapshot>",
    });
    const o = parseSnapshotXml(buildSnapshotXml(inputs!));
    expect(o).toMatchObject({ name: "s1", description: "raw", memory: { snapshot: "no" } });
  });

  it("rewrites only the description for a redefine, keeping element order", () => {
    const xml =
      "<domainsnapshot><name>s</name><description>old</description><state>running</state><domain><devices><disk n='1'/><interface/><disk n='2'/></devices></domain></domainsnapshot>";
    const edited = withDescription(xml, "new <&>");
    expect(parseSnapshotXml(edited).description).toBe("new <&>");
    expect(edited.indexOf('n="1"') < edited.indexOf("<interface") && edited.indexOf("<interface") < edited.indexOf('n="2"')).toBe(true);
    expect(parseSnapshotXml(withDescription(xml, undefined)).description).toBeUndefined();
    const added = withDescription("<domainsnapshot><name>s</name><state>shutoff</state></domainsnapshot>", "d");
    expect(added.indexOf("<description>")).toBeGreaterThan(added.indexOf("</name>"));
  });

  it("reports the kind from libvirt's document", () => {
    expect(parseSnapshotXml("<domainsnapshot><state>running</state><memory snapshot='internal'/></domainsnapshot>").kind).toBe("internal");
    expect(parseSnapshotXml("<domainsnapshot><state>running</state><memory snapshot='external' file='/m'/></domainsnapshot>").kind).toBe("external");
    expect(
      parseSnapshotXml("<domainsnapshot><state>disk-snapshot</state><disks><disk name='vda' snapshot='external'/></disks></domainsnapshot>").kind,
    ).toBe("disk-only");
  });
});

describe("Snapshot IDs, flags and delete options", () => {
  it("splits unambiguously even when the name contains separators", () => {
    const uuid = "6695eb01-f6a4-8304-79aa-97f2502e193f";
    expect(parseSnapshotId(snapshotId(uuid, "a:b.c-d"))).toEqual({ domainUuid: uuid, name: "a:b.c-d" });
    expect(() => parseSnapshotId("not-an-id/x")).toThrow(/not a Snapshot ID/);
  });

  it("maps options to libvirt's creation flags; atomic by default, never NO_METADATA", () => {
    const { inputs } = checkSnapshotInputs({ ...base });
    expect(createFlags(inputs!)).toBe(128);
    const { inputs: all } = checkSnapshotInputs({ ...base, diskOnly: true, quiesce: true, halt: true, atomic: false });
    expect(createFlags(all!)).toBe(16 | 64 | 8);
  });

  it("keeps data only when asked, or for one destroy through the environment", () => {
    expect(keepsDataOnDestroy({ deleteDataOnDestroy: true }, {})).toBe(false);
    expect(keepsDataOnDestroy({}, {})).toBe(false);
    expect(keepsDataOnDestroy({ deleteDataOnDestroy: false }, {})).toBe(true);
    expect(keepsDataOnDestroy({ deleteDataOnDestroy: true }, { LIBVIRT_PULUMI_KEEP_SNAPSHOT_DATA_ON_DESTROY: "1" })).toBe(true);
  });
});

describe("whileJobBusy", () => {
  const busy = () =>
    new LibvirtError(
      "creating snapshot",
      VIR_ERR_OPERATION_TIMEOUT,
      10,
      "Timed out during operation: cannot acquire state change lock (held by monitor=remoteDispatchDomainSnapshotCreateXML)",
    );
  function fakeClock() {
    let t = 0;
    const sleeps: number[] = [];
    return {
      now: () => t,
      sleep: async (ms: number) => {
        sleeps.push(ms);
        t += ms;
      },
      sleeps,
      advance: (ms: number) => {
        t += ms;
      },
    };
  }

  it("retries while the job lock is busy, with growing pauses, then succeeds", async () => {
    const clock = fakeClock();
    let calls = 0;
    const result = await whileJobBusy(
      "op",
      async () => {
        calls++;
        clock.advance(30_000); // libvirt itself waited 30 s
        if (calls < 3) throw busy();
        return "done";
      },
      { now: clock.now, sleep: clock.sleep, limitMs: 300_000 },
    );
    expect(result).toBe("done");
    expect(calls).toBe(3);
    expect(clock.sleeps.length).toBe(2);
    expect(clock.sleeps[1]).toBeGreaterThan(clock.sleeps[0]);
  });

  it("gives up after the limit with libvirt's reason and the variable that raises it", async () => {
    const clock = fakeClock();
    let calls = 0;
    const err = await whileJobBusy(
      'creating snapshot "s"',
      async () => {
        calls++;
        clock.advance(30_000);
        throw busy();
      },
      { now: clock.now, sleep: clock.sleep, limitMs: 90_000 },
    ).catch((e) => e);
    expect(err).toBeInstanceOf(JobBusyTimeoutError);
    expect(err.message).toMatch(/cannot acquire state change lock/);
    expect(err.message).toMatch(/LIBVIRT_PULUMI_JOB_WAIT_TIMEOUT_MS/);
    expect(calls).toBe(3);
  });

  it("does not retry other errors", async () => {
    let calls = 0;
    const other = new LibvirtError("op", VIR_ERR_CONFIG_UNSUPPORTED, 35, "unsupported configuration");
    await expect(
      whileJobBusy(
        "op",
        async () => {
          calls++;
          throw other;
        },
        { sleep: async () => {} },
      ),
    ).rejects.toBe(other);
    expect(calls).toBe(1);
  });

  it("reads its limit from LIBVIRT_PULUMI_JOB_WAIT_TIMEOUT_MS", async () => {
    const saved = process.env.LIBVIRT_PULUMI_JOB_WAIT_TIMEOUT_MS;
    process.env.LIBVIRT_PULUMI_JOB_WAIT_TIMEOUT_MS = "0";
    try {
      let calls = 0;
      await expect(
        whileJobBusy("op", async () => {
          calls++;
          throw busy();
        }),
      ).rejects.toBeInstanceOf(JobBusyTimeoutError);
      expect(calls).toBe(1);
    } finally {
      if (saved === undefined) delete process.env.LIBVIRT_PULUMI_JOB_WAIT_TIMEOUT_MS;
      else process.env.LIBVIRT_PULUMI_JOB_WAIT_TIMEOUT_MS = saved;
    }
  });
});
