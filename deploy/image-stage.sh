#!/bin/sh
# The build stage of deploy/Dockerfile: compiles the six binaries and stages what the runtime stage
# copies. Usage: image-stage.sh SRC_DIR GIT_REV HOST_CNI_BIN_DIR OUT_DIR
#
# Fails when deploy/runtime-packages.txt (the runtime stage's packages) does not list exactly the
# packages these binaries need (deploy/runtime-packages.sh). OUT_DIR gets:
#   bin/                    the six binaries (stripped) and dpdk-testpmd
#   host-cni/               ena-dpdk-cni and ena-dpdk-ipam patched to run on the node itself
#                           (deploy/make-cni-bundle.sh)
set -eu

src=${1:?usage: image-stage.sh SRC_DIR GIT_REV HOST_CNI_BIN_DIR OUT_DIR}
rev=${2:?GIT_REV}
host_bin=${3:?HOST_CNI_BIN_DIR}
out=${4:?OUT_DIR}

binaries="vhostuser/ena-dpdk-dataplane vhostuser/ena-dpdk-ctl cni/ena-dpdk-cni ipam/ena-dpdk-ipam
deviceplugin/ena-dpdk-deviceplugin nodeprep/ena-dpdk-nodeprep"

# --- compile (same build type and paths as scripts/build.sh, so host ccache entries are hits)
build="$src/build"
# Hash paths relative to the sources, so that a host build of the same tree in any clone hits.
export CCACHE_BASEDIR="$src" CCACHE_NOHASHDIR=true
cmake -G Ninja -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DENA_DPDK_BUILD_TESTS=OFF -DENA_DPDK_GIT_REV="$rev" >/dev/null
targets=""
for b in $binaries; do targets="$targets ${b##*/}"; done
# ccache_counts: "<hits> <misses>" so far (the cache may be shared: report this build's share).
ccache_counts() {
  ccache --print-stats 2>/dev/null | awk -F'\t' '
    $1 == "direct_cache_hit" || $1 == "preprocessed_cache_hit" { hit += $2 }
    $1 == "cache_miss" { miss += $2 } END { print hit + 0, miss + 0 }'
}
before=$(ccache_counts)
# shellcheck disable=SC2086 # one word per target
nice ninja -C "$build" $targets
after=$(ccache_counts)
echo "$before $after" | awk '{ printf "image-stage: ccache: %d hits, %d misses\n", $3 - $1, $4 - $2 }'

mkdir -p "$out/bin" "$out/host-cni"
for b in $binaries; do
  cp "$build/$b" "$out/bin/"
  strip --strip-unneeded "$out/bin/${b##*/}"
done
cp /usr/bin/dpdk-testpmd "$out/bin/"

# --- the runtime image's package list must cover exactly what these binaries link
# shellcheck disable=SC2046 # one word per binary
sh "$src/deploy/runtime-packages.sh" --check "$src/deploy/runtime-packages.txt" $(find "$out/bin" -type f)

# --- the host CNI bundle
sh "$src/deploy/make-cni-bundle.sh" "$out/bin" "$host_bin" "$out/host-cni"
