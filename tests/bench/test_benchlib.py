"""Unit tests of tests/bench/benchlib.py: the benchmarks' parsing, best-of-N selection, ratios
against the peers and the target checks."""

import json
import pathlib
import re
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import benchlib  # noqa: E402
from benchlib import Best, DataplaneReport, DataplaneResults, Run  # noqa: E402


# ---- values


@pytest.mark.parametrize("text,value", [
    ("13.43", 13.43), ("0", 0.0), ("200", 200.0), (" 7.5\n", 7.5),
    ("-", None), ("n/a", None), ("", None), (None, None), ("-1", None), ("1e3", None),
    ("FATAL", None), ("1.", None)])
def test_number_accepts_only_plain_non_negative_decimals(text, value):
    assert benchlib.number(text) == value


def test_ratio_needs_both_values_and_a_positive_denominator():
    assert benchlib.ratio(13.09, 13.43) == pytest.approx(0.9747, abs=1e-4)
    assert benchlib.ratio(0.0, 5.0) == 0.0
    assert benchlib.ratio(5.0, 0.0) is None  # a zero rate: no ratio, not a division error
    assert benchlib.ratio(None, 5.0) is None  # missing switch
    assert benchlib.ratio(5.0, None) is None  # missing peer


def test_verdict_compares_the_printed_value():
    assert benchlib.verdict(0.97, 0.85) == "PASS"
    assert benchlib.verdict(0.85, 0.85) == "PASS"  # a tie meets the goal
    assert benchlib.verdict(0.8499, 0.85) == "PASS"  # printed 0.85
    assert benchlib.verdict(0.8449, 0.85) == "FAIL"  # printed 0.84
    assert benchlib.verdict(2.63, 3) == "FAIL"
    assert benchlib.verdict(0.0, 0.8) == "FAIL"
    assert benchlib.verdict(None, 0.85) == "-"  # not measured: neither pass nor fail
    assert benchlib.verdict(1.0, 1.0, at_most=True) == "PASS"
    assert benchlib.verdict(1.01, 1.0, at_most=True) == "FAIL"


def test_round2_is_half_up_without_trailing_zeros():
    assert benchlib.round2(98.456) == "98.46"
    assert benchlib.round2(98.5) == "98.5"
    assert benchlib.round2(0.005) == "0.01"
    assert benchlib.round2(0.0) == "0"
    assert benchlib.round2(207.0) == "207"


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))  # 1..100
    assert benchlib.percentile(values, 0.5) == 51  # index round(49.5) = 50
    assert benchlib.percentile(values, 0.99) == 99  # index round(98.01) = 98
    assert benchlib.percentile(values, 1.0) == 100
    assert benchlib.percentile([3, 1, 2], 0.5) == 2  # unsorted input
    assert benchlib.percentile([7], 0.99) == 7
    with pytest.raises(ValueError):
        benchlib.percentile([], 0.5)


# ---- parsing raw measurements

TESTPMD_LOG = """
  ######################## NIC statistics for port 0  ########################
  RX-packets: 100        RX-missed: 0          RX-bytes:  6400
  Rx-pps:      1000000          Rx-bps:    512000000
  ######################## NIC statistics for port 1  ########################
  Rx-pps:      3000000          Rx-bps:    512000000
  ######################## NIC statistics for port 0  ########################
  Rx-pps:      2000000          Rx-bps:    512000000
  ######################## NIC statistics for port 1  ########################
  Rx-pps:      5000000          Rx-bps:    512000000
  ######################## NIC statistics for port 0  ########################
  Rx-pps:      4000000          Rx-bps:    512000000
"""


def test_testpmd_rx_mpps_averages_each_ports_last_samples_and_sums():
    # port 0: last 2 of (1, 2, 4) = 3; port 1: last 2 of (3, 5) = 4
    assert benchlib.testpmd_rx_mpps(TESTPMD_LOG, 2, 2) == pytest.approx(7.0)
    # keep more than there are: all of them (port 0: 7/3, port 1: 4)
    assert benchlib.testpmd_rx_mpps(TESTPMD_LOG, 2, 10) == pytest.approx(7 / 3 + 4)
    # only the ports asked for; a port without samples counts 0
    assert benchlib.testpmd_rx_mpps(TESTPMD_LOG, 1, 1) == pytest.approx(4.0)
    assert benchlib.testpmd_rx_mpps(TESTPMD_LOG, 3, 1) == pytest.approx(9.0)
    assert benchlib.testpmd_rx_mpps(TESTPMD_LOG, 2, 0) == 0.0
    assert benchlib.testpmd_rx_mpps("testpmd: no port\n", 2, 8) == 0.0


def test_testpmd_cycles():
    log = ("Telling cores to stop...\n  CPU cycles/packet=191.48 (busy cycles=1914800 / "
           "total RX packets=10000) at 2690 MHz Clock\n")
    assert benchlib.testpmd_cycles(log) == (191.48, 2690)
    assert benchlib.testpmd_cycles("no cycles recorded\n") == (None, None)


