"""What the two dataplane integration tests (test_dataplane_integration.py,
test_multiworker_integration.py) share: the built binaries, their sandbox, the dataplane's config
document, the dataplane process across kill -9 and restarts, and the EAL of a testpmd pod.

Everything they create goes through the sandbox (tests/support/sandbox.py), so a run killed
half-way is cleaned up by the next run (``Sandbox.clean_abandoned``) and the end of a run checks
that teardown left nothing.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

from dpdk_procs import Ctl, PortStats, Testpmd, start_dataplane
from sandbox import Process, Sandbox, SandboxError, require, wait_for

BUILD_DIR_ENV = "ENA_DPDK_BUILD_DIR"


@dataclass(frozen=True)
class Binaries:
    """The dataplane and its ctl, from the build tree ctest passes in ENA_DPDK_BUILD_DIR."""

    dataplane: Path
    ctl: Path

    @classmethod
    def from_env(cls) -> "Binaries":
        build = os.environ.get(BUILD_DIR_ENV)
        if not build:
            raise SandboxError(f"{BUILD_DIR_ENV} is not set (ctest sets it to the build tree)")
        found = cls(Path(build) / "vhostuser" / "ena-dpdk-dataplane", Path(build) / "vhostuser" / "ena-dpdk-ctl")
        for binary in (found.dataplane, found.ctl):
            if not os.access(binary, os.X_OK):
                raise SandboxError(f"{binary} must be built")
        return found


@contextmanager
def open_sandbox(kind: str) -> Iterator[Sandbox]:
    """A sandbox named after this process, after tearing down runs of ``kind`` whose test was
    killed. Torn down on the way out; what teardown could not remove fails the run."""
    require("dpdk-testpmd", "ip", "ping", "stdbuf")
    Sandbox.clean_abandoned(kind)
    box = Sandbox(kind, str(os.getpid()))
    box.claim()
    try:
        yield box
    finally:
        left = box.teardown()
        assert left == [], f"teardown left: {left}"


def assert_teardown_leaves_nothing(box: Sandbox) -> None:
    """The last step of a run: teardown undoes every resource and nothing of the run is left."""
    problems = box.teardown()
    assert problems == [], f"teardown could not undo or left: {problems}"
    assert box.leftovers() == []
    assert not box.dir.exists()


def write_config(box: Sandbox, *, eal: Sequence[str], workers: Sequence[int], networks: list[dict],
                 max_ports: int, **extra: object) -> Path:
    """The dataplane's config document (docs/dataplane.md) with the sandbox's control socket,
    state file and vhost directory; ``extra`` adds keys (e.g. cniStateDir)."""
    document = {"dataplane": {
        "eal": list(eal),
        "workers": list(workers),
        "controlSocket": str(box.path("dp.sock")),
        "stateFile": str(box.path("state", "dataplane-state.json")),
        "metricsAddress": "127.0.0.1:0",
        "allowedSocketDirs": [str(box.path("vhost"))],
        "mbufs": 8192,
        "maxPorts": max_ports,
        **extra,
        "networks": networks,
    }}
    path = box.path("config.json")
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


@dataclass
class Dataplane:
    """ena-dpdk-dataplane on one config, started again after a kill -9 with the same log."""

    box: Sandbox
    binary: Path
    config: Path
    ctl: Ctl
    name: str = "dataplane"
    proc: Process | None = field(default=None, init=False)

    def start(self) -> Process:
        self.proc = start_dataplane(self.box, self.binary, self.config, self.ctl, name=self.name)
        return self.proc

    def kill9(self) -> None:
        """SIGKILL, as a crash would: nothing of the shutdown path runs."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout: float = 30) -> int | None:
        """SIGTERM and its exit status (negative: killed after ``timeout``)."""
        assert self.proc is not None
        return self.proc.stop(signal.SIGTERM, timeout)

    def log(self) -> str:
        assert self.proc is not None and self.proc.log is not None
        return self.proc.log.read_text(errors="replace")


def pod_eal(box: Sandbox, prefix: str, huge: Path, vdevs: Sequence[str], *, main_lcore: int,
            memory_mb: int) -> list[str]:
    """EAL arguments of a testpmd "pod" on CPUs 0 and 1 with virtio_user ``vdevs``; its file
    prefix is recorded so that teardown removes its runtime directory."""
    eal = ["-l", "0,1", "--main-lcore", str(main_lcore), "--file-prefix", box.dpdk_prefix(prefix), "--no-pci",
           "--single-file-segments", "-m", str(memory_mb), "--huge-dir", str(huge)]
    for vdev in vdevs:
        eal += ["--vdev", vdev]
    return eal


def stream_tx_packets(pod: Testpmd, tx_port: int, tx_queue: int) -> int:
    """TX-packets of the stream to ``tx_port``/``tx_queue`` in testpmd's final per-stream block
    ("Forward Stats for RX Port= a/Queue= b -> TX Port= c/Queue= d"); 0 when it printed none."""
    found = re.findall(rf"-> TX Port=\s*{tx_port}/Queue=\s*{tx_queue}\b[^\n]*\n\s*RX-packets:\s*\d+\s+TX-packets:\s*(\d+)",
                       pod.text())
    return int(found[-1]) if found else 0


def is_socket(path: Path) -> bool:
    try:
        return stat.S_ISSOCK(path.lstat().st_mode)
    except FileNotFoundError:
        return False


def all_port_stats(pod: Testpmd, ports: int, timeout: float = 20) -> list[PortStats]:
    """RX and TX packets of each of an interactive pod's ``ports`` (since it started), from one
    "show port stats all"."""
    marker = r"Throughput \(since last show\)"
    before = pod.count(marker)
    pod.send("show port stats all")
    if not wait_for(timeout, lambda: pod.count(marker) >= before + ports):
        raise SandboxError(f"{pod.proc.name}: no statistics for its {ports} ports: {pod.proc.log_tail(3)}")
    latest = {int(port): PortStats(int(rx), int(tx)) for port, rx, tx in
              re.findall(r"NIC statistics for port (\d+).*?RX-packets:\s*(\d+).*?TX-packets:\s*(\d+)", pod.text(), re.DOTALL)}
    return [latest[port] for port in range(ports)]
