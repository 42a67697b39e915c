#!/usr/bin/env bash
# Provide the Pulumi CLI (`pulumi`), the Node.js language host
# (`pulumi-language-nodejs`) and the Node dynamic-provider shim
# (`pulumi-resource-pulumi-nodejs`) on a machine that can only reach package
# registries, by building them from two pinned Go wrapper modules:
#   tools/pulumi-cli              -> pulumi                  (v$PULUMI_VERSION)
#   tools/pulumi-language-nodejs  -> pulumi-language-nodejs  (v$NODEJS_HOST_VERSION)
# The host is the real upstream one, but from sdk/v3 v3.68.0: newer hosts live in
# their own module, which the Go module proxy refuses (403), and v3.68.0 is the
# last sdk/v3 that contains it. It works with this CLI (see tools/README.md).
#
# Usage:  PULUMI_BIN=$(scripts/ensure-pulumi.sh | tail -1); export PATH="$PULUMI_BIN:$PATH"
#
# - If a `pulumi` >= $PULUMI_VERSION is on PATH with a `pulumi-language-nodejs`
#   in the same directory, that directory is printed and nothing is built.
# - Otherwise all three are installed once into one cache dir outside the clone,
#   keyed by both versions (a bump of either rebuilds):
#   ${LIBVIRT_PULUMI_CACHE:-$HOME/.cache/libvirt-pulumi}/pulumi-cli/v$PULUMI_VERSION-nodejs-v$NODEJS_HOST_VERSION/bin
#   and later runs reuse them (Go's module and build caches make a rebuild
#   after a version bump incremental).
# Progress goes to stderr; the bin dir is the last line of stdout.
set -euo pipefail

PULUMI_VERSION=3.248.0       # keep in step with tools/pulumi-cli/go.mod and @pulumi/pulumi
NODEJS_HOST_VERSION=3.68.0   # keep in step with tools/pulumi-language-nodejs/go.mod

