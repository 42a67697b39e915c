// Secret inputs stay secret in every output they flow into.
//
// Pulumi's engine marks an output secret when the input *of the same name* was
// one (the dynamic provider accepts no secrets, so the engine strips them on the
// way in and re-marks same-named outputs on the way out). Our outputs also hold
// inputs under other names: the raw `xml` input is saved as `inputXml`, and
// libvirt's XML (the `xml` output) carries the description, kernel command line,
// disk paths ... of a Domain. The tables below say, for every input, which
// outputs its value is written into; when an input is a secret (anywhere inside
// it), those outputs are added to the resource's `additionalSecretOutputs`.
//
// Listed: outputs that hold the input's value or a part of it. Not listed:
// outputs that only depend on it (`state` on `running`) and the resource ID
// (Pulumi IDs cannot be secret: a `<uuid>` in a secret `xml` is the Domain's ID).
import * as pulumi from "@pulumi/pulumi";

/** For each input of a resource: the outputs its value is written into (its own name included). */
export type SecretFlows = Readonly<Record<string, readonly string[]>>;

/** Derived from the Domain spec (provider/domain/spec.ts). */
export { DOMAIN_SECRET_FLOWS } from "./generated/domain";

/** Derived from the Snapshot spec (provider/snapshot/spec.ts): libvirt's snapshot XML names the snapshot and its domain and holds its description, memory and disks. */
export { SNAPSHOT_SECRET_FLOWS } from "./generated/snapshot";

/** Derived from the Pool spec (provider/pool/spec.ts). */
export { POOL_SECRET_FLOWS } from "./generated/pool";

/** Derived from the Volume spec (provider/volume/spec.ts): a volume's key and path are its pool's directory and its name (its ID: see ID_INPUTS); an overlay's backingPath is its backing image. */
export { VOLUME_SECRET_FLOWS } from "./generated/volume";

/**
 * Outputs of another resource of this package that flow into this one's outputs:
 * a Snapshot's XML embeds its Domain's definition. (A Volume's path is inside its
 * Pool's directory, but that path is the Volume's ID: see ID_INPUTS.)
 */
export const CROSS_RESOURCE_FLOWS = {
  /** Domain output → Snapshot outputs. */
  snapshotOfDomain: { xml: ["xml"] } as SecretFlows,
};

/**
 * Inputs written into the resource's ID, which Pulumi never encrypts: a secret
 * there is refused (it would be in clear in the state). A Snapshot's ID is
 * "<domain uuid>/<name>", a Volume's its key, the path "<pool directory>/<name>".
 * (A Domain's ID is its UUID: a `<uuid>` in a secret `xml` is not kept secret.)
 */
export const ID_INPUTS = {
  Snapshot: ["name"],
  Volume: ["name"],
  /** Outputs of the Pool resource a Volume is in. */
  volumeInPool: ["path"],
} as const;

/** What to do instead, for each input refused by ID_INPUTS. */
const ID_ADVICE: Record<string, string> = {
  name: "give the name as a plain string (it identifies the object in libvirt and in Pulumi's state)",
  path: "give the Pool's path as a plain string (the path of each volume in it is that volume's ID)",
};

export class SecretInIdError extends Error {}

function refuseSecretInId(what: string, secretInputs: string[], idInputs: readonly string[], where: string): void {
  const bad = secretInputs.filter((k) => idInputs.includes(k));
  if (bad.length === 0) return;
  throw new SecretInIdError(
    `${what}: ${bad.map((k) => `${where}${k}`).join(", ")} is a secret, but it is part of the resource's ID, which Pulumi stores in clear ` +
      `(IDs are never encrypted); ${bad.map((k) => ID_ADVICE[k]).join("; ")}`,
  );
}

/** The outputs that must be secret when the named inputs are. */
export function derivedSecretOutputs(flows: SecretFlows, secretInputs: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const input of secretInputs) for (const o of flows[input] ?? []) out.add(o);
  return [...out].sort();
}

/** The keys of `props` whose value holds a secret anywhere inside it. */
export async function secretKeys(props: Record<string, unknown>): Promise<string[]> {
  const entries = Object.entries(props).filter(([, v]) => v !== undefined);
  const secret = await Promise.all(entries.map(([, v]) => pulumi.isSecret(pulumi.output(v))));
  return entries.filter((_, n) => secret[n]).map(([k]) => k);
}

/** The secret outputs a resource of this package registered with (for the resources built on it). */
const decided = new WeakMap<object, Promise<string[]>>();

export function secretOutputsOf(resource: object): Promise<string[]> | undefined {
  return decided.get(resource);
}

/**
 * Resource options whose `additionalSecretOutputs` hold those of `opts` plus every output
 * that a secret among `props` (or among `upstream`'s secret outputs, through
 * `upstreamFlows`) flows into, and the `props` to register, which wait for that decision.
 *
 * Secretness is known only asynchronously (pulumi.isSecret), but the options are
 * taken at construction: the array given in the options is filled in once it is
 * known. Pulumi reads it when it sends the registration, which is after every
 * property has resolved; one output-only property (`gateKey`, which is never an
 * input) resolves, to nothing, only after the array is complete.
 */
export function withDerivedSecrets<P extends Record<string, unknown>>(args: {
  props: P;
  flows: SecretFlows;
  gateKey: string;
  opts: pulumi.CustomResourceOptions | undefined;
  upstream?: { outputs: Promise<string[]> | undefined; flows: SecretFlows; idInputs?: readonly string[]; what?: string };
  /** For the refusal of a secret in the ID: `Volume "disk"`, and the inputs that make up the ID. */
  id?: { what: string; inputs: readonly string[] };
}): { props: P; opts: pulumi.CustomResourceOptions; decision: Promise<string[]> } {
  const { props, flows, gateKey, opts, upstream, id } = args;
  const additional = [...(opts?.additionalSecretOutputs ?? [])];
  const decision = (async () => {
    const secretInputs = await secretKeys(props);
    if (id) refuseSecretInId(id.what, secretInputs, id.inputs, "");
    const derived = derivedSecretOutputs(flows, secretInputs);
    if (upstream?.outputs) {
      const upstreamSecrets = await upstream.outputs;
      if (id && upstream.idInputs) refuseSecretInId(id.what, upstreamSecrets, upstream.idInputs, `its ${upstream.what ?? "parent"}'s `);
      derived.push(...derivedSecretOutputs(upstream.flows, upstreamSecrets));
    }
    for (const k of derived) if (!additional.includes(k)) additional.push(k);
    return [...additional];
  })();
  return {
    props: { ...props, [gateKey]: decision.then(() => undefined) },
    opts: { ...opts, additionalSecretOutputs: additional },
    decision,
  };
}

/** Records the decision for `resource` (see secretOutputsOf). */
export function rememberSecretOutputs(resource: object, decision: Promise<string[]>): void {
  // A rejected decision fails the registration itself; the copy kept here must not be an unhandled rejection.
  decision.catch(() => undefined);
  decided.set(resource, decision);
}
