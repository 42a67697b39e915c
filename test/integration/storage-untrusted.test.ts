// Issue 11 item 8: an uploaded image can't reach host files. A Volume `source`
// that names another host file (a qcow2 backing file, absolute or relative, or an
// external data file), or whose bytes a format-guessing reader would take for an
// image although the user called it raw, is refused before anything is created.
// virsh and qemu-img say independently what exists afterwards.
import { execFileSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { provider } from "../helpers/lib";
import { failing } from "../helpers/failure";
import { QEMU_URI, makeImageDir, removePool, uniqueName, virsh, volumeNames } from "../helpers/host";

const { poolProvider, volumeProvider } = provider;
const src = makeImageDir("untrusted-src");
const poolDir = makeImageDir("untrusted-pool");
let pool: string;

beforeAll(async () => {
  pool = uniqueName("untrusted");
  const checked = await poolProvider.check!({}, { name: pool, path: poolDir.dir, uri: QEMU_URI });
  await poolProvider.create!(checked.inputs);
});

afterAll(async () => {
  await provider.closeAllConnections();
  removePool(QEMU_URI, pool);
  src.remove();
  poolDir.remove();
});

const volNames = () => volumeNames(QEMU_URI, pool);
interface ImgInfo {
  format: string;
  "backing-filename"?: string;
  "format-specific"?: { data?: { "data-file"?: string } };
}
const imgInfo = (path: string) => JSON.parse(execFileSync("qemu-img", ["info", "-U", "--output=json", path], { encoding: "utf8" })) as ImgInfo;
const qimg = (...args: string[]) => execFileSync("qemu-img", ["create", "-q", ...args]);

/** check, then (whatever check said) create with the same raw inputs: both must refuse, and nothing may appear. */
async function refusedBoth(name: string, inputs: Record<string, unknown>, property: string, pattern: RegExp): Promise<void> {
  const news = { name, pool, uri: QEMU_URI, ...inputs };
  const checked = await volumeProvider.check!({}, news);
  expect(checked.failures.map((f) => f.property)).toContain(property);
  expect(checked.failures.map((f) => f.reason).join("\n")).toMatch(pattern);
  const { err } = await failing(() => volumeProvider.create!(news));
  expect(err.message).toMatch(pattern);
  expect(volNames()).not.toContain(name);
}

describe("Volume source: no reference to host files", () => {
  it("a qcow2 whose backing file is an absolute host path (/etc/hostname) is refused, with how to flatten it", async () => {
    const evil = join(src.dir, "evil-abs.qcow2");
    qimg("-f", "qcow2", "-b", "/etc/hostname", "-F", "raw", evil, "1M");
    await refusedBoth(
      "evil-abs.qcow2",
      { source: evil },
      "source",
      /names a backing file \("\/etc\/hostname"\).*any host file.*qemu-img convert -O qcow2 .*evil-abs.qcow2 flat.qcow2/,
    );
  });

  it("a qcow2 whose backing file is relative is refused too", async () => {
    src.qcow2("rel-base.qcow2", 1);
    const evil = join(src.dir, "evil-rel.qcow2");
    qimg("-f", "qcow2", "-b", "rel-base.qcow2", "-F", "qcow2", evil);
    await refusedBoth("evil-rel.qcow2", { source: evil }, "source", /names a backing file \("rel-base.qcow2"\)/);
  });

  it("a qcow2 with an external data file is refused", async () => {
    const evil = join(src.dir, "evil-data.qcow2");
    qimg("-f", "qcow2", "-o", `data_file=${join(src.dir, "data.raw")}`, evil, "1M");
    expect(imgInfo(evil)["format-specific"]?.data?.["data-file"]).toBe(join(src.dir, "data.raw"));
    await refusedBoth("evil-data.qcow2", { source: evil }, "source", /external data file \(".*data.raw"\).*qemu-img convert -O qcow2/);
  });

  it("bytes declared raw that begin with a qcow2 header are refused, never uploaded as a qcow2 with its backing file", async () => {
    const evil = join(src.dir, "declared-raw.img");
    qimg("-f", "qcow2", "-b", "/etc/hostname", "-F", "raw", evil, "1M");
    await refusedBoth(
      "declared-raw.img",
      { source: evil, format: "raw" },
      "format",
      /is "raw" but source .* begins with a qcow2 header.*read as a qcow2 image.*not as raw.*qemu-img convert -f raw -O qcow2/,
    );
    // Also without a backing file: libvirt's scan would still report the volume as qcow2, not the raw asked for.
    const plain = src.qcow2("declared-raw-plain.img", 1);
    await refusedBoth("declared-raw-plain.img", { source: plain, format: "raw" }, "format", /is "raw" but source .* begins with a qcow2 header/);
  });

  it("a raw file whose content is a vmdk descriptor naming a host file is refused (content guessing would make it vmdk)", async () => {
    const evil = join(src.dir, "descriptor.img");
    writeFileSync(
      evil,
      `# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\nRW 8 FLAT "/etc/hostname" 0\n`.padEnd(
        4096,
        "\n",
      ),
    );
    await refusedBoth("descriptor.img", { source: evil }, "source", /begins with a vmdk descriptor header/);
  });

  it("a source swapped for a qcow2 with a backing file between check and create is refused by create", async () => {
    const file = join(src.dir, "swapped.qcow2");
    qimg("-f", "qcow2", file, "1M");
    const checked = await volumeProvider.check!({}, { name: "swapped.qcow2", pool, uri: QEMU_URI, source: file });
    expect(checked.failures).toEqual([]);
    rmSync(file);
    qimg("-f", "qcow2", "-b", "/etc/hostname", "-F", "raw", file, "1M");
    const { err } = await failing(() => volumeProvider.create!(checked.inputs));
    expect(err.message).toMatch(/invalid Volume inputs: source .*names a backing file \("\/etc\/hostname"\)/);
    expect(volNames()).not.toContain("swapped.qcow2");
  });

  it("a raw volume into which a guest writes a qcow2 header naming a host file stays raw, with no backing file, in its outputs", async () => {
    const checked = await volumeProvider.check!({}, { name: "guest-raw.img", pool, uri: QEMU_URI, format: "raw", capacity: "1MiB" });
    const v = await volumeProvider.create!(checked.inputs);
    expect(v.outs).toMatchObject({ format: "raw" });
    // What a guest can do to its own raw disk: write an image header at offset 0.
    const header = join(src.dir, "header.qcow2");
    qimg("-f", "qcow2", "-b", "/etc/hostname", "-F", "raw", header, "1M");
    execFileSync("dd", [`if=${header}`, `of=${v.outs.path}`, "conv=notrunc", "status=none"]);
    virsh(QEMU_URI, "pool-refresh", pool);
    // libvirt and qemu-img now take it for a qcow2 on /etc/hostname ...
    expect(virsh(QEMU_URI, "vol-dumpxml", "--pool", pool, "guest-raw.img")).toMatch(
      /<format type='qcow2'\/>[\s\S]*<backingStore>\s*<path>\/etc\/hostname<\/path>/,
    );
    expect(imgInfo(v.outs.path as string)["backing-filename"]).toBe("/etc/hostname");
    // ... the Volume's outputs (which a Domain's disk format defaults to) do not.
    const read = await volumeProvider.read!(v.id, v.outs);
    expect(read.props).toMatchObject({ format: "raw", probedFormat: "qcow2" });
    expect((read.props as Record<string, unknown>).backingPath).toBeUndefined();
    const d = await volumeProvider.diff!(v.id, read.props, checked.inputs);
    expect(d.replaces).toEqual([]);
    await volumeProvider.delete!(v.id, read.props);
  });

  it("what is allowed ends up as what was asked: a self-contained qcow2 stays qcow2, a raw file stays raw, neither with a backing file", async () => {
    const q = src.qcow2("clean.qcow2", 2);
    const raw = join(src.dir, "clean.raw");
    writeFileSync(raw, Buffer.alloc(1024 * 1024, 0x5a));
    const made: Array<{ id: string; outs: Record<string, unknown> }> = [];
    for (const [name, source, format] of [
      ["clean.qcow2", q, undefined],
      ["clean.raw", raw, "raw"],
    ] as const) {
      const checked = await volumeProvider.check!({}, { name, pool, uri: QEMU_URI, source, ...(format ? { format } : {}) });
      expect(checked.failures).toEqual([]);
      const r = await volumeProvider.create!(checked.inputs);
      made.push(r);
      const info = imgInfo(r.outs.path as string);
      expect(info.format).toBe(name.endsWith(".raw") ? "raw" : "qcow2");
      expect(info["backing-filename"]).toBeUndefined();
      expect(r.outs).toMatchObject({ format: info.format });
      expect(r.outs.backingPath).toBeUndefined();
      expect(virsh(QEMU_URI, "vol-dumpxml", "--pool", pool, name)).not.toContain("<backingStore>");
    }
    for (const r of made) await volumeProvider.delete!(r.id, r.outs);
  });
});
