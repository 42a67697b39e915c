#!/usr/bin/env bash
# Idempotent set-up for libvirt-pulumi's tests and demo: installs what is
# missing, starts the daemons (no systemd on these machines), fixes /dev/kvm
# permissions the way udev would, and installs node modules. Each step says
# what it does and skips itself when already done.
set -euo pipefail

say() { printf '[setup] %s\n' "$*" >&2; }
root_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# sasl2-bin (saslpasswd2) and libsasl2-modules (DIGEST-MD5): the SASL listener of the remote-authentication tests.
# genisoimage builds CloudInitDisk seed ISOs (its isoinfo reads them back in the tests); xorriso is the
# fallback the provider uses where genisoimage is missing, tested too. scripts/guest-image.sh installs what it needs itself.
# dnsmasq-base serves libvirt networks' DHCP and DNS; iproute2 (ip netns) holds the daemon's network namespace.
# openssh-server (sshd) and openssh-client (ssh): the qemu+ssh tests start their own sshd on loopback
# (test/helpers/ssh-daemon.ts); libvirt's remote side is virt-ssh-helper (package libvirt-daemon), netcat-openbsd (nc -U) serves the proxy=netcat tests of the socket parameter.
DEBIAN_PACKAGES=(libvirt-daemon-system libvirt-clients libvirt-dev qemu-system-x86 qemu-utils ovmf sasl2-bin libsasl2-modules genisoimage xorriso dnsmasq-base iproute2 openssh-server openssh-client netcat-openbsd)

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

install_debian_packages() {
  local missing=()
  for p in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then say "Debian packages present"; return; fi
  if ! command -v apt-get >/dev/null; then
    say "missing ${missing[*]} and no apt-get: install libvirt daemon, QEMU and libvirt headers with your package manager"; exit 1
  fi
  say "installing Debian packages: ${missing[*]}"
  sudo_if_needed apt-get update -qq
  # No service is started by the install (openssh-server's would listen on port 22 of every address):
  # a policy-rc.d that says "no" while apt runs, unless the machine already has one (containers do).
  local policy=/usr/sbin/policy-rc.d added_policy=
  if [ ! -e "$policy" ]; then
    say "installing with services not started (a temporary $policy)"
    printf '#!/bin/sh\nexit 101\n' | sudo_if_needed tee "$policy" >/dev/null
    sudo_if_needed chmod 755 "$policy"
    added_policy=1
  fi
  local rc=0
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
  if [ -n "$added_policy" ]; then sudo_if_needed rm -f "$policy"; fi
  if [ "$rc" -ne 0 ]; then say "apt-get install failed (exit $rc)"; exit "$rc"; fi
}

fix_kvm_permissions() {
  if [ ! -e /dev/kvm ]; then say "/dev/kvm absent: domains default to type 'qemu' (TCG)"; return; fi
  # Without udev, /dev/kvm is root:root 0600: libvirt then decides KVM is unusable
  # for its qemu user, discards its capability cache on every call and re-probes
  # QEMU (a define takes ~36 s instead of ~9 ms). Do what udev's rule would do.
  if [ "$(stat -c '%G %a' /dev/kvm)" != "kvm 660" ]; then
    say "fixing /dev/kvm permissions (group kvm, mode 660)"
    getent group kvm >/dev/null || sudo_if_needed groupadd -r kvm
    sudo_if_needed chgrp kvm /dev/kvm && sudo_if_needed chmod 660 /dev/kvm
  else
    say "/dev/kvm permissions fine"
  fi
}

