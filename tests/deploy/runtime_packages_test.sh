#!/usr/bin/env bash
# deploy/runtime-packages.txt (the runtime image's Debian packages) lists exactly the packages the
# six binaries of this build and dpdk-testpmd need, plus the DPDK PMDs: the image build fails the
# same way, this finds it without building an image. Also proves the check fails on a wrong list.
# Usage: runtime_packages_test.sh BUILD_DIR
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd -P)
build=${1:?usage: runtime_packages_test.sh BUILD_DIR}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bins=("$build/vhostuser/ena-dpdk-dataplane" "$build/vhostuser/ena-dpdk-ctl" "$build/cni/ena-dpdk-cni"
  "$build/ipam/ena-dpdk-ipam" "$build/deviceplugin/ena-dpdk-deviceplugin"
  "$build/nodeprep/ena-dpdk-nodeprep" /usr/bin/dpdk-testpmd)
for b in "${bins[@]}"; do [ -x "$b" ] || { echo "FATAL: $b is missing"; exit 1; }; done
passed=0
failed=0
result() {  # result DESCRIPTION STATUS
  if [ "$2" -eq 0 ]; then passed=$((passed + 1)); echo "ok: $1"; else failed=$((failed + 1)); echo "FAIL: $1"; cat "$tmp/out"; fi
}

sh "$repo/deploy/runtime-packages.sh" --check "$repo/deploy/runtime-packages.txt" "${bins[@]}" >"$tmp/out" 2>&1
result "deploy/runtime-packages.txt is exact for this build" $?

grep -v '^libstdc++6$' "$repo/deploy/runtime-packages.txt" >"$tmp/missing.txt"
echo "not-a-needed-package" >>"$tmp/missing.txt"
! sh "$repo/deploy/runtime-packages.sh" --check "$tmp/missing.txt" "${bins[@]}" >"$tmp/out" 2>&1 &&
  grep -q "missing: libstdc++6 " "$tmp/out" && grep -q "not needed: not-a-needed-package" "$tmp/out"
result "a list missing a package or holding an extra one fails, naming both" $?

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
