#!/usr/bin/env bash
# Starts `libvirtd -d` (extra arguments are passed on) inside the network
# namespace LIBVIRT_PULUMI_NETNS (default: lvp-test), made here if missing.
# There, libvirt networks with host-side addresses (NAT, DHCP: their bridge and
# dnsmasq) live in that namespace only, and the host's own interfaces and
# routes are never touched; clients still reach the daemon at qemu:///system,
# since unix sockets ignore network namespaces. LIBVIRT_PULUMI_NETNS=none starts
# it in the host's namespace (needed for a TCP listener the host reaches).
# Used by scripts/setup.sh and the tests that restart the daemon
# (test/helpers/daemon.ts): the one place that knows how libvirtd is started.
set -euo pipefail

ns=${LIBVIRT_PULUMI_NETNS:-lvp-test}

# A daemon keeps every descriptor it inherits: one holding a caller's lock file
# (flock, a CI runner's pipes) would hold it for as long as the daemon runs.
for fd in /proc/$$/fd/*; do
  n=${fd##*/}
  if [ "$n" -gt 2 ]; then eval "exec $n>&-" 2>/dev/null || true; fi
done

if [ "$ns" = none ]; then exec libvirtd -d "$@"; fi
if [ ! -e "/run/netns/$ns" ]; then
  echo "[start-libvirtd] making network namespace $ns (libvirt networks live there)" >&2
  ip netns add "$ns"
fi
ip netns exec "$ns" ip link set lo up
exec ip netns exec "$ns" libvirtd -d "$@"
