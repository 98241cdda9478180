"""The demo's build target (`demo`, tests/e2e/CMakeLists.txt) against what the demo runs.

scripts/demo.sh builds only the `demo` target, so every binary of the build tree that the node in
a box (tests/e2e/nib.py) or the demo (tests/e2e/demo.py, scripts/demo.sh) runs must be built by
it, or a fresh machine's demo fails on a missing file. And the target must stay small: no test
binary.

Reads the build graph of the configured build tree (ENA_DPDK_BUILD_DIR, Ninja generator) with
`ninja -t query`; needs no built file.
"""

import ast
import os
import pathlib
import re
import subprocess

import pytest

SOURCE = pathlib.Path(__file__).resolve().parents[2]
SCRIPTS = [SOURCE / "tests/e2e/nib.py", SOURCE / "tests/e2e/demo.py", SOURCE / "scripts/demo.sh"]
PRODUCT_BINARIES = {
    "ena-dpdk-dataplane", "ena-dpdk-ctl", "ena-dpdk-cni", "ena-dpdk-ipam",
    "ena-dpdk-deviceplugin", "ena-dpdk-nodeprep",
}


def build_paths(text):
    """Paths under the build tree a program names: the values of nib.py's BUILD_BINARIES (its one
    list), any path joined to a build directory in Python (`build / "x/y"`, `self.build /
    "x/y"`), and a shell script's "$build_dir/<path>" (or ${build_dir}/<path>)."""
    paths = set(re.findall(r"\$\{?build_dir\}?/([A-Za-z0-9_.+/-]+)", text))
    paths |= set(re.findall(r"build\)?\s*/\s*[\"']([A-Za-z0-9_.+/-]+)[\"']", text))
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return paths  # a shell script
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "BUILD_BINARIES" for t in node.targets):
            paths |= {v.value for v in node.value.values if isinstance(v, ast.Constant)}
    return paths


def parse_query(text):
    """`ninja -t query` output -> {node: [its inputs]} (explicit, implicit and order-only)."""
    graph, node, section = {}, None, None
    for line in text.splitlines():
        if not line.startswith(" "):
            node = line.rstrip(":")
            graph[node] = []
            section = None
        elif line.startswith("  ") and not line.startswith("    "):
            section = line.strip().split(":")[0]
        elif section == "input":
            graph[node].append(line.strip().lstrip("|").strip())
    return graph


def reachable(build_dir, ninja, target):
    """Every node of the build graph that building TARGET builds or reads inside the build tree."""
    seen, frontier = set(), [target]
    while frontier:
        out = subprocess.run([ninja, "-C", build_dir, "-t", "query", *frontier],
                             check=True, capture_output=True, text=True).stdout
        frontier = []
        for inputs in parse_query(out).values():
            for node in inputs:
                # Files outside the build tree (sources, system libraries) have no inputs to follow.
                if node in seen or node.startswith("/") and not node.startswith(build_dir + "/"):
                    continue
                seen.add(node)
                frontier.append(node)
    return {os.path.relpath(n, build_dir) if n.startswith("/") else n for n in seen}


def test_build_paths_reads_the_binaries_list_and_joined_paths():
    text = ('BUILD_BINARIES = {\n    "ctl": "vhostuser/ena-dpdk-ctl",\n}\n'
            'x = self.build / "tests/cni/cni-driver"\ny = Path(build) / "ipam/ena-dpdk-ipam"\n'
            'z = self.root / "var/lib"\n')
    assert build_paths(text) == {"vhostuser/ena-dpdk-ctl", "tests/cni/cni-driver", "ipam/ena-dpdk-ipam"}


def test_build_paths_reads_shell_spellings():
    text = 'A="$build_dir/vhostuser/ena-dpdk-ctl"\nB=${build_dir}/tests/cni/cni-driver C=$root/x\n'
    assert build_paths(text) == {"vhostuser/ena-dpdk-ctl", "tests/cni/cni-driver"}


def test_parse_query_follows_implicit_and_order_only_inputs():
    text = ("a:\n  input: phony\n    b\n    | c\n    || d\n  outputs:\n    e\n"
            "b:\n  input: LINK\n    b.o\n  outputs:\n    a\n")
    assert parse_query(text) == {"a": ["b", "c", "d"], "b": ["b.o"]}


@pytest.fixture(scope="module")
def demo_nodes():
    build_dir = os.environ.get("ENA_DPDK_BUILD_DIR")
    if not build_dir:
        pytest.fail("ENA_DPDK_BUILD_DIR is not set (ctest sets it to the build tree)")
    ninja = os.environ.get("ENA_DPDK_NINJA") or "ninja"
    return reachable(str(pathlib.Path(build_dir).resolve()), ninja, "demo")


def test_demo_builds_every_binary_the_demo_runs(demo_nodes):
    used = set().union(*(build_paths(p.read_text()) for p in SCRIPTS))
    # The programs still name the binaries the way this test reads them.
    assert PRODUCT_BINARIES <= {pathlib.PurePath(p).name for p in used}
    missing = sorted(used - demo_nodes)
    assert not missing, f"the demo runs {missing}, which the demo target does not build " \
        "(add their targets to ENA_DPDK_DEMO_TARGETS in tests/e2e/CMakeLists.txt)"


def test_demo_builds_no_test(demo_nodes):
    tests = sorted(n for n in demo_nodes if re.search(r"_test(\.dir)?$", n))
    assert not tests, f"the demo target builds tests: {tests}"


def test_demo_script_builds_only_the_demo_target():
    text = (SOURCE / "scripts/demo.sh").read_text()
    builds = re.findall(r"^\s*scripts/build\.sh .*$", text, re.M)
    assert builds and all("--target demo" in b for b in builds), builds


def test_scripts_the_demo_runs_from_the_source_tree_exist():
    # pod-runner runs as a program; pod_app.sh is mounted into the pods and run by /bin/sh.
    assert os.access(SOURCE / "tests/tools/pod-runner", os.X_OK)
    assert (SOURCE / "tests/e2e/pod_app.sh").is_file()
