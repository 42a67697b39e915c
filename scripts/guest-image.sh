#!/usr/bin/env bash
# Builds, once, a small Debian 12 guest image for tests and the demo from Debian
# packages (no image is downloaded: none can be), and caches it outside the clone
# keyed by its recipe (this file's recipe section), like the Pulumi CLI:
#   ${LIBVIRT_PULUMI_CACHE:-~/.cache/libvirt-pulumi}/guest-image/<recipe hash>/
#     disk.qcow2   ext4 root file system on the whole disk (no partition table), label "root"
#     vmlinuz      the image's own kernel, for direct kernel boot
#     initrd.img   its initramfs
#     cmdline      the kernel command line to boot it with
#     manifest.json
# The guest has systemd, udev, dbus (graceful ACPI/agent shutdown needs it),
# cloud-init (NoCloud seed on a cdrom labelled "cidata"), qemu-guest-agent and
# openssh-server. Boot it with direct kernel boot (`kernel`, `initrd`, `cmdline`)
# and the disk on virtio (`vda`); the Debian cloud kernel has no AHCI, so a
# cloud-init cdrom goes on the IDE bus (i440fx machine) or on virtio.
#
# Usage: dir=$(bash scripts/guest-image.sh | tail -1)
# Progress goes to stderr; the image directory is the last line of stdout.
set -euo pipefail

# --- recipe (a change here builds a new image) --------------------------------
SUITE=bookworm
PACKAGES=linux-image-cloud-amd64,systemd-sysv,udev,dbus,cloud-init,qemu-guest-agent,openssh-server,ifupdown,isc-dhcp-client,netbase
ROOT_SIZE=1500M
CMDLINE="root=/dev/vda rw console=ttyS0"
RECIPE_VERSION=1
# -------------------------------------------------------------------------------

say() { printf '[guest-image] %s\n' "$*" >&2; }
sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

recipe=$(printf '%s\n' "$SUITE" "$PACKAGES" "$ROOT_SIZE" "$CMDLINE" "$RECIPE_VERSION" "$(sed -n '/^customize()/,/^}/p' "${BASH_SOURCE[0]}")")
key=$(printf '%s' "$recipe" | sha256sum | cut -c1-12)
cache="${LIBVIRT_PULUMI_CACHE:-$HOME/.cache/libvirt-pulumi}/guest-image"
out="$cache/$SUITE-$key"

if [ -f "$out/manifest.json" ] && [ -f "$out/disk.qcow2" ]; then
  say "guest image present: $out"
  echo "$out"
  exit 0
fi

# One build at a time (test files, the demo and a bench may ask at once): wait for
# a build in progress, then use its result.
mkdir -p "$cache"
exec 9>"$cache/.build.lock"
if ! flock -n 9; then
  say "another build of the guest image is running; waiting for it"
  flock 9
fi
if [ -f "$out/manifest.json" ] && [ -f "$out/disk.qcow2" ]; then
  say "guest image present: $out"
  echo "$out"
  exit 0
fi

need=()
for p in mmdebstrap e2fsprogs qemu-utils; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  say "installing Debian packages: ${need[*]}"
  sudo_if_needed apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The guest's first-boot settings, run by mmdebstrap inside the new root ($1).
customize() {
  local root=$1
  echo "/dev/vda / ext4 rw,errors=remount-ro 0 1" > "$root/etc/fstab"
  echo "lvp-guest" > "$root/etc/hostname"
  # cloud-init: the NoCloud seed only, so that boot never waits on a metadata server.
  mkdir -p "$root/etc/cloud/cloud.cfg.d"
  printf 'datasource_list: [ NoCloud, None ]\n' > "$root/etc/cloud/cloud.cfg.d/90-lvp-datasource.cfg"
  # A login prompt on the serial console (what the tests read) and the agent at boot.
  chroot "$root" systemctl enable serial-getty@ttyS0.service qemu-guest-agent.service >/dev/null 2>&1 || true
  # Each instance makes its own identity: no machine id, no SSH host keys baked in.
  : > "$root/etc/machine-id"
  rm -f "$root"/etc/ssh/ssh_host_*
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
}

work=$(mktemp -d /var/tmp/lvp-guest-image.XXXXXX)
trap 'sudo_if_needed rm -rf "$work"' EXIT
start=$(date +%s)
say "building a $SUITE guest image from Debian packages (about a minute): $PACKAGES"
# mmdebstrap runs hooks with sh: hand it the function as a bash script.
{ declare -f customize; echo 'customize "$1"'; } > "$work/customize.sh"
sudo_if_needed mmdebstrap --quiet --variant=minbase --include="$PACKAGES" \
  --customize-hook="bash $work/customize.sh \"\$1\"" "$SUITE" "$work/rootfs" >&2
say "root file system built in $(( $(date +%s) - start ))s; writing the ext4 image"
cp "$work/rootfs/boot/"vmlinuz-* "$work/vmlinuz"
cp "$work/rootfs/boot/"initrd.img-* "$work/initrd.img"
sudo_if_needed mke2fs -q -t ext4 -L root -d "$work/rootfs" "$work/root.img" "$ROOT_SIZE"
qemu-img convert -O qcow2 "$work/root.img" "$work/disk.qcow2"

mkdir -p "$cache"
staging="$out.partial.$$"
mkdir -p "$staging"
mv "$work/disk.qcow2" "$work/vmlinuz" "$work/initrd.img" "$staging/"
printf '%s\n' "$CMDLINE" > "$staging/cmdline"
chmod 0644 "$staging"/*
chmod 0755 "$staging"
kernel_version=$(basename "$(ls "$work/rootfs/boot/"vmlinuz-*)" | sed 's/^vmlinuz-//')
disk_bytes=$(stat -c %s "$staging/disk.qcow2")
build_s=$(( $(date +%s) - start ))
cat > "$staging/manifest.json" <<JSON
{
  "suite": "$SUITE",
  "recipe": "$key",
  "packages": "$PACKAGES",
  "kernel": "$kernel_version",
  "cmdline": "$CMDLINE",
  "rootSize": "$ROOT_SIZE",
  "diskBytes": $disk_bytes,
  "buildSeconds": $build_s,
  "built": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}
JSON
rm -rf "$out"
mv "$staging" "$out"
say "guest image ready in ${build_s}s: $out ($(( disk_bytes / 1024 / 1024 )) MiB qcow2, kernel $kernel_version)"
echo "$out"
