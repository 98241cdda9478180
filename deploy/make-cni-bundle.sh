#!/bin/sh
# Stages ena-dpdk-cni and ena-dpdk-ipam to run on a node whose libraries are not the build's: the
# CNI runtime runs the plugins on the host (Amazon Linux), not in the image. Copies of the two
# binaries get an ELF interpreter and an RPATH inside HOST_CNI_BIN_DIR/ena-dpdk/<bundle-id>/lib,
# where ena-dpdk-install-cni (deploy/install-cni.sh) copies the libraries they link or dlopen
# (deploy/elf-libs.sh), the C library and its loader included. The RPATH (not RUNPATH) also
# applies to what they dlopen and to those libraries' own dependencies.
#
# Usage: make-cni-bundle.sh BIN_DIR HOST_CNI_BIN_DIR OUT_DIR
#   BIN_DIR           holds ena-dpdk-cni and ena-dpdk-ipam
#   HOST_CNI_BIN_DIR  the nodes' CNI binary directory (/opt/cni/bin)
#   OUT_DIR           gets the patched binaries, "libs" (one library path a line, as found here)
#                     and "bundle-id" (16 hex digits of the binaries' and the list's SHA-256)
set -eu

bin=${1:?usage: make-cni-bundle.sh BIN_DIR HOST_CNI_BIN_DIR OUT_DIR}
host_bin=${2:?HOST_CNI_BIN_DIR}
out=${3:?OUT_DIR}
command -v patchelf >/dev/null || { echo "make-cni-bundle.sh: patchelf is missing" >&2; exit 1; }

mkdir -p "$out"
# Every library they link, and those they dlopen (libcurl for the IPAM) with theirs.
sh "$(dirname "$0")/elf-libs.sh" "$bin/ena-dpdk-cni" "$bin/ena-dpdk-ipam" >"$out/libs.all"
sort -u "$out/libs.all" >"$out/libs"
rm "$out/libs.all"
id=$(cat "$bin/ena-dpdk-cni" "$bin/ena-dpdk-ipam" "$out/libs" | sha256sum | cut -c1-16)
echo "$id" >"$out/bundle-id"
interp=$(patchelf --print-interpreter "$bin/ena-dpdk-cni")
lib="$host_bin/ena-dpdk/$id/lib"
for b in ena-dpdk-cni ena-dpdk-ipam; do
  cp "$bin/$b" "$out/$b"
  patchelf --set-interpreter "$lib/${interp##*/}" --force-rpath --set-rpath "$lib" "$out/$b"
done
echo "make-cni-bundle.sh: bundle $id ($(wc -l <"$out/libs") libraries) for $host_bin"
