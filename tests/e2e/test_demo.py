"""Unit tests of the demo's summary (tests/e2e/demo.py): the rows and the tables' formatting, from
ena-dpdk-ctl's JSON, the dataplane's /metrics and pod-runner's state. No root, no process."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo import CgroupRow, PortRow, cgroups_table, port_row, ports_table, stream_line, uplink_line  # noqa: E402
from nib import Stream  # noqa: E402

ROOT = Path("/tmp/enadpdk-nib-demo/root")
METRICS = """# HELP ena_dpdk_port_drops_total Frames dropped per port and reason.
# TYPE ena_dpdk_port_drops_total counter
ena_dpdk_port_drops_total{port="cid/net1",reason="spoofed"} 2
ena_dpdk_port_drops_total{port="cid/net1",reason="tx_full"} 32158688
ena_dpdk_port_drops_total{port="cid/net1",reason="no_route"} 1
ena_dpdk_port_drops_total{port="cid/net1",reason="not_connected"} 3
ena_dpdk_port_drops_total{port="cid/net1",reason="other"} 4
ena_dpdk_port_drops_total{port="other/net1",reason="spoofed"} 100
ena_dpdk_uplink_rx_packets_total{network="vpc"} 13
ena_dpdk_uplink_tx_packets_total{network="vpc"} 8
ena_dpdk_worker_busy_cycles_total{lcore="1"} 123
ena_dpdk_worker_cycles_total{lcore="1"} 1000
"""
PORT = {"id": "cid/net1", "ips": ["10.99.0.11/24"], "socketPath": f"{ROOT}/var/run/ena-dpdk/vhost/vpc-01/vhost.sock",
        "connected": True, "counters": {"rxPackets": "3", "txPackets": "966819"}}


def test_port_row_takes_the_ports_drops_and_strips_the_root() -> None:
    row = port_row("pod-b", "vpc-01", PORT, METRICS, ROOT)
    assert row == PortRow("pod-b", "10.99.0.11", "vpc-01", "/var/run/ena-dpdk/vhost/vpc-01/vhost.sock", True, "3",
                          "966819", 2, 32158688, 8)


def test_port_row_of_a_port_without_counters_or_drops() -> None:
    row = port_row("pod-a", "vpc-00", {"id": "new/net1", "ips": [], "socketPath": "/elsewhere/s"}, METRICS, ROOT)
    assert (row.ip, row.socket, row.connected, row.rx, row.tx, row.spoofed, row.other) == (
        "", "/elsewhere/s", False, "0", "0", 0, 0)


def test_ports_table_columns() -> None:
    table = ports_table([port_row("pod-b", "vpc-01", PORT, METRICS, ROOT)], ROOT).splitlines()
    assert table[0] == ("POD    IP          SLOT    SOCKET (under /tmp/enadpdk-nib-demo/root)        CONN      "
                        "RX-PKTS     TX-PKTS  SPOOFED  QUEUE-FULL  OTHER")
    assert table[1] == ("pod-b  10.99.0.11  vpc-01  /var/run/ena-dpdk/vhost/vpc-01/vhost.sock        yes   "
                        "          3      966819        2    32158688      8")


def test_stream_line() -> None:
    assert stream_line(Stream(32_850_000, 950_000, 5.0)) == (
        "stream pod-a -> pod-b, 5.0 s: switched 6.57 Mpps from pod-a, delivered 0.19 Mpps to pod-b (2.9%)")
    assert stream_line(Stream(0, 0, 1.0)).endswith("(0.0%)")


def test_cgroups_table() -> None:
    info = {"container": "nib-demo-pod-a-app", "uid": 1000, "cgroup": "/nib-demo/kubepods/podnib-demo-pod-a",
            "hugetlbLimits": {"2MB": 0}, "hugetlbCurrent": {"2MB": 0}, "hugetlbMaxEvents": {"2MB": 0}}
    hugepages = {"resource": "dpdk.aws/hugepages-2Mi", "deviceIds": [str(i) for i in range(128)]}
    charge = Path("/sys/fs/cgroup/unified/nib-demo/ena-dpdk/hugepages/d6a3")
    table = cgroups_table([CgroupRow("pod-a", info, hugepages, charge, 256 << 20)], "2MB").splitlines()
    assert table[0] == ("POD    CONTAINER            UID   POD CGROUP                             HUGETLB LIMIT  "
                        "USED/MAX  ALLOCATION           PAGES CHARGED TO (hugetlb current)")
    assert table[1] == ("pod-a  nib-demo-pod-a-app   1000  /nib-demo/kubepods/podnib-demo-pod-a   2MB=0          "
                        "0/0       128 x hugepages-2Mi  /sys/fs/cgroup/unified/nib-demo/ena-dpdk/hugepages/d6a3 (256 MiB)")


def test_uplink_line() -> None:
    assert uplink_line(METRICS) == "uplink (VPC side): 13 packets in, 8 out; switch worker busy 12% of its cycles"