OVS_PMD_STATS = """pmd thread numa_id 0 core_id 1:
  packets received: 1000
  packet recirculations: 0
  avg. datapath passes per packet: 1.00
  idle cycles: 99999 (30.00%)
  processing cycles: 531000 (70.00%)
main thread:
  packets received: 5
  processing cycles: 999999999 (100.00%)
"""


def test_ovs_cycles_per_packet_reads_the_pmd_thread_only():
    assert benchlib.ovs_cycles_per_packet(OVS_PMD_STATS) == pytest.approx(531.0)
    idle = OVS_PMD_STATS.replace("packets received: 1000", "packets received: 0")
    assert benchlib.ovs_cycles_per_packet(idle) is None  # nothing received: no cost per packet
    assert benchlib.ovs_cycles_per_packet("main thread:\n  packets received: 5\n") is None


def snapshot(busy, total, rx, ports):
    return {"workers": [{"busyCycles": str(busy), "totalCycles": str(total), "rxPackets": str(rx)}],
            "ports": [{"counters": {"txPackets": str(tx), "dropTxFull": str(full)}}
                      for tx, full in ports]}


def test_dataplane_stats_delta():
    before = snapshot(1000, 10000, 10, [(5, 0), (5, 0)])
    after = snapshot(21000, 30000, 110, [(95, 10), (55, 0)])
    d = benchlib.dataplane_stats_delta(before, after)
    assert d.cycles_per_packet == pytest.approx(200.0)  # 20000 busy cycles / 100 packets
    assert d.busy_percent == pytest.approx(100.0)  # 20000 of 20000 cycles
    assert d.tx_full_percent == pytest.approx(10 / 150 * 100)  # 10 dropped, 140 sent


def test_dataplane_stats_delta_without_traffic_or_ports():
    s = snapshot(1000, 10000, 10, [])
    assert benchlib.dataplane_stats_delta(s, s) == benchlib.WorkerDelta(None, None, None)
    after = snapshot(2000, 20000, 20, [])
    assert benchlib.dataplane_stats_delta(s, after).tx_full_percent == 0.0


# ---- best of N


def test_best_of_takes_most_mpps_with_its_runs_busy_and_fewest_cycles_independently():
    best = benchlib.best_of([Run(10.0, 210.0, 97.0, 0.1), Run(12.0, 220.0, 99.0, 0.2),
                             Run(11.0, 200.0, 98.0, 0.0)])
    assert best == Best(12.0, 200.0, 99.0, 0.2)


def test_best_of_skips_failed_runs():
    best = benchlib.best_of([Run(None, None), Run(9.0, None, None, None), Run(None, 250.0)])
    assert best == Best(9.0, 250.0, None, None)
    assert benchlib.best_of([]) == Best()
    assert benchlib.best_of([Run(None, None)]) == Best()


def test_best_of_keeps_the_first_run_on_a_tie():
    best = benchlib.best_of([Run(12.0, 200.0, 97.0, 0.1), Run(12.0, 200.0, 99.0, 0.2)])
    assert best == Best(12.0, 200.0, 97.0, 0.1)


def test_best_of_a_zero_rate_is_a_measurement():
    assert benchlib.best_of([Run(0.0, None)]).mpps == 0.0
    assert benchlib.best_of([Run(0.0, None), Run(0.5, None)]).mpps == 0.5


# ---- results file and report

RESULTS = """\
# round 1
run ceiling,2,64 13.00 200 - -
run l2,2,64 12.00 210.5 98.25 0
run ovs,2,64 4.00 530.00 - -
run ceiling,2,64 13.43 205 - -
run l2,2,64 13.09 207 99.1 0.01
run l2,32,64 9.72 267 97.5 3.1
run ceilgen,2,64 0 - - -
run vpc,2,64 FATAL
tsc_mhz 2690
memory 44 64 64
"""


def test_results_parse():
    r = DataplaneResults.parse(RESULTS)
    assert r.tsc_mhz == 2690
    assert r.memory == benchlib.Memory(44, 64, 64)
    assert r.runs["ceiling,2,64"] == [Run(13.0, 200.0), Run(13.43, 205.0)]
    assert r.runs["vpc,2,64"] == [Run(None, None)]  # a failed run: recorded, never best
    assert r.best()["l2,2,64"] == Best(13.09, 207.0, 99.1, 0.01)


@pytest.mark.parametrize("bad", ["run", "run L2,2,64 1 2", "mpps 1", "memory 44 64",
                                 "run l2,2,64 1 2 3 4 5"])
def test_results_parse_rejects_malformed_records(bad):
    with pytest.raises(ValueError):
        DataplaneResults.parse(bad + "\n")


