"""Tests of the sandbox harness with the real resources (root): a run's namespace, veth,
hugetlbfs mount, hugepages, cgroup, processes and teardown commands all go at teardown, also when
the run's owner was killed with SIGKILL and the next run of the same name cleans up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from sandbox import (  # noqa: E402
    HUGEPAGE_DIRS,
    Sandbox,
    SandboxError,
    cgroup_hierarchies,
    mounts_under,
    process_start_time,
    run,
)

HERE = Path(__file__).parent


@pytest.fixture
def name() -> str:
    return f"t{os.getpid() % 100000}{int(time.time() * 1000) % 1000}"


def netns_exists(name: str) -> bool:
    return name in run(["ip", "netns", "list"]).stdout.split()


def link_exists(name: str) -> bool:
    return run(["ip", "link", "show", name], check=False).returncode == 0


def populate(box: Sandbox, tag: str) -> dict:
    """One of each resource kind; returns what to look for afterwards."""
    ns = box.netns(f"sbt-{tag}")
    link = box.veth(f"sb{tag}u", f"sb{tag}v", ns)
    mount = box.mount_hugetlbfs(box.path("huge"), "2M")
    nr = int((HUGEPAGE_DIRS["2M"] / "nr_hugepages").read_text())
    added = box.reserve_hugepages("2M", int((HUGEPAGE_DIRS["2M"] / "free_hugepages").read_text()) + 2)
    cgroup = box.cgroup_tree(f"/sbt-{tag}")
    for hierarchy in cgroup_hierarchies()[:2]:
        (hierarchy / f"sbt-{tag}" / "child").mkdir(parents=True, exist_ok=True)
    prefix = box.dpdk_prefix(f"sbt{tag}")
    Path(f"/var/run/dpdk/{prefix}").mkdir(parents=True, exist_ok=True)
    box.on_teardown(["sh", "-c", f"echo ran >{Path('/tmp') / f'sbt-{tag}-undo'}"])
    proc = box.start("sleeper", ["sleep", "600"])
    # A process the ledger does not know, but whose command line names the work directory.
    stray = subprocess.Popen(["sh", "-c", f"sleep 600; : {box.dir}/x"], start_new_session=True)
    return {"ns": ns, "link": link, "mount": str(mount), "nr": nr, "added": added, "cgroup": cgroup,
            "prefix": prefix, "pid": proc.pid, "stray": stray, "tag": tag}


def assert_gone(box: Sandbox, what: dict) -> None:
    assert not netns_exists(what["ns"])
    assert not link_exists(what["link"])
    assert mounts_under(box.dir) == []
    assert int((HUGEPAGE_DIRS["2M"] / "nr_hugepages").read_text()) == what["nr"]
    assert not any((h / what["cgroup"].lstrip("/")).exists() for h in cgroup_hierarchies())
    assert not Path(f"/var/run/dpdk/{what['prefix']}").exists()
    assert Path(f"/tmp/sbt-{what['tag']}-undo").read_text() == "ran\n"
    Path(f"/tmp/sbt-{what['tag']}-undo").unlink()
    assert process_start_time(what["pid"]) is None
    assert not box.dir.exists()


def test_teardown_undoes_every_resource(name: str) -> None:
    box = Sandbox("sbt", name)
    box.claim()
    what = populate(box, name[-6:])
    assert what["added"] == 2
    assert box.leftovers(), "the run's resources are listed before teardown"
    assert box.teardown() == []
    what["stray"].wait(10)
    assert_gone(box, what)
    assert box.teardown() == [], "teardown is idempotent"


def test_a_killed_run_is_cleaned_up_by_the_next_run_of_the_same_name(name: str) -> None:
    tag = name[-6:]
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(HERE)!r})
        from test_sandbox import populate
        from sandbox import Sandbox
        box = Sandbox("sbt", {name!r})
        box.claim()
        what = populate(box, {tag!r})
        print(what["nr"], what["pid"], flush=True)
        time.sleep(600)
    """)
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    nr, pid = map(int, owner.stdout.readline().split())
    box = Sandbox("sbt", name)
    with pytest.raises(SandboxError, match="still active"):
        box.claim()
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    assert process_start_time(pid) is not None, "the killed owner's daemon outlived it"
    assert box.claim() is True
    what = {"ns": f"sbt-{tag}", "link": f"sb{tag}u", "nr": nr, "cgroup": f"/sbt-{tag}",
            "prefix": f"sbt{tag}", "pid": pid, "tag": tag}
    assert box.dir.exists()
    assert box.teardown() == []
    assert_gone(box, what)


def test_a_recycled_pid_is_never_signalled(name: str) -> None:
    box = Sandbox("sbt", name)
    box.claim()
    other = subprocess.Popen(["sleep", "600"])
    try:
        box.record("process", name="old", pid=other.pid, start=(process_start_time(other.pid) or 0) + 1)
        assert box.teardown() == []
        assert other.poll() is None, "a process with another start time was signalled"
    finally:
        other.kill()
        other.wait()


def test_done_entries_are_not_undone_and_a_torn_ledger_line_is_ignored(name: str) -> None:
    box = Sandbox("sbt", name)
    box.claim()
    marker = Path(f"/tmp/sbt-{name}-done")
    entry = box.on_teardown(["touch", str(marker)])
    box.done(entry)
    with open(box.ledger, "a") as f:
        f.write('{"id": 99, "kind": "netns", "na')  # a kill -9 mid-write
    assert [e["kind"] for e in box.entries()] == []
    assert box.teardown() == []
    assert not marker.exists()


def test_names_are_checked() -> None:
    with pytest.raises(SandboxError):
        Sandbox("e2e", "Bad/Name")
    with pytest.raises(SandboxError):
        Sandbox.at("/tmp/not-a-sandbox")
    with pytest.raises(SandboxError, match="15 bytes"):
        box = Sandbox("sbt", "names")
        box.dir.mkdir(parents=True, exist_ok=True)
        try:
            box.veth("x" * 16, "y")
        finally:
            box.teardown()


def test_ids_are_never_given_twice_across_objects_on_one_ledger(name: str) -> None:
    box = Sandbox("sbt", name)
    box.claim()
    marker = Path(f"/tmp/sbt-{name}-reuse")
    first = box.on_teardown(["touch", str(marker)])
    box.done(box.on_teardown(["true"]))  # the last line is now a "done" entry
    again = Sandbox("sbt", name)  # e.g. a helper process writing to the same run
    assert again.on_teardown(["true"]) not in {first, first + 1, first + 2}
    assert box.teardown() == []
    assert marker.exists(), "a reused id made a later done() cancel the wrong entry"
    marker.unlink()
