"""Node in a box: the whole ena-dpdk stack on one machine, used by the demo (tests/e2e/demo.py,
which narrates it) and the end-to-end test (tests/e2e/test_e2e.py, which asserts on it).

A run is named (``demo``, ``e2e4711``) and is one sandbox (tests/support/sandbox.py) of kind
``nib``: its work directory /tmp/enadpdk-nib-<name> holds the configs, logs and the sandbox root
(``root/``: the node as the device plugin's --root, the kubelet stand-in, the CNI and the
dataplane see it). Every resource (network namespaces nib-<name>-vpc/-pod-<x>, the veth pair
nb<tag>u/nb<tag>v, the dataplane's DPDK file prefix, the cgroup tree /nib-<name> with the pods'
cgroups and the device plugin's hugepage cgroups, the runc containers nib-<name>-<pod>-<ctr>, the
hugepages node prep added, its hugetlbfs mounts, every process, the CNI DEL of every attachment)
goes into the sandbox's ledger as it is made, so ``Sandbox.teardown`` undoes a run from its
directory alone: after Ctrl-C, a failed step, or a kill -9 of the Python process.

Shell is left only for launching processes: tests/tools/pod-runner (runc) and the pods' app,
tests/e2e/pod_app.sh. Methods raise ``SandboxError`` with one line saying what failed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from dpdk_procs import Ctl, Testpmd, Vpc, free_tcp_port, host_port, make_vpc, metric, scrape, start_dataplane
from sandbox import HUGEPAGE_DIRS, Process, Sandbox, SandboxError, has_hugepage_size, run, wait_for

HERE = Path(__file__).resolve().parent
RUNNER = HERE.parent / "tools" / "pod-runner"
POD_APP = HERE / "pod_app.sh"

# Every binary of the build tree the node in a box runs (the `demo` target builds them all;
# tests/e2e/test_demo_targets.py checks it). The one place such a path is spelled.
BUILD_BINARIES = {
    "dataplane": "vhostuser/ena-dpdk-dataplane",
    "ctl": "vhostuser/ena-dpdk-ctl",
    "deviceplugin": "deviceplugin/ena-dpdk-deviceplugin",
    "nodeprep": "nodeprep/ena-dpdk-nodeprep",
    "cni": "cni/ena-dpdk-cni",
    "ipam": "ipam/ena-dpdk-ipam",
    "standin": "tests/tools/kubelet-standin",
    "driver": "tests/cni/cni-driver",
}

# The "VPC": its router holds .1; the static pool hands out the ENI's "secondary IPs".
VPC_GATEWAY = "10.99.0.1"
VPC_PREFIX = 24
POOL = ("10.99.0.10", "10.99.0.11", "10.99.0.12", "10.99.0.13")
NETWORK = "vpc"
SLOTS = 4
IFNAME = "net1"
ENA_RESOURCE = "dpdk.aws/ena"
HUGE_1GI_RESOURCE = "dpdk.aws/hugepages-1Gi"
HUGE_2MI_RESOURCE = "dpdk.aws/hugepages-2Mi"
# The group that owns the slot directories (deviceplugin.ena.slotGroup, the CNI's slotGroup):
# non-root pods get it as their fsGroup.
SLOT_GROUP = 1500
# pod-a runs as this user (runAsNonRoot, read-only root, no capability); pod-c as the next one.
POD_A_UID = 1000
# 2M pages the dataplane's EAL needs free (-m 512 plus headroom).
DATAPLANE_2M = 300
# 2M pages a pod asks for (dpdk.aws/hugepages-2Mi) when the CPU has no 1G pages.
POD_2M = 128
PAGE_BYTES = {"1G": 1 << 30, "2M": 2 << 20}
# How cgroup files name a page size.
CGROUP_KEY = {"1G": "1GB", "2M": "2MB"}


class NodeError(SandboxError):
    """A step of the node in a box failed."""


def until(timeout: float, predicate: Callable[[], object], interval: float = 0.1) -> bool:
    """``sandbox.wait_for``, also counting a failed command (SandboxError: the daemon asked is
    not up yet) as "not yet"."""

    def quiet() -> object:
        try:
            return predicate()
        except SandboxError:
            return False

    return wait_for(timeout, quiet, interval)


# ---- pure logic: page sizes, hugepage planning, config documents ---------------------------------


def pod_page_size() -> str:
    """"1G" where the CPU and kernel offer 1G hugepages (pods then get theirs from the device
    plugin's dpdk.aws/hugepages-1Gi); "2M" where they do not (no pdpe1gb, as on some virtual
    machines): pods then get 2M pages from dpdk.aws/hugepages-2Mi by the same mechanism."""
    return "1G" if has_hugepage_size("1G") else "2M"


def huge_resource(page_size: str) -> str:
    return HUGE_1GI_RESOURCE if page_size == "1G" else HUGE_2MI_RESOURCE


def pages_per_pod(page_size: str) -> int:
    """What a pod asks of its hugepages resource: one 1G page, or POD_2M 2M pages."""
    return 1 if page_size == "1G" else POD_2M


@dataclass(frozen=True)
class HugepagePlan:
    """What node prep is asked for (totals, as nr_hugepages counts) and what must then be free."""

    total_1g: int
    total_2m: int
    free_1g: int
    free_2m: int


def plan_hugepages(page_size: str, pods: int, nr_1g: int, free_1g: int, nr_2m: int, free_2m: int) -> HugepagePlan:
    """Counts are totals: ask for what is reserved plus what is missing from the free pages.
    With 1G pages, one free page per pod and the dataplane's 2M pages; without, the dataplane's
    and one pod's worth more than the pods (the negative control's fresh pages must be there for
    it to be refused by its cgroup, not by a lack of pages)."""
    need_1g = pods if page_size == "1G" else 0
    need_2m = DATAPLANE_2M if page_size == "1G" else DATAPLANE_2M + (pods + 1) * POD_2M
    total_1g = (nr_1g if free_1g >= need_1g else nr_1g + need_1g - free_1g) if page_size == "1G" else 0
    total_2m = nr_2m if free_2m >= need_2m else nr_2m + need_2m - free_2m
    return HugepagePlan(total_1g, total_2m, need_1g, need_2m)


def nodeprep_config(plan: HugepagePlan, page_size: str, mount_1g: Path, mount_2m: Path) -> dict:
    """ena-dpdk-nodeprep's config: the page totals, hugetlbfs mounts in the sandbox (1G only
    where pods use 1G pages), no interface to bind, commands run directly."""
    mounts = ([{"path": str(mount_1g), "pageSize": "1G"}] if page_size == "1G" else []) + [
        {"path": str(mount_2m), "pageSize": "2M"}]
    return {"nodeprep": {"hugepages": {"1G": plan.total_1g, "2M": plan.total_2m, "persist": "never"},
                         "mounts": mounts, "bind": {"interfaces": []}, "hostExec": "direct"}}


def pages_added(report: dict, size: str) -> int:
    """The pages a node prep run raised nr_hugepages of ``size`` by ("a -> b" changes), to give
    back at teardown."""
    target = str(HUGEPAGE_DIRS[size] / "nr_hugepages")
    added = 0
    for action in report.get("actions", []):
        if action.get("step") == "hugepages" and action.get("target") == target and action.get("status") == "changed":
            match = re.search(r"(\d+) -> (\d+)", action.get("change", ""))
            if match:
                added += int(match.group(2)) - int(match.group(1))
    return added


def nodeprep_summary(report: dict) -> str:
    """What node prep changed, for the demo: "2M pages 0 -> 812, hugetlbfs 2M on /x"."""
    parts = []
    for action in report.get("actions", []):
        if action.get("status") != "changed" or action.get("step") == "state":
            continue
        if action.get("step") == "hugepages":
            kb = re.search(r"hugepages-(\d+)kB", action.get("target", ""))
            size = "1G" if kb and kb.group(1) == "1048576" else "2M"
            parts.append(f"{size} pages {action.get('change', '')}")
        else:
            page = re.search(r"pagesize=([0-9A-Z]+)", action.get("change", ""))
            parts.append(f"hugetlbfs {page.group(1) if page else '?'} on {action.get('target', '')}")
    return ", ".join(parts)


def cni_policy(root: Path, logs: Path, node_config: Path) -> dict:
    """The node's CNI path policy (docs/cni.md): this node's paths live under the sandbox root."""
    return {"logFile": [str(logs)], "stateDir": [str(root / "var/lib/ena-dpdk/cni")],
            "dataplaneSocket": [str(root / "run/ena-dpdk/dataplane.sock")],
            "slotDir": [str(root / "var/run/ena-dpdk/vhost")],
            "CNIDeviceInfoFile": [str(root / "var/run/k8s.cni.cncf.io/devinfo")],
            "ipam.stateDir": [str(root / "var/lib/ena-dpdk/ipam")], "ipam.configFile": [str(node_config)]}


def dataplane_host_view(uplink: str, prefix: str) -> dict:
    """The dataplane section as the node's config file has it (host paths)."""
    return {"eal": ["-l", "0,1", "--main-lcore", "0", "--file-prefix", prefix, "--no-pci", "-m", "512",
                    "--huge-dir", "/dev/hugepages"],
            "workers": [1],
            "controlSocket": "/run/ena-dpdk/dataplane.sock",
            "stateFile": "/var/lib/ena-dpdk/dataplane-state.json",
            "metricsAddress": "127.0.0.1:0",
            "allowedSocketDirs": ["/var/run/ena-dpdk/vhost"],
            "mbufs": 8192,
            "networks": [{"name": NETWORK, "mode": "vpc", "uplink": {"device": f"net_af_packet0,iface={uplink}"}}]}