def test_report_ratios_capacity_and_targets():
    report = DataplaneReport(DataplaneResults.parse(RESULTS))
    assert report.throughput_ratio("l2,2,64", "ceiling,2,64") == pytest.approx(13.09 / 13.43)
    # capacity of l2 / capacity of the ceiling = ceiling's cycles per packet / l2's (best: 200, 207)
    assert report.capacity_ratio("l2,2,64", "ceiling,2,64") == pytest.approx(200 / 207)
    assert report.capacity("ceiling,2,64") == pytest.approx(2690 / 200)
    targets = {(t, d): (m, v) for t, d, m, _, v in report.targets()}
    assert targets["throughput", "64B: l2 / ceiling (flowgen)"][1] == "PASS"
    assert targets["throughput", "64B: l2 / OVS-DPDK (flowgen)"] == (pytest.approx(13.09 / 4), "PASS")
    assert targets["capacity", "64B: l2 / OVS-DPDK (flowgen)"] == (pytest.approx(530 / 207), "FAIL")
    assert targets["throughput", "32 / 2 ports, l2 (flowgen)"] == (pytest.approx(9.72 / 13.09), "FAIL")
    # missing peer (no OVS with bench-gen) and a zero-rate peer (ceilgen 0 Mpps): not judged
    assert targets["throughput", "64B: l2 / OVS-DPDK (bench-gen)"] == (None, "-")
    assert targets["throughput", "64B: vpc / ceiling (bench-gen)"] == (None, "-")
    assert report.memory_verdict() == "PASS"
    assert report.failed() == ["throughput: 32 / 2 ports, l2 (flowgen)",
                               "capacity: 64B: l2 / OVS-DPDK (flowgen)",
                               "capacity: 32 / 2 ports, l2 (flowgen)"]


def test_report_without_capacity_when_the_tsc_rate_is_unknown():
    report = DataplaneReport(DataplaneResults.parse("run l2,2,64 13 207\n"))
    assert report.capacity("l2,2,64") is None
    assert "capacity Mpps (? MHz / cycles per packet)" in sections(report.lines())


@pytest.mark.parametrize("memory,verdict", [
    ("memory 44 64 64", "PASS"), ("memory 256 64 64", "PASS"), ("memory 257 64 64", "FAIL"),
    ("memory 44 63 63", "FAIL"),  # not every port could be added
    ("memory 44 64 60", "FAIL"),  # not every port connected
    ("memory - 0 0", "-"), ("memory - - -", "-"), ("", "-")])
def test_memory_verdict(memory, verdict):
    assert DataplaneReport(DataplaneResults.parse(memory + "\n")).memory_verdict() == verdict


def sections(lines):
    """The report's blocks (separated by empty lines) by their first line's title: {row label:
    cells}."""
    out, block = {}, None
    for line in lines:
        if not line:
            block = None
        elif block is None:
            block = out.setdefault(line[:46].rstrip(), {"": line[46:].split()})
        else:
            block[line[:46].rstrip()] = line[46:].split()
    return out


def test_report_lines_quick_mode():
    """--quick: 2-port 64B rows only, no OVS, no memory."""
    text = ("run ceiling,2,64 13.43 200\nrun l2,2,64 13.09 207 99.1 0.01\n"
            "run ceilgen,2,64 13.09 203\nrun l2gen,2,64 13.62 194 98 0\n"
            "run vpc,2,64 13.02 203 97.5 0\ntsc_mhz 2690\n")
    s = sections(DataplaneReport(DataplaneResults.parse(text)).lines())
    mpps = s["aggregate Mpps (switch on one lcore)"]
    assert mpps[""] == ["2p", "64B", "2p", "1500B", "8p", "64B", "32p", "64B"]
    assert list(mpps)[1:] == list(benchlib.SWITCHES.values())
    assert mpps["flowgen: ena-dpdk l2 (flooding)"] == ["13.09", "-", "-", "-"]
    assert mpps["flowgen: Open vSwitch DPDK, NORMAL"] == ["-", "-", "-", "-"]
    assert mpps["bench-gen: ena-dpdk vpc (pod to pod)"] == ["13.02", "-", "-", "-"]
    assert s["switch lcore cycles per packet"]["bench-gen: ena-dpdk l2 (learned unicast)"][0] == "194.00"
    capacity = s["capacity Mpps (2690 MHz / cycles per packet)"]
    assert capacity["flowgen: ceiling (testpmd mac, net_vhost)"][0] == "13.45"
    busy = s["ena-dpdk worker: busy % / pod TX-full drop %"]
    assert busy["flowgen: ena-dpdk l2 (flooding)"] == ["99.1/0.01", "-/-", "-/-", "-/-"]
    assert busy["bench-gen: ena-dpdk l2 (learned unicast)"][0] == "98/0"
    throughput = s["target (issue 4), throughput"]
    assert throughput["64B: l2 / ceiling (flowgen)"] == ["0.97", ">=0.85", "PASS"]
    assert throughput["64B: l2 / OVS-DPDK (flowgen)"] == ["n/a", ">=3", "-"]
    assert throughput["32 / 2 ports, vpc (bench-gen)"] == ["n/a", ">=0.8", "-"]
    assert throughput["hugepage MiB, 0 ports (0 connected)"] == ["-", "<=256", "-"]
    capacity_targets = s["the same targets, switch capacity"]
    assert capacity_targets["64B: l2 / ceiling (bench-gen)"] == ["1.05", ">=0.85", "PASS"]
    reference = next(v for k, v in s.items() if k.startswith("for reference (what any switch"))
    assert reference["  ceiling / OVS-DPDK, throughput (flowgen)"] == ["n/a"]


