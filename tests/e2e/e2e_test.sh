#!/usr/bin/env bash
# End-to-end test: the demo's node in a box (tests/e2e/node_in_a_box.sh) with assertions, then
# failure injection: the dataplane killed mid-traffic and restarted, the kubelet stand-in
# restarted, CNI DEL while the dataplane is down followed by GC, and a teardown that must leave
# nothing behind. The pods are runc containers (tests/tools/pod-runner) in pod cgroups with the
# kubelet's hugetlb limits (0: they ask for no native hugepages), pod-a as a non-root user (and a
# short-lived non-root pod-c in vhost client mode); a
# negative control proves that such a cgroup refuses hugepages faulted the way the product did
# before. Needs root, runc, 2 free 1G hugepages' worth of memory and about 600 MB of 2M pages
# (where the CPU has no 1G pages, pods use dpdk.aws/hugepages-2Mi: about 1.4 GB of 2M pages).
# Usage: e2e_test.sh BUILD_DIR
set -u
build=${1:?usage: $0 BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../support/dpdk_env.sh
. "$here/../support/dpdk_env.sh"
# shellcheck source=node_in_a_box.sh
. "$here/node_in_a_box.sh"
require dpdk-testpmd ip ping jq ss stdbuf sha256sum runc timeout
[ "$(id -u)" -eq 0 ] || { echo "FATAL: the end-to-end test needs root" >&2; exit 1; }
nib_init "e2e$$" "$build" || exit 1
for bin in "$NIB_DP_BIN" "$NIB_CTL_BIN" "$NIB_DEVICEPLUGIN_BIN" "$NIB_NODEPREP_BIN" "$NIB_CNI_PLUGIN" \
  "$NIB_IPAM_PLUGIN" "$NIB_STANDIN_BIN" "$NIB_DRIVER_BIN"; do
  [ -x "$bin" ] || { echo "FATAL: $bin is missing (build the tree first)" >&2; exit 1; }
done

# Runs left by killed e2e processes (ctest timeouts) are cleaned up first; live ones are left.
for dir in /tmp/enadpdk-nib-e2e*; do
  [ -d "$dir" ] || continue
  owner=$(cat "$dir/owner.pid" 2>/dev/null)
  [ -n "$owner" ] && kill -0 "$owner" 2>/dev/null && continue
  (nib_init "${dir#/tmp/enadpdk-nib-}" "$build" && nib_teardown)
done

# On failure, the daemons' and pods' last log lines before the evidence goes.
on_exit() {
  if [ "$T_FAILED" -gt 0 ] && [ -d "$NIB_LOGS" ]; then
    local log
    for log in "$NIB_LOGS"/*.log "$NIB_STATE"/pods/*/testpmd.log; do
      [ -s "$log" ] && { echo "--- last lines of $log"; tail -8 "$log"; }
    done
    # The whole evidence, for a closer look (the work directory goes with the teardown).
    rm -rf /tmp/enadpdk-e2e-failed && mkdir -p /tmp/enadpdk-e2e-failed &&
      cp -r "$NIB_LOGS" "$NIB_STATE" /tmp/enadpdk-e2e-failed/ 2>/dev/null &&
      echo "(logs and state kept in /tmp/enadpdk-e2e-failed)"
  fi
  nib_teardown
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# must DESCRIPTION COMMAND...: a check the rest of the test depends on.
must() {
  local failed=$T_FAILED
  check "$@"
  [ "$T_FAILED" -eq "$failed" ] || { summary e2e_test; exit 1; }
}

ctl_json() { nib_ctl -o json "$@"; }
port_count() { ctl_json ports | jq '.ports | length'; }
connected_count() { ctl_json ports | jq '[.ports[] | select(.connected)] | length'; }
both_connected() { [ "$(connected_count)" = 2 ]; }
# counter_above POD FIELD N: the pod's switch port counter exceeds N.
counter_above() { [ "$(nib_port_counter "$1" "$2")" -gt "$3" ]; }
port_drops() { nib_metric "$NIB_DP_METRICS" ena_dpdk_port_drops_total "reason=\"$1\""; }
resources() { nib_standin resources; }
registered_ok() { nib_metric "$NIB_DEVICEPLUGIN_METRICS" ena_dpdk_deviceplugin_registrations_total 'result="ok"'; }
registrations_above() { [ "$(registered_ok)" -gt "$1" ]; }
one_connected() { [ "$(connected_count)" = 1 ]; }
# ena-dpdk-ipam's leases: <stateDir>/<network>/<containerID>@<ifname>.lease.
lease_files() { find "$NIB_IPAM_STATE" -type f -name '*.lease' 2>/dev/null; }
leases_naming() { lease_files | grep -c -- "/$1@"; }
sockets_under() { find "$1" -type s 2>/dev/null; }
pending_deletes() { find "$NIB_CNI_STATE/pending-deletes" -type f 2>/dev/null | wc -l; }

# ---- the node ---------------------------------------------------------------------------------
must "no earlier run holds the name" nib_clean_leftovers
pod_pages=$(nib_pod_page_size)
if [ "$pod_pages" = 2M ]; then
  echo "NOTE: this CPU has no 1G hugepages (no pdpe1gb): pods get dpdk.aws/hugepages-2Mi (the same" \
    "mechanism on 2M pages), and dpdk.aws/hugepages-1Gi is checked to offer nothing"
fi
must "node prep reserves hugepages and mounts hugetlbfs in the sandbox" nib_prepare_node 3
check "node prep reports the node ready" test "$(jq -r .ready "$NIB_LOGS/nodeprep.json")" = true
if [ "$pod_pages" = 1G ]; then
  check "both hugetlbfs mounts are in the mount table" \
    sh -c "grep -q ' $NIB_HUGE_1G hugetlbfs .*pagesize=1024M' /proc/mounts && grep -q ' $NIB_HUGE_2M hugetlbfs .*pagesize=2M' /proc/mounts"
else
  check "the 2M hugetlbfs mount is in the mount table, and no 1G one" \
    sh -c "grep -q ' $NIB_HUGE_2M hugetlbfs .*pagesize=2M' /proc/mounts && ! grep -q ' $NIB_HUGE_1G ' /proc/mounts"
fi
must "the VPC namespace and uplink veth come up" nib_start_vpc
must "configuration written" nib_write_configs
must "the kubelet stand-in serves" nib_start_standin
must "the dataplane serves" nib_start_dataplane
must "the device plugin registers its resources" nib_start_deviceplugin
registrations=3
[ "$pod_pages" = 2M ] && registrations=4  # and hugepages-2Mi
check "the stand-in holds the $registrations registrations" \
  test "$(resources | jq '[.resources[] | select(.registrations == 1 and .streaming)] | length')" -eq "$registrations"
check "dpdk.aws/ena offers $NIB_SLOTS healthy attachments on the vpc network" \
  test "$(resources | jq --arg r "$NIB_ENA_RESOURCE" '[.resources[] | select(.name == $r) | .devices[] |
    select(.health == "Healthy" and (.id | startswith("vpc-")))] | length')" -eq "$NIB_SLOTS"
healthy_pages() {
  resources | jq --arg r "$NIB_HUGE_RESOURCE" '[.resources[] | select(.name == $r) | .devices[] |
    select(.health == "Healthy")] | length'
}
if [ "$pod_pages" = 1G ]; then
  check "dpdk.aws/hugepages-1Gi offers the 2 reserved pages" test "$(healthy_pages)" -ge 2
