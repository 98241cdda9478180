#!/bin/sh
# Prints the Debian packages the runtime image needs for the given ELF files: the packages that
# ship every library they link or dlopen (elf-libs.sh), plus the DPDK PMDs the dataplane probes (EAL loads
# those as plugins, so nothing links them). One package per line, sorted.
#
# Usage: runtime-packages.sh [--check LIST] ELF...
#   --check LIST  compare with LIST (deploy/runtime-packages.txt) instead of printing, and fail
#                 naming the packages missing from it and those it lists that nothing needs.
set -eu

# net_ena: the uplinks; net_vhost: pod ports; net_virtio: virtio_user in testpmd; af_packet, tap,
# null, ring: vdev uplinks for tests and diagnostics; the PCI and vdev buses; the ring mempool.
pmd_packages="librte-net-ena23 librte-net-vhost23 librte-net-virtio23 librte-net-af-packet23
librte-net-tap23 librte-net-null23 librte-net-ring23 librte-bus-pci23 librte-bus-vdev23
librte-mempool-ring23"

check=""
if [ "${1:-}" = "--check" ]; then
  check=${2:?--check needs a file}
  shift 2
fi
[ $# -gt 0 ] || { echo "usage: runtime-packages.sh [--check LIST] ELF..." >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sh "$(dirname "$0")/elf-libs.sh" "$@" >"$tmp/all-libs"
sort -u "$tmp/all-libs" >"$tmp/libs"
# The package of each library, with one dpkg-query for all (it is slow per call). With merged
# /usr a library may be known to dpkg under /lib or /usr/lib: ask for every spelling.
while read -r lib; do
  real=$(readlink -f "$lib")
  printf '%s\n' "$lib" "$real" "/usr$lib" "${lib#/usr}" "/usr$real" "${real#/usr}"
done <"$tmp/libs" | sort -u >"$tmp/spellings"
# shellcheck disable=SC2046 # one word per path
dpkg-query -S $(cat "$tmp/spellings") 2>/dev/null | sed -n 's/^\([^:,]*\)[^ ]*: \(.*\)$/\2 \1/p' |
  sort -u >"$tmp/owners"
{
  while read -r lib; do
    real=$(readlink -f "$lib")
    pkg=$(awk -v a="$lib" -v b="$real" -v c="/usr$lib" -v d="${lib#/usr}" -v e="/usr$real" \
      -v f="${real#/usr}" '$1 == a || $1 == b || $1 == c || $1 == d || $1 == e || $1 == f { print $2; exit }' \
      "$tmp/owners")
    [ -n "$pkg" ] || { echo "runtime-packages.sh: no package ships $lib" >&2; exit 1; }
    echo "$pkg"
  done <"$tmp/libs"
  for p in $pmd_packages; do echo "$p"; done
} >"$tmp/unsorted"
sort -u "$tmp/unsorted" >"$tmp/needed"

if [ -z "$check" ]; then
  cat <<'EOF'
# Debian packages of the runtime image (deploy/Dockerfile): the libraries the six binaries and
# dpdk-testpmd link, plus the DPDK PMDs. Checked against the binaries by deploy/runtime-packages.sh
# (at image build time and by the deploy_runtime_packages test). Regenerate after a build with:
#   deploy/runtime-packages.sh build/{vhostuser,cni,deviceplugin,nodeprep}/ena-dpdk-* /usr/bin/dpdk-testpmd >deploy/runtime-packages.txt
EOF
  cat "$tmp/needed"
  exit 0
fi
grep -v '^[[:space:]]*\(#\|$\)' "$check" | sort -u >"$tmp/listed"
missing=$(comm -23 "$tmp/needed" "$tmp/listed" | tr '\n' ' ')
extra=$(comm -13 "$tmp/needed" "$tmp/listed" | tr '\n' ' ')
if [ -n "$missing$extra" ]; then
  echo "runtime-packages.sh: $check is out of date:${missing:+ missing: $missing}${extra:+ not needed: $extra}" >&2
  echo "  (regenerate: deploy/runtime-packages.sh BINARIES... > $check)" >&2
  exit 1
fi
echo "runtime-packages.sh: $check lists exactly the $(wc -l <"$tmp/needed") needed packages"
