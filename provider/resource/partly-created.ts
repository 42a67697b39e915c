// Partly created: a create whose outcome is unknown. When the connection to the
// daemon is lost after the change was sent (libvirtd killed or restarted, the
// network gone), the object may or may not exist. A plain failure would make
// Pulumi forget it: the next `pulumi up` would then be refused by the object it
// made ("already exists"), or leave it orphaned. Instead the resource is recorded
// with the ID it has if it exists, as partly created: the dynamic provider host
// turns an error carrying `id` and `properties` into Pulumi's
// ErrorResourceInitFailed. `pulumi refresh` then asks libvirt whether it exists
// (and forgets it if not), and `pulumi up` finishes or recreates it. A create that
// fails while the connection stands instead removes what it made (each resource's
// `removePartlyCreated`): nothing is recorded then.
import { isConnectionLost } from "../libvirt/errors";
import { withoutUndefined } from "../state-values";

export class PartlyCreatedError extends Error {
  /** Read by @pulumi/pulumi's dynamic provider host (grpcResponseFromError). */
  readonly reasons: string[];
  constructor(
    readonly id: string,
    readonly properties: Record<string, unknown>,
    what: string,
    cause: Error,
  ) {
    const advice = `${what} may or may not exist: it is recorded in the stack as partly created. Start libvirtd if it is down, then run \`pulumi refresh\` (it keeps ${what} if libvirt has it, forgets it if not) and \`pulumi up\``;
    super(`${cause.message}; ${advice}`);
    this.name = "PartlyCreatedError";
    this.reasons = [advice];
  }
}

/**
 * Runs a create's changing calls. `sent` is called just before the first call that
 * changes anything; if the connection is lost from then on, the error becomes a
 * PartlyCreatedError carrying `partial()` (the ID and the outputs the
 * object has if it exists). Other failures, and losses before anything was sent,
 * pass through: nothing was made.
 */
export async function recordPartlyCreated<T>(
  raw: Record<string, unknown>,
  what: string,
  partial: () => { id: string; props: object },
  create: (sent: () => void) => Promise<T>,
): Promise<T> {
  let changeSent = false;
  try {
    return await create(() => {
      changeSent = true;
    });
  } catch (err) {
    if (!changeSent || !isConnectionLost(err)) throw err;
    const { id, props } = partial();
    // The provider key: without it Pulumi could not call this provider for the resource again.
    const properties = withoutUndefined({ ...props, __provider: raw.__provider }) as Record<string, unknown>;
    throw new PartlyCreatedError(id, properties, what, err as Error);
  }
}