def test_command_line_dataplane_report(tmp_path, capsys):
    results = tmp_path / "results"
    results.write_text(RESULTS)
    assert benchlib.main(["dataplane-report", str(results)]) == 0
    out = capsys.readouterr().out
    assert "aggregate Mpps (switch on one lcore)" in out
    assert "for reference (what any switch on vhost-user can reach here):" in out


def test_command_line_parsers(tmp_path, capsys):
    log = tmp_path / "gen.log"
    log.write_text(TESTPMD_LOG)
    benchlib.main(["testpmd-rx-mpps", str(log), "2", "2"])
    assert capsys.readouterr().out == "7.00\n"
    benchlib.main(["testpmd-cycles", str(log)])
    assert capsys.readouterr().out == "- -\n"
    before, after = tmp_path / "s0.json", tmp_path / "s1.json"
    before.write_text(json.dumps(snapshot(1000, 10000, 10, [(5, 0)])))
    after.write_text(json.dumps(snapshot(21000, 30000, 110, [(95, 10)])))
    benchlib.main(["dataplane-stats", str(before), str(after)])
    assert capsys.readouterr().out == "200 100 10\n"


# ---- latency benchmarks


def test_cni_report():
    ena = [1000.0 * i for i in range(1, 101)]  # 1..100 ms
    ref = [2000.0 * i for i in range(1, 101)]
    lines = benchlib.cni_report(ena, ref, ["ADD 9000\n", "DEL 8000\n", "ADD 10240\n"], 100)
    assert lines[0] == "ADD+DEL cycle through libcni, 100 cycles each (ms):"
    assert lines[2].split() == ["ena-dpdk-cni", "+", "ipam", "50.50", "99.00"]
    assert lines[3].split() == ["bridge", "+", "host-local", "101.00", "198.00"]
    assert lines[4] == "  ratio ena-dpdk / reference: median 0.50, p99 0.50 (target <= 1.0: PASS)"
    assert lines[5] == "peak RSS of ena-dpdk-cni: ADD 10.0 MiB, DEL 7.8 MiB (target <= 16 MiB: PASS)"


def test_cni_report_misses():
    lines = benchlib.cni_report([3000.0], [2000.0], ["ADD 16385\n"], 1)
    assert lines[4].endswith("median 1.50, p99 1.50 (target <= 1.0: FAIL)")
    assert lines[5].endswith("(target <= 16 MiB: FAIL)")
    # a tie with the reference meets "<= 1.0"
    assert benchlib.cni_report([2000.0], [2000.0], [], 1)[4].endswith("(target <= 1.0: PASS)")
    with pytest.raises(ValueError):
        benchlib.cni_report([], [2000.0], [], 0)


def test_cni_report_zero_reference():
    lines = benchlib.cni_report([1000.0], [0.0], [], 1)
    assert lines[4] == "  ratio ena-dpdk / reference: median n/a, p99 n/a (target <= 1.0: -)"


def test_latency_report():
    lines, ok = benchlib.latency_report("nodeprep no-op run (prepared host)",
                                        [5700.0, 7800.0, 31000.0], 50)
    assert ok
    assert lines[1].split()[-5:] == ["5.70", "7.80", "31.00", "31.00", "3"]
    assert lines[2] == "target: median <= 50 ms: PASS"
    lines, ok = benchlib.latency_report("x", [60000.0, 40000.0, 70000.0], 50)
    assert not ok and lines[2] == "target: median <= 50 ms: FAIL"
    _, ok = benchlib.latency_report("x", [50000.0], 50)  # a tie meets the target
    assert ok


def test_command_line_latency_report_exit_status(tmp_path, capsys):
    times = tmp_path / "us"
    times.write_text("60000\n70000\n")
    assert benchlib.main(["latency-report", "--name", "x", "--target-ms", "50", str(times)]) == 1
    times.write_text("6000\n7000\n")
    assert benchlib.main(["latency-report", "--name", "x", "--target-ms", "50", str(times)]) == 0


def test_dataplane_bench_measures_only_what_the_report_knows():
    """The measurement keys dataplane_bench.sh records (`measure "switch,ports,size" ...`) are
    rows and columns of benchlib's tables, and every row is measured."""
    script = (pathlib.Path(__file__).resolve().parent / "dataplane_bench.sh").read_text()
    keys = re.findall(r'^\s*(?:\[[^]]*\] \|\| )?measure "([a-z0-9]+),([^,"]+),([^,"]+)"', script, re.M)
    assert keys
    switches = {k[0] for k in keys}
    assert switches == set(benchlib.SWITCHES)
    ports = {n for _, n, _ in keys if n.isdigit()}
    sizes = {s for _, _, s in keys if s.isdigit()}
    assert ports and {int(n) for n in ports} <= {n for n, _ in benchlib.COLUMNS}
    assert sizes and {int(s) for s in sizes} <= {s for _, s in benchlib.COLUMNS}


# ---- the north-south benchmark

GEN_LOG = """EAL: Detected CPU lcores: 2
rx_mpps=2.10 tx_mpps=2.12 reflected_mpps=2.11 lat_samples=16800000 lat_p50_us=3.10 lat_p99_us=7.25 lat_p999_us=12.40 lat_max_us=80.00 reflect_drops=0
"""


