"""Splits a `perf report --no-children --sort dso,sym --stdio` profile of the dataplane's worker
thread into rte_vhost's work and the switch's own, for tests/bench/cycle_split.sh (issue 19).

Why a classifier with rules and tests: the split is the figure the issue's target is judged by
(the switch's own work <= 10 % of the cycles per packet), and the rules for the samples that are
not plainly one or the other (mempool code, TLS lookups) must be stated and stay put.

Rules, by shared object (DSO) and symbol:
- rte_vhost: librte_vhost* and librte_net_vhost* (the uplink's PMD here; it stands in for the
  ENA PMD): descriptor rings, the copies, and the mbuf allocation that rte_vhost_dequeue_burst
  does inline (mempool cache code is inlined into its caller's DSO). librte_mempool_ring*'s
  dequeue functions (common_ring_*_dequeue...) refill that cache: the worker allocates nowhere
  else (a flooded frame takes references, replies are rewritten in place), so they count here.
- switch: the dataplane binary (decision, lookups, batching, counters), librte_mbuf*
  (rte_pktmbuf_free_bulk, which only the switch calls: net_vhost frees inline), and the other
  librte_mempool* code (cache flushes to the ring when the switch frees).
- ambiguous: librte_mempool* samples without a symbol (no name, no way to tell a get from a
  put); printed separately, never folded into either side.
- other: the rest (kernel, libc, EAL, and ld.so's __tls_get_addr: rte_lcore_id() in a shared
  library, for its mempool cache). A dwarf call graph (perf record --call-graph dwarf) showed
  every __tls_get_addr sample under librte_net_vhost's transmit (its per-frame frees) once the
  switch stopped calling rte_pktmbuf_free_bulk; before, part of it was the switch's, so "other"
  understates the switch's share of that older build by up to ~0.2 %.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import statistics
import sys
from typing import Iterable, Optional

CLASSES = ("rte_vhost", "switch", "ambiguous", "other")
DATAPLANE_BINARY = "ena-dpdk-dataplane"
# A profiled run counts as the switch at full load when its worker was at least this busy. Below
# it the generator set the rate: the worker's idle passes (every queue polled empty, in the
# worker's loop and in rte_vhost's empty dequeues) are in the samples, and they overstate the
# switch's share (a run at 62 % busy gave 10.8 % where runs at 96 % gave 8.1 %).
FULL_LOAD_BUSY = 95.0

# "    15.43%  librte_vhost.so.23.0      [.] 0x000000000007ef15"
_LINE = re.compile(r"^\s*(\d+(?:\.\d+)?)%\s+(\S+)\s+\[(.)\]\s+(.*?)\s*$")


@dataclasses.dataclass(frozen=True)
class Sample:
    """One row of the report: its share of the samples (percent), DSO and symbol."""
    percent: float
    dso: str
    symbol: str


def parse_report(text: str) -> list[Sample]:
    """The rows of a `--sort dso,sym --stdio` report (comments and blank lines skipped)."""
    rows = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = _LINE.match(line)
        if m:
            rows.append(Sample(float(m.group(1)), m.group(2), m.group(4)))
    return rows


def _unnamed(symbol: str) -> bool:
    return re.fullmatch(r"0x[0-9a-f]+", symbol) is not None


def classify(dso: str, symbol: str) -> str:
    """The class (one of CLASSES) of a sample in `dso` at `symbol`; the module docstring says why."""
    if dso.startswith(("librte_vhost", "librte_net_vhost")):
        return "rte_vhost"
    if dso == DATAPLANE_BINARY or dso.startswith("librte_mbuf"):
        return "switch"
    if dso.startswith("librte_mempool"):
        if _unnamed(symbol):
            return "ambiguous"
        return "rte_vhost" if "dequeue" in symbol else "switch"
    return "other"


@dataclasses.dataclass
class Split:
    """Shares (percent of all samples) per class, and the switch's own rows, largest first."""
    shares: dict[str, float]
    switch_rows: list[Sample]


def split(samples: Iterable[Sample]) -> Split:
    """Sums the samples per class; shares are renormalised to the rows given (perf's percents
    of a complete report already add up to 100)."""
    rows = list(samples)
    total = sum(s.percent for s in rows)
    shares = {c: 0.0 for c in CLASSES}
    for s in rows:
        shares[classify(s.dso, s.symbol)] += s.percent
    if total > 0:
        shares = {c: v * 100 / total for c, v in shares.items()}
    mine = [s for s in rows if classify(s.dso, s.symbol) == "switch"]
    mine.sort(key=lambda s: -s.percent)
    return Split(shares, mine)


