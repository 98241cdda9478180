#!/usr/bin/env bash
# Integration test of ena-dpdk-dataplane with real DPDK: testpmd processes on virtio_user ports
# are the pods, a network namespace behind a veth pair (net_af_packet uplink) is the VPC.
# Usage: dataplane_integration_test.sh BUILD_DIR
set -u
build=${1:?usage: $0 BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../support/dpdk_env.sh
. "$here/../support/dpdk_env.sh"
require dpdk-testpmd ip ping jq

DP=$build/vhostuser/ena-dpdk-dataplane
CTLBIN=$build/vhostuser/ena-dpdk-ctl
tmp=$(mktemp -d /tmp/ena-dpdk-dpit.XXXXXX)
ns=enadpdk-vpc-$$
host_if=edp$$
ns_if=evpc$$
huge=$tmp/huge
pids=()

cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  [ -n "${dp_pid:-}" ] && kill "$dp_pid" 2>/dev/null
  wait 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  ip link del "$host_if" 2>/dev/null
  umount "$huge" 2>/dev/null || umount -l "$huge" 2>/dev/null
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
  rm -rf "/var/run/dpdk/dpit$$" /var/run/dpdk/pod*$$
}
trap cleanup EXIT

ctl() { "$CTLBIN" --socket "$tmp/dp.sock" "$@"; }
connected_ports() { ctl -o json ports | jq '[.ports[] | select(.connected)] | length'; }
# After a pod stops, its counters settle once the switch has seen its ports go.
no_port_connected() { [ "$(connected_ports)" = 0 ]; }
port_json() { ctl -o json port get "$1" | jq -r ".port$2 // 0"; }
net_json() { ctl -o json networks | jq -r ".networks[] | select(.name==\"$1\") | .uplink$2 // 0"; }

ensure_hugepages 1536 || exit 1
mkdir -p "$huge" "$tmp/vhost"
mount -t hugetlbfs -o pagesize=2M nodev "$huge" || exit 1

# The "VPC": a namespace with 10.99.0.1/24 behind a veth pair; the host end is the uplink.
ip netns add "$ns"
ip link add "$host_if" type veth peer name "$ns_if"
ip link set "$ns_if" netns "$ns"
sysctl -qw "net.ipv6.conf.$host_if.disable_ipv6=1"
# Jumbo frames between the VPC and the pods (the af_packet ring frames below hold 9001 MTU).
ip link set "$host_if" mtu 9001
ip -n "$ns" link set "$ns_if" mtu 9001
ip link set "$host_if" up
ip -n "$ns" addr add 10.99.0.1/24 dev "$ns_if"
ip -n "$ns" link set "$ns_if" up
ip -n "$ns" link set lo up
eni_mac=$(cat "/sys/class/net/$host_if/address")

cat >"$tmp/config.json" <<JSON
{"dataplane": {
  "eal": ["-l", "0,1", "--main-lcore", "0", "--file-prefix", "dpit$$", "--no-pci", "-m", "512",
          "--huge-dir", "$huge"],
  "workers": [1],
  "controlSocket": "$tmp/dp.sock",
  "stateFile": "$tmp/state/dataplane-state.json",
  "metricsAddress": "127.0.0.1:0",
  "allowedSocketDirs": ["$tmp/vhost"],
  "mbufs": 8192,
  "maxPorts": 52,
  "networks": [
    {"name": "local", "mode": "l2"},
    {"name": "jumbo", "mode": "l2", "mtu": 9001},
    {"name": "vpc", "mode": "vpc", "mtu": 9001,
     "uplink": {"device": "net_af_packet$$,iface=$host_if,framesz=9216,blocksz=36864,framecnt=512"}}
  ]}}
JSON

start_dataplane() {
  "$DP" --config "$tmp/config.json" >>"$tmp/dp.log" 2>&1 &
  dp_pid=$!
  if ! wait_for 20 ctl health >/dev/null; then
    echo "FATAL: the dataplane did not come up; its log:" >&2
    tail -20 "$tmp/dp.log" >&2
    exit 1
  fi
}

