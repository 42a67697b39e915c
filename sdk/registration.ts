// What every SDK class does around its super() call: register every output (a
// dynamic resource exposes only the properties it registers), make the credentials
// a secret, derive which outputs a secret input makes secret, and afterwards
// remember both for the resources that build on this one.
import type * as pulumi from "@pulumi/pulumi";
import { rememberAuth, withSecretAuth } from "./auth";
import { rememberSecretOutputs, withDerivedSecrets, type SecretFlows } from "./secret-outputs";
import { stackDefaults } from "./stack-config";

export interface RegistrationArgs {
  /** The inputs as the provider takes them (resources already resolved to their outputs). */
  props: Record<string, unknown>;
  outputKeys: readonly string[];
  flows: SecretFlows;
  /** An output the registration waits on until the secret decision is made (the resource's ID output). */
  gateKey: string;
  opts: pulumi.CustomResourceOptions | undefined;
  /** The credentials, already a secret. */
  auth: pulumi.Output<unknown> | undefined;
  /** Resources built on this one use its credentials unless they have their own (a Domain's snapshots, a Pool's volumes). */
  sharesAuth?: boolean;
  upstream?: Parameters<typeof withDerivedSecrets>[0]["upstream"];
  id?: { what: string; inputs: readonly string[] };
}

/** The props and options for super(), and `registered(this)` to call after it. */
export function registration(args: RegistrationArgs) {
  const outputs = Object.fromEntries(args.outputKeys.map((k) => [k, undefined]));
  // The stack's default hypervisor: sent beside the inputs; the provider uses it only when the
  // resource has no uri (one brought by a Domain or Pool resource counts as its own).
  const stack = "uri" in outputs ? stackDefaults() : {};
  const ownUri = args.props.uri !== undefined;
  const auth = args.auth ?? (ownUri ? undefined : stack.auth);
  const secrets = withDerivedSecrets({
    props: { ...outputs, ...args.props, auth, ...(stack.uri !== undefined ? { __stackUri: stack.uri } : {}) },
    flows: args.flows,
    gateKey: args.gateKey,
    opts: withSecretAuth(args.opts),
    upstream: args.upstream,
    id: args.id,
  });
  return {
    props: secrets.props,
    opts: secrets.opts,
    registered(resource: pulumi.Resource): void {
      if (args.sharesAuth) rememberAuth(resource, auth);
      rememberSecretOutputs(resource, secrets.decision);
    },
  };
}