log() { echo "[ensure-pulumi] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cli_mod_dir="$repo_root/tools/pulumi-cli"
host_mod_dir="$repo_root/tools/pulumi-language-nodejs"
cache_root="${LIBVIRT_PULUMI_CACHE:-$HOME/.cache/libvirt-pulumi}"
bin_dir="$cache_root/pulumi-cli/v$PULUMI_VERSION-nodejs-v$NODEJS_HOST_VERSION/bin"
version_pkg=github.com/pulumi/pulumi/sdk/v3/go/common/version
export PULUMI_SKIP_UPDATE_CHECK=true

# version_ge A B: true when version A >= version B (leading "v" ignored).
version_ge() {
  local a=${1#v} b=${2#v}
  [ "$(printf '%s\n%s\n' "$b" "$a" | sort -V | head -n1)" = "$b" ]
}

# pulumi_version BIN: the version BIN reports, or nothing if it does not run.
pulumi_version() { "$1" version 2>/dev/null | head -n1 | tr -d '[:space:]' || true; }

# host_version BIN: "<version it reports> <sdk/v3 it was built from>", read from
# the Go build info (this host has no -version flag; it reports the -X
# $version_pkg.Version value over gRPC).
host_version() {
  go version -m "$1" 2>/dev/null | awk -v x="-X $version_pkg.Version=" '
    ($1 == "mod" || $1 == "dep") && $2 == "github.com/pulumi/pulumi/sdk/v3" { sdk = $3 }
    $1 == "build" && (i = index($0, x)) { v = substr($0, i + length(x)); sub(/[ "].*/, "", v) }
    END { print v, sdk }' || true
}

# 1. Use what is already on PATH if it is new enough. The host must sit next to
#    `pulumi` (the CLI warns about a host found elsewhere on PATH). Older builds
#    of this script (other cache keys) are skipped.
if path_pulumi=$(command -v pulumi 2>/dev/null); then
  path_dir=$(dirname "$path_pulumi")
  v=$(pulumi_version "$path_pulumi")
  if [ "$path_dir" != "$bin_dir" ] && [[ "$path_dir" == "$cache_root/pulumi-cli/"* ]]; then
    log "ignoring an outdated build on PATH ($path_dir)"
  elif [ ! -x "$path_dir/pulumi-language-nodejs" ]; then
    log "pulumi on PATH ($path_pulumi) has no pulumi-language-nodejs beside it; using the cached build"
  elif [ -n "$v" ] && version_ge "$v" "$PULUMI_VERSION"; then
    log "using pulumi $v and pulumi-language-nodejs from PATH ($path_dir)"
    echo "$path_dir"
    exit 0
  else
    log "pulumi on PATH reports '${v:-nothing}' (< v$PULUMI_VERSION or broken); using the cached build"
  fi
fi

if ! command -v go >/dev/null 2>&1; then
  [ -x /usr/local/go/bin/go ] && export PATH="/usr/local/go/bin:$PATH" || die "go is not installed"
fi
export GOWORK=off CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false"
grep -q "github.com/pulumi/pulumi/pkg/v3 v$PULUMI_VERSION\$" "$cli_mod_dir/go.mod" ||
  die "$cli_mod_dir/go.mod does not require pkg/v3 v$PULUMI_VERSION (update PULUMI_VERSION too)"
grep -q "github.com/pulumi/pulumi/sdk/v3 v$NODEJS_HOST_VERSION\$" "$host_mod_dir/go.mod" ||
  die "$host_mod_dir/go.mod does not require sdk/v3 v$NODEJS_HOST_VERSION (update NODEJS_HOST_VERSION too)"

# cached_ok: the cached binaries (and the dynamic-provider shim) exist and
# report the pinned versions.
cached_ok() {
  [ -x "$bin_dir/pulumi" ] && [ -x "$bin_dir/pulumi-language-nodejs" ] || return 1
  [ -x "$bin_dir/pulumi-resource-pulumi-nodejs" ] || return 1
  [ "$(pulumi_version "$bin_dir/pulumi")" = "v$PULUMI_VERSION" ] || return 1
  [ "$(host_version "$bin_dir/pulumi-language-nodejs")" = "v$NODEJS_HOST_VERSION v$NODEJS_HOST_VERSION" ] || return 1
}
using_cached() {
  log "using cached pulumi v$PULUMI_VERSION + pulumi-language-nodejs v$NODEJS_HOST_VERSION in $bin_dir"
  echo "$bin_dir"
  exit 0
}

cached_ok && using_cached

# 2. Build into the cache. Serialise concurrent callers on a lock file.
mkdir -p "$bin_dir"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$bin_dir/../.build.lock"
  log "taking the build lock ($bin_dir/../.build.lock)"
  flock 9
  cached_ok && using_cached # another caller built it while we waited
fi

tmp_dir=$(mktemp -d "$bin_dir/../.build.XXXXXX")
trap 'rm -rf "$tmp_dir"' EXIT

log "building pulumi v$PULUMI_VERSION and pulumi-language-nodejs v$NODEJS_HOST_VERSION with $(go version | cut -d' ' -f3) into $bin_dir"
log "(a cold CLI build takes several minutes on 2 cores, the host ~15s; Go's module/build caches are reused afterwards)"
(
  start=$(date +%s)
  cd "$cli_mod_dir"
  go build -p 2 -trimpath -ldflags "-s -w -X $version_pkg.Version=v$PULUMI_VERSION" \
    -o "$tmp_dir/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  log "built pulumi ($(( $(date +%s) - start ))s)"

  start=$(date +%s)
  cd "$host_mod_dir"
  # No -trimpath here: it would drop -ldflags from the build info that
  # host_version reads.
  go build -p 2 -ldflags "-s -w -X $version_pkg.Version=v$NODEJS_HOST_VERSION" \
    -o "$tmp_dir/pulumi-language-nodejs" github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs
  log "built pulumi-language-nodejs ($(( $(date +%s) - start ))s)"
) >&2

# The dynamic-provider plugin `pulumi-resource-pulumi-nodejs` is a small shell
# shim (it runs @pulumi/pulumi/cmd/dynamic-provider with node, resolved from the
# program's directory). npm ships it at the root of @pulumi/pulumi; the sdk/v3
# module carries the same file in nodejs/dist/ (taken from the CLI's sdk/v3).
# Installing it beside `pulumi` makes the engine use it as a bundled plugin
# instead of trying to download it.
sdk_dir=$(cd "$cli_mod_dir" && go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)
install -m 0755 "$sdk_dir/nodejs/dist/pulumi-resource-pulumi-nodejs" "$tmp_dir/pulumi-resource-pulumi-nodejs"
mv -f "$tmp_dir/pulumi" "$tmp_dir/pulumi-language-nodejs" "$tmp_dir/pulumi-resource-pulumi-nodejs" "$bin_dir/"
cached_ok || die "the freshly built binaries in $bin_dir do not report v$PULUMI_VERSION / v$NODEJS_HOST_VERSION"
log "pulumi $(pulumi_version "$bin_dir/pulumi") and pulumi-language-nodejs v$NODEJS_HOST_VERSION ready in $bin_dir"
echo "$bin_dir"