else
  check "dpdk.aws/hugepages-2Mi offers the pods' pages" test "$(healthy_pages)" -ge $((2 * NIB_POD_2M))
  check "dpdk.aws/hugepages-1Gi offers nothing on a CPU without 1G pages" \
    test "$(resources | jq --arg r "$NIB_HUGE_1GI_RESOURCE" '[.resources[] | select(.name == $r) | .devices[]] | length')" -eq 0
fi
# The daemons' cgroups on the hugetlb hierarchy (the "0::" line of /proc/<pid>/cgroup).
in_pod_cgroup() {
  grep -qx "0::$NIB_CGROUP_PARENT/podnib-$NIB_NAME-$1" "/proc/$(nib_pid "$1")/cgroup" ||
    { echo "  $1 is in $(grep '^0::' "/proc/$(nib_pid "$1")/cgroup")"; return 1; }
}
plugin_limited() {
  in_pod_cgroup deviceplugin && [ "$(jq '[.hugetlbLimits[]] | add' "$NIB_RUNNER_STATE/deviceplugin/pod.json")" = 0 ]
}
dataplane_limited() {
  in_pod_cgroup dataplane &&
    [ "$(jq '.hugetlbLimits["2MB"]' "$NIB_RUNNER_STATE/dataplane/pod.json")" = $((NIB_DATAPLANE_2M * 2097152)) ]
}
check "the device plugin runs in a pod cgroup of its own, with hugetlb limit 0 for every size" plugin_limited
check "the dataplane runs in a pod cgroup of its own, limited to its native hugepages-2Mi request" dataplane_limited

