// The stack's defaults for the hypervisor connection, from Pulumi config:
//   pulumi config set libvirt-pulumi:uri qemu+tcp://host/system
//   pulumi config set libvirt-pulumi:username admin
//   pulumi config set --secret libvirt-pulumi:password ...
// A resource that gives no `uri` uses them (the provider resolves the URI, so a
// later change of the default never re-points an existing resource:
// provider/resource/stack-default.ts). Precedence: the resource's `uri` > this
// default > LIBVIRT_DEFAULT_URI > libvirt's default.
import * as pulumi from "@pulumi/pulumi";

const NAMESPACE = "libvirt-pulumi";

export interface StackDefaults {
  uri?: string;
  /** `{ username, password }`, a secret; only with a default uri. */
  auth?: pulumi.Output<unknown>;
}

/** Reads the defaults (undefined outside a Pulumi program, as in unit tests without a stack). */
export function stackDefaults(): StackDefaults {
  const config = new pulumi.Config(NAMESPACE);
  const uri = config.get("uri");
  const username = config.get("username");
  const password = config.getSecret("password");
  if ((username === undefined) !== (password === undefined)) {
    throw new Error(
      `stack config: ${NAMESPACE}:username and ${NAMESPACE}:password go together; set both (\`pulumi config set ${NAMESPACE}:username USER\` and ` +
        `\`pulumi config set --secret ${NAMESPACE}:password ...\`) or neither`,
    );
  }
  if (username !== undefined && uri === undefined) {
    throw new Error(
      `stack config: ${NAMESPACE}:username and ${NAMESPACE}:password are the credentials of the default hypervisor, but ${NAMESPACE}:uri is not set; ` +
        `set it (\`pulumi config set ${NAMESPACE}:uri qemu+tcp://host/system\`), or give uri and auth on the resources instead`,
    );
  }
  return { uri, auth: username !== undefined ? pulumi.secret({ username, password }) : undefined };
}
