#!/usr/bin/env bash
# Dataplane benchmark (issue 4): one switch lcore, the same generator for every switch.
#
# Generator: testpmd flowgen on virtio_user ports, one forwarding lcore (lcore 0).
# Switch under test, one forwarding lcore (lcore 1):
#   ceiling  testpmd "mac" forwarding between net_vhost ports
#   ovs      Open vSwitch 3.1 with DPDK, netdev bridge per pair, NORMAL action, dpdkvhostuser ports
#   ena-dpdk ena-dpdk-dataplane, ports in pairs on l2 networks
# flowgen sends fixed MACs (00:01:02:03:04:00 -> :01), so every bridge floods each frame to the
# other port of its pair: the same work for OVS's NORMAL action and for ena-dpdk's l2 mode.
# Prints a table of aggregate Mpps (what the generator received back) and the ratios the issue
# targets, plus the dataplane's hugepage memory with 64 ports.
#
# Usage: dataplane_bench.sh BUILD_DIR [SECONDS]   (root; reserves 2M hugepages as needed)
set -u
build=${1:?usage: $0 BUILD_DIR [SECONDS]}
secs=${2:-10}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../support/dpdk_env.sh
. "$here/../support/dpdk_env.sh"
require dpdk-testpmd jq ovsdb-tool ovsdb-server ovs-vsctl
OVS_VSWITCHD=/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk
[ -x "$OVS_VSWITCHD" ] || { echo "FATAL: $OVS_VSWITCHD missing (apt-get install openvswitch-switch-dpdk)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/ena-dpdk-bench.XXXXXX)
huge=$tmp/huge
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  stop_ovs
  umount "$huge" 2>/dev/null || umount -l "$huge" 2>/dev/null
  rm -rf "$tmp" /var/run/dpdk/bench*$$
}
trap cleanup EXIT
ensure_hugepages 2048 || exit 1
mkdir -p "$huge" "$tmp/vhost"
mount -t hugetlbfs -o pagesize=2M nodev "$huge" || exit 1

# generator PORTS FRAME-SIZE LABEL SOCKET-PATTERN: runs flowgen for $secs s on PORTS virtio_user
# ports connecting to the switch's sockets (printf pattern with the port number), prints the
# aggregate received Mpps.
generator() {
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
  sleep $((secs + 3))  # connect, warm up, then measure the last $secs s
  kill -INT $gen
  wait $gen 2>/dev/null
  # Sum of Rx-pps over ports, averaged over the last (secs - 2) samples of each port.
  awk -v n="$n" -v keep=$((secs - 2)) '
    /NIC statistics for port/ { port = $6 }
    /Rx-pps:/ { v[port, ++c[port]] = $2 }
    END { total = 0; for (p = 0; p < n; p++) { s = 0; k = 0
            for (i = c[p]; i > 0 && k < keep; i--) { s += v[p, i]; k++ } if (k) total += s / k }
          printf "%.2f", total / 1e6 }' "$tmp/gen-$label.log"
}

