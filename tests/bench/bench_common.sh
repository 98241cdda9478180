# shellcheck shell=bash
# Shared by the dataplane benchmarks (dataplane_bench.sh, northsouth_bench.sh; sourced, not run):
# a scratch directory with a private hugetlbfs mount, the switches under test (Open vSwitch with
# DPDK, ena-dpdk-dataplane), SCHED_FIFO for polling threads, cleanup at exit.
#
# Before sourcing, set: build (build directory), here (tests/bench), rt (non-empty: --rt).
# Provides: tmp, huge, DP, CTL, BENCH_GEN, OVS_VSWITCHD, benchlib, realtime, start_ovs,
# ovs_cycles, stop_ovs, vsctl, start_dataplane, stop_dataplane; sw_pid is the switch under test.

: "${build:?}" "${here:?}" "${rt?}"
# shellcheck source=../support/dpdk_env.sh
. "$here/../support/dpdk_env.sh"
require dpdk-testpmd jq ovsdb-tool ovsdb-server ovs-vsctl ovs-ofctl python3
benchlib() { python3 "$here/benchlib.py" "$@"; }
OVS_VSWITCHD=/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk
[ -x "$OVS_VSWITCHD" ] || { echo "FATAL: $OVS_VSWITCHD missing (apt-get install openvswitch-switch-dpdk)" >&2; exit 1; }
BENCH_GEN=$build/tests/vhostuser/ena-dpdk-bench-gen
[ -x "$BENCH_GEN" ] || { echo "FATAL: $BENCH_GEN missing (ninja -C $build ena-dpdk-bench-gen)" >&2; exit 1; }
DP=$build/vhostuser/ena-dpdk-dataplane
CTL=$build/vhostuser/ena-dpdk-ctl
{ [ -x "$DP" ] && [ -x "$CTL" ]; } || { echo "FATAL: $DP or $CTL missing (ninja -C $build)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/ena-dpdk-bench.XXXXXX)
huge=$tmp/huge
pids=()
dp=
sw_pid=
bench_cleanup() {
  [ -n "${dp:-}" ] && kill "$dp" 2>/dev/null
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  stop_ovs
  umount "$huge" 2>/dev/null || umount -l "$huge" 2>/dev/null
  rm -rf "$tmp" /var/run/dpdk/bench*$$
}
trap bench_cleanup EXIT
ensure_hugepages 2048 || exit 1
mkdir -p "$huge" "$tmp/vhost"
mount -t hugetlbfs -o pagesize=2M nodev "$huge" || exit 1

# realtime GENERATOR-PID: with --rt, SCHED_FIFO for the polling threads of the switch under
# test ($sw_pid) and of the generator (testpmd's lcore 0 thread, under `timeout`, or the main
# thread of ena-dpdk-bench-gen).
realtime() {
  [ -n "$rt" ] || return 0
  local tid
  for tid in $(ps -T -o spid=,comm= -p "$sw_pid" | awk '$2 ~ /^(rte-worker-1|pmd)/ { print $1 }') \
    $(for p in "$1" $(pgrep -P "$1"); do ps -T -o spid=,comm= -p "$p"; done |
      awk '$2 == "ena-dpdk-bench-" || $2 == "rte-worker-0" { print $1 }'); do
    chrt -f -p 10 "$tid"
  done
}

# --- Open vSwitch with DPDK: ovsdb-server and ovs-vswitchd-dpdk in $tmp/ovs, main thread on
# lcore 0, the PMD thread on lcore 1 ----------------------------------------------------------
export OVS_RUNDIR=$tmp/ovs OVS_LOGDIR=$tmp/ovs OVS_DBDIR=$tmp/ovs
vsctl() { ovs-vsctl --db="unix:$OVS_RUNDIR/db.sock" "$@"; }
start_ovs() {
  rm -rf "$tmp/ovs" "$tmp"/vhost/*
  mkdir -p "$tmp/ovs"
  ovsdb-tool create "$tmp/ovs/conf.db" /usr/share/openvswitch/vswitch.ovsschema
  ovsdb-server "$tmp/ovs/conf.db" --remote="punix:$tmp/ovs/db.sock" --pidfile="$tmp/ovs/ovsdb.pid" \
    --detach --log-file="$tmp/ovs/ovsdb.log" 2>"$tmp/ovs/ovsdb.console"
  vsctl --no-wait init
  vsctl --no-wait set Open_vSwitch . other_config:dpdk-init=true other_config:dpdk-lcore-mask=0x1 \
    other_config:pmd-cpu-mask=0x2 other_config:dpdk-socket-mem=512 \
    "other_config:dpdk-extra=--file-prefix=benchovs$$ --no-pci --huge-dir=$huge"
  "$OVS_VSWITCHD" "unix:$tmp/ovs/db.sock" --pidfile="$tmp/ovs/vswitchd.pid" --detach \
    --log-file="$tmp/ovs/vswitchd.log" 2>"$tmp/ovs/vswitchd.console"
  wait_for 30 sh -c "ovs-vsctl --db=unix:$tmp/ovs/db.sock get Open_vSwitch . dpdk_initialized | grep -q true" || {
    echo "FATAL: OVS-DPDK did not initialise" >&2; tail -5 "$tmp/ovs/vswitchd.log" >&2; exit 1; }
  sw_pid=$(cat "$tmp/ovs/vswitchd.pid")
}
# ovs_cycles: the PMD thread's cycles per packet from pmd-stats-show ("packets received: N" ...
# "processing cycles: C": iterations that received something; the control socket is named after
# the binary).
ovs_cycles() {
  ovs-appctl -t "$(echo "$tmp/ovs/ovs-vswitchd"*".$sw_pid.ctl")" dpif-netdev/pmd-stats-show |
    benchlib ovs-cycles
}
# stop_ovs: stops both daemons and waits (up to 10 s) until they have exited: ovs-vswitchd takes
# 1.5 to 2 s with vhost-user ports here, and the next switch under test should not start on
# lcore 1 beside its teardown.
stop_ovs() {
  local daemons=() p i
  for p in "$tmp/ovs/vswitchd.pid" "$tmp/ovs/ovsdb.pid"; do
    [ -f "$p" ] && daemons+=("$(cat "$p")")
  done
  rm -f "$tmp/ovs/"*.pid
  [ ${#daemons[@]} -gt 0 ] || return 0
  kill "${daemons[@]}" 2>/dev/null
  for ((i = 0; i < 100; i++)); do
    kill -0 "${daemons[@]}" 2>/dev/null || return 0
    sleep 0.1
  done
}

# --- ena-dpdk-dataplane ------------------------------------------------------------------------
# start_dataplane PREFIX NETWORKS-JSON [EXTRA-DATAPLANE-KEYS]: runs the dataplane on worker
# lcore 1 (waits for its control API). EXTRA: more "key": value members of "dataplane".
start_dataplane() {
  rm -f "$tmp"/vhost/* "$tmp/state.json"
  cat >"$tmp/dp.json" <<JSON
{"dataplane": {"eal": ["-l", "0,1", "--main-lcore", "0", "--file-prefix", "$1$$", "--no-pci",
  "--huge-dir", "$huge"], "workers": [1], "controlSocket": "$tmp/dp.sock",
  "stateFile": "$tmp/state.json", "metricsAddress": "127.0.0.1:0", "allowedSocketDirs": ["$tmp/vhost"],
  ${3:+$3,} "networks": [$2]}}
JSON
  "$DP" --config "$tmp/dp.json" --log-level warn >"$tmp/dp-$1.log" 2>&1 &
  dp=$!
  sw_pid=$dp
  wait_for 20 "$CTL" --socket "$tmp/dp.sock" health >/dev/null || { echo "FATAL: dataplane down" >&2; cat "$tmp/dp-$1.log" >&2; exit 1; }
}
stop_dataplane() {
  kill "$dp"
  wait "$dp" 2>/dev/null
  dp=
}