@dataclasses.dataclass
class Traffic:
    """What the dataplane's counters did between two `ena-dpdk-ctl -o json stats` snapshots."""
    uplink_rx: int  # frames from the VPC
    pods_rx: int  # frames from the pods
    drops: dict[str, int]  # drop counter name (dropSpoofed, ...) -> frames, summed over ports


def _counters(snapshot: dict) -> list[dict]:
    pods = [p.get("counters", {}) for p in snapshot.get("ports", [])]
    uplinks = [(n.get("uplink") or {}).get("counters", {}) for n in snapshot.get("networks", [])]
    return pods + uplinks


def traffic(before: dict, after: dict) -> Traffic:
    """Deltas of the counters that show the closed loop running both ways."""

    def uplink_rx(s: dict) -> int:
        return sum(int((n.get("uplink") or {}).get("counters", {}).get("rxPackets", 0))
                   for n in s.get("networks", []))

    def pods_rx(s: dict) -> int:
        return sum(int(p.get("counters", {}).get("rxPackets", 0)) for p in s.get("ports", []))

    def drops(s: dict) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in _counters(s):
            for k, v in c.items():
                if k.startswith("drop"):
                    out[k] = out.get(k, 0) + int(v)
        return out

    d0, d1 = drops(before), drops(after)
    return Traffic(uplink_rx(after) - uplink_rx(before), pods_rx(after) - pods_rx(before),
                   {k: d1[k] - d0.get(k, 0) for k in sorted(d1)})


def traffic_problem(t: Traffic) -> Optional[str]:
    """Why the measured loop does not count (no traffic one way, or drops above 1 % of the
    frames), or None when it does."""
    if t.uplink_rx <= 0 or t.pods_rx <= 0:
        return f"traffic did not flow both ways (from the VPC {t.uplink_rx}, from pods {t.pods_rx})"
    dropped = sum(t.drops.values())
    if dropped * 100 > t.uplink_rx + t.pods_rx:
        return f"drops dominate: {dropped} of {t.uplink_rx + t.pods_rx} frames ({t.drops})"
    return None


def report_lines(s: Split, cycles_per_packet: Optional[float], busy: Optional[float],
                 t: Optional[Traffic], top: int = 10,
                 full_load: float = FULL_LOAD_BUSY) -> list[str]:
    """The table cycle_split.sh prints; a run below `full_load` % busy says it is not at full
    load (summarize leaves it out of the median while there are runs that are)."""
    lines = []
    if t is not None:
        dropped = ", ".join(f"{k} {v}" for k, v in t.drops.items() if v) or "none"
        lines.append(f"frames: from the VPC {t.uplink_rx}, from pods {t.pods_rx}; drops: {dropped}")
    cpp = "-" if cycles_per_packet is None else f"{cycles_per_packet:.1f}"
    busy_text = "-" if busy is None else f"{busy:.1f} %"
    lines.append(f"switch lcore: {cpp} busy cycles per packet received, busy {busy_text}")
    if busy is not None and busy < full_load:
        lines.append(f"generator-bound: busy below {full_load:g} %, so the samples include idle "
                     "polls and overstate the switch's own share")
    lines.append("| class | share of samples | cycles per packet |")
    lines.append("|---|---|---|")
    for c in CLASSES:
        if c == "ambiguous" and s.shares[c] == 0:
            continue
        per_packet = "-" if cycles_per_packet is None else f"{cycles_per_packet * s.shares[c] / 100:.1f}"
        lines.append(f"| {c} | {s.shares[c]:.1f} % | {per_packet} |")
    lines.append(f"switch's own top symbols (of {s.shares['switch']:.1f} %):")
    for r in s.switch_rows[:top]:
        lines.append(f"  {r.percent:5.2f} %  {r.dso}  {r.symbol}")
    return lines


_SPLIT_TITLE = re.compile(r"^cycle split of the ena-dpdk worker: (.*?), (\d+) pod\(s\)")
_SPLIT_ROW = re.compile(r"^\| (rte_vhost|switch) \| (\d+(?:\.\d+)?) % \| (\S+) \|$")
_SPLIT_BUSY = re.compile(r"^switch lcore: .*, busy (\d+(?:\.\d+)?) %$")


