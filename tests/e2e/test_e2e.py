"""End-to-end test: the demo's node in a box (tests/e2e/nib.py) with assertions, then failure
injection: the dataplane killed mid-traffic and restarted, the kubelet stand-in restarted, CNI DEL
while the dataplane is down followed by GC, and a teardown that must leave nothing behind.

The pods are runc containers (tests/tools/pod-runner) in pod cgroups with the kubelet's hugetlb
limits (0: they ask for no native hugepages), pod-a as a non-root user (and a short-lived non-root
pod-c in vhost client mode); a negative control proves that such a cgroup refuses hugepages
faulted the way the product did before. Needs root, runc, 2 free 1G hugepages' worth of memory
and about 600 MB of 2M pages (where the CPU has no 1G pages, pods use dpdk.aws/hugepages-2Mi:
about 1.4 GB of 2M pages).

The tests are steps of one scenario and run in file order against one node (the steps plugin:
a failed ``must`` step fails every later test at once, naming it). On failure the daemons' and
pods' last log lines are printed and the logs and state kept in /tmp/enadpdk-e2e-failed.
ENA_DPDK_BUILD_DIR names the build tree (ctest sets it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nib import (  # noqa: E402
    ENA_RESOURCE,
    HUGE_1GI_RESOURCE,
    NETWORK,
    POD_2M,
    POD_A_UID,
    POOL,
    SLOT_GROUP,
    SLOTS,
    DATAPLANE_2M,
    PAGE_BYTES,
    Node,
    Stream,
    clean_abandoned_runs,
    healthy_devices,
    until,
)
from dpdk_procs import host_port  # noqa: E402
from prometheus import Prometheus  # noqa: E402
from sandbox import HUGEPAGE_DIRS, require, run, wait_for  # noqa: E402

FAILED_DIR = Path("/tmp/enadpdk-e2e-failed")


@dataclass
class Scenario:
    """The node and what one step measures for a later one."""

    node: Node
    registrations: int = 0
    figures: dict = field(default_factory=dict)
    teardown_problems: list[str] = field(default_factory=list)


def keep_evidence(node: Node) -> None:
    """The daemons' and pods' last log lines, and the whole evidence for a closer look (the work
    directory goes with the teardown)."""
    if not node.logs.is_dir():
        return
    for log in sorted(node.logs.glob("*.log")):
        if log.stat().st_size:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-8:])
            print(f"--- last lines of {log}\n{tail}")
    shutil.rmtree(FAILED_DIR, ignore_errors=True)
    FAILED_DIR.mkdir(parents=True)
    for part in ("logs", "state", "pods", "ledger.jsonl"):
        source = node.dir / part
        if source.is_dir():
            shutil.copytree(source, FAILED_DIR / part, symlinks=True)
        elif source.is_file():
            shutil.copy(source, FAILED_DIR / part)
    print(f"(logs and state kept in {FAILED_DIR})")


def keep_evidence_visibly(request: pytest.FixtureRequest, node: Node) -> None:
    """keep_evidence with pytest's output capture off, so that the log tails show even when the
    test that runs it passes."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        keep_evidence(node)


@pytest.fixture(scope="module")
def s(request: pytest.FixtureRequest) -> Scenario:
    if os.geteuid() != 0:
        pytest.fail("the end-to-end test needs root")
    require("dpdk-testpmd", "ip", "ping", "jq", "ss", "stdbuf", "sha256sum", "runc", "timeout", "promtool", "prometheus")
    build = os.environ.get("ENA_DPDK_BUILD_DIR")
    if not build:
        pytest.fail("ENA_DPDK_BUILD_DIR is not set (ctest sets it to the build tree)")
    node = Node(f"e2e{os.getpid()}", build)
    missing = node.missing_binaries()
    if missing:
        pytest.fail(f"{', '.join(missing)} missing (build the tree first)")
    # Runs left by killed e2e processes (ctest timeouts) are cleaned up first; live ones are left.
    clean_abandoned_runs("e2e")
    scenario = Scenario(node)
    yield scenario
    if request.session.testsfailed:
        keep_evidence_visibly(request, node)
    node.teardown()


def ports(node: Node) -> list[dict]:
    return node.ctl.ports()


def port_ids(node: Node) -> list[str]:
    return [p["id"] for p in ports(node)]


def connected(node: Node) -> int:
    return node.ctl.connected()


def lease_files(node: Node) -> list[Path]:
    """ena-dpdk-ipam's leases: <stateDir>/<network>/<containerID>@<ifname>.lease."""
    return [p for p in node.ipam_state.rglob("*.lease") if p.is_file()]


def leases_naming(node: Node, container_id: str) -> int:
    return sum(1 for p in lease_files(node) if p.name.startswith(f"{container_id}@"))


def sockets_under(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_socket()]


def pending_deletes(node: Node) -> int:
    return sum(1 for p in (node.cni_state / "pending-deletes").rglob("*") if p.is_file())


def spoofed(node: Node) -> int:
    return node.dp_metric("ena_dpdk_port_drops_total", reason="spoofed")


