#!/usr/bin/env bash
# The README's main command: node in a box. Installs the Debian packages, builds what the demo
# runs (the `demo` target: the six binaries, the kubelet stand-in and the libcni driver, not the
# tests; scripts/test.sh builds everything), then runs the whole ena-dpdk stack on this machine
# and shows it working:
#   node prep (real hugepage reservation, hugetlbfs mounts in a sandbox root), a "VPC" network
#   namespace behind a veth pair (the dataplane's net_af_packet uplink, ena-dpdk-ipam's static
#   pool), ena-dpdk-dataplane and ena-dpdk-deviceplugin registered with a kubelet stand-in, two
#   pods as runc containers in pod cgroups with the kubelet's hugetlb limits (device-plugin
#   Allocate, CNI ADD through libcni with the attachment's device ID, testpmd on virtio_user;
#   pod-a as a non-root user), ping from the VPC to both pods, pod-to-pod streaming, a summary,
#   and a clean teardown (also on Ctrl-C, SIGTERM, SIGHUP or a failed step), checked for leftovers.
# The node in a box itself is Python (tests/e2e/demo.py over tests/e2e/nib.py and the test
# sandbox, tests/support/sandbox.py); this script installs, builds and hands over to it.
# Run as root on Debian 12. Idempotent: a run interrupted by kill -9 is cleaned up by the next.
# Usage: scripts/demo.sh [BUILD_DIR]   (default: build)
# Exit status: 0 when every step worked, 1 when one failed (its reason and log tail are printed)
# or teardown left something, 130 on Ctrl-C, SIGTERM or SIGHUP.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export CCACHE_DIR=${CCACHE_DIR:-/var/cache/ena-dpdk-ccache}
# Paths under the checkout are hashed relative to it, and the working directory is not hashed,
# so that another clone of the repository (CI clones afresh) hits the same cache entries (debug
# info then names the directory of the clone that filled the cache).
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-true}
build_dir=${1:-build}

if [ "$(id -u)" -ne 0 ]; then
  echo "demo: run as root (it reserves hugepages, mounts hugetlbfs, creates network namespaces)" >&2
  exit 1
fi
scripts/deps.sh || exit 1
echo "== build (the demo target)"
scripts/build.sh --target demo "$build_dir" || exit 1

# Debian's Python (python3 is a dependency); no bytecode written to the source tree.
exec /usr/bin/python3 -B tests/e2e/demo.py "$build_dir"
