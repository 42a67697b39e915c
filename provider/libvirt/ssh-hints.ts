// What to do about a failed open over SSH (qemu+ssh, qemu+libssh, qemu+libssh2).
// libvirt gives such failures no code of their own: the ssh binary's stderr ends up
// in the message ("Cannot recv data: Host key verification failed.: ..."), and the
// libssh transports write their own text. So, unlike every "gone" decision, these
// hints are chosen by the words of the message; they only add advice, the error and
// its code stay libvirt's.

/** The SSH transport of a URI: "ssh" (the ssh binary), "libssh", "libssh2", or undefined for any other. */
export function sshTransport(uri: string | null): "ssh" | "libssh" | "libssh2" | undefined {
  const m = uri ? /^[a-z0-9.-]+\+(ssh|libssh|libssh2):\/\//i.exec(uri) : null;
  return m ? (m[1].toLowerCase() as "ssh" | "libssh" | "libssh2") : undefined;
}

/** The URI's query parameter `name` (decoded), if it has one. */
function param(uri: string, name: string): string | undefined {
  const q = uri.split("#", 1)[0].split("?").slice(1).join("?");
  for (const kv of q.split("&")) {
    const i = kv.indexOf("=");
    if (i > 0 && decodeURIComponent(kv.slice(0, i)) === name) return decodeURIComponent(kv.slice(i + 1));
  }
  return undefined;
}

/** user@host and port, for the advice ("lvp-test@127.0.0.1", "2222"). */
function target(uri: string): { userHost: string; host: string; port: string; user: string } {
  const m = /^[^:]+:\/\/(?:([^@/]*)@)?(\[[^\]]*\]|[^:/?#]*)(?::(\d+))?/.exec(uri);
  const user = m?.[1] ? decodeURIComponent(m[1]) : "";
  const host = m?.[2] ?? "";
  return { user, host, port: m?.[3] ?? "22", userHost: user ? `${user}@${host}` : host };
}

/**
 * For the ssh binary, no_tty=1 (ssh's BatchMode): ssh never asks on the terminal
 * (a host key to accept, a password, a key passphrase). The provider runs under
 * Pulumi's engine, which owns the terminal: a question there would garble its
 * display and wait until the connect timeout. Added to the URI that is opened only,
 * never to the one saved; a URI that sets no_tty itself keeps its value.
 */
export function withoutTerminalPrompts(uri: string | null): string | null {
  if (!uri || sshTransport(uri) !== "ssh" || param(uri, "no_tty") !== undefined) return uri;
  const hash = uri.indexOf("#");
  const [body, frag] = hash < 0 ? [uri, ""] : [uri.slice(0, hash), uri.slice(hash)];
  return `${body}${body.includes("?") ? "&" : "?"}no_tty=1${frag}`;
}

/** For an SSH open that got no answer in time: what to check. */
export function sshTimeoutHint(uri: string | null): string | undefined {
  if (!uri || !sshTransport(uri)) return undefined;
  const { userHost, host, port } = target(uri);
  return `the SSH server at ${host}:${port} accepted the connection but did not finish the SSH exchange (a hung sshd, or something else on that port): check it with ssh -p ${port} ${userHost} true`;
}

/** The advice for a failed SSH open, from the message libvirt passed on; undefined when none fits (or not SSH). */
export function sshHint(uri: string | null, message: string): string | undefined {
  const transport = sshTransport(uri);
  if (!uri || !transport) return undefined;
  const { userHost, host, port, user } = target(uri);
  const hostPort = port === "22" ? host : `[${host}]:${port}`;
  const keyfile = param(uri, "keyfile");
  if (
    /Host key verification failed|Can't verify the session host key|REMOTE HOST IDENTIFICATION HAS CHANGED|host key .* (was not accepted|has changed|mismatch)|Host key for .* has changed/i.test(
      message,
    )
  ) {
    const changed = /CHANGED|has changed|mismatch/i.test(message);
    const where =
      transport === "ssh"
        ? "the known_hosts of the user the provider runs as (~/.ssh/known_hosts of its passwd entry; $HOME is not consulted) or /etc/ssh/ssh_known_hosts"
        : `the file in known_hosts= (by default libvirt's own, ~/.config/libvirt/known_hosts)`;
    const fix = changed
      ? `the host's key differs from the one in ${where}: find out why before anything else (a reinstalled host, or someone in between); once sure, remove the old line (ssh-keygen -R '${hostPort}') and add the new key`
      : `the host's key is not in ${where}: add it after checking its fingerprint on the host (ssh-keyscan -p ${port} ${host}, compared with ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub there), or connect once with ssh -p ${port} ${userHost} and accept it`;
    const skip =
      transport === "ssh"
        ? "no_verify=1 in the URI skips the check (ssh's StrictHostKeyChecking=no: an unknown key is accepted and saved, and with libvirt 9's ssh transport a changed one is accepted too): only on a network you trust"
        : "known_hosts_verify=auto accepts an unknown key (a changed one is still refused), known_hosts_verify=ignore skips the check: only on a network you trust";
    return `${fix}; ${skip}`;
  }
  if (
    /Permission denied \(|Access denied for|Username\/PublicKey combination invalid|failed to authenticate|authentication with private key/i.test(
      message,
    )
  ) {
    const key = keyfile
      ? `the key in keyfile= (${keyfile}: it must exist, be readable by the user the provider runs as, and have no passphrase unless ssh-agent holds it)`
      : `a key: keyfile=/absolute/path/to/private_key in the URI, or one of the default keys in ~/.ssh of the user the provider runs as, or ssh-agent (SSH_AUTH_SOCK in the provider's environment)`;
    const unreadable = /Identity file .* not accessible/i.test(message)
      ? `keyfile= (${keyfile ?? "?"}) cannot be read, so ssh fell back to the default keys; `
      : "";
    return (
      `${unreadable}the SSH server at ${host}:${port} refused the login${user ? ` of ${user}` : ""} (no password is asked: the provider has no terminal): ` +
      `check ${key}, and that its public key is in ~${user || "<user>"}/.ssh/authorized_keys on the host (and that sshd allows that user: AllowUsers, PubkeyAuthentication)` +
      (transport === "ssh" ? "" : `; sshauth= lists the methods libvirt tries (e.g. sshauth=privkey,agent)`)
    );
  }
  if (/Identity file .* not accessible|Failed to (read|open) .*key|unable to (open|read) .*key/i.test(message)) {
    return `keyfile= (${keyfile ?? "?"}) cannot be read: give the absolute path of a private key the user the provider runs as can read`;
  }
  if (/timed out|no answer within/i.test(message)) return undefined;
  if (
    /Connection refused|No route to host|Could not resolve hostname|Name or service not known|Connection timed out|Network is unreachable/i.test(
      message,
    )
  ) {
    return `no SSH server answered at ${host}:${port}: is sshd running there and reachable from here (the port in the URI: ${port})?`;
  }
  if (/nc: |virt-ssh-helper|libvirt-sock|No such file or directory|command not found|not found/i.test(message)) {
    return (
      `the SSH login to ${userHost} worked, but the far side could not reach libvirt: is libvirt installed on the host (virt-ssh-helper) and, for /system, is its daemon running? ` +
      `For /session the user's daemon is started on demand. With socket= or proxy=netcat: the socket path must exist on the host and nc (netcat-openbsd) be installed there`
    );
  }
  return undefined;
}
