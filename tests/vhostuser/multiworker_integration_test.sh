#!/usr/bin/env bash
# ena-dpdk-dataplane with 2 and then 4 worker lcores on two CPUs (EAL --lcores) and a 2-queue
# net_af_packet uplink: the VPC namespace pings 16 pod IPs (both uplink RX queues carry packets,
# each polled by its own worker; pods on every worker answer through the shared uplink TX
# queues), three pods on different workers stream into one pod while 50 ports are hot-plugged
# and removed, kill -9 and restore; every packet is accounted for exactly.
# Pods are interactive testpmd processes driven through a FIFO, so a stream stops before its
# counters are read and nothing is left in flight.
# Usage: multiworker_integration_test.sh BUILD_DIR
# Predicates are defined where they are used and run through check/wait_for (SC2317); jq
# programs are single-quoted on purpose (SC2016).
# shellcheck disable=SC2317,SC2016
set -u
build=${1:?usage: $0 BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../support/dpdk_env.sh
. "$here/../support/dpdk_env.sh"
require dpdk-testpmd ip ping jq python3 stdbuf

DP=$build/vhostuser/ena-dpdk-dataplane
CTLBIN=$build/vhostuser/ena-dpdk-ctl
if [ ! -x "$DP" ] || [ ! -x "$CTLBIN" ]; then
  echo "FATAL: $DP and $CTLBIN must be built" >&2
  exit 1
fi
tmp=$(mktemp -d /tmp/ena-dpdk-mwit.XXXXXX)
ns=enadpdk-mw-$$
host_if=emw$$
ns_if=emwv$$
huge=$tmp/huge
pods=()

stop_all() {
  for p in "${pods[@]}"; do kill "${p#*:}" 2>/dev/null; done
  [ -n "${dp_pid:-}" ] && kill "$dp_pid" 2>/dev/null
  wait 2>/dev/null
  pods=()
  dp_pid=
}
cleanup() {
  stop_all
  ip netns del "$ns" 2>/dev/null
  ip link del "$host_if" 2>/dev/null
  umount "$huge" 2>/dev/null || umount -l "$huge" 2>/dev/null
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
  rm -rf /var/run/dpdk/mw*$$
}
trap cleanup EXIT

ctl() { "$CTLBIN" --socket "$tmp/dp.sock" "$@"; }
ensure_hugepages 1024 || exit 1
mkdir -p "$huge" "$tmp/vhost"
mount -t hugetlbfs -o pagesize=2M nodev "$huge" || exit 1

# The VPC: a namespace behind a veth pair whose host end is the uplink. Nothing but the switch
# and the namespace may put frames on the pair (no IPv6, no forwarding by the host), so the
# pair's counters and the uplink's must agree exactly.
ip netns add "$ns"
ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip link add "$host_if" type veth peer name "$ns_if"
ip link set "$ns_if" netns "$ns"
sysctl -qw "net.ipv6.conf.$host_if.disable_ipv6=1" "net.ipv4.conf.$host_if.forwarding=0"
ip link set "$host_if" up
ip -n "$ns" addr add 10.99.0.1/24 dev "$ns_if"
ip -n "$ns" link set "$ns_if" up
eni_mac=$(cat "/sys/class/net/$host_if/address")
ns_count() { ip netns exec "$ns" cat "/sys/class/net/$ns_if/statistics/$1_packets"; }

# --- pods: interactive testpmd on virtio_user (server mode), commands through a FIFO ----------
# start_pod NAME MODE "EXTRA-ARGS" VDEV...: starts a pod in the background.
start_pod() {
  local name=$1 mode=$2 extra=() vdevs=() fd
  read -ra extra <<<"$3"
  shift 3
  for v in "$@"; do vdevs+=(--vdev "$v"); done
  mkfifo "$tmp/$name.in"
  # Forwarding on CPU 1, leaving CPU 0 to the dataplane's control thread and its workers there.
  stdbuf -oL dpdk-testpmd -l 0,1 --main-lcore 0 --file-prefix "mw$name$$" --no-pci --single-file-segments \
    -m 128 --huge-dir "$huge" "${vdevs[@]}" -- -i --forward-mode="$mode" --nb-cores=1 \
    --total-num-mbufs=8192 "${extra[@]}" <"$tmp/$name.in" >"$tmp/pod-$name.log" 2>&1 &
  local pid=$!
  exec {fd}>"$tmp/$name.in"
  pods+=("$name:$pid")
  eval "fd_$name=$fd ports_$name=$#"
}
# pods_ready NAME...: waits for each pod's prompt (pods start in parallel).
pods_ready() {
  for name in "$@"; do
    wait_for 60 grep -q "testpmd>" "$tmp/pod-$name.log" ||
      { echo "FATAL: pod $name did not start:" >&2; tail -5 "$tmp/pod-$name.log" >&2; exit 1; }
  done
}
# pod_cmd NAME COMMAND PATTERN: runs a testpmd command, waits for PATTERN in what it printed.
pod_cmd() {
  local log=$tmp/pod-$1.log fd="fd_$1" from
  from=$(($(wc -l <"$log") + 1))
  echo "$2" >&"${!fd}"
  wait_for 20 sh -c "tail -n +$from '$log' | grep -q '$3'"
}
# pod_stats NAME: prints "RX TX" for each testpmd port, one line per port (since the pod started).
pod_stats() {
  local log=$tmp/pod-$1.log from
  from=$(($(wc -l <"$log") + 1))
  local ports="ports_$1"
  pod_cmd "$1" "show port stats all" "Tx-pps" || return 1
  blocks_done() { [ "$(tail -n +"$from" "$log" | grep -c 'Tx-pps')" -ge "${!ports}" ]; }
  wait_for 10 blocks_done || return 1
  tail -n +"$from" "$log" | awk '/RX-packets:/ { rx = $2 } /TX-packets:/ { print rx, $2 }'
}

# --- the dataplane --------------------------------------------------------------------------
start_dataplane() {
  "$DP" --config "$tmp/config.json" >>"$tmp/dp-$nw.log" 2>&1 &
  dp_pid=$!
  wait_for 30 ctl health >/dev/null ||
    { echo "FATAL: the dataplane did not come up:" >&2; tail -20 "$tmp/dp-$nw.log" >&2; exit 1; }
}
stats() { ctl -o json stats; }
# port_field STATS-JSON ID FIELD
port_field() { jq -r --arg id "$2" ".ports[] | select(.id == \$id) | .counters.$3 | tonumber" <<<"$1"; }
# uplink_queue_rx: "Q0 Q1", the uplink's packets received per RX queue (DPDK telemetry xstats).
uplink_queue_rx() {
  python3 - "/var/run/dpdk/mwdp$nw$$/dpdk_telemetry.v2" "$uplink_port" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
s.recv(65536)
s.send(("/ethdev/xstats,%s" % sys.argv[2]).encode())
x = json.loads(s.recv(1 << 20))["/ethdev/xstats"]
print(x["rx_q0_packets"], x["rx_q1_packets"])
PY
}
# jq: everything the switch received on the vpc network (pods and uplink) and what it sent or
# counted as a drop, summed over every vpc port and the uplink (flooding is l2-only, so the two
# are equal when nothing is lost silently).
JQDEFS='def vpc_balance_of(s): [(s.ports[] | select(.network == "vpc")),
    (s.networks[] | select(.name == "vpc") | .uplink)] | map(.counters | map_values(tonumber))
  | {rx: (map(.rxPackets) | add), out: (map(.txPackets + .dropNoRoute + .dropSpoofed
      + .dropTxFull + .dropNotConnected + .dropMacTableFull + .dropOther) | add)};
  def rx(s; $id): s.ports[] | select(.id == $id) | .counters | map_values(tonumber);
  def balance(a; b): [vpc_balance_of(a), vpc_balance_of(b)]
    | {rx: (.[1].rx - .[0].rx), out: (.[1].out - .[0].out)};'