# ---- two pods ---------------------------------------------------------------------------------
must "pod-a: Allocate + CNI ADD" nib_pod_sandbox a
must "pod-b: Allocate + CNI ADD" nib_pod_sandbox b
check "the pods got different attachments" test "$(nib_pod_device a)" != "$(nib_pod_device b)"
check "the pods got different IPs from the static pool" \
  sh -c "[ '$(nib_pod_ip a)' != '$(nib_pod_ip b)' ] && echo ' ${NIB_POOL[*]} ' | grep -q ' $(nib_pod_ip a) ' && echo ' ${NIB_POOL[*]} ' | grep -q ' $(nib_pod_ip b) '"
# The slot the device plugin allocated is the one the CNI filled and the dataplane serves.
slot_agrees() {
  local pod=$1 dir device port
  dir=$(nib_pod_dir "$pod")
  device=$(nib_pod_device "$pod")
  port=$(ctl_json port get "$(nib_port_id "$pod")") || return 1
  local host_slot container_slot
  host_slot=$NIB_ROOT$(jq -r '.response.mounts[0].hostPath' "$dir/ena.json")
  container_slot=$(jq -r '.response.mounts[0].containerPath' "$dir/ena.json")
  [ "$(jq -r .response.envs.ENA_DPDK_DEVICES "$dir/ena.json")" = "$device" ] &&
    [ "$host_slot" = "$NIB_SLOT_DIR/$device" ] &&
    [ "$(jq -r .port.socketPath <<<"$port")" = "$host_slot/vhost.sock" ] &&
    [ "$(jq -r .port.network <<<"$port")" = "$NIB_NETWORK" ] &&
    [ "$(jq -r '.port.ips[0]' <<<"$port")" = "$(jq -r '.ips[0].address' "$dir/cni-result.json")" ] &&
    [ "$(jq -r .deviceID "$host_slot/ena-dpdk.json")" = "$device" ] &&
    [ "$(jq -r .socketPath "$host_slot/ena-dpdk.json")" = "$container_slot/vhost.sock" ] &&
    [ "$(jq -r .mac "$host_slot/ena-dpdk.json")" = "$NIB_ENI_MAC" ] &&
    [ "$(jq -r '.interfaces[0].sandbox' "$dir/cni-result.json")" = "/run/netns/$(nib_pod_ns "$pod")" ]
}
check "pod-a: device plugin, CNI, ena-dpdk.json and the dataplane agree on the slot" slot_agrees a
check "pod-b: device plugin, CNI, ena-dpdk.json and the dataplane agree on the slot" slot_agrees b
devinfo_names_socket() {
  local path
  path=$(jq -r '."vhost-user".path' "$NIB_DEVINFO_DIR/default-pod-a-$NIB_IFNAME.json") || return 1
  [ -n "$path" ] && [ "$path" = "$(jq -r .socketPath "$NIB_SLOT_DIR/$(nib_pod_device a)/ena-dpdk.json")" ]
}
check "the NPWG device-info names pod-a's vhost-user socket (the pod's view)" devinfo_names_socket
# Each pod holds an attachment and its hugepages (one 1G page, or NIB_POD_2M 2M pages).
pod_devices=4
[ "$pod_pages" = 2M ] && pod_devices=$((2 + 2 * NIB_POD_2M))
check "the stand-in publishes both pods' allocations (an attachment and hugepages each)" \
  test "$(resources | jq '[.allocations[] | select(.pod == "pod-a" or .pod == "pod-b")] | length')" -eq 4
