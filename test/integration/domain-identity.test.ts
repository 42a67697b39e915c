// issue 11 item 12 (a, b, c) on qemu:///system: the advice when a name is taken
// works as printed; MAC addresses stay with their interface, not its position;
// disks beyond vdz get vdaa, vdab, ... The provider acts; virsh says what is there.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";
import { createDomain, defineDomainByHand } from "../helpers/domains";
import { QEMU_URI, domainNames, domainState, makeImageDir, removeDomain, uniqueName, virsh } from "../helpers/host";

const { domainProvider: dp } = provider;
type Outs = Record<string, any>;

let images: ReturnType<typeof makeImageDir>;
const made: string[] = [];

beforeAll(() => {
  images = makeImageDir("ident");
});

afterAll(async () => {
  await provider.closeAllConnections();
  for (const name of made) removeDomain(QEMU_URI, name);
  images.remove();
});

async function create(name: string, extra: Outs): Promise<{ id: string; outs: Outs; inputs: Outs }> {
  return createDomain(name, { running: false, ...extra }, undefined, name);
}

function defineByHand(name: string, uuid?: string): void {
  defineDomainByHand(name, { uuid }, undefined, name);
}

/** The commands a message puts in backquotes that start with `virsh`. */
const virshCommands = (message: string) => [...message.matchAll(/`(virsh [^`]+)`/g)].map((m) => m[1]).filter((c) => !/--help/.test(c));

describe("a name that is taken (12a): the advice works as printed", () => {
  it("no `import` advice; the printed destroy and undefine commands clear the way for the create", async () => {
    const name = uniqueName("taken");
    made.push(name);
    defineByHand(name);
    virsh(QEMU_URI, "start", name);
    const err = await create(name, {}).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(
      new RegExp(
        `creating domain "${name}" on qemu:///system: a domain "${name}" \\(uuid [0-9a-f-]{36}\\) already exists there.*Nothing was changed`,
      ),
    );
    expect(err?.message).not.toMatch(/import: "/);
    expect(err?.message).toMatch(/give this resource another name \(its `name` input\)/);
    expect(err?.message).toMatch(/Pulumi's `import` resource option does not work here: Domain is a dynamic resource/);
    // Nothing was changed: the existing domain still runs.
    expect(domainState(QEMU_URI, name)).toBe("running");

    const commands = virshCommands(err!.message);
    expect(commands).toEqual([`virsh -c qemu:///system destroy ${name}`, `virsh -c qemu:///system undefine ${name}`]);
    for (const c of commands) execFileSync("sh", ["-c", c], { stdio: "ignore" });
    expect(domainNames(QEMU_URI)).not.toContain(name);
    const { outs } = await create(name, {});
    expect(outs.name).toBe(name);
    expect(domainNames(QEMU_URI)).toContain(name);
  });

  it("a raw xml whose <uuid> is taken: the message says to drop the <uuid>", async () => {
    const other = uniqueName("uuid-owner");
    made.push(other);
    const uuid = "5f6a3c1e-0b8d-4c2e-9a7f-3d2b1c0e9f8a";
    defineByHand(other, uuid);
    const name = uniqueName("uuid-taker");
    made.push(name);
    const err = await create(name, {
      xml: `<domain type='qemu'><uuid>${uuid}</uuid><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>`,
      running: false,
    }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(
      new RegExp(
        `a domain "${other}" \\(uuid ${uuid}\\) already exists there with the <uuid> that the xml input gives.*drop <uuid> from the xml input`,
      ),
    );
    expect(err?.message).toContain(`virsh -c qemu:///system undefine ${other}`);
    expect(err?.message).not.toMatch(/import: "/);
    expect(domainNames(QEMU_URI)).not.toContain(name);
  });
});

describe("MAC addresses follow their interface (12b)", () => {
  /** Interface type, source and MAC of the persistent definition, as virsh lists them. */
  const nics = (name: string) =>
    virsh(QEMU_URI, "domiflist", name, "--inactive")
      .split("\n")
      .map((l) => l.trim().split(/\s+/))
      .map(([, type, source, , mac]) => ({ type, source, mac }));

  it("removing the first NIC leaves the second its MAC; reordering and adding in front keep every MAC", async () => {
    const name = uniqueName("macs");
    made.push(name);
    const bridge = "lvptestbr0";
    let m = await create(name, { networkInterfaces: [{ network: "default" }, { bridge }] });
    const [net, br] = nics(name);
    expect([net.type, br.type]).toEqual(["network", "bridge"]);
    expect(net.mac).not.toBe(br.mac);

    const update = async (networkInterfaces: Outs[]) => {
      const checked = await dp.check!(m.outs, { ...m.inputs, networkInterfaces });
      expect(checked.failures).toEqual([]);
      const { outs } = await dp.update!(m.id, m.outs, checked.inputs);
      m = { ...m, outs: outs as Outs, inputs: checked.inputs };
    };

    await update([{ bridge }, { network: "default" }]);
    expect(nics(name)).toEqual([br, net]);

    await update([{ network: "default", model: "e1000" }, { bridge }, { network: "default" }]);
    const [added, ...rest] = nics(name);
    expect(rest).toEqual([br, net]);
    expect([net.mac, br.mac]).not.toContain(added.mac);

    await update([{ bridge }]);
    expect(nics(name)).toEqual([br]);
  });
});

describe("disk targets beyond vdz (12c)", () => {
  it("64 disks are defined as vda..vdz, vdaa..vdbl", async () => {
    const name = uniqueName("disks64");
    made.push(name);
    const disks = Array.from({ length: 64 }, (_, n) => ({ file: join(images.dir, `d${n}.qcow2`) }));
    await create(name, { disks });
    const targets = virsh(QEMU_URI, "domblklist", name, "--inactive")
      .split("\n")
      .map((l) => l.trim().split(/\s+/)[0]);
    const letters = "abcdefghijklmnopqrstuvwxyz".split("");
    expect(targets).toEqual([...letters.map((a) => `vd${a}`), ...letters.map((a) => `vda${a}`), ...letters.slice(0, 12).map((a) => `vdb${a}`)]);
  });
});
