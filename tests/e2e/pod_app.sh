#!/bin/sh
# The app of a node-in-a-box pod, run inside its container (pod-runner): an interactive testpmd on
# virtio_user, configured only from what the container has, as a DPDK app in a real pod would:
#   ENA_DPDK_DEVICES               the dpdk.aws/ena attachment (device plugin Allocate)
#   /var/run/vhost-user/<id>/ena-dpdk.json  socket path, vhost mode, MAC, IPs (written by the CNI)
#   ENA_DPDK_HUGEPAGES_<size>_EAL  the EAL arguments of the hugepages allocation (device plugin)
#   PEER_IP                        where txonly streams to (the pod spec's env)
# It answers ping (icmpecho); commands arrive on stdin. Exit status: testpmd's.
set -eu
slots=/var/run/vhost-user
device=${ENA_DPDK_DEVICES%%,*}
[ -n "$device" ] || { echo "pod-app: ENA_DPDK_DEVICES is not set" >&2; exit 1; }
info=$slots/$device/ena-dpdk.json
[ -r "$info" ] || { echo "pod-app: cannot read $info" >&2; exit 1; }
eal=${ENA_DPDK_HUGEPAGES_1GI_EAL:-${ENA_DPDK_HUGEPAGES_2MI_EAL:-}}
[ -n "$eal" ] || { echo "pod-app: no ENA_DPDK_HUGEPAGES_*_EAL (no dpdk.aws/hugepages allocation)" >&2; exit 1; }
socket=$(jq -r .socketPath "$info")
mac=$(jq -r .mac "$info")
queues=$(jq -r '.queues // 1' "$info")
ip=$(jq -r '.ips[0] | split("/")[0]' "$info")
server=1
[ "$(jq -r .vhostMode "$info")" = client ] && server=0
echo "pod-app: uid $(id -u) gid $(id -g) groups $(id -G | tr ' ' ','); device $device, socket $socket (server=$server), mac $mac, ip $ip"
echo "pod-app: EAL $eal"
# The allocation's arguments replace -m/--socket-mem/--huge-dir/--file-prefix; --in-memory or a
# fresh prefix would fault new pages in this pod's cgroup, whose hugetlb limit is 0.
# shellcheck disable=SC2086 # $eal is a list of arguments
exec stdbuf -oL -eL dpdk-testpmd -l 0,1 --main-lcore 1 --no-pci $eal \
  --vdev "net_virtio_user0,path=$socket,server=$server,mac=$mac,queues=$queues,queue_size=1024" -- \
  -i --nb-cores=1 --rxd=1024 --txd=1024 --total-num-mbufs=8192 --txpkts=64 \
  --tx-ip="$ip,${PEER_IP:-$ip}" --eth-peer="0,$mac"
