// The advice added to a failed SSH open, chosen from the words libvirt passes on
// (the ssh binary's stderr, or the libssh transports' own text), and the no_tty=1
// that the provider adds to qemu+ssh URIs for the open. The texts are the ones
// measured on libvirt 9.0 / OpenSSH 9.2 (test/integration/remote-ssh.test.ts sees
// them for real).
import { describe, expect, it } from "vitest";
import { built } from "../helpers/lib";

const { sshHint, sshTransport, withoutTerminalPrompts } = built<typeof import("../../provider/libvirt/ssh-hints")>("provider/libvirt/ssh-hints");

const U = "qemu+ssh://lvp-test@127.0.0.1:2222/session?keyfile=/k/id";

describe("sshTransport", () => {
  it.each([
    ["qemu+ssh://h/system", "ssh"],
    ["QEMU+SSH://h/system", "ssh"],
    ["qemu+libssh://h/system", "libssh"],
    ["qemu+libssh2://h/system", "libssh2"],
    ["qemu+tcp://h/system", undefined],
    ["qemu:///system", undefined],
    [null, undefined],
  ])("%s -> %s", (uri, transport) => expect(sshTransport(uri)).toBe(transport));
});

describe("withoutTerminalPrompts", () => {
  it.each([
    ["qemu+ssh://h/system", "qemu+ssh://h/system?no_tty=1"],
    [U, `${U}&no_tty=1`],
    ["qemu+ssh://h/system#f", "qemu+ssh://h/system?no_tty=1#f"],
    // The user's own choice stays.
    ["qemu+ssh://h/system?no_tty=0", "qemu+ssh://h/system?no_tty=0"],
    // Only the ssh binary prompts on the terminal; libssh asks through the (absent) auth callback.
    ["qemu+libssh://h/system", "qemu+libssh://h/system"],
    ["qemu:///system", "qemu:///system"],
    [null, null],
  ])("%s -> %s", (uri, opened) => expect(withoutTerminalPrompts(uri)).toBe(opened));
});

describe("sshHint", () => {
  it.each([
    [
      "Cannot recv data: Host key verification failed.: Connection reset by peer",
      /not in the known_hosts.*ssh-keyscan -p 2222 127\.0\.0\.1.*no_verify=1/,
    ],
    [
      "Cannot recv data: Host key for [127.0.0.1]:2222 has changed and you have requested strict checking.\nHost key verification failed.: Connection reset by peer",
      /differs.*find out why.*ssh-keygen -R '\[127\.0\.0\.1\]:2222'/s,
    ],
    [
      "Cannot recv data: lvp-test@127.0.0.1: Permission denied (publickey).: Connection reset by peer",
      /refused the login of lvp-test.*keyfile= \(\/k\/id.*~lvp-test\/\.ssh\/authorized_keys/,
    ],
    [
      "Cannot recv data: Warning: Identity file /k/id not accessible: No such file or directory.\nlvp-test@127.0.0.1: Permission denied (publickey).: Connection reset by peer",
      /^keyfile= \(\/k\/id\) cannot be read.*refused the login/s,
    ],
    [
      "Cannot recv data: ssh: connect to host 127.0.0.1 port 2222: Connection refused: Connection reset by peer",
      /no SSH server answered at 127\.0\.0\.1:2222/,
    ],
    ["End of file while reading data: nc: /x/sock: No such file or directory: Input/output error", /login to lvp-test@127\.0\.0\.1 worked.*socket=/],
    ["something else entirely", undefined],
  ])("%s", (message, hint) => {
    const got = sshHint(U, message);
    if (hint === undefined) expect(got).toBeUndefined();
    else expect(got).toMatch(hint);
  });

  it("libssh: known_hosts= and known_hosts_verify, and sshauth", () => {
    const lib = "qemu+libssh://u@h/system?known_hosts=/kh";
    expect(sshHint(lib, "libssh transport error: SSH host key for 'h' (1f:6c) was not accepted")).toMatch(/known_hosts=.*known_hosts_verify=auto/);
    // What libvirt 9 says without an interactive callback (the provider has none) for a key not in that file.
    expect(sshHint(lib, "libssh transport error: No user interaction callback provided: Can't verify the session host key")).toMatch(/known_hosts=/);
    expect(sshHint(lib, "libssh transport error: failed to authenticate: Access denied for 'publickey'.")).toMatch(/sshauth=/);
    expect(
      sshHint(
        "qemu+libssh2://u@h/system",
        "authentication failed: authentication with private key '/k' has failed: Username/PublicKey combination invalid",
      ),
    ).toMatch(/refused the login of u/);
  });

  it("no hint for URIs that are not SSH", () => {
    expect(sshHint("qemu+tcp://h/system", "Cannot recv data: Host key verification failed.")).toBeUndefined();
    expect(sshHint(null, "Host key verification failed.")).toBeUndefined();
  });
});