must "pod-a's testpmd starts" nib_pod_start a b
must "pod-b's testpmd starts" nib_pod_start b a
must "both pods connect to the dataplane" wait_for 30 both_connected
pod_info() { jq -r "$2" "$(nib_pod_dir "$1")/container.json"; }
check "pod-a's app runs as uid $NIB_POD_A_UID with the slot group $NIB_SLOT_GROUP (fsGroup) in a runc container" \
  sh -c "[ '$(pod_info a .status)' = running ] && [ '$(pod_info a .uid)' = $NIB_POD_A_UID ] &&
    [ '$(pod_info a '.groups | index('"$NIB_SLOT_GROUP"') != null')' = true ] &&
    grep -q '^pod-app: uid $NIB_POD_A_UID ' $(nib_pod_dir a)/testpmd.log"
check "pod-b's app runs as root in a runc container" \
  sh -c "[ '$(pod_info b .status)' = running ] && [ '$(pod_info b .uid)' = 0 ]"
check "both pod cgroups have hugetlb limit 0 for every page size (no native hugepages request)" \
  sh -c "[ '$(pod_info a '[.hugetlbLimits[]] | add')' = 0 ] && [ '$(pod_info b '[.hugetlbLimits[]] | add')' = 0 ] &&
    [ '$(pod_info a '.hugetlbLimits | length')' -ge 1 ]"
# The slot of the non-root pod: group-owned by the slot group, setgid, and the socket the pod's app
# created there is its own and the group's.
slot_perms_ok() {
  local slot
  slot=$NIB_SLOT_DIR/$(nib_pod_device a)
  [ "$(stat -c '%g %a' "$slot")" = "$NIB_SLOT_GROUP 2770" ] &&
    [ "$(stat -c '%u %g' "$slot/vhost.sock")" = "$NIB_POD_A_UID $NIB_SLOT_GROUP" ]
}
check "pod-a's slot is root:$NIB_SLOT_GROUP 2770 and its server socket uid $NIB_POD_A_UID group $NIB_SLOT_GROUP" slot_perms_ok
check "the pods' apps took their EAL hugepage arguments from the device plugin" \
  sh -c "grep -q '^pod-app: EAL .*--huge-unlink=never' $(nib_pod_dir a)/testpmd.log && grep -q '^pod-app: EAL .*--huge-unlink=never' $(nib_pod_dir b)/testpmd.log"

# ---- traffic ----------------------------------------------------------------------------------
check "ping from the VPC to pod-a is answered" nib_ping a
check "ping from the VPC to pod-b is answered" nib_ping b
check "the VPC resolved both pod IPs to the ENI MAC (the switch answers ARP)" \
  sh -c "ip -n $NIB_VPC_NS neigh show $(nib_pod_ip a) | grep -q $NIB_ENI_MAC && ip -n $NIB_VPC_NS neigh show $(nib_pod_ip b) | grep -q $NIB_ENI_MAC"
uplink_tx_before=$(nib_metric "$NIB_DP_METRICS" ena_dpdk_uplink_tx_packets_total)
read -r _ a_tx0 < <(nib_pod_port_stats a)
read -r b_rx0 _ < <(nib_pod_port_stats b)
check "pod-a streams to pod-b for 3 s" nib_stream a 3
read -r _ a_tx1 < <(nib_pod_port_stats a)
read -r b_rx1 _ < <(nib_pod_port_stats b)
sw_b_tx=$(nib_port_counter b txPackets)
echo "stream: pod-a sent $((a_tx1 - a_tx0)), the switch took $NIB_STREAM_RX from pod-a and gave $NIB_STREAM_TX to pod-b, pod-b received $((b_rx1 - b_rx0))"
check "pod-a's packets were counted by pod-a and by the switch" \
  test "$((a_tx1 - a_tx0))" -gt 1000 -a "$NIB_STREAM_RX" -gt 1000
check "the switch took no more from pod-a than pod-a sent" test "$NIB_STREAM_RX" -le "$((a_tx1 - a_tx0))"
check "pod-b received pod-a's packets, as counted by the switch and by pod-b" \
  test "$NIB_STREAM_TX" -gt 1000 -a "$((b_rx1 - b_rx0))" -gt 1000