# start_pod NAME FORWARD-MODE EXTRA-TESTPMD-ARGS VDEV...: a testpmd "pod" (forwarding on lcore 0).
start_pod() {
  local name=$1 mode=$2 extra=()
  read -ra extra <<<"$3"
  shift 3
  local vdevs=()
  for v in "$@"; do vdevs+=(--vdev "$v"); done
  dpdk-testpmd -l 0,1 --main-lcore 1 --file-prefix "pod$name$$" --no-pci --single-file-segments \
    -m 256 --huge-dir "$huge" "${vdevs[@]}" -- --forward-mode="$mode" --stats-period 1 \
    --nb-cores=1 "${extra[@]}" >"$tmp/pod-$name.log" 2>&1 &
  pids+=($!)
  eval "pod_$name=$!"
}
# stop_pod NAME: SIGTERM, wait; testpmd prints its final per-port statistics.
stop_pod() {
  local var="pod_$1"
  kill -TERM "${!var}"
  wait "${!var}" 2>/dev/null
}
# pod_stat NAME PORT FIELD: from testpmd's final "Forward statistics for port N" block.
pod_stat() {
  awk -v port="$2" -v field="$3" '
    /Forward statistics for port/ { p = ($6 == port) }
    p && $0 ~ field"-packets:" { for (i = 1; i <= NF; i++) if ($i == field"-packets:") { print $(i+1); exit } }
  ' "$tmp/pod-$1.log"
}

start_dataplane
check "dataplane serves health" ctl health
check "control socket is mode 0600" test "$(stat -c %a "$tmp/dp.sock")" = 600

# --- bad requests change nothing ------------------------------------------------------------
ctl port add --id good --network local --socket-path "$tmp/vhost/good.sock" --vhost-mode server >/dev/null
cp "$tmp/state/dataplane-state.json" "$tmp/state-before.json"
long="$tmp/vhost/$(printf 'x%.0s' $(seq 1 120)).sock"
bad() {  # bad EXPECTED-TEXT ARGS...
  local expect=$1
  shift
  ctl port add "$@" >"$tmp/bad.out" 2>"$tmp/bad.err"
  local rc=$?
  [ $rc -ne 0 ] && grep -q -- "$expect" "$tmp/bad.err"
}
check "over-long socket path refused" bad "socket_path:.*longer than the 107" --id b1 --network local --socket-path "$long" --vhost-mode server
check "unknown network refused" bad "network: unknown network" --id b2 --network nope --socket-path "$tmp/vhost/b2.sock" --vhost-mode server
check "conflicting id refused" bad "ALREADY_EXISTS: id: port \"good\" exists" --id good --network local --socket-path "$tmp/vhost/other.sock" --vhost-mode server
check "bad MAC refused" bad "mac:" --id b3 --network local --socket-path "$tmp/vhost/b3.sock" --vhost-mode server --mac 01:02:03
check "bad CIDR refused" bad "ips\[0\]:" --id b4 --network vpc --socket-path "$tmp/vhost/b4.sock" --vhost-mode server --ip 10.99.0.300/24
check "path outside allowed dirs refused" bad "outside the allowed directories" --id b5 --network local --socket-path /tmp/elsewhere.sock --vhost-mode server
check "relative path refused" bad "not an absolute path" --id b6 --network local --socket-path rel.sock --vhost-mode server
check "vpc port with a foreign MAC refused" bad "use the ENI's MAC" --id b7 --network vpc --socket-path "$tmp/vhost/b7.sock" --vhost-mode server --mac 02:00:00:00:00:77 --ip 10.99.0.77/24
check "bad requests left the port table alone" test "$(ctl -o json ports | jq '.ports | length')" -eq 1
check "bad requests left the state file alone" cmp -s "$tmp/state/dataplane-state.json" "$tmp/state-before.json"
check "identical AddPort is idempotent" ctl port add --id good --network local --socket-path "$tmp/vhost/good.sock" --vhost-mode server
check "DeletePort of a missing port succeeds" ctl port del missing
ctl port del good >/dev/null

# --- l2: two pods exchange traffic; counters match testpmd's -----------------------------------
ctl port add --id podA/net1 --network local --socket-path "$tmp/vhost/a.sock" --vhost-mode server >/dev/null
ctl port add --id podB/net1 --network local --socket-path "$tmp/vhost/b.sock" --vhost-mode server >/dev/null
start_pod ab flowgen "--txpkts=64" "net_virtio_user0,path=$tmp/vhost/a.sock,server=1" \
  "net_virtio_user1,path=$tmp/vhost/b.sock,server=1"
