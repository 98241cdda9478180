#!/usr/bin/env bash
# Dataplane benchmark (issue 4): one switch lcore, the same generator for every switch.
#
# Generators, one forwarding lcore (lcore 0), on virtio_user ports:
#   flowgen   testpmd flowgen: fixed MACs (00:01:02:03:04:00 -> :01) and IPs on every port, so
#             every bridge floods each frame to the other port of its pair (the same work for
#             OVS's NORMAL action and for ena-dpdk's l2 mode).
#   bench-gen tests/bench/bench_gen.cc: per-port addresses, to the other port of its pair: for a
#             vpc network the ENI MAC and the port's own IP; for l2 the port's own MAC, so the
#             switch learns and forwards unicast (no flooding).
# Switch under test, one forwarding lcore (lcore 1):
#   ceiling  testpmd "mac" forwarding between net_vhost ports
#   ovs      Open vSwitch 3.1 with DPDK, netdev bridge per pair, NORMAL action, dpdkvhostuser ports
#   ena-dpdk ena-dpdk-dataplane: ports in pairs on l2 networks, or all on one vpc network (uplink
#            net_null, never receiving) switching pod to pod
# Prints a table of aggregate Mpps (what the generator received back) and the ratios the issue
# targets, plus the dataplane's hugepage memory with 64 connected ports.
# This script launches the processes; tests/bench/benchlib.py (unit tests: test_benchlib.py)
# parses their raw output, keeps the best of N runs, computes the ratios, checks the targets and
# prints the tables, from the results file this script writes ($tmp/results).
# The generator is one lcore too, so the Mpps can measure the generator rather than the switch.
# The script therefore also reads, from each switch, the TSC cycles its forwarding lcore spent
# per packet received (testpmd --record-core-cycles; OVS pmd-stats-show processing cycles /
# packets received; ena-dpdk worker busy cycles / packets received between two snapshots: in
# all three only polling passes that received something count) and prints capacity = TSC Hz /
# cycles per packet, the rate the switch lcore sustains at that cost, and the ena-dpdk worker's
# busy share (near 100 %: the switch is the bottleneck, capacity and Mpps agree).
#
# Usage: dataplane_bench.sh [--quick] [--rt] [--repeat N] BUILD_DIR [SECONDS]
# (root; reserves 2M hugepages as needed)
#   --quick  only the 2-port 64B rows (no OVS, no 1500B, no 8/32 ports, no memory)
#   --repeat N  run every measurement N times and keep the best (default 1)
#   --rt     once running, move the switch's and the generator's polling threads to SCHED_FIFO,
#            so that other load on the machine distorts the comparison less (the kernel's RT
#            throttling still leaves 5% of each core to everything else)
set -u
quick="" rt="" repeat=1
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --rt) rt=1 ;;
    --repeat) repeat=${2:?--repeat needs a count}; shift ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
  shift
done
build=${1:?usage: $0 [--quick] [--rt] [--repeat N] BUILD_DIR [SECONDS]}
secs=${2:-10}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench_common.sh
. "$here/bench_common.sh"
ENI_MAC=02:00:00:00:00:aa
pod_ip() { echo "10.1.$(($1 / 200)).$(($1 % 200 + 1))"; }
pod_mac() { printf '02:00:00:00:01:%02x' "$1"; }

# generator GEN PORTS FRAME-SIZE LABEL SOCKET-PATTERN [l2|vpc]: runs GEN (flowgen or bench-gen)
# for $secs s on PORTS virtio_user ports connecting to the switch's sockets (printf pattern with
# the port number), prints the aggregate received Mpps.
generator() {
  if [ "$1" = bench-gen ]; then
    shift
    bench_gen "$@"
    return
  fi
  shift
  local n=$1 size=$2 label=$3 pattern=$4 vdevs=() i path
  for ((i = 0; i < n; i++)); do
    # shellcheck disable=SC2059
    path=$(printf "$pattern" "$i")
    wait_for 30 test -S "$path" || { echo "FATAL: switch socket $path missing" >&2; exit 1; }
    vdevs+=(--vdev "net_virtio_user$i,path=$path,queue_size=1024")
  done
  timeout -s INT $((secs + 15)) dpdk-testpmd -l 0,1 --main-lcore 1 --file-prefix "benchgen$$" --no-pci \
    --single-file-segments -m 1024 --huge-dir "$huge" "${vdevs[@]}" -- --forward-mode=flowgen \
    --nb-cores=1 --txpkts="$size" --stats-period 1 --total-num-mbufs=32768 >"$tmp/gen-$label.log" 2>&1 &
  local gen=$!
  sleep 2
  realtime $gen
  sleep $((secs + 1))  # connect, warm up, then measure the last $secs s
  kill -INT $gen
  wait $gen 2>/dev/null
  # Sum of Rx-pps over ports, averaged over the last (secs - 2) samples of each port.
  benchlib testpmd-rx-mpps "$tmp/gen-$label.log" "$n" $((secs - 2))
}

