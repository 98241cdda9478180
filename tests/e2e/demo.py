"""The demo's node in a box, narrated (run by scripts/demo.sh after it built the `demo` target).

Runs the whole ena-dpdk stack on this machine (tests/e2e/nib.py) and shows it working: node
prep, the VPC, the dataplane and the device plugin registered with a kubelet stand-in, two pods
as runc containers, ping from the VPC, pod-to-pod streaming, two summary tables, and a clean
teardown (on success, a failed step, Ctrl-C, SIGTERM or SIGHUP), checked for leftovers.
The run is named "demo": a run killed with kill -9 is cleaned up by the next.

Usage: demo.py BUILD_DIR. Exit status: 0 when every step worked, 1 when one failed (its reason
and the logs' last lines are printed) or teardown left something, 130 on Ctrl-C, SIGTERM or
SIGHUP, 141 when the output pipe closed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "support"))
sys.path.insert(0, str(HERE))

from dpdk_procs import host_port, metric  # noqa: E402
from nib import (  # noqa: E402
    CGROUP_KEY,
    POOL,
    VPC_GATEWAY,
    VPC_PREFIX,
    Node,
    Stream,
    app_eal,
    healthy_devices,
    network_line,
    nodeprep_summary,
    ping_summary,
    until,
)
from sandbox import SandboxError, require  # noqa: E402

STREAM_SECONDS = 5
T = TypeVar("T")


class Interrupted(BaseException):
    """SIGTERM or SIGHUP: stop like Ctrl-C (teardown follows). A BaseException, so that no step's
    error handling takes it for a failure."""


class StepFailed(Exception):
    def __init__(self, what: str, why: str) -> None:
        super().__init__(f"{what}: {why}")
        self.what = what


def say(text: str = "") -> None:
    print(text, flush=True)


def step(what: str, action: Callable[[], T]) -> T:
    """Runs one step; a failure ends the demo (teardown follows)."""
    try:
        return action()
    except (SandboxError, OSError, subprocess.SubprocessError, json.JSONDecodeError, KeyError, ValueError) as e:
        raise StepFailed(what, str(e)) from e


# ---- the summary tables (pure: tested in test_demo.py) --------------------------------------------

PORTS_FORMAT = "{:<6} {:<11} {:<7} {:<48} {:<5} {:>11} {:>11} {:>8} {:>11} {:>6}"
CGROUPS_FORMAT = "{:<6} {:<20} {:<5} {:<38} {:<14} {:<9} {:<20} {}"


@dataclass(frozen=True)
class PortRow:
    """One pod's switch port as the demo shows it."""

    pod: str
    ip: str
    slot: str
    socket: str  # under the sandbox root
    connected: bool
    rx: str
    tx: str
    spoofed: int
    queue_full: int
    other: int


def port_row(pod: str, slot: str, port: dict, metrics_text: str, root: Path) -> PortRow:
    """The pod's port from ena-dpdk-ctl -o json and its drops from the dataplane's /metrics."""

    def drops(reason: str) -> int:
        return int(metric(metrics_text, "ena_dpdk_port_drops_total", port=port["id"], reason=reason))

    socket = port.get("socketPath", "")
    counters = port.get("counters", {})
    return PortRow(pod, ",".join(port.get("ips", [])).split("/")[0], slot,
                   socket[len(str(root)):] if socket.startswith(str(root)) else socket, bool(port.get("connected")),
                   str(counters.get("rxPackets", 0)), str(counters.get("txPackets", 0)), drops("spoofed"),
                   drops("tx_full"), drops("no_route") + drops("not_connected") + drops("other"))


def ports_table(rows: list[PortRow], root: Path) -> str:
    lines = [PORTS_FORMAT.format("POD", "IP", "SLOT", f"SOCKET (under {root})", "CONN", "RX-PKTS", "TX-PKTS",
                                 "SPOOFED", "QUEUE-FULL", "OTHER")]
    for r in rows:
        lines.append(PORTS_FORMAT.format(r.pod, r.ip, r.slot, r.socket, "yes" if r.connected else "no", r.rx, r.tx,
                                         r.spoofed, r.queue_full, r.other))
    return "\n".join(lines)


def stream_line(stream: Stream) -> str:
    s = stream.seconds
    share = 100 * stream.tx / stream.rx if stream.rx else 0
    return (f"stream pod-a -> pod-b, {s:.1f} s: switched {stream.rx / s / 1e6:.2f} Mpps from pod-a, "
            f"delivered {stream.tx / s / 1e6:.2f} Mpps to pod-b ({share:.1f}%)")


@dataclass(frozen=True)
class CgroupRow:
    """The kubelet's rules as applied to one pod: who it runs as, its cgroup's hugetlb limit and
    use, and where its pages are charged instead (the device plugin's per-allocation cgroup)."""

    pod: str
    info: dict  # pod-runner state
    hugepages: dict  # the pod's hugepages allocation (kubelet-standin allocate)
    charge_cgroup: Path
    charged_bytes: int


