#!/usr/bin/env bash
# The README's main command. Until the node-in-a-box demo lands (issue 9) it installs the
# dependencies, builds, and smoke-runs the binaries: --version of each, node prep's plan for
# docs/config.example.json (--dry-run), CNI VERSION. Run as root on Debian 12. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_DIR=${CCACHE_DIR:-/var/cache/ena-dpdk-ccache}

scripts/deps.sh
echo "== build"
scripts/build.sh build

echo "== binaries"
for bin in vhostuser/ena-dpdk-dataplane vhostuser/ena-dpdk-ctl cni/ena-dpdk-cni cni/ena-dpdk-ipam \
  deviceplugin/ena-dpdk-deviceplugin nodeprep/ena-dpdk-nodeprep; do
  printf '  %-24s %s\n' "$(basename "$bin")" "$("build/$bin" --version)"
done

echo "== node prep plan for docs/config.example.json (--dry-run: changes nothing)"
# Exit 0 ready, 3 reboot required, 1 when this host cannot satisfy the example (no eth1 here).
build/nodeprep/ena-dpdk-nodeprep --config docs/config.example.json --dry-run 2>&1 | sed 's/^/  /' || true
echo '{"cniVersion": "1.1.0"}' | CNI_COMMAND=VERSION build/cni/ena-dpdk-cni | sed 's/^/  ena-dpdk-cni VERSION: /'
echo "demo: done"
