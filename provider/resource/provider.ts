// The skeleton every resource provider shares; each resource fills in a
// Lifecycle. The kit owns what must be the same everywhere:
// - check: the stack's default URI where a resource gives none (stack-default.ts),
//   then the resource's spec check; a preview's unknown inputs stay unknown and
//   the known rest gets its defaults, so the preview does not show them removed;
// - diff: unknown inputs count as changed, the saved values stand in for them so
//   that the rest is normalized and compared as usual (diff.ts); the spec's
//   change rules give the replacements; the resource may refine or refuse;
// - create/update: inputs normalized by the same check, or one clear failure
//   (an InvalidInputsError: deliberate, no stack trace, see deliberate.ts);
// - read: `undefined` from the resource means libvirt said "not found" (gone,
//   Pulumi forgets it); any other failure (a daemon that is down) is an error;
// - every error leaving the provider has URI passwords redacted (redacting.ts).
import type * as pulumi from "@pulumi/pulumi";
import { withoutUndefined } from "../state-values";
import { redactingErrors } from "../redacting";
import { InvalidInputsError } from "../deliberate";
import type { Checked } from "./check";
import { changedInputs, withStandIns } from "./diff";
import { recordPartlyCreated } from "./partly-created";
import { NotReadyError } from "./not-ready";
import { replaceKeys, type ResourceSpec } from "./spec";
import { withStackDefaultUri } from "./stack-default";

/** What a resource's diff hook sees: the decision so far, for it to refine. */
export interface DiffContext<I, O> {
  id: string;
  olds: O;
  /** The new inputs, normalized; saved values stand in for unknown ones. */
  inputs: I;
  /** Inputs Pulumi does not know yet (a preview). */
  unknownKeys: Set<string>;
  changed: string[];
  /** The changed inputs whose change rule is "replace". */
  replaces: string[];
}

export interface DiffDecision {
  replaces: string[];
  deleteBeforeReplace: boolean;
  /** A change the inputs do not show: libvirt's object differs from what the update makes (a pool stopped outside Pulumi). */
  changes?: boolean;
}

export interface CreateContext {
  /**
   * Runs the create's changing calls so that a lost connection after `sent()`
   * records the resource as partly created (partly-created.ts) with `partial()`.
   */
  recordPartlyCreated<T>(what: string, partial: () => { id: string; props: object }, create: (sent: () => void) => Promise<T>): Promise<T>;
}

type Raw = Record<string, unknown>;

export interface Lifecycle<I, O extends object> {
  spec: ResourceSpec;
  check(news: Raw, olds?: object): Checked<I> | Promise<Checked<I>>;
  /** Another spelling of the saved value that is no change (a Snapshot's domain by UUID). */
  sameAsSaved?(key: string, next: unknown, olds: O): boolean;
  /**
   * An unknown input that is known to come out as saved (a Snapshot's domain while
   * its Domain is replaced keeping its UUID): not a change, the saved value stands in.
   */
  unknownAsSaved?(key: string, olds: O): boolean;
  /** Refines the kit's decision (more replacements, the delete order) or throws a refusal; default: replace per the spec, create first. */
  diff?(ctx: DiffContext<I, O>): Promise<DiffDecision>;
  create(inputs: I, ctx: CreateContext): Promise<{ id: string; outs: O }>;
  /** The resource as libvirt has it now; `undefined` only when libvirt says it does not exist. */
  read(id: string, olds: Partial<O>): Promise<O | undefined>;
  /** The ID after a read, when the outputs name a better one than the recorded (a Volume recorded by pool and name gets its key). */
  idAfterRead?(outs: O, id: string): string;
  update(id: string, olds: O, inputs: I): Promise<O>;
  delete(id: string, olds: O): Promise<void>;
}

/** A made-but-not-ready object is recorded with the provider key: without it Pulumi could not call this provider for it again. */
async function withProviderKey<T>(raw: Raw, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (err instanceof NotReadyError) err.properties = withoutUndefined({ ...err.properties, __provider: raw.__provider }) as Record<string, unknown>;
    throw err;
  }
}

/** A Pulumi dynamic provider for the resource, typed by its outputs. */
export function defineProvider<I, O extends object>(life: Lifecycle<I, O>): pulumi.dynamic.ResourceProvider<Raw, O> {
  const what = life.spec.name;
  const inputsOrThrow = async (raw: Raw, olds?: object): Promise<I> => {
    const { inputs, failures, unknownKeys } = await life.check(raw, olds);
    if (inputs && unknownKeys.size === 0) return inputs;
    const reasons = failures.map((f) => `${f.property} ${f.reason}`).join("; ");
    throw new InvalidInputsError(`invalid ${what} inputs: ${reasons || `${[...unknownKeys].join(", ")} still unknown`}`);
  };

  return redactingErrors<pulumi.dynamic.ResourceProvider<Raw, O>>({
    async check(olds, news) {
      const resolved = life.spec.inputs.uri ? withStackDefaultUri(what, news, olds) : news;
      const { inputs, failures } = await life.check(resolved, olds);
      return { inputs: inputs && failures.length === 0 ? withoutUndefined(inputs) : resolved, failures };
    },

    async diff(id, olds, news) {
      // olds too: a resource may skip what it checked before (a Volume's source, read only at creation).
      const { unknownKeys: anyUnknown } = await life.check(news, olds);
      const { inputs } = await life.check(withStandIns(life.spec, olds, news, anyUnknown), olds);
      const unknownKeys = new Set([...anyUnknown].filter((k) => !life.unknownAsSaved?.(k, olds)));
      if (!inputs) return { changes: true };
      const values: Raw = { ...inputs };
      const changed = changedInputs(life.spec, olds, values, unknownKeys, (key, next) => life.sameAsSaved?.(key, next, olds) ?? false);
      const replaces = changed.filter((k) => replaceKeys(life.spec).includes(k));
      const decision = life.diff ? await life.diff({ id, olds, inputs, unknownKeys, changed, replaces }) : { replaces, deleteBeforeReplace: false };
      return { ...decision, changes: changed.length > 0 || decision.changes === true };
    },

    async create(raw) {
      const inputs = await inputsOrThrow(raw);
      const { id, outs } = await withProviderKey(raw, () =>
        life.create(inputs, {
          recordPartlyCreated: (whatIsMade, partial, create) => recordPartlyCreated(raw, whatIsMade, partial, create),
        }),
      );
      return { id, outs: withoutUndefined(outs) };
    },

    async read(id, props) {
      const outs = await life.read(id, props ?? {});
      return outs === undefined ? {} : { id: life.idAfterRead?.(outs, id) ?? id, props: withoutUndefined(outs) };
    },

    async update(id, olds, news) {
      const inputs = await inputsOrThrow(news, olds);
      return { outs: withoutUndefined(await withProviderKey(news, () => life.update(id, olds, inputs))) };
    },

    async delete(id, props) {
      await life.delete(id, props);
    },
  });
}