def cgroups_table(rows: list[CgroupRow], page_key: str) -> str:
    lines = [CGROUPS_FORMAT.format("POD", "CONTAINER", "UID", "POD CGROUP", "HUGETLB LIMIT", "USED/MAX", "ALLOCATION",
                                   "PAGES CHARGED TO (hugetlb current)")]
    for r in rows:
        limits = ",".join(f"{k}={v}" for k, v in r.info.get("hugetlbLimits", {}).items())
        used = f"{r.info.get('hugetlbCurrent', {}).get(page_key)}/{r.info.get('hugetlbMaxEvents', {}).get(page_key)}"
        allocation = f"{len(r.hugepages['deviceIds'])} x {r.hugepages['resource'].rsplit('/', 1)[-1]}"
        lines.append(CGROUPS_FORMAT.format(r.pod, r.info.get("container", ""), r.info.get("uid", ""),
                                           r.info.get("cgroup", ""), limits, used, allocation,
                                           f"{r.charge_cgroup} ({r.charged_bytes // 1048576} MiB)"))
    return "\n".join(lines)


def uplink_line(metrics_text: str) -> str:
    """The uplink's packets and the workers' busy share since the dataplane started (the demo has
    one scrape; a dashboard takes rate() of the same two cycle counters for the load now)."""
    total = metric(metrics_text, "ena_dpdk_worker_cycles_total")
    busy = metric(metrics_text, "ena_dpdk_worker_busy_cycles_total") / total if total else 0
    return (f"uplink (VPC side): {int(metric(metrics_text, 'ena_dpdk_uplink_rx_packets_total'))} packets in, "
            f"{int(metric(metrics_text, 'ena_dpdk_uplink_tx_packets_total'))} out; "
            f"switch worker busy {100 * busy:.0f}% of its cycles")


# ---- the run ------------------------------------------------------------------------------------


def bring_up(node: Node) -> None:
    """Every step of the demo up to the pods' CNI DEL."""
    if node.page_size == "2M":
        node.progress("this CPU has no 1G hugepages (no pdpe1gb): pods get dpdk.aws/hugepages-2Mi, "
                      "the same mechanism on 2M pages")
    report = step("node prep", lambda: node.prepare_node(2))
    node.progress(f"node prep: {nodeprep_summary(report)}")
    step("VPC namespace", node.start_vpc)
    step("configuration", node.write_configs)
    node.progress(f"VPC: namespace {node.vpc_ns}, router {VPC_GATEWAY}/{VPC_PREFIX}, uplink {node.uplink} "
                  f"(ENI MAC {node.eni_mac}), static pool {' '.join(POOL)}")
    step("kubelet stand-in", node.start_standin)
    node.progress(f"kubelet stand-in: Registration on {node.root}/var/lib/kubelet/device-plugins/kubelet.sock, "
                  "PodResources")
    step("dataplane", node.start_dataplane)
    networks = step("dataplane", lambda: node.ctl.run("networks", check=True).stdout)
    metrics_at = host_port(node.dp_metrics_host, node.dp_metrics)
    node.progress(f"dataplane: network {network_line(networks)}, metrics {metrics_at}")
    step("device plugin", node.start_deviceplugin)
    resources = step("device plugin", node.resources)
    node.progress("device plugin registered: " + ", ".join(
        f"{r['name']} ({len(healthy_devices(resources, r['name']))} healthy)" for r in resources["resources"]))

    for name in ("a", "b"):
        pod = step(f"pod-{name}: Allocate and CNI ADD", lambda: node.pod_sandbox(name))
        node.progress(f"pod-{name}: Allocate -> {pod.device} + {len(pod.hugepages['deviceIds'])} page(s) of "
                      f"{pod.hugepages['resource']}; CNI ADD (libcni, deviceID {pod.device}) -> {pod.ip}")
    step("pod-a: testpmd", lambda: node.start_pod("a", "b"))
    step("pod-b: testpmd", lambda: node.start_pod("b", "a"))
    for name in ("a", "b"):
        pod = node.pods[name]
        node.progress(f"pod-{name}: runc container {pod.container['container']} (uid {pod.container['uid']}): "
                      f"testpmd on virtio_user {pod.slot_info['socketPath']} (server mode), MAC {pod.slot_info['mac']}, "
                      f"EAL {app_eal(pod.app.text())}")
    if not until(30, lambda: node.ctl.connected() == 2):
        raise StepFailed("pods connected", f"{node.ctl.connected()} of 2 ports connected after 30 s")

    for name in ("a", "b"):
        out = node.ping(name)
        if out is None:
            raise StepFailed(f"ping pod-{name} from the VPC", "no answer in 20 s")
        ping = ping_summary(out)
        node.progress(f"ping {node.pods[name].ip} from the VPC: {ping.received} received of 3, {ping.avg_ms} ms avg")

    node.progress(f"pod-a -> pod-b: {STREAM_SECONDS} s of 64-byte UDP (testpmd txonly) through the switch")
    stream = step("stream", lambda: node.stream("a", "b", STREAM_SECONDS))
    summary(node, stream)

    # Clean teardown: the kubelet deletes the pods (apps stop, CNI DEL), then the node goes.
    for name in ("a", "b"):
        step(f"pod-{name}: stop", lambda: node.stop_pod(name))
        step(f"pod-{name}: CNI DEL", lambda: node.cni_del(name))
    left = step("ena-dpdk-ctl ports", node.ctl.ports)
    node.progress(f"CNI DEL for both pods: {len(left)} dataplane ports left")


