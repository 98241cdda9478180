"""ena-dpdk-dataplane with 2 and then 4 worker lcores on two CPUs (EAL --lcores) and a 2-queue
net_af_packet uplink (ctest: multiworker_integration_test).

For each worker count: the VPC namespace pings 16 pod IPs (both uplink RX queues carry packets,
each polled by its own worker; pods on every worker answer through the shared uplink TX queues),
three pods on different workers stream into one pod while 50 ports are hot-plugged and removed,
then kill -9 and restore, and both again; every packet is accounted for exactly. Pods are
interactive testpmd processes, so a stream stops before its counters are read and nothing is
left in flight.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import pytest

from dataplane_fixture import (Binaries, Dataplane, all_port_stats, assert_teardown_leaves_nothing, open_sandbox,
                               pod_eal, write_config)
from dpdk_procs import Ctl, Vpc, make_vpc, telemetry
from dpdk_procs import Testpmd as Pod  # not "Test*": pytest would try to collect it
from sandbox import Sandbox, run, wait_for

PID = os.getpid()
ECHO_PORTS = 4  # echo1-4, four IPs each, all on one icmpecho pod
ECHO_IPS = [f"10.99.0.{i}" for i in range(10, 10 + 4 * ECHO_PORTS)]
SENDERS = {"s1": 31, "s2": 32, "s3": 33}  # txonly pods, each to recv (10.99.0.40)
POD_PORTS = ECHO_PORTS + len(SENDERS) + 1
HOT_PORTS = 50
DROPS = ("dropNoRoute", "dropSpoofed", "dropTxFull", "dropNotConnected", "dropMacTableFull", "dropOther")


@dataclass
class Rig:
    """What both worker counts share: the sandbox, hugepages, the VPC."""

    box: Sandbox
    binaries: Binaries
    vpc: Vpc
    huge: Path
    vhost: Path


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    binaries = Binaries.from_env()
    with open_sandbox("mwit") as box:
        box.reserve_hugepages("2M", 1024)
        huge = box.mount_hugetlbfs(box.path("huge"), "2M")
        vhost = box.path("vhost")
        vhost.mkdir()
        # Nothing but the switch and the namespace may put frames on the pair (quiet: no IPv6, no
        # forwarding by the host), so the pair's counters and the uplink's must agree exactly.
        vpc = make_vpc(box, f"enadpdk-mwit-{PID}", f"emw{PID}", f"emwv{PID}", "10.99.0.1/24", quiet=True)
        yield Rig(box, binaries, vpc, huge, vhost)


# ---- counters from `ena-dpdk-ctl stats` ---------------------------------------------------------


def counters(item: dict) -> dict[str, int]:
    return {k: int(v) for k, v in item["counters"].items()}


def port_counters(stats: dict, port_id: str) -> dict[str, int]:
    return counters(next(p for p in stats["ports"] if p["id"] == port_id))


def uplink_counters(stats: dict) -> dict[str, int]:
    return counters(next(n for n in stats["networks"] if n["name"] == "vpc")["uplink"])


def vpc_balance(stats: dict) -> tuple[int, int]:
    """Everything the switch received on the vpc network (pods and uplink), and what it sent or
    counted as a drop (flooding is l2-only, so the two are equal when nothing is lost silently)."""
    parts = [counters(p) for p in stats["ports"] if p["network"] == "vpc"] + [uplink_counters(stats)]
    return (sum(c["rxPackets"] for c in parts),
            sum(c["txPackets"] + sum(c[d] for d in DROPS) for c in parts))


def balance(a: dict, b: dict) -> dict[str, int]:
    (rx_a, out_a), (rx_b, out_b) = vpc_balance(a), vpc_balance(b)
    return {"rx": rx_b - rx_a, "out": out_b - out_a}


def delta(a: dict, b: dict, port_id: str, name: str) -> int:
    return port_counters(b, port_id)[name] - port_counters(a, port_id)[name]


# ---- one dataplane with N workers, its ports and pods --------------------------------------------


@dataclass
class Node:
    """The dataplane with ``workers`` workers, its ctl and the five pods."""

    rig: Rig
    workers: int
    ctl: Ctl
    dataplane: Dataplane
    pods: dict[str, Pod] = field(default_factory=dict)
    uplink_port: int = 0

    def label(self, phase: str = "") -> str:
        """What the assertion messages start with: the worker count and the phase."""
        return f"[{self.workers} workers{', ' + phase if phase else ''}]"

    @property
    def prefix(self) -> str:
        return f"mwdp{self.workers}{PID}"

    def start(self) -> None:
        self.dataplane.start()
        self.uplink_port = int(self.ctl.json("networks")["networks"][0]["uplink"]["portId"])

    def stats(self) -> dict:
        return self.ctl.json("stats")

    def uplink_queue_rx(self) -> list[int]:
        """The uplink's packets received per RX queue (DPDK telemetry xstats)."""
        xstats = telemetry(self.prefix, f"/ethdev/xstats,{self.uplink_port}")
        return [int(xstats["rx_q0_packets"]), int(xstats["rx_q1_packets"])]

    def all_connected(self) -> bool:
        return self.ctl.connected() == POD_PORTS

    def pod(self, name: str, mode: str, extra: Sequence[str], vdevs: Sequence[str]) -> Pod:
        """An interactive testpmd pod forwarding on CPU 1, leaving CPU 0 to the dataplane's
        control thread and its workers there."""
        rig = self.rig
        eal = pod_eal(rig.box, f"mw{name}{PID}", rig.huge, vdevs, main_lcore=0, memory_mb=128)
        app = [f"--forward-mode={mode}", "--nb-cores=1", "--total-num-mbufs=8192", *extra]
        pod = Pod.start(rig.box, f"{name}-w{self.workers}", eal, app, interactive=True)
        self.pods[name] = pod
        return pod

    def start_forwarding(self, name: str) -> None:
        self.pods[name].command(["start"], "forwards packets", timeout=20)

    def stop_forwarding(self, name: str) -> None:
        self.pods[name].command(["stop"], "Done.", timeout=20)

    def pod_tx(self, names: Sequence[str]) -> int:
        """The pods' TX packets on their port 0, summed."""
        return sum(all_port_stats(self.pods[n], 1)[0].tx for n in names)

    def pod_rx(self, name: str) -> int:
        return all_port_stats(self.pods[name], 1)[0].rx

    def stop_all(self) -> None:
        for pod in self.pods.values():
            pod.quit()
        if self.dataplane.proc is not None:
            self.dataplane.proc.stop()


