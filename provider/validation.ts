// Input validation shared by the resources: zod schemas for common fields, and
// the translation of zod issues into Pulumi check failures that name the
// property (`disks[0].bus`) and say what is allowed.
import { z } from "zod";
import { uriHasPassword } from "./libvirt/uri";

export interface CheckFailure {
  property: string;
  reason: string;
}

export function propertyPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((acc, key) => (typeof key === "number" ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)), "");
}

/** One failure per zod issue, in words a user can act on. */
export function toFailures(error: z.ZodError): CheckFailure[] {
  const out: CheckFailure[] = [];
  for (const issue of error.issues) {
    const property = propertyPath(issue.path);
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        out.push({
          property: property ? `${property}.${key}` : key,
          reason: `unknown property "${key}"; check its spelling against the documented inputs`,
        });
      }
      continue;
    }
    out.push({ property: property || "(inputs)", reason: describeIssue(issue) });
  }
  return out;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  // Messages written in the schema (error: "...") are already specific.
  if (!issue.message.startsWith("Invalid input") && !issue.message.startsWith("Too ") && !issue.message.startsWith("Invalid ")) return issue.message;
  switch (issue.code) {
    case "invalid_value":
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "invalid_type":
      return `must be ${issue.expected === "int" ? "an integer" : `a ${issue.expected}`}`;
    case "too_small":
      return issue.origin === "string"
        ? `must be at least ${issue.minimum} characters long`
        : issue.origin === "array"
          ? `needs at least ${issue.minimum} entries`
          : `must be at least ${issue.minimum}`;
    case "too_big":
      return issue.origin === "string"
        ? `must be at most ${issue.maximum} characters long`
        : issue.origin === "array"
          ? `takes at most ${issue.maximum} entries`
          : `must be at most ${issue.maximum}`;
    default:
      return issue.message;
  }
}

/** Dynamic-provider plumbing keys (`__provider`) are not user inputs. */
export function userInputs(news: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(news).filter(([k, v]) => !k.startsWith("__") && v !== undefined && v !== null));
}

export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `must be one of ${values.map((v) => JSON.stringify(v)).join(", ")}` });

/** libvirt object names: no "/" (QEMU makes files of them), no XML or shell metacharacters, no leading dot. */
export const objectName = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    // abort: an empty or over-long name gets one failure, not a second one from the pattern.
    .min(1, { error: `${what} must not be empty`, abort: true })
    .max(200, { error: `${what} must be at most 200 characters`, abort: true })
    .regex(/^[A-Za-z0-9_][A-Za-z0-9_.+:-]*$/, {
      error: `${what} may use letters, digits and _ . + : - (starting with a letter, digit or _); "/", spaces, quotes and XML characters are not allowed`,
    });

export const hypervisorUri = z
  .string({ error: "must be a libvirt URI string such as qemu:///system" })
  .regex(/^[a-z][a-z0-9+.-]*:\/\//i, { error: "must be a libvirt URI such as qemu:///system, qemu+ssh://host/system or test:///default" })
  .refine((u) => !uriHasPassword(u), {
    error:
      "must not embed a password (user:password@host or a password parameter): the URI is stored in plain text in the state and shown in messages; " +
      'give the credentials in auth ({ username, password }, a Pulumi secret) instead. Any ":" before the first "@" counts as a password, ' +
      'in any spelling (%3A too); a URI that only looks like one (an "@" in a path or parameter after host:port) passes with that "@" written as %40',
  });

/**
 * Credentials for virConnectOpenAuth (SASL on qemu+tcp, say). Zod's own messages
 * never repeat the value, and neither do these: the password must not reach the
 * check failures Pulumi prints.
 */
export const credentials = z
  .object(
    {
      username: z
        .string({ error: "must be a string (the SASL user name, as created with saslpasswd2 -a libvirt)" })
        .min(1, { error: "must not be empty" })
        .max(256, { error: "must be at most 256 characters" })
        .refine((s) => !hasControlCharacters(s), { error: "must not contain control characters" }),
      password: z
        .string({ error: "must be a string (pass it as a Pulumi secret, e.g. config.requireSecret)" })
        .min(1, { error: "must not be empty" })
        .max(1024, { error: "must be at most 1024 characters" })
        .refine((s) => !s.includes("\0"), { error: "must not contain NUL characters" }),
    },
    { error: "must be an object { username, password }" },
  )
  .strict();

export const absolutePath = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .regex(/^\//, { error: `${what} must be an absolute path` })
    .refine((p) => !p.split("/").includes(".."), { error: `${what} must not contain ".." segments` })
    .refine((p) => !/[\0\n]/.test(p), { error: `${what} must not contain NUL or newline characters` });

/** Text that is safe to store and print: no NUL or other C0 control characters. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
export const hasControlCharacters = (s: string): boolean => /[\0-\x1f]/.test(s);

export const flag = (what: string) => z.boolean({ error: `${what} must be true or false` });

/** A whole number of `unit` within [min, max]; each bound carries its own message (what the bound means). */
export const wholeNumber = (unit: string, min: { value: number; error: string }, max: { value: number; error: string }) =>
  z
    .number({ error: `must be a number of ${unit}` })
    .int({ error: `must be a whole number of ${unit}` })
    .min(min.value, { error: min.error })
    .max(max.value, { error: max.error });