def node_config(dataplane: dict, charge_cgroup: str, two_meg: bool) -> dict:
    """The node's config file (the device plugin's view: host paths under --root). Hugepage
    allocations are faulted in per-allocation cgroups under the run's own tree (outside its
    kubepods); the 2M resource is on where the pods need it."""
    return {"dataplane": dataplane,
            "deviceplugin": {"ena": {"slotsPerNetwork": SLOTS, "slotGroup": SLOT_GROUP},
                             "metricsAddress": "127.0.0.1:0",
                             "hugepages": {"chargeCgroup": charge_cgroup},
                             "hugepages2Mi": {"enabled": two_meg, "chargeCgroup": charge_cgroup}},
            "ipam": {"stateDir": "/var/lib/ena-dpdk/ipam",
                     "networks": {NETWORK: {"addresses": [f"{a}/{VPC_PREFIX}" for a in POOL],
                                            "gateway": VPC_GATEWAY}}}}


def dataplane_config(host_view: dict, root: Path) -> dict:
    """The dataplane's own copy: the host view with the sandbox paths spelled out (the
    dataplane has no --root)."""
    r = str(root)
    view = json.loads(json.dumps(host_view))
    view["eal"] = [r + a if a == "/dev/hugepages" else a for a in view["eal"]]
    view["controlSocket"] = r + view["controlSocket"]
    view["stateFile"] = r + view["stateFile"]
    view["cniStateDir"] = r + "/var/lib/ena-dpdk/cni"
    view["allowedSocketDirs"] = [r + d for d in view["allowedSocketDirs"]]
    return {"dataplane": view}


