"""The test sandbox: one harness for every test that runs real processes on this machine.

The e2e test, the demo and the dataplane integration tests all start DPDK processes, reserve
hugepages, mount hugetlbfs, create network namespaces, veth pairs, cgroups and runc containers.
A run that stops half-way (a failed step, Ctrl-C, a ctest timeout's kill -9) must not leave any of
that on the machine, and the next run must be able to clean up after it from what is on disk
alone. So every resource is written to a ledger (one JSON object per line, appended and flushed
before or right after the resource exists) in the run's work directory, and ``teardown`` undoes
the ledger in reverse order, then sweeps what the ledger cannot know about (a process a killed
step left, a mount another tool made under the work directory). Teardown lives here and nowhere
else.

A run is named ``<kind>-<name>``; its work directory is ``/tmp/enadpdk-<kind>-<name>``. Only
stdlib; runs as root. Command line: ``sandbox.py teardown|leftovers DIR``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

HUGEPAGE_DIRS = {
    "2M": Path("/sys/kernel/mm/hugepages/hugepages-2048kB"),
    "1G": Path("/sys/kernel/mm/hugepages/hugepages-1048576kB"),
}
DPDK_RUNTIME = Path("/var/run/dpdk")
CGROUP_ROOT = Path("/sys/fs/cgroup")
NAME_RE = re.compile(r"^[a-z0-9]{1,12}$")


class SandboxError(RuntimeError):
    """A step of the harness failed; the message says which and why."""


def wait_for(timeout: float, predicate: Callable[[], object], interval: float = 0.1) -> bool:
    """Polls ``predicate`` until it returns something true (exceptions count as false)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return True
        except (OSError, ValueError, KeyError, subprocess.SubprocessError, json.JSONDecodeError):
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def require(*commands: str) -> None:
    """Fails loudly when a tool the test runs is missing (never a silent skip)."""
    missing = [c for c in commands if shutil.which(c) is None]
    if missing:
        raise SandboxError(f"missing {', '.join(missing)} (scripts/deps.sh installs them)")