# bench_gen PORTS FRAME-SIZE LABEL SOCKET-PATTERN [l2]: like generator, with per-port addresses:
# port i sends from (ENI MAC, pod_ip i) to (ENI MAC, pod_ip of its pair partner); with l2, from
# and to the ports' own MACs (pod_mac).
bench_gen() {
  local n=$1 size=$2 label=$3 pattern=$4 mode=${5:-vpc} vdevs=() flows=() i path smac dmac
  for ((i = 0; i < n; i++)); do
    # shellcheck disable=SC2059
    path=$(printf "$pattern" "$i")
    wait_for 30 test -S "$path" || { echo "FATAL: switch socket $path missing" >&2; exit 1; }
    smac=$ENI_MAC dmac=$ENI_MAC
    [ "$mode" = l2 ] && smac=$(pod_mac "$i") dmac=$(pod_mac $((i ^ 1)))
    vdevs+=(--vdev "net_virtio_user$i,path=$path,queue_size=1024,mac=$smac")
    flows+=(--flow "$smac,$dmac,$(pod_ip "$i"),$(pod_ip $((i ^ 1)))")
  done
  "$BENCH_GEN" -l 0 --file-prefix "benchgen$$" --no-pci --single-file-segments -m 1024 \
    --huge-dir "$huge" "${vdevs[@]}" -- --size "$size" --warmup 3 --seconds "$secs" "${flows[@]}" \
    >"$tmp/gen-$label.log" 2>&1 &
  local gen=$!
  sleep 2
  realtime $gen
  wait $gen
  sed -n 's/^rx_mpps=\([0-9.]*\).*/\1/p' "$tmp/gen-$label.log" | grep . || echo 0
}