@pytest.fixture(scope="class")
def node(request: pytest.FixtureRequest, rig: Rig) -> Iterator[Node]:
    workers = request.cls.workers
    for stale in [*rig.vhost.iterdir(), *rig.box.path("state").glob("*")]:
        stale.unlink()
    # Main lcore 0 on CPU 0, workers alternate over CPUs 1 and 0.
    lcores = ",".join(["0@0"] + [f"{w}@{w % 2}" for w in range(1, workers + 1)])
    uplink = f"net_af_packet{workers}{PID},iface={rig.vpc.uplink},qpairs=2"
    config = write_config(
        rig.box,
        eal=["--lcores", lcores, "--main-lcore", "0", "--file-prefix", rig.box.dpdk_prefix(f"mwdp{workers}{PID}"),
             "--no-pci", "-m", "256", "--huge-dir", str(rig.huge)],
        workers=list(range(1, workers + 1)), max_ports=64, cniStateDir=str(rig.box.path("cni")),
        networks=[{"name": "vpc", "mode": "vpc", "uplink": {"device": uplink, "queues": 2}}])
    ctl = Ctl(rig.binaries.ctl, rig.box.path("dp.sock"))
    node = Node(rig, workers, ctl, Dataplane(rig.box, rig.binaries.dataplane, config, ctl, name=f"dataplane{workers}"))
    yield node
    node.stop_all()


# ---- d) the VPC pings 16 pod IPs through the 2-queue uplink ------------------------------------


PINGS_PER_IP = 10