def summarize(text: str, full_load: float = FULL_LOAD_BUSY) -> list[str]:
    """The median over the profiled runs in TEXT (report_lines outputs, each after a title line
    "cycle split of the ena-dpdk worker: WHAT, N pod(s) ..."), per pod count: the switch's share,
    its cycles per packet and rte_vhost's. The share moves with rte_vhost's speed from run to
    run on a shared virtual machine; the median of interleaved runs is the figure to judge.
    Runs below `full_load` % busy (or of unknown busy) count only when no run of that pod count
    is at full load; the table says which it took."""
    runs: dict[int, list[dict]] = {}
    current: Optional[dict] = None
    for line in text.splitlines():
        m = _SPLIT_TITLE.match(line)
        if m:
            current = {}
            runs.setdefault(int(m.group(2)), []).append(current)
            continue
        if current is None:
            continue
        m = _SPLIT_ROW.match(line)
        if m:
            current[m.group(1)] = (float(m.group(2)), _optional_float(m.group(3)))
        m = _SPLIT_BUSY.match(line)
        if m:
            current["busy"] = float(m.group(1))
    if not runs:
        return []

    def median(values: list[float]) -> str:
        return f"{statistics.median(values):.1f}" if values else "-"

    lines = ["median of the profiled runs",
             "| pods | runs | switch's share (min to max) | switch cycles per packet | "
             "rte_vhost cycles per packet | worker busy |",
             "|---|---|---|---|---|---|"]
    for pods in sorted(runs):
        done = [r for r in runs[pods] if "switch" in r]
        full = [r for r in done if r.get("busy", 0.0) >= full_load]
        if full:
            taken = full
            count = (f"{len(full)}" if len(full) == len(done) else
                     f"{len(full)} at full load (of {len(done)})")
        else:
            taken = done
            count = f"{len(done)}, none at full load (≥ {full_load:g} % busy)"
        shares = [r["switch"][0] for r in taken]
        spread = f"{min(shares):.1f} to {max(shares):.1f}" if shares else "-"
        own = [r["switch"][1] for r in taken if r["switch"][1] is not None]
        vhost = [r["rte_vhost"][1] for r in taken if r.get("rte_vhost", (0, None))[1] is not None]
        busy = [r["busy"] for r in taken if "busy" in r]
        busy_text = f"{min(busy):.1f} to {max(busy):.1f} %" if busy else "-"
        lines.append(f"| {pods} | {count} | {median(shares)} % ({spread}) | {median(own)} | "
                     f"{median(vhost)} | {busy_text} |")
    return lines


def _optional_float(text: str) -> Optional[float]:
    try:
        return float(text)
    except ValueError:
        return None


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", nargs="?",
                        help="perf report --no-children --sort dso,sym --stdio output")
    parser.add_argument("--summarize", metavar="SPLITS",
                        help="instead: the medians of the splits this script printed (a file of "
                        "them, each after its 'cycle split of the ena-dpdk worker' title)")
    parser.add_argument("--cycles-per-packet", type=_optional_float, default=None,
                        help="busy cycles per packet (benchlib.py dataplane-stats); '-' = unknown")
    parser.add_argument("--busy", type=_optional_float, default=None, help="busy percent")
    parser.add_argument("--stats", nargs=2, metavar=("BEFORE", "AFTER"),
                        help="ctl -o json stats snapshots around the profile")
    parser.add_argument("--top", type=int, default=10, help="switch symbols to list")
    parser.add_argument("--full-load", type=float, default=FULL_LOAD_BUSY, metavar="PERCENT",
                        help="busy percent from which a run is at full load (default "
                        f"{FULL_LOAD_BUSY:g})")
    args = parser.parse_args(argv)
    if args.summarize:
        with open(args.summarize, errors="replace") as f:
            lines = summarize(f.read(), args.full_load)
        if not lines:
            print(f"FATAL: no cycle splits in {args.summarize}", file=sys.stderr)
            return 1
        print("\n".join(lines))
        return 0
    if not args.report:
        parser.error("a perf report (or --summarize SPLITS) is required")
    with open(args.report, errors="replace") as f:
        samples = parse_report(f.read())
    if not samples:
        print(f"FATAL: no samples in {args.report}", file=sys.stderr)
        return 1
    t = None
    if args.stats:
        snapshots = []
        for path in args.stats:
            with open(path) as f:
                snapshots.append(json.load(f))
        t = traffic(*snapshots)
    print("\n".join(report_lines(split(samples), args.cycles_per_packet, args.busy, t, args.top,
                                  args.full_load)))
    problem = traffic_problem(t) if t is not None else None
    if problem:
        print(f"FATAL: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
