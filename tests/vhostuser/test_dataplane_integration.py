"""Integration test of ena-dpdk-dataplane with real DPDK (ctest: dataplane_integration_test).

testpmd processes on virtio_user ports are the pods; a network namespace behind a veth pair (a
net_af_packet uplink) is the VPC. The steps run in order against one dataplane: bad requests,
l2 counters against testpmd's, hot plug of 50 ports under traffic, jumbo frames, multi-queue, the
vpc network (ARP proxy, ping, spoofing, pod-to-pod; IPv6 with a pod whose kernel stack sits
behind testpmd), oversized ids, a socket swapped for a link,
kill -9 and restore, config reloads (SIGHUP and a ConfigMap-style update: a network added, MAC
aging and the metrics address changed with the same process forwarding throughout; a changed
workers key refused), a clean SIGTERM; then nothing of the run may be left.

The dataplane runs with a TX drain interval (txDrainMicroseconds, l2fwd's 100 us) throughout, so
every step also shows that held packets are delivered and counted; the multi-worker test runs
with the default (a flush every pass).
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

from dataplane_fixture import (Binaries, Dataplane, assert_teardown_leaves_nothing, is_socket, open_sandbox,
                               pod_eal, stream_tx_packets, write_config)
from dpdk_procs import (Ctl, Vpc, configure_pod_ipv6, free_tcp_port, ipv6_addresses, kernel_pod_netns, listening_port,
                        make_vpc, pod_link_local, samples, scrape, snmp6)
from dpdk_procs import Testpmd as Pod  # not "Test*": pytest would try to collect it
from sandbox import Sandbox, SandboxError, run, wait_for

PID = os.getpid()
# Frames still in a pod's virtio_user TX ring (queue_size 256) when it closes it are never sent.
RING = 256
# Microseconds a busy worker may hold a partly filled TX burst (DPDK l2fwd's BURST_TX_DRAIN_US).
TX_DRAIN_US = 100
DROPS_OTHER_THAN_FULL_QUEUES = ("dropNoRoute", "dropSpoofed", "dropMacTableFull", "dropOther")


@dataclass
class Rig:
    """The sandbox, the VPC, the dataplane and the pods of the run."""

    box: Sandbox
    vpc: Vpc
    ctl: Ctl
    dataplane: Dataplane
    huge: Path
    vhost: Path
    pods: dict[str, Pod] = field(default_factory=dict)
    saved: dict[str, object] = field(default_factory=dict)

    @property
    def eni_mac(self) -> str:
        return self.vpc.eni_mac

    @property
    def state_file(self) -> Path:
        return self.box.path("state", "dataplane-state.json")

    def sock(self, name: str) -> str:
        return str(self.vhost / f"{name}.sock")

    def add_port(self, port_id: str, network: str, socket: str, mode: str = "server", *args: str) -> None:
        self.ctl.run("port", "add", "--id", port_id, "--network", network, "--socket-path", self.sock(socket),
                     "--vhost-mode", mode, *args, check=True)

    def del_port(self, port_id: str) -> None:
        self.ctl.run("port", "del", port_id, check=True)

    def pod(self, name: str, mode: str, extra: list[str], vdevs: list[str], netns: str | None = None) -> Pod:
        """A testpmd pod forwarding in ``mode`` on lcore 0, printing statistics every second; in
        network namespace ``netns`` when given (where its net_tap interfaces appear)."""
        eal = pod_eal(self.box, f"pod{name}{PID}", self.huge, vdevs, main_lcore=1, memory_mb=256)
        prefix = ("ip", "netns", "exec", netns) if netns else ()
        pod = Pod.start(self.box, f"pod-{name}", eal, [f"--forward-mode={mode}", "--nb-cores=1", *extra],
                        interactive=False, argv_prefix=(*prefix, "stdbuf", "-oL", "-eL"))
        self.pods[name] = pod
        return pod

    def stop_pod(self, name: str) -> None:
        """SIGTERM; testpmd prints its final per-port statistics."""
        self.pods[name].quit()

    def counter(self, port_id: str, name: str) -> int:
        return self.ctl.counter(port_id, name)

    def uplink_tx(self) -> int:
        return int(self.ctl.network("vpc")["uplink"]["counters"]["txPackets"])

    def no_port_connected(self) -> bool:
        """After a pod stops, its counters settle once the switch has seen its ports go."""
        return wait_for(10, lambda: self.ctl.connected() == 0)


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    binaries = Binaries.from_env()
    with open_sandbox("dpit") as box:
        box.reserve_hugepages("2M", 1536)
        huge = box.mount_hugetlbfs(box.path("huge"), "2M")
        vhost = box.path("vhost")
        vhost.mkdir()
        # The VPC: 10.99.0.1/24 behind a veth pair whose host end is the uplink; jumbo frames
        # between the VPC and the pods (the af_packet ring frames below hold a 9001 MTU).
        vpc = make_vpc(box, f"enadpdk-dpit-{PID}", f"edp{PID}", f"evpc{PID}", "10.99.0.1/24", mtu=9001)
        uplink = f"net_af_packet{PID},iface={vpc.uplink},framesz=9216,blocksz=36864,framecnt=512"
        config = write_config(
            box,
            eal=["-l", "0,1", "--main-lcore", "0", "--file-prefix", box.dpdk_prefix(f"dpit{PID}"), "--no-pci",
                 "-m", "512", "--huge-dir", str(huge)],
            workers=[1], max_ports=52, txDrainMicroseconds=TX_DRAIN_US,
            networks=[{"name": "local", "mode": "l2"},
                      {"name": "jumbo", "mode": "l2", "mtu": 9001},
                      {"name": "vpc", "mode": "vpc", "mtu": 9001, "uplink": {"device": uplink}}])
        ctl = Ctl(binaries.ctl, box.path("dp.sock"))
        dataplane = Dataplane(box, binaries.dataplane, config, ctl)
        yield Rig(box, vpc, ctl, dataplane, huge, vhost)


@pytest.mark.must
def test_dataplane_serves_health(rig: Rig) -> None:
    rig.dataplane.start()
    assert rig.ctl.healthy()
    assert stat.S_IMODE(rig.box.path("dp.sock").stat().st_mode) == 0o600, "control socket is mode 0600"
    assert f"burst=32 tx_drain_us={TX_DRAIN_US} " in rig.dataplane.log(), "the workers' TX drain is logged at start"


# --- bad requests change nothing ------------------------------------------------------------------


@pytest.fixture(scope="module")
def state_with_one_port(rig: Rig) -> bytes:
    """The state file with the one port "good" the bad requests must leave alone."""
    rig.add_port("good", "local", "good")
    return rig.state_file.read_bytes()


BAD_REQUESTS = [  # (what, expected message regex, port add arguments; {vhost} is the socket dir)
    ("over-long socket path", r"socket_path:.*longer than the 107",
     ["--id", "b1", "--network", "local", "--socket-path", "{vhost}/" + "x" * 120 + ".sock"]),
    ("unknown network", r"network: unknown network",
     ["--id", "b2", "--network", "nope", "--socket-path", "{vhost}/b2.sock"]),
    ("conflicting id", r'ALREADY_EXISTS: id: port "good" exists',
     ["--id", "good", "--network", "local", "--socket-path", "{vhost}/other.sock"]),
    ("bad MAC", r"mac:", ["--id", "b3", "--network", "local", "--socket-path", "{vhost}/b3.sock", "--mac", "01:02:03"]),
    ("bad CIDR", r"ips\[0\]:",
     ["--id", "b4", "--network", "vpc", "--socket-path", "{vhost}/b4.sock", "--ip", "10.99.0.300/24"]),
    ("path outside allowed dirs", r"outside the allowed directories",
     ["--id", "b5", "--network", "local", "--socket-path", "/tmp/elsewhere.sock"]),
    ("relative path", r"not an absolute path", ["--id", "b6", "--network", "local", "--socket-path", "rel.sock"]),
    ("vpc port with a foreign MAC", r"use the ENI's MAC",
     ["--id", "b7", "--network", "vpc", "--socket-path", "{vhost}/b7.sock", "--mac", "02:00:00:00:00:77",
      "--ip", "10.99.0.77/24"]),
]


@pytest.mark.parametrize("what,expected,args", BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS])
def test_bad_request_is_refused(rig: Rig, state_with_one_port: bytes, what: str, expected: str,
                                args: list[str]) -> None:
    argv = [a.format(vhost=rig.vhost) for a in args] + ["--vhost-mode", "server"]
    done = rig.ctl.run("port", "add", *argv)
    assert done.returncode != 0, f"{what} accepted"
    assert re.search(expected, done.stderr), done.stderr


def test_bad_requests_changed_nothing(rig: Rig, state_with_one_port: bytes) -> None:
    assert len(rig.ctl.ports()) == 1, "bad requests left the port table alone"
    assert rig.state_file.read_bytes() == state_with_one_port, "bad requests left the state file alone"
    assert rig.ctl.run("port", "add", "--id", "good", "--network", "local", "--socket-path", rig.sock("good"),
                       "--vhost-mode", "server").returncode == 0, "identical AddPort is idempotent"
    assert rig.ctl.run("port", "del", "missing").returncode == 0, "DeletePort of a missing port succeeds"
    rig.del_port("good")


# --- l2: two pods exchange traffic; counters match testpmd's --------------------------------------


@pytest.mark.must
def test_l2_pods_exchange_traffic(rig: Rig) -> None:
    rig.add_port("podA/net1", "local", "a")
    rig.add_port("podB/net1", "local", "b")
    rig.pod("ab", "flowgen", ["--txpkts=64"], [f"net_virtio_user0,path={rig.sock('a')},server=1",
                                              f"net_virtio_user1,path={rig.sock('b')},server=1"])
    assert wait_for(30, lambda: rig.ctl.connected() == 2), "l2 pods connect"
    assert wait_for(30, lambda: rig.counter("podB/net1", "txPackets") > 10000), "l2 traffic flows both ways"


def test_l2_counters_match_testpmd(rig: Rig) -> None:
    rig.stop_pod("ab")
    rig.no_port_connected()
    pod = rig.pods["ab"]
    a_tx, b_tx, b_rx = pod.forward_stats(0, "TX"), pod.forward_stats(1, "TX"), pod.forward_stats(1, "RX")
    sw_a_rx = rig.counter("podA/net1", "rxPackets")
    sw_b_rx = rig.counter("podB/net1", "rxPackets")
    sw_b_tx = rig.counter("podB/net1", "txPackets")
    print(f"l2: pod A sent {a_tx}, switch got {sw_a_rx}; pod B sent {b_tx}, switch got {sw_b_rx}; "
          f"switch sent B {sw_b_tx}, B received {b_rx}")
    # Exact but for frames still in the pod's TX ring when it closed it.
    assert a_tx - RING <= sw_a_rx <= a_tx, "switch RX from pod A equals what pod A sent"
    assert b_tx - RING <= sw_b_rx <= b_tx, "switch RX from pod B equals what pod B sent"
    assert sw_b_tx * 99 // 100 <= b_rx <= sw_b_tx, \
        "pod B received what the switch sent it (less what was in flight at stop)"


# --- hot plug: ports come and go on another network while the pair streams ------------------------
# 50 ports (every other one the dataplane's socket, the others a pod's it keeps reconnecting to)
# are added and removed while the pair streams; the first four are connected to a pod that sends
# on all of them (hot1's frames to hot3's IP; txonly never drains its RX rings, so hot3's fill
# up), so removing them tears down live devices under traffic (destroy_device waits for an RCU
# grace period). The 53rd port exceeds maxPorts (52) and is refused.


def pair_counters(ctl: Ctl) -> dict[str, int]:
    """The l2 pair's counters, summed over the network's ports."""
    sums = {"rx": 0, "tx": 0, "txfull": 0, "notconn": 0, "other": 0}
    for port in ctl.ports():
        if port["network"] != "local":
            continue
        c = {k: int(v) for k, v in port["counters"].items()}
        sums["rx"] += c["rxPackets"]
        sums["tx"] += c["txPackets"]
        sums["txfull"] += c["dropTxFull"]
        sums["notconn"] += c["dropNotConnected"]
        sums["other"] += sum(c[k] for k in DROPS_OTHER_THAN_FULL_QUEUES)
    return sums


@pytest.mark.must
def test_pair_streams_again(rig: Rig) -> None:
    rig.saved["pair_before"] = pair_counters(rig.ctl)
    rig.pod("ab2", "flowgen", ["--txpkts=64"], [f"net_virtio_user0,path={rig.sock('a')},server=1",
                                               f"net_virtio_user1,path={rig.sock('b')},server=1"])
    base_a = rig.counter("podA/net1", "txPackets")
    assert wait_for(30, lambda: rig.counter("podA/net1", "txPackets") > base_a + 10000), "pair streams again"


def test_hot_plug_of_50_ports_while_the_pair_streams(rig: Rig) -> None:
    added, error = 0, ""
    for i in range(1, 51):
        mode = "server" if i % 2 == 0 and i > 4 else "client"
        done = rig.ctl.run("port", "add", "--id", f"hot{i}", "--network", "vpc", "--socket-path", rig.sock(f"hot{i}"),
                           "--vhost-mode", mode, "--ip", f"10.99.1.{i}/24")
        if done.returncode != 0:
            error = done.stderr
            break
        added = i
        if i == 4:
            eni = rig.eni_mac
            rig.pod("hot", "txonly", ["--txpkts=64", "--tx-ip=10.99.1.1,10.99.1.3", f"--eth-peer=0,{eni}"],
                    [f"net_virtio_user{k - 1},path={rig.sock(f'hot{k}')},mac={eni}" for k in range(1, 5)])
            wait_for(30, lambda: rig.counter("hot1", "rxPackets") > 1000)
    rig.saved["hot_added"] = added
    print(f"hot plug: {added} ports added while streaming")
    assert added == 50, f"50 ports added while the pair streams: {error}"
    hot3_tx = rig.counter("hot3", "txPackets")
    assert rig.counter("hot1", "rxPackets") > 1000 and hot3_tx > 0 \
        and hot3_tx + rig.counter("hot3", "dropTxFull") > 1000, "a pod streams between hot-plugged ports"


def test_the_port_beyond_max_ports_is_refused(rig: Rig) -> None:
    done = rig.ctl.run("port", "add", "--id", "hot51", "--network", "vpc", "--socket-path", rig.sock("hot51"),
                       "--vhost-mode", "client", "--ip", "10.99.1.51/24")
    assert done.returncode != 0
    assert "RESOURCE_EXHAUSTED: all 52 ports are in use (dataplane.maxPorts)" in done.stderr, done.stderr
    assert not os.path.lexists(rig.sock("hot51")), "the refused port left no socket"


def test_hot_plugged_ports_removed_while_streaming(rig: Rig) -> None:
    failed = [i for i in range(1, int(rig.saved["hot_added"]) + 1)
              if rig.ctl.run("port", "del", f"hot{i}").returncode != 0]
    assert failed == [] and len(rig.ctl.ports()) == 2, "every hot-plugged port removed while streaming"
    assert list(rig.vhost.glob("hot*.sock")) == [], "removed ports' sockets are gone"


def test_the_pairs_accounting_over_the_hot_plug(rig: Rig) -> None:
    rig.stop_pod("hot")
    rig.stop_pod("ab2")
    rig.no_port_connected()
    before, after = rig.saved["pair_before"], pair_counters(rig.ctl)
    acct = {k: after[k] - before[k] for k in after}
    print(f"hot plug accounting for the pair's run: {acct}")
    # A frame the switch received is sent, or dropped because the peer's queue was full; when
    # testpmd stops, what is left in one port's TX ring (at most 256 per direction) may meet a peer
    # it has already closed (not_connected).
    assert acct["rx"] == acct["tx"] + acct["txfull"] + acct["notconn"] and acct["notconn"] <= 2 * RING, \
        "every frame the pair sent was delivered or dropped for a full TX queue"
    assert acct["other"] == 0, "the pair lost nothing for any other reason"
    assert "invalid virtqueue" not in rig.dataplane.log(), \
        "rte_vhost was never asked for a ring the pod had not set up"


# --- jumbo: 9001-MTU frames between two pods ------------------------------------------------------


def test_jumbo_frames_between_two_pods(rig: Rig) -> None:
    rig.add_port("podJ1/net1", "jumbo", "j1")
    rig.add_port("podJ2/net1", "jumbo", "j2")
    # 9015-byte frames (flowgen takes 4 bytes of FCS off --txpkts): a 9001-byte IP packet. Pod
    # buffers hold a whole frame; the switch's are 2 KB (rte_vhost chains them; mergeable RX
    # buffers carry them into the pod).
    pod = rig.pod("j", "flowgen", ["--mbuf-size=10240", "--max-pkt-len=9018", "--total-num-mbufs=4096", "--txpkts=9019"],
                  [f"net_virtio_user0,path={rig.sock('j1')},server=1", f"net_virtio_user1,path={rig.sock('j2')},server=1"])
    assert wait_for(30, lambda: rig.counter("podJ2/net1", "txPackets") > 1000), "jumbo frames flow between two pods"
    rig.stop_pod("j")
    rig.no_port_connected()
    j_tx, j_rx = pod.forward_stats(0, "TX"), pod.forward_stats(1, "RX")
    j1, j2 = rig.ctl.port("podJ1/net1")["counters"], rig.ctl.port("podJ2/net1")["counters"]
    sw_rx, sw_rxb = int(j1["rxPackets"]), int(j1["rxBytes"])
    sw_tx, sw_txb = int(j2["txPackets"]), int(j2["txBytes"])
    print(f"jumbo: pod sent {j_tx}, switch got {sw_rx} ({sw_rxb} bytes), sent {sw_tx} ({sw_txb} bytes), "
          f"pod received {j_rx}")
    assert sw_rx > 0 and sw_rxb == sw_rx * 9015, "the switch received whole 9015-byte frames"
    assert sw_tx > 0 and sw_txb == sw_tx * 9015, "the switch delivered whole 9015-byte frames"
    assert sw_tx - RING <= j_rx <= sw_tx, "the receiving pod got what the switch delivered (less its RX ring at stop)"
    other = sum(int(p["counters"][k]) for p in rig.ctl.ports() if p["network"] == "jumbo"
                for k in DROPS_OTHER_THAN_FULL_QUEUES)
    assert other == 0, "jumbo frames lost nothing but to full queues"
    rig.del_port("podJ1/net1")
    rig.del_port("podJ2/net1")


# --- multi-queue: two queue pairs per port, both drained ------------------------------------------


def test_multi_queue_ports_drain_both_queue_pairs(rig: Rig) -> None:
    rig.add_port("mqA/net1", "local", "mqa", "server", "--queues", "2")
    rig.add_port("mqB/net1", "local", "mqb", "server", "--queues", "2")
    pod = rig.pod("mq", "flowgen", ["--txpkts=64", "--rxq=2", "--txq=2"],
                  [f"net_virtio_user0,path={rig.sock('mqa')},server=1,queues=2",
                   f"net_virtio_user1,path={rig.sock('mqb')},server=1,queues=2"])
    assert wait_for(30, lambda: rig.counter("mqA/net1", "txPackets") > 10000), "multi-queue traffic flows both ways"
    rig.stop_pod("mq")
    rig.no_port_connected()
    mq_tx, sw_mq_rx = pod.forward_stats(0, "TX"), rig.counter("mqA/net1", "rxPackets")
    print(f"multi-queue: pod sent {mq_tx} on port 0's two queues, switch got {sw_mq_rx}")
    # Both queues' rings were drained: all but what was left in the two TX rings.
    assert mq_tx - 2 * RING <= sw_mq_rx <= mq_tx, "the switch drained both queue pairs"
    # A ring nobody drains stops its stream at the ring size (256); queue 1 sent far more.
    assert stream_tx_packets(pod, 0, 1) > 1000, "the pod's second queue pair was drained too"
    rig.del_port("mqA/net1")
    rig.del_port("mqB/net1")


# --- vpc: ARP proxy, ping to a pod, spoofing, local pod-to-pod ------------------------------------


@pytest.mark.must
def test_vpc_ping_reaches_a_pod_through_the_arp_proxy(rig: Rig) -> None:
    rig.add_port("podC/net1", "vpc", "c", "server", "--ip", "10.99.0.10/24")
    rig.add_port("podD/net1", "vpc", "d", "server", "--ip", "10.99.0.11/24")
    assert rig.ctl.port("podC/net1")["mac"] == rig.eni_mac, "vpc ports carry the ENI MAC"
    rig.pod("c", "icmpecho", ["--mbuf-size=10240", "--max-pkt-len=9018"],
            [f"net_virtio_user0,path={rig.sock('c')},server=1,mac={rig.eni_mac}"])
    assert wait_for(10, lambda: rig.ctl.port("podC/net1")["connected"]), "vpc pod connects"
    assert rig.vpc.ping("10.99.0.10", count=2, timeout=20) is not None, "ping from the VPC to a pod IP is answered"
    assert rig.eni_mac in rig.vpc.neighbour_mac("10.99.0.10"), \
        "the VPC learned the pod IP at the ENI MAC (switch answered ARP)"


def test_vpc_jumbo_ping_through_the_af_packet_uplink(rig: Rig) -> None:
    done = run(["ip", "netns", "exec", rig.vpc.netns, "ping", "-c", "2", "-i", "0.2", "-W", "2", "-M", "do",
                "-s", "8973", "10.99.0.10"], check=False)
    assert done.returncode == 0, f"a 9001-byte ping from the VPC is answered: {done.stdout[-300:]}"


def test_vpc_spoofed_frames_are_dropped(rig: Rig) -> None:
    rig.saved["uplink_tx_before"] = before = rig.uplink_tx()
    # Pod D sends with a foreign source IP.
    rig.pod("d", "txonly", ["--txpkts=64", "--tx-ip=10.99.0.66,10.99.0.1", f"--eth-peer=0,{rig.eni_mac}"],
            [f"net_virtio_user0,path={rig.sock('d')},server=1,mac={rig.eni_mac}"])
    assert wait_for(20, lambda: rig.counter("podD/net1", "dropSpoofed") > 100), "spoofed frames are dropped and counted"
    rig.stop_pod("d")
    assert rig.uplink_tx() == before, "spoofed frames never reached the uplink"


def test_vpc_pod_to_pod_stays_off_the_uplink(rig: Rig) -> None:
    c_tx_before = rig.counter("podC/net1", "txPackets")
    rig.pod("d2", "txonly", ["--txpkts=64", "--tx-ip=10.99.0.11,10.99.0.10", f"--eth-peer=0,{rig.eni_mac}"],
            [f"net_virtio_user0,path={rig.sock('d')},server=1,mac={rig.eni_mac}"])
    assert wait_for(20, lambda: rig.counter("podC/net1", "txPackets") > c_tx_before + 100), \
        "pod-to-pod traffic reaches the other pod"
    rig.stop_pod("d2")
    assert rig.uplink_tx() == rig.saved["uplink_tx_before"], "pod-to-pod traffic left the uplink TX counter unchanged"


# --- vpc IPv6: a pod with the kernel's IPv6 stack behind the switch, pinged from the VPC ---------
# testpmd's icmpecho answers IPv4 only, so this pod is a kernel: testpmd forwards (io) between
# its virtio_user port and a net_tap port whose interface lives in the pod's namespace with the
# ENI MAC, no EUI-64 link-local (addr_gen_mode none) and the link-local address derived from its
# IPv6 address (docs/dataplane.md, "IPv6 on vpc networks"). The kernel's own DAD, MLD, router and
# neighbour solicitations go through the switch; none may count as spoofed.

V6_ROUTER = "2001:db8:99::1/64"
V6_POD = "2001:db8:99::c0:10/64"
V6_POD_ADDRESS = V6_POD.split("/")[0]


@pytest.mark.must
def test_vpc_ipv6_pod_forms_its_link_local_address_and_solicits_the_router(rig: Rig) -> None:
    rig.vpc.enable_ipv6(V6_ROUTER)
    rig.saved["rs_before"] = snmp6(rig.vpc.netns, "Icmp6InRouterSolicits")
    netns = kernel_pod_netns(rig.box, f"enadpdk-dpit6-{PID}")
    tap = f"ev6{PID}"
    rig.saved["v6"] = (netns, tap)
    rig.add_port("podV6/net1", "vpc", "v6", "server", "--ip", V6_POD)
    rig.pod("v6", "io", [], [f"net_virtio_user0,path={rig.sock('v6')},server=1,mac={rig.eni_mac}",
                             f"net_tap0,iface={tap},mac={rig.eni_mac}"], netns=netns)
    assert wait_for(20, lambda: rig.ctl.port("podV6/net1")["connected"]), "the IPv6 pod connects"
    assert wait_for(20, lambda: "UP" in run(["ip", "-n", netns, "link", "show", tap], check=False).stdout), \
        "the pod's tap interface is up in its namespace"
    link_local = configure_pod_ipv6(netns, tap, V6_POD)
    assert link_local == "fe80::c0:10"
    # DAD of both addresses (a probe from :: each, through the switch to the VPC, unanswered).
    assert wait_for(10, lambda: "tentative" not in ipv6_addresses(netns, tap)), ipv6_addresses(netns, tap)
    addresses = ipv6_addresses(netns, tap)
    print(f"IPv6 pod addresses:\n{addresses}")
    assert "dadfailed" not in addresses, "the switch did not answer the pod's own DAD probes"
    assert sorted(re.findall(r"inet6 (\S+)/", addresses)) == sorted([V6_POD_ADDRESS, link_local]), \
        "the pod has its address and the derived link-local address, no EUI-64 one"
    # Once its link-local address is usable the kernel solicits routers (to ff02::2); the VPC
    # router records the pod's link-local address at the ENI MAC from the solicitation.
    assert wait_for(10, lambda: snmp6(rig.vpc.netns, "Icmp6InRouterSolicits") > int(rig.saved["rs_before"])), \
        "the pod's router solicitation reached the VPC"
    assert rig.eni_mac in rig.vpc.neighbour_mac(link_local), \
        f"the VPC learned the pod's link-local address from its RS: {rig.vpc.neighbour_mac(link_local)!r}"


def test_vpc_router_advertisement_reaches_the_ipv6_pod(rig: Rig) -> None:
    netns, tap = rig.saved["v6"]
    before = snmp6(netns, "Icmp6InRouterAdvertisements")
    rig.vpc.advertise_router()
    assert wait_for(10, lambda: snmp6(netns, "Icmp6InRouterAdvertisements") > before), \
        "the RA to ff02::1 reached the pod"
    router = rig.vpc.link_local()
    assert wait_for(5, lambda: f"via {router} dev {tap}" in
                    run(["ip", "-n", netns, "-6", "route", "show", "default"]).stdout), \
        "the pod took the VPC router as its default router"


@pytest.mark.must
def test_vpc_ping6_reaches_the_ipv6_pod(rig: Rig) -> None:
    done = run(["ip", "netns", "exec", rig.vpc.netns, "ping", "-6", "-c", "3", "-i", "0.2", "-W", "2",
                V6_POD_ADDRESS], check=False)
    print(f"ping -6 {V6_POD_ADDRESS}:\n{done.stdout}")
    assert "3 packets transmitted, 3 received" in done.stdout, done.stdout + done.stderr
    assert rig.eni_mac in rig.vpc.neighbour_mac(V6_POD_ADDRESS), \
        "the VPC resolved the pod's address at the ENI MAC (the switch answered its NS)"


def test_vpc_ping6_reaches_the_pods_link_local_address(rig: Rig) -> None:
    link_local = pod_link_local(V6_POD)
    done = run(["ip", "netns", "exec", rig.vpc.netns, "ping", "-6", "-c", "3", "-i", "0.2", "-W", "2",
                f"{link_local}%{rig.vpc.inside}"], check=False)
    print(f"ping -6 {link_local}%{rig.vpc.inside}:\n{done.stdout}")
    assert "3 packets transmitted, 3 received" in done.stdout, done.stdout + done.stderr


def test_no_ipv6_packet_of_the_pod_counted_as_spoofed(rig: Rig) -> None:
    counters = rig.ctl.port("podV6/net1")["counters"]
    print(f"IPv6 pod port counters: {counters}")
    assert int(counters.get("rxPackets", 0)) >= 6, "the pod's DAD, RS, NS and echo replies reached the switch"
    assert int(counters.get("dropSpoofed", 0)) == 0, "no packet of the well-behaved IPv6 pod counted as spoofed"
    rig.stop_pod("v6")
    rig.del_port("podV6/net1")


# --- oversized ids come back as a clear refusal, not as gRPC's header-size error (issue 20) --------

LONG_ID = "a" * 10000


@pytest.mark.parametrize("command", ["get", "del", "add"])
def test_an_oversized_id_is_refused_by_name(rig: Rig, command: str) -> None:
    if command == "add":
        done = rig.ctl.run("port", "add", "--id", LONG_ID, "--network", "vpc", "--socket-path", rig.sock("long"),
                           "--vhost-mode", "client", "--ip", "10.99.0.77/24")
    else:
        done = rig.ctl.run("port", command, LONG_ID)
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert "id: longer than 253 bytes" in out, out[:400]
    assert "RESOURCE_EXHAUSTED" not in out, out[:400]
    assert len(out.encode()) < 2048, "a bounded message"


def test_the_oversized_requests_created_nothing(rig: Rig) -> None:
    assert not os.path.lexists(rig.sock("long"))
    assert len(rig.ctl.ports()) == 4


# --- a server-mode socket swapped for a link after AddPort is not followed (issue 20 item 4) -------
# The check at AddPort sees where the path leads then; rte_vhost reconnects by path later. A pod
# that puts a link (here to a live vhost-user listener outside) in place of its socket gets its
# connection refused before any message is read.


def test_a_link_in_place_of_a_server_mode_socket_is_not_followed(rig: Rig) -> None:
    outside = rig.box.path("outside")
    outside.mkdir()
    rig.add_port("podL/net1", "local", "l")
    rig.pod("l", "icmpecho", [], [f"net_virtio_user0,path={outside / 'l.sock'},server=1"])
    wait_for(20, lambda: is_socket(outside / "l.sock"))
    Path(rig.sock("l")).symlink_to(outside / "l.sock")
    assert wait_for(15, lambda: "vhost-user connection refused: the socket path is no longer a socket"
                    in rig.dataplane.log()), "the connection through the link is refused"
    assert not wait_for(2, lambda: rig.ctl.port("podL/net1")["connected"]), "the port never connected through the link"
    rig.stop_pod("l")
    rig.del_port("podL/net1")
    Path(rig.sock("l")).unlink(missing_ok=True)


# --- kill -9 and restart: ports restored, server-mode pods reconnect, traffic resumes -------------


@pytest.mark.must
def test_kill_9_and_restart_restores_every_port(rig: Rig) -> None:
    assert len(json.loads(rig.state_file.read_text())["ports"]) == 4, "state file holds 4 ports"
    assert stat.S_IMODE(rig.state_file.stat().st_mode) == 0o600, "state file is mode 0600"
    rig.dataplane.kill9()
    rig.dataplane.start()
    assert len(rig.ctl.ports()) == 4, "restarted dataplane restored every port"
    assert wait_for(15, lambda: rig.ctl.port("podC/net1")["connected"]), "server-mode pod reconnected after restart"
    assert rig.vpc.ping("10.99.0.10", count=1, timeout=15) is not None, "ping works again after the restart"


# --- config reload: live keys applied without a restart, the rest refused -----------------------
# config.json becomes what a ConfigMap volume holds: a link through ..data, whose update renames
# a new ..data link over the old one. SIGHUP adds a network with a ring vdev uplink, shortens MAC
# aging and moves the metrics while the VPC pings pod C; the next update arrives without a
# signal; a changed workers key is refused with its log line and nothing of that file applied.


def publish_config(rig: Rig, document: dict, version: str) -> None:
    """Writes ``document`` as the kubelet updates a ConfigMap volume: a new directory, then the
    ``..data`` link renamed over the old one (config.json links through ``..data``)."""
    volume = rig.box.path("configmap")
    (volume / f"..{version}").mkdir(parents=True)
    (volume / f"..{version}" / "config.json").write_text(json.dumps(document, indent=2) + "\n")
    staged = volume / "..data_tmp"
    staged.symlink_to(f"..{version}")
    os.replace(staged, volume / "..data")
    config = rig.dataplane.config
    if not config.is_symlink():
        staged = config.with_name("config.json.link")
        staged.symlink_to(volume / "..data" / "config.json")
        os.replace(staged, config)


def reloads(port: int, result: str) -> float:
    """ena_dpdk_dataplane_config_reloads_total{result} as the metrics on ``port`` say."""
    return next(value for name, labels, value in samples(scrape(port))
                if name == "ena_dpdk_dataplane_config_reloads_total" and labels["result"] == result)


def test_sighup_applies_networks_aging_and_metrics_without_a_restart(rig: Rig) -> None:
    proc = rig.dataplane.proc
    assert proc is not None
    pid, old_port, new_port = proc.pid, listening_port(proc.pid), free_tcp_port("127.0.0.1")
    before = rig.ctl.port("podC/net1")["counters"]
    document = json.loads(rig.dataplane.config.read_text())
    document["dataplane"]["macAgingSeconds"] = 60
    document["dataplane"]["metricsAddress"] = f"127.0.0.1:{new_port}"
    document["dataplane"]["networks"].append(
        {"name": "added", "mode": "l2", "uplink": {"device": f"net_ring{PID}"}})
    rig.saved["config"] = document
    # The VPC pings pod C through the switch across the reload: not one reply may be missing.
    ping = subprocess.Popen(["ip", "netns", "exec", rig.vpc.netns, "ping", "-c", "20", "-i", "0.1", "-w", "30",
                             "10.99.0.10"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(0.5)
    publish_config(rig, document, "v1")
    os.kill(pid, signal.SIGHUP)
    assert wait_for(10, lambda: 'msg="config reload applied" trigger=SIGHUP' in rig.dataplane.log()), \
        rig.dataplane.log()[-2000:]
    out, _ = ping.communicate(timeout=40)
    print(f"ping across the reload:\n{out}")
    assert 'msg="config reload applied" trigger=SIGHUP changed=dataplane.metricsAddress,dataplane.macAgingSeconds,' \
           "dataplane.networks[added]" in rig.dataplane.log()
    assert proc.alive() and proc.pid == pid, "the same dataplane process"
    assert "20 packets transmitted, 20 received" in out, "pod C answered every ping across the reload"
    after = rig.ctl.port("podC/net1")["counters"]
    assert int(after["rxPackets"]) >= int(before["rxPackets"]) + 20, "pod C's counters went on, not reset"
    assert int(after["txPackets"]) >= int(before["txPackets"]) + 20
    added = rig.ctl.network("added")
    assert added["uplink"]["device"] == f"net_ring{PID}", added
    rig.add_port("podR/net1", "added", "r")
    assert rig.ctl.port("podR/net1")["network"] == "added", "a port on the added network"
    metrics = scrape(new_port)
    assert 'ena_dpdk_dataplane_config_reloads_total{result="applied"} 1' in metrics
    assert 'ena_dpdk_network_ports{network="added"} 1' in metrics
    with pytest.raises(SandboxError, match="Connection refused"):
        scrape(old_port)
    rig.saved["metrics_port"] = new_port


def test_a_configmap_update_applies_without_a_signal(rig: Rig) -> None:
    document = rig.saved["config"]
    document["dataplane"]["networks"].append({"name": "added2", "mode": "l2"})
    publish_config(rig, document, "v2")
    assert wait_for(10, lambda: 'msg="config reload applied" trigger=file changed=dataplane.networks[added2]'
                    in rig.dataplane.log()), rig.dataplane.log()[-2000:]
    assert rig.ctl.network("added2")["name"] == "added2"
    assert reloads(int(rig.saved["metrics_port"]), "applied") == 2


def test_a_changed_workers_key_is_refused_and_nothing_applies(rig: Rig) -> None:
    proc = rig.dataplane.proc
    assert proc is not None
    networks = sorted(n["name"] for n in rig.ctl.json("networks")["networks"])
    document = json.loads(json.dumps(rig.saved["config"]))
    document["dataplane"]["workers"] = [0]
    document["dataplane"]["networks"].append({"name": "refused", "mode": "l2"})
    publish_config(rig, document, "v3")
    os.kill(proc.pid, signal.SIGHUP)
    assert wait_for(10, lambda: 'msg="config reload refused, nothing applied (the running config is unchanged)" trigger=SIGHUP' in rig.dataplane.log())
    log = rig.dataplane.log()
    assert "config reload: dataplane.workers changed; restart the dataplane to apply it" in log
    assert sorted(n["name"] for n in rig.ctl.json("networks")["networks"]) == networks, \
        "not even the network of the refused file was added"
    port = int(rig.saved["metrics_port"])
    assert reloads(port, "refused") == 1
    assert 'ena_dpdk_dataplane_config_restart_required{key="dataplane.workers"} 1' in scrape(port)
    # A malformed file fails with the parse error; the dataplane runs on.
    publish_config(rig, {"dataplane": {"macAgingSeconds": 0}}, "v4")
    os.kill(proc.pid, signal.SIGHUP)
    assert wait_for(10, lambda: 'msg="config reload failed, nothing applied (the running config is unchanged)" trigger=SIGHUP' in rig.dataplane.log())
    assert "dataplane.macAgingSeconds: " in rig.dataplane.log()
    assert reloads(port, "failed") == 1
    assert proc.alive() and rig.ctl.healthy()


def test_sigterm_shuts_down_cleanly(rig: Rig) -> None:
    assert rig.dataplane.terminate() == 0, "SIGTERM exits 0"
    assert not os.path.lexists(rig.box.path("dp.sock")), "control socket removed on shutdown"


def test_teardown_leaves_nothing(rig: Rig) -> None:
    assert_teardown_leaves_nothing(rig.box)
