// The qemuGuestAgent input on qemu:///system: the QEMU guest agent's virtio channel
// is in the definition libvirt keeps, gets its host socket when the domain runs,
// and goes again when the input is turned off (in place: same UUID, applied at the
// next start). The provider acts; virsh says what is there.
import { existsSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";
import { createDomain } from "../helpers/domains";
import { QEMU_URI, removeDomain, virsh } from "../helpers/host";

const { domainProvider: dp } = provider;
const made: string[] = [];

afterAll(async () => {
  await provider.closeAllConnections();
  for (const name of made) removeDomain(QEMU_URI, name);
});

/** The guest agent channels of a definition: [target name, host socket path]. */
function agentChannels(xml: string): Array<[string, string | undefined]> {
  return [...xml.matchAll(/<channel type='unix'>([\s\S]*?)<\/channel>/g)].map((m) => [
    /<target type='virtio' name='([^']+)'/.exec(m[1])?.[1] ?? "",
    /<source mode='bind' path='([^']+)'/.exec(m[1])?.[1],
  ]);
}

describe("qemuGuestAgent", () => {
  it("adds the agent channel; a running domain has its socket; turning it off removes it in place", async () => {
    const { id, outs, inputs, name } = await createDomain("agent", { running: false, qemuGuestAgent: true }, made);
    expect(agentChannels(virsh(QEMU_URI, "dumpxml", "--inactive", name))).toEqual([["org.qemu.guest_agent.0", undefined]]);

    const started = await dp.update!(id, outs, { ...inputs, running: true });
    expect(started.outs.state).toBe("running");
    const live = agentChannels(virsh(QEMU_URI, "dumpxml", name));
    expect(live).toHaveLength(1);
    expect(live[0][0]).toBe("org.qemu.guest_agent.0");
    expect(live[0][1]).toMatch(/org\.qemu\.guest_agent\.0$/);
    expect(existsSync(live[0][1]!), `socket ${live[0][1]}`).toBe(true);

    const checked = await dp.check!({}, { ...inputs, running: true, qemuGuestAgent: false });
    const diff = await dp.diff!(id, started.outs, checked.inputs);
    expect(diff).toMatchObject({ changes: true, replaces: [] });
    const off = await dp.update!(id, started.outs, checked.inputs);
    expect(off.outs.uuid).toBe(id);
    expect(off.outs.pendingRestart).toBe(true);
    expect(agentChannels(virsh(QEMU_URI, "dumpxml", "--inactive", name))).toEqual([]);
    // The running guest keeps its channel until the next start.
    expect(agentChannels(virsh(QEMU_URI, "dumpxml", name))).toHaveLength(1);
  });

  it("is refused with a message that names it when it is not a boolean", async () => {
    const { failures } = await dp.check!({}, { name: "agent-bad", uri: QEMU_URI, memoryMiB: 64, qemuGuestAgent: "yes" });
    expect(failures).toEqual([{ property: "qemuGuestAgent", reason: "qemuGuestAgent must be true or false" }]);
  });
});
