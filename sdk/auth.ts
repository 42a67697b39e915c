// Credentials for hypervisors that authenticate (a SASL listener on
// qemu+tcp://host/system, say). The provider needs them again on every later
// read, update and delete, which receive only the saved state, so the state
// holds them: always as a Pulumi secret, encrypted by the stack's secrets
// provider, however the program passed them.
import * as pulumi from "@pulumi/pulumi";

export interface AuthArgs {
  /** The user name libvirt asks for (VIR_CRED_AUTHNAME), e.g. a SASL user made with `saslpasswd2 -a libvirt`. */
  username: pulumi.Input<string>;
  /** The password (VIR_CRED_PASSPHRASE). Pass a secret (`config.requireSecret`); a plain string is made one. */
  password: pulumi.Input<string>;
}

/** The `auth` output: a secret. */
export type AuthOutput = pulumi.Output<{ username: string; password: string } | undefined>;

/** The whole auth input as a secret (a plain password from the program included). */
export function secretAuth(auth: pulumi.Input<AuthArgs> | undefined): pulumi.Output<unknown> | undefined {
  return auth === undefined ? undefined : pulumi.secret(auth);
}

/**
 * The auth a Domain or Pool resource was given, for the Snapshots and Volumes
 * built on it. Their *input*, not their `auth` output: an output the provider
 * did not return (no auth given) is unknown during a preview, which would show
 * every Snapshot and Volume as changing.
 */
const given = new WeakMap<object, pulumi.Output<unknown>>();

export function rememberAuth(resource: object, auth: pulumi.Output<unknown> | undefined): void {
  if (auth !== undefined) given.set(resource, auth);
}

export function authGivenTo(resource: object): pulumi.Output<unknown> | undefined {
  return given.get(resource);
}

/** Resource options that keep the `auth` output secret too, whatever the engine infers. */
export function withSecretAuth(opts: pulumi.CustomResourceOptions | undefined): pulumi.CustomResourceOptions {
  return { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "auth"] };
}