# Everything the switch handed to pod-b's queue, pod-b read (it polls until the stats are read).
# What the switch handed to pod-b's queue, pod-b counted, but for what was still in its queue
# (1024 descriptors) when its statistics were read.
check "pod-b counted the packets the switch delivered to it" \
  test "$b_rx1" -le "$sw_b_tx" -a "$b_rx1" -ge "$((sw_b_tx - 1024))"
check "no spoofed frames: every pod sent with its own MAC and IP" test "$(port_drops spoofed)" -eq 0
check "pod-b streams to pod-a for 1 s" nib_stream b 1
if [ "${NIB_STREAM_TX:-0}" -le 1000 ]; then
  # On a loaded 2-core machine a pod in its cpu cgroup can get almost no time for a second.
  echo "stream back: only $NIB_STREAM_TX delivered; the pods were starved, streaming 5 s more"
  nib_stream b 5
fi
echo "stream back: the switch took $NIB_STREAM_RX from pod-b and gave $NIB_STREAM_TX to pod-a"
check "pod-a received pod-b's packets (the other way)" test "$NIB_STREAM_TX" -gt 1000
check "pod-to-pod traffic never left through the uplink" \
  test "$(nib_metric "$NIB_DP_METRICS" ena_dpdk_uplink_tx_packets_total)" -eq "$uplink_tx_before"
page_key=2MB page_bytes=2097152
[ "$pod_pages" = 1G ] && page_key=1GB page_bytes=1073741824
no_hugetlb_hits() {
  local pod
  for pod in a b; do
    nib_pod_info "$pod" | jq -e '.status == "running" and ([.hugetlbMaxEvents[]] | add) == 0 and
      ([.hugetlbCurrent[]] | add) == 0' >/dev/null || return 1
  done
}
check "no SIGBUS: both pods still run; their cgroups saw no hugetlb max hit and are charged nothing" no_hugetlb_hits
# Each allocation's pages are charged to its own cgroup under the device plugin's chargeCgroup.
allocation_charged() {
  local dir id bytes
  dir=$(nib_pod_dir "$1")
  id=$(basename "$(jq -r '.response.mounts[0].hostPath' "$dir/hugepages.json")")
  bytes=$(($(jq '.deviceIds | length' "$dir/hugepages.json") * page_bytes))
  [ "$(cat "$(jq -r .cgroupRoot "$NIB_RUNNER_STATE/pod-$1/pod.json")$NIB_CHARGE_CGROUP/$id/hugetlb.$page_key.current")" = "$bytes" ]
}
check "pod-a's hugepages are charged to its allocation's cgroup outside kubepods" allocation_charged a
check "pod-b's hugepages are charged to its allocation's cgroup outside kubepods" allocation_charged b
check "negative control: a limit-0 pod given a fresh hugetlbfs (the old way) gets no memory" nib_negative_control
echo "negative control: exit $NIB_NEG_RC ($NIB_NEG_REASON), hugetlb.$page_key.events max $NIB_NEG_EVENTS"

# ---- a non-root pod in vhost client mode: the dataplane creates the socket ----------------------
pod_c_uid=$((NIB_POD_A_UID + 1))
must "pod-c: Allocate + CNI ADD through the client-mode network config" nib_pod_sandbox c "$NIB_CONFLIST_CLIENT"
client_socket_ok() {
  local slot
  slot=$NIB_SLOT_DIR/$(nib_pod_device c)
  [ "$(stat -c '%g %a' "$slot")" = "$NIB_SLOT_GROUP 2770" ] &&
    [ "$(stat -c '%U %g %a' "$slot/vhost.sock")" = "root $NIB_SLOT_GROUP 660" ] &&
    [ "$(jq -r .vhostMode "$slot/ena-dpdk.json")" = client ]
}
check "pod-c's socket, made by the dataplane, is root:$NIB_SLOT_GROUP 0660 in its setgid slot" client_socket_ok
must "pod-c's testpmd (uid $pod_c_uid, virtio_user client) starts" nib_pod_start c a
three_connected() { [ "$(connected_count)" = 3 ]; }
check "pod-c connects to the dataplane's socket" wait_for 30 three_connected
check "pod-c's app runs as uid $pod_c_uid in its own limit-0 pod cgroup" \
  sh -c "[ '$(pod_info c .uid)' = $pod_c_uid ] && [ '$(pod_info c '[.hugetlbLimits[]] | add')' = 0 ]"
