#!/usr/bin/env bash
# Where the switch lcore's cycles go per packet, north-south, 64-byte frames (issue 19, part 3):
# rte_vhost (librte_vhost and the net_vhost PMD: copies, rings, mbuf allocation in dequeue)
# against ena-dpdk's own work (decision, lookups, batching, counters, freeing mbufs).
#
# Setup: ena-dpdk-dataplane, one worker on lcore 1, a `vpc` network whose uplink is net_vhost
# and N pods (10.1.0.1.. /16). One testpmd (forwarding lcore 0) on virtio_user ports: port 0 is
# the VPC (on the uplink's socket), ports 1..N the pods (with the ENI's MAC). 5tswap with loop
# topology sends every frame back out of the port it came in on, addresses swapped; the VPC
# port's first bursts (`start tx_first K`) go from $VPC_IP to the first pod, so each frame then
# bounces VPC -> switch -> pod -> switch -> VPC forever: a closed loop of K x 32 frames that
# keeps the switch busy, every frame through IP demux one way and anti-spoofing the other. The
# loop reaches one pod (one flow); the other pods are polled but idle. The pods' own first
# bursts carry $VPC_IP as source and are dropped once as spoofed.
#
# Then `perf record` (cpu-clock) on the dataplane's worker thread, `perf report --sort dso,sym`,
# and tests/bench/perf_split.py classifies the samples (its docstring holds the rules) and prints
# the table; cycles per packet come from two ctl stats snapshots (benchlib.py dataplane-stats).
#
# Usage: cycle_split.sh [--pods N] [--bursts K] [--keep DIR] BUILD_DIR [SECONDS]
# (root; reserves 2M hugepages as needed; run it under /tmp/ena-dpdk-heavy.lock)
#   --pods N    pods on the network (default 1)
#   --bursts K  tx_first bursts of 32 frames in the loop (default 8)
#   --keep DIR  copy perf.data, the report and the stats snapshots there (for perf annotate)
set -u
pods=1 bursts=8 keep=""
while [ $# -gt 0 ]; do
  case $1 in
    --pods) pods=${2:?--pods needs a count}; shift ;;
    --bursts) bursts=${2:?--bursts needs a count}; shift ;;
    --keep) keep=${2:?--keep needs a directory}; shift ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
  shift
done
build=${1:?usage: $0 [--pods N] [--bursts K] [--keep DIR] BUILD_DIR [SECONDS]}
secs=${2:-5}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../support/dpdk_env.sh
. "$here/../support/dpdk_env.sh"
require dpdk-testpmd perf jq python3
DP=$build/vhostuser/ena-dpdk-dataplane
CTL=$build/vhostuser/ena-dpdk-ctl
for bin in "$DP" "$CTL"; do
  [ -x "$bin" ] || { echo "FATAL: $bin missing (ninja -C $build)" >&2; exit 1; }
done
ENI_MAC=02:00:00:00:00:aa
VPC_IP=10.2.0.1
pod_ip() { echo "10.1.0.$1"; }

tmp=$(mktemp -d /tmp/ena-dpdk-split.XXXXXX)
huge=$tmp/huge
dp="" gen=""
cleanup() {
  [ -n "$gen" ] && kill "$gen" 2>/dev/null
  exec 3>&-
  [ -n "$dp" ] && kill "$dp" 2>/dev/null
  wait 2>/dev/null
  umount "$huge" 2>/dev/null || umount -l "$huge" 2>/dev/null
  rm -rf "$tmp" /var/run/dpdk/split*$$
}
trap cleanup EXIT
ensure_hugepages 1024 || exit 1
mkdir -p "$huge" "$tmp/vhost"
mount -t hugetlbfs -o pagesize=2M nodev "$huge" || exit 1
ctl() { "$CTL" --socket "$tmp/dp.sock" "$@"; }

