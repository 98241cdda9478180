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
#   and a clean teardown (also on Ctrl-C or a failed step).
# Run as root on Debian 12. Idempotent: a run interrupted by kill -9 is cleaned up by the next.
# Usage: scripts/demo.sh [BUILD_DIR]   (default: build)
# Exit status: 0 when every step worked, 1 when one failed (its reason and log tail are printed),
# 130 on Ctrl-C.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export CCACHE_DIR=${CCACHE_DIR:-/var/cache/ena-dpdk-ccache}
# Paths under the checkout are hashed relative to it, and the working directory is not hashed,
# so that another clone of the repository (CI clones afresh) hits the same cache entries (debug
# info then names the directory of the clone that filled the cache).
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-true}
build_dir=${1:-build}
stream_seconds=5

if [ "$(id -u)" -ne 0 ]; then
  echo "demo: run as root (it reserves hugepages, mounts hugetlbfs, creates network namespaces)" >&2
  exit 1
fi
scripts/deps.sh || exit 1
echo "== build (the demo target)"
scripts/build.sh --target demo "$build_dir" || exit 1

# shellcheck source=../tests/support/dpdk_env.sh
. tests/support/dpdk_env.sh
# shellcheck source=../tests/e2e/node_in_a_box.sh
. tests/e2e/node_in_a_box.sh
require dpdk-testpmd ip ping jq ss stdbuf runc
nib_init demo "$build_dir" || exit 1

