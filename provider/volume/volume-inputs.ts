// The inputs every resource that is a volume in a pool has (Volume, CloudInitDisk):
// its file name in the pool and the pool. Each resource names itself.
import { objectName } from "../validation";

/** `name`: the file name in the pool; part of the ID (the path), so never a secret. */
export const volumeNameInput = (what: string, example: string, resource: string) =>
  ({
    schema: objectName("name"),
    required: `is required: the ${what}'s file name in the pool, such as "${example}" (the SDK defaults it to the resource name)`,
    defaultDoc: "the resource name",
    change: "replace",
    // A volume's key and path are its pool's directory and its name.
    flowsInto: ["key", "path"],
    doc: "the file name in the pool; no `/`, no leading `.`",
    sdkDoc: `The ${what}'s file name in the pool ("${example}"). Default: the resource name. Changing it replaces the ${resource}. Not a secret: it is part of the ID (the path).`,
    output: { type: "string" },
  }) as const;

/** `pool`: a Pool resource (the SDK passes its name and uri) or a pool name. */
export const poolInput = (resource: string) =>
  ({
    schema: objectName("pool"),
    required: "is required: a Pool resource or the name of a pool on the hypervisor",
    defaultDoc: "required",
    change: "replace",
    doc: "a `Pool` (its name and uri are used) or a pool name",
    sdkDoc: `The pool: a Pool resource (its name and uri are used) or the name of a pool on the hypervisor. Changing it replaces the ${resource}.`,
    sdkArg: "Pool | pulumi.Input<string>",
    sdkRequired: true,
    output: { type: "string" },
  }) as const;