check "l2 pods connect" wait_for 30 sh -c "[ \"\$($CTLBIN --socket $tmp/dp.sock -o json ports | jq '[.ports[] | select(.connected)] | length')\" = 2 ]"
check "l2 traffic flows both ways" wait_for 30 sh -c "[ \$($CTLBIN --socket $tmp/dp.sock -o json port get podB/net1 | jq -r '.port.counters.txPackets // 0') -gt 10000 ]"
stop_pod ab
wait_for 10 no_port_connected
a_tx=$(pod_stat ab 0 TX); b_tx=$(pod_stat ab 1 TX); b_rx=$(pod_stat ab 1 RX)
sw_a_rx=$(port_json podA/net1 .counters.rxPackets); sw_b_rx=$(port_json podB/net1 .counters.rxPackets)
sw_b_tx=$(port_json podB/net1 .counters.txPackets)
echo "l2: pod A sent $a_tx, switch got $sw_a_rx; pod B sent $b_tx, switch got $sw_b_rx; switch sent B $sw_b_tx, B received $b_rx"
# Exact but for frames still in the pod's TX ring (virtio_user queue_size 256) when it closed it.
check "switch RX from pod A equals what pod A sent" test "$sw_a_rx" -le "$a_tx" -a "$sw_a_rx" -ge $((a_tx - 256))
check "switch RX from pod B equals what pod B sent" test "$sw_b_rx" -le "$b_tx" -a "$sw_b_rx" -ge $((b_tx - 256))
check "pod B received what the switch sent it (less what was in flight at stop)" \
  test "$b_rx" -le "$sw_b_tx" -a "$b_rx" -ge $((sw_b_tx * 99 / 100))

# --- hot plug: ports come and go on another network while the pair streams -------------------
# 50 ports (every other one the dataplane's socket, the others a pod's it keeps reconnecting to)
# are added and removed while the pair streams; the first four are connected to a pod that sends
# on all of them (hot1's frames to hot3's IP; txonly never drains its RX rings, so hot3's fill
# up), so removing them tears down live devices under traffic (destroy_device waits for an RCU
# grace period). The 53rd port exceeds maxPorts (52) and is refused.
pair_counters() {  # sums of the pair's counters, as JSON
  ctl -o json ports | jq '[.ports[] | select(.network == "local") | .counters] |
    { rx: (map(.rxPackets | tonumber) | add), tx: (map(.txPackets | tonumber) | add),
      txfull: (map(.dropTxFull | tonumber) | add), notconn: (map(.dropNotConnected | tonumber) | add),
      other: (map((.dropNoRoute, .dropSpoofed, .dropMacTableFull, .dropOther) | tonumber) | add) }'
}
before=$(pair_counters)
start_pod ab2 flowgen "--txpkts=64" "net_virtio_user0,path=$tmp/vhost/a.sock,server=1" \
  "net_virtio_user1,path=$tmp/vhost/b.sock,server=1"
base_a=$(port_json podA/net1 .counters.txPackets)
check "pair streams again" wait_for 30 sh -c "[ \$($CTLBIN --socket $tmp/dp.sock -o json port get podA/net1 | jq -r '.port.counters.txPackets // 0') -gt $((base_a + 10000)) ]"
added=0
for i in $(seq 1 50); do
  mode=client
  [ $((i % 2)) = 0 ] && [ "$i" -gt 4 ] && mode=server
  ctl port add --id "hot$i" --network vpc --socket-path "$tmp/vhost/hot$i.sock" --vhost-mode $mode \
    --ip "10.99.1.$i/24" >/dev/null 2>"$tmp/hotplug.err" || break
  added=$i
  if [ "$i" = 4 ]; then
    start_pod hot txonly "--txpkts=64 --tx-ip=10.99.1.1,10.99.1.3 --eth-peer=0,$eni_mac" \
      "net_virtio_user0,path=$tmp/vhost/hot1.sock,mac=$eni_mac" \
      "net_virtio_user1,path=$tmp/vhost/hot2.sock,mac=$eni_mac" \
      "net_virtio_user2,path=$tmp/vhost/hot3.sock,mac=$eni_mac" \
      "net_virtio_user3,path=$tmp/vhost/hot4.sock,mac=$eni_mac"
    wait_for 30 sh -c "[ \$($CTLBIN --socket $tmp/dp.sock -o json port get hot1 | jq -r '.port.counters.rxPackets // 0') -gt 1000 ]"
  fi
done
echo "hot plug: $added ports added while streaming"
check "50 ports added while the pair streams" test "$added" -eq 50
check "a pod streams between hot-plugged ports" test "$(port_json hot1 .counters.rxPackets)" -gt 1000 \
  -a "$(port_json hot3 .counters.txPackets)" -gt 0 \
  -a $(($(port_json hot3 .counters.txPackets) + $(port_json hot3 .counters.dropTxFull))) -gt 1000
