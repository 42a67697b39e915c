// Made but not ready: the object exists (a domain that runs) but did not reach
// what the inputs wait for (an address). Forgetting it would orphan a VM that a
// user wants to debug, and deleting it would throw away the evidence; so it is
// recorded with its outputs and the error, as Pulumi's "initialization failed"
// (the dynamic provider host turns an error carrying `id` and `properties` into
// ErrorResourceInitFailed): the stack shows the failure, and the next `pulumi up`
// updates the resource, which tries again.
export class NotReadyError extends Error {
  /** Read by @pulumi/pulumi's dynamic provider host (grpcResponseFromError). */
  readonly reasons: string[];
  /** The outputs as recorded; the kit adds the provider key (resource/provider.ts). */
  properties: Record<string, unknown>;
  constructor(
    readonly id: string,
    outs: object,
    message: string,
  ) {
    super(message);
    this.name = "NotReadyError";
    this.reasons = [message];
    this.properties = { ...outs };
  }
}