def run(argv: Sequence[str], *, check: bool = True, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
    """Runs a command, capturing text output; a failure raises with its stderr."""
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and done.returncode != 0:
        raise SandboxError(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr.strip()[-400:]}")
    return done


def process_start_time(pid: int) -> int | None:
    """The process's start time in clock ticks (/proc/<pid>/stat field 22), None when gone.

    Recorded with each pid so that teardown never signals a recycled pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    return int(stat[stat.rindex(")") + 2 :].split()[19])


def mounts_under(directory: Path) -> list[str]:
    """Mount points at or below ``directory``, deepest first."""
    prefix = str(directory).rstrip("/") + "/"
    points = []
    for line in Path("/proc/mounts").read_text().splitlines():
        point = line.split()[1].replace("\\040", " ")
        if point.startswith(prefix) or point == prefix.rstrip("/"):
            points.append(point)
    return sorted(points, key=lambda p: (p.count("/"), p), reverse=True)


def cgroup_hierarchies() -> list[Path]:
    """The unified hierarchy and every v1 hierarchy (this machine mounts both)."""
    return [CGROUP_ROOT] + sorted(p for p in CGROUP_ROOT.iterdir() if p.is_dir() and not p.is_symlink())


def free_hugepages(size: str) -> int:
    return int((HUGEPAGE_DIRS[size] / "free_hugepages").read_text())


def has_hugepage_size(size: str) -> bool:
    return HUGEPAGE_DIRS[size].is_dir()


@dataclass
class Process:
    """A process the sandbox started (or adopted): its pid, start time and log."""

    name: str
    pid: int
    start_time: int | None
    log: Path | None
    popen: subprocess.Popen | None = None
    returncode: int | None = None

    def alive(self) -> bool:
        if self.popen is not None and self.popen.poll() is not None:
            self.returncode = self.popen.returncode
            return False
        return self.start_time is not None and process_start_time(self.pid) == self.start_time

    def wait(self, timeout: float) -> int | None:
        """Waits for the process to end; its exit status (negative: the signal), None on timeout."""
        if self.popen is not None:
            try:
                self.returncode = self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                return None
            return self.returncode
        return 0 if wait_for(timeout, lambda: not self.alive()) else None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int | None:
        """Signals the process, waits ``timeout`` seconds, then kills it; its exit status."""
        if self.alive():
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            if self.wait(timeout) is None and self.alive():
                os.kill(self.pid, signal.SIGKILL)
                self.wait(10)
        elif self.popen is not None:
            self.wait(0)
        return self.returncode

    def log_tail(self, lines: int = 5) -> str:
        if self.log is None or not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Sandbox:
    """A named run's work directory and the ledger of everything it created."""

    kind: str
    name: str
    base: Path = Path("/tmp")
    processes: dict[str, Process] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not NAME_RE.match(self.name) or not re.match(r"^[a-z]{1,8}$", self.kind):
            raise SandboxError(f"run name must be 1-12 of [a-z0-9] and kind 1-8 of [a-z]: {self.kind}-{self.name}")
        self.dir = Path(self.base) / f"enadpdk-{self.kind}-{self.name}"
        self.ledger = self.dir / "ledger.jsonl"
        self._next_id = 0

    @classmethod
    def at(cls, directory: Path | str) -> "Sandbox":
        """The sandbox whose work directory is ``directory`` (to tear down a left run)."""
        match = re.match(r"^enadpdk-([a-z]{1,8})-([a-z0-9]{1,12})$", Path(directory).name)
        if not match:
            raise SandboxError(f"{directory} is not a sandbox work directory (enadpdk-<kind>-<name>)")
        return cls(match.group(1), match.group(2), Path(directory).parent)

    # ---- the ledger ---------------------------------------------------------------------------

    def _records(self) -> list[dict]:
        """Every ledger line, "done" entries included; a line cut short by a kill -9 mid-write
        is skipped."""
        if not self.ledger.exists():
            return []
        records = []
        for line in self.ledger.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return records

    def entries(self) -> list[dict]:
        """The ledger, without the entries later marked done."""
        records = self._records()
        done = {r.get("done") for r in records if r.get("kind") == "done"}
        return [r for r in records if r.get("kind") != "done" and r.get("id") not in done]

    def record(self, kind: str, **fields) -> int:
        """Appends one entry (flushed to disk) and returns its id."""
        if self._next_id == 0:
            # Over every line, "done" ones too, so that an id is never given twice.
            self._next_id = max((r.get("id", 0) for r in self._records()), default=0) + 1
        entry_id = self._next_id
        self._next_id += 1
        with open(self.ledger, "a") as f:
            f.write(json.dumps({"id": entry_id, "kind": kind, **fields}) + "\n")
            f.flush()
            os.fsync(f.fileno())
        return entry_id

    def done(self, entry_id: int) -> None:
        """Marks an entry as undone by the test itself (teardown skips it)."""
        self.record("done", done=entry_id)

    # ---- claiming and releasing the name --------------------------------------------------------

    def owner(self) -> tuple[int, int | None] | None:
        try:
            pid, start = (self.dir / "owner").read_text().split()
            return int(pid), int(start)
        except (OSError, ValueError):
            return None

    def owner_alive(self) -> bool:
        owner = self.owner()
        return owner is not None and owner[0] != os.getpid() and process_start_time(owner[0]) == owner[1]

    def claim(self) -> bool:
        """Creates the work directory, first tearing down a run of the same name whose owner is
        gone; refuses while that owner lives. True when an earlier run was cleaned up."""
        cleaned = False
        if self.dir.exists():
            if self.owner_alive():
                raise SandboxError(f"run '{self.kind}-{self.name}' is still active (pid {self.owner()[0]}, {self.dir})")
            self.teardown()
            cleaned = True
        self.dir.mkdir(parents=True)
        (self.dir / "owner").write_text(f"{os.getpid()} {process_start_time(os.getpid())}\n")
        return cleaned

    @classmethod
    def clean_abandoned(cls, kind: str, base: Path = Path("/tmp")) -> list[str]:
        """Tears down every run of ``kind`` whose owner is gone (killed test processes)."""
        cleaned = []
        for directory in sorted(Path(base).glob(f"enadpdk-{kind}-*")):
            try:
                box = cls.at(directory)
            except SandboxError:
                continue
            if not box.owner_alive():
                box.teardown()
                cleaned.append(str(directory))
        return cleaned

    def path(self, *parts: str) -> Path:
        return self.dir.joinpath(*parts)

    # ---- resources ------------------------------------------------------------------------------

    def reserve_hugepages(self, size: str, free_wanted: int) -> int:
        """Makes sure ``free_wanted`` pages of ``size`` are free, only ever adding pages; records
        the number added (given back at teardown: the count is lowered by it, never set, because
        other users may change it meanwhile). Returns the number added."""
        directory = HUGEPAGE_DIRS[size]
        nr_file = directory / "nr_hugepages"
        free = free_hugepages(size)
        if free >= free_wanted:
            return 0
        before = int(nr_file.read_text())
        # Recorded before the write (a kill right after it still gives the pages back), then
        # corrected to what the kernel really added.
        entry = self.record("hugepages", size=size, added=free_wanted - free)
        nr_file.write_text(str(before + free_wanted - free))
        added = max(int(nr_file.read_text()) - before, 0)
        if added != free_wanted - free:
            self.done(entry)
            self.note_hugepages(size, added)
        if free_hugepages(size) < free_wanted:
            raise SandboxError(f"need {free_wanted} free {size} hugepages, have {free_hugepages(size)}")
        return added

    def note_hugepages(self, size: str, added: int) -> None:
        """Records pages another tool (node prep) added for this run."""
        if added > 0:
            self.record("hugepages", size=size, added=added)

    def mount_hugetlbfs(self, path: Path, pagesize: str = "2M", options: str = "") -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.record("mount", path=str(path))
        opts = f"pagesize={pagesize}" + (f",{options}" if options else "")
        run(["mount", "-t", "hugetlbfs", "-o", opts, "nodev", str(path)])
        return path

    def netns(self, name: str) -> str:
        self.record("netns", name=name)
        run(["ip", "netns", "add", name])
        return name

    def veth(self, host: str, peer: str, peer_netns: str | None = None) -> str:
        """A veth pair; ``peer`` moves into ``peer_netns``. The host end is recorded."""
        if len(host) > 15 or len(peer) > 15:
            raise SandboxError(f"interface names are at most 15 bytes: {host}, {peer}")
        self.record("link", name=host)
        run(["ip", "link", "add", host, "type", "veth", "peer", "name", peer])
        if peer_netns:
            run(["ip", "link", "set", peer, "netns", peer_netns])
        return host

    def dpdk_prefix(self, prefix: str) -> str:
        """An EAL --file-prefix whose runtime directory teardown removes."""
        self.record("dpdk_prefix", prefix=prefix)
        return prefix

    def cgroup_tree(self, path: str) -> str:
        """A cgroup path (e.g. /nib-demo) removed, emptied, from every hierarchy at teardown."""
        self.record("cgroup", path=path)
        return path

    def containers(self, id_prefix: str, runner: str | None = None, runner_state: Path | None = None) -> None:
        """runc containers whose ids start with ``id_prefix``; with ``runner`` (pod-runner) and
        its state directory, every pod it made is torn down through it first."""
        self.record("containers", prefix=id_prefix, runner=runner, state=str(runner_state) if runner_state else None)

    def on_teardown(self, argv: Sequence[str], env: dict[str, str] | None = None) -> int:
        """A command teardown runs (before it stops the processes started earlier), e.g. the CNI
        DEL of an attachment. Returns the entry id, for ``done`` once the test did it itself."""
        return self.record("command", argv=list(argv), env=env or {})

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log: Path | None = None,
        stdin: int | None = subprocess.DEVNULL,
        cgroup_procs: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> Process:
        """Starts a process in the background (its own session, so Ctrl-C reaches only the
        harness, which then tears down in order); stdout and stderr go to ``log``. With
        ``cgroup_procs`` it joins that cgroup before exec."""
        log = Path(log) if log else self.path("logs", f"{name}.log")
        log.parent.mkdir(parents=True, exist_ok=True)

        def join_cgroup() -> None:
            if cgroup_procs is not None:
                Path(cgroup_procs).write_text(str(os.getpid()))

        with open(log, "ab") as out:
            popen = subprocess.Popen(
                list(argv),
                stdin=stdin,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=join_cgroup if cgroup_procs is not None else None,
                env={**os.environ, **(env or {})},
            )
        proc = Process(name, popen.pid, process_start_time(popen.pid), log, popen)
        self.record("process", name=name, pid=proc.pid, start=proc.start_time)
        self.processes[name] = proc
        return proc

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 10) -> int | None:
        proc = self.processes.get(name)
        return proc.stop(sig, timeout) if proc else None

    # ---- teardown: the one place ----------------------------------------------------------------

    def teardown(self) -> list[str]:
        """Undoes everything the ledger records, newest first, then sweeps processes that name
        the work directory and mounts under it, and removes the directory. Safe to call at any
        point, repeatedly, from another process. Returns what could not be undone."""
        if not self.dir.exists():
            return []
        problems: list[str] = []
        entries = self.entries()
        for entry in reversed(entries):
            try:
                self._undo(entry)
            except (OSError, SandboxError, subprocess.SubprocessError, ValueError) as e:
                problems.append(f"{entry['kind']} {entry}: {e}")
        self._kill_named_processes()
        for point in mounts_under(self.dir):
            if run(["umount", point], check=False).returncode != 0:
                run(["umount", "-l", point], check=False)
        for entry in entries:  # cgroups once more: a killed process may have kept one
            if entry["kind"] == "cgroup":
                self._remove_cgroup(entry["path"])
        shutil.rmtree(self.dir, ignore_errors=True)
        self.processes.clear()
        problems += self.leftovers(entries)
        return problems

    def _undo(self, entry: dict) -> None:
        kind = entry["kind"]
        if kind == "command":
            run(entry["argv"], check=False, timeout=60, env={**os.environ, **entry.get("env", {})})
        elif kind == "process":
            proc = self.processes.get(entry["name"])
            if proc is None or proc.pid != entry["pid"]:
                proc = Process(entry["name"], entry["pid"], entry["start"], None)
            proc.stop()
        elif kind == "containers":
            self._remove_containers(entry)
        elif kind == "cgroup":
            self._remove_cgroup(entry["path"])
        elif kind == "netns":
            run(["ip", "netns", "del", entry["name"]], check=False)
        elif kind == "link":
            run(["ip", "link", "del", entry["name"]], check=False)
        elif kind == "mount":
            if entry["path"] in mounts_under(Path(entry["path"]).parent):
                if run(["umount", entry["path"]], check=False).returncode != 0:
                    run(["umount", "-l", entry["path"]], check=False)
        elif kind == "hugepages":
            nr_file = HUGEPAGE_DIRS[entry["size"]] / "nr_hugepages"
            now = int(nr_file.read_text())
            nr_file.write_text(str(max(now - entry["added"], 0)))
        elif kind == "dpdk_prefix":
            shutil.rmtree(DPDK_RUNTIME / entry["prefix"], ignore_errors=True)

    def _remove_containers(self, entry: dict) -> None:
        state = entry.get("state")
        if entry.get("runner") and state and Path(state).is_dir():
            for pod in sorted(Path(state).iterdir()):
                if pod.is_dir():
                    run([entry["runner"], "teardown", "--state", state, "--pod", pod.name], check=False)
        listed = run(["runc", "list", "-q"], check=False).stdout.split()
        for cid in listed:
            if cid.startswith(entry["prefix"]):
                run(["runc", "delete", "--force", cid], check=False)

    @staticmethod
    def _remove_cgroup(path: str) -> None:
        """Removes the tree, deepest first; a cgroup a process still holds stays (and shows in
        the leftovers)."""
        for hierarchy in cgroup_hierarchies():
            top = hierarchy / path.lstrip("/")
            if not top.is_dir():
                continue
            for directory in sorted((d for d in [top, *top.rglob("*")] if d.is_dir()), key=lambda d: len(d.parts), reverse=True):
                try:
                    directory.rmdir()
                except OSError:
                    pass

    def _named_processes(self) -> list[int]:
        """Processes (not this one) whose command line names the work directory."""
        exact = str(self.dir).encode()
        inside = exact + b"/"
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                args = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(a == exact or a.endswith(b"=" + exact) or inside in a for a in args):
                found.append(int(entry.name))
        return found

    def _kill_named_processes(self) -> None:
        for pid in self._named_processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_for(5, lambda: not self._named_processes())

    # ---- what is left ---------------------------------------------------------------------------

    def leftovers(self, entries: list[dict] | None = None) -> list[str]:
        """What of the run still exists, one line each; empty after a clean teardown. The
        ledger's ``entries`` (default: the ledger on disk) name the resources to look for."""
        left = []
        if entries is None:
            entries = self.entries()
        for pid in self._named_processes():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            left.append(f"process {pid}: {cmdline}")
        names: dict[str, list[dict]] = {}
        for e in entries:
            names.setdefault(e["kind"], []).append(e)
        for e in names.get("process", []):
            if process_start_time(e["pid"]) == e["start"]:
                left.append(f"process {e['pid']} ({e['name']})")
        netns = set(run(["ip", "netns", "list"], check=False).stdout.split())
        for e in names.get("netns", []):
            if e["name"] in netns:
                left.append(f"namespace {e['name']}")
        for e in names.get("link", []):
            if run(["ip", "link", "show", e["name"]], check=False).returncode == 0:
                left.append(f"link {e['name']}")
        for e in names.get("cgroup", []):
            for hierarchy in cgroup_hierarchies():
                if (hierarchy / e["path"].lstrip("/")).is_dir():
                    left.append(f"cgroup {hierarchy / e['path'].lstrip('/')}")
        for e in names.get("containers", []):
            for cid in run(["runc", "list", "-q"], check=False).stdout.split():
                if cid.startswith(e["prefix"]):
                    left.append(f"container {cid}")
        for e in names.get("dpdk_prefix", []):
            if (DPDK_RUNTIME / e["prefix"]).exists():
                left.append(f"DPDK runtime directory {DPDK_RUNTIME / e['prefix']}")
        left += [f"mount {p}" for p in mounts_under(self.dir)]
        if self.dir.exists():
            left.append(f"directory {self.dir}")
        return left


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("teardown", "leftovers"):
        print("usage: sandbox.py teardown|leftovers /tmp/enadpdk-<kind>-<name>", file=sys.stderr)
        return 2
    box = Sandbox.at(argv[2])
    lines = box.teardown() if argv[1] == "teardown" else box.leftovers()
    for line in lines:
        print(line)
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