check "the port beyond maxPorts is refused cleanly" \
  sh -c "! $CTLBIN --socket $tmp/dp.sock port add --id hot51 --network vpc --socket-path $tmp/vhost/hot51.sock --vhost-mode client --ip 10.99.1.51/24 2>$tmp/hotplug.err && grep -q 'RESOURCE_EXHAUSTED: all 52 ports are in use (dataplane.maxPorts)' $tmp/hotplug.err"
check "the refused port left no socket" test ! -e "$tmp/vhost/hot51.sock"
plug_ok=1
for i in $(seq 1 "$added"); do ctl port del "hot$i" >/dev/null || plug_ok=0; done
check "every hot-plugged port removed while streaming" test "$plug_ok" = 1 -a "$(ctl -o json ports | jq '.ports | length')" -eq 2
check "removed ports' sockets are gone" test -z "$(ls "$tmp"/vhost/hot*.sock 2>/dev/null)"
stop_pod hot
stop_pod ab2
wait_for 10 no_port_connected
acct=$(jq -n --argjson a "$before" --argjson b "$(pair_counters)" \
  '{rx: ($b.rx - $a.rx), tx: ($b.tx - $a.tx), txfull: ($b.txfull - $a.txfull),
    notconn: ($b.notconn - $a.notconn), other: ($b.other - $a.other)}' | tr -d ' \n')
echo "hot plug accounting for the pair's run: $acct"
# A frame the switch received is sent, or dropped because the peer's queue was full; when
# testpmd stops, what is left in one port's TX ring (at most 256 per direction) may meet a peer
# it has already closed (not_connected).
check "every frame the pair sent was delivered or dropped for a full TX queue" \
  test "$(echo "$acct" | jq '.rx == .tx + .txfull + .notconn and .notconn <= 512')" = true
check "the pair lost nothing for any other reason" test "$(echo "$acct" | jq '.other')" -eq 0
check "rte_vhost was never asked for a ring the pod had not set up" \
  sh -c "! grep -q 'invalid virtqueue' $tmp/dp.log"

# --- jumbo: 9001-MTU frames between two pods ---------------------------------------------------
ctl port add --id podJ1/net1 --network jumbo --socket-path "$tmp/vhost/j1.sock" --vhost-mode server >/dev/null
ctl port add --id podJ2/net1 --network jumbo --socket-path "$tmp/vhost/j2.sock" --vhost-mode server >/dev/null
# 9015-byte frames (flowgen takes 4 bytes of FCS off --txpkts): a 9001-byte IP packet. Pod
# buffers hold a whole frame; the switch's are 2 KB (rte_vhost chains them; mergeable RX buffers
# carry them into the pod).
start_pod j flowgen "--mbuf-size=10240 --max-pkt-len=9018 --total-num-mbufs=4096 --txpkts=9019" \
  "net_virtio_user0,path=$tmp/vhost/j1.sock,server=1" "net_virtio_user1,path=$tmp/vhost/j2.sock,server=1"
check "jumbo frames flow between two pods" wait_for 30 sh -c "[ \$($CTLBIN --socket $tmp/dp.sock -o json port get podJ2/net1 | jq -r '.port.counters.txPackets // 0') -gt 1000 ]"
stop_pod j
wait_for 10 no_port_connected
j_tx=$(pod_stat j 0 TX); j_rx=$(pod_stat j 1 RX)
sw_j_rx=$(port_json podJ1/net1 .counters.rxPackets); sw_j_rxb=$(port_json podJ1/net1 .counters.rxBytes)
sw_j_tx=$(port_json podJ2/net1 .counters.txPackets); sw_j_txb=$(port_json podJ2/net1 .counters.txBytes)
echo "jumbo: pod sent $j_tx, switch got $sw_j_rx ($sw_j_rxb bytes), sent $sw_j_tx ($sw_j_txb bytes), pod received $j_rx"
check "the switch received whole 9015-byte frames" test "$sw_j_rx" -gt 0 -a "$sw_j_rxb" -eq $((sw_j_rx * 9015))
check "the switch delivered whole 9015-byte frames" test "$sw_j_tx" -gt 0 -a "$sw_j_txb" -eq $((sw_j_tx * 9015))
check "the receiving pod got what the switch delivered (less its RX ring at stop)" \
  test "$j_rx" -le "$sw_j_tx" -a "$j_rx" -ge $((sw_j_tx - 256))
