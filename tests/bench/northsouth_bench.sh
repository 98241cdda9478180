#!/usr/bin/env bash
# North-south benchmark (issue 19): the VPC talking to pods through the uplink, at DPDK speed,
# throughput and round-trip latency, for ena-dpdk and its two peers in one run.
#
# One generator process, ena-dpdk-bench-gen (tests/bench/bench_gen.cc), on lcore 0 plays both
# ends, as testpmd would on a third core this machine does not have:
#   the VPC  a virtio_user port on the switch's uplink socket, sending UDP frames from the VPC
#            router (02:00:00:00:00:bb, 10.0.0.1) to the ENI's MAC and the pods' IPs, round robin,
#            each stamped with the TSC;
#   the pods virtio_user ports on the pods' sockets, answering every frame the way testpmd's
#            5tswap mode does (MACs, IPs and UDP ports swapped), so each answer leaves from the
#            pod's own address (the ENI MAC and the pod's IP).
# Every frame crosses the switch twice: IP demux on the way in, anti-spoofing on the way out. The
# generator records each frame's round trip (one host, one TSC) and prints p50/p99/p99.9.
# Pod to pod (path "pp"): pod 0 sends to pod 1, which answers the same way.
#
# Switches under test, one forwarding lcore (lcore 1):
#   ceiling  testpmd "mac" forwarding between net_vhost ports, no lookup: uplink port i <-> pod
#            port i (with N pods, N such pairs and N VPC ports on the generator: the same frames
#            through the same number of pod rings, in full bursts per pod). One DPDK process
#            holds at most 32 ports (RTE_MAX_ETHPORTS in Debian's DPDK), so the ceiling stops at
#            16 pairs. "ceilb": the same with testpmd --burst 32/N, the per-pod burst a switch
#            gets when it spreads the uplink's bursts of 32 over N pods;
#   ovs      Open vSwitch 3.1 with DPDK, one netdev bridge, dpdkvhostuser ports, OpenFlow rules
#            doing the same job as ena-dpdk (table 0: frames from the uplink to the ENI MAC, and
#            from pod i only with the ENI MAC and pod i's IP; table 1: nw_dst pod i -> pod i's
#            port, anything else -> the uplink; everything else dropped). No ARP: the generator
#            does not resolve.
#   enadpdk  ena-dpdk-dataplane, one vpc network whose uplink is a net_vhost vdev; with --drain,
#            also variants with dataplane.txDrainMicroseconds set (enadpdk-dUS).
# Measurements:
#   max    as fast as the generator sends: switched Mpps (frames the switch forwarded, both
#          directions: what came back to the VPC plus what the pods answered) and the switch
#          lcore's cycles per packet received (as in dataplane_bench.sh); 1, 8, 16 and 31 pods
#          at 64 B (31: the VPC port and 31 pods are the generator's 32 ports; the ceiling stops
#          at 16), 1 pod at 1500 B;
#   10/80  latency at the same offered rates for every switch: 10 % and 80 % of the slowest
#          switch's max round-trip rate (1 pod, 64 B) measured just before in the same round,
#          VPC <-> 1 pod ("ns") and pod <-> pod ("pp"). At 10 % every switch runs twice in a
#          round, in mirrored order (ceiling, ena-dpdk, OVS, then "again-" OVS, ena-dpdk,
#          ceiling), and its figure is the mean of the two: p99 at low load here is set by the
#          VM's stalls of both cores (about 1200 a second of 15 to 22 us each, by oslat), which
#          drift within minutes; the report shows the gap between a switch's two runs as the
#          resolution.
#          Do not use --rt for these: the kernel's RT throttling stops the polling threads 50 ms
#          every second, which lands in every p99.9.
# The script launches the processes and writes a results file; tests/bench/benchlib.py
# (northsouth-report; unit tests in test_benchlib.py) combines the rounds (see --repeat),
# computes the ratios, checks the issue's targets and prints the tables.
#
# With --perf, two more ena-dpdk runs (1 and 8 pods, 64 B, max rate) record the worker thread
# with `perf record -e cpu-clock` between the two counter snapshots, and tests/bench/perf_split.py
# splits its cycles per packet into rte_vhost's work and the switch's own (as cycle_split.sh does
# for its closed loop of one flow; here the VPC sends round robin to the pods, so consecutive
# frames rarely share a decision). Those runs are not part of the tables above them. A profiled
# run whose worker is below 95 % busy (the generator set the rate) is run again, up to 3 times.
#
# Usage: northsouth_bench.sh [--quick] [--rt] [--perf|--perf-only] [--repeat N] [--drain "US ..."]
#                            BUILD_DIR [SECONDS]
# (NS_BENCH_RESULTS=FILE keeps a copy of the raw results file.)
# (root; reserves 2M hugepages as needed)
#   --quick      1 pod and pod to pod at 64 B only (no 8/16/31 pods, no 1500 B, no drain
#                variants)
#   --repeat N   every measurement N times, in N interleaved rounds (default 1): of the max runs
#                the best is kept; of the latency runs the round with the median p99, and the
#                latency targets take the median over rounds of the same-round difference or ratio
#   --drain LIST ena-dpdk variants with these TX drain intervals in µs (default "10 100")
#   --rt         SCHED_FIFO for the polling threads (see dataplane_bench.sh)
#   --perf       the cycle split of ena-dpdk's worker at 1 and 8 pods (needs perf); with
#                --repeat N, N profiled runs of each, interleaved, and their median shares
#   --perf-only  the cycle splits alone (implies --perf; no tables, no targets)
set -u
quick="" rt="" perf="" perf_only="" repeat=1 drains="10 100"
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --rt) rt=1 ;;
    --perf) perf=1 ;;
    --perf-only) perf=1 perf_only=1 ;;
    --repeat) repeat=${2:?--repeat needs a count}; shift ;;
    --drain) drains=${2?--drain needs a list}; shift ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
  shift