def echo_replies(netns: str) -> int:
    """Icmp InEchoReps of the namespace's stack (/proc/net/snmp): every echo reply it received,
    whether or not a ping was still waiting for it."""
    lines = [line.split() for line in run(["ip", "netns", "exec", netns, "cat", "/proc/net/snmp"]).stdout.splitlines()
             if line.startswith("Icmp:")]
    return int(lines[1][lines[0].index("InEchoReps")])


def wait_for_echo_replies(netns: str, wanted: int, timeout: float = 5.0) -> int:
    """The namespace's InEchoReps once it reaches ``wanted`` or ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    while (got := echo_replies(netns)) < wanted and time.monotonic() < deadline:
        time.sleep(0.05)
    return got


def ping_phase(node: Node) -> dict:
    """Pings from the VPC to the 16 echo IPs; the accounting of the phase. Counters are compared
    as differences over the phase, with nothing in flight at either end."""
    vpc = node.rig.vpc
    # Every phase starts with the namespace's neighbours unresolved: each pod IP is resolved by a
    # broadcast ARP request the switch answers, and no unicast probe comes late into the counters.
    run(["ip", "-n", vpc.netns, "neigh", "flush", "dev", vpc.inside])
    node.start_forwarding("echo")
    s0, q0, ns0, e0 = (node.stats(), node.uplink_queue_rx(), (vpc.counter("tx_packets"), vpc.counter("rx_packets")),
                       all_port_stats(node.pods["echo"], ECHO_PORTS))
    replies0 = echo_replies(vpc.netns)
    pings = [subprocess.Popen(["ip", "netns", "exec", vpc.netns, "ping", "-q", "-c", str(PINGS_PER_IP), "-i", "0.02", "-W", "10", ip],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for ip in ECHO_IPS]
    outputs = [p.communicate(timeout=60)[0] for p in pings]
    # ping stops waiting 2 x its largest round trip after its last request, so on a loaded machine
    # it can report a reply as lost that the namespace's stack receives a moment later: the
    # stack's own count of echo replies is what proves every request was answered. Waiting for it
    # also leaves nothing in flight for the counters below.
    replies = wait_for_echo_replies(vpc.netns, replies0 + PINGS_PER_IP * len(ECHO_IPS)) - replies0
    s1, q1, ns1, e1 = (node.stats(), node.uplink_queue_rx(), (vpc.counter("tx_packets"), vpc.counter("rx_packets")),
                       all_port_stats(node.pods["echo"], ECHO_PORTS))
    node.stop_forwarding("echo")

    up0, up1 = uplink_counters(s0), uplink_counters(s1)
    q = [q1[0] - q0[0], q1[1] - q0[1]]
    # What each worker received from the uplink: all it received less what its pod ports did.
    worker_rx0 = {w["lcore"]: int(w["rxPackets"]) for w in s0["workers"]}
    worker_uplink_rx = [
        int(w["rxPackets"]) - worker_rx0[w["lcore"]]
        - sum(delta(s0, s1, p["id"], "rxPackets") for p in s1["ports"] if p["workerLcore"] == w["lcore"])
        for w in s1["workers"]]
    echo_ids = [f"echo{k}" for k in range(1, ECHO_PORTS + 1)]  # testpmd port k-1 is echo<k>
    worker_of = {p["id"]: p["workerLcore"] for p in s0["ports"]}
    return {
        "answered": sum(f"{PINGS_PER_IP} packets transmitted, {PINGS_PER_IP} received" in out for out in outputs),
        "reached": sum(f"{PINGS_PER_IP} packets transmitted, 0 received" not in out for out in outputs),
        "echo_replies": replies,
        "unanswered": [out.strip().splitlines()[-2:] for out in outputs if f"{PINGS_PER_IP} packets transmitted, {PINGS_PER_IP} received" not in out],
        "ns_tx": ns1[0] - ns0[0], "ns_rx": ns1[1] - ns0[1],
        "up_rx": up1["rxPackets"] - up0["rxPackets"], "up_tx": up1["txPackets"] - up0["txPackets"],
        "up_txfull": up1["dropTxFull"] - up0["dropTxFull"],
        "q": q,
        "worker_uplink_rx": worker_uplink_rx,
        "reply_workers": len({worker_of[i] for i in echo_ids if delta(s0, s1, i, "rxPackets") > 0}),
        # Per echo port, pod side (testpmd) against switch side: [pod RX, switch TX, pod TX, switch RX].
        "echo": [[e1[k].rx - e0[k].rx, delta(s0, s1, i, "txPackets"), e1[k].tx - e0[k].tx, delta(s0, s1, i, "rxPackets")]
                 for k, i in enumerate(echo_ids)],
        "balance": balance(s0, s1),
    }


def assert_pings(node: Node, phase: str) -> None:
    label = node.label(phase)
    d = ping_phase(node)
    print(f"{label} ping accounting: {d}")
    assert d["reached"] == 16, f"{label} every one of the 16 pod IPs answered ping: {d['unanswered']}"
    assert d["echo_replies"] == PINGS_PER_IP * 16, \
        f"{label} the VPC's stack received an echo reply for each of the {PINGS_PER_IP * 16} requests " \
        f"(ping itself counted {d['answered']} IPs fully answered: {d['unanswered']})"
    q = d["q"]
    assert q[0] > 0 and q[1] > 0, f"{label} both uplink RX queues carried packets"
    assert d["up_rx"] == d["ns_tx"] and q[0] + q[1] == d["up_rx"], \
        f"{label} the uplink received exactly what the namespace sent (queue 0 + queue 1)"
    assert sorted(r for r in d["worker_uplink_rx"] if r != 0) == sorted(q) and all(n > 0 for n in q), \
        f"{label} the two queues were polled by two different workers"
    assert d["up_tx"] == d["ns_rx"] and d["up_txfull"] == 0, \
        f"{label} the namespace received exactly what the uplink sent, none dropped"
    assert d["reply_workers"] == node.workers, f"{label} pods on all {node.workers} workers answered through the uplink"
    assert len(d["echo"]) == 4 and all(e[0] == e[1] and e[2] == e[3] and e[0] > 0 for e in d["echo"]), \
        f"{label} each echo pod port got what the switch sent it, and sent what the switch got"
    assert d["balance"]["rx"] == d["balance"]["out"], \
        f"{label} the switch sent or counted as dropped every packet it received"


# ---- a) + c) three pods on different workers stream into one pod (while 50 ports come and go) ----


def ctl_batch(ctl: Ctl, calls: Sequence[Sequence[str]]) -> list[str]:
    """Runs ena-dpdk-ctl calls concurrently; the errors of those that failed."""
    procs = [subprocess.Popen([*ctl.argv, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for args in calls]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    return [e.strip() for p, e in zip(procs, errors) if p.returncode != 0]


def hot_plug(node: Node) -> dict:
    """Adds and removes 50 ports, ten calls at a time (each ena-dpdk-ctl process competes with a
    dozen busy-polling threads for the two CPUs; the switch admits the calls one by one all the
    same). After every ten changes the receiver must have got more: the stream never stops."""
    ctl, vhost = node.ctl, node.rig.vhost
    last, stalled, errors = ctl.counter("recv", "txPackets"), 0, []

    def sample() -> None:
        nonlocal last, stalled
        now = ctl.counter("recv", "txPackets")
        if now <= last:
            stalled += 1
        last = now

    def hot_ports() -> list[dict]:
        return [p for p in ctl.ports() if p["id"].startswith("hot")]

    batches = [range(b * 10 + 1, b * 10 + 11) for b in range(HOT_PORTS // 10)]
    for batch in batches:
        errors += ctl_batch(ctl, [["port", "add", "--id", f"hot{i}", "--network", "vpc", "--socket-path",
                                   str(vhost / f"hot{i}.sock"), "--vhost-mode", "server" if i % 2 == 0 else "client",
                                   "--ip", f"10.99.1.{i}/24"] for i in batch])
        sample()
    added = hot_ports()
    for batch in batches:
        errors += ctl_batch(ctl, [["port", "del", f"hot{i}"] for i in batch])
        sample()
    # A removed port's socket closes once the workers have passed a grace period: within
    # DeletePort when they report within 5 ms, else at the main loop's next poll (every 100 ms).
    # Four workers and the senders share two CPUs here, so a worker can be off its CPU longer
    # than that.
    deadline = time.monotonic() + 2
    while list(vhost.glob("hot*.sock")) and time.monotonic() < deadline:
        time.sleep(0.05)
    return {"added": len(added), "added_workers": len({p["workerLcore"] for p in added}),
            "removed": HOT_PORTS - len(hot_ports()), "ports_after": len(ctl.ports()),
            "sockets_left": [p.name for p in vhost.glob("hot*.sock")], "stalled": stalled, "errors": errors[:3]}


def stream_phase(node: Node, hotplug: bool) -> dict:
    """s1-s3 stream into recv (with the hot plug meanwhile); the phase's accounting."""
    ctl, senders = node.ctl, list(SENDERS)
    s0 = node.stats()
    tx0, rx0 = node.pod_tx(senders), node.pod_rx("recv")
    node.start_forwarding("recv")
    for s in senders:
        node.start_forwarding(s)
    start_r = port_counters(s0, "recv")["txPackets"]
    d: dict = {"reaches_recv": wait_for(30, lambda: ctl.counter("recv", "txPackets") > start_r + 1000)}
    if hotplug:
        d["hotplug"] = hot_plug(node)
    for s in senders:
        node.stop_forwarding(s)
    sent = node.pod_tx(senders) - tx0

    # The senders have stopped; the switch drains their rings, the receiver drains its own.
    def from_senders(b: dict) -> int:
        return sum(delta(s0, b, s, "rxPackets") for s in senders)

    d["senders_drained"] = wait_for(20, lambda: from_senders(node.stats()) == sent)
    s1 = node.stats()
    r0, r1 = port_counters(s0, "recv"), port_counters(s1, "recv")
    d.update({
        "sent": sent,
        "from_senders": from_senders(s1),
        "to_recv": r1["txPackets"] - r0["txPackets"],
        "recv_txfull": r1["dropTxFull"] - r0["dropTxFull"],
        "recv_other": sum(r1[k] - r0[k] for k in ("dropNotConnected", "dropNoRoute", "dropSpoofed", "dropOther")),
        "workers": len({p["workerLcore"] for p in s1["ports"] if p["id"] in [*senders, "recv"]}),
        "balance": balance(s0, s1),
    })
    wait_for(20, lambda: node.pod_rx("recv") == rx0 + d["to_recv"])
    node.stop_forwarding("recv")
    d["got"] = node.pod_rx("recv") - rx0
    return d


