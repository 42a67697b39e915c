// A Pool and a Volume downloaded from a URL. The URL (with user:password) and its
// sha256 come from stack config, read with plain config.require on purpose: the SDK
// must make the source a secret by itself.
import * as pulumi from "@pulumi/pulumi";
import * as libvirt from "libvirt-pulumi";

const config = new pulumi.Config();
const prefix = config.require("prefix");

const pool = new libvirt.Pool("pool", { name: `${prefix}-pool`, path: config.require("poolPath"), uri: "qemu:///system" });
const image = new libvirt.Volume("image", {
  pool,
  name: `${prefix}-image.qcow2`,
  source: config.require("sourceUrl"),
  sourceSha256: config.require("sourceSha256"),
});

export const imagePath = image.path;
export const imageFormat = image.format;
