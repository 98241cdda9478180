"""Unit tests of the node in a box's pure logic (tests/e2e/nib.py): hugepage planning, what node
prep reports, the config documents, the readiness and negative-control rules, and the parsing of
the apps', ping's and ena-dpdk-ctl's output. No root, no process."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nib  # noqa: E402
from nib import (  # noqa: E402
    DATAPLANE_2M,
    POD_2M,
    HugepagePlan,
    app_eal,
    conflist,
    container_id,
    dataplane_config,
    dataplane_host_view,
    gc_config,
    negative_control_verdict,
    network_line,
    node_config,
    nodeprep_config,
    nodeprep_summary,
    pages_added,
    ping_summary,
    plan_hugepages,
    resources_ready,
    security_context,
)

ROOT = Path("/tmp/enadpdk-nib-x/root")


@pytest.mark.parametrize(
    "page_size, pods, counts, plan",
    [
        # 1G: one free page per pod; the dataplane's 2M pages on top of the 2M already free.
        ("1G", 2, (0, 0, 0, 0), HugepagePlan(2, DATAPLANE_2M, 2, DATAPLANE_2M)),
        ("1G", 2, (3, 1, 10, 5), HugepagePlan(4, 10 + DATAPLANE_2M - 5, 2, DATAPLANE_2M)),
        # Enough free already: the totals stay as they are.
        ("1G", 2, (4, 2, 500, 400), HugepagePlan(4, 500, 2, DATAPLANE_2M)),
        # 2M: the dataplane's pages and one pod's worth more than the pods (the negative control).
        ("2M", 3, (0, 0, 0, 0), HugepagePlan(0, DATAPLANE_2M + 4 * POD_2M, 0, DATAPLANE_2M + 4 * POD_2M)),
        ("2M", 2, (0, 0, 100, 50), HugepagePlan(0, 100 + DATAPLANE_2M + 3 * POD_2M - 50, 0, DATAPLANE_2M + 3 * POD_2M)),
    ],
)
def test_plan_hugepages(page_size: str, pods: int, counts: tuple[int, int, int, int], plan: HugepagePlan) -> None:
    assert plan_hugepages(page_size, pods, *counts) == plan


def test_nodeprep_config_mounts_1g_only_where_pods_use_it() -> None:
    plan = HugepagePlan(2, 300, 2, 300)
    one_g = nodeprep_config(plan, "1G", ROOT / "dev/hugepages-1Gi", ROOT / "dev/hugepages")["nodeprep"]
    two_m = nodeprep_config(plan, "2M", ROOT / "dev/hugepages-1Gi", ROOT / "dev/hugepages")["nodeprep"]
    assert one_g["hugepages"] == {"1G": 2, "2M": 300, "persist": "never"}
    assert [m["pageSize"] for m in one_g["mounts"]] == ["1G", "2M"]
    assert two_m["mounts"] == [{"path": str(ROOT / "dev/hugepages"), "pageSize": "2M"}]
    assert two_m["bind"] == {"interfaces": []} and two_m["hostExec"] == "direct"


REPORT = {
    "ready": True,
    "actions": [
        {"step": "hugepages", "target": "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages",
         "status": "changed", "change": "12 -> 824"},
        {"step": "hugepages", "target": "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages",
         "status": "unchanged", "change": ""},
        {"step": "mount", "target": "/tmp/enadpdk-nib-x/root/dev/hugepages", "status": "changed",
         "change": "mounted hugetlbfs pagesize=2M"},
        {"step": "state", "target": "/x/state.json", "status": "changed", "change": "written"},
    ],
}


def test_pages_added_counts_only_changed_counts_of_that_size() -> None:
    assert pages_added(REPORT, "2M") == 812
    assert pages_added(REPORT, "1G") == 0
    assert pages_added({}, "2M") == 0


def test_nodeprep_summary_lists_changes_but_not_the_state_file() -> None:
    assert nodeprep_summary(REPORT) == "2M pages 12 -> 824, hugetlbfs 2M on /tmp/enadpdk-nib-x/root/dev/hugepages"


def test_dataplane_config_spells_out_the_sandbox_paths_and_keeps_the_host_view() -> None:
    host = dataplane_host_view("nbxu", "nibxdp")
    own = dataplane_config(host, ROOT)["dataplane"]
    assert host["controlSocket"] == "/run/ena-dpdk/dataplane.sock"  # not modified in place
    assert own["controlSocket"] == f"{ROOT}/run/ena-dpdk/dataplane.sock"
    assert own["stateFile"] == f"{ROOT}/var/lib/ena-dpdk/dataplane-state.json"
    assert own["cniStateDir"] == f"{ROOT}/var/lib/ena-dpdk/cni"
    assert own["allowedSocketDirs"] == [f"{ROOT}/var/run/ena-dpdk/vhost"]
    assert own["eal"][own["eal"].index("--huge-dir") + 1] == f"{ROOT}/dev/hugepages"
    assert own["eal"][own["eal"].index("--file-prefix") + 1] == "nibxdp"
    assert own["networks"][0]["uplink"]["device"] == "net_af_packet0,iface=nbxu"


def test_node_config_holds_the_pool_and_the_2mi_switch() -> None:
    config = node_config(dataplane_host_view("u", "p"), "/nib-x/ena-dpdk/hugepages", True)
    assert config["ipam"]["networks"]["vpc"] == {"addresses": [f"{a}/24" for a in nib.POOL], "gateway": "10.99.0.1"}
    assert config["deviceplugin"]["hugepages2Mi"] == {"enabled": True, "chargeCgroup": "/nib-x/ena-dpdk/hugepages"}
    assert config["deviceplugin"]["ena"] == {"slotsPerNetwork": nib.SLOTS, "slotGroup": nib.SLOT_GROUP}


def test_conflist_and_gc_config() -> None:
    doc = conflist("vpc-client", "client", ROOT, Path("/x/cni.log"), ROOT / "etc/ena-dpdk/config.json")
    plugin = doc["plugins"][0]
    assert doc["cniVersion"] == "1.0.0" and doc["name"] == "vpc-client"
    assert plugin["vhost"] == {"mode": "client"} and plugin["network"] == "vpc"
    assert plugin["ipam"]["stateDir"] == f"{ROOT}/var/lib/ena-dpdk/ipam"
    gc = gc_config(doc, [("abc", "net1")])
    assert gc["cniVersion"] == "1.1.0" and gc["name"] == "vpc-client" and gc["type"] == "ena-dpdk-cni"
    assert gc["cni.dev/valid-attachments"] == [{"containerID": "abc", "ifname": "net1"}]


def test_security_contexts() -> None:
    assert security_context("a")[:2] == ["--run-as-user", "1000"]
    assert security_context("c")[:2] == ["--run-as-user", "1001"]
    assert "--run-as-non-root" in security_context("a") and "--read-only-root" in security_context("c")
    assert security_context("b") == ["--run-as-user", "0", "--run-as-group", "0", "--cap-drop-all",
                                     "--cap-add", "IPC_LOCK"]


def resource(name: str, healthy: int, streaming: bool = True) -> dict:
    return {"name": name, "streaming": streaming, "devices": [{"id": str(i), "health": "Healthy"} for i in range(healthy)]}


@pytest.mark.parametrize(
    "listed, page_size, ready",
    [
        ([resource("dpdk.aws/ena", 4), resource("dpdk.aws/hugepages-1Gi", 2)], "1G", True),
        # Without 1G pages: 1Gi streams an empty list; the pods' pages are 2Mi.
        ([resource("dpdk.aws/ena", 4), resource("dpdk.aws/hugepages-1Gi", 0),
          resource("dpdk.aws/hugepages-2Mi", 300)], "2M", True),
        ([resource("dpdk.aws/ena", 4), resource("dpdk.aws/hugepages-1Gi", 0)], "2M", False),
        ([resource("dpdk.aws/ena", 0), resource("dpdk.aws/hugepages-1Gi", 2)], "1G", False),
        ([resource("dpdk.aws/ena", 4), resource("dpdk.aws/hugepages-1Gi", 2, streaming=False)], "1G", False),
    ],
)
def test_resources_ready(listed: list[dict], page_size: str, ready: bool) -> None:
    assert resources_ready({"resources": listed}, page_size) is ready


@pytest.mark.parametrize(
    "rc, events, log, verdict",
    [
        (135, 1, "", (True, "SIGBUS")),
        (1, 2, "EAL: Cannot init memory\n", (True, "EAL: Cannot init memory")),
        (1, 0, "EAL: Cannot init memory\n", (False, "EAL: Cannot init memory")),  # the cgroup did not count it
        (124, 3, "", (False, "signal")),  # still running after 30 s: it got its memory
        (0, 0, "", (False, "signal")),
        (1, 1, "some other error", (False, "signal")),
    ],
)
def test_negative_control_verdict(rc: int, events: int, log: str, verdict: tuple[bool, str]) -> None:
    assert negative_control_verdict(rc, events, log) == verdict


def test_app_eal_and_ping_summary() -> None:
    log = "pod-app: uid 1000 gid 1000\npod-app: EAL --huge-dir /dev/hugepages-2Mi --huge-unlink=never\ntestpmd>"
    assert app_eal(log) == "--huge-dir /dev/hugepages-2Mi --huge-unlink=never"
    assert app_eal("") == ""
    out = ("3 packets transmitted, 3 received, 0% packet loss, time 404ms\n"
           "rtt min/avg/max/mdev = 0.101/0.210/0.388/0.125 ms\n")
    assert ping_summary(out) == nib.PingSummary(3, "0.210")


def test_network_line_reads_the_ctl_table() -> None:
    table = ("NAME  MODE  MTU   UPLINK                     LINK  PORTS  UP   RX-PKTS  TX-PKTS  DROPS\n"
             "vpc   vpc   1500  net_af_packet0,iface=nbxu  up    0      yes  0        0        0\n")
    assert network_line(table) == "vpc (mode vpc), uplink net_af_packet0,iface=nbxu, link up"
    with pytest.raises(nib.NodeError):
        network_line("NAME MODE\n")


def test_container_id_is_stable_and_64_hex() -> None:
    cid = container_id("demo", "a")
    assert len(cid) == 64 and cid == container_id("demo", "a") != container_id("demo", "b")
    assert int(cid, 16) >= 0
