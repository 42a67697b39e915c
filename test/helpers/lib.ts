// Tests load the built package by its name, exactly as Pulumi's provider
// process and users do (npm test builds it first).
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

export const provider: typeof import("../../provider") = require("libvirt-pulumi/provider");
export const sdkPath = require.resolve("libvirt-pulumi");
