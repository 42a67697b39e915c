// Snapshot deletes: with their data unless the resource or the one-destroy
// override says to keep it, and the advice when the driver cannot do what was asked.
import { isTruthyEnv } from "./env";

/** Set to 1 for one `pulumi destroy` to keep every Snapshot's data (metadata-only delete), whatever deleteDataOnDestroy says. */
export const KEEP_SNAPSHOT_DATA_ENV = "LIBVIRT_PULUMI_KEEP_SNAPSHOT_DATA_ON_DESTROY";

/** Whether a destroy keeps the data: the stored option, or the environment for this one destroy. */
export function keepsDataOnDestroy(props: { deleteDataOnDestroy?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (isTruthyEnv(env[KEEP_SNAPSHOT_DATA_ENV])) return true;
  return props.deleteDataOnDestroy === false;
}

/**
 * The advice when the driver refused the delete (`where`: `snapshot "s" of domain "d"`,
 * `cause`: libvirt's message and code). Names deleteDataOnDestroy either way.
 */
export function snapshotDeleteFailure(where: string, cause: string, keepData: boolean, env: NodeJS.ProcessEnv = process.env): string {
  if (keepData) {
    return (
      `cannot remove only the metadata of ${where}: ${cause}. Nothing was deleted. ` +
      `This driver deletes snapshots only with their data: set deleteDataOnDestroy: true (and run \`pulumi up\`)` +
      (env[KEEP_SNAPSHOT_DATA_ENV] ? `, and unset ${KEEP_SNAPSHOT_DATA_ENV}` : "")
    );
  }
  return (
    `cannot delete ${where} with its data: ${cause}. Nothing was deleted. ` +
    `To remove only libvirt's metadata and keep the data in the disk images, set deleteDataOnDestroy: false ` +
    `(and run \`pulumi up\`), or set ${KEEP_SNAPSHOT_DATA_ENV}=1 for this destroy`
  );
}