def registered_ok(node: Node) -> int:
    return node.deviceplugin_metric("ena_dpdk_deviceplugin_registrations_total", result="ok")


def expected_registrations(node: Node) -> int:
    """ena, ena-dedicated, hugepages-1Gi, and hugepages-2Mi where it is on."""
    return 4 if node.page_size == "2M" else 3


def pod_devices(node: Node) -> int:
    """Devices both pods hold: an attachment and their hugepages (one 1G page or POD_2M 2M pages)."""
    return 4 if node.page_size == "1G" else 2 + 2 * POD_2M


def promtool_problems(text: str) -> list[str]:
    """What Prometheus's own linter (`promtool check metrics`) says about an exposition: one line
    per problem (naming, types, HELP), none when it is clean, so that a dashboard or alert that
    follows the conventions finds our names where it looks."""
    done = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True,
                          timeout=30, check=False)
    problems = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    if done.returncode != 0 and not problems:
        problems = [f"promtool check metrics exited {done.returncode}"]
    return problems


def parsed(text: str) -> list[Sample]:
    """Every sample of an exposition as the Prometheus client library's text-format parser reads
    it (it raises on anything a scraper would refuse), rather than our own regular expressions."""
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def values(samples: list[Sample], name: str, **labels: str) -> list[float]:
    return [x.value for x in samples if x.name == name and all(x.labels.get(k) == v for k, v in labels.items())]


def total(samples: list[Sample], name: str, **labels: str) -> float:
    return sum(values(samples, name, **labels))


def in_pod_cgroup(node: Node, daemon: str) -> bool:
    """The daemon's cgroup on the unified hierarchy (the "0::" line of /proc/<pid>/cgroup)."""
    lines = Path(f"/proc/{node.process(daemon).pid}/cgroup").read_text().splitlines()
    return f"0::{node.cgroup_parent}/podnib-{node.name}-{daemon}" in lines


# ---- the node ------------------------------------------------------------------------------------


@pytest.mark.must
def test_no_earlier_run_holds_the_name(s: Scenario) -> None:
    s.node.claim()
    if s.node.page_size == "2M":
        print("NOTE: this CPU has no 1G hugepages (no pdpe1gb): pods get dpdk.aws/hugepages-2Mi (the same "
              "mechanism on 2M pages), and dpdk.aws/hugepages-1Gi is checked to offer nothing")


@pytest.mark.must
def test_node_prep_reserves_hugepages_and_mounts_hugetlbfs(s: Scenario) -> None:
    s.node.prepare_node(3)


def test_node_prep_reports_the_node_ready(s: Scenario) -> None:
    assert s.node.nodeprep_report["ready"] is True


def test_hugetlbfs_mounts_are_in_the_mount_table(s: Scenario) -> None:
    mounts = Path("/proc/mounts").read_text()
    assert re.search(rf" {re.escape(str(s.node.huge_2m))} hugetlbfs .*pagesize=2M", mounts)
    if s.node.page_size == "1G":
        assert re.search(rf" {re.escape(str(s.node.huge_1g))} hugetlbfs .*pagesize=1024M", mounts)
    else:
        assert f" {s.node.huge_1g} " not in mounts, "a 1G mount on a CPU without 1G pages"


@pytest.mark.must
def test_the_vpc_namespace_and_uplink_veth_come_up(s: Scenario) -> None:
    s.node.start_vpc()


@pytest.mark.must
def test_configuration_written(s: Scenario) -> None:
    s.node.write_configs()


@pytest.mark.must
def test_the_kubelet_standin_serves(s: Scenario) -> None:
    s.node.start_standin()


@pytest.mark.must
def test_the_dataplane_serves(s: Scenario) -> None:
    s.node.start_dataplane()


@pytest.mark.must
def test_the_device_plugin_registers_its_resources(s: Scenario) -> None:
    s.node.start_deviceplugin()


def test_the_standin_holds_every_registration(s: Scenario) -> None:
    streaming = [r for r in s.node.resources()["resources"] if r["registrations"] == 1 and r["streaming"]]
    assert len(streaming) == expected_registrations(s.node), streaming


def test_ena_offers_every_slot_healthy_on_the_vpc_network(s: Scenario) -> None:
    devices = healthy_devices(s.node.resources(), ENA_RESOURCE)
    assert len([d for d in devices if d["id"].startswith("vpc-")]) == SLOTS


def test_the_hugepages_resource_offers_the_pods_pages(s: Scenario) -> None:
    resources = s.node.resources()
    healthy = len(healthy_devices(resources, s.node.huge_resource))
    if s.node.page_size == "1G":
        assert healthy >= 2, "dpdk.aws/hugepages-1Gi offers the 2 reserved pages"
    else:
        assert healthy >= 2 * POD_2M, "dpdk.aws/hugepages-2Mi offers the pods' pages"
        offered = [d for r in resources["resources"] if r["name"] == HUGE_1GI_RESOURCE for d in r["devices"]]
        assert offered == [], "dpdk.aws/hugepages-1Gi offers nothing on a CPU without 1G pages"