def test_gen_result_sums_both_directions():
    r = benchlib.gen_result(GEN_LOG)
    assert r.switched_mpps == pytest.approx(4.21)
    assert (r.rx_mpps, r.p50, r.p99, r.p999, r.samples) == (2.10, 3.10, 7.25, 12.40, 16800000)


def test_gen_result_without_reflectors_or_samples():
    # today's pod-to-pod output: what came back is what the switch forwarded
    r = benchlib.gen_result("rx_mpps=13.02 tx_mpps=13.10\n")
    assert (r.switched_mpps, r.rx_mpps, r.p99) == (13.02, 13.02, None)
    r = benchlib.gen_result("rx_mpps=0.00 tx_mpps=0.00 reflected_mpps=0.00 lat_samples=0 "
                            "lat_p50_us=- lat_p99_us=- lat_p999_us=- lat_max_us=-\n")
    assert (r.switched_mpps, r.samples, r.p50) == (0.0, 0.0, None)
    assert benchlib.gen_result("ena-dpdk-bench-gen: --size must be ...\n") == benchlib.GenResult()


def test_command_line_gen_result(tmp_path, capsys):
    log = tmp_path / "gen.log"
    log.write_text(GEN_LOG)
    assert benchlib.main(["gen-result", str(log)]) == 0
    assert capsys.readouterr().out == "4.21 2.1 3.1 7.25 12.4 16800000\n"
    log.write_text("FATAL\n")
    benchlib.main(["gen-result", str(log)])
    assert capsys.readouterr().out == "- - - - - -\n"


def ns_run(key, switched="-", rx="-", p50="-", p99="-", p999="-", samples="-", cycles="-"):
    return f"run {key} {switched} {rx} {p50} {p99} {p999} {samples} {cycles}"


NS_RESULTS = "\n".join([
    "# round 1",
    ns_run("ceiling,ns,1,64,max", 10.0, 5.0, 4, 9, 20, 100, 200),
    ns_run("ceiling,ns,1,64,10", 0.5, 0.5, 3.0, 6.0, 9.0, 1000),
    ns_run("ceiling,ns,1,64,80", 4.0, 4.0, 5.0, 12.0, 30.0, 1000),
    ns_run("ovs,ns,1,64,max", 6.0, 3.0, cycles=400),
    ns_run("ovs,ns,1,64,10", 0.3, 0.3, 6.0, 14.0, 20.0, 1000),
    ns_run("ovs,ns,1,64,80", 2.4, 2.4, 8.0, 40.0, 90.0, 1000),
    ns_run("enadpdk,ns,1,64,max", 9.5, 4.75, cycles=210),
    ns_run("enadpdk,ns,1,64,10", 0.47, 0.47, 3.5, 10.5, 15.0, 1000),
    ns_run("enadpdk,ns,1,64,80", 3.8, 3.8, 6.0, 30.0, 50.0, 1000),
    ns_run("ceiling,ns,8,64,max", 9.0, cycles=220),
    ns_run("enadpdk,ns,8,64,max", 7.0, cycles=280) + " 97.5",
    ns_run("ceilb,ns,8,64,max", 6.0, cycles=300),
    ns_run("ovs,ns,8,64,max", 5.0, cycles=430),
    ns_run("ceiling,ns,16,64,max", 8.0, cycles=250),
    ns_run("enadpdk,ns,16,64,max", 7.5, cycles=260),
    ns_run("enadpdk-d100,ns,1,64,10", 0.47, 0.47, 3.4, 9.0, 14.0, 1000),
    ns_run("enadpdk-d10,ns,16,64,max", 7.9, cycles=255),
    "# round 2",
    ns_run("enadpdk,ns,1,64,max", 9.9, 4.95, cycles=230),  # more Mpps, more cycles
    ns_run("enadpdk,ns,1,64,10", 0.47, 0.47, 3.0, 11.0, 12.0, 1000),  # worse p99: not kept
    ns_run("enadpdk,ns,8,64,max", "-", cycles="-"),  # a failed run does not count
    "tsc_mhz 2690",
])


def test_ns_results_best_of_runs():
    report = benchlib.NsReport(benchlib.NsResults.parse(NS_RESULTS))
    best = report.get("enadpdk", "ns", 1, 64, "max")
    assert (best.switched, best.rx, best.cycles) == (9.9, 4.95, 210)
    lat = report.get("enadpdk", "ns", 1, 64, "10")
    assert (lat.p50, lat.p99, lat.p999) == (3.5, 10.5, 15.0)  # of two: the lower p99, whole
    assert report.get("enadpdk", "ns", 8, 64, "max").switched == 7.0
    assert report.get("nothing", "ns", 1, 64, "max") == benchlib.NsRun()
    assert report.switches() == ["ceiling", "ceilb", "ovs", "enadpdk", "enadpdk-d10",
                                 "enadpdk-d100"]
    assert report.label("enadpdk-d10") == "ena-dpdk vpc, TX drain 10 us"