def summary(node: Node, stream: Stream) -> None:
    """ena-dpdk-ctl -o json for ports and counters, /metrics for the drops, pod-runner and the
    cgroups for the kubelet's rules."""
    ports = {p["id"]: p for p in step("ena-dpdk-ctl ports", node.ctl.ports)}
    metrics_text = step("dataplane /metrics", node.dataplane_metrics)
    rows = [port_row(f"pod-{n}", node.pods[n].device, ports[node.pods[n].port_id], metrics_text, node.root)
            for n in ("a", "b") if node.pods[n].port_id in ports]
    say()
    say(ports_table(rows, node.root))
    say()
    say(stream_line(stream))
    say()
    cgroups = []
    for name in ("a", "b"):
        info = step(f"pod-{name}: state", lambda: node.pod_info(name))
        charge, charged = step(f"pod-{name}: hugepage charge", lambda: node.allocation_charge(name))
        cgroups.append(CgroupRow(f"pod-{name}", info, node.pods[name].hugepages, charge, charged))
    say(cgroups_table(cgroups, CGROUP_KEY[node.page_size]))
    say("(USED/MAX: the pod cgroup's hugetlb.<size>.current and its 'max' events: 0/0 means the pod")
    say(" faulted none of its pages itself and was never refused one)")
    say(uplink_line(metrics_text))
    if (os.cpu_count() or 1) < 4:
        say(f"({os.cpu_count()} cores: pod-a's and pod-b's poll loops share one, so pod-b drains its queue only in its")
        say(" scheduler time slices and the switch drops the rest as QUEUE-FULL; docs/performance.md has")
        say(" the switch's own figures)")
    say()


def interrupt(signum: int, frame: object) -> None:
    raise Interrupted(signum)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: demo.py BUILD_DIR", file=sys.stderr)
        return 2
    try:
        require("dpdk-testpmd", "ip", "ping", "jq", "ss", "stdbuf", "runc")
    except SandboxError as e:
        print(f"demo: {e}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)
    node = Node("demo", argv[1], progress=say)
    missing = node.missing_binaries()
    if missing:
        print(f"demo: {', '.join(missing)} missing (scripts/build.sh --target demo builds them)", file=sys.stderr)
        return 1
    say(f"== node in a box (sandbox {node.dir})")
    rc, failed, claimed = 0, "", False
    try:
        if node.dir.exists() and not node.box.owner_alive():
            node.progress(f"cleaning up what an interrupted run left in {node.dir}")
        step("clean up an earlier run", node.claim)
        claimed = True
        bring_up(node)
    except StepFailed as e:
        rc, failed = 1, str(e)
    except (KeyboardInterrupt, Interrupted):
        rc = 130
    except BrokenPipeError:
        rc = 141
    except Exception as e:  # a bug in the demo itself: reported, and the teardown still runs
        traceback.print_exc()
        rc, failed = 1, f"{type(e).__name__}: {e}"
    return finish(node, rc, failed, claimed)


def finish(node: Node, rc: int, failed: str, claimed: bool) -> int:
    """Teardown runs to the end: a closed terminal or pipe, or another Ctrl-C, does not stop it."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    try:
        if failed:
            print(f"demo: FAILED: {failed}", file=sys.stderr)
            for log in sorted(node.logs.glob("*.log")) if node.logs.is_dir() else []:
                if claimed and log.stat().st_size:
                    tail = "\n".join(log.read_text(errors="replace").splitlines()[-5:])
                    print(f"--- last lines of {log}\n{tail}", file=sys.stderr)
        elif rc != 0:
            print(f"demo: stopped (exit {rc})", file=sys.stderr)
        if not claimed:
            return rc or 1  # another live run holds the name: its resources are not ours
        node.progress("teardown: stopping the daemons, removing namespaces and mounts, giving back hugepages")
        left = node.teardown()
        if left:
            print("demo: teardown left:", file=sys.stderr)
            print("\n".join(left), file=sys.stderr)
            rc = rc or 1
        else:
            node.progress("clean: no process, container, cgroup, namespace, veth, mount or sandbox file of the demo "
                          "is left")
        if rc == 0:
            say(f"demo: done in {node.elapsed():.1f} s")
    except BrokenPipeError:
        # The reader is gone: finish the teardown quietly (it is idempotent).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stderr.fileno())
        if claimed:
            node.teardown()
        rc = rc or 141
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