def test_the_device_plugin_runs_in_a_pod_cgroup_with_hugetlb_limit_0(s: Scenario) -> None:
    assert in_pod_cgroup(s.node, "deviceplugin")
    assert sum(s.node.pod_state("deviceplugin")["hugetlbLimits"].values()) == 0


def test_the_dataplane_runs_in_a_pod_cgroup_limited_to_its_hugepages_2mi_request(s: Scenario) -> None:
    assert in_pod_cgroup(s.node, "dataplane")
    assert s.node.pod_state("dataplane")["hugetlbLimits"]["2MB"] == DATAPLANE_2M * PAGE_BYTES["2M"]


# ---- two pods ------------------------------------------------------------------------------------


@pytest.mark.must
def test_pod_a_allocate_and_cni_add(s: Scenario) -> None:
    s.node.pod_sandbox("a")


@pytest.mark.must
def test_pod_b_allocate_and_cni_add(s: Scenario) -> None:
    s.node.pod_sandbox("b")


def test_the_pods_got_different_attachments(s: Scenario) -> None:
    assert s.node.pods["a"].device != s.node.pods["b"].device


def test_the_pods_got_different_ips_from_the_static_pool(s: Scenario) -> None:
    a, b = s.node.pods["a"].ip, s.node.pods["b"].ip
    assert a != b and a in POOL and b in POOL


@pytest.mark.parametrize("name", ["a", "b"])
def test_device_plugin_cni_slot_file_and_dataplane_agree_on_the_slot(s: Scenario, name: str) -> None:
    node, pod = s.node, s.node.pods[name]
    port = node.ctl.port(pod.port_id)
    mount = pod.ena["response"]["mounts"][0]
    host_slot = Path(str(node.root) + mount["hostPath"])
    info = json.loads((host_slot / "ena-dpdk.json").read_text())
    assert pod.ena["response"]["envs"]["ENA_DPDK_DEVICES"] == pod.device
    assert host_slot == node.slot_dir / pod.device
    assert port["socketPath"] == f"{host_slot}/vhost.sock"
    assert port["network"] == NETWORK
    assert port["ips"][0] == pod.cni_result["ips"][0]["address"]
    assert info["deviceID"] == pod.device
    assert info["socketPath"] == f"{mount['containerPath']}/vhost.sock"
    assert info["mac"] == node.eni_mac
    assert pod.cni_result["interfaces"][0]["sandbox"] == f"/run/netns/{pod.netns}"


def test_the_npwg_device_info_names_pod_a_vhost_user_socket(s: Scenario) -> None:
    devinfo = json.loads(s.node.devinfo_file("a").read_text())
    slot = json.loads((s.node.slot_dir / s.node.pods["a"].device / "ena-dpdk.json").read_text())
    assert devinfo["vhost-user"]["path"] and devinfo["vhost-user"]["path"] == slot["socketPath"]


def test_the_standin_publishes_both_pods_allocations(s: Scenario) -> None:
    # An attachment and hugepages each.
    allocations = [a for a in s.node.resources()["allocations"] if a["pod"] in ("pod-a", "pod-b")]
    assert len(allocations) == 4, allocations


@pytest.mark.must
def test_pod_a_testpmd_starts(s: Scenario) -> None:
    s.node.start_pod("a", "b")


@pytest.mark.must
def test_pod_b_testpmd_starts(s: Scenario) -> None:
    s.node.start_pod("b", "a")


@pytest.mark.must
def test_both_pods_connect_to_the_dataplane(s: Scenario) -> None:
    assert until(30, lambda: connected(s.node) == 2)


def test_pod_a_runs_as_a_non_root_user_with_the_slot_group(s: Scenario) -> None:
    info = s.node.pods["a"].container
    assert info["status"] == "running"
    assert info["uid"] == POD_A_UID
    assert SLOT_GROUP in info["groups"]
    assert re.search(rf"^pod-app: uid {POD_A_UID} ", s.node.pods["a"].app.text(), re.M)


def test_pod_b_runs_as_root(s: Scenario) -> None:
    info = s.node.pods["b"].container
    assert info["status"] == "running" and info["uid"] == 0


def test_both_pod_cgroups_have_hugetlb_limit_0_for_every_page_size(s: Scenario) -> None:
    limits_a = s.node.pods["a"].container["hugetlbLimits"]
    limits_b = s.node.pods["b"].container["hugetlbLimits"]
    assert sum(limits_a.values()) == 0 and sum(limits_b.values()) == 0 and len(limits_a) >= 1


def test_pod_a_slot_is_group_owned_setgid_and_its_socket_is_the_pods(s: Scenario) -> None:
    slot = s.node.slot_dir / s.node.pods["a"].device
    st = slot.stat()
    assert (st.st_gid, stat.S_IMODE(st.st_mode)) == (SLOT_GROUP, 0o2770)
    sock = (slot / "vhost.sock").stat()
    assert (sock.st_uid, sock.st_gid) == (POD_A_UID, SLOT_GROUP)


