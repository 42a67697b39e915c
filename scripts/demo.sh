#!/usr/bin/env bash
# The quick start's main job (npm run demo): a real `pulumi up` of
# examples/basic against the local hypervisor, a snapshot taken behind Pulumi's
# back, `pulumi destroy` refusing, the destroy with the cascade, what was kept,
# and a clean-up that leaves nothing behind. Sets up whatever is missing first.
# State lives in a local file backend under the project (.pulumi-state/).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
step() { printf '\n\033[1;36m==> %s\033[0m\n' "$*"; }
show() { printf '\033[2m$ %s\033[0m\n' "$*"; "$@"; }
uri=qemu:///system
prefix=lvp-demo
stack=demo

bash "$root/scripts/setup.sh"
step "building libvirt-pulumi"
(cd "$root" && npm run build --silent)
bin=$("$root/scripts/ensure-pulumi.sh" | tail -1)
export PATH="$bin:$PATH"
mkdir -p "$root/.pulumi-state"
export PULUMI_BACKEND_URL="file://$root/.pulumi-state"
# The local backend encrypts config secrets with this passphrase; the demo has none.
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE:-libvirt-pulumi-demo}"
export PULUMI_SKIP_UPDATE_CHECK=true
unset LIBVIRT_PULUMI_DELETE_SNAPSHOTS_ON_DESTROY

cd "$root/examples/basic"
step "installing the example's dependencies (this package, packed as from npm)"
rm -rf node_modules/libvirt-pulumi
npm install --no-audit --no-fund --loglevel=error

pulumi stack select "$stack" 2>/dev/null || pulumi stack init "$stack"
if pulumi stack export | grep -q 'libvirt-pulumi:Domain'; then
  step "an earlier demo left resources in stack '$stack': removing them first"
  pulumi config set deleteSnapshotsOnDestroy true
  pulumi config set deleteVolumeSnapshotData true
  pulumi up --yes --skip-preview --suppress-outputs >/dev/null
  pulumi destroy --yes --suppress-outputs >/dev/null
fi
pulumi config set prefix "$prefix"
pulumi config set deleteSnapshotsOnDestroy false
pulumi config set deleteVolumeSnapshotData false

step "pulumi up: a pool, a qcow2 volume, a domain booted from it, and a snapshot"
show pulumi up --yes --skip-preview
domain=$(pulumi stack output domainName)
disk=$(pulumi stack output diskPath)

step "what libvirt reports now"
show virsh -c "$uri" list --all --name
show virsh -c "$uri" vol-list "$prefix-pool"
show virsh -c "$uri" snapshot-list "$domain" --tree

step "taking a snapshot behind Pulumi's back"
show virsh -c "$uri" snapshot-create-as "$domain" by-hand "made outside Pulumi"
show virsh -c "$uri" snapshot-list "$domain" --tree

step "pulumi destroy: Pulumi deletes its own snapshot, then is refused at the domain"
if show pulumi destroy --yes; then
  echo "unexpected: the destroy was not refused" >&2
  exit 1
fi

step "the refusal changed nothing: the VM still runs and the hand-made snapshot is there"
show virsh -c "$uri" domstate "$domain"
show virsh -c "$uri" snapshot-list "$domain" --tree

step "destroy with the cascade for this run: LIBVIRT_PULUMI_DELETE_SNAPSHOTS_ON_DESTROY=1"
echo "The domain goes and libvirt's snapshot metadata with it; the snapshot's contents stay"
echo "in the volume's image, so the Volume's delete is refused next, and says why."
show env LIBVIRT_PULUMI_DELETE_SNAPSHOTS_ON_DESTROY=1 pulumi destroy --yes || true

step "what was kept"
show virsh -c "$uri" list --all --name
echo "The snapshot's contents, inside the kept volume's image:"
show qemu-img snapshot -U -l "$disk"
show virsh -c "$uri" vol-list "$prefix-pool"

step "cleaning up: allow deleting the image with its snapshot data for this destroy"
show env LIBVIRT_PULUMI_DELETE_SNAPSHOT_DATA_ON_DESTROY=1 pulumi destroy --yes --suppress-outputs
pulumi stack rm --yes "$stack" >/dev/null

step "done: nothing left"
show virsh -c "$uri" list --all --name
virsh -c "$uri" pool-info "$prefix-pool" >/dev/null 2>&1 && echo "pool $prefix-pool is still defined" || echo "pool $prefix-pool: gone"
[ -e "$disk" ] && echo "image $disk still exists" || echo "image $disk: gone"