def conflist(name: str, vhost_mode: str, root: Path, cni_log: Path, node_config_path: Path) -> dict:
    """The vpc network as Multus would delegate it: ena-dpdk-cni in vhostuser mode on the
    sandbox's dataplane; ena-dpdk-ipam takes the static pool from the node config file (its
    host-view stateDir overridden with the sandbox path). cniVersion 1.0.0: Debian's libcni
    (1.1.2) cannot parse 1.1.0 results; GC, which needs 1.1.0, is invoked directly."""
    return {"cniVersion": "1.0.0", "name": name,
            "plugins": [{"type": "ena-dpdk-cni", "mode": "vhostuser", "network": NETWORK, "slotGroup": SLOT_GROUP,
                         "vhost": {"mode": vhost_mode},
                         "dataplaneSocket": str(root / "run/ena-dpdk/dataplane.sock"),
                         "slotDir": str(root / "var/run/ena-dpdk/vhost"),
                         "stateDir": str(root / "var/lib/ena-dpdk/cni"), "logFile": str(cni_log),
                         "capabilities": {"deviceID": True, "CNIDeviceInfoFile": True},
                         "ipam": {"type": "ena-dpdk-ipam", "configFile": str(node_config_path),
                                  "stateDir": str(root / "var/lib/ena-dpdk/ipam")}}]}


def gc_config(conflist_doc: dict, valid: list[tuple[str, str]]) -> dict:
    """GC as a 1.1.0 runtime sends it (Debian's libcni predates GC): the plugin's config with
    the attachments still valid."""
    return {**conflist_doc["plugins"][0], "cniVersion": "1.1.0", "name": conflist_doc["name"],
            "cni.dev/valid-attachments": [{"containerID": c, "ifname": i} for c, i in valid]}


def security_context(pod: str) -> list[str]:
    """The pod's securityContext as pod-runner options. pod-a (and pod-c, as the next uid): a
    non-root user with runAsNonRoot, the slot group as fsGroup, a read-only root file system and
    no capability; pod-b: root with every capability dropped but IPC_LOCK."""
    if pod in ("a", "c"):
        uid = str(POD_A_UID + (1 if pod == "c" else 0))
        return ["--run-as-user", uid, "--run-as-group", uid, "--fs-group", str(SLOT_GROUP),
                "--run-as-non-root", "--read-only-root", "--cap-drop-all"]
    return ["--run-as-user", "0", "--run-as-group", "0", "--cap-drop-all", "--cap-add", "IPC_LOCK"]


def resources_ready(resources: dict, page_size: str) -> bool:
    """The pods' resources registered and streaming with Healthy devices. Without 1G pages,
    hugepages-1Gi registers and streams an empty list, and the pods' resource is hugepages-2Mi."""
    wanted = {ENA_RESOURCE, huge_resource(page_size), HUGE_1GI_RESOURCE}
    ready = set()
    for r in resources.get("resources", []):
        if not r.get("streaming"):
            continue
        healthy = any(d.get("health") == "Healthy" for d in r.get("devices", []))
        if r["name"] == HUGE_1GI_RESOURCE or (r["name"] in wanted and healthy):
            ready.add(r["name"])
    return ready == wanted


def healthy_devices(resources: dict, name: str) -> list[dict]:
    return [d for r in resources.get("resources", []) if r["name"] == name
            for d in r.get("devices", []) if d.get("health") == "Healthy"]


def negative_control_verdict(rc: int, max_events: int, log: str) -> tuple[bool, str]:
    """Whether the negative control failed as expected, and why: EAL "Cannot init memory" or
    SIGBUS (runc's 135), with the cgroup counting the refusal. 124 (timeout) means it got its
    memory and kept running."""
    cannot = "Cannot init memory" in log
    reason = "SIGBUS" if rc == 135 else "EAL: Cannot init memory" if cannot else "signal"
    refused = rc not in (0, 124) and max_events > 0 and (rc == 135 or cannot)
    return refused, reason


def app_eal(log: str) -> str:
    """The EAL arguments a pod's app took from its allocation (its "pod-app: EAL" line)."""
    match = re.search(r"^pod-app: EAL (.*)$", log, re.M)
    return match.group(1) if match else ""


@dataclass(frozen=True)
class PingSummary:
    received: int
    avg_ms: str  # as ping prints it ("0.219")


def ping_summary(output: str) -> PingSummary:
    """Received count and average round trip from ping's summary lines."""
    received = re.search(r"(\d+) received", output)
    rtt = re.search(r"= [\d.]+/([\d.]+)/", output)
    return PingSummary(int(received.group(1)) if received else 0, rtt.group(1) if rtt else "?")


def network_line(table: str) -> str:
    """The first network of `ena-dpdk-ctl networks` (a text table) as the demo shows it."""
    rows = [line.split() for line in table.splitlines() if line.strip()]
    if len(rows) < 2 or len(rows[1]) < 5:
        raise NodeError(f"ena-dpdk-ctl networks printed no network: {table!r}")
    name, mode, _, uplink, link = rows[1][:5]
    return f"{name} (mode {mode}), uplink {uplink}, link {link}"