def test_the_pods_apps_took_their_eal_hugepage_arguments_from_the_device_plugin(s: Scenario) -> None:
    for name in ("a", "b"):
        assert re.search(r"^pod-app: EAL .*--huge-unlink=never", s.node.pods[name].app.text(), re.M), name


# ---- traffic -------------------------------------------------------------------------------------


def test_the_uplink_counters_before_the_pings(s: Scenario) -> None:
    s.figures["metrics_before_pings"] = parsed(s.node.dataplane_metrics())


def test_ping_from_the_vpc_to_pod_a_is_answered(s: Scenario) -> None:
    assert s.node.ping("a") is not None


def test_ping_from_the_vpc_to_pod_b_is_answered(s: Scenario) -> None:
    assert s.node.ping("b") is not None


def test_the_vpc_resolved_both_pod_ips_to_the_eni_mac(s: Scenario) -> None:
    # The switch answers ARP for pod IPs with the ENI's MAC.
    for name in ("a", "b"):
        assert s.node.eni_mac in s.node.vpc.neighbour_mac(s.node.pods[name].ip), name


def test_pod_a_streams_to_pod_b_for_3_s(s: Scenario) -> None:
    node, f = s.node, s.figures
    f["uplink_tx_before"] = node.dp_metric("ena_dpdk_uplink_tx_packets_total")
    a_tx0 = node.pods["a"].app.port_stats().tx
    b_rx0 = node.pods["b"].app.port_stats().rx
    f["stream"] = node.stream("a", "b", 3)
    f["a_sent"] = node.pods["a"].app.port_stats().tx - a_tx0
    f["b_rx1"] = node.pods["b"].app.port_stats().rx
    f["b_received"] = f["b_rx1"] - b_rx0
    f["sw_b_tx"] = node.port_counter("b", "txPackets")
    print(f"stream: pod-a sent {f['a_sent']}, the switch took {f['stream'].rx} from pod-a and gave "
          f"{f['stream'].tx} to pod-b, pod-b received {f['b_received']}")


def test_pod_a_packets_were_counted_by_pod_a_and_by_the_switch(s: Scenario) -> None:
    assert s.figures["a_sent"] > 1000 and s.figures["stream"].rx > 1000


def test_the_switch_took_no_more_from_pod_a_than_pod_a_sent(s: Scenario) -> None:
    assert s.figures["stream"].rx <= s.figures["a_sent"]


def test_pod_b_received_pod_a_packets_as_counted_by_the_switch_and_by_pod_b(s: Scenario) -> None:
    assert s.figures["stream"].tx > 1000 and s.figures["b_received"] > 1000


def test_pod_b_counted_the_packets_the_switch_delivered_to_it(s: Scenario) -> None:
    # What the switch handed to pod-b's queue, pod-b counted, but for what was still in its queue
    # (1024 descriptors) when its statistics were read.
    f = s.figures
    assert f["sw_b_tx"] - 1024 <= f["b_rx1"] <= f["sw_b_tx"]


def test_no_spoofed_frames(s: Scenario) -> None:
    # Every pod sent with its own MAC and IP.
    assert spoofed(s.node) == 0


def test_pod_b_streams_to_pod_a_for_1_s(s: Scenario) -> None:
    back: Stream = s.node.stream("b", "a", 1)
    if back.tx <= 1000:
        # On a loaded 2-core machine a pod in its cpu cgroup can get almost no time for a second.
        print(f"stream back: only {back.tx} delivered; the pods were starved, streaming 5 s more")
        back = s.node.stream("b", "a", 5)
    s.figures["back"] = back
    print(f"stream back: the switch took {back.rx} from pod-b and gave {back.tx} to pod-a")


def test_pod_a_received_pod_b_packets(s: Scenario) -> None:
    assert s.figures["back"].tx > 1000


def test_pod_to_pod_traffic_never_left_through_the_uplink(s: Scenario) -> None:
    assert s.node.dp_metric("ena_dpdk_uplink_tx_packets_total") == s.figures["uplink_tx_before"]


# ---- metrics, as Prometheus scrapes them -------------------------------------------------------


def test_both_daemons_serve_metrics_promtool_accepts(s: Scenario) -> None:
    # Scraped over HTTP at the addresses their --metrics-address names (the dataplane on
    # 127.0.0.1, the device plugin on [::1]), not the config file's 127.0.0.1:0.
    for daemon, text in (("dataplane", s.node.dataplane_metrics()),
                         ("deviceplugin", s.node.deviceplugin_metrics_text())):
        assert promtool_problems(text) == [], daemon
        s.figures[f"{daemon}_samples"] = parsed(text)


