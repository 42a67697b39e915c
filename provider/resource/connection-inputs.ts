// The two inputs every resource has, for the connection its operations open: the
// hypervisor URI and the credentials. Each resource names itself and may say more
// (its own doc, what its default is when another resource brings one).
import { credentials, hypervisorUri } from "../validation";
import type { InputSpec } from "./spec";

type Overrides = Partial<Omit<InputSpec, "schema">>;

const AUTH_SDK_DOC =
  "Credentials for a hypervisor that asks for them (a SASL listener on qemu+tcp://host/system). Always stored as a secret; a plain password is made one. A change is recorded in place (the next operations use it), it replaces nothing.";

/** `uri`: a change replaces the resource; left unset, the URI resolved at creation stands. */
export const uriInput = <const O extends Overrides>(resource: string, overrides?: O) =>
  ({
    schema: hypervisorUri,
    defaultDoc: "the stack's `libvirt-pulumi:uri`, else `LIBVIRT_DEFAULT_URI`, else libvirt's default",
    change: "replace",
    unsetKeepsSaved: true,
    doc: "the URI libvirt reports is saved in the output `uri` and used by later operations; a later change of the stack default never moves the resource. Must not embed a password (use `auth`)",
    sdkDoc: `Hypervisor URI. Default: the stack config libvirt-pulumi:uri, else LIBVIRT_DEFAULT_URI, else libvirt's default (resolved when the ${resource} is created; a later change of the stack default does not move it). Changing it replaces the ${resource}.`,
    output: { type: "string", doc: "The URI libvirt reported for the connection: later operations use it." },
    ...overrides,
  }) as const;

/** `auth`: always a secret (the SDK makes it one); a change is only recorded. `sdkDocMore` follows the common SDK doc. */
export const authInput = <const O extends Overrides>(overrides?: O & { sdkDocMore?: string }) => {
  const { sdkDocMore, ...rest } = overrides ?? ({} as O & { sdkDocMore?: string });
  return {
    schema: credentials,
    defaultDoc: "none",
    change: "record",
    doc: "`{ username, password }` for a hypervisor that asks for them (SASL); always a secret",
    sdkDoc: sdkDocMore ? `${AUTH_SDK_DOC} ${sdkDocMore}` : AUTH_SDK_DOC,
    sdkType: "AuthArgs",
    output: { type: "object", sdkType: "AuthOutput", doc: "The credentials, a secret." },
    ...rest,
  } as const;
};
