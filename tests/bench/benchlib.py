#!/usr/bin/env python3
"""The benchmarks' result logic, tested (tests/bench/test_benchlib.py); the shell scripts under
tests/bench/ only launch the processes and hand their raw output to this module.

- parsing the raw measurements: testpmd's per-port Rx-pps and cycles per packet, OVS's
  pmd-stats-show, two snapshots of `ena-dpdk-ctl -o json stats`;
- the dataplane benchmark's selection (best of N runs), its ratios against the peers, the target
  checks and its tables (dataplane_bench.sh);
- the north-south benchmark's generator summary, best of N, targets and tables
  (northsouth_bench.sh);
- latency percentiles and their targets (cni_bench.sh, nodeprep_bench.sh).

Python 3.11 standard library only. Command line: `benchlib.py COMMAND ARGS` (see main()).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
import statistics
import sys
from typing import Iterable, Iterator, Optional

# ---- values ------------------------------------------------------------------------------------

_NUMBER = re.compile(r"^[0-9]+(\.[0-9]+)?$")


def number(text) -> Optional[float]:
    """A measured value: a non-negative decimal number, or None for anything else ("-", "n/a",
    empty, a failed run's message)."""
    if text is None:
        return None
    text = str(text).strip()
    return float(text) if _NUMBER.match(text) else None


def fmt(value: Optional[float], missing: str = "-") -> str:
    """Two decimals, or MISSING."""
    return missing if value is None else f"{value:.2f}"


def round2(value: float) -> str:
    """Rounded to two decimals (half away from zero), without trailing zeros: 98.5, 0.01, 0."""
    rounded = math.floor(abs(value) * 100 + 0.5) / 100 * (1 if value >= 0 else -1)
    text = f"{rounded:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def ratio(numerator: Optional[float], denominator: Optional[float]) -> Optional[float]:
    """NUMERATOR / DENOMINATOR, or None when either is missing or the denominator is not > 0."""
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def verdict(measured: Optional[float], goal: float, at_most: bool = False) -> str:
    """PASS / FAIL of MEASURED against GOAL (>= GOAL, or <= GOAL with AT_MOST); "-" when nothing
    was measured. The comparison is on the value as printed (two decimals), so a printed 0.85
    meets >= 0.85."""
    if measured is None:
        return "-"
    shown = float(fmt(measured))
    return "PASS" if (shown <= goal if at_most else shown >= goal) else "FAIL"


def percentile(values: list[float], q: float) -> float:
    """Nearest rank: the sorted values' element at index round(q * (n - 1)), halves rounded up."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.floor(q * (len(ordered) - 1) + 0.5))]


# ---- parsing raw measurements ------------------------------------------------------------------


def testpmd_rx_mpps(log: str, ports: int, keep: int) -> float:
    """Aggregate Mpps a testpmd generator received: per port (0..PORTS-1), the mean of its last
    KEEP "Rx-pps:" samples (testpmd --stats-period), summed over the ports. A port without
    samples counts 0."""
    samples: dict[int, list[float]] = {}
    port = None
    for line in log.splitlines():
        m = re.search(r"NIC statistics for port (\d+)", line)
        if m:
            port = int(m.group(1))
            continue
        m = re.search(r"Rx-pps:\s+(\d+)", line)
        if m and port is not None:
            samples.setdefault(port, []).append(float(m.group(1)))
    total = 0.0
    for p in range(ports):
        last = samples.get(p, [])[-keep:] if keep > 0 else []
        if last:
            total += sum(last) / len(last)
    return total / 1e6


def testpmd_cycles(log: str) -> tuple[Optional[float], Optional[int]]:
    """(cycles per packet, TSC MHz) from testpmd --record-core-cycles' line at stop:
    "CPU cycles/packet=191.48 (busy cycles=... / total Rx=...) at 2690 MHz Clock"."""
    m = re.search(r"CPU cycles/packet=([0-9.]+).* at ([0-9]+) MHz Clock", log)
    if not m:
        return None, None
    return number(m.group(1)), int(m.group(2))


def ovs_cycles_per_packet(pmd_stats: str) -> Optional[float]:
    """Processing cycles / packets received of the PMD thread in `ovs-appctl
    dpif-netdev/pmd-stats-show` (the "pmd thread" block; the main thread's is ignored)."""
    in_pmd, packets, cycles = False, None, None
    for line in pmd_stats.splitlines():
        if line.startswith("pmd thread"):
            in_pmd = True
            continue
        if line and not line[0].isspace():
            in_pmd = False
        if not in_pmd:
            continue
        m = re.search(r"packets received:\s*(\d+)", line)
        if m:
            packets = int(m.group(1))
        m = re.search(r"processing cycles:\s*(\d+)", line)
        if m:
            cycles = int(m.group(1))
    if not packets or cycles is None:
        return None
    return cycles / packets


@dataclasses.dataclass
class WorkerDelta:
    cycles_per_packet: Optional[float]  # busy cycles per packet received
    busy_percent: Optional[float]  # busy share of the worker's cycles
    tx_full_percent: Optional[float]  # frames dropped on a full pod RX ring per frame to pods


def dataplane_stats_delta(before: dict, after: dict) -> WorkerDelta:
    """What ena-dpdk's first worker did between two `ena-dpdk-ctl -o json stats` snapshots."""

    def worker(s, key):
        return int((s.get("workers") or [{}])[0].get(key, 0))

    def ports(s, key):
        return sum(int(p.get("counters", {}).get(key, 0)) for p in s.get("ports", []))

    busy = worker(after, "busyCycles") - worker(before, "busyCycles")
    total = worker(after, "totalCycles") - worker(before, "totalCycles")
    rx = worker(after, "rxPackets") - worker(before, "rxPackets")
    full = ports(after, "dropTxFull") - ports(before, "dropTxFull")
    sent = ports(after, "txPackets") - ports(before, "txPackets")
    if rx <= 0 or total <= 0:
        return WorkerDelta(None, None, None)
    return WorkerDelta(busy / rx, busy / total * 100,
                       full / (sent + full) * 100 if sent + full > 0 else 0.0)


# ---- the dataplane benchmark -------------------------------------------------------------------

# Rows of the tables (measurement key prefix), in order, and their labels.
SWITCHES = {
    "ceiling": "flowgen: ceiling (testpmd mac, net_vhost)",
    "ovs": "flowgen: Open vSwitch DPDK, NORMAL",
    "l2": "flowgen: ena-dpdk l2 (flooding)",
    "ceilgen": "bench-gen: ceiling (testpmd mac, net_vhost)",
    "ovsgen": "bench-gen: Open vSwitch DPDK, NORMAL",
    "l2gen": "bench-gen: ena-dpdk l2 (learned unicast)",
    "vpc": "bench-gen: ena-dpdk vpc (pod to pod)",
}
# Columns: (ports, frame size).
COLUMNS = [(2, 64), (2, 1500), (8, 64), (32, 64)]
COLUMN_TITLES = ["2p 64B", "2p 1500B", "8p 64B", "32p 64B"]
# Issue 4's targets: (description, switch key, peer key, goal): switch / peer >= goal.
TARGETS = [
    ("64B: l2 / ceiling (flowgen)", "l2,2,64", "ceiling,2,64", 0.85),
    ("64B: l2 / ceiling (bench-gen)", "l2gen,2,64", "ceilgen,2,64", 0.85),
    ("64B: vpc / ceiling (bench-gen)", "vpc,2,64", "ceilgen,2,64", 0.85),
    ("64B: l2 / OVS-DPDK (flowgen)", "l2,2,64", "ovs,2,64", 3),
    ("64B: l2 / OVS-DPDK (bench-gen)", "l2gen,2,64", "ovsgen,2,64", 3),
    ("32 / 2 ports, l2 (flowgen)", "l2,32,64", "l2,2,64", 0.8),
    ("32 / 2 ports, l2 (bench-gen)", "l2gen,32,64", "l2gen,2,64", 0.8),
    ("32 / 2 ports, vpc (bench-gen)", "vpc,32,64", "vpc,2,64", 0.8),
]
# For reference (what any switch on vhost-user reaches): (description, key, peer, throughput?).
REFERENCES = [
    ("  ceiling / OVS-DPDK, throughput (flowgen)", "ceiling,2,64", "ovs,2,64", True),
    ("  ceiling / OVS-DPDK, capacity (flowgen)", "ceiling,2,64", "ovs,2,64", False),
    ("  ceiling / OVS-DPDK, capacity (bench-gen)", "ceilgen,2,64", "ovsgen,2,64", False),
    ("  ceiling 32 / 2 ports, throughput (flowgen)", "ceiling,32,64", "ceiling,2,64", True),
    ("  ceiling 32 / 2 ports, capacity (flowgen)", "ceiling,32,64", "ceiling,2,64", False),
    ("  ceiling 32 / 2 ports, throughput (bench-gen)", "ceilgen,32,64", "ceilgen,2,64", True),
    ("  ceiling 32 / 2 ports, capacity (bench-gen)", "ceilgen,32,64", "ceilgen,2,64", False),
]
MEMORY_GOAL_MIB = 256
MEMORY_PORTS = 64


def records(text: str) -> Iterator[tuple[int, str, str, list[str]]]:
    """(line number, line, record kind, its fields) of every record of a results file; blank
    lines and "#" comments are skipped."""
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if fields and not fields[0].startswith("#"):
            yield lineno, line, fields[0], fields[1:]


@dataclasses.dataclass
class Run:
    """One run of one measurement: "MPPS CYCLES-PER-PACKET [BUSY% TX-FULL%]" (None: not
    measured)."""
    mpps: Optional[float]
    cycles_per_packet: Optional[float]
    busy: Optional[float] = None
    tx_full: Optional[float] = None


@dataclasses.dataclass
class Best:
    """A measurement's best of N: the most Mpps (with the busy share and TX-full drops of that
    run) and, independently, the fewest cycles per packet."""
    mpps: Optional[float] = None
    cycles_per_packet: Optional[float] = None
    busy: Optional[float] = None
    tx_full: Optional[float] = None


def best_of(runs: Iterable[Run]) -> Best:
    """The best of RUNS. A run without a number does not count; on a tie the earlier run stays."""
    best = Best()
    for run in runs:
        if run.mpps is not None and (best.mpps is None or run.mpps > best.mpps):
            best.mpps, best.busy, best.tx_full = run.mpps, run.busy, run.tx_full
        if run.cycles_per_packet is not None and (
                best.cycles_per_packet is None or run.cycles_per_packet < best.cycles_per_packet):
            best.cycles_per_packet = run.cycles_per_packet
    return best


@dataclasses.dataclass
class Memory:
    mib: Optional[float]
    ports: int
    connected: int


@dataclasses.dataclass
class DataplaneResults:
    """The raw results file of dataplane_bench.sh: one line per record,
        run KEY MPPS CYCLES-PER-PACKET [BUSY% TX-FULL%]   (KEY: switch,ports,size; "-" unmeasured)
        tsc_mhz MHZ
        memory MIB PORTS CONNECTED
    """
    runs: dict[str, list[Run]] = dataclasses.field(default_factory=dict)
    tsc_mhz: Optional[float] = None
    memory: Optional[Memory] = None

    @classmethod
    def parse(cls, text: str) -> "DataplaneResults":
        results = cls()
        for lineno, line, kind, args in records(text):
            if kind == "run" and 1 <= len(args) <= 5:
                key = args[0]
                if not re.fullmatch(r"[a-z0-9]+,[0-9]+,[0-9]+", key):
                    raise ValueError(f"line {lineno}: bad measurement key {key!r}")
                values = [number(v) for v in args[1:]] + [None] * (5 - len(args))
                results.runs.setdefault(key, []).append(Run(*values))
            elif kind == "tsc_mhz" and len(args) <= 1:
                results.tsc_mhz = number(args[0]) if args else None
            elif kind == "memory" and len(args) == 3:
                results.memory = Memory(number(args[0]), int(number(args[1]) or 0),
                                        int(number(args[2]) or 0))
            else:
                raise ValueError(f"line {lineno}: not a result record: {line!r}")
        return results

    def best(self) -> dict[str, Best]:
        return {key: best_of(runs) for key, runs in self.runs.items()}


class DataplaneReport:
    """The tables and target checks of one dataplane benchmark."""

    def __init__(self, results: DataplaneResults):
        self.results = results
        self.best = results.best()

    def _get(self, key) -> Best:
        return self.best.get(key, Best())

    def mpps(self, key) -> Optional[float]:
        return self._get(key).mpps

    def cycles(self, key) -> Optional[float]:
        return self._get(key).cycles_per_packet

    def capacity(self, key) -> Optional[float]:
        """TSC MHz / cycles per packet: the Mpps the switch lcore sustains at that cost."""
        return ratio(self.results.tsc_mhz, self.cycles(key))

    def throughput_ratio(self, key, peer) -> Optional[float]:
        return ratio(self.mpps(key), self.mpps(peer))

    def capacity_ratio(self, key, peer) -> Optional[float]:
        """Capacity of KEY / capacity of PEER (= cycles per packet of PEER / of KEY)."""
        return ratio(self.cycles(peer), self.cycles(key))

    def memory_verdict(self) -> str:
        m = self.results.memory
        if m is None or m.mib is None:
            return "-"
        ok = m.mib <= MEMORY_GOAL_MIB and m.ports == MEMORY_PORTS and m.connected == MEMORY_PORTS
        return "PASS" if ok else "FAIL"

    def targets(self) -> list[tuple[str, str, Optional[float], float, str]]:
        """(table, description, measured ratio, goal, verdict) of every target: throughput, then
        capacity."""
        rows = []
        for table, measure in (("throughput", self.throughput_ratio),
                               ("capacity", self.capacity_ratio)):
            for description, key, peer, goal in TARGETS:
                measured = measure(key, peer)
                rows.append((table, description, measured, goal, verdict(measured, goal)))
        return rows

    def failed(self) -> list[str]:
        """The targets measured and missed."""
        missed = [f"{t}: {d}" for t, d, _, _, v in self.targets() if v == "FAIL"]
        if self.memory_verdict() == "FAIL":
            missed.append("hugepage memory")
        return missed

    # -- printing

    def _cell(self, what: str, key: str) -> str:
        b = self._get(key)
        if what == "mpps":
            return fmt(b.mpps)
        if what == "cycles":
            return fmt(b.cycles_per_packet)
        if what == "capacity":
            return fmt(self.capacity(key))
        busy = "-" if b.busy is None else round2(b.busy)
        full = "-" if b.tx_full is None else round2(b.tx_full)
        return f"{busy}/{full}"

    def _table(self, title: str, what: str, switches: Iterable[str]) -> list[str]:
        lines = ["", _row(title, *COLUMN_TITLES)]
        for s in switches:
            lines.append(_row(SWITCHES[s], *(self._cell(what, f"{s},{n},{size}")
                                             for n, size in COLUMNS)))
        return lines

    def lines(self) -> list[str]:
        tsc = self.results.tsc_mhz
        out = []
        out += self._table("aggregate Mpps (switch on one lcore)", "mpps", SWITCHES)
        out += self._table("switch lcore cycles per packet", "cycles", SWITCHES)
        out += self._table(f"capacity Mpps ({'?' if tsc is None else f'{tsc:g}'} MHz / cycles per packet)",
                           "capacity", SWITCHES)
        out += self._table("ena-dpdk worker: busy % / pod TX-full drop %", "busy",
                           ["l2", "l2gen", "vpc"])
        out += ["(a worker below 100 % busy waited for the generator; TX-full drops: the generator did not",
                " drain its RX rings in time)"]
        targets = self.targets()
        out += ["", _target_row("target (issue 4), throughput", "measured", "goal", "")]
        out += [_target_row(d, fmt(m, "n/a"), f">={g:g}", v)
                for t, d, m, g, v in targets if t == "throughput"]
        m = self.results.memory or Memory(None, 0, 0)
        out.append(_target_row(f"hugepage MiB, {m.ports} ports ({m.connected} connected)",
                               "-" if m.mib is None else f"{m.mib:g}", f"<={MEMORY_GOAL_MIB}",
                               self.memory_verdict()))
        out += ["", _target_row("the same targets, switch capacity", "measured", "goal", "")]
        out += [_target_row(d, fmt(m, "n/a"), f">={g:g}", v)
                for t, d, m, g, v in targets if t == "capacity"]
        out += ["", "for reference (what any switch on vhost-user can reach here):"]
        for description, key, peer, throughput in REFERENCES:
            value = self.throughput_ratio(key, peer) if throughput else self.capacity_ratio(key, peer)
            out.append(f"{description:<46} {fmt(value, 'n/a'):>8}")
        return out


def _row(*cells) -> str:
    return f"{cells[0]:<46} " + " ".join(f"{c:>8}" for c in cells[1:])


def _target_row(description, measured, goal, result) -> str:
    return f"{description:<46} {measured:>8} {goal:>8} {result:>6}"


# ---- the north-south benchmark -----------------------------------------------------------------


@dataclasses.dataclass
class GenResult:
    """ena-dpdk-bench-gen's summary line: rx_mpps (round trips back at the sending ports),
    reflected_mpps (frames the reflecting ports answered), round-trip latency percentiles in µs."""
    switched_mpps: Optional[float] = None  # frames the switch forwarded: rx + reflected
    rx_mpps: Optional[float] = None
    p50: Optional[float] = None
    p99: Optional[float] = None
    p999: Optional[float] = None
    samples: Optional[float] = None


def gen_result(log: str) -> GenResult:
    """The last "rx_mpps=... " line of the generator's output (key=value fields; "-" = none).
    Without reflecting ports (no reflected_mpps) the switch forwarded what came back."""
    fields: dict[str, str] = {}
    for line in log.splitlines():
        if line.startswith("rx_mpps="):
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
    if not fields:
        return GenResult()
    rx = number(fields.get("rx_mpps"))
    reflected = number(fields.get("reflected_mpps", "0"))
    switched = None if rx is None or reflected is None else rx + reflected
    return GenResult(switched, rx, number(fields.get("lat_p50_us")),
                     number(fields.get("lat_p99_us")), number(fields.get("lat_p999_us")),
                     number(fields.get("lat_samples")))


@dataclasses.dataclass
class NsRun:
    """One run of northsouth_bench.sh: "SWITCHED RX P50 P99 P999 SAMPLES CYCLES [BUSY%]" (None:
    not measured; BUSY%: ena-dpdk's worker)."""
    switched: Optional[float] = None
    rx: Optional[float] = None
    p50: Optional[float] = None
    p99: Optional[float] = None
    p999: Optional[float] = None
    samples: Optional[float] = None
    cycles: Optional[float] = None
    busy: Optional[float] = None


NS_KEY = re.compile(r"([a-z0-9-]+),(ns|pp),([0-9]+),([0-9]+),(max|10|80)")
NS_SWITCHES = {
    "ceiling": "ceiling (testpmd mac, net_vhost pairs)",
    "ceilb": "ceiling, burst 32/pods",
    "ovs": "Open vSwitch DPDK, OpenFlow rules",
    "enadpdk": "ena-dpdk vpc",
}
# Throughput columns: (path, pods, size) of the max runs.
# 31 pods: the generator's 32 ports (RTE_MAX_ETHPORTS) are the VPC's and 31 pods'; the ceiling
# (a pair of ports per pod) stops at 16.
NS_COLUMNS = [("ns", 1, 64), ("ns", 8, 64), ("ns", 16, 64), ("ns", 31, 64), ("ns", 1, 1500),
              ("pp", 1, 64)]
NS_COLUMN_TITLES = ["1p 64B", "8p 64B", "16p 64B", "31p 64B", "1p 1500B", "pod-pod"]
NS_LATENCY_SLACK_US = 5.0
# The switches every latency table shows, measured or not (the others: only their measured rows).
NS_LATENCY_SWITCHES = ("ceiling", "ovs", "enadpdk")


def ns_best(runs: Iterable[NsRun], load: str) -> NsRun:
    """The figures kept of RUNS (one per round). At max rate, the best: the most switched Mpps
    (with its round-trip rate) and, independently, the fewest cycles per packet; on a tie the
    earlier run stays. Under a set load, the typical round: the run with the median p99 (the
    lower middle one of an even count), all its figures. The best p99 of a few rounds would
    report the platform's quietest minute, not the switch."""
    runs = list(runs)
    if load != "max":
        measured = sorted((r for r in runs if r.p99 is not None), key=lambda r: r.p99)
        return dataclasses.replace(measured[(len(measured) - 1) // 2]) if measured else NsRun()
    best = NsRun()
    for run in runs:
        if run.switched is not None and (best.switched is None or run.switched > best.switched):
            best.switched, best.rx, best.busy = run.switched, run.rx, run.busy
        if run.cycles is not None and (best.cycles is None or run.cycles < best.cycles):
            best.cycles = run.cycles
    return best


def ns_paired(runs_a: list[NsRun], runs_b: list[NsRun], combine,
              field: str = "p99") -> Optional[float]:
    """The median over rounds of COMBINE(a.FIELD, b.FIELD) for the runs of A and B in the same
    round (the Kth run of each; rounds where either was not measured are left out). Runs of the
    same round are minutes apart at most, so the platform's drift between rounds cancels out."""
    pairs = [(getattr(a, field), getattr(b, field)) for a, b in zip(runs_a, runs_b)]
    values = [combine(x, y) for x, y in pairs if x is not None and y is not None and y > 0]
    return statistics.median(values) if values else None


NS_AGAIN = "again-"  # the key prefix of a switch's second latency run in a round


def ns_mean(first: NsRun, again: NsRun) -> NsRun:
    """One figure of a switch's two runs in a round: rates and percentiles the mean of both,
    samples their sum; a run without a p99 (failed) leaves the other alone."""
    if first.p99 is None or again.p99 is None:
        return dataclasses.replace(first if first.p99 is not None or again.p99 is None else again)

    def mean(x, y):
        return None if x is None or y is None else (x + y) / 2

    return NsRun(switched=mean(first.switched, again.switched), rx=mean(first.rx, again.rx),
                 p50=mean(first.p50, again.p50), p99=mean(first.p99, again.p99),
                 p999=mean(first.p999, again.p999),
                 samples=None if first.samples is None or again.samples is None
                 else first.samples + again.samples)


def ns_combine(runs: dict[str, list[NsRun]]) -> dict[str, list[NsRun]]:
    """RUNS with each switch's "again-" runs merged into its own, round by round (the Kth of
    each; ns_mean), and the "again-" keys dropped."""
    out = {}
    for key, first in runs.items():
        if key.startswith(NS_AGAIN):
            continue
        again = runs.get(NS_AGAIN + key, [])
        out[key] = [ns_mean(run, again[k]) if k < len(again) else run
                    for k, run in enumerate(first)]
    return out


def ns_gaps(runs: dict[str, list[NsRun]], path: str) -> list[float]:
    """|p99 of the second run - p99 of the first| of every switch and round at 10 % on PATH:
    how far two runs of one switch in one round land apart, the resolution of the latency
    targets on this machine."""
    gaps = []
    for key, again in runs.items():
        if key.startswith(NS_AGAIN) and key.endswith(f",{path},1,64,10"):
            first = runs.get(key[len(NS_AGAIN):], [])
            gaps += [abs(b.p99 - a.p99) for a, b in zip(first, again)
                     if a.p99 is not None and b.p99 is not None]
    return gaps


@dataclasses.dataclass
class NsResults:
    """The raw results file of northsouth_bench.sh, one record per line:
        run SWITCH,PATH,PODS,SIZE,LOAD SWITCHED RX P50 P99 P999 SAMPLES CYCLES [BUSY%]
        tsc_mhz MHZ
    (LOAD: max, 10 or 80; "-" = not measured; "#" starts a comment; SWITCH "again-X": X's
    second run in the round, which NsReport merges into X's)."""
    runs: dict[str, list[NsRun]] = dataclasses.field(default_factory=dict)
    tsc_mhz: Optional[float] = None

    @classmethod
    def parse(cls, text: str) -> "NsResults":
        results = cls()
        for lineno, line, kind, args in records(text):
            if kind == "run" and 1 <= len(args) <= 9:
                if not NS_KEY.fullmatch(args[0]):
                    raise ValueError(f"line {lineno}: bad measurement key {args[0]!r}")
                values = [number(v) for v in args[1:]] + [None] * (9 - len(args))
                results.runs.setdefault(args[0], []).append(NsRun(*values))
            elif kind == "tsc_mhz" and len(args) <= 1:
                results.tsc_mhz = number(args[0]) if args else None
            else:
                raise ValueError(f"line {lineno}: not a result record: {line!r}")
        return results


class NsReport:
    """The tables and target checks of one north-south benchmark."""

    def __init__(self, results: NsResults):
        self.results = results
        self.runs = ns_combine(results.runs)
        self.best = {key: ns_best(runs, key.rsplit(",", 1)[1]) for key, runs in self.runs.items()}

    def get(self, switch: str, path: str, pods: int, size: int, load: str) -> NsRun:
        return self.best.get(f"{switch},{path},{pods},{size},{load}", NsRun())

    def switches(self) -> list[str]:
        """The switches measured: the three of NS_SWITCHES, then the drain variants by interval."""
        seen = {key.split(",", 1)[0] for key in self.best}  # "again-" runs merged
        variants = sorted((s for s in seen if s not in NS_SWITCHES),
                          key=lambda s: (int(s.rsplit("-d", 1)[1]) if re.fullmatch(
                              r"enadpdk-d[0-9]+", s) else 1 << 30, s))
        return [s for s in NS_SWITCHES if s in seen] + variants

    @staticmethod
    def label(switch: str) -> str:
        m = re.fullmatch(r"enadpdk-d([0-9]+)", switch)
        if m:
            return f"ena-dpdk vpc, TX drain {m.group(1)} us"
        return NS_SWITCHES.get(switch, switch)

    def capacity(self, run: NsRun) -> Optional[float]:
        return ratio(self.results.tsc_mhz, run.cycles)

    def targets(self) -> list[tuple[str, Optional[float], str, str]]:
        """(description, measured, goal as printed, verdict) of issue 19's targets."""
        rows = []
        for pods in (1, 8, 16):
            ena, ceil = (self.get(s, "ns", pods, 64, "max") for s in ("enadpdk", "ceiling"))
            for what, measured in (("throughput", ratio(ena.switched, ceil.switched)),
                                   ("capacity", ratio(ceil.cycles, ena.cycles))):
                rows.append((f"{pods}p 64B: ena-dpdk / ceiling, {what}", measured, ">=0.9",
                             verdict(measured, 0.9)))
        for pods in (1, 8):
            ena, ovs = (self.get(s, "ns", pods, 64, "max") for s in ("enadpdk", "ovs"))
            for what, measured in (("throughput", ratio(ena.switched, ovs.switched)),
                                   ("capacity", ratio(ovs.cycles, ena.cycles))):
                rows.append((f"{pods}p 64B: ena-dpdk / OVS, {what}", measured, ">=1.5",
                             verdict(measured, 1.5)))
        # Latency: the same-round difference or ratio, median over the rounds.
        def runs(switch, path, load):
            return self.runs.get(f"{switch},{path},1,64,{load}", [])

        def minus(a, b):
            return a - b

        def over(a, b):
            return a / b

        for path, name in (("ns", "VPC-pod"), ("pp", "pod-pod")):
            ena, ceil, ovs = (runs(s, path, "10") for s in ("enadpdk", "ceiling", "ovs"))
            slack = ns_paired(ena, ceil, minus)
            rows.append((f"{name} p99 @10%: ena-dpdk - ceiling (us)", slack,
                         f"<={NS_LATENCY_SLACK_US:g}",
                         verdict(slack, NS_LATENCY_SLACK_US, at_most=True)))
            measured = ns_paired(ena, ovs, over)
            rows.append((f"{name} p99 @10%: ena-dpdk / OVS", measured, "<=1",
                         verdict(measured, 1.0, at_most=True)))
            measured = ns_paired(runs("enadpdk", path, "80"), runs("ovs", path, "80"), over)
            rows.append((f"{name} p99 @80%: ena-dpdk / OVS", measured, "<=1",
                         verdict(measured, 1.0, at_most=True)))
        return rows

    def failed(self) -> list[str]:
        return [d for d, _, _, v in self.targets() if v == "FAIL"]

    def _measured_at_max(self, switch: str) -> bool:
        return any(key.startswith(f"{switch},") and key.endswith(",max") for key in self.best)

    def _max_table(self, title: str, cell) -> list[str]:
        lines = ["", _row(title, *NS_COLUMN_TITLES)]
        for s in filter(self._measured_at_max, self.switches()):
            lines.append(_row(self.label(s), *(cell(self.get(s, path, pods, size, "max"))
                                               for path, pods, size in NS_COLUMNS)))
        return lines

    def lines(self) -> list[str]:
        tsc = self.results.tsc_mhz
        out = self._max_table("switched Mpps (both directions)", lambda r: fmt(r.switched))
        out += self._max_table("switch lcore cycles per packet", lambda r: fmt(r.cycles))
        out += self._max_table(
            f"capacity Mpps ({'?' if tsc is None else f'{tsc:g}'} MHz / cycles per packet)",
            lambda r: fmt(self.capacity(r)))
        out += ["", _row("ena-dpdk worker busy %", *NS_COLUMN_TITLES)]
        for s in filter(self._measured_at_max, self.switches()):
            if s.startswith("enadpdk"):
                out.append(_row(self.label(s), *(fmt(self.get(s, p, n, z, "max").busy)
                                                 for p, n, z in NS_COLUMNS)))
        out += ["(below 100 %: the switch waited for the generator, so its cycles per packet include",
                " polling empty rings)"]
        for path, name in (("ns", "VPC <-> 1 pod"), ("pp", "pod <-> pod")):
            out += ["", _row(f"round trip us, {name}, 64B", "load", "Mpps", "p50", "p99", "p99.9",
                             "samples")]
            for s in self.switches():
                for load in ("10", "80"):
                    r = self.get(s, path, 1, 64, load)
                    if r == NsRun() and s not in NS_LATENCY_SWITCHES:
                        continue
                    samples = "-" if r.samples is None else f"{r.samples:.0f}"
                    out.append(_row(self.label(s), f"{load}%", fmt(r.rx), fmt(r.p50), fmt(r.p99),
                                    fmt(r.p999), samples))
        out += ["(load: % of the slowest switch's max round-trip rate in the same round, the same",
                " offered rate for every switch; Mpps: round trips per second achieved; of several",
                " rounds, the one with the median p99)"]
        out += ["", _target_row("target (issue 19)", "measured", "goal", "")]
        if max((len(r) for r in self.results.runs.values()), default=0) > 1:
            out += ["(max rate: the best round; latency: median over rounds of the same-round"
                    " difference or ratio)"]
        if any(key.startswith(NS_AGAIN) for key in self.results.runs):
            out += ["(at 10 %: each switch's figures in a round are the mean of its two runs, in"
                    " mirrored order)"]
        out += [_target_row(d, fmt(m, "n/a"), g, v) for d, m, g, v in self.targets()]
        out += ["", "for reference (what any switch on vhost-user can reach here):"]
        out += [f"{d:<46} {fmt(m, 'n/a'):>8}" for d, m in self.references()]
        out += ["(same-round capacity: the peer's cycles per packet / ena-dpdk's in the same round,",
                " median over rounds; a fast minute for one switch moves it less than the best round)",
                "(p99 gap: |second run - first run| in us of one switch in one round, over the",
                " switches and rounds: the resolution of the latency targets on this machine)"]
        return out

    def references(self) -> list[tuple[str, Optional[float]]]:
        """The bounds of the targets, measured in the same run: the ceiling against OVS (no
        switch on vhost-user beats the ceiling), and many pods against one, ceiling and
        ena-dpdk alike."""
        rows = []
        for pods in (1, 8):
            ceil, ovs = (self.get(s, "ns", pods, 64, "max") for s in ("ceiling", "ovs"))
            rows.append((f"  {pods}p: ceiling / OVS, throughput", ratio(ceil.switched, ovs.switched)))
            rows.append((f"  {pods}p: ceiling / OVS, capacity", ratio(ovs.cycles, ceil.cycles)))
        for pods in (8, 16):
            ena, ceilb = (self.get(s, "ns", pods, 64, "max") for s in ("enadpdk", "ceilb"))
            rows.append((f"  {pods}p: ena-dpdk / ceiling --burst {32 // pods}, capacity",
                         ratio(ceilb.cycles, ena.cycles)))
        for switch in ("ceiling", "enadpdk"):
            one, many = (self.get(switch, "ns", pods, 64, "max") for pods in (1, 16))
            rows.append((f"  16p / 1p: {self.label(switch).split(' (')[0]}, capacity",
                         ratio(one.cycles, many.cycles)))
        ena31, ena1 = (self.get("enadpdk", "ns", pods, 64, "max") for pods in (31, 1))
        rows.append(("  31p / 1p: ena-dpdk vpc, capacity", ratio(ena1.cycles, ena31.cycles)))
        # The max-rate targets take each switch's best round, which can be a fast minute of the
        # platform for one switch only; the same-round ratio, median over rounds, cannot.
        for pods, peer in ((1, "ceiling"), (8, "ceiling"), (1, "ovs"), (8, "ovs")):
            ena, other = (self.runs.get(f"{s},ns,{pods},64,max", []) for s in ("enadpdk", peer))
            rows.append((f"  {pods}p: ena-dpdk / {'OVS' if peer == 'ovs' else peer}, "
                         "same-round capacity", ns_paired(other, ena, ratio, "cycles")))
        # The resolution of the latency targets: each switch against itself in the same round.
        for path, name in (("ns", "VPC-pod"), ("pp", "pod-pod")):
            gaps = ns_gaps(self.results.runs, path)
            rows.append((f"  {name} @10%: same switch, median p99 gap",
                         statistics.median(gaps) if gaps else None))
            rows.append((f"  {name} @10%: same switch, largest p99 gap", max(gaps, default=None)))
        return rows

# ---- latency benchmarks ------------------------------------------------------------------------


def read_numbers(path: str) -> list[float]:
    with open(path) as f:
        return [float(x) for x in f.read().split()]


def cni_report(ena_us: list[float], ref_us: list[float], rss_lines: Iterable[str],
               cycles: int) -> list[str]:
    """cni_bench.sh's summary: median and p99 of both plugins' ADD+DEL cycles (microseconds),
    their ratio (target: ena-dpdk <= 1.0 x the reference), and ena-dpdk-cni's peak RSS per
    command from GNU time's "<command> <max RSS KiB>" lines (target <= 16 MiB)."""
    if not ena_us or not ref_us:
        raise ValueError("no cycles measured")
    rss: dict[str, int] = {}
    for line in rss_lines:
        if line.strip():
            command, kib = line.split()
            rss[command] = max(rss.get(command, 0), int(kib))
    out = [f"ADD+DEL cycle through libcni, {cycles} cycles each (ms):",
           f"  {'':24} {'median':>8} {'p99':>8}"]
    for name, values in (("ena-dpdk-cni + ipam", ena_us), ("bridge + host-local", ref_us)):
        out.append(f"  {name:24} {statistics.median(values) / 1000:8.2f} "
                   f"{percentile(values, 0.99) / 1000:8.2f}")
    median_ratio = ratio(statistics.median(ena_us), statistics.median(ref_us))
    p99_ratio = ratio(percentile(ena_us, 0.99), percentile(ref_us, 0.99))
    out.append(f"  ratio ena-dpdk / reference: median {fmt(median_ratio, 'n/a')}, p99 "
               f"{fmt(p99_ratio, 'n/a')} (target <= 1.0: {verdict(median_ratio, 1.0, at_most=True)})")
    if rss:
        ok = max(rss.values()) <= 16 * 1024
        out.append("peak RSS of ena-dpdk-cni: "
                   + ", ".join(f"{c} {k / 1024:.1f} MiB" for c, k in sorted(rss.items()))
                   + f" (target <= 16 MiB: {'PASS' if ok else 'FAIL'})")
    else:
        out.append("peak RSS of ena-dpdk-cni: not measured (target <= 16 MiB: -)")
    return out


def latency_report(name: str, times_us: list[float], target_ms: float) -> tuple[list[str], bool]:
    """nodeprep_bench.sh's table: min, median, p99, max in ms of TIMES_US, and whether the
    median meets TARGET_MS."""
    if not times_us:
        raise ValueError("no runs")
    ms = [t / 1000 for t in times_us]
    median = percentile(ms, 0.5)
    out = [f"{'benchmark':<40} {'min ms':>8} {'median':>8} {'p99':>8} {'max':>8} {'runs':>6}",
           f"{name:<40} {min(ms):8.2f} {median:8.2f} {percentile(ms, 0.99):8.2f} "
           f"{max(ms):8.2f} {len(ms):6d}"]
    ok = median <= target_ms
    out.append(f"target: median <= {target_ms:g} ms: {'PASS' if ok else 'FAIL'}")
    return out, ok


# ---- command line ------------------------------------------------------------------------------


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="benchlib.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("testpmd-rx-mpps", help="aggregate Mpps a testpmd generator received")
    p.add_argument("log")
    p.add_argument("ports", type=int)
    p.add_argument("keep", type=int, help="mean of each port's last KEEP samples")
    p = sub.add_parser("testpmd-cycles", help='"CYCLES-PER-PACKET TSC-MHZ" ("- -": none)')
    p.add_argument("log")
    sub.add_parser("ovs-cycles", help="PMD cycles per packet from pmd-stats-show on stdin")
    p = sub.add_parser("dataplane-stats",
                       help='"CYCLES-PER-PACKET BUSY%% TX-FULL%%" between two ctl stats snapshots')
    p.add_argument("before")
    p.add_argument("after")
    p = sub.add_parser("dataplane-report", help="dataplane_bench.sh's tables from its results file")
    p.add_argument("results")
    p = sub.add_parser("gen-result", help='"SWITCHED RX P50 P99 P999 SAMPLES" of a bench-gen log')
    p.add_argument("log")
    p = sub.add_parser("northsouth-report", help="northsouth_bench.sh's tables from its results file")
    p.add_argument("results")
    p = sub.add_parser("cni-report", help="cni_bench.sh's summary")
    p.add_argument("ena_us")
    p.add_argument("ref_us")
    p.add_argument("rss")
    p.add_argument("cycles", type=int)
    p = sub.add_parser("latency-report", help="min/median/p99/max of microsecond times; exit 1 "
                       "when the median misses the target")
    p.add_argument("--name", required=True)
    p.add_argument("--target-ms", type=float, required=True)
    p.add_argument("times_us")
    args = parser.parse_args(argv)

    if args.command == "testpmd-rx-mpps":
        with open(args.log, errors="replace") as f:
            print(f"{testpmd_rx_mpps(f.read(), args.ports, args.keep):.2f}")
    elif args.command == "testpmd-cycles":
        with open(args.log, errors="replace") as f:
            cycles, mhz = testpmd_cycles(f.read())
        print(f"{'-' if cycles is None else f'{cycles:g}'} {'-' if mhz is None else mhz}")
    elif args.command == "ovs-cycles":
        print(fmt(ovs_cycles_per_packet(sys.stdin.read())))
    elif args.command == "dataplane-stats":
        snapshots = []
        for path in (args.before, args.after):
            with open(path) as f:
                snapshots.append(json.load(f))
        d = dataplane_stats_delta(*snapshots)
        print(" ".join("-" if v is None else round2(v)
                       for v in (d.cycles_per_packet, d.busy_percent, d.tx_full_percent)))
    elif args.command == "dataplane-report":
        with open(args.results) as f:
            print("\n".join(DataplaneReport(DataplaneResults.parse(f.read())).lines()))
    elif args.command == "gen-result":
        with open(args.log, errors="replace") as f:
            r = gen_result(f.read())
        print(" ".join("-" if v is None else round2(v)
                       for v in (r.switched_mpps, r.rx_mpps, r.p50, r.p99, r.p999, r.samples)))
    elif args.command == "northsouth-report":
        with open(args.results) as f:
            print("\n".join(NsReport(NsResults.parse(f.read())).lines()))
    elif args.command == "cni-report":
        with open(args.rss) as f:
            rss = f.readlines()
        print("\n".join(cni_report(read_numbers(args.ena_us), read_numbers(args.ref_us), rss,
                                   args.cycles)))
    elif args.command == "latency-report":
        lines, ok = latency_report(args.name, read_numbers(args.times_us), args.target_ms)
        print("\n".join(lines))
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