# The user whose QEMU session daemon (qemu:///session) the qemu+ssh tests reach through their own sshd:
# a second hypervisor, separate from qemu:///system. A system user with a shell (sshd runs the remote
# command, virt-ssh-helper, through it), no password (\* : no password login, but not "locked", which
# sshd would refuse even for a key), in group kvm for /dev/kvm. Its authorized key is the tests' own,
# per run (an AuthorizedKeysFile in the test's sshd config); nothing is written into its home here.
SSH_TEST_USER=lvp-test
SSH_TEST_HOME=/var/lib/lvp-test
ensure_ssh_test_user() {
  if ! getent passwd "$SSH_TEST_USER" >/dev/null; then
    say "creating system user $SSH_TEST_USER (home $SSH_TEST_HOME, group kvm) for the qemu+ssh session-daemon tests"
    getent group kvm >/dev/null || sudo_if_needed groupadd -r kvm
    sudo_if_needed useradd --system --create-home --home-dir "$SSH_TEST_HOME" --shell /bin/sh --groups kvm "$SSH_TEST_USER"
  else
    say "user $SSH_TEST_USER present"
  fi
  if [ "$(getent shadow "$SSH_TEST_USER" | cut -d: -f2)" != "*" ]; then
    say "unlocking $SSH_TEST_USER for key logins (password field *: no password)"
    sudo_if_needed usermod -p '*' "$SSH_TEST_USER"
  fi
  id -nG "$SSH_TEST_USER" | tr ' ' '\n' | grep -qx kvm || { say "adding $SSH_TEST_USER to group kvm"; sudo_if_needed usermod -aG kvm "$SSH_TEST_USER"; }
  # sshd's privilege-separation directory (its init script makes it; nothing here runs that).
  [ -d /run/sshd ] || { say "creating /run/sshd (sshd's privilege-separation directory)"; sudo_if_needed install -d -m 755 /run/sshd; }
}

# A live process named $1 (a killed daemon can linger as a zombie, which pgrep still lists).
daemon_alive() { ps -C "$1" -o stat= 2>/dev/null | grep -qv '^Z'; }

# Daemons keep every descriptor they inherit: one holding a caller's lock file
# (flock, a CI runner's pipes) would hold it for as long as the daemon runs.
without_inherited_fds() {
  (
    for fd in $(ls /proc/$BASHPID/fd); do
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    "$@"
  )
}

start_virtlogd() {
  if daemon_alive virtlogd; then say "virtlogd running"; return; fi
  say "starting virtlogd -d"
  without_inherited_fds sudo_if_needed virtlogd -d
}

# The network namespace of the daemon whose PID /run/libvirtd.pid holds ("" if unknown).
daemon_netns() {
  local pid
  pid=$(cat /run/libvirtd.pid 2>/dev/null) || return 0
  [ -n "$pid" ] && stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null || true
}

start_libvirtd() {
  local ns=${LIBVIRT_PULUMI_NETNS:-lvp-test}
  # Whether it answers is what counts, not whether a process of that name exists.
  if virsh -c qemu:///system version >/dev/null 2>&1; then
    if [ "$ns" != none ] && [ "$(daemon_netns)" != "$(stat -L -c %i "/run/netns/$ns" 2>/dev/null)" ]; then
      say "libvirtd running, but not in network namespace $ns: the tests of DHCP networks need it there (stop it: kill \$(cat /run/libvirtd.pid); then run this again)"
    else
      say "libvirtd running"
    fi
    return
  fi
  if daemon_alive libvirtd; then say "libvirtd is starting up"; return; fi
  if [ "$ns" = none ]; then say "starting libvirtd -d"; else say "starting libvirtd -d in network namespace $ns"; fi
  sudo_if_needed "$root_dir/scripts/start-libvirtd.sh"
}

wait_for_libvirtd() {
  local i
  for i in $(seq 1 60); do
    if virsh -c qemu:///system version >/dev/null 2>&1; then say "libvirtd answers on qemu:///system"; return; fi
    sleep 0.5
  done
  say "libvirtd did not answer on qemu:///system within 30 s; see /var/log/libvirt/libvirtd.log"; exit 1
}

install_node_modules() {
  cd "$root_dir"
  # A worktree that links node_modules to another checkout's: npm ci here would empty
  # that shared directory through the link (the other checkout's modules gone too).
  if [ -L node_modules ]; then
    if [ -d node_modules/koffi ] && [ -d node_modules/@pulumi/pulumi ]; then
      say "node modules present (node_modules links to $(readlink -f node_modules); not reinstalled through the link)"
      return
    fi
    say "node_modules links to $(readlink -f node_modules), which lacks koffi or @pulumi/pulumi: run npm ci there"
    exit 1
  fi
  if [ -d node_modules/koffi ] && [ -d node_modules/@pulumi/pulumi ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
    say "node modules present"
  else
    say "installing node modules (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error >&2
  fi
}

install_debian_packages
fix_kvm_permissions
ensure_ssh_test_user
start_virtlogd
start_libvirtd
wait_for_libvirtd
install_node_modules
if [ "${LIBVIRT_PULUMI_SKIP_CLI:-}" != "1" ] && [ -x "$root_dir/scripts/ensure-pulumi.sh" ]; then
  bin=$("$root_dir/scripts/ensure-pulumi.sh" | tail -1)
  say "Pulumi CLI in $bin"
fi
say "ready"