check "jumbo frames lost nothing but to full queues" \
  test "$(ctl -o json ports | jq '[.ports[] | select(.network == "jumbo") | .counters | (.dropNoRoute, .dropSpoofed, .dropMacTableFull, .dropOther) | tonumber] | add')" -eq 0
ctl port del podJ1/net1 >/dev/null
ctl port del podJ2/net1 >/dev/null

# --- multi-queue: two queue pairs per port, both drained ---------------------------------------
ctl port add --id mqA/net1 --network local --socket-path "$tmp/vhost/mqa.sock" --vhost-mode server --queues 2 >/dev/null
ctl port add --id mqB/net1 --network local --socket-path "$tmp/vhost/mqb.sock" --vhost-mode server --queues 2 >/dev/null
start_pod mq flowgen "--txpkts=64 --rxq=2 --txq=2" "net_virtio_user0,path=$tmp/vhost/mqa.sock,server=1,queues=2" \
  "net_virtio_user1,path=$tmp/vhost/mqb.sock,server=1,queues=2"
check "multi-queue traffic flows both ways" wait_for 30 sh -c "[ \$($CTLBIN --socket $tmp/dp.sock -o json port get mqA/net1 | jq -r '.port.counters.txPackets // 0') -gt 10000 ]"
stop_pod mq
wait_for 10 no_port_connected
mq_tx=$(pod_stat mq 0 TX); sw_mq_rx=$(port_json mqA/net1 .counters.rxPackets)
echo "multi-queue: pod sent $mq_tx on port 0's two queues, switch got $sw_mq_rx"
# Both queues' rings were drained: all but what was left in the two TX rings (2 x 256).
check "the switch drained both queue pairs" test "$sw_mq_rx" -le "$mq_tx" -a "$sw_mq_rx" -ge $((mq_tx - 512))
# A ring nobody drains stops its stream at the ring size (256); queue 1 sent far more.
mq_q1=$(awk '/-> TX Port= 0\/Queue= 1/ { getline; print $4 }' "$tmp/pod-mq.log")
check "the pod's second queue pair was drained too" test "${mq_q1:-0}" -gt 1000
ctl port del mqA/net1 >/dev/null
ctl port del mqB/net1 >/dev/null

# --- vpc: ARP proxy, ping to a pod, spoofing, local pod-to-pod --------------------------------
ctl port add --id podC/net1 --network vpc --socket-path "$tmp/vhost/c.sock" --vhost-mode server --ip 10.99.0.10/24 >/dev/null
ctl port add --id podD/net1 --network vpc --socket-path "$tmp/vhost/d.sock" --vhost-mode server --ip 10.99.0.11/24 >/dev/null
check "vpc ports carry the ENI MAC" test "$(port_json podC/net1 .mac)" = "$eni_mac"
start_pod c icmpecho "--mbuf-size=10240 --max-pkt-len=9018" \
  "net_virtio_user0,path=$tmp/vhost/c.sock,server=1,mac=$eni_mac"
check "vpc pod connects" wait_for 10 sh -c "[ \"\$($CTLBIN --socket $tmp/dp.sock -o json port get podC/net1 | jq -r .port.connected)\" = true ]"
check "ping from the VPC to a pod IP is answered" wait_for 20 ip netns exec "$ns" ping -c 2 -i 0.2 -W 1 10.99.0.10
check "the VPC learned the pod IP at the ENI MAC (switch answered ARP)" \
  sh -c "ip -n $ns neigh show 10.99.0.10 | grep -q $eni_mac"
check "a 9001-byte ping from the VPC (jumbo through the af_packet uplink) is answered" \
  ip netns exec "$ns" ping -c 2 -i 0.2 -W 2 -M "do" -s 8973 10.99.0.10
uplink_tx_before=$(net_json vpc .counters.txPackets)
# Pod D sends with a foreign source IP, then to pod C's IP.
start_pod d txonly "--txpkts=64 --tx-ip=10.99.0.66,10.99.0.1 --eth-peer=0,$eni_mac" \
  "net_virtio_user0,path=$tmp/vhost/d.sock,server=1,mac=$eni_mac"