def test_ns_targets():
    report = benchlib.NsReport(benchlib.NsResults.parse(NS_RESULTS))
    t = {d: (benchlib.fmt(m, "n/a"), g, v) for d, m, g, v in report.targets()}
    assert t["1p 64B: ena-dpdk / ceiling, throughput"] == ("0.99", ">=0.9", "PASS")
    assert t["1p 64B: ena-dpdk / ceiling, capacity"] == ("0.95", ">=0.9", "PASS")
    assert t["8p 64B: ena-dpdk / ceiling, throughput"] == ("0.78", ">=0.9", "FAIL")
    assert t["16p 64B: ena-dpdk / ceiling, capacity"] == ("0.96", ">=0.9", "PASS")
    assert t["1p 64B: ena-dpdk / OVS, throughput"] == ("1.65", ">=1.5", "PASS")
    assert t["8p 64B: ena-dpdk / OVS, capacity"] == ("1.54", ">=1.5", "PASS")
    assert t["VPC-pod p99 @10%: ena-dpdk - ceiling (us)"] == ("4.50", "<=5", "PASS")
    assert t["VPC-pod p99 @10%: ena-dpdk / OVS"] == ("0.75", "<=1", "PASS")
    assert t["VPC-pod p99 @80%: ena-dpdk / OVS"] == ("0.75", "<=1", "PASS")
    assert t["pod-pod p99 @10%: ena-dpdk / OVS"] == ("n/a", "<=1", "-")  # not measured
    assert report.failed() == ["8p 64B: ena-dpdk / ceiling, throughput",
                               "8p 64B: ena-dpdk / ceiling, capacity",  # 220 / 280 cycles
                               "8p 64B: ena-dpdk / OVS, throughput"]  # 7.0 / 5.0


def test_ns_latency_slack_is_signed():
    text = "\n".join([ns_run("ceiling,ns,1,64,10", p99=9.0), ns_run("enadpdk,ns,1,64,10", p99=3.0),
                      ns_run("enadpdk,pp,1,64,10", p99=20.0), ns_run("ceiling,pp,1,64,10", p99=14.9)])
    t = {d: (benchlib.fmt(m, "n/a"), v)
         for d, m, _, v in benchlib.NsReport(benchlib.NsResults.parse(text)).targets()}
    assert t["VPC-pod p99 @10%: ena-dpdk - ceiling (us)"] == ("-6.00", "PASS")  # faster than it
    assert t["pod-pod p99 @10%: ena-dpdk - ceiling (us)"] == ("5.10", "FAIL")


def test_ns_latency_takes_the_median_round_and_pairs_rounds():
    """Latency figures are the median round's; the targets compare runs of the same round, so a
    noisy minute that slows every switch alike moves no verdict."""
    text = "\n".join([
        "# round 1",  # a quiet minute
        ns_run("ceiling,ns,1,64,10", p50=2.0, p99=8.0, p999=9.0),
        ns_run("ovs,ns,1,64,10", p99=10.0),
        ns_run("enadpdk,ns,1,64,10", p50=2.5, p99=12.0, p999=20.0),
        "# round 2",  # a noisy one
        ns_run("ceiling,ns,1,64,10", p99=30.0),
        ns_run("ovs,ns,1,64,10", p99=36.0),
        ns_run("enadpdk,ns,1,64,10", p50=3.0, p99=33.0, p999=40.0),
        "# round 3",
        ns_run("ceiling,ns,1,64,10", p99=20.0),
        ns_run("ovs,ns,1,64,10", p99="-"),  # not measured: the round counts for the ceiling only
        ns_run("enadpdk,ns,1,64,10", p50=2.8, p99=22.0, p999=30.0),
        ns_run("enadpdk,ns,1,64,80", p99=50.0),
        ns_run("ovs,ns,1,64,80", p99=40.0),
    ])
    report = benchlib.NsReport(benchlib.NsResults.parse(text))
    lat = report.get("enadpdk", "ns", 1, 64, "10")
    assert (lat.p50, lat.p99, lat.p999) == (2.8, 22.0, 30.0)  # the median p99 of 12, 33, 22
    assert report.get("ceiling", "ns", 1, 64, "10").p99 == 20.0
    assert report.get("ovs", "ns", 1, 64, "10").p99 == 10.0  # of 10 and 36: the lower middle
    t = {d: (benchlib.fmt(m, "n/a"), v) for d, m, _, v in report.targets()}
    # differences 4, 3, 2: median 3 (the best-of figures, 12 - 8, would say 4)
    assert t["VPC-pod p99 @10%: ena-dpdk - ceiling (us)"] == ("3.00", "PASS")
    # ratios 1.2 and 0.917 (round 3 has no OVS run): their median (the best-of would be 1.2)
    assert t["VPC-pod p99 @10%: ena-dpdk / OVS"] == ("1.06", "FAIL")
    assert t["VPC-pod p99 @80%: ena-dpdk / OVS"] == ("1.25", "FAIL")
    assert t["pod-pod p99 @10%: ena-dpdk / OVS"] == ("n/a", "-")


