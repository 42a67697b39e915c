#!/usr/bin/env bash
# Runs the unit and integration tiers on current Node (24) with the newest
# @pulumi/pulumi and vitest 5, without changing what the repository pins for
# Node 20 users (package.json / package-lock.json stay as they are).
#
#   bash scripts/test-current-node.sh [vitest args...]
#
# What it does, each step skipped when already done:
# 1. installs Node 24 from npm's `node@24` package (it ships the binary) into
#    ${LIBVIRT_PULUMI_CACHE:-~/.cache/libvirt-pulumi}/node-v$NODE_VERSION;
# 2. copies the tracked files of this checkout into a work tree in the same
#    cache and installs its dependencies there with the newest SDK and vitest
#    (node_modules kept between runs, keyed by the dependency set);
# 3. builds the package and runs `vitest run test/unit test/integration` there.
# The machine set-up (daemons, packages) is scripts/setup.sh's: run it first.
set -euo pipefail

NODE_VERSION=24.21.0       # npm package node@24
PULUMI_SDK_VERSION=3.276.0 # the newest @pulumi/pulumi, which needs Node >= 22
VITEST_VERSION=5.1.2       # vitest 5 needs Node >= 22.12
TYPES_NODE_VERSION=^24.0.0

say() { printf '[current-node] %s\n' "$*" >&2; }
root_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache="${LIBVIRT_PULUMI_CACHE:-$HOME/.cache/libvirt-pulumi}"
node_dir="$cache/node-v$NODE_VERSION"
node_bin="$node_dir/node_modules/node/bin"

if [ -x "$node_bin/node" ] && [ "$("$node_bin/node" --version)" = "v$NODE_VERSION" ]; then
  say "Node $NODE_VERSION present"
else
  say "installing Node $NODE_VERSION (npm package node@$NODE_VERSION) into $node_dir"
  mkdir -p "$node_dir"
  npm install --prefix "$node_dir" --no-audit --no-fund --no-save --loglevel=error "node@$NODE_VERSION" >&2
fi
export PATH="$node_bin:$PATH"
[ "$(node --version)" = "v$NODE_VERSION" ] || { say "node on PATH is $(node --version), expected v$NODE_VERSION"; exit 1; }

# The dependency set: this checkout's package.json with the current-Node pins.
work="$cache/current-node-work"
mkdir -p "$work"
manifest=$(node -e '
  const p = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  p.devDependencies["@pulumi/pulumi"] = process.argv[2];
  p.devDependencies["vitest"] = process.argv[3];
  p.devDependencies["@types/node"] = process.argv[4];
  console.log(JSON.stringify(p, null, 2));
' "$root_dir/package.json" "$PULUMI_SDK_VERSION" "$VITEST_VERSION" "$TYPES_NODE_VERSION")
key=$(printf '%s\nnode %s\n' "$manifest" "$NODE_VERSION" | sha256sum | cut -c1-16)

# A fresh copy of the tracked sources (node_modules and its key survive).
say "copying this checkout's tracked files into $work"
find "$work" -mindepth 1 -maxdepth 1 ! -name node_modules ! -name .deps-key -exec rm -rf {} +
(cd "$root_dir" && git ls-files -z --cached --others --exclude-standard | tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -xf - -C "$work"
printf '%s\n' "$manifest" > "$work/package.json"
rm -f "$work/package-lock.json"

if [ -d "$work/node_modules" ] && [ "$(cat "$work/.deps-key" 2>/dev/null)" = "$key" ]; then
  say "dependencies present (@pulumi/pulumi $PULUMI_SDK_VERSION, vitest $VITEST_VERSION)"
else
  say "installing dependencies with @pulumi/pulumi $PULUMI_SDK_VERSION and vitest $VITEST_VERSION"
  rm -rf "$work/node_modules"
  (cd "$work" && npm install --no-audit --no-fund --no-package-lock --loglevel=error >&2)
  echo "$key" > "$work/.deps-key"
fi

cd "$work"
say "node $(node --version), @pulumi/pulumi $(node -p 'require("@pulumi/pulumi/package.json").version'), vitest $(node -p 'require("vitest/package.json").version')"
say "building"
npx tsc -p tsconfig.json
say "running the unit and integration tiers"
exec npx vitest run test/unit test/integration "$@"