check "spoofed frames are dropped and counted" wait_for 20 sh -c "[ \$($CTLBIN --socket $tmp/dp.sock -o json port get podD/net1 | jq -r '.port.counters.dropSpoofed // 0') -gt 100 ]"
stop_pod d
check "spoofed frames never reached the uplink" test "$(net_json vpc .counters.txPackets)" -eq "$uplink_tx_before"
c_tx_before=$(port_json podC/net1 .counters.txPackets)
start_pod d2 txonly "--txpkts=64 --tx-ip=10.99.0.11,10.99.0.10 --eth-peer=0,$eni_mac" \
  "net_virtio_user0,path=$tmp/vhost/d.sock,server=1,mac=$eni_mac"
check "pod-to-pod traffic reaches the other pod" wait_for 20 sh -c "[ \$($CTLBIN --socket $tmp/dp.sock -o json port get podC/net1 | jq -r '.port.counters.txPackets // 0') -gt $((c_tx_before + 100)) ]"
stop_pod d2
check "pod-to-pod traffic left the uplink TX counter unchanged" test "$(net_json vpc .counters.txPackets)" -eq "$uplink_tx_before"

# --- oversized ids come back as a clear refusal, not as gRPC's header-size error (issue 20) -------
long_id=$(printf 'a%.0s' $(seq 1 10000))
for cmd in get del add; do
  case $cmd in
  add) ctl port add --id "$long_id" --network vpc --socket-path "$tmp/vhost/long.sock" \
    --vhost-mode client --ip 10.99.0.77/24 >"$tmp/long.out" 2>&1 ;;
  *) ctl port "$cmd" "$long_id" >"$tmp/long.out" 2>&1 ;;
  esac
  rc=$?
  check "port $cmd with a 10,000-byte id: refused, naming the id's limit, in a bounded message" \
    sh -c "[ $rc -ne 0 ] && grep -q 'id: longer than 253 bytes' $tmp/long.out && ! grep -q RESOURCE_EXHAUSTED $tmp/long.out && [ \$(wc -c <$tmp/long.out) -lt 2048 ]" ||
    head -c 400 "$tmp/long.out"
done
check "nothing was created by the oversized requests" test ! -e "$tmp/vhost/long.sock" -a "$(ctl -o json ports | jq '.ports | length')" -eq 4

# --- a server-mode socket swapped for a link after AddPort is not followed (issue 20 item 4) ------
# The check at AddPort sees where the path leads then; rte_vhost reconnects by path later. A pod
# that puts a link (here to a live vhost-user listener outside) in place of its socket gets its
# connection refused before any message is read.
mkdir -p "$tmp/outside"
ctl port add --id podL/net1 --network local --socket-path "$tmp/vhost/l.sock" --vhost-mode server >/dev/null
start_pod l icmpecho "" "net_virtio_user0,path=$tmp/outside/l.sock,server=1"
wait_for 20 test -S "$tmp/outside/l.sock"
ln -s "$tmp/outside/l.sock" "$tmp/vhost/l.sock"
check "a link in place of a server-mode socket: the connection through it is refused" \
  wait_for 15 grep -q "vhost-user connection refused: the socket path is no longer a socket" "$tmp/dp.log"
sleep 2
check "the port never connected through the link" test "$(port_json podL/net1 .connected)" != true
stop_pod l
ctl port del podL/net1 >/dev/null
rm -f "$tmp/vhost/l.sock"

# --- kill -9 and restart: ports restored, server-mode pods reconnect, traffic resumes -----------
check "state file holds 4 ports" test "$(jq '.ports | length' "$tmp/state/dataplane-state.json")" -eq 4
check "state file is mode 0600" test "$(stat -c %a "$tmp/state/dataplane-state.json")" = 600
kill -9 "$dp_pid"
wait "$dp_pid" 2>/dev/null
start_dataplane
check "restarted dataplane restored every port" test "$(ctl -o json ports | jq '.ports | length')" -eq 4
check "server-mode pod reconnected after restart" wait_for 15 sh -c "[ \"\$($CTLBIN --socket $tmp/dp.sock -o json port get podC/net1 | jq -r .port.connected)\" = true ]"
check "ping works again after the restart" wait_for 15 ip netns exec "$ns" ping -c 1 -W 1 10.99.0.10

# --- clean shutdown ------------------------------------------------------------------------
kill -TERM "$dp_pid"
wait "$dp_pid"
check "SIGTERM exits 0" test $? -eq 0
dp_pid=
check "control socket removed on shutdown" test ! -e "$tmp/dp.sock"
summary dataplane_integration_test
