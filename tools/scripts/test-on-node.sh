#!/usr/bin/env bash
# Runs jest on another Node version than the one on PATH, e.g. the Node of the Docker image:
#   tools/scripts/test-on-node.sh 24                  (unit and e2e projects)
#   tools/scripts/test-on-node.sh 24.22 apps/fabric-e2e/src/mcp-methods.e2e-spec.ts
# VERSION is a major or major.minor; the binary comes from the npm registry (package node-<os>-<arch>).
# Arguments after it go to jest instead of `--selectProjects unit e2e`.
#
# better-sqlite3 is a native addon built for one Node ABI, so the installed node_modules cannot serve
# both Nodes. The run happens in a copy of the workspace: its sources, a copy of node_modules in which
# better-sqlite3's binary is replaced by one compiled for VERSION, and its own build of the apps (the
# e2e specs start dist/apps/*/main.js with the Node that runs jest). The workspace itself is not touched,
# so other runs on the default Node can go on beside this one.
#
# Kept between runs under $FABRIC_NODE_CACHE (default ${TMPDIR:-/tmp}/mcp-fabric-node): the Node binary
# and the compiled addon (about 90 s to compile on 2 cores; needs python3, make and a C++ compiler).
set -euo pipefail

usage="usage: $0 VERSION [jest arguments...]   (VERSION: 24 or 24.22)"
version=${1:?$usage}
shift
[[ $version =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "$usage" >&2; exit 2; }
jest_args=("$@")
[ ${#jest_args[@]} -gt 0 ] || jest_args=(--selectProjects unit e2e)

root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${FABRIC_NODE_CACHE:-${TMPDIR:-/tmp}/mcp-fabric-node}
mkdir -p "$cache"
log() { echo "test-on-node [${SECONDS}s]: $*" >&2; }

case "$(uname -s)" in Linux) os=linux ;; Darwin) os=darwin ;; *) log "unsupported OS $(uname -s)"; exit 1 ;; esac
case "$(uname -m)" in x86_64 | amd64) arch=x64 ;; aarch64 | arm64) arch=arm64 ;; *) log "unsupported CPU $(uname -m)"; exit 1 ;; esac

# --- the Node binary ------------------------------------------------------------------------------
# Installed into a fresh folder and moved into place, so runs sharing the cache never see half of one.
runtime="$cache/node-$os-$arch-$version"
node="$runtime/node_modules/node-$os-$arch/bin/node"
if ! [ -x "$node" ] || [[ $("$node" --version) != "v$version".* ]]; then
  log "installing node-$os-$arch@$version from the npm registry"
  staging=$(mktemp -d "$cache/.node-XXXXXX")
  npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error --prefix "$staging" \
    "node-$os-$arch@$version" >&2
  rm -rf "$runtime"
  mv "$staging" "$runtime"
fi
node_version=$("$node" --version)
log "node $node_version"

# --- better-sqlite3 for that Node -------------------------------------------------------------------
modules=$(readlink -f "$root/node_modules")
sqlite_version=$("$node" -p "require('$modules/better-sqlite3/package.json').version")
abi=$("$node" -p 'process.versions.modules')
addon="$cache/better-sqlite3-$sqlite_version-$os-$arch-abi$abi/better_sqlite3.node"
if ! [ -f "$addon" ]; then
  log "compiling better-sqlite3 $sqlite_version for $node_version (ABI $abi)"
  staging=$(mktemp -d "$cache/.better-sqlite3-XXXXXX")
  cp -R "$modules/better-sqlite3/." "$staging/src"
  rm -rf "$staging/src/build"
  # node-gyp as npm ships it, run by the target Node, against that Node's own headers (no download).
  gyp="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"
  [ -f "$gyp" ] || { log "node-gyp not found at $gyp (it comes with npm)"; exit 1; }
  (cd "$staging/src" && PATH="$(dirname "$node"):$PATH" "$node" "$gyp" rebuild --release \
    --nodedir="$runtime/node_modules/node-$os-$arch" -j 2 > "$staging/build.log" 2>&1) ||
    { tail -40 "$staging/build.log" >&2; log "compiling better-sqlite3 failed (log: $staging/build.log)"; exit 1; }
  mkdir -p "$(dirname "$addon")"
  mv "$staging/src/build/Release/better_sqlite3.node" "$addon.partial"
  mv "$addon.partial" "$addon"
  rm -rf "$staging"
fi

# --- a copy of the workspace ------------------------------------------------------------------------
tree=$(mktemp -d "${TMPDIR:-/tmp}/mcp-fabric-on-node-$version-XXXXXX")
trap 'rm -rf "$tree"' EXIT
log "copying the workspace to $tree"
# Tracked files and new ones git does not ignore, as they are on disk (the node_modules link excluded).
(cd "$root" && git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' file; do [ -e "$file" ] && [ "$file" != node_modules ] && printf '%s\0' "$file"; done |
  tar --null -T - -cf -) | tar -xf - -C "$tree"
# A real copy, not hard links: nothing the run writes can reach the workspace's node_modules.
cp -a "$modules" "$tree/node_modules"
rm -rf "$tree/node_modules/better-sqlite3/build"
mkdir -p "$tree/node_modules/better-sqlite3/build/Release"
cp "$addon" "$tree/node_modules/better-sqlite3/build/Release/better_sqlite3.node"

# --- build and test with that Node ------------------------------------------------------------------
node_bin=$(dirname "$node")
export PATH="$node_bin:$PATH" NX_DAEMON=false NX_NO_CLOUD=true
cd "$tree"
"$node" -e "new (require('better-sqlite3'))(':memory:').close()" ||
  { log "better-sqlite3 does not load on $node_version"; exit 1; }
log "building the apps on $node_version"
"$node" node_modules/.bin/nx run-many -t build --output-style=static > build.log 2>&1 ||
  { cat build.log >&2; exit 1; }
log "jest ${jest_args[*]} on $node_version"
"$node" node_modules/.bin/jest "${jest_args[@]}"
