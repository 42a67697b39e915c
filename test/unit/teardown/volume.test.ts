// The Volume rules that the storage unit tests do not cover: the shrink refusal.
import { describe, expect, it } from "vitest";
import { planVolumeResize } from "../../../provider/teardown/volume";

const MiB = 1024 * 1024;

describe("planVolumeResize", () => {
  const rows: Array<[string, number, number | undefined, string | null]> = [
    ["capacity left out: nothing to do", 32 * MiB, undefined, null],
    ["the same size", 32 * MiB, 32 * MiB, null],
    ["growing", 32 * MiB, 64 * MiB, null],
    [
      "shrinking is refused, with the size to keep",
      32 * MiB,
      8 * MiB,
      'refusing to shrink volume "disk.qcow2" from 32 MiB to 8 MiB (nothing was changed): shrinking cuts off whatever the guest stored ' +
        `at the end of the disk. Keep capacity at ${32 * MiB} bytes or more, or give the volume a new name to replace it`,
    ],
  ];
  it.each(rows)("%s", (_label, current, wanted, message) => {
    const d = planVolumeResize("disk.qcow2", current, wanted);
    expect(d).toEqual(message === null ? { allowed: true } : { allowed: false, message });
  });
  it("one byte less is refused too", () => expect(planVolumeResize("d", 32 * MiB, 32 * MiB - 1).allowed).toBe(false));
});
