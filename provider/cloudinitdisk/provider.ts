// The CloudInitDisk resource provider: the seed ISO is built on the machine
// running Pulumi (seed.ts), then streamed into a raw volume of the pool
// (virStorageVolUpload), so it works on a remote hypervisor too. Its content
// never changes in place: a change replaces the disk, deleting the old volume
// first (its name in the pool is fixed). Deleting or replacing it follows the
// Volume teardown rules: refused while a domain uses it (a cdrom counts).
import { withConnection, type Connection } from "../libvirt/connection";
import { withPool, type StorageVolHandle } from "../libvirt/storage";
import { uploadFile } from "../libvirt/stream";
import { defineProvider } from "../resource/provider";
import { deleteVolumeInPool, removePartlyCreatedVolume, volumeFactsNow, withActivePool } from "../volume/in-pool";
import { TeardownRefusedError } from "../teardown/refused";
import { planVolumeReplace, poolMissingAdvice } from "../teardown/volume";
import type { ProviderHooks } from "../hooks";
import { withoutUndefined } from "../state-values";
import { buildVolumeXml, parseVolumeXml } from "../volume/xml";
import { checkCloudInitDiskInputs, type CloudInitDiskInputs } from "./inputs";
import { metaDataObject, withSeedIso } from "./seed";
import { cloudInitDiskSpec } from "./spec";

export interface CloudInitDiskOutputs extends CloudInitDiskInputs {
  /** The URI libvirt reported for the connection. */
  uri: string;
  key: string;
  path: string;
  instanceId: string;
  /** Bytes of the ISO image. */
  size: number;
}

/** A raw ISO holds no internal snapshots: only the "used by a domain" and "backing file of" rules apply. */
const ISO_TEARDOWN = { deleteSnapshotDataOnDestroy: true };

/** An input that turned out wrong only once the hypervisor was asked; nothing was created. */
class CloudInitDiskInputError extends Error {
  constructor(property: string, reason: string) {
    super(`invalid CloudInitDisk input ${property}: ${reason} (nothing was created)`);
    this.name = "CloudInitDiskInputError";
  }
}

const poolMissing = (reason: string) => new CloudInitDiskInputError("pool", reason);

const instanceIdOf = (metaData: string): string => {
  const meta = metaDataObject(metaData);
  return "problem" in meta ? "" : String(meta["instance-id"] ?? "");
};

async function describe(conn: Connection, vol: StorageVolHandle, saved: CloudInitDiskInputs): Promise<CloudInitDiskOutputs> {
  const v = parseVolumeXml(await vol.xml());
  return withoutUndefined({
    ...saved,
    name: v.name || saved.name,
    uri: conn.uri,
    key: v.key || vol.key(),
    path: v.path,
    instanceId: instanceIdOf(saved.metaData),
    size: v.capacity,
  });
}

/** The CloudInitDisk provider; a test passes `hooks` to act inside its race windows (hooks.ts). */
export const makeCloudInitDiskProvider = (hooks: ProviderHooks = {}) =>
  defineProvider<CloudInitDiskInputs, CloudInitDiskOutputs>({
    spec: cloudInitDiskSpec,
    check: (news) => checkCloudInitDiskInputs(news),
    idAfterRead: (outs, id) => outs.key || id,

    async diff({ olds, inputs, unknownKeys, replaces }) {
      // The replacement deletes the old volume first: decide at preview what that delete would refuse.
      const certain = replaces.filter((k) => !unknownKeys.has(k));
      if (certain.length > 0 && olds.path) {
        const facts = await withConnection({ uri: olds.uri, auth: olds.auth, hooks }, (conn) => volumeFactsNow(conn, olds.pool, olds.name));
        const decision = facts && planVolumeReplace(facts, ISO_TEARDOWN, certain);
        if (decision && !decision.allowed) throw new TeardownRefusedError(decision.message);
      }
      const same = (k: "name" | "pool") => !unknownKeys.has(k) && inputs[k] === olds[k];
      // Same pool and name: the same file, so the old volume must go first.
      return { replaces, deleteBeforeReplace: replaces.length > 0 && same("name") && same("pool") };
    },

    async create(inputs, { recordPartlyCreated }) {
      const seed = { ...inputs, instanceId: instanceIdOf(inputs.metaData) };
      return withSeedIso(seed, (iso) =>
        withConnection({ uri: inputs.uri, auth: inputs.auth, hooks }, (conn) =>
          withActivePool(conn, inputs.pool, poolMissing, async (pool) => {
            const existing = await pool.lookupVolume(inputs.name);
            if (existing) {
              existing.free();
              throw new CloudInitDiskInputError(
                "name",
                `a volume named "${inputs.name}" already exists in storage pool "${inputs.pool}"; choose another name, or delete it first`,
              );
            }
            const partial = () => ({ id: `${inputs.pool}/${inputs.name}`, props: withoutUndefined({ ...inputs, uri: conn.uri }) });
            return recordPartlyCreated(`cloud-init disk "${inputs.name}" in storage pool "${inputs.pool}"`, partial, async (sent) => {
              sent();
              // Upload writes over the file without truncating it: start from an empty raw file.
              const vol = await pool.createVolume(buildVolumeXml({ name: inputs.name, capacity: 0, format: "raw" }), 0, `"${inputs.name}"`);
              try {
                try {
                  await uploadFile(vol, iso);
                  await pool.refresh();
                } catch (err) {
                  throw await removePartlyCreatedVolume(vol, err);
                }
                await hooks.pause?.("afterCreate");
                const outs = await describe(conn, vol, inputs);
                return { id: outs.key, outs };
              } finally {
                vol.free();
              }
            });
          }),
        ),
      );
    },

    async read(_id, saved) {
      const props = saved as CloudInitDiskOutputs;
      return withConnection({ uri: props.uri, auth: props.auth, hooks }, (conn) =>
        withPool(conn, props.pool, async (pool) => {
          if (!pool) {
            console.error(poolMissingAdvice(props, conn.uri));
            return props;
          }
          if (!(await pool.isActive()))
            throw new Error(`storage pool "${props.pool}" on ${conn.uri} is not active: start it to read cloud-init disk "${props.name}"`);
          await pool.refresh();
          const vol = await pool.lookupVolume(props.name);
          if (!vol) return undefined; // deleted outside Pulumi
          try {
            return await describe(conn, vol, props);
          } finally {
            vol.free();
          }
        }),
      );
    },

    async update(_id, olds, inputs) {
      // Only auth changes in place (recorded: the next operations use it); the content replaces.
      return withConnection({ uri: olds.uri, auth: inputs.auth, hooks }, (conn) =>
        withActivePool(conn, olds.pool, poolMissing, async (pool) => {
          const vol = await pool.lookupVolume(olds.name);
          if (!vol)
            throw new Error(
              `cloud-init disk "${olds.name}" no longer exists in storage pool "${olds.pool}"; run \`pulumi refresh\` to forget it, then \`pulumi up\` to create it again`,
            );
          try {
            return await describe(conn, vol, { ...inputs, uri: olds.uri });
          } finally {
            vol.free();
          }
        }),
      );
    },

    async delete(_id, props) {
      // A seed's file is never known gone without its pool: a local stat would not see a remote host's.
      await withConnection({ uri: props.uri, auth: props.auth, hooks }, (conn) =>
        deleteVolumeInPool(conn, props, "cloud-init disk", ISO_TEARDOWN, async () => false),
      );
    },
  });

export const cloudInitDiskProvider = makeCloudInitDiskProvider();