def test_the_ports_metrics_name_their_pods(s: Scenario) -> None:
    samples = s.figures["dataplane_samples"]
    for name in ("a", "b"):
        pod = s.node.pods[name]
        labelled = [x for x in samples if x.name.startswith("ena_dpdk_port_") and x.labels["port"] == pod.port_id]
        assert labelled, f"no port sample of pod-{name}"
        # Every sample of the port (rx/tx packets/bytes, drops by reason, connected) names the pod
        # the CNI was told about in CNI_ARGS (K8S_POD_NAMESPACE, K8S_POD_NAME).
        assert {(x.labels["pod_namespace"], x.labels["pod_name"]) for x in labelled} == {("default", pod.pod_name)}
    assert values(samples, "ena_dpdk_port_rx_bytes_total", pod_name="pod-a")[0] > 0


def test_both_daemons_say_which_build_they_are(s: Scenario) -> None:
    for daemon, name in (("dataplane", "ena_dpdk_dataplane_build_info"),
                         ("deviceplugin", "ena_dpdk_deviceplugin_build_info")):
        info = [x for x in s.figures[f"{daemon}_samples"] if x.name == name]
        assert [x.value for x in info] == [1.0], daemon
        assert info[0].labels["revision"] and info[0].labels["version"], info[0].labels
    dpdk = [x for x in s.figures["dataplane_samples"] if x.name == "ena_dpdk_dataplane_build_info"][0].labels["dpdk"]
    assert dpdk.startswith("DPDK "), dpdk


def test_the_worker_cycle_counters_run_between_two_scrapes(s: Scenario) -> None:
    first = s.figures["dataplane_samples"]
    assert total(first, "ena_dpdk_worker_tsc_hz") > 0
    assert 0 < total(first, "ena_dpdk_worker_busy_cycles_total") <= total(first, "ena_dpdk_worker_cycles_total")
    second = parsed(s.node.dataplane_metrics())
    assert total(second, "ena_dpdk_worker_cycles_total") > total(first, "ena_dpdk_worker_cycles_total")
    assert total(second, "ena_dpdk_worker_busy_cycles_total") >= total(first, "ena_dpdk_worker_busy_cycles_total")


def test_the_uplink_byte_counters_grew_with_the_pings(s: Scenario) -> None:
    before, after = s.figures["metrics_before_pings"], s.figures["dataplane_samples"]
    for name in ("ena_dpdk_uplink_rx_bytes_total", "ena_dpdk_uplink_tx_bytes_total"):
        # Each ping from the VPC is at least an 84-byte request in and an 84-byte reply out.
        assert total(after, name, network=NETWORK) >= total(before, name, network=NETWORK) + 84, name


# ---- a real Prometheus: the chart's alert rules and the dashboard's queries --------------------


def chart_alert_rules(path: Path) -> Path:
    """The chart's PrometheusRule, rendered by helm with the defaults, as a Prometheus rule file."""
    repo = Path(__file__).resolve().parents[2]
    tools = subprocess.run([str(repo / "tests/deploy/tools.sh")], capture_output=True, text=True, check=True)
    rendered = subprocess.run([tools.stdout.strip() + "/helm", "template", "t", str(repo / "charts/ena-dpdk"),
                               "--api-versions", "monitoring.coreos.com/v1", "--set", "metrics.prometheusRule.enabled=true",
                               "--show-only", "templates/prometheusrule.yaml"],
                              capture_output=True, text=True, check=True)
    # The rule file is the object's spec: everything under "spec:", one level less indented.
    spec = rendered.stdout.split("\nspec:\n", 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(line[2:] for line in spec.splitlines()) + "\n")
    return path


def dashboard_queries() -> list[tuple[str, str]]:
    """Every query of the chart's Grafana dashboard as (panel title, PromQL), with Grafana's
    variables as a 15 s scrape would have them: all nodes, a rate window of four scrapes (here
    4 s: Prometheus scrapes every second)."""
    repo = Path(__file__).resolve().parents[2]
    dashboard = json.loads((repo / "charts/ena-dpdk/dashboards/ena-dpdk.json").read_text())
    return [(p["title"], t["expr"].replace("$__rate_interval", "4s").replace("$node", ".*"))
            for p in dashboard["panels"] if p["type"] != "row" for t in p["targets"]]


def test_a_real_prometheus_scrapes_both_daemons(s: Scenario) -> None:
    node = s.node
    rules = chart_alert_rules(node.box.path("prometheus-rules", "rules.yml"))
    targets = [host_port(node.dp_metrics_host, node.dp_metrics),
               host_port(node.deviceplugin_metrics_host, node.deviceplugin_metrics)]
    # The job name of the chart's ServiceMonitor (<release>-metrics) and the label it adds.
    prom = Prometheus(node.box, {"t-ena-dpdk-metrics": targets}, {"node": node.name}, [rules])
    s.figures["prometheus"] = prom
    assert wait_for(15, lambda: list(prom.targets_up().values()) == ["up", "up"]), prom.targets_up()
    # Two scrapes of each, so that rate() has two samples.
    assert wait_for(15, lambda: len(prom.query('count_over_time(up[4s]) >= 2')) == 2)