def assert_stream(node: Node, phase: str, hotplug: bool) -> None:
    label = node.label(phase)
    d = stream_phase(node, hotplug)
    print(f"{label} stream accounting: {d}")
    assert d["reaches_recv"], f"{label} the stream reaches the receiving pod"
    if hotplug:
        h = d["hotplug"]
        assert h["added"] == HOT_PORTS, f"{label} 50 ports hot-plugged while the pods stream: {h['errors']}"
        assert h["added_workers"] == node.workers, f"{label} the hot-plugged ports are spread over all {node.workers} workers"
        assert h["removed"] == HOT_PORTS and h["ports_after"] == POD_PORTS, \
            f"{label} 50 ports removed while the pods stream: {h['errors']}"
        assert h["sockets_left"] == [], f"{label} removed ports' sockets are gone"
        assert h["stalled"] == 0, f"{label} the stream never stalled during 100 port changes (sampled every 10)"
    assert d["senders_drained"], f"{label} the switch received every packet the senders sent"
    assert d["workers"] == node.workers, f"{label} the senders and the receiver are on {node.workers} different workers"
    assert d["sent"] == d["from_senders"] and d["from_senders"] == d["to_recv"] + d["recv_txfull"] \
        and d["recv_other"] == 0, f"{label} every packet from the senders was delivered or dropped for a full queue"
    assert d["got"] == d["to_recv"] and d["got"] > 0, f"{label} the receiving pod got exactly what the switch delivered"
    assert d["balance"]["rx"] == d["balance"]["out"], \
        f"{label} the switch sent or counted as dropped every packet it received"


