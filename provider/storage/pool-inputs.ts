// Pool inputs: a directory pool's schema and defaults.
import { z } from "zod";
import { absolutePath, flag, credentials, hypervisorUri, objectName, toFailures, userInputs, type CheckFailure } from "../validation";
import { knownOnly } from "../unknowns";

export const poolInputSchema = z
  .object({
    name: objectName("name"),
    path: absolutePath("path").refine((p) => p !== "/", { error: "path must not be the root directory" }),
    uri: hypervisorUri.optional(),
    auth: credentials.optional(),
    autostart: flag("autostart").optional(),
    deleteVolumesOnDestroy: flag("deleteVolumesOnDestroy").optional(),
  })
  .strict();

export type PoolInputs = z.infer<typeof poolInputSchema> & { autostart: boolean; deleteVolumesOnDestroy: boolean };

// Built once: zod compiles a schema's parser on its first use.
const poolCheckSchema = poolInputSchema.partial({ name: true, path: true });

/** `inputs` is set when every input is known and valid (not during a preview with unknowns). */
export function checkPoolInputs(news: Record<string, unknown>): { inputs?: PoolInputs; failures: CheckFailure[] } {
  const { known, unknownKeys } = knownOnly(userInputs(news));
  const f: CheckFailure[] = [];
  if (known.name === undefined && !unknownKeys.has("name"))
    f.push({ property: "name", reason: "is required (the SDK's Pool defaults it to the resource name)" });
  if (known.path === undefined && !unknownKeys.has("path"))
    f.push({ property: "path", reason: 'is required: the pool\'s directory on the hypervisor host, such as "/var/lib/libvirt/images/web"' });
  const parsed = poolCheckSchema.safeParse(known);
  if (!parsed.success) f.push(...toFailures(parsed.error));
  if (f.length > 0 || unknownKeys.size > 0 || !parsed.success) return { failures: f };
  const i = parsed.data;
  return {
    failures: [],
    inputs: {
      ...i,
      name: i.name!,
      path: i.path!.replace(/\/{2,}/g, "/").replace(/(.)\/$/, "$1"),
      autostart: i.autostart ?? false,
      deleteVolumesOnDestroy: i.deleteVolumesOnDestroy ?? false,
    },
  };
}