def test_every_dashboard_query_answers_from_the_real_daemons(s: Scenario) -> None:
    prom = s.figures["prometheus"]
    empty = []
    for title, expr in dashboard_queries():
        result = prom.query(expr)  # a query Prometheus refuses raises here
        print(f"{title}: {len(result)} series")
        if not result:
            empty.append(title)
    # Only what this node cannot show is empty: no ENA (no allowance counters on an af_packet
    # uplink), no reset, no drop by a pod in the last seconds, no Allocate in the rate window.
    assert set(empty) <= {"ENA allowance exceeded", "Drops by pod (top 10)", "Allocations by result"}, empty
    by_title = {title: prom.query(expr) for title, expr in dashboard_queries()}
    pods = {(r["metric"].get("pod_namespace"), r["metric"].get("pod_name")) for r in by_title["Pod throughput (top 10)"]}
    assert {("default", s.node.pods["a"].pod_name), ("default", s.node.pods["b"].pod_name)} <= pods
    busy = [float(r["value"][1]) for r in by_title["Worker busy share"]]
    assert busy and all(0 <= b <= 1 for b in busy), busy
    assert {r["metric"]["network"]: r["value"][1] for r in by_title["Pods per network"]} == {NETWORK: "2"}


def test_every_alert_rule_evaluates_and_none_fires_on_a_healthy_node(s: Scenario) -> None:
    prom = s.figures["prometheus"]
    assert wait_for(10, lambda: all(r.get("lastEvaluation", "").startswith("2") for r in prom.rules()))
    rules = prom.rules()
    assert len(rules) == 9
    assert [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"] == []
    assert [r["name"] for r in rules if r.get("state") != "inactive"] == []
    # The gauge of the not-registered alert is there and says registered.
    assert {r["metric"]["resource"] for r in prom.query("ena_dpdk_deviceplugin_resource_registered == 1")} >= {
        "dpdk.aws/ena", "dpdk.aws/ena-dedicated"}


def test_prometheus_stops(s: Scenario) -> None:
    assert s.node.box.stop("prometheus") is not None


def test_no_sigbus_and_no_hugetlb_hit_in_either_pod_cgroup(s: Scenario) -> None:
    # Both pods still run; their cgroups saw no hugetlb max hit and are charged nothing.
    for name in ("a", "b"):
        info = s.node.pod_info(name)
        assert info["status"] == "running", name
        assert sum(info["hugetlbMaxEvents"].values()) == 0, name
        assert sum(info["hugetlbCurrent"].values()) == 0, name


@pytest.mark.parametrize("name", ["a", "b"])
def test_the_pods_hugepages_are_charged_to_its_allocation_cgroup_outside_kubepods(s: Scenario, name: str) -> None:
    pod = s.node.pods[name]
    _, charged = s.node.allocation_charge(name)
    assert charged == len(pod.hugepages["deviceIds"]) * PAGE_BYTES[s.node.page_size]


def test_negative_control_a_limit_0_pod_given_a_fresh_hugetlbfs_gets_no_memory(s: Scenario) -> None:
    neg = s.node.negative_control()
    print(f"negative control: exit {neg.rc} ({neg.reason}), hugetlb max events {neg.max_events}")
    assert neg.refused, neg


# ---- a non-root pod in vhost client mode: the dataplane creates the socket -------------------------


@pytest.mark.must
def test_pod_c_allocate_and_cni_add_through_the_client_mode_network(s: Scenario) -> None:
    s.node.pod_sandbox("c", s.node.conflist_client)


def test_pod_c_socket_made_by_the_dataplane_is_root_slot_group_0660_in_its_setgid_slot(s: Scenario) -> None:
    slot = s.node.slot_dir / s.node.pods["c"].device
    st = slot.stat()
    assert (st.st_gid, stat.S_IMODE(st.st_mode)) == (SLOT_GROUP, 0o2770)
    sock = (slot / "vhost.sock").stat()
    assert (sock.st_uid, sock.st_gid, stat.S_IMODE(sock.st_mode)) == (0, SLOT_GROUP, 0o660)
    assert json.loads((slot / "ena-dpdk.json").read_text())["vhostMode"] == "client"


@pytest.mark.must
def test_pod_c_testpmd_starts_as_a_virtio_user_client(s: Scenario) -> None:
    s.node.start_pod("c", "a")


def test_pod_c_connects_to_the_dataplane_socket(s: Scenario) -> None:
    assert until(30, lambda: connected(s.node) == 3)


def test_pod_c_runs_as_its_own_uid_in_a_limit_0_pod_cgroup(s: Scenario) -> None:
    info = s.node.pods["c"].container
    assert info["uid"] == POD_A_UID + 1 and sum(info["hugetlbLimits"].values()) == 0


def test_ping_from_the_vpc_to_pod_c_is_answered(s: Scenario) -> None:
    assert s.node.ping("c") is not None


def test_pod_c_exits_cleanly(s: Scenario) -> None:
    assert s.node.stop_pod("c") == 0


def test_cni_del_of_pod_c(s: Scenario) -> None:
    s.node.cni_del("c")


def test_pod_c_port_lease_and_pod_cgroup_are_gone(s: Scenario) -> None:
    assert len(ports(s.node)) == 2
    assert leases_naming(s.node, s.node.pods["c"].container_id) == 0
    assert not (s.node.runner_state / "pod-c").exists()


# ---- failure 1: kill -9 the dataplane mid-traffic, restart it --------------------------------------


def test_pod_a_streams_txonly(s: Scenario) -> None:
    s.node.pods["a"].app.forward("txonly")


def test_traffic_flows_before_the_kill(s: Scenario) -> None:
    before = s.node.port_counter("b", "txPackets")
    assert until(30, lambda: s.node.port_counter("b", "txPackets") > before + 1000)


@pytest.mark.must
def test_the_dataplane_restarts_after_kill_9(s: Scenario) -> None:
    s.node.stop("dataplane", signal.SIGKILL)
    s.node.start_dataplane()


def test_the_restarted_dataplane_restored_both_ports(s: Scenario) -> None:
    ids = port_ids(s.node)
    assert s.node.pods["a"].port_id in ids and s.node.pods["b"].port_id in ids


def test_the_restored_ports_still_name_their_pods(s: Scenario) -> None:
    # The pod came back from the state file: in the control API and in the metrics.
    listed = {p["id"]: (p["podNamespace"], p["podName"]) for p in ports(s.node)}
    samples = parsed(s.node.dataplane_metrics())
    for name in ("a", "b"):
        pod = s.node.pods[name]
        assert listed[pod.port_id] == ("default", pod.pod_name)
        assert values(samples, "ena_dpdk_port_connected", port=pod.port_id, pod_namespace="default",
                      pod_name=pod.pod_name), name


def test_both_server_mode_pods_reconnect(s: Scenario) -> None:
    assert until(30, lambda: connected(s.node) == 2)


def test_pod_a_to_pod_b_traffic_resumes_through_the_new_dataplane(s: Scenario) -> None:
    s.figures["b_rx2"] = s.node.pods["b"].app.port_stats().rx
    assert until(20, lambda: s.node.port_counter("b", "txPackets") > 1000)


def test_pod_b_receives_again_after_the_restart(s: Scenario) -> None:
    assert s.node.pods["b"].app.port_stats().rx > s.figures["b_rx2"]


def test_pod_a_answers_ping_again(s: Scenario) -> None:
    s.node.pods["a"].app.forward("icmpecho")


def test_ping_from_the_vpc_works_again_after_the_restart(s: Scenario) -> None:
    assert s.node.ping("a") is not None


def test_the_device_plugin_kept_the_attachments_healthy_across_the_restart(s: Scenario) -> None:
    assert len(healthy_devices(s.node.resources(), ENA_RESOURCE)) == SLOTS


def test_still_no_spoofed_frames(s: Scenario) -> None:
    assert spoofed(s.node) == 0


# ---- failure 2: restart the kubelet stand-in -------------------------------------------------------


@pytest.mark.must
def test_the_kubelet_standin_starts_again(s: Scenario) -> None:
    s.figures["registered_before"] = registered_ok(s.node)
    s.node.stop("standin")
    s.node.start_standin()


def test_the_device_plugin_re_registers_every_resource_with_the_new_kubelet(s: Scenario) -> None:
    def all_registered() -> bool:
        streaming = [r for r in s.node.resources()["resources"] if r["streaming"] and r["registrations"] == 1]
        return len(streaming) == expected_registrations(s.node)

    assert until(10, all_registered)


def test_the_plugin_counted_the_new_registrations(s: Scenario) -> None:
    assert until(5, lambda: registered_ok(s.node) > s.figures["registered_before"] + 2)


def test_the_pods_allocations_survived_the_restart(s: Scenario) -> None:
    # The stand-in's checkpoint.
    held = [d for r in s.node.resources()["resources"] for d in r["devices"] if d.get("pod")]
    assert len(held) == pod_devices(s.node)


def test_pods_keep_working_across_a_kubelet_restart(s: Scenario) -> None:
    assert s.node.ping("b") is not None


# ---- failure 3: CNI DEL while the dataplane is down, then GC after its restart ----------------------


def test_pod_b_exits_cleanly(s: Scenario) -> None:
    assert s.node.stop_pod("b") == 0


def test_cni_del_of_pod_b_succeeds_while_the_dataplane_is_down(s: Scenario) -> None:
    s.node.stop("dataplane", signal.SIGKILL)
    s.node.cni_del("b")


def test_the_cni_recorded_the_port_it_could_not_delete(s: Scenario) -> None:
    assert pending_deletes(s.node) == 1


@pytest.mark.must
def test_the_dataplane_restarts_while_a_delete_is_pending(s: Scenario) -> None:
    s.node.start_dataplane()


def test_the_restarted_dataplane_finished_the_cni_pending_delete_itself(s: Scenario) -> None:
    assert port_ids(s.node) == [s.node.pods["a"].port_id]
    assert pending_deletes(s.node) == 0


def test_cni_gc_succeeds(s: Scenario) -> None:
    done = s.node.cni_gc([s.node.pods["a"]])
    assert done.returncode == 0, done.stdout + done.stderr


def test_after_gc_only_pod_a_port_is_left(s: Scenario) -> None:
    assert port_ids(s.node) == [s.node.pods["a"].port_id]


def test_after_gc_no_pending_delete_is_left(s: Scenario) -> None:
    assert pending_deletes(s.node) == 0


def test_after_gc_pod_b_holds_no_lease(s: Scenario) -> None:
    assert leases_naming(s.node, s.node.pods["b"].container_id) == 0


def test_after_gc_pod_a_still_holds_its_lease(s: Scenario) -> None:
    assert leases_naming(s.node, s.node.pods["a"].container_id) >= 1


def test_after_gc_pod_b_slot_has_no_socket_and_no_ena_dpdk_json(s: Scenario) -> None:
    slot = s.node.slot_dir / s.node.pods["b"].device
    assert sockets_under(slot) == [] and not (slot / "ena-dpdk.json").exists()


def test_pod_a_reconnects_to_the_restarted_dataplane(s: Scenario) -> None:
    assert until(30, lambda: connected(s.node) == 1)


def test_ping_pod_a_after_gc(s: Scenario) -> None:
    assert s.node.ping("a") is not None


# ---- teardown: nothing may be left -----------------------------------------------------------------


def test_pod_a_exits_cleanly(s: Scenario) -> None:
    assert s.node.stop_pod("a") == 0


def test_neither_pod_testpmd_ever_got_sigbus(s: Scenario) -> None:
    for name in ("a", "b"):
        assert "sigbus" not in s.node.pods[name].app.text().lower(), name


def test_cni_del_of_pod_a(s: Scenario) -> None:
    s.node.cni_del("a")


def test_no_dataplane_port_is_left(s: Scenario) -> None:
    assert ports(s.node) == []


def test_no_ipam_lease_is_left(s: Scenario) -> None:
    assert lease_files(s.node) == []


def test_no_vhost_user_socket_is_left_in_the_slots(s: Scenario) -> None:
    assert sockets_under(s.node.slot_dir) == []


def test_no_ena_dpdk_json_is_left_in_the_slots(s: Scenario) -> None:
    assert list(s.node.slot_dir.rglob("ena-dpdk.json")) == []


def test_the_standin_released_both_pods(s: Scenario) -> None:
    assert s.node.resources()["allocations"] == []


def test_no_daemon_socket_is_left(s: Scenario) -> None:
    # Control, device plugins, kubelet.
    for daemon in ("deviceplugin", "dataplane", "standin"):
        s.node.stop(daemon)
    assert sockets_under(s.node.root) == []


def test_no_container_is_left(s: Scenario) -> None:
    listed = run(["runc", "list", "-q"]).stdout.split()
    assert [c for c in listed if c.startswith(f"nib-{s.node.name}-")] == []


def test_teardown_gives_back_the_pages_node_prep_added(s: Scenario, request: pytest.FixtureRequest) -> None:
    size = s.node.page_size
    nr_file = HUGEPAGE_DIRS[size] / "nr_hugepages"
    before = int(nr_file.read_text())
    added = s.node.added_pages(size)
    if request.session.testsfailed:
        keep_evidence_visibly(request, s.node)
    s.teardown_problems = s.node.teardown()
    assert int(nr_file.read_text()) == before - added, f"{size} pages added: {added}"


def test_no_mount_is_left(s: Scenario) -> None:
    assert f" {s.node.dir}" not in Path("/proc/mounts").read_text()


def test_no_namespace_is_left(s: Scenario) -> None:
    listed = run(["ip", "netns", "list"]).stdout.split()
    assert [n for n in listed if n.startswith(f"nib-{s.node.name}-")] == []


def test_no_veth_is_left(s: Scenario) -> None:
    assert run(["ip", "link", "show", s.node.uplink], check=False).returncode != 0


def test_no_cgroup_is_left(s: Scenario) -> None:
    # Pods, daemons, hugepage allocations, in every hierarchy.
    top = s.node.cgroup_top.lstrip("/")
    assert [str(p) for p in Path("/sys/fs/cgroup").glob(f"*/{top}")] == []
    assert not (Path("/sys/fs/cgroup") / top).exists()


def test_no_dpdk_runtime_directory_is_left(s: Scenario) -> None:
    assert list(Path("/var/run/dpdk").glob(f"nib{s.node.name}*")) == []


def test_no_process_is_left(s: Scenario) -> None:
    def names_the_run(pid: str) -> bool:
        try:
            return str(s.node.dir).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False

    me = str(os.getpid())
    assert [p for p in os.listdir("/proc") if p.isdigit() and p != me and names_the_run(p)] == []


def test_the_work_directory_is_gone(s: Scenario) -> None:
    assert not s.node.dir.exists()


def test_teardown_reported_no_problem(s: Scenario) -> None:
    # The harness's own account: nothing it could not undo, no leftover of what its ledger named.
    assert s.teardown_problems == []