# The dataplane (as dataplane_bench.sh's start_dataplane), uplink on net_vhost.
cat >"$tmp/dp.json" <<JSON
{"dataplane": {"eal": ["-l", "0,1", "--main-lcore", "0", "--file-prefix", "splitdp$$", "--no-pci",
  "--huge-dir", "$huge"], "workers": [1], "controlSocket": "$tmp/dp.sock",
  "stateFile": "$tmp/state.json", "metricsAddress": "127.0.0.1:0", "allowedSocketDirs": ["$tmp/vhost"],
  "networks": [{"name": "vpc", "mode": "vpc", "mac": "$ENI_MAC",
    "uplink": {"device": "net_vhost_up,iface=$tmp/vhost/up.sock"}}]}}
JSON
"$DP" --config "$tmp/dp.json" --log-level warn >"$tmp/dp.log" 2>&1 &
dp=$!
wait_for 20 ctl health >/dev/null || { echo "FATAL: dataplane down" >&2; cat "$tmp/dp.log" >&2; exit 1; }
vdevs=(--vdev "net_virtio_user0,path=$tmp/vhost/up.sock,queue_size=1024")
for ((i = 1; i <= pods; i++)); do
  ctl port add --id "p$i" --network vpc --ip "$(pod_ip "$i")/16" --socket-path "$tmp/vhost/p$i.sock" \
    --vhost-mode client >/dev/null || { echo "FATAL: port add p$i" >&2; exit 1; }
  wait_for 30 test -S "$tmp/vhost/p$i.sock" || { echo "FATAL: socket of p$i missing" >&2; exit 1; }
  vdevs+=(--vdev "net_virtio_user$i,path=$tmp/vhost/p$i.sock,queue_size=1024,mac=$ENI_MAC")
done

# The generator: interactive so that `start tx_first K` puts K bursts in the loop (--tx-first
# sends one); its stdin, a FIFO this script holds open, keeps it running.
echo "start tx_first $bursts" >"$tmp/cmds"
mkfifo "$tmp/gen.in"
dpdk-testpmd -l 0,1 --main-lcore 1 --file-prefix "splitgen$$" --no-pci \
  --single-file-segments -m 1024 --huge-dir "$huge" "${vdevs[@]}" -- -i --cmdline-file="$tmp/cmds" \
  --forward-mode=5tswap --port-topology=loop --nb-cores=1 --eth-peer="0,$ENI_MAC" \
  --tx-ip="$VPC_IP,$(pod_ip 1)" --total-num-mbufs=32768 <"$tmp/gen.in" >"$tmp/gen.log" 2>&1 &
gen=$!
exec 3>"$tmp/gen.in"
tid=""
# shellcheck disable=SC2317  # called through wait_for
worker_tid() { tid=$(ps -T -o spid=,comm= -p "$dp" | awk '$2 == "rte-worker-1" { print $1 }'); [ -n "$tid" ]; }
wait_for 10 worker_tid || { echo "FATAL: no rte-worker-1 thread in the dataplane" >&2; exit 1; }
sleep 4  # connect and warm up
ctl -o json stats >"$tmp/stats0.json"
perf record -q -e cpu-clock -t "$tid" -o "$tmp/perf.data" -- sleep "$secs" 2>"$tmp/perf.log" ||
  { echo "FATAL: perf record failed" >&2; cat "$tmp/perf.log" >&2; exit 1; }
ctl -o json stats >"$tmp/stats1.json"
perf report -i "$tmp/perf.data" --no-children --sort dso,sym --stdio 2>/dev/null >"$tmp/report.txt"
[ -n "$keep" ] && mkdir -p "$keep" && cp "$tmp"/{perf.data,report.txt,stats0.json,stats1.json,gen.log} "$keep/"

echo "cycle split: north-south 64B, $pods pod(s), $((bursts * 32)) frames in the loop, ${secs}s of" \
  "perf, load $(cut -d' ' -f1-3 /proc/loadavg)"
read -r cpp busy _ <<<"$(python3 "$here/benchlib.py" dataplane-stats "$tmp/stats0.json" "$tmp/stats1.json")"
python3 "$here/perf_split.py" --cycles-per-packet "$cpp" --busy "$busy" \
  --stats "$tmp/stats0.json" "$tmp/stats1.json" "$tmp/report.txt"
