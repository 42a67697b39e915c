#!/usr/bin/env bash
# The quick start's main job (npm run demo): a real `pulumi up` of
# examples/cloud-vm against the local hypervisor (two Debian guests from one base
# image, configured by cloud-init, on an isolated network that has no host
# address: the guests' static addresses come from cloud-init and their agents
# report them), then on that real VM a snapshot taken by the stack and one behind
# Pulumi's back, `pulumi destroy` refusing, the destroy with the cascade, what
# was kept, and a clean-up that leaves nothing behind. Sets up whatever is
# missing first; the guest image is built once (about a minute, with progress).
# State lives in a local file backend under the project (.pulumi-state/).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
step() { printf '\n\033[1;36m==> %s\033[0m\n' "$*"; }
show() { printf '\033[2m$ %s\033[0m\n' "$*"; "$@"; }
uri=qemu:///system
prefix=lvp-demo
stack=demo-cloud-vm

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

step "the guest image (built once from Debian packages, about a minute; cached afterwards)"
image=$(bash "$root/scripts/guest-image.sh" | tail -1)
echo "guest image: $image"

# A throw-away SSH key for the guests' cloud-init (authorized for user debian).
key="$root/.pulumi-state/demo-ssh-key"
[ -f "$key" ] || ssh-keygen -q -t ed25519 -N "" -C lvp-demo -f "$key"

cd "$root/examples/cloud-vm"
step "installing the example's dependencies (this package, packed as from npm)"
rm -rf node_modules/libvirt-pulumi
npm install --no-audit --no-fund --loglevel=error

pulumi stack select "$stack" 2>/dev/null || pulumi stack init "$stack"
pulumi config set prefix "$prefix"
pulumi config set imageDir "$image"
pulumi config set cmdline "$(cat "$image/cmdline")"
pulumi config set sshPublicKey "$(cat "$key.pub")"
if pulumi stack export | grep -q 'libvirt-pulumi:Domain'; then
  step "an earlier demo left resources in stack '$stack': removing them first"
  pulumi config set snapshot false
  pulumi config set deleteSnapshotsOnDestroy true
  pulumi config set deleteVolumeSnapshotData true
  pulumi up --yes --skip-preview --suppress-outputs >/dev/null
  LIBVIRT_PULUMI_DELETE_SNAPSHOT_DATA_ON_DESTROY=1 pulumi destroy --yes --suppress-outputs >/dev/null
fi
pulumi config set snapshot false
pulumi config set deleteSnapshotsOnDestroy false
pulumi config set deleteVolumeSnapshotData false

step "pulumi up: an isolated network, a pool, the base image, an overlay and a cloud-init seed per VM, two VMs"
echo "Each VM boots Debian (under TCG: about a minute) and the up waits until its guest agent reports"
echo "the static address cloud-init gave it. The network has no host-side address: no traffic reaches the host."
start=$SECONDS
show pulumi up --yes --skip-preview
echo "(pulumi up took $((SECONDS - start)) s)"
domain=$(pulumi stack output domainNames --json | node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0,"utf8"))[0])')
disk=$(pulumi stack output diskPaths --json | node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0,"utf8"))[0])')

step "the VMs' addresses: the stack's outputs, and libvirt asking each guest agent again"
show pulumi stack output ipAddresses
for d in $(pulumi stack output domainNames --json | node -e 'console.log(JSON.parse(require("fs").readFileSync(0,"utf8")).join(" "))'); do
  show virsh -c "$uri" domifaddr "$d" --source agent
done
show virsh -c "$uri" qemu-agent-command "$domain" '{"execute":"guest-get-host-name"}'

step "pulumi up with snapshot=true: the stack takes a Snapshot of $domain"
pulumi config set snapshot true
show pulumi up --yes --skip-preview --suppress-outputs

step "taking a snapshot behind Pulumi's back"
show virsh -c "$uri" snapshot-create-as "$domain" by-hand "made outside Pulumi"
show virsh -c "$uri" snapshot-list "$domain" --tree

step "pulumi destroy: Pulumi deletes its own snapshot, then is refused at the domain"
if show pulumi destroy --yes; then
  echo "unexpected: the destroy was not refused" >&2
  exit 1
fi

step "the refusal changed nothing on the VM: it still runs and the hand-made snapshot is there"
show virsh -c "$uri" domstate "$domain"
show virsh -c "$uri" snapshot-list "$domain" --tree

step "destroy with the cascade for this run: LIBVIRT_PULUMI_DELETE_SNAPSHOTS_ON_DESTROY=1"
echo "The domain goes and libvirt's snapshot metadata with it; the snapshot's contents stay"
echo "in the VM's overlay image, so that Volume's delete is refused next, and says why."
start=$SECONDS
show env LIBVIRT_PULUMI_DELETE_SNAPSHOTS_ON_DESTROY=1 pulumi destroy --yes || true
echo "(pulumi destroy took $((SECONDS - start)) s)"

step "what was kept"
show virsh -c "$uri" list --all --name
echo "The snapshot's contents, inside the kept overlay image:"
show qemu-img snapshot -U -l "$disk"
show virsh -c "$uri" vol-list "$prefix-pool"

step "cleaning up: allow deleting the image with its snapshot data for this destroy"
show env LIBVIRT_PULUMI_DELETE_SNAPSHOT_DATA_ON_DESTROY=1 pulumi destroy --yes --suppress-outputs
pulumi stack rm --yes "$stack" >/dev/null
pooldir="/var/lib/libvirt/images/$prefix-pool"
if ls "$pooldir"/*.snapshots-*.json >/dev/null 2>&1; then
  echo "The snapshot archive the cascade wrote outlives the pool (a pool's delete never removes it):"
  show ls "$pooldir"
  echo "The snapshot's contents went with the image just now, so the demo removes its archive too."
  rm -f "$pooldir"/*.snapshots-*.json
  rmdir "$pooldir" 2>/dev/null || true
fi

step "done: nothing left"
show virsh -c "$uri" list --all --name
virsh -c "$uri" net-info "$prefix-net" >/dev/null 2>&1 && echo "network $prefix-net is still defined" || echo "network $prefix-net: gone"
virsh -c "$uri" pool-info "$prefix-pool" >/dev/null 2>&1 && echo "pool $prefix-pool is still defined" || echo "pool $prefix-pool: gone"
[ -e "$disk" ] && echo "image $disk still exists" || echo "image $disk: gone"
[ -e "$pooldir" ] && echo "directory $pooldir still exists" || echo "directory $pooldir: gone"