# --- (a) the ceiling: testpmd mac forwarding between net_vhost ports --------------------------
ceiling() {
  local n=$1 size=$2 vdevs=() i
  rm -f "$tmp"/vhost/*
  for ((i = 0; i < n; i++)); do vdevs+=(--vdev "net_vhost$i,iface=$tmp/vhost/p$i.sock"); done
  dpdk-testpmd -l 0,1 --main-lcore 0 --file-prefix "benchsw$$" --no-pci -m 512 --huge-dir "$huge" \
    "${vdevs[@]}" -- --forward-mode=mac --nb-cores=1 --stats-period 5 >"$tmp/ceiling.log" 2>&1 &
  local sw=$!
  generator "$n" "$size" "ceiling-$n-$size" "$tmp/vhost/p%d.sock"
  kill $sw
  wait $sw 2>/dev/null
}

# --- (b) Open vSwitch with DPDK ------------------------------------------------------------
export OVS_RUNDIR=$tmp/ovs OVS_LOGDIR=$tmp/ovs OVS_DBDIR=$tmp/ovs
vsctl() { ovs-vsctl --db="unix:$OVS_RUNDIR/db.sock" "$@"; }
stop_ovs() {
  [ -f "$tmp/ovs/vswitchd.pid" ] && kill "$(cat "$tmp/ovs/vswitchd.pid")" 2>/dev/null
  [ -f "$tmp/ovs/ovsdb.pid" ] && kill "$(cat "$tmp/ovs/ovsdb.pid")" 2>/dev/null
  rm -f "$tmp/ovs/"*.pid
  sleep 1
}
ovs() {
  local n=$1 size=$2 i
  rm -rf "$tmp/ovs" "$tmp"/vhost/*
  mkdir -p "$tmp/ovs"
  ovsdb-tool create "$tmp/ovs/conf.db" /usr/share/openvswitch/vswitch.ovsschema
  ovsdb-server "$tmp/ovs/conf.db" --remote="punix:$tmp/ovs/db.sock" --pidfile="$tmp/ovs/ovsdb.pid" \
    --detach --log-file="$tmp/ovs/ovsdb.log"
  vsctl --no-wait init
  vsctl --no-wait set Open_vSwitch . other_config:dpdk-init=true other_config:dpdk-lcore-mask=0x1 \
    other_config:pmd-cpu-mask=0x2 other_config:dpdk-socket-mem=512 \
    "other_config:dpdk-extra=--file-prefix=benchovs$$ --no-pci --huge-dir=$huge"
  "$OVS_VSWITCHD" "unix:$tmp/ovs/db.sock" --pidfile="$tmp/ovs/vswitchd.pid" --detach \
    --log-file="$tmp/ovs/vswitchd.log"
  wait_for 30 sh -c "ovs-vsctl --db=unix:$tmp/ovs/db.sock get Open_vSwitch . dpdk_initialized | grep -q true" || {
    echo "FATAL: OVS-DPDK did not initialise" >&2; tail -5 "$tmp/ovs/vswitchd.log" >&2; exit 1; }
  for ((i = 0; i < n; i += 2)); do
    vsctl add-br "br$i" -- set bridge "br$i" datapath_type=netdev
    vsctl add-port "br$i" "p$i" -- set Interface "p$i" type=dpdkvhostuser
    vsctl add-port "br$i" "p$((i + 1))" -- set Interface "p$((i + 1))" type=dpdkvhostuser
  done
  generator "$n" "$size" "ovs-$n-$size" "$tmp/ovs/p%d"
  stop_ovs
}

# --- (c) ena-dpdk-dataplane ----------------------------------------------------------------
enadpdk() {
  local n=$1 size=$2 i nets=""
  rm -f "$tmp"/vhost/* "$tmp/state.json"
  for ((i = 0; i < n; i += 2)); do nets="$nets${nets:+,}{\"name\": \"pair$i\", \"mode\": \"l2\"}"; done
  cat >"$tmp/dp.json" <<JSON
{"dataplane": {"eal": ["-l", "0,1", "--main-lcore", "0", "--file-prefix", "benchdp$$", "--no-pci",
  "-m", "512", "--huge-dir", "$huge"], "workers": [1], "controlSocket": "$tmp/dp.sock",
  "stateFile": "$tmp/state.json", "metricsAddress": "127.0.0.1:0", "allowedSocketDirs": ["$tmp/vhost"],
  "networks": [$nets]}}
JSON
  "$build/vhostuser/ena-dpdk-dataplane" --config "$tmp/dp.json" --log-level warn >"$tmp/dp.log" 2>&1 &
  local dp=$!
  wait_for 20 "$build/vhostuser/ena-dpdk-ctl" --socket "$tmp/dp.sock" health >/dev/null || { echo "FATAL: dataplane down" >&2; cat "$tmp/dp.log" >&2; exit 1; }
  for ((i = 0; i < n; i++)); do
    "$build/vhostuser/ena-dpdk-ctl" --socket "$tmp/dp.sock" port add --id "p$i" --network "pair$((i / 2 * 2))" \
      --socket-path "$tmp/vhost/p$i.sock" --vhost-mode client >/dev/null
  done
  generator "$n" "$size" "enadpdk-$n-$size" "$tmp/vhost/p%d.sock"
  kill $dp
  wait $dp 2>/dev/null
}

# Hugepage memory of the dataplane with 64 ports (or as many as the DPDK build's ethdev limit
# allows): the size of its files in the hugetlbfs mount. Prints "MiB ports".
enadpdk_memory() {
  rm -f "$tmp"/vhost/* "$tmp/state.json"
  cat >"$tmp/dp.json" <<JSON
{"dataplane": {"eal": ["-l", "0,1", "--main-lcore", "0", "--file-prefix", "benchmem$$", "--no-pci",
  "--huge-dir", "$huge"], "workers": [1], "controlSocket": "$tmp/dp.sock",
  "stateFile": "$tmp/state.json", "metricsAddress": "127.0.0.1:0", "allowedSocketDirs": ["$tmp/vhost"],
  "networks": [{"name": "mem", "mode": "l2"}]}}
JSON
  "$build/vhostuser/ena-dpdk-dataplane" --config "$tmp/dp.json" --log-level warn >"$tmp/dpmem.log" 2>&1 &
  local dp=$! i
  wait_for 20 "$build/vhostuser/ena-dpdk-ctl" --socket "$tmp/dp.sock" health >/dev/null || exit 1
  local ports=0
  for ((i = 0; i < 64; i++)); do
    "$build/vhostuser/ena-dpdk-ctl" --socket "$tmp/dp.sock" port add --id "m$i" --network mem \
      --socket-path "$tmp/vhost/m$i.sock" --vhost-mode client >/dev/null 2>&1 || break
    ports=$((ports + 1))
  done
  du -cb "$huge"/benchmem$$map_* 2>/dev/null | awk -v p="$ports" 'END { printf "%.0f %d", $1 / 1048576, p }'
  kill $dp
  wait $dp 2>/dev/null
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
pass() { awk -v a="$1" -v t="$2" 'BEGIN { print (a >= t ? "PASS" : "FAIL") }'; }

echo "dataplane benchmark: ${secs}s per run, generator lcore 0, switch lcore 1, $(nproc) cores"
declare -A R
for size in 64 1500; do
  for sw in ceiling ovs enadpdk; do R[$sw,2,$size]=$($sw 2 "$size"); done
done
for n in 8 32; do
  R[enadpdk,$n,64]=$(enadpdk "$n" 64)
  R[ceiling,$n,64]=$(ceiling "$n" 64)
done
read -r mem memports <<<"$(enadpdk_memory)"

printf '\n%-28s %10s %10s %10s\n' "switch (l2, aggregate Mpps)" "64B" "1500B" ""
for sw in ceiling ovs enadpdk; do printf '%-28s %10s %10s\n' "$sw, 2 ports" "${R[$sw,2,64]}" "${R[$sw,2,1500]}"; done
for n in 8 32; do
  printf '%-28s %10s %10s\n' "ceiling, $n ports" "${R[ceiling,$n,64]}" "-"
  printf '%-28s %10s %10s\n' "enadpdk, $n ports" "${R[enadpdk,$n,64]}" "-"
done
r1=$(ratio "${R[enadpdk,2,64]}" "${R[ceiling,2,64]}")
r2=$(ratio "${R[enadpdk,2,64]}" "${R[ovs,2,64]}")
r3=$(ratio "${R[enadpdk,32,64]}" "${R[enadpdk,2,64]}")
printf '\n%-44s %8s %8s %6s\n' "target" "measured" "goal" ""
printf '%-44s %8s %8s %6s\n' "64B: ena-dpdk / ceiling" "$r1" ">=0.85" "$(pass "$r1" 0.85)"
printf '%-44s %8s %8s %6s\n' "64B: ena-dpdk / OVS-DPDK" "$r2" ">=3" "$(pass "$r2" 3)"
printf '%-44s %8s %8s %6s\n' "32 ports / 2 ports (ena-dpdk, 64B)" "$r3" ">=0.8" "$(pass "$r3" 0.8)"
printf '%-44s %8s %8s %6s\n' "hugepage MiB, dataplane with $memports ports" "$mem" "<=256" "$(awk -v m="$mem" 'BEGIN{print (m <= 256 ? "PASS" : "FAIL")}')"