check "ping from the VPC to pod-c is answered" nib_ping c
nib_pod_stop c
check "pod-c exited cleanly (exit status $(cat "$(nib_pod_dir c)/exit-status" 2>/dev/null))" \
  test "$(cat "$(nib_pod_dir c)/exit-status" 2>/dev/null)" = 0
check "CNI DEL of pod-c" nib_cni_del c
check "pod-c's port, lease and pod cgroup are gone" \
  sh -c "[ $(port_count) = 2 ] && [ $(leases_naming "$(nib_container_id c)") = 0 ] && [ ! -e $NIB_RUNNER_STATE/pod-c ]"

# ---- failure 1: kill -9 the dataplane mid-traffic, restart it -----------------------------------
check "pod-a streams (txonly)" nib_pod_fwd a txonly
b_before=$(nib_port_counter b txPackets)
check "traffic flows before the kill" wait_for 30 counter_above b txPackets "$((b_before + 1000))"
kill -9 "$(nib_pid dataplane)"
nib_stop dataplane
must "the dataplane restarts" nib_start_dataplane
check "the restarted dataplane restored both ports" \
  test "$(ctl_json ports | jq --arg a "$(nib_port_id a)" --arg b "$(nib_port_id b)" \
    '[.ports[] | select(.id == $a or .id == $b)] | length')" -eq 2
check "both server-mode pods reconnect" wait_for 30 both_connected
read -r b_rx2 _ < <(nib_pod_port_stats b)
check "pod-a -> pod-b traffic resumes through the new dataplane" wait_for 20 counter_above b txPackets 1000
read -r b_rx3 _ < <(nib_pod_port_stats b)
check "pod-b receives again after the restart" test "$b_rx3" -gt "$b_rx2"
check "pod-a answers ping again (icmpecho)" nib_pod_fwd a icmpecho
check "ping from the VPC works again after the restart" nib_ping a
check "the device plugin kept the attachments healthy across the restart" \
  test "$(resources | jq --arg r "$NIB_ENA_RESOURCE" '[.resources[] | select(.name == $r) | .devices[] |
    select(.health == "Healthy")] | length')" -eq "$NIB_SLOTS"
check "still no spoofed frames" test "$(port_drops spoofed)" -eq 0

# ---- failure 2: restart the kubelet stand-in ----------------------------------------------------
registered_before=$(registered_ok)
nib_stop standin
must "the kubelet stand-in starts again" nib_start_standin
all_registered() {
  [ "$(resources | jq '[.resources[] | select(.streaming and .registrations == 1)] | length')" -eq "$registrations" ]
}
check "the device plugin re-registers every resource with the new kubelet" wait_for 10 all_registered
check "the plugin counted the new registrations" wait_for 5 registrations_above "$((registered_before + 2))"
check "the pods' allocations survived the restart (checkpoint)" \
  test "$(resources | jq '[.resources[] | .devices[] | select(.pod != "")] | length')" -eq "$pod_devices"
check "pods keep working across a kubelet restart" nib_ping b

# ---- failure 3: CNI DEL while the dataplane is down, then GC after its restart ------------------
nib_pod_stop b
check "pod-b exited cleanly (testpmd quit, exit status $(cat "$(nib_pod_dir b)/exit-status" 2>/dev/null))" \
  test "$(cat "$(nib_pod_dir b)/exit-status" 2>/dev/null)" = 0
kill -9 "$(nib_pid dataplane)"
nib_stop dataplane
check "CNI DEL of pod-b succeeds while the dataplane is down" nib_cni_del b
check "the CNI recorded the port it could not delete" test "$(pending_deletes)" -eq 1
must "the dataplane restarts" nib_start_dataplane
check "the restarted dataplane finished the CNI's pending delete itself" \
  sh -c "[ '$(ctl_json ports | jq -r '[.ports[].id] | join(" ")')' = '$(nib_port_id a)' ] && [ $(pending_deletes) -eq 0 ]"