# ---- each worker count: one dataplane (and its restart after kill -9) ----------------------------


class WorkerScenario:
    """The steps for one worker count; the subclasses below set ``workers``."""

    workers = 0

    @pytest.mark.must
    def test_the_dataplane_runs_its_workers(self, node: Node) -> None:
        node.start()
        assert len(node.stats()["workers"]) == self.workers, f"{node.label()} the dataplane runs {self.workers} workers"
        assert node.ctl.json("networks")["networks"][0]["uplink"]["queues"] == 2, f"{node.label()} the uplink has 2 RX queues"

    @pytest.mark.must
    def test_the_pod_ports_connect(self, node: Node) -> None:
        rig, eni = node.rig, node.rig.vpc.eni_mac
        sock = {name: str(rig.vhost / f"{name}.sock") for name in [*(f"echo{k}" for k in range(1, 5)), *SENDERS, "recv"]}
        # Slot order spreads the ports over the workers: echo1-4 on every worker, s1-s3 and recv too.
        for k in range(1, ECHO_PORTS + 1):
            ips = [a for j in range(4) for a in ("--ip", f"10.99.0.{10 + 4 * (k - 1) + j}/24")]
            node.ctl.run("port", "add", "--id", f"echo{k}", "--network", "vpc", "--socket-path", sock[f"echo{k}"],
                         "--vhost-mode", "server", *ips, check=True)
        for name, host in [*SENDERS.items(), ("recv", 40)]:
            node.ctl.run("port", "add", "--id", name, "--network", "vpc", "--socket-path", sock[name],
                         "--vhost-mode", "server", "--ip", f"10.99.0.{host}/24", check=True)
        node.pod("echo", "icmpecho", [],
                 [f"net_virtio_user{k - 1},path={sock[f'echo{k}']},server=1,mac={eni}" for k in range(1, 5)])
        for name, host in SENDERS.items():
            node.pod(name, "txonly", ["--txpkts=64", f"--tx-ip=10.99.0.{host},10.99.0.40", f"--eth-peer=0,{eni}"],
                     [f"net_virtio_user0,path={sock[name]},server=1,mac={eni}"])
        node.pod("recv", "rxonly", [], [f"net_virtio_user0,path={sock['recv']},server=1,mac={eni}"])
        for name, pod in node.pods.items():  # they start in parallel
            assert wait_for(60, lambda: "testpmd>" in pod.text()), f"pod {name} did not start: {pod.proc.log_tail(5)}"
        assert wait_for(30, node.all_connected), f"{node.label()} the 8 pod ports connect"

    def test_pings_to_16_pod_ips(self, node: Node) -> None:
        assert_pings(node, "fresh")

    def test_streams_while_50_ports_are_hot_plugged(self, node: Node) -> None:
        assert_stream(node, "hot plug", hotplug=True)

    @pytest.mark.must
    def test_kill_9_restores_every_port(self, node: Node) -> None:
        node.dataplane.kill9()
        node.start()
        assert len(node.ctl.ports()) == POD_PORTS, f"{node.label('after kill -9')} every port restored"
        assert wait_for(30, node.all_connected), f"{node.label('after kill -9')} every pod reconnected"

    def test_pings_after_kill_9(self, node: Node) -> None:
        assert_pings(node, "after kill -9")

    def test_streams_after_kill_9(self, node: Node) -> None:
        assert_stream(node, "after kill -9", hotplug=False)

    def test_sigterm_exits_0(self, node: Node) -> None:
        assert node.dataplane.terminate() == 0, f"{node.label()} SIGTERM exits 0"
        node.stop_all()
        assert "invalid virtqueue" not in node.dataplane.log(), \
            f"{node.label()} rte_vhost was never asked for a ring the pod had not set up"


class TestTwoWorkers(WorkerScenario):
    workers = 2


class TestFourWorkers(WorkerScenario):
    workers = 4


def test_teardown_leaves_nothing(rig: Rig) -> None:
    assert_teardown_leaves_nothing(rig.box)