# --- (a) the ceiling: testpmd mac forwarding between net_vhost ports --------------------------
ceiling() {  # ceiling PORTS SIZE [GEN]
  local n=$1 size=$2 gen=${3:-flowgen} vdevs=() i
  rm -f "$tmp"/vhost/*
  for ((i = 0; i < n; i++)); do vdevs+=(--vdev "net_vhost$i,iface=$tmp/vhost/p$i.sock"); done
  dpdk-testpmd -l 0,1 --main-lcore 0 --file-prefix "benchsw$$" --no-pci -m 512 --huge-dir "$huge" \
    "${vdevs[@]}" -- --forward-mode=mac --nb-cores=1 --stats-period 5 --record-core-cycles \
    >"$tmp/ceiling.log" 2>&1 &
  local sw=$! mpps cpp mhz
  sw_pid=$sw
  mpps=$(generator "$gen" "$n" "$size" "ceiling-$gen-$n-$size" "$tmp/vhost/p%d.sock" l2)
  kill $sw
  wait $sw 2>/dev/null
  # testpmd prints, when it stops: "CPU cycles/packet=191.48 (...) at 2690 MHz Clock"
  read -r cpp mhz <<<"$(benchlib testpmd-cycles "$tmp/ceiling.log")"
  [ -s "$tmp/tsc_mhz" ] || ! [[ $mhz =~ ^[0-9]+$ ]] || echo "$mhz" >"$tmp/tsc_mhz"
  echo "$mpps $cpp"
}

# --- (b) Open vSwitch with DPDK ------------------------------------------------------------
ovs() {  # ovs PORTS SIZE [GEN]
  local n=$1 size=$2 gen=${3:-flowgen} i mpps cpp
  start_ovs
  for ((i = 0; i < n; i += 2)); do
    vsctl add-br "br$i" -- set bridge "br$i" datapath_type=netdev
    vsctl add-port "br$i" "p$i" -- set Interface "p$i" type=dpdkvhostuser
    vsctl add-port "br$i" "p$((i + 1))" -- set Interface "p$((i + 1))" type=dpdkvhostuser
  done
  mpps=$(generator "$gen" "$n" "$size" "ovs-$gen-$n-$size" "$tmp/ovs/p%d" l2)
  cpp=$(ovs_cycles)
  stop_ovs
  echo "$mpps ${cpp:--}"
}

# --- (c) ena-dpdk-dataplane ----------------------------------------------------------------
enadpdk() {  # enadpdk PORTS SIZE l2|vpc [GEN]  (GEN: flowgen for l2, bench-gen for vpc)
  local n=$1 size=$2 mode=$3 gen=${4:-} i nets="" net ip
  if [ "$mode" = l2 ]; then
    for ((i = 0; i < n; i += 2)); do nets="$nets${nets:+,}{\"name\": \"pair$i\", \"mode\": \"l2\"}"; done
  else
    nets="{\"name\": \"vpc\", \"mode\": \"vpc\", \"mac\": \"$ENI_MAC\", \"uplink\": {\"device\": \"net_null_bench$$,no-rx=1\"}}"
  fi
  start_dataplane benchdp "$nets"
  for ((i = 0; i < n; i++)); do
    net=vpc ip=()
    [ "$mode" = l2 ] && net="pair$((i / 2 * 2))"
    [ "$mode" = vpc ] && ip=(--ip "$(pod_ip "$i")/16")
    "$CTL" --socket "$tmp/dp.sock" port add --id "p$i" --network "$net" "${ip[@]}" \
      --socket-path "$tmp/vhost/p$i.sock" --vhost-mode client >/dev/null
  done
  [ -z "$gen" ] && gen=flowgen && [ "$mode" = vpc ] && gen=bench-gen
  # Two snapshots of the switch's counters while the generator runs steadily (from 4 s to
  # SECONDS + 1 s after it starts: both generators send from about 1 s to SECONDS + 2 s).
  local label="$mode-$gen-$n-$size" g
  generator "$gen" "$n" "$size" "enadpdk-$label" "$tmp/vhost/p%d.sock" "$mode" >"$tmp/mpps-$label" &
  g=$!
  sleep 4
  "$CTL" --socket "$tmp/dp.sock" -o json stats >"$tmp/stats0-$label.json"
  sleep $((secs > 4 ? secs - 3 : 1))
  "$CTL" --socket "$tmp/dp.sock" -o json stats >"$tmp/stats1-$label.json"
  wait $g
  "$CTL" --socket "$tmp/dp.sock" -o json ports >"$tmp/ports-$label.json"
  stop_dataplane
  # "MPPS CYCLES-PER-PACKET BUSY% TX-FULL%" between the snapshots: busy cycles per packet
  # received, busy share of the worker's cycles, frames dropped because a pod's RX ring was full
  # per frame sent to pods.
  echo "$(cat "$tmp/mpps-$label") $(benchlib dataplane-stats "$tmp/stats0-$label.json" "$tmp/stats1-$label.json" ||
    echo - - -)"
}

# Hugepage memory of the dataplane with 64 ports, all connected (two testpmd processes of 32
# virtio_user ports each, idle): the size of its files in the hugetlbfs mount. Prints
# "MiB ports connected".
enadpdk_memory() {
  local i j vdevs mem_pids=() ports=0
  start_dataplane benchmem '{"name": "mem", "mode": "l2"}'
  for ((i = 0; i < 64; i++)); do
    "$CTL" --socket "$tmp/dp.sock" port add --id "m$i" --network mem \
      --socket-path "$tmp/vhost/m$i.sock" --vhost-mode client >/dev/null 2>&1 || break
    ports=$((ports + 1))
  done
  for ((j = 0; j < 2; j++)); do
    vdevs=()
    for ((i = j * 32; i < j * 32 + 32 && i < ports; i++)); do
      vdevs+=(--vdev "net_virtio_user$i,path=$tmp/vhost/m$i.sock,queue_size=1024")
    done
    dpdk-testpmd -l 0,1 --main-lcore 1 --file-prefix "benchmemgen$j$$" --no-pci --single-file-segments \
      -m 512 --huge-dir "$huge" "${vdevs[@]}" -- --forward-mode=rxonly --nb-cores=1 --stats-period 1 \
      --total-num-mbufs=16384 >"$tmp/memgen$j.log" 2>&1 &
    mem_pids+=($!)
    pids+=($!)
  done
  # shellcheck disable=SC2317  # called through wait_for
  connected() { [ "$("$CTL" --socket "$tmp/dp.sock" -o json ports | jq '[.ports[] | select(.connected)] | length')" = "$ports" ]; }
  wait_for 60 connected
  local up
  up=$("$CTL" --socket "$tmp/dp.sock" -o json ports | jq '[.ports[] | select(.connected)] | length')
  du -cb "$huge"/benchmem$$map_* 2>/dev/null | awk -v p="$ports" -v c="$up" 'END { printf "%.0f %d %d", $1 / 1048576, p, c }'
  kill "${mem_pids[@]}" 2>/dev/null
  wait "${mem_pids[@]}" 2>/dev/null
  stop_dataplane
}

echo "dataplane benchmark: ${secs}s per run, best of $repeat, generator lcore 0, switch lcore 1, $(nproc) cores," \
  "load $(cut -d' ' -f1-3 /proc/loadavg)${rt:+, SCHED_FIFO polling threads}"
# Measurements: key (switch,ports,size) -> command printing "MPPS CYCLES-PER-PACKET [BUSY%
# TX-FULL%]". With --repeat N every measurement runs N times, in N interleaved rounds (so slow
# phases of a noisy machine hit every switch alike); each run is one line of the results file,
# and benchlib.py keeps the best of each (most Mpps, fewest cycles per packet). The switch keys,
# the table rows and the targets are benchlib.py's.
declare -A CMD
keys=()
measure() { keys+=("$1"); CMD[$1]=$2; }
for size in 64 1500; do
  [ -n "$quick" ] && [ "$size" != 64 ] && continue
  measure "ceiling,2,$size" "ceiling 2 $size"
  [ -n "$quick" ] || measure "ovs,2,$size" "ovs 2 $size"
  measure "l2,2,$size" "enadpdk 2 $size l2"
  measure "ceilgen,2,$size" "ceiling 2 $size bench-gen"
  [ -n "$quick" ] || measure "ovsgen,2,$size" "ovs 2 $size bench-gen"
  measure "l2gen,2,$size" "enadpdk 2 $size l2 bench-gen"
  measure "vpc,2,$size" "enadpdk 2 $size vpc"
done
if [ -z "$quick" ]; then
  for n in 8 32; do
    measure "ceiling,$n,64" "ceiling $n 64"
    measure "l2,$n,64" "enadpdk $n 64 l2"
    measure "ceilgen,$n,64" "ceiling $n 64 bench-gen"
    measure "l2gen,$n,64" "enadpdk $n 64 l2 bench-gen"
    measure "vpc,$n,64" "enadpdk $n 64 vpc"
  done
  measure "ovs,32,64" "ovs 32 64"
  measure "ovsgen,32,64" "ovs 32 64 bench-gen"
fi
results=$tmp/results
: >"$results"
for ((round = 0; round < repeat; round++)); do
  echo "# round $((round + 1))" >>"$results"
  for k in "${keys[@]}"; do
    # shellcheck disable=SC2086
    read -r mpps cpp busy full _ <<<"$(${CMD[$k]})"
    echo "run $k ${mpps:--} ${cpp:--} ${busy:--} ${full:--}" >>"$results"
  done
done
if [ -z "$quick" ]; then
  read -r mem memports memconn <<<"$(enadpdk_memory)"
  echo "memory ${mem:--} ${memports:-0} ${memconn:-0}" >>"$results"
fi
[ -s "$tmp/tsc_mhz" ] && echo "tsc_mhz $(cat "$tmp/tsc_mhz")" >>"$results"
# The tables, the ratios and the targets; a results file that does not parse is an error.
benchlib dataplane-report "$results" || { echo "FATAL: results ($results):" >&2; cat "$results" >&2; exit 1; }