# GC as a 1.1.0 runtime sends it (Debian's libcni predates GC): the attachments still valid.
gc_conf=$(jq --arg cid "$(nib_container_id a)" --arg ifname "$NIB_IFNAME" \
  '.plugins[0] + {cniVersion: "1.1.0", name: .name,
                  "cni.dev/valid-attachments": [{containerID: $cid, ifname: $ifname}]}' \
  "$NIB_CONFLIST")
gc() { CNI_COMMAND=GC CNI_PATH=$NIB_CNI_BIN "$NIB_CNI_PLUGIN" <<<"$gc_conf"; }
check "CNI GC succeeds" gc
check "after GC only pod-a's port is left" \
  test "$(ctl_json ports | jq -r '[.ports[].id] | join(" ")')" = "$(nib_port_id a)"
check "after GC no pending delete is left" test "$(pending_deletes)" -eq 0
check "after GC pod-b holds no lease" test "$(leases_naming "$(nib_container_id b)")" -eq 0
check "after GC pod-a still holds its lease" test "$(leases_naming "$(nib_container_id a)")" -ge 1
check "after GC pod-b's slot has no socket and no ena-dpdk.json" \
  sh -c "[ -z \"\$(find $NIB_SLOT_DIR/$(nib_pod_device b) -type s)\" ] && [ ! -e $NIB_SLOT_DIR/$(nib_pod_device b)/ena-dpdk.json ]"
check "pod-a reconnects to the restarted dataplane" wait_for 30 one_connected
check "ping pod-a after GC" nib_ping a

# ---- teardown: nothing may be left -------------------------------------------------------------
nib_pod_stop a
check "pod-a exited cleanly (testpmd quit, exit status $(cat "$(nib_pod_dir a)/exit-status" 2>/dev/null))" \
  test "$(cat "$(nib_pod_dir a)/exit-status" 2>/dev/null)" = 0
check "neither pod's testpmd ever got SIGBUS" sh -c "! grep -qi sigbus $(nib_pod_dir a)/testpmd.log $(nib_pod_dir b)/testpmd.log"
check "CNI DEL of pod-a" nib_cni_del a
check "no dataplane port is left" test "$(port_count)" -eq 0
check "no IPAM lease is left" test -z "$(lease_files)"
check "no vhost-user socket is left in the slots" test -z "$(sockets_under "$NIB_SLOT_DIR")"
check "no ena-dpdk.json is left in the slots" test -z "$(find "$NIB_SLOT_DIR" -name ena-dpdk.json)"
check "the stand-in released both pods" test "$(resources | jq '.allocations | length')" -eq 0
nib_stop deviceplugin
nib_stop dataplane
nib_stop standin
check "no daemon socket is left (control, device plugins, kubelet)" \
  test -z "$(sockets_under "$NIB_ROOT")"
check "no container is left" sh -c "! runc list -q | grep -q '^nib-$NIB_NAME-'"
pages_file=$NIB_2M_FILE/nr_hugepages
[ "$pod_pages" = 1G ] && pages_file=$NIB_1G_FILE/nr_hugepages
pages_before=$(cat "$pages_file")
added=$(cat "$NIB_STATE/hugepages-added-$pod_pages")
nib_teardown
check "teardown gave back the $pod_pages pages node prep added ($added)" \
  test "$(cat "$pages_file")" -eq "$((pages_before - added))"
check "no mount is left" sh -c "! grep -q ' $NIB_DIR' /proc/mounts"
check "no namespace is left" sh -c "! ip netns list | grep -q '^nib-$NIB_NAME-'"
check "no veth is left" sh -c "! ip link show $NIB_UPLINK >/dev/null 2>&1"
check "no cgroup is left (pods, daemons, hugepage allocations)" sh -c "! ls -d /sys/fs/cgroup/*$NIB_CGROUP_TOP >/dev/null 2>&1"
check "no DPDK runtime directory is left" sh -c "! ls -d /var/run/dpdk/nib${NIB_NAME}* >/dev/null 2>&1"
# (A function, not sh -c, whose own command line would name the directory.)
no_process_left() { ! pgrep -f -- "$NIB_DIR" >/dev/null; }
check "no process is left" no_process_left
check "the work directory is gone" test ! -e "$NIB_DIR"
summary e2e_test
