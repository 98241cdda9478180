#!/usr/bin/env bash
# The container image: scripts/build-image.sh builds it (buildah, vfs, a debootstrapped base when
# no registry answers) and checks every binary's --version inside it; then, inside the image: the
# default user is not root, there is no compiler and no header, every binary and PMD resolves its
# libraries, dpdk-testpmd forwards between two null ports, and ena-dpdk-install-cni puts plugins
# on a "host" directory where they run without any library of their own host.
# Usage: image_test.sh   (root; the image cache is ENA_DPDK_IMAGE_CACHE, default /var/cache/ena-dpdk-image)
# shellcheck disable=SC2016 # single quotes: commands run inside the image
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd -P)
[ "$(id -u)" -eq 0 ] || { echo "FATAL: needs root (buildah with vfs storage)"; exit 1; }
cache=${ENA_DPDK_IMAGE_CACHE:-/var/cache/ena-dpdk-image}
export BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot}
version=$(sed -n 's/^project(ena-dpdk VERSION \([0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")
tag=localhost/ena-dpdk:$version
tmp=$(mktemp -d)
ctr=""
bh() { buildah --storage-driver vfs --root "$cache/storage" --runroot /run/ena-dpdk-image "$@"; }
cleanup() {
  [ -z "$ctr" ] || bh rm "$ctr" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
# shellcheck source-path=SCRIPTDIR source=check.sh
source "$repo/tests/deploy/check.sh"

started=$(date +%s)
if ! "$repo/scripts/build-image.sh" --tag "$tag"; then
  echo "FAIL: scripts/build-image.sh"
  echo "0 passed, 1 failed"
  exit 1
fi
passed=$((passed + 1))
echo "ok: scripts/build-image.sh built $tag and every binary answered --version ($(($(date +%s) - started)) s)"

ctr=$(bh from --pull=never "$tag")
root=$(bh mount "$ctr")
# in_image [--user UID:GID] COMMAND...: COMMAND in a chroot of the image with /dev, /proc and
# /sys, in a private mount namespace (buildah run now and then loses short-lived output).
in_image() {
  local user=0:0
  if [ "$1" = --user ]; then user=$2; shift 2; fi
  unshare --mount --propagation private bash -c '
    root=$1 user=$2; shift 2
    mount --rbind /dev "$root/dev" && mount -t proc proc "$root/proc" && mount --rbind /sys "$root/sys" &&
      exec chroot --userspec="$user" "$root" /usr/bin/env PATH=/usr/local/bin:/usr/bin:/bin "$@"' _ "$root" "$user" "$@"
}
check "the image runs as a non-root user by default" \
  bash -c "[ \"\$(buildah --storage-driver vfs --root '$cache/storage' --runroot /run/ena-dpdk-image inspect --format '{{.OCIv1.Config.User}}' '$tag')\" = 65532:65532 ]"
check "the binaries run as that user" in_image --user 65532:65532 ena-dpdk-ctl --version
check "no compiler, no headers, no package lists in the image" \
  in_image sh -c '! command -v g++ && ! command -v gcc && ! command -v cmake && [ -z "$(ls /usr/include 2>/dev/null | head -n 1)" ] && [ -z "$(ls /var/lib/apt/lists 2>/dev/null | grep -v -e ^partial -e ^lock)" ]'
check "every binary and DPDK PMD resolves its libraries" \
  in_image sh -c 'for f in /usr/local/bin/ena-dpdk-dataplane /usr/local/bin/ena-dpdk-ctl /usr/local/bin/ena-dpdk-cni /usr/local/bin/ena-dpdk-ipam /usr/local/bin/ena-dpdk-deviceplugin /usr/local/bin/ena-dpdk-nodeprep /usr/local/bin/dpdk-testpmd /usr/lib/x86_64-linux-gnu/dpdk/pmds-*/*.so; do ldd "$f" | grep "not found" && exit 1; done; ls /usr/lib/x86_64-linux-gnu/dpdk/pmds-*/ | grep -q librte_net_ena.so'
check "dpdk-testpmd forwards between two null ports" \
  in_image sh -c 'printf "start\nshow port stats all\nstop\nquit\n" | dpdk-testpmd --no-huge -m 256 --no-pci --file-prefix image-test --vdev net_null0 --vdev net_null1 -l 0,1 -- -i --total-num-mbufs 2048 2>&1 | grep -E "RX-total: [1-9]"'

# The CNI bundle out of the image, onto a "host" with no library of its own.
mkdir -p "$tmp/host/opt/cni/bin" "$tmp/host/etc/ena-dpdk" "$tmp/config"
echo '{}' >"$tmp/config/config.json"
check "ena-dpdk-install-cni installs the plugins on the host" \
  unshare --mount --propagation private bash -c '
    root=$1 tmp=$2
    mkdir -p "$root/host/opt/cni/bin" "$root/host/etc/ena-dpdk" "$root/etc/ena-dpdk" &&
      mount --bind "$tmp/host/opt/cni/bin" "$root/host/opt/cni/bin" &&
      mount --bind "$tmp/host/etc/ena-dpdk" "$root/host/etc/ena-dpdk" &&
      mount --bind "$tmp/config" "$root/etc/ena-dpdk" &&
      chroot "$root" /usr/local/bin/ena-dpdk-install-cni /host/opt/cni/bin /etc/ena-dpdk/config.json /host/etc/ena-dpdk' _ "$root" "$tmp"
check "the installed ena-dpdk-cni runs on a host without any library" \
  bash -c "chroot '$tmp/host' /opt/cni/bin/ena-dpdk-cni --version | grep -q '^ena-dpdk-cni $version '"
check "the installed ena-dpdk-ipam answers CNI VERSION there" \
  bash -c "echo '{\"cniVersion\": \"1.0.0\"}' | CNI_COMMAND=VERSION chroot '$tmp/host' /opt/cni/bin/ena-dpdk-ipam | grep -q supportedVersions"
check "the config file is on the host" test -s "$tmp/host/etc/ena-dpdk/config.json"
bh umount "$ctr" >/dev/null
echo "image: $(bh images --format '{{.Name}}:{{.Tag}} {{.Size}}' "$tag")"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
