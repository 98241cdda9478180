#!/usr/bin/env bash
# The host CNI bundle (deploy/make-cni-bundle.sh) and its installer (deploy/install-cni.sh, the
# install-cni init container): the installed plugins run in a chroot holding nothing but
# /opt/cni/bin (no C library, no loader: a node's own libraries are not Debian's), a second run
# changes nothing, a new build replaces the bundle and removes the old one, the config file lands
# on the host, and --uninstall removes exactly what it installed (other plugins' files stay) and
# gives an empty host back unchanged. Needs root (chroot) and patchelf.
# Usage: install_cni_test.sh BUILD_DIR
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd -P)
build=${1:?usage: install_cni_test.sh BUILD_DIR}
[ "$(id -u)" -eq 0 ] || { echo "FATAL: needs root (chroot)"; exit 1; }
command -v patchelf >/dev/null || { echo "FATAL: patchelf is missing (scripts/deps.sh)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source-path=SCRIPTDIR source=check.sh
source "$repo/tests/deploy/check.sh"
root=$tmp/root
install_cni() {  # install_cni BUNDLE: the installer with the host mounts as the chart makes them
  ENA_DPDK_HOST_CNI_DIR=$1 sh "$repo/deploy/install-cni.sh" "$root/opt/cni/bin" "$tmp/config.json" "$root/etc/ena-dpdk"
}
version=$(sed -n 's/^project(ena-dpdk VERSION \([0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")

mkdir -p "$tmp/bin1" "$tmp/bin2" "$root/opt/cni/bin"
cp "$build/cni/ena-dpdk-cni" "$build/ipam/ena-dpdk-ipam" "$tmp/bin1/"
echo '{"ipam": {}}' >"$tmp/config.json"
# The node path policy the chart's ConfigMap carries next to config.json.
echo '{"ipam.stateDir": ["/var/lib/ena-dpdk"]}' >"$tmp/cni-policy.json"
check "make-cni-bundle.sh stages the bundle" sh "$repo/deploy/make-cni-bundle.sh" "$tmp/bin1" /opt/cni/bin "$tmp/bundle1"
id1=$(cat "$tmp/bundle1/bundle-id")
check "the plugins' interpreter and RPATH are in the bundle" bash -c "
  [ \"\$(patchelf --print-interpreter '$tmp/bundle1/ena-dpdk-cni')\" = /opt/cni/bin/ena-dpdk/$id1/lib/ld-linux-x86-64.so.2 ] &&
  [ \"\$(patchelf --print-rpath '$tmp/bundle1/ena-dpdk-ipam')\" = /opt/cni/bin/ena-dpdk/$id1/lib ]"
check "install-cni installs into an empty host" install_cni "$tmp/bundle1"
check "ena-dpdk-cni --version runs on a host without any library" \
  bash -c "chroot '$root' /opt/cni/bin/ena-dpdk-cni --version | grep -q '^ena-dpdk-cni $version '"
check "ena-dpdk-ipam answers CNI VERSION there" \
  bash -c "echo '{\"cniVersion\": \"1.0.0\"}' | CNI_COMMAND=VERSION chroot '$root' /opt/cni/bin/ena-dpdk-ipam | grep -q supportedVersions"
check "the plugins are 0755, the config file 0644 and identical" bash -c "
  [ \"\$(stat -c %a '$root/opt/cni/bin/ena-dpdk-cni' '$root/opt/cni/bin/ena-dpdk-ipam' '$root/etc/ena-dpdk/config.json' | tr '\n' ' ')\" = '755 755 644 ' ] &&
  cmp '$tmp/config.json' '$root/etc/ena-dpdk/config.json'"
check "the node path policy is installed beside it, root's, 0644, identical" bash -c "
  [ \"\$(stat -c '%a %U' '$root/etc/ena-dpdk/cni-policy.json')\" = '644 root' ] &&
  cmp '$tmp/cni-policy.json' '$root/etc/ena-dpdk/cni-policy.json'"
find "$root" -printf '%p %s %T@\n' | sort >"$tmp/tree1"
check "a second run changes nothing" bash -c "$(declare -f install_cni); root='$root' tmp='$tmp' repo='$repo';
  install_cni '$tmp/bundle1' | grep -c 'up to date' | grep -qx 4 && find '$root' -printf '%p %s %T@\n' | sort | cmp - '$tmp/tree1'"

# A new build: other binaries, so another bundle.
cp "$tmp/bin1"/* "$tmp/bin2/"
printf 'x' >>"$tmp/bin2/ena-dpdk-cni"
echo '{"ipam": {"stateDir": "/var/lib/x"}}' >"$tmp/config.json"
sh "$repo/deploy/make-cni-bundle.sh" "$tmp/bin2" /opt/cni/bin "$tmp/bundle2" >/dev/null
id2=$(cat "$tmp/bundle2/bundle-id")
check "an upgrade installs the new bundle and removes the old one" bash -c "$(declare -f install_cni); root='$root' tmp='$tmp' repo='$repo';
  install_cni '$tmp/bundle2' && [ \"\$(ls -A '$root/opt/cni/bin/ena-dpdk')\" = '$id2' ] && [ '$id1' != '$id2' ]"
check "the upgraded plugins run" bash -c "chroot '$root' /opt/cni/bin/ena-dpdk-cni --version | grep -q '^ena-dpdk-cni '"
check "the upgraded config file is in place" cmp "$tmp/config.json" "$root/etc/ena-dpdk/config.json"
# The IPAM dlopen()s libcurl when it first asks the metadata service (ipam/curl_api.h): the bundle
# must carry it and its libraries. A closed port then gives the "unreachable" error (code 111),
# not "cannot load libcurl.so.4".
# The state directory is one the node path policy's defaults allow (docs/cni.md).
mkdir -p "$root/var/lib/ena-dpdk/ipam"
imds_conf='{"cniVersion": "1.0.0", "name": "n", "type": "ena-dpdk-cni", "network": "eni1",
  "ipam": {"type": "ena-dpdk-ipam", "stateDir": "/var/lib/ena-dpdk/ipam", "deviceNumber": 1,
           "imds": {"endpoint": "http://127.0.0.1:1", "timeoutMs": 500}}}'
check "the bundled ena-dpdk-ipam loads libcurl there and asks the metadata service" bash -c "
  out=\$(echo '$imds_conf' | CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS=/x CNI_IFNAME=net1 \
    chroot '$root' /opt/cni/bin/ena-dpdk-ipam 2>/dev/null); echo \"\$out\";
  [ \"\$(echo \"\$out\" | jq -r .code)\" = 111 ] && echo \"\$out\" | grep -q unreachable"
rm -rf "$root/var/lib/ena-dpdk"
check "no temporary file is left" bash -c "! find '$root' -name '.*tmp*' | grep -q ."
mkdir -p "$tmp/nopolicy"
echo '{}' >"$tmp/nopolicy/config.json"
check "without a policy file beside the config file, install-cni installs the config and succeeds" bash -c "
  ENA_DPDK_HOST_CNI_DIR='$tmp/bundle2' sh '$repo/deploy/install-cni.sh' '$root/opt/cni/bin' '$tmp/nopolicy/config.json' '$tmp/nopolicy-host' >/dev/null &&
  cmp '$tmp/nopolicy/config.json' '$tmp/nopolicy-host/config.json' && [ ! -e '$tmp/nopolicy-host/cni-policy.json' ]"
check "a missing destination fails with one clear line" bash -c "
  ! ENA_DPDK_HOST_CNI_DIR='$tmp/bundle2' sh '$repo/deploy/install-cni.sh' '$tmp/nowhere' 2>'$tmp/err' && grep -q 'no such directory' '$tmp/err'"

# --uninstall: only what the manifests list. Another plugin's binary and another file in the config
# directory stay as they are.
printf 'bridge' >"$root/opt/cni/bin/bridge"
printf 'other' >"$root/etc/ena-dpdk/other.json"
uninstall() {  # uninstall DEST CONFIG_DIR
  sh "$repo/deploy/install-cni.sh" --uninstall "$1" "$2"
}
check "--uninstall removes the plugins, the bundle, the config files and the manifests" bash -c "
  $(declare -f uninstall); repo='$repo'; uninstall '$root/opt/cni/bin' '$root/etc/ena-dpdk' >/dev/null &&
  [ \"\$(ls -A '$root/opt/cni/bin')\" = bridge ] && [ \"\$(ls -A '$root/etc/ena-dpdk')\" = other.json ]"
check "other plugins' files are untouched" bash -c "
  [ \"\$(cat '$root/opt/cni/bin/bridge')\" = bridge ] && [ \"\$(cat '$root/etc/ena-dpdk/other.json')\" = other ]"
find "$root" -printf '%p %s %m %T@\n' | sort >"$tmp/tree-uninstalled"
check "a second --uninstall changes nothing and succeeds" bash -c "
  $(declare -f uninstall); repo='$repo'; uninstall '$root/opt/cni/bin' '$root/etc/ena-dpdk' | grep -q 'no binary to remove' &&
  find '$root' -printf '%p %s %m %T@\n' | sort | cmp - '$tmp/tree-uninstalled'"
# The round trip on a host without /etc/ena-dpdk: install, uninstall, the same tree.
fresh=$tmp/fresh
mkdir -p "$fresh/opt/cni/bin" "$fresh/etc"
printf 'loopback' >"$fresh/opt/cni/bin/loopback"
find "$fresh" -printf '%p %s %m\n' | sort >"$tmp/tree-fresh"
check "install then --uninstall gives the host back as it was (the config directory it made too)" bash -c "
  ENA_DPDK_HOST_CNI_DIR='$tmp/bundle2' sh '$repo/deploy/install-cni.sh' '$fresh/opt/cni/bin' '$tmp/config.json' '$fresh/etc/ena-dpdk' >/dev/null &&
  [ -f '$fresh/etc/ena-dpdk/config.json' ] && [ -x '$fresh/opt/cni/bin/ena-dpdk-cni' ] &&
  sh '$repo/deploy/install-cni.sh' --uninstall '$fresh/opt/cni/bin' '$fresh/etc/ena-dpdk' >/dev/null &&
  find '$fresh' -printf '%p %s %m\n' | sort | cmp - '$tmp/tree-fresh'"
check "--uninstall without a destination is a usage error" bash -c "
  sh '$repo/deploy/install-cni.sh' --uninstall 2>'$tmp/err'; [ \$? -eq 2 ] && grep -q usage '$tmp/err'"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
