#!/usr/bin/env bash
# CNI benchmark (issue 5): latency of one ADD+DEL cycle through libcni (cni-driver), for
#   ena-dpdk   ena-dpdk-cni in vhostuser mode + ena-dpdk-ipam (static pool), against a running
#              ena-dpdk-dataplane (one l2 network, no uplink; the pod never connects)
#   reference  the reference bridge plugin + host-local IPAM (a veth into a network namespace)
# measured in the same run, alternating, with the same driver. Prints median and p99 of each and
# their ratio (target: ena-dpdk <= 1.0 x reference), then the peak RSS of the ena-dpdk-cni
# process during ADD and DEL (target <= 16 MiB), measured in separate cycles through a shim
# that runs the plugin under GNU time.
#
# Usage: cni_bench.sh BUILD_DIR [CYCLES]   (root; reserves 2M hugepages as needed)
set -u
build=$(cd "${1:?usage: $0 BUILD_DIR [CYCLES]}" && pwd)
cycles=${2:-200}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../support/dpdk_env.sh
. "$here/../support/dpdk_env.sh"
require ip jq python3 /usr/bin/time

DP=$build/vhostuser/ena-dpdk-dataplane
CTLBIN=$build/vhostuser/ena-dpdk-ctl
CNI=$build/cni/ena-dpdk-cni
IPAM=$build/ipam/ena-dpdk-ipam
DRIVER=$build/tests/cni/cni-driver
for f in "$DP" "$CTLBIN" "$CNI" "$IPAM" "$DRIVER" /usr/lib/cni/bridge /usr/lib/cni/host-local; do
  [ -x "$f" ] || { echo "FATAL: $f is missing" >&2; exit 1; }
done

tmp=$(mktemp -d /tmp/ena-dpdk-cnib.XXXXXX)
# The node's CNI path policy for this run's paths (docs/cni.md).
printf '{"dataplaneSocket": ["%s"], "slotDir": ["%s"], "stateDir": ["%s"], "ipam.stateDir": ["%s"]}\n' \
  "$tmp/dp.sock" "$tmp/vhost" "$tmp/cnistate" "$tmp/ipam" >"$tmp/cni-policy.json"
chmod 0644 "$tmp/cni-policy.json"
export ENA_DPDK_CNI_POLICY=$tmp/cni-policy.json
pod=enadpdk-bpod-$$
huge=$tmp/huge
cleanup() {
  [ -n "${dp_pid:-}" ] && kill "$dp_pid" 2>/dev/null
  wait 2>/dev/null
  ip netns del "$pod" 2>/dev/null
  ip link del "cnib$$" 2>/dev/null
  umount "$huge" 2>/dev/null || umount -l "$huge" 2>/dev/null
  rm -rf "$tmp" "/var/run/dpdk/cnib$$"
}
trap cleanup EXIT

ensure_hugepages 256 || exit 1
mkdir -p "$huge" "$tmp/vhost" "$tmp/bin" "$tmp/rss"
mount -t hugetlbfs -o pagesize=2M nodev "$huge" || exit 1
ip netns add "$pod"
cat >"$tmp/config.json" <<JSON
{"dataplane": {
  "eal": ["-l", "0,1", "--main-lcore", "0", "--file-prefix", "cnib$$", "--no-pci", "-m", "128",
          "--huge-dir", "$huge"],
  "workers": [1], "controlSocket": "$tmp/dp.sock", "stateFile": "$tmp/state/dp.json",
  "metricsAddress": "127.0.0.1:0", "allowedSocketDirs": ["$tmp/vhost"], "mbufs": 2048,
  "networks": [{"name": "local", "mode": "l2"}]}}
JSON
"$DP" --config "$tmp/config.json" >"$tmp/dp.log" 2>&1 &
dp_pid=$!
wait_for 20 "$CTLBIN" --socket "$tmp/dp.sock" health >/dev/null || { echo "FATAL: no dataplane" >&2; exit 1; }

for p in bridge host-local; do ln -s "/usr/lib/cni/$p" "$tmp/bin/$p"; done
ln -s "$IPAM" "$tmp/bin/ena-dpdk-ipam"
ln -s "$CNI" "$tmp/bin/ena-dpdk-cni"
# The same plugin under GNU time, appending "<command> <max RSS KiB>" per run.
mkdir "$tmp/rssbin"
for p in bridge host-local ena-dpdk-ipam; do ln -s "$tmp/bin/$p" "$tmp/rssbin/$p"; done
cat >"$tmp/rssbin/ena-dpdk-cni" <<SH
#!/bin/sh
exec /usr/bin/time -a -o "$tmp/rss/cni" -f "\$CNI_COMMAND %M" "$CNI" "\$@"
SH
chmod +x "$tmp/rssbin/ena-dpdk-cni"

cat >"$tmp/ena.conflist" <<JSON
{"cniVersion": "1.0.0", "name": "bench-ena", "plugins": [{"type": "ena-dpdk-cni",
  "network": "local", "dataplaneSocket": "$tmp/dp.sock", "slotDir": "$tmp/vhost",
  "stateDir": "$tmp/cnistate",
  "ipam": {"type": "ena-dpdk-ipam", "stateDir": "$tmp/ipam", "addresses": ["10.77.0.10/24"]}}]}
JSON
cat >"$tmp/ref.conflist" <<JSON
{"cniVersion": "1.0.0", "name": "bench-ref", "plugins": [{"type": "bridge", "bridge": "cnib$$",
  "ipam": {"type": "host-local", "dataDir": "$tmp/hostlocal",
           "ranges": [[{"subnet": "10.78.0.0/24"}]]}}]}
JSON

# cycle LIST BIN-DIR: one ADD+DEL; prints its wall time in microseconds.
cycle() {
  local start end
  start=$(date +%s%N)
  "$DRIVER" add --conflist "$1" --container-id bench --netns "/var/run/netns/$pod" --ifname net1 \
    --cni-path "$2" --cache-dir "$tmp/cache" >/dev/null || { echo "FATAL: ADD failed ($1)" >&2; exit 1; }
  "$DRIVER" del --conflist "$1" --container-id bench --netns "/var/run/netns/$pod" --ifname net1 \
    --cni-path "$2" --cache-dir "$tmp/cache" >/dev/null || { echo "FATAL: DEL failed ($1)" >&2; exit 1; }
  end=$(date +%s%N)
  echo $(((end - start) / 1000))
}

# Warm-up (page cache, first bridge creation), then alternate the two so both see the same load.
for _ in 1 2 3; do cycle "$tmp/ena.conflist" "$tmp/bin" >/dev/null; cycle "$tmp/ref.conflist" "$tmp/bin" >/dev/null; done
: >"$tmp/ena.us"
: >"$tmp/ref.us"
for _ in $(seq "$cycles"); do
  cycle "$tmp/ena.conflist" "$tmp/bin" >>"$tmp/ena.us"
  cycle "$tmp/ref.conflist" "$tmp/bin" >>"$tmp/ref.us"
done
for _ in $(seq 20); do cycle "$tmp/ena.conflist" "$tmp/rssbin" >/dev/null; done

# Median, p99, ratio, peak RSS and the targets: tests/bench/benchlib.py.
python3 "$here/benchlib.py" cni-report "$tmp/ena.us" "$tmp/ref.us" "$tmp/rss/cni" "$cycles"