def container_id(run_name: str, pod: str) -> str:
    """The pod's sandbox container id as a runtime would pass it to CNI (64 hex digits)."""
    return hashlib.sha256(f"nib-{run_name}-pod-{pod}".encode()).hexdigest()


# ---- the run's data -----------------------------------------------------------------------------


@dataclass
class Pod:
    """One pod: what the kubelet (Allocate), Multus (CNI ADD) and the runtime (pod-runner) made."""

    name: str  # "a", "b", "c"
    netns: str
    container_id: str
    conflist: Path
    ena: dict  # kubelet-standin allocate output for dpdk.aws/ena
    hugepages: dict  # ... and for the pod's hugepages resource
    ena_file: Path  # the same, as pod-runner's --allocation files
    hugepages_file: Path
    cni_result: dict = field(default_factory=dict)
    del_entry: int | None = None  # the ledger's CNI DEL, done once the test ran DEL itself
    app: Testpmd | None = None
    slot_info: dict = field(default_factory=dict)  # the slot's ena-dpdk.json when the app started
    container: dict = field(default_factory=dict)  # pod-runner state when the app started
    exit_status: int | None = None

    @property
    def device(self) -> str:
        return self.ena["deviceIds"][0]

    @property
    def ip(self) -> str:
        return self.cni_result["ips"][0]["address"].split("/")[0]

    @property
    def port_id(self) -> str:
        return f"{self.container_id}/{IFNAME}"

    @property
    def pod_name(self) -> str:
        return f"pod-{self.name}"


@dataclass(frozen=True)
class Stream:
    """The switch's view of a streaming window: packets taken from the sender, given to the
    receiver, and the window's length."""

    rx: int
    tx: int
    seconds: float


@dataclass(frozen=True)
class NegativeControl:
    rc: int
    max_events: int
    reason: str
    refused: bool


# ---- the node -----------------------------------------------------------------------------------