def test_ns_latency_takes_the_mean_of_a_switchs_two_runs_and_shows_the_resolution():
    """At 10 % every switch runs twice in a round, in mirrored order: its figures are the mean
    of the two, and the gap between them is the resolution the report shows."""
    text = "\n".join([
        "# round 1",  # drift upwards within the round: ceiling 30 -> 40, ena-dpdk 34 -> 38
        ns_run("ceiling,pp,1,64,10", 0.4, 0.4, 4.0, 30.0, 100.0, 1000),
        ns_run("enadpdk,pp,1,64,10", 0.4, 0.4, 5.0, 34.0, 80.0, 1000),
        ns_run("ovs,pp,1,64,10", p99=50.0),
        ns_run("again-ovs,pp,1,64,10", p99=54.0),
        ns_run("again-enadpdk,pp,1,64,10", 0.6, 0.6, 3.0, 38.0, 120.0, 3000),
        ns_run("again-ceiling,pp,1,64,10", p99=40.0),  # ena-dpdk 36 - ceiling 35: 1
        "# round 2",
        ns_run("ceiling,pp,1,64,10", p99=50.0),
        ns_run("enadpdk,pp,1,64,10", p99=30.0),
        ns_run("ovs,pp,1,64,10", p99=60.0),
        ns_run("again-ovs,pp,1,64,10", p99="-"),  # failed: the first run alone
        ns_run("again-enadpdk,pp,1,64,10", p99=32.0),
        ns_run("again-ceiling,pp,1,64,10", p99=28.0),  # 31 - 39: -8
        "# round 3",
        ns_run("ceiling,pp,1,64,10", p99="-"),  # failed: the second run alone
        ns_run("enadpdk,pp,1,64,10", p99=35.0),
        ns_run("again-enadpdk,pp,1,64,10", p99=37.0),
        ns_run("again-ceiling,pp,1,64,10", p99=26.0),  # 36 - 26: 10
        ns_run("ceiling,ns,1,64,10", p99=20.0),
        ns_run("enadpdk,ns,1,64,10", p99=23.0),  # no second runs: the one run
    ])
    report = benchlib.NsReport(benchlib.NsResults.parse(text))
    first = report.runs["enadpdk,pp,1,64,10"][0]
    assert (first.rx, first.p50, first.p99, first.p999, first.samples) == (0.5, 4.0, 36.0, 100.0,
                                                                            4000)
    assert report.runs["ovs,pp,1,64,10"][1].p99 == 60.0
    assert report.runs["ceiling,pp,1,64,10"][2].p99 == 26.0
    assert not any(k.startswith("again-") for k in report.runs)
    t = {d: (benchlib.fmt(m, "n/a"), v) for d, m, _, v in report.targets()}
    assert t["pod-pod p99 @10%: ena-dpdk - ceiling (us)"] == ("1.00", "PASS")  # of 1, -8, 10
    assert t["pod-pod p99 @10%: ena-dpdk / OVS"] == ("0.60", "PASS")  # of 36 / 52 and 31 / 60
    assert t["VPC-pod p99 @10%: ena-dpdk - ceiling (us)"] == ("3.00", "PASS")
    refs = {d.strip(): benchlib.fmt(m, "n/a") for d, m in report.references()}
    # gaps: ceiling 10, 22; ena-dpdk 4, 2, 2; OVS 4
    assert refs["pod-pod @10%: same switch, median p99 gap"] == "4.00"
    assert refs["pod-pod @10%: same switch, largest p99 gap"] == "22.00"
    assert refs["VPC-pod @10%: same switch, median p99 gap"] == "n/a"
    assert all(len(d) <= 46 for d, _ in report.references())  # the report's column
    lines = report.lines()
    assert report.switches() == ["ceiling", "ovs", "enadpdk"]
    assert not any(line.startswith("again-") for line in lines)
    assert "(at 10 %: each switch's figures in a round are the mean of its two runs, in mirrored" \
        " order)" in lines


def test_ns_same_round_capacity_pairs_rounds_at_max_rate():
    """A fast minute that falls on one switch's run moves the best-of ratio, not the median of
    the same-round ratios, which the references show beside it."""
    text = "\n".join([
        "# round 1",
        ns_run("ceiling,ns,1,64,max", cycles=200), ns_run("enadpdk,ns,1,64,max", cycles=200),
        ns_run("ovs,ns,1,64,max", cycles=300),
        "# round 2",  # a fast minute for the ceiling only
        ns_run("ceiling,ns,1,64,max", cycles=100), ns_run("enadpdk,ns,1,64,max", cycles=210),
        ns_run("ovs,ns,1,64,max", cycles="-"),  # failed: the round counts for the ceiling only
        "# round 3",
        ns_run("ceiling,ns,1,64,max", cycles=190), ns_run("enadpdk,ns,1,64,max", cycles=200),
        ns_run("ovs,ns,1,64,max", cycles=320),
    ])
    report = benchlib.NsReport(benchlib.NsResults.parse(text))
    t = {d: benchlib.fmt(m, "n/a") for d, m, _, _ in report.targets()}
    assert t["1p 64B: ena-dpdk / ceiling, capacity"] == "0.50"  # best 100 / best 200
    refs = {d.strip(): benchlib.fmt(m, "n/a") for d, m in report.references()}
    assert refs["1p: ena-dpdk / ceiling, same-round capacity"] == "0.95"  # of 1, 0.48, 0.95
    assert refs["1p: ena-dpdk / OVS, same-round capacity"] == "1.55"  # of 1.5 and 1.6
    assert refs["8p: ena-dpdk / OVS, same-round capacity"] == "n/a"
    assert all(len(d) <= 46 for d, _ in report.references())


