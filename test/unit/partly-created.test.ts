// A create whose outcome is unknown becomes a partly created resource only when
// the connection was lost after the change was sent; every other failure stays
// a plain failure (Pulumi records nothing).
import { describe, expect, it } from "vitest";
import { LibvirtError } from "../../provider/libvirt/errors";
import { PartlyCreatedError, recordPartlyCreated } from "../../provider/resource/partly-created";

// VIR_ERR_SYSTEM_ERROR from VIR_FROM_RPC: what a client sees when libvirtd dies mid-call.
const connectionLost = () => new LibvirtError('defining domain "web" on qemu:///system', 38, 7, "End of file while reading data: Input/output error");
const raw = { name: "web", __provider: "serialized provider" };
const partial = () => ({ id: "0b3cf2a6-31a5-4e02-9e51-9c3d1c4f5a10", props: { name: "web", state: "nostate", dropped: undefined } });

describe("recordPartlyCreated", () => {
  it("connection lost after the change was sent: the ID, the outputs and the provider key go to Pulumi", async () => {
    const err = await recordPartlyCreated(raw, 'domain "web"', partial, async (sent) => {
      sent();
      throw connectionLost();
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PartlyCreatedError);
    const e = err as InstanceType<typeof PartlyCreatedError>;
    expect(e.id).toBe("0b3cf2a6-31a5-4e02-9e51-9c3d1c4f5a10");
    // Undefined members dropped: a protobuf Struct cannot hold them.
    expect(e.properties).toEqual({ name: "web", state: "nostate", __provider: "serialized provider" });
    expect(e.message).toMatch(
      /^defining domain "web" on qemu:\/\/\/system: End of file.*; domain "web" may or may not exist: it is recorded in the stack as partly created\. Start libvirtd if it is down, then run `pulumi refresh`.*`pulumi up`$/,
    );
    expect(e.reasons).toEqual([expect.stringMatching(/^domain "web" may or may not exist/)]);
  });

  it("connection lost before anything was sent: a plain failure", async () => {
    const lost = connectionLost();
    await expect(
      recordPartlyCreated(raw, 'domain "web"', partial, async () => {
        throw lost;
      }),
    ).rejects.toBe(lost);
  });

  it("any other failure after sending (libvirt said no): a plain failure", async () => {
    const refused = new LibvirtError('defining domain "web" on qemu:///system', 27, 10, "XML error");
    await expect(
      recordPartlyCreated(raw, 'domain "web"', partial, async (sent) => {
        sent();
        throw refused;
      }),
    ).rejects.toBe(refused);
  });

  it("success passes the result through", async () => {
    await expect(
      recordPartlyCreated(raw, 'domain "web"', partial, async (sent) => {
        sent();
        return 42;
      }),
    ).resolves.toBe(42);
  });
});