failed=""
finish() {
  local rc=$?
  trap - EXIT
  # Teardown runs to the end: a closed terminal or pipe, or another Ctrl-C, does not stop it.
  trap '' INT TERM HUP PIPE
  if [ -n "$failed" ]; then
    echo "demo: FAILED: $failed" >&2
    local log
    for log in "$NIB_LOGS"/*.log; do
      [ -s "$log" ] && { echo "--- last lines of $log" >&2; tail -5 "$log" >&2; }
    done
    [ "$rc" -eq 0 ] && rc=1
  elif [ "$rc" -ne 0 ]; then
    echo "demo: stopped (exit $rc)" >&2
  fi
  nib_progress "teardown: stopping the daemons, removing namespaces and mounts, giving back hugepages"
  nib_teardown
  local left
  left=$(nib_leftovers)
  if [ -n "$left" ]; then
    echo "demo: teardown left:" >&2
    echo "$left" >&2
    [ "$rc" -eq 0 ] && rc=1
  else
    nib_progress "clean: no process, container, cgroup, namespace, veth, mount or sandbox file of the demo is left"
  fi
  [ "$rc" -eq 0 ] && echo "demo: done in $(nib_elapsed | tr -d ' ') s"
  exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM HUP
trap 'exit 141' PIPE

# step DESCRIPTION COMMAND...: runs one step; a failure ends the demo (teardown follows).
step() {
  local what=$1
  shift
  "$@" || { failed=$what; exit 1; }
}

echo "== node in a box (sandbox $NIB_DIR)"
NIB_T0=$(date +%s.%N)
step "clean up an earlier run" nib_clean_leftovers
if [ "$(nib_pod_page_size)" = 2M ]; then
  nib_progress "this CPU has no 1G hugepages (no pdpe1gb): pods get dpdk.aws/hugepages-2Mi, the same mechanism on 2M pages"
fi
step "node prep" nib_prepare_node 2
nib_progress "node prep: $(jq -r '[.actions[] | select(.status == "changed" and .step != "state") |
  if .step == "hugepages" then "\(.target | capture("hugepages-(?<s>[0-9]+)kB").s | if . == "1048576" then "1G" else "2M" end) pages \(.change)"
  else "hugetlbfs \(.change | capture("pagesize=(?<p>[0-9A-Z]+)").p) on \(.target)" end] | join(", ")' \
  "$NIB_LOGS/nodeprep.json")"
step "VPC namespace" nib_start_vpc
step "configuration" nib_write_configs
nib_progress "VPC: namespace $NIB_VPC_NS, router $NIB_VPC_GATEWAY/$NIB_VPC_PREFIX, uplink $NIB_UPLINK (ENI MAC $NIB_ENI_MAC), static pool ${NIB_POOL[*]}"
step "kubelet stand-in" nib_start_standin
nib_progress "kubelet stand-in: Registration on $NIB_ROOT/var/lib/kubelet/device-plugins/kubelet.sock, PodResources"
step "dataplane" nib_start_dataplane
nib_progress "dataplane: network $(nib_ctl networks | awk 'NR == 2 { print $1 " (mode " $2 "), uplink " $4 ", link " $5 }'), metrics 127.0.0.1:$NIB_DP_METRICS"
step "device plugin" nib_start_deviceplugin
nib_progress "device plugin registered: $(nib_standin resources | jq -r '[.resources[] |
  "\(.name) (\([.devices[] | select(.health == "Healthy")] | length) healthy)"] | join(", ")')"

for pod in a b; do
  step "pod-$pod: Allocate and CNI ADD" nib_pod_sandbox "$pod"
  nib_progress "pod-$pod: Allocate -> $(nib_pod_device "$pod") + $(jq -r '"\(.deviceIds | length) page(s) of \(.resource)"' \
    "$(nib_pod_dir "$pod")/hugepages.json"); CNI ADD (libcni, deviceID $(nib_pod_device "$pod")) -> $(nib_pod_ip "$pod")"
done
step "pod-a: testpmd" nib_pod_start a b
step "pod-b: testpmd" nib_pod_start b a
for pod in a b; do
  nib_progress "pod-$pod: runc container $(jq -r .container "$(nib_pod_dir "$pod")/container.json") (uid $(jq -r .uid "$(nib_pod_dir "$pod")/container.json")): testpmd on virtio_user $(jq -r .socketPath "$(nib_pod_dir "$pod")/ena-dpdk.json") (server mode), MAC $(jq -r .mac "$(nib_pod_dir "$pod")/ena-dpdk.json"), EAL $(sed -n 's/^pod-app: EAL //p' "$(nib_pod_dir "$pod")/testpmd.log")"
done
step "pods connected" wait_for 30 sh -c "[ \$($NIB_CTL_BIN --socket $NIB_DP_SOCKET -o json ports | jq '[.ports[] | select(.connected)] | length') = 2 ]"

for pod in a b; do
  step "ping pod-$pod from the VPC" nib_ping "$pod"
  nib_progress "ping $(nib_pod_ip "$pod") from the VPC: $(grep -o '[0-9]* received' "$(nib_pod_dir "$pod")/ping.log") of 3, $(grep -o 'rtt.*' "$(nib_pod_dir "$pod")/ping.log" | cut -d' ' -f4 | cut -d/ -f2) ms avg"
done

nib_progress "pod-a -> pod-b: $stream_seconds s of 64-byte UDP (testpmd txonly) through the switch"
step "stream" nib_stream a "$stream_seconds"

# ---- summary: ena-dpdk-ctl -o json for ports and counters, /metrics for the drops
ports=$(nib_ctl -o json ports) || { failed="ena-dpdk-ctl ports"; exit 1; }
metrics=$(nib_metrics "$NIB_DP_METRICS") || { failed="dataplane /metrics"; exit 1; }
drops() {  # drops PORT-ID REASON
  echo "$metrics" | awk -v p="port=\"$1\"" -v r="reason=\"$2\"" \
    'index($1, "ena_dpdk_port_drops_total{") == 1 && index($1, p) && index($1, r) { print $2 }'
}
echo
printf '%-6s %-11s %-7s %-48s %-5s %11s %11s %8s %11s %6s\n' POD IP SLOT "SOCKET (under $NIB_ROOT)" CONN \
  RX-PKTS TX-PKTS SPOOFED QUEUE-FULL OTHER
for pod in a b; do
  id=$(nib_port_id "$pod")
  echo "$ports" | jq -r --arg id "$id" --arg root "$NIB_ROOT" '.ports[] | select(.id == $id) |
    [(.ips | join(",") | split("/")[0]), (.socketPath | ltrimstr($root)),
     (if .connected then "yes" else "no" end), .counters.rxPackets, .counters.txPackets] | @tsv' |
    while IFS=$'\t' read -r ip sock conn rx tx; do
      printf '%-6s %-11s %-7s %-48s %-5s %11s %11s %8s %11s %6s\n' "pod-$pod" "$ip" \
        "$(nib_pod_device "$pod")" "$sock" "$conn" "$rx" "$tx" "$(drops "$id" spoofed)" \
        "$(drops "$id" tx_full)" "$(($(drops "$id" no_route) + $(drops "$id" not_connected) + $(drops "$id" other)))"
    done
done
awk -v rx="$NIB_STREAM_RX" -v tx="$NIB_STREAM_TX" -v s="$NIB_STREAM_SECONDS" 'BEGIN {
  printf "\nstream pod-a -> pod-b, %.1f s: switched %.2f Mpps from pod-a, delivered %.2f Mpps to pod-b (%.1f%%)\n",
    s, rx / s / 1e6, tx / s / 1e6, rx ? 100 * tx / rx : 0 }'
# The kubelet's rules, as applied: who each pod runs as, its cgroup's hugetlb limit and use, and
# where its pages are charged instead (the device plugin's per-allocation cgroup).
echo
printf '%-6s %-20s %-5s %-38s %-14s %-9s %-20s %s\n' POD CONTAINER UID "POD CGROUP" "HUGETLB LIMIT" "USED/MAX" ALLOCATION "PAGES CHARGED TO (hugetlb current)"
for pod in a b; do
  info=$(nib_pod_info "$pod")
  alloc=$(jq -r '.response.mounts[0].hostPath' "$(nib_pod_dir "$pod")/hugepages.json")
  key=2MB
  [ "$(nib_pod_page_size)" = 1G ] && key=1GB
  charge=$(jq -r .cgroupRoot "$NIB_RUNNER_STATE/pod-$pod/pod.json")$NIB_CHARGE_CGROUP/$(basename "$alloc")
  printf '%-6s %-20s %-5s %-38s %-14s %-9s %-20s %s\n' "pod-$pod" "$(jq -r .container <<<"$info")" \
    "$(jq -r .uid <<<"$info")" "$(jq -r .cgroup <<<"$info")" \
    "$(jq -r '[.hugetlbLimits | to_entries[] | "\(.key)=\(.value)"] | join(",")' <<<"$info")" \
    "$(jq -r --arg k "$key" '"\(.hugetlbCurrent[$k])/\(.hugetlbMaxEvents[$k])"' <<<"$info")" \
    "$(jq -r '"\(.deviceIds | length) x \(.resource | sub(".*/"; ""))"' "$(nib_pod_dir "$pod")/hugepages.json")" \
    "$charge ($(($(cat "$charge/hugetlb.$key.current" 2>/dev/null || echo 0) / 1048576)) MiB)"
done
echo "(USED/MAX: the pod cgroup's hugetlb.<size>.current and its 'max' events: 0/0 means the pod"
echo " faulted none of its pages itself and was never refused one)"
echo "$metrics" | awk '
  index($1, "ena_dpdk_uplink_rx_packets_total{") == 1 { rx += $2 }
  index($1, "ena_dpdk_uplink_tx_packets_total{") == 1 { tx += $2 }
  index($1, "ena_dpdk_worker_busy_ratio{") == 1 { busy = $2 }
  END { printf "uplink (VPC side): %d packets in, %d out; switch worker busy %.0f%% of its cycles\n", rx, tx, 100 * busy }'
if [ "$(nproc)" -lt 4 ]; then
  echo "($(nproc) cores: pod-a's and pod-b's poll loops share one, so pod-b drains its queue only in its"
  echo " scheduler time slices and the switch drops the rest as QUEUE-FULL; docs/performance.md has"
  echo " the switch's own figures)"
fi
echo

# ---- clean teardown: the kubelet deletes the pods (apps stop, CNI DEL), then the node goes
for pod in a b; do
  nib_pod_stop "$pod"
  step "pod-$pod: CNI DEL" nib_cni_del "$pod"
done
nib_progress "CNI DEL for both pods: $(nib_ctl -o json ports | jq '.ports | length') dataplane ports left"