class Node:
    """The node in a box: one sandbox and the steps that bring the stack up in it."""

    def __init__(self, name: str, build: Path | str, progress: Callable[[str], None] | None = None) -> None:
        self.name = name
        self.build = Path(build).resolve()
        self.box = Sandbox("nib", name)
        self.dir = self.box.dir
        self.root = self.dir / "root"
        self.logs = self.dir / "logs"
        self.page_size = pod_page_size()
        self.huge_resource = huge_resource(self.page_size)
        tag = name[:10]
        self.vpc_ns = f"nib-{name}-vpc"
        self.uplink = f"nb{tag}u"
        self.vpc_if = f"nb{tag}v"
        self.dp_prefix = f"nib{name}dp"
        self.dp_config = self.dir / "dataplane.json"
        self.nodeprep_config = self.dir / "nodeprep.json"
        self.node_config = self.root / "etc/ena-dpdk/config.json"
        self.conflist = self.root / f"etc/cni/net.d/10-{NETWORK}.conflist"
        # The same network in vhost client mode (the dataplane creates the socket), as a second
        # NetworkAttachmentDefinition would; pod-c uses it.
        self.conflist_client = self.root / f"etc/cni/net.d/20-{NETWORK}-client.conflist"
        self.cni_bin = self.root / "opt/cni/bin"
        self.cni_cache = self.root / "var/lib/cni"
        self.dp_socket = self.root / "run/ena-dpdk/dataplane.sock"
        self.slot_dir = self.root / "var/run/ena-dpdk/vhost"
        self.cni_state = self.root / "var/lib/ena-dpdk/cni"
        self.ipam_state = self.root / "var/lib/ena-dpdk/ipam"
        self.devinfo_dir = self.root / "var/run/k8s.cni.cncf.io/devinfo"
        self.cni_policy = self.root / "etc/ena-dpdk/cni-policy.json"
        self.huge_2m = self.root / "dev/hugepages"
        self.huge_1g = self.root / "dev/hugepages-1Gi"
        self.runner_state = self.dir / "state/runner"
        self.cgroup_top = f"/nib-{name}"
        self.cgroup_parent = f"{self.cgroup_top}/kubepods"
        self.charge_cgroup = f"{self.cgroup_top}/ena-dpdk/hugepages"
        self.ctl = Ctl(self.binary("ctl"), self.dp_socket)
        self.progress_sink = progress
        self.t0 = time.monotonic()
        self.pods: dict[str, Pod] = {}
        self.vpc: Vpc | None = None
        self.nodeprep_report: dict = {}
        # Where the daemons serve /metrics: --metrics-address overrides the config file's
        # 127.0.0.1:0, as the chart passes each node's address; the device plugin on IPv6.
        self.dp_metrics_host = "127.0.0.1"
        self.dp_metrics = 0
        self.deviceplugin_metrics_host = "::1"
        self.deviceplugin_metrics = 0

    # ---- small helpers ----------------------------------------------------------------------------

    def binary(self, key: str) -> Path:
        return self.build / BUILD_BINARIES[key]

    def missing_binaries(self) -> list[str]:
        return [str(self.binary(k)) for k in BUILD_BINARIES if not os.access(self.binary(k), os.X_OK)]

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def progress(self, text: str) -> None:
        """One progress line, with the seconds since the run started."""
        if self.progress_sink is not None:
            self.progress_sink(f"[{self.elapsed():5.1f}s] {text}")

    def cni_env(self) -> dict[str, str]:
        """The runtime's environment names the node's CNI path policy, as a node administrator
        would; libcni passes it on to the plugins."""
        return {"ENA_DPDK_CNI_POLICY": str(self.cni_policy)}

    def standin(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run([str(self.binary("standin")), "--root", str(self.root), *args], check=check)

    def resources(self) -> dict:
        return json.loads(self.standin("resources").stdout)

    def runner(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        return run([str(RUNNER), args[0], "--state", str(self.runner_state), *args[1:]], check=check, timeout=timeout)

    def process(self, name: str) -> Process:
        return self.box.processes[name]

    # ---- claiming and teardown ----------------------------------------------------------------------

    def claim(self) -> bool:
        """Claims the run's name (cleaning a run of the same name whose owner is gone, refusing a
        live one) and records what every later step hangs its resources on. True when an
        interrupted run was cleaned up."""
        cleaned = self.box.claim()
        self.logs.mkdir(parents=True, exist_ok=True)
        self.runner_state.mkdir(parents=True, exist_ok=True)
        return cleaned

    def teardown(self) -> list[str]:
        """Undoes the run (Sandbox.teardown: the ledger in reverse order); what is left."""
        return self.box.teardown()

    def leftovers(self) -> list[str]:
        return self.box.leftovers()

    # ---- 1. node preparation ------------------------------------------------------------------------

    def prepare_node(self, pods: int) -> dict:
        """ena-dpdk-nodeprep on this machine's kernel (--root /): reserves the pods' and the
        dataplane's hugepages and mounts hugetlbfs of the sizes in use in the sandbox. Only the
        page counts are host-wide (given back at teardown). Returns node prep's report."""
        for d in ("etc/ena-dpdk", "var/lib/ena-dpdk", "run/ena-dpdk", "var/lib/kubelet", "dev"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        # The device plugin reads hugepage counts (and PCI devices) under --root: the real sysfs.
        (self.root / "sys").symlink_to("/sys")

        def count(size: str, what: str) -> int:
            return int((HUGEPAGE_DIRS[size] / what).read_text()) if has_hugepage_size(size) else 0

        plan = plan_hugepages(self.page_size, pods, count("1G", "nr_hugepages"), count("1G", "free_hugepages"),
                              count("2M", "nr_hugepages"), count("2M", "free_hugepages"))
        self.nodeprep_config.write_text(json.dumps(nodeprep_config(plan, self.page_size, self.huge_1g, self.huge_2m)))
        # The mounts node prep makes, for teardown (a mount point that is not mounted is skipped).
        for mount in ([self.huge_1g] if self.page_size == "1G" else []) + [self.huge_2m]:
            self.box.record("mount", path=str(mount))
        report: dict = {}
        done = None
        for attempt in range(1, 4):
            # A 1G page needs a free, aligned gigabyte: drop the page cache and compact memory
            # first, and try again when other work fragmented it meanwhile (node prep is
            # idempotent).
            os.sync()
            Path("/proc/sys/vm/drop_caches").write_text("3")
            Path("/proc/sys/vm/compact_memory").write_text("1")
            done = run([str(self.binary("nodeprep")), "--config", str(self.nodeprep_config), "--root", "/",
                        "--state-file", str(self.root / "var/lib/ena-dpdk/nodeprep-state.json")],
                       check=False, timeout=120)
            (self.logs / f"nodeprep-{attempt}.json").write_text(done.stdout)
            (self.logs / "nodeprep.err").write_text(done.stderr)
            try:
                report = json.loads(done.stdout)
            except json.JSONDecodeError:
                report = {}
            # Recorded right after each run, before anything else can fail.
            for size in ("1G", "2M"):
                self.box.note_hugepages(size, pages_added(report, size))
            if done.returncode == 0 and report.get("ready") is True:
                break
        assert done is not None
        if done.returncode != 0 or report.get("ready") is not True:
            raise NodeError(f"node prep failed (exit {done.returncode}, 3 attempts): {done.stderr.strip()}")
        if self.page_size == "1G" and count("1G", "free_hugepages") < plan.free_1g:
            raise NodeError(f"need {plan.free_1g} free 1G hugepages, {count('1G', 'free_hugepages')} are free")
        if count("2M", "free_hugepages") < plan.free_2m:
            raise NodeError(f"need {plan.free_2m} free 2M hugepages, {count('2M', 'free_hugepages')} are free")
        self.nodeprep_report = report
        return report

    # ---- 2. the VPC ---------------------------------------------------------------------------------

    def start_vpc(self) -> Vpc:
        """A namespace holding the VPC router's address behind a veth pair whose host end is the
        vpc network's uplink (net_af_packet)."""
        self.vpc = make_vpc(self.box, self.vpc_ns, self.uplink, self.vpc_if, f"{VPC_GATEWAY}/{VPC_PREFIX}")
        return self.vpc

    @property
    def eni_mac(self) -> str:
        assert self.vpc is not None
        return self.vpc.eni_mac

    # ---- 3. configuration ---------------------------------------------------------------------------

    def write_configs(self) -> None:
        """The node's config file, the dataplane's copy, the CNI path policy, both conflists, and
        the CNI binaries "installed" in the sandbox's /opt/cni/bin."""
        for d in (self.conflist.parent, self.cni_bin, self.cni_cache, self.slot_dir, self.cni_state,
                  self.ipam_state, self.devinfo_dir, self.root / "var/log", self.cni_policy.parent):
            d.mkdir(parents=True, exist_ok=True)
        (self.cni_bin / "ena-dpdk-cni").symlink_to(self.binary("cni"))
        (self.cni_bin / "ena-dpdk-ipam").symlink_to(self.binary("ipam"))
        self.cni_policy.write_text(json.dumps(cni_policy(self.root, self.logs, self.node_config)))
        self.cni_policy.chmod(0o644)
        host_view = dataplane_host_view(self.uplink, self.dp_prefix)
        self.node_config.write_text(json.dumps(node_config(host_view, self.charge_cgroup, self.page_size == "2M")))
        self.dp_config.write_text(json.dumps(dataplane_config(host_view, self.root)))
        self.conflist.write_text(json.dumps(conflist(NETWORK, "server", self.root, self.logs / "cni.log", self.node_config)))
        self.conflist_client.write_text(json.dumps(
            conflist(f"{NETWORK}-client", "client", self.root, self.logs / "cni.log", self.node_config)))

    # ---- 4. daemons ---------------------------------------------------------------------------------

    def start_standin(self) -> Process:
        """The kubelet stand-in (Registration, ListAndWatch, Allocate, PodResources)."""
        proc = self.box.start("standin", [str(self.binary("standin")), "--root", str(self.root), "serve"],
                              log=self.logs / "kubelet-standin.log")
        sock = self.root / "var/lib/kubelet/kubelet-standin.sock"
        if not wait_for(10, lambda: sock.is_socket()):
            raise NodeError(f"kubelet-standin did not come up: {proc.log_tail(3)}")
        return proc

    def pod_cgroup(self, pod: str, hugepages: dict[str, int] | None = None) -> Path:
        """The pod cgroup of ``pod`` as the kubelet makes it (hugetlb limit = the pod's native
        hugepages-<size> request, 0 for every other size), made once; its cgroup.procs."""
        if not (self.runner_state / pod / "pod.json").exists():
            if not any(e["kind"] == "containers" for e in self.box.entries()):
                # Teardown removes the pods through pod-runner, then the run's cgroup tree.
                self.box.cgroup_tree(self.cgroup_top)
                self.box.containers(f"nib-{self.name}-", str(RUNNER), self.runner_state)
            args = [a for size, limit in (hugepages or {}).items() for a in ("--hugepages", f"{size}={limit}")]
            self.runner("sandbox", "--pod", pod, "--uid", f"nib-{self.name}-{pod}",
                        "--cgroup-parent", self.cgroup_parent, *args)
        return self.pod_state(pod)["cgroup.procs"]

    def pod_state(self, pod: str) -> dict:
        """pod-runner's pod.json, with the path of the pod cgroup's cgroup.procs."""
        state = json.loads((self.runner_state / pod / "pod.json").read_text())
        state["cgroup.procs"] = Path(state["cgroupRoot"] + state["cgroup"]) / "cgroup.procs"
        return state

    def start_dataplane(self) -> Process:
        """The dataplane in its pod cgroup: its pod asks for hugepages-2Mi natively (its EAL
        -m 512 faults them), so its hugetlb limit is that request."""
        procs = self.pod_cgroup("dataplane", {"2MB": DATAPLANE_2M * PAGE_BYTES["2M"]})
        if not any(e["kind"] == "dpdk_prefix" for e in self.box.entries()):
            self.box.dpdk_prefix(self.dp_prefix)
        # The same address across restarts, as a node keeps its own.
        self.dp_metrics = self.dp_metrics or free_tcp_port(self.dp_metrics_host)
        proc = start_dataplane(self.box, self.binary("dataplane"), self.dp_config, self.ctl, cgroup_procs=procs,
                               args=("--metrics-address", host_port(self.dp_metrics_host, self.dp_metrics)))
        if not until(10, self.dataplane_metrics):
            raise NodeError(f"the dataplane serves no /metrics: {proc.log_tail(3)}")
        return proc

    def start_deviceplugin(self) -> Process:
        """The device plugin in its pod cgroup (no hugepages request: limits 0), up when the
        pods' resources are registered and streaming."""
        procs = self.pod_cgroup("deviceplugin")
        self.deviceplugin_metrics = self.deviceplugin_metrics or free_tcp_port(self.deviceplugin_metrics_host)
        address = host_port(self.deviceplugin_metrics_host, self.deviceplugin_metrics)
        proc = self.box.start("deviceplugin", [str(self.binary("deviceplugin")), "--config", str(self.node_config),
                                               "--root", str(self.root), "--metrics-address", address],
                              cgroup_procs=procs)
        if not until(20, lambda: resources_ready(self.resources(), self.page_size)):
            raise NodeError(f"the device plugin's resources did not register: {proc.log_tail(3)}")
        if not until(10, self.deviceplugin_metrics_text):
            raise NodeError(f"the device plugin serves no /metrics on {address}: {proc.log_tail(3)}")
        return proc

    def stop(self, name: str, sig: int = 15) -> int | None:
        """Stops a daemon (SIGTERM, then SIGKILL after 10 s); its exit status."""
        return self.box.stop(name, sig)

    # ---- 5. pods ------------------------------------------------------------------------------------

    def pod_sandbox(self, name: str, conflist_path: Path | None = None) -> Pod:
        """What the kubelet and Multus do before the pod's app starts: the pod's cgroup (hugetlb
        limit 0: the pod asks for no native hugepages) and network namespace; Allocate of one
        dpdk.aws/ena attachment and of the pod's hugepages through the stand-in; CNI ADD through
        libcni (default: the server-mode conflist) with the attachment as deviceID."""
        pod_dir = self.dir / "pods" / name
        pod_dir.mkdir(parents=True, exist_ok=True)
        self.pod_cgroup(f"pod-{name}")
        netns = self.box.netns(f"nib-{self.name}-pod-{name}")
        ena = self.allocate(name, ENA_RESOURCE, 1)
        hugepages = self.allocate(name, self.huge_resource, pages_per_pod(self.page_size))
        pod = Pod(name, netns, container_id(self.name, name), conflist_path or self.conflist, ena, hugepages,
                  pod_dir / "ena.json", pod_dir / "hugepages.json")
        pod.ena_file.write_text(json.dumps(ena))
        pod.hugepages_file.write_text(json.dumps(hugepages))
        self.pods[name] = pod
        # Recorded before ADD, so that teardown runs DEL even for an ADD that failed half-way.
        pod.del_entry = self.box.on_teardown(self.cni_argv("del", pod), env=self.cni_env())
        added = self.cni("add", pod)
        if added.returncode != 0:
            raise NodeError(f"CNI ADD for pod-{name}: {added.stdout.strip()} {added.stderr.strip()}")
        pod.cni_result = json.loads(added.stdout)
        return pod

    def allocate(self, pod: str, resource: str, count: int) -> dict:
        done = self.standin("allocate", resource, str(count), "--pod", f"pod-{pod}", check=False)
        if done.returncode != 0:
            raise NodeError(f"allocate {count} of {resource} for pod-{pod}: {done.stderr.strip()}")
        return json.loads(done.stdout)

    def start_pod(self, name: str, peer: str) -> Pod:
        """The pod's app container (tests/e2e/pod_app.sh) under runc through pod-runner: its OCI
        spec is built from the two Allocate responses and the pod's securityContext, in the pod's
        cgroup and network namespace. It answers ping (icmpecho) and, on request, streams to the
        peer's IP (txonly). Commands reach it on its stdin."""
        pod = self.pods[name]
        argv = [str(RUNNER), "run", "--state", str(self.runner_state), "--pod", pod.pod_name, "--container", "app",
                "--host-root", str(self.root), "--netns", f"/run/netns/{pod.netns}",
                "--allocation", str(pod.ena_file), "--allocation", str(pod.hugepages_file),
                *security_context(name), "--env", f"PEER_IP={self.pods[peer].ip}",
                "--mount", f"{POD_APP}:/pod/app.sh:ro", "--", "/bin/sh", "/pod/app.sh"]
        pod.app = Testpmd.wrap(self.box, pod.pod_name, argv)
        pod.app.command(["set fwd icmpecho", "start"], r"icmpecho packet forwarding", timeout=30)
        pod.slot_info = json.loads((self.slot_dir / pod.device / "ena-dpdk.json").read_text())
        pod.container = self.pod_info(name)
        return pod

    def pod_info(self, name: str) -> dict:
        """What the pod is, from the inside and from its cgroup (pod-runner state: container id,
        status, uid, groups, cgroup, hugetlb limits, usage and max events)."""
        return json.loads(self.runner("state", "--pod", f"pod-{name}", "--container", "app").stdout)

    def stop_pod(self, name: str) -> int | None:
        """Quits the pod's testpmd (it prints its final statistics) and deletes its container;
        records and returns the exit status (runc's is the app's: 135 is SIGBUS)."""
        pod = self.pods[name]
        if pod.app is not None and pod.exit_status is None:
            pod.exit_status = pod.app.quit(timeout=60)
        if (self.runner_state / pod.pod_name / "pod.json").exists():
            self.runner("delete", "--pod", pod.pod_name, "--container", "app")
        return pod.exit_status

    def negative_control(self) -> NegativeControl:
        """The harness is faithful only if it refuses what a real node refuses: a pod in a cgroup
        with the same hugetlb limits (0) given a hugetlbfs the way this product did before (a
        mount of its own, sized to the request, nothing faulted in) and a fresh EAL file prefix
        must not get memory."""
        size = self.page_size
        nbytes = PAGE_BYTES[size] * pages_per_pod(size)
        mount = self.box.mount_hugetlbfs(self.dir / "pods/neg/hugepages", size, f"size={nbytes},mode=1777")
        self.pod_cgroup("pod-neg")
        argv = ["timeout", "30", str(RUNNER), "run", "--state", str(self.runner_state), "--pod", "pod-neg",
                "--container", "app", "--mount", f"{mount}:/dev/hugepages:rw",
                "--run-as-user", str(POD_A_UID), "--run-as-group", str(POD_A_UID), "--run-as-non-root",
                "--cap-drop-all", "--", "dpdk-testpmd", "-l", "0,1", "--no-pci", "--vdev", "net_null0",
                "--single-file-segments", "--huge-dir", "/dev/hugepages", "--file-prefix", "fresh",
                "--socket-mem", str(nbytes >> 20), "--", "--stats-period", "1", "--total-num-mbufs", "2048"]
        proc = self.box.start("pod-neg", argv)
        rc = proc.wait(40)
        if rc is None:
            rc = proc.stop() or 124
        state = json.loads(self.runner("state", "--pod", "pod-neg", "--container", "app").stdout)
        events = int(state.get("hugetlbMaxEvents", {}).get(CGROUP_KEY[size], 0))
        self.runner("teardown", "--pod", "pod-neg")
        run(["umount", str(mount)], check=False)
        refused, reason = negative_control_verdict(rc, events, proc.log.read_text(errors="replace") if proc.log else "")
        return NegativeControl(rc, events, reason, refused)

    # ---- 6. CNI (the Multus-like step) ---------------------------------------------------------------

    def cni_argv(self, command: str, pod: Pod) -> list[str]:
        """libcni through the driver, with the pod's attachment as the deviceID capability and a
        CNIDeviceInfoFile path, as Multus passes them."""
        return [str(self.binary("driver")), command, "--conflist", str(pod.conflist),
                "--container-id", pod.container_id, "--netns", f"/run/netns/{pod.netns}", "--ifname", IFNAME,
                "--cni-path", str(self.cni_bin), "--cache-dir", str(self.cni_cache),
                "--args", f"K8S_POD_NAMESPACE=default;K8S_POD_NAME={pod.pod_name};"
                          f"K8S_POD_INFRA_CONTAINER_ID={pod.container_id}",
                "--cap", f'deviceID="{pod.device}"',
                "--cap", f'CNIDeviceInfoFile="{self.devinfo_file(pod.name)}"']

    def devinfo_file(self, pod: str) -> Path:
        return self.devinfo_dir / f"default-pod-{pod}-{IFNAME}.json"

    def cni(self, command: str, pod: Pod) -> subprocess.CompletedProcess:
        return run(self.cni_argv(command, pod), check=False, env={**os.environ, **self.cni_env()})

    def cni_del(self, name: str) -> None:
        """CNI DEL; then the pod is gone for the stand-in too, and the kubelet removes its cgroup."""
        pod = self.pods[name]
        if pod.del_entry is None:
            return
        deleted = self.cni("del", pod)
        if deleted.returncode != 0:
            raise NodeError(f"CNI DEL for pod-{name}: {deleted.stdout.strip()} {deleted.stderr.strip()}")
        self.box.done(pod.del_entry)
        pod.del_entry = None
        self.standin("release", "--pod", pod.pod_name, check=False)
        self.runner("teardown", "--pod", pod.pod_name)

    def cni_gc(self, valid: list[Pod]) -> subprocess.CompletedProcess:
        """CNI GC straight to the plugin (1.1.0), keeping ``valid``'s attachments."""
        doc = gc_config(json.loads(self.conflist.read_text()), [(p.container_id, IFNAME) for p in valid])
        return run([str(self.binary("cni"))], check=False, input=json.dumps(doc),
                   env={**os.environ, **self.cni_env(), "CNI_COMMAND": "GC", "CNI_PATH": str(self.cni_bin)})

    # ---- 7. traffic and figures ---------------------------------------------------------------------

    def ping(self, name: str) -> str | None:
        """From the VPC router to the pod's IP (answered by testpmd's icmpecho; the switch
        answers ARP for it with the ENI's MAC). ping's output when answered."""
        assert self.vpc is not None
        return self.vpc.ping(self.pods[name].ip)

    def port_counter(self, name: str, counter: str) -> int:
        return self.ctl.counter(self.pods[name].port_id, counter)

    def stream(self, sender: str, receiver: str, seconds: float) -> Stream:
        """``sender``'s testpmd streams 64-byte UDP to ``receiver`` for ``seconds``, then answers
        ping again; the switch's view of the window."""
        app = self.pods[sender].app
        assert app is not None
        rx0 = self.port_counter(sender, "rxPackets")
        tx0 = self.port_counter(receiver, "txPackets")
        app.forward("txonly")
        t0 = time.monotonic()
        time.sleep(seconds)  # the measurement window itself, not a synchronisation
        app.forward("icmpecho")
        t1 = time.monotonic()
        return Stream(self.port_counter(sender, "rxPackets") - rx0, self.port_counter(receiver, "txPackets") - tx0,
                      round(t1 - t0, 2))

    def dataplane_metrics(self) -> str:
        """The dataplane's /metrics, from the address its --metrics-address names."""
        return scrape(self.dp_metrics, self.dp_metrics_host)

    def deviceplugin_metrics_text(self) -> str:
        """The device plugin's /metrics, from the address its --metrics-address names."""
        return scrape(self.deviceplugin_metrics, self.deviceplugin_metrics_host)

    def dp_metric(self, name: str, **labels: str) -> int:
        return int(metric(self.dataplane_metrics(), name, **labels))

    def deviceplugin_metric(self, name: str, **labels: str) -> int:
        return int(metric(self.deviceplugin_metrics_text(), name, **labels))

    def allocation_charge(self, name: str) -> tuple[Path, int]:
        """Where the pod's hugepages are charged (its allocation's cgroup under the device
        plugin's chargeCgroup) and the bytes its hugetlb.<size>.current holds."""
        pod = self.pods[name]
        alloc = Path(pod.hugepages["response"]["mounts"][0]["hostPath"]).name
        cgroup = Path(self.pod_state(pod.pod_name)["cgroupRoot"] + self.charge_cgroup) / alloc
        current = cgroup / f"hugetlb.{CGROUP_KEY[self.page_size]}.current"
        return cgroup, int(current.read_text()) if current.exists() else 0

    def added_pages(self, size: str) -> int:
        """The pages of ``size`` this run added (the ledger's, given back at teardown)."""
        return sum(e["added"] for e in self.box.entries() if e["kind"] == "hugepages" and e["size"] == size)


def clean_abandoned_runs(name_prefix: str, base: Path = Path("/tmp")) -> list[str]:
    """Tears down runs of the node in a box named ``name_prefix``* whose owner is gone (e2e tests
    killed by a ctest timeout); live ones are left alone."""
    cleaned = []
    for directory in sorted(base.glob(f"enadpdk-nib-{name_prefix}*")):
        try:
            box = Sandbox.at(directory)
        except SandboxError:
            continue  # not a run's directory
        if not box.owner_alive():
            box.teardown()
            cleaned.append(str(directory))
    return cleaned