def test_ns_report_says_how_rounds_combine():
    lines = benchlib.NsReport(benchlib.NsResults.parse(NS_RESULTS)).lines()
    assert any(line.startswith("(max rate: the best round; latency: median over rounds")
               for line in lines)
    single = benchlib.NsReport(benchlib.NsResults.parse(ns_run("ceiling,ns,1,64,10", p99=1.0)))
    assert not any(line.startswith("(max rate:") for line in single.lines())


@pytest.mark.parametrize("line", [
    "run enadpdk,ns,1,64 1 2 3",  # no load
    "run enadpdk,xx,1,64,max 1",  # unknown path
    "run enadpdk,ns,1,64,50 1",  # unknown load
    "run enadpdk,ns,1,64,max 1 2 3 4 5 6 7 8 9",  # too many values
    "memory 44 64 64",  # not this benchmark's record
])
def test_ns_results_reject_bad_lines(line):
    with pytest.raises(ValueError):
        benchlib.NsResults.parse(line)


def test_command_line_northsouth_report(tmp_path, capsys):
    results = tmp_path / "results"
    results.write_text(NS_RESULTS)
    assert benchlib.main(["northsouth-report", str(results)]) == 0
    out = capsys.readouterr().out
    rows = {line[:46].strip(): line[46:].split() for line in out.splitlines()}
    assert "switched Mpps (both directions)" in rows
    assert rows["capacity Mpps (2690 MHz / cycles per packet)"][0] == "1p"
    assert rows["target (issue 19)"] == ["measured", "goal"]
    assert rows["8p 64B: ena-dpdk / ceiling, throughput"] == ["0.78", ">=0.9", "FAIL"]
    assert rows["1p: ceiling / OVS, throughput"] == ["1.67"]  # 10.0 / 6.0: the bound of >= 1.5
    assert rows["8p: ceiling / OVS, capacity"] == ["1.95"]  # 430 / 220 cycles
    assert rows["16p / 1p: ceiling, capacity"] == ["0.80"]  # 200 / 250 cycles
    assert rows["31p / 1p: ena-dpdk vpc, capacity"] == ["n/a"]  # not measured
    assert rows["8p: ena-dpdk / ceiling --burst 4, capacity"] == ["1.07"]  # 300 / 280
    lines = out.splitlines()
    busy = lines[lines.index(next(x for x in lines if x.startswith("ena-dpdk worker busy %"))) + 1]
    assert busy.split()[-6:] == ["-", "97.50", "-", "-", "-", "-"]  # ena-dpdk vpc, 8 pods
    # latency rows for every switch and both loads, drain variants only where measured
    lat = [line for line in out.splitlines() if line.startswith("ena-dpdk vpc, TX drain 100 us")]
    assert len(lat) == 1  # its 10 % row: no empty 80 % row, no max-rate rows (none measured)
    d10 = [line for line in out.splitlines() if line.startswith("ena-dpdk vpc, TX drain 10 us")]
    assert len(d10) == 4  # its rows of the four max tables: no empty latency rows
    assert not any(line.startswith("ceiling, burst 32/pods") and "%" in line
                   for line in out.splitlines())  # measured at max rate only


def test_northsouth_bench_measures_only_what_the_report_knows():
    """Every key northsouth_bench.sh records is a switch, path, size and load the report shows."""
    script = (pathlib.Path(__file__).resolve().parent / "northsouth_bench.sh").read_text()
    switches = set(re.findall(r"for sw in ([a-z ]+); do", script)[0].split())
    assert switches | {"ceilb"} == set(benchlib.NS_SWITCHES)
    # at 10 %, each switch twice in mirrored order
    first, again = re.findall(r'for sw in ([a-z ]+); do loaded "(?:again-)?\$sw" "\$path" '
                              r'"\$base" 10 "\$sw"; done', script)
    assert first.split() == again.split()[::-1] and set(first.split()) == switches
    assert 'loaded "again-$sw" "$path" "$base" 10 "$sw"' in script
    assert re.search(r'record "ceilb,ns,\$n,64,max" ceiling ns "\$n" 64 max \$\(\(32 / n\)\)', script)
    columns = {(p, int(n), int(s)) for p, n, s in benchlib.NS_COLUMNS}
    recorded = re.findall(r'record "\$[a-z]+,(ns|pp),(\$n|[0-9]+),([0-9]+),max"', script)
    assert recorded
    for path, pods, size in recorded:
        if pods == "$n":
            assert {(path, n, int(size)) for n in (8, 16)} <= columns
        else:
            assert (path, int(pods), int(size)) in columns
    # the 1-pod 64 B max runs and the latency runs of both paths, for every switch
    assert re.search(r'for path in ns pp; do', script)
    assert re.search(r'record "\$sw,\$path,1,64,max" "\$sw" "\$path" 1 64 max', script)
    assert re.search(r'loaded "\$sw" "\$path" "\$base" 80 "\$sw"', script)