done
build=${1:?usage: $0 [--quick] [--rt] [--perf|--perf-only] [--repeat N] [--drain \"US ...\"] BUILD_DIR [SECONDS]}
secs=${2:-8}
[[ $repeat =~ ^[1-9][0-9]*$ ]] || { echo "--repeat: a positive count" >&2; exit 2; }
[[ $secs =~ ^[1-9][0-9]*$ ]] || { echo "SECONDS: a positive count" >&2; exit 2; }
for d in $drains; do [[ $d =~ ^[0-9]+$ ]] || { echo "--drain: microseconds, got $d" >&2; exit 2; }; done
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench_common.sh
. "$here/bench_common.sh"
[ -z "$perf" ] || require perf
ENI_MAC=02:00:00:00:00:aa
VPC_MAC=02:00:00:00:00:bb
VPC_IP=10.0.0.1
pod_ip() { echo "10.1.$(($1 / 200)).$(($1 % 200 + 1))"; }
# All pod IPs 0..N-1, comma-separated (the VPC port's destinations).
pod_ips() {
  local i out=""
  for ((i = 0; i < $1; i++)); do out="$out${out:+,}$(pod_ip "$i")"; done
  echo "$out"
}

# The generator's ports: vdev arguments and roles, in port order (filled by gen_* below).
GEN_VDEVS=()
GEN_ROLES=()
gen_flow() {  # gen_flow SOCKET SMAC SIP DIPS: a sending port
  GEN_VDEVS+=(--vdev "net_virtio_user${#GEN_VDEVS[@]},path=$1,queue_size=1024,mac=$2")
  GEN_ROLES+=(--flow "$2,$ENI_MAC,$3,$4")
}
gen_reflect() {  # gen_reflect SOCKET: a port answering like testpmd 5tswap
  GEN_VDEVS+=(--vdev "net_virtio_user${#GEN_VDEVS[@]},path=$1,queue_size=1024,mac=$ENI_MAC")
  GEN_ROLES+=(--reflect)
}
# gen_ports PATH N SOCKET-OF-UPLINK-I SOCKET-OF-POD-I: the ports for PATH (ns: a VPC port on
# each uplink socket the switch has, sending to the pods behind it, then a reflecting port per
# pod; pp: pod 0 sending to pod 1, pod 1 reflecting). The socket arguments are printf patterns
# with the index; an uplink pattern without %d means one uplink for all pods.
gen_ports() {
  local path=$1 n=$2 up=$3 pod=$4 i
  GEN_VDEVS=() GEN_ROLES=()
  if [ "$path" = pp ]; then
    # shellcheck disable=SC2059
    gen_flow "$(printf "$pod" 0)" "$ENI_MAC" "$(pod_ip 0)" "$(pod_ip 1)"
    # shellcheck disable=SC2059
    gen_reflect "$(printf "$pod" 1)"
    return
  fi
  if [[ $up == *%d* ]]; then
    for ((i = 0; i < n; i++)); do
      # shellcheck disable=SC2059
      gen_flow "$(printf "$up" "$i")" "$VPC_MAC" "$VPC_IP" "$(pod_ip "$i")"
    done
  else
    gen_flow "$up" "$VPC_MAC" "$VPC_IP" "$(pod_ips "$n")"
  fi
  for ((i = 0; i < n; i++)); do
    # shellcheck disable=SC2059
    gen_reflect "$(printf "$pod" "$i")"
  done
}

# gen LABEL SIZE RATE: runs the generator on the ports gen_ports set up, waiting for the switch's
# sockets first; RATE in Mpps of round trips ("max": as fast as it can). Prints benchlib's
# "SWITCHED-MPPS RX-MPPS P50 P99 P999 SAMPLES" of the run.
gen() {
  local label=$1 size=$2 rate=$3 v sock rate_args=()
  for v in "${GEN_VDEVS[@]}"; do
    [[ $v == net_virtio_user* ]] || continue
    sock=${v#*path=}
    sock=${sock%%,*}
    wait_for 30 test -S "$sock" || { echo "FATAL: switch socket $sock missing" >&2; exit 1; }
  done
  [ "$rate" = max ] || rate_args=(--rate-mpps "$rate")
  "$BENCH_GEN" -l 0 --file-prefix "benchgen$$" --no-pci --single-file-segments -m 1024 \
    --huge-dir "$huge" "${GEN_VDEVS[@]}" -- --size "$size" --warmup 3 --seconds "$secs" \
    "${rate_args[@]}" "${GEN_ROLES[@]}" >"$tmp/gen-$label.log" 2>&1 &
  local g=$!
  sleep 2
  realtime $g
  wait $g || { echo "generator failed ($label):" >&2; tail -3 "$tmp/gen-$label.log" >&2; }
  benchlib gen-result "$tmp/gen-$label.log"
}

# Each switch function: SWITCH-FUNCTION PATH PODS SIZE RATE -> "SWITCHED RX P50 P99 P999 SAMPLES
# CYCLES-PER-PACKET" (cycles only measured at max rate; "-" otherwise).

# ceiling PATH PODS SIZE RATE [BURST]: BURST, testpmd's --burst (default 32).
ceiling() {
  local path=$1 n=$2 size=$3 rate=$4 burst=${5:-32} vdevs=() i label="ceiling-$1-$2-$3-$4-${5:-32}" out cpp
  rm -f "$tmp"/vhost/*
  if [ "$path" = pp ]; then
    vdevs=(--vdev "net_vhost0,iface=$tmp/vhost/p0.sock" --vdev "net_vhost1,iface=$tmp/vhost/p1.sock")
  else
    for ((i = 0; i < n; i++)); do
      vdevs+=(--vdev "net_vhost$((2 * i)),iface=$tmp/vhost/up$i.sock"
        --vdev "net_vhost$((2 * i + 1)),iface=$tmp/vhost/p$i.sock")
    done
  fi
  dpdk-testpmd -l 0,1 --main-lcore 0 --file-prefix "benchsw$$" --no-pci -m 512 --huge-dir "$huge" \
    "${vdevs[@]}" -- --forward-mode=mac --nb-cores=1 --stats-period 5 --record-core-cycles --burst="$burst" \
    >"$tmp/$label.log" 2>&1 &
  sw_pid=$!
  gen_ports "$path" "$n" "$tmp/vhost/up%d.sock" "$tmp/vhost/p%d.sock"
  out=$(gen "$label" "$size" "$rate")
  kill "$sw_pid"
  wait "$sw_pid" 2>/dev/null
  read -r cpp mhz <<<"$(benchlib testpmd-cycles "$tmp/$label.log")"
  [ -s "$tmp/tsc_mhz" ] || ! [[ $mhz =~ ^[0-9]+$ ]] || echo "$mhz" >"$tmp/tsc_mhz"
  [ "$rate" = max ] || cpp=-
  echo "$out $cpp"
}

ovs() {
  local path=$1 n=$2 size=$3 rate=$4 i pods=$2 label="ovs-$1-$2-$3-$4" out cpp=- flows
  [ "$path" = pp ] && pods=2
  start_ovs
  vsctl add-br br0 -- set bridge br0 datapath_type=netdev \
    -- add-port br0 up -- set Interface up type=dpdkvhostuser ofport_request=1
  flows=$tmp/ovs/flows
  {
    echo "table=0,priority=100,in_port=1,dl_dst=$ENI_MAC,ip,actions=resubmit(,1)"
    echo "table=0,priority=0,actions=drop"
    echo "table=1,priority=0,actions=output:1"
  } >"$flows"
  for ((i = 0; i < pods; i++)); do
    vsctl add-port br0 "p$i" -- set Interface "p$i" type=dpdkvhostuser "ofport_request=$((i + 2))"
    echo "table=0,priority=100,in_port=$((i + 2)),dl_src=$ENI_MAC,ip,nw_src=$(pod_ip "$i"),actions=resubmit(,1)" >>"$flows"
    echo "table=1,priority=100,ip,nw_dst=$(pod_ip "$i"),actions=output:$((i + 2))" >>"$flows"
  done
  { ovs-ofctl del-flows br0 && ovs-ofctl add-flows br0 "$flows"; } || {
    echo "FATAL: OpenFlow rules not installed" >&2; exit 1; }
  gen_ports "$path" "$n" "$tmp/ovs/up" "$tmp/ovs/p%d"
  ovs-appctl -t "$(echo "$tmp/ovs/ovs-vswitchd"*".$sw_pid.ctl")" dpif-netdev/pmd-stats-clear >/dev/null
  out=$(gen "$label" "$size" "$rate")
  [ "$rate" = max ] && cpp=$(ovs_cycles)
  stop_ovs
  echo "$out ${cpp:--}"
}

# profile LABEL SECONDS: perf-records the dataplane's worker thread for SECONDS (in split's runs;
# otherwise just waits).
profiling=
profile() {
  local tid
  if [ -z "$profiling" ]; then
    sleep "$2"
    return
  fi
  tid=$(ps -T -o spid=,comm= -p "$dp" | awk '$2 == "rte-worker-1" { print $1 }')
  [ -n "$tid" ] || { echo "FATAL: no rte-worker-1 thread in the dataplane" >&2; exit 1; }
  perf record -q -e cpu-clock -t "$tid" -o "$tmp/perf-$1.data" -- sleep "$2" 2>"$tmp/perf-$1.log" ||
    { echo "FATAL: perf record failed" >&2; cat "$tmp/perf-$1.log" >&2; exit 1; }
}

# enadpdk PATH PODS SIZE RATE [DRAIN-US]
enadpdk() {
  local path=$1 n=$2 size=$3 rate=$4 drain=${5:-} i pods=$2 extra="" out cpp=- g
  local label="enadpdk${5:+-d$5}-$1-$2-$3-$4"
  [ "$path" = pp ] && pods=2
  [ -n "$drain" ] && extra="\"txDrainMicroseconds\": $drain"
  start_dataplane benchdp "{\"name\": \"vpc\", \"mode\": \"vpc\", \"mac\": \"$ENI_MAC\",
    \"uplink\": {\"device\": \"net_vhost_up$$,iface=$tmp/vhost/up.sock\"}}" "$extra"
  for ((i = 0; i < pods; i++)); do
    "$CTL" --socket "$tmp/dp.sock" port add --id "p$i" --network vpc --ip "$(pod_ip "$i")/16" \
      --socket-path "$tmp/vhost/p$i.sock" --vhost-mode client >/dev/null ||
      { echo "FATAL: port add p$i" >&2; exit 1; }
  done
  gen_ports "$path" "$n" "$tmp/vhost/up.sock" "$tmp/vhost/p%d.sock"
  # At max rate, two snapshots of the switch's counters while the generator runs steadily (from
  # 5 s to SECONDS + 2 s after it starts: it sends from about 1 s and measures from 3 s).
  gen "$label" "$size" "$rate" >"$tmp/out-$label" &
  g=$!
  if [ "$rate" = max ]; then
    sleep 5
    "$CTL" --socket "$tmp/dp.sock" -o json stats >"$tmp/stats0-$label.json"
    profile "$label" $((secs > 4 ? secs - 3 : 1))
    "$CTL" --socket "$tmp/dp.sock" -o json stats >"$tmp/stats1-$label.json"
  fi
  wait $g
  out=$(cat "$tmp/out-$label")
  local busy=-
  if [ "$rate" = max ]; then
    read -r cpp busy _ <<<"$(benchlib dataplane-stats "$tmp/stats0-$label.json" "$tmp/stats1-$label.json")"
  fi
  stop_dataplane
  echo "$out ${cpp:--} ${busy:--}"
}

enadpdk_drain() {  # enadpdk_drain DRAIN-US PATH PODS SIZE RATE
  local d=$1
  shift
  enadpdk "$@" "$d"
}

echo "north-south benchmark: ${secs}s per run, $repeat round(s), generator lcore 0, switch lcore 1," \
  "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)${rt:+, SCHED_FIFO polling threads}"
results=$tmp/results
: >"$results"
# record KEY COMMAND...: runs one measurement, appends "run KEY <its output>" to the results.
record() {
  local key=$1 line
  shift
  line=$("$@")
  echo "run $key $line" >>"$results"
  echo "  $key: $line" >&2
}
# rx KEY: the round-trip Mpps of the last run of KEY ("" when it failed).
rx() { awk -v k="$1" '$1 == "run" && $2 == k { r = $4 } END { if (r + 0 > 0) print r }' "$results"; }
# rate BASE LOAD: LOAD % of BASE Mpps.
rate() { awk -v r="$1" -v l="$2" 'BEGIN { printf "%.3f", r * l / 100 }'; }
# loaded KEY PATH BASE LOADS COMMAND...: the latency runs of KEY at each of LOADS (% of BASE
# Mpps).
loaded() {
  local key=$1 path=$2 base=$3 loads=$4 load
  shift 4
  for load in $loads; do
    if [ -z "$base" ]; then
      echo "run $key,$path,1,64,$load - - - - - - -" >>"$results"
      continue
    fi
    record "$key,$path,1,64,$load" "$@" "$path" 1 64 "$(rate "$base" "$load")"
  done
}
ns_base=
for ((round = 0; round < repeat; round++)); do
  [ -n "$perf_only" ] && break
  echo "# round $((round + 1))" >>"$results"
  # Latency at the same offered rates for every switch: 10 % and 80 % of the slowest switch's
  # max round-trip rate, measured just before in this round (so no switch is overloaded).
  for path in ns pp; do
    base=
    for sw in ceiling ovs enadpdk; do
      record "$sw,$path,1,64,max" "$sw" "$path" 1 64 max
      r=$(rx "$sw,$path,1,64,max")
      if [ -n "$r" ] && { [ -z "$base" ] || awk -v a="$r" -v b="$base" 'BEGIN { exit !(a < b) }'; }; then
        base=$r
      fi
    done
    [ "$path" = ns ] && ns_base=$base
    # At 10 %, every switch twice in mirrored order (A B C C B A): a switch's figure is the
    # mean of its two runs, so the platform's drift within the round moves every switch alike,
    # and the gap between the two runs shows the resolution of a p99 here.
    for sw in ceiling enadpdk ovs; do loaded "$sw" "$path" "$base" 10 "$sw"; done
    for sw in ovs enadpdk ceiling; do loaded "again-$sw" "$path" "$base" 10 "$sw"; done
    for sw in ceiling ovs enadpdk; do loaded "$sw" "$path" "$base" 80 "$sw"; done
  done
  [ -n "$quick" ] && continue
  for n in 8 16; do
    for sw in ceiling ovs enadpdk; do record "$sw,ns,$n,64,max" "$sw" ns "$n" 64 max; done
  done
  for sw in ovs enadpdk; do record "$sw,ns,31,64,max" "$sw" ns 31 64 max; done
  # The ceiling with the per-pod bursts a switch demultiplexing one uplink gets: 32 / pods.
  for n in 8 16; do record "ceilb,ns,$n,64,max" ceiling ns "$n" 64 max $((32 / n)); done
  for sw in ceiling ovs enadpdk; do record "$sw,ns,1,1500,max" "$sw" ns 1 1500 max; done
  for d in $drains; do
    record "enadpdk-d$d,ns,1,64,max" enadpdk_drain "$d" ns 1 64 max
    record "enadpdk-d$d,ns,16,64,max" enadpdk_drain "$d" ns 16 64 max
    loaded "enadpdk-d$d" ns "$ns_base" "10 80" enadpdk_drain "$d"
  done
done
# split PODS: the profiled ena-dpdk run and its cycle split. A run whose worker is below
# full_load % busy was set by the generator, and its idle polls overstate the switch's share: it
# is run again, up to split_tries times in all, and the busiest run is the one split
# (perf_split.py marks it when it is still below; --summarize then leaves it out while another
# run of that pod count is at full load).
split_tries=3 full_load=95
split() {
  local label="enadpdk-ns-$1-64-max" line cpp busy try best=-1 best_cpp=- best_line="" tried="" f
  for ((try = 1; try <= split_tries; try++)); do
    profiling=1
    line=$(enadpdk ns "$1" 64 max)
    profiling=
    read -r cpp busy _ <<<"$(benchlib dataplane-stats "$tmp/stats0-$label.json" "$tmp/stats1-$label.json")"
    tried="$tried${tried:+, }${busy:--} %"
    if awk -v b="$busy" -v best="$best" 'BEGIN { exit !(b + 0 > best) }'; then
      best=$busy best_cpp=$cpp best_line=$line
      for f in "perf-$label.data" "stats0-$label.json" "stats1-$label.json"; do
        mv -f "$tmp/$f" "$tmp/best-$f"
      done
    fi
    awk -v b="$busy" -v full="$full_load" 'BEGIN { exit !(b + 0 >= full) }' && break
  done
  perf report -i "$tmp/best-perf-$label.data" --no-children --sort dso,sym --stdio 2>/dev/null \
    >"$tmp/perf-$label.txt"
  echo ""
  echo "cycle split of the ena-dpdk worker: north-south 64B, $1 pod(s), VPC round robin over them" \
    "(this run: $best_line; profiled runs' worker busy: $tried)"
  python3 "$here/perf_split.py" "$tmp/perf-$label.txt" --cycles-per-packet "$best_cpp" \
    --busy "$best" --full-load "$full_load" \
    --stats "$tmp/best-stats0-$label.json" "$tmp/best-stats1-$label.json" ||
    echo "FATAL: no cycle split for $1 pod(s)" >&2
}
if [ -n "$perf" ]; then
  for ((round = 0; round < repeat; round++)); do split 1 && split 8; done >"$tmp/splits"
  # The median of the profiled runs (the share moves with rte_vhost's speed from run to run).
  : >"$tmp/splits-median"
  if [ "$repeat" -gt 1 ]; then
    { echo "" && python3 "$here/perf_split.py" --summarize "$tmp/splits" --full-load "$full_load"; } >"$tmp/splits-median"
  fi
fi
if [ -z "$perf_only" ]; then
  [ -s "$tmp/tsc_mhz" ] && echo "tsc_mhz $(cat "$tmp/tsc_mhz")" >>"$results"
  cp "$results" "${NS_BENCH_RESULTS:-/dev/null}" 2>/dev/null
  benchlib northsouth-report "$results" || { echo "FATAL: results ($results):" >&2; cat "$results" >&2; exit 1; }
fi
[ -z "$perf" ] || cat "$tmp/splits" "$tmp/splits-median"