# --- d) the VPC pings 16 pod IPs through the 2-queue uplink -----------------------------------
# Four echo ports (4 IPs each, one per worker slot) answer through one icmpecho pod. Counters
# are compared as differences over the phase, with nothing in flight at either end.
ping_phase() {
  local label="[$nw workers, $1]" s0 s1 e0 e1 q0 q1 ns0 ns1 pids=() ip answered=0 d
  # Every phase starts with the namespace's neighbours unresolved: each pod IP is resolved by a
  # broadcast ARP request the switch answers, and no unicast probe comes late into the counters.
  ip -n "$ns" neigh flush dev "$ns_if"
  pod_cmd echo start "forwards packets" || echo "FATAL: the echo pod did not start forwarding"
  s0=$(stats); q0=$(uplink_queue_rx); ns0="$(ns_count tx) $(ns_count rx)"; e0=$(pod_stats echo)
  for ip in $echo_ips; do
    ip netns exec "$ns" ping -q -c 10 -i 0.02 -W 10 "$ip" >"$tmp/ping-$ip" 2>&1 &
    pids+=($!)
  done
  wait "${pids[@]}"
  for ip in $echo_ips; do grep -q "10 packets transmitted, 10 received" "$tmp/ping-$ip" && answered=$((answered + 1)); done
  s1=$(stats); q1=$(uplink_queue_rx); ns1="$(ns_count tx) $(ns_count rx)"; e1=$(pod_stats echo)
  pod_cmd echo stop "Done." || echo "FATAL: the echo pod did not stop forwarding"
  d=$(jq -n --argjson a "$s0" --argjson b "$s1" --arg q "$q0 $q1" --arg ns "$ns0 $ns1" \
    --arg e "$(paste <(echo "$e0") <(echo "$e1"))" "$JQDEFS"'
    def up(s): s.networks[] | select(.name == "vpc") | .uplink.counters | map_values(tonumber);
    ($q | split(" ") | map(tonumber)) as $q | ($ns | split(" ") | map(tonumber)) as $ns
    | [$a.ports[] | select(.id | startswith("echo")) | {id, w: .workerLcore}] as $echo
    | {ns_tx: ($ns[2] - $ns[0]), ns_rx: ($ns[3] - $ns[1]),
       up_rx: (up($b).rxPackets - up($a).rxPackets), up_tx: (up($b).txPackets - up($a).txPackets),
       up_txfull: (up($b).dropTxFull - up($a).dropTxFull),
       q: [$q[2] - $q[0], $q[3] - $q[1]],
       # What each worker received from the uplink: all it received less its pod ports share.
       worker_uplink_rx: [$b.workers[] as $w | ($a.workers[] | select(.lcore == $w.lcore)) as $v
         | ($w.rxPackets | tonumber) - ($v.rxPackets | tonumber)
           - ([$b.ports[] | select(.workerLcore == $w.lcore) | .id as $id
               | rx($b; $id).rxPackets - rx($a; $id).rxPackets] | add // 0)],
       reply_workers: ([$echo[] | .id as $id | select(rx($b; $id).rxPackets > rx($a; $id).rxPackets) | .w]
                       | unique | length),
       # pod side (testpmd) against switch side, per echo port: [pod RX, switch TX, pod TX, switch RX]
       echo: ([$e | split("\n")[] | split("\t") | map(split(" ") | map(tonumber))] as $pe
         | [range(0; $echo | length) as $i | $echo[$i].id as $id
            | [$pe[$i][1][0] - $pe[$i][0][0], rx($b; $id).txPackets - rx($a; $id).txPackets,
               $pe[$i][1][1] - $pe[$i][0][1], rx($b; $id).rxPackets - rx($a; $id).rxPackets]]),
       balance: balance($a; $b)}' \
    2>&1)
  echo "$label (${SECONDS}s) ping accounting: $(tr -d ' \n' <<<"$d")"
  dj() { jq -e "$1" <<<"$d" >/dev/null; }
  check "$label every ping to the 16 pod IPs was answered" test "$answered" -eq 16
  [ "$answered" -eq 16 ] || grep -h transmitted "$tmp"/ping-*
  check "$label both uplink RX queues carried packets" dj '.q[0] > 0 and .q[1] > 0'
  check "$label the uplink received exactly what the namespace sent (queue 0 + queue 1)" \
    dj '.up_rx == .ns_tx and .q[0] + .q[1] == .up_rx'
  check "$label the two queues were polled by two different workers" \
    dj '(.worker_uplink_rx | map(select(. != 0)) | sort) == (.q | sort) and (.q | all(. > 0))'
  check "$label the namespace received exactly what the uplink sent, none dropped" \
    dj '.up_tx == .ns_rx and .up_txfull == 0'
  check "$label pods on all $nw workers answered through the uplink" dj ".reply_workers == $nw"
  check "$label each echo pod port got what the switch sent it, and sent what the switch got" \
    dj '.echo | length == 4 and all(.[0] == .[1] and .[2] == .[3] and .[0] > 0)'
  check "$label the switch sent or counted as dropped every packet it received" \
    dj '.balance.rx == .balance.out'
}

# --- a) + c) three pods on different workers stream into one pod (while 50 ports come and go) --
# pods_tx/pods_rx NAME...: sum of the pods' TX / RX packets on their port 0.
pods_sum() {
  local col=$1 n=0 v
  shift
  for p in "$@"; do v=$(pod_stats "$p" | awk -v c="$col" 'NR == 1 { print $c }'); n=$((n + v)); done
  echo "$n"
}
sw_r_tx() { ctl -o json port get recv | jq -r '.port.counters.txPackets | tonumber'; }
# Waits for the background ena-dpdk-ctl calls of this shell (the pods run in other jobs: only
# the ctl jobs started since the last wait are waited for, by PID).
wait_ops() {
  local pid
  for pid in $(jobs -p -r); do
    case " ${pods[*]} " in *":$pid "*) continue ;; esac
    [ "$pid" = "${dp_pid:-}" ] && continue
    wait "$pid" 2>/dev/null
  done
}
stream_phase() {
  local label="[$nw workers, $1]" hotplug=$2 s0 s1 tx0 tx1 rx0 d stalled=0 last i ops=0 mode
  s0=$(stats); tx0=$(pods_sum 2 s1 s2 s3); rx0=$(pods_sum 1 recv)
  pod_cmd recv start "forwards packets" || echo "FATAL: recv did not start"
  for p in s1 s2 s3; do pod_cmd $p start "forwards packets" || echo "FATAL: $p did not start"; done
  local start_r
  start_r=$(port_field "$s0" recv txPackets)
  recv_streams() { [ "$(sw_r_tx)" -gt $((start_r + 1000)) ]; }
  check "$label the stream reaches the receiving pod" wait_for 30 recv_streams
  if [ "$hotplug" = 1 ]; then
    last=$(sw_r_tx)
    # Every 10 port changes the receiver must have got more: the stream never stops.
    sample() {
      ops=$((ops + 1))
      [ $((ops % 10)) = 0 ] || return 0
      local now
      now=$(sw_r_tx)
      [ "$now" -gt "$last" ] || stalled=$((stalled + 1))
      last=$now
    }
    # Ten calls at a time: each ena-dpdk-ctl process competes with a dozen busy-polling threads
    # for the two CPUs; the switch admits the calls one by one all the same.
    local added=0 removed=0 batch
    for batch in 0 1 2 3 4; do
      for i in $(seq $((batch * 10 + 1)) $((batch * 10 + 10))); do
        mode=client
        [ $((i % 2)) = 0 ] && mode=server
        ctl port add --id "hot$i" --network vpc --socket-path "$tmp/vhost/hot$i.sock" \
          --vhost-mode $mode --ip "10.99.1.$i/24" >"$tmp/op$i" 2>&1 &
      done
      wait_ops
      ops=$((ops + 9)); sample
    done
    added=$(ctl -o json ports | jq '[.ports[] | select(.id | startswith("hot"))] | length')
    check "$label 50 ports hot-plugged while the pods stream" test "$added" -eq 50
    check "$label the hot-plugged ports are spread over all $nw workers" test \
      "$(ctl -o json ports | jq '[.ports[] | select(.id | startswith("hot")) | .workerLcore] | unique | length')" -eq "$nw"
    for batch in 0 1 2 3 4; do
      for i in $(seq $((batch * 10 + 1)) $((batch * 10 + 10))); do
        ctl port del "hot$i" >"$tmp/op$i" 2>&1 &
      done
      wait_ops
      ops=$((ops + 9)); sample
    done
    removed=$((50 - $(ctl -o json ports | jq '[.ports[] | select(.id | startswith("hot"))] | length')))
    check "$label 50 ports removed while the pods stream" \
      test "$removed" -eq 50 -a "$(ctl -o json ports | jq '.ports | length')" -eq 8
    check "$label removed ports' sockets are gone" test -z "$(ls "$tmp"/vhost/hot*.sock 2>/dev/null)"
    echo "$label (${SECONDS}s) hot plug done"
    check "$label the stream never stalled during 100 port changes (sampled every 10)" test "$stalled" -eq 0
  fi
  for p in s1 s2 s3; do pod_cmd $p stop "Done." || echo "FATAL: $p did not stop"; done
  tx1=$(pods_sum 2 s1 s2 s3)
  # The senders have stopped; the switch drains their rings, the receiver drains its own.
  sw_from_senders() { ctl -o json stats | jq --argjson a "$s0" "$JQDEFS"'
    . as $b | [$b.ports[] | select(.id | test("^s[123]$")) | .id | rx($b; .).rxPackets - rx($a; .).rxPackets] | add'; }
  senders_drained() { [ "$(sw_from_senders)" = $((tx1 - tx0)) ]; }
  check "$label the switch received every packet the senders sent" wait_for 20 senders_drained
  d=$(stats | jq --argjson a "$s0" "$JQDEFS"'. as $b
    | {from_senders: ([$b.ports[] | select(.id | test("^s[123]$")) | .id | rx($b; .).rxPackets - rx($a; .).rxPackets] | add),
       to_recv: (rx($b; "recv").txPackets - rx($a; "recv").txPackets),
       recv_txfull: (rx($b; "recv").dropTxFull - rx($a; "recv").dropTxFull),
       recv_other: (rx($b; "recv") as $r | rx($a; "recv") as $q | ($r.dropNotConnected - $q.dropNotConnected)
         + ($r.dropNoRoute - $q.dropNoRoute) + ($r.dropSpoofed - $q.dropSpoofed) + ($r.dropOther - $q.dropOther)),
       workers: ([$b.ports[] | select(.id | test("^(s[123]|recv)$")) | .workerLcore] | unique | length),
       balance: balance($a; $b)}')
  local want_rx
  want_rx=$(jq .to_recv <<<"$d")
  recv_drained() { [ "$(pods_sum 1 recv)" = $((rx0 + want_rx)) ]; }
  wait_for 20 recv_drained
  pod_cmd recv stop "Done." || echo "FATAL: recv did not stop"
  d=$(jq --argjson sent $((tx1 - tx0)) --argjson got $(($(pods_sum 1 recv) - rx0)) '. + {sent: $sent, got: $got}' <<<"$d")
  echo "$label (${SECONDS}s) stream accounting: $(tr -d ' \n' <<<"$d")"
  dj() { jq -e "$1" <<<"$d" >/dev/null; }
  check "$label the senders and the receiver are on $nw different workers" dj ".workers == $nw"
  check "$label every packet from the senders was delivered or dropped for a full queue" \
    dj '.sent == .from_senders and .from_senders == .to_recv + .recv_txfull and .recv_other == 0'
  check "$label the receiving pod got exactly what the switch delivered" dj '.got == .to_recv and .got > 0'
  check "$label the switch sent or counted as dropped every packet it received" \
    dj '.balance.rx == .balance.out'
}

# --- each worker count: one dataplane (and its restart after kill -9) ---------------------------
echo_ips=$(for i in $(seq 10 25); do echo "10.99.0.$i"; done)
for nw in 2 4; do
  # Main lcore 0 on CPU 0, workers alternate over CPUs 1 and 0.
  lcores="0@0" workers=""
  for w in $(seq 1 "$nw"); do lcores+=",$w@$((w % 2))"; workers+="${workers:+,}$w"; done
  rm -f "$tmp"/*.in "$tmp"/vhost/* "$tmp"/state/*
  cat >"$tmp/config.json" <<JSON
{"dataplane": {
  "eal": ["--lcores", "$lcores", "--main-lcore", "0", "--file-prefix", "mwdp$nw$$", "--no-pci",
          "-m", "256", "--huge-dir", "$huge"],
  "workers": [$workers],
  "controlSocket": "$tmp/dp.sock",
  "stateFile": "$tmp/state/dataplane-state.json",
  "cniStateDir": "$tmp/cni",
  "metricsAddress": "127.0.0.1:0",
  "allowedSocketDirs": ["$tmp/vhost"],
  "mbufs": 8192,
  "maxPorts": 64,
  "networks": [{"name": "vpc", "mode": "vpc",
                "uplink": {"device": "net_af_packet$nw$$,iface=$host_if,qpairs=2", "queues": 2}}]}}
JSON
  start_dataplane
  check "[$nw workers] the dataplane runs $nw workers" \
    test "$(stats | jq '.workers | length')" -eq "$nw"
  check "[$nw workers] the uplink has 2 RX queues" \
    test "$(ctl -o json networks | jq '.networks[0].uplink.queues')" -eq 2
  uplink_port=$(ctl -o json networks | jq '.networks[0].uplink.portId')

  # Slot order spreads the ports over the workers: echo1-4 on every worker, s1-s3 and recv too.
  for k in 1 2 3 4; do
    ips=()
    for j in 0 1 2 3; do ips+=(--ip "10.99.0.$((10 + 4 * (k - 1) + j))/24"); done
    ctl port add --id "echo$k" --network vpc --socket-path "$tmp/vhost/echo$k.sock" \
      --vhost-mode server "${ips[@]}" >/dev/null || echo "FATAL: AddPort echo$k failed"
  done
  for p in s1:31 s2:32 s3:33 recv:40; do
    ctl port add --id "${p%:*}" --network vpc --socket-path "$tmp/vhost/${p%:*}.sock" \
      --vhost-mode server --ip "10.99.0.${p#*:}/24" >/dev/null || echo "FATAL: AddPort ${p%:*} failed"
  done
  vdevs=()
  for k in 1 2 3 4; do vdevs+=("net_virtio_user$((k - 1)),path=$tmp/vhost/echo$k.sock,server=1,mac=$eni_mac"); done
  start_pod echo icmpecho "" "${vdevs[@]}"
  for p in s1:31 s2:32 s3:33; do
    start_pod "${p%:*}" txonly "--txpkts=64 --tx-ip=10.99.0.${p#*:},10.99.0.40 --eth-peer=0,$eni_mac" \
      "net_virtio_user0,path=$tmp/vhost/${p%:*}.sock,server=1,mac=$eni_mac"
  done
  start_pod recv rxonly "" "net_virtio_user0,path=$tmp/vhost/recv.sock,server=1,mac=$eni_mac"
  pods_ready echo s1 s2 s3 recv
  all_connected() { [ "$(ctl -o json ports | jq '[.ports[] | select(.connected)] | length')" = 8 ]; }
  check "[$nw workers] the 8 pod ports connect" wait_for 30 all_connected

  ping_phase "fresh"
  stream_phase "hot plug" 1

  # --- b) kill -9: ports restored from the state file, pods reconnect, traffic resumes -------
  kill -9 "$dp_pid"
  wait "$dp_pid" 2>/dev/null
  start_dataplane
  check "[$nw workers, after kill -9] every port restored" test "$(ctl -o json ports | jq '.ports | length')" -eq 8
  check "[$nw workers, after kill -9] every pod reconnected" wait_for 30 all_connected
  ping_phase "after kill -9"
  stream_phase "after kill -9" 0

  kill -TERM "$dp_pid"
  wait "$dp_pid"
  check "[$nw workers] SIGTERM exits 0" test $? -eq 0
  dp_pid=
  stop_all
  check "[$nw workers] rte_vhost was never asked for a ring the pod had not set up" \
    sh -c "! grep -q 'invalid virtqueue' $tmp/dp-$nw.log"
done
summary multiworker_integration_test
