"""Unit tests of tests/bench/perf_split.py: the rules that split the worker's perf samples into
rte_vhost's work and the switch's own, and the traffic check around a profile."""

import json
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import perf_split  # noqa: E402
from perf_split import Sample, Traffic  # noqa: E402

# A trimmed `perf report --no-children --sort dso,sym --stdio` of the worker thread.
REPORT = """\
# To display the perf.data header info, please use --header/--header-only options.
#
# Samples: 15K of event 'cpu-clock'
# Event count (approx.): 3918250000
#
# Overhead  Shared Object             Symbol
# ........  ........................  .......................................................
#
    60.00%  librte_vhost.so.23.0      [.] 0x000000000007ef15
    10.00%  librte_vhost.so.23.0      [.] rte_vhost_dequeue_burst
     5.00%  librte_net_vhost.so.23.0  [.] 0x0000000000005144
     4.00%  ena-dpdk-dataplane        [.] enadpdk::vhostuser::Worker::process
     2.00%  ena-dpdk-dataplane        [.] enadpdk::vhostuser::(anonymous namespace)::freeMbufs
     3.00%  librte_mbuf.so.23.0       [.] rte_pktmbuf_free_bulk
     1.50%  librte_mempool_ring.so.23.0  [.] common_ring_mc_dequeue
     1.00%  librte_mempool_ring.so.23.0  [.] common_ring_mp_enqueue
     0.50%  librte_mempool.so.23.0    [.] 0x0000000000001234
     2.00%  ld-linux-x86-64.so.2      [.] __tls_get_addr
    11.00%  [kernel.kallsyms]         [k] pvm_irq_enable


"""


def test_parse_report_reads_every_row_and_skips_comments():
    rows = perf_split.parse_report(REPORT)
    assert len(rows) == 11
    assert rows[0] == Sample(60.0, "librte_vhost.so.23.0", "0x000000000007ef15")
    assert rows[3] == Sample(4.0, "ena-dpdk-dataplane", "enadpdk::vhostuser::Worker::process")
    # A symbol with spaces in it stays whole.
    assert rows[4].symbol == "enadpdk::vhostuser::(anonymous namespace)::freeMbufs"
    assert rows[-1] == Sample(11.0, "[kernel.kallsyms]", "pvm_irq_enable")


@pytest.mark.parametrize("dso,symbol,cls", [
    ("librte_vhost.so.23.0", "0x7ef15", "rte_vhost"),
    ("librte_vhost.so.23.0", "rte_vhost_enqueue_burst", "rte_vhost"),
    ("librte_net_vhost.so.23.0", "0x5144", "rte_vhost"),
    ("ena-dpdk-dataplane", "enadpdk::vhostuser::Worker::flush", "switch"),
    ("librte_mbuf.so.23.0", "rte_pktmbuf_free_bulk", "switch"),
    # The mempool ring: a get refills the cache rte_vhost allocates from, a put is a free.
    ("librte_mempool_ring.so.23.0", "common_ring_mc_dequeue", "rte_vhost"),
    ("librte_mempool_ring.so.23.0", "common_ring_sc_dequeue", "rte_vhost"),
    ("librte_mempool_ring.so.23.0", "common_ring_mp_enqueue", "switch"),
    ("librte_mempool.so.23.0", "rte_mempool_ops_table", "switch"),
    ("librte_mempool_ring.so.23.0", "0x0000000000001a2b", "ambiguous"),
    ("ld-linux-x86-64.so.2", "__tls_get_addr", "other"),
    ("[kernel.kallsyms]", "pvm_irq_enable", "other"),
    ("libc.so.6", "memcpy", "other"),
    ("librte_eal.so.23.0", "rte_rdtsc", "other"),
    # Not the dataplane: another binary of the project is "other".
    ("ena-dpdk-ctl", "main", "other"),
])
def test_classify(dso, symbol, cls):
    assert perf_split.classify(dso, symbol) == cls


def test_split_sums_classes_and_lists_the_switch_rows_largest_first():
    s = perf_split.split(perf_split.parse_report(REPORT))
    assert s.shares["rte_vhost"] == pytest.approx(76.5)  # 60 + 10 + 5 + 1.5
    assert s.shares["switch"] == pytest.approx(10.0)  # 4 + 2 + 3 + 1
    assert s.shares["ambiguous"] == pytest.approx(0.5)
    assert s.shares["other"] == pytest.approx(13.0)
    assert sum(s.shares.values()) == pytest.approx(100.0)
    assert [r.percent for r in s.switch_rows] == [4.0, 3.0, 2.0, 1.0]


def test_split_renormalises_a_partial_report():
    rows = [Sample(3.0, "librte_vhost.so.23.0", "x"), Sample(1.0, "ena-dpdk-dataplane", "y")]
    s = perf_split.split(rows)
    assert s.shares["rte_vhost"] == pytest.approx(75.0)
    assert s.shares["switch"] == pytest.approx(25.0)


def _snapshot(uplink_rx, pod_rx, spoofed=0, tx_full=0):
    return {
        "workers": [{"busyCycles": "1", "totalCycles": "1", "rxPackets": "1"}],
        "ports": [{"id": "p1", "counters": {"rxPackets": str(pod_rx), "dropSpoofed": str(spoofed),
                                            "dropTxFull": "0"}}],
        "networks": [{"name": "vpc", "uplink": {"counters": {
            "rxPackets": str(uplink_rx), "dropSpoofed": "0", "dropTxFull": str(tx_full)}}},
            {"name": "local", "uplink": None}],  # a network without uplink
    }


def test_traffic_takes_deltas_per_direction_and_sums_drops_over_ports():
    t = perf_split.traffic(_snapshot(100, 200, spoofed=256), _snapshot(1100, 1150, spoofed=256,
                                                                      tx_full=7))
    assert t == Traffic(uplink_rx=1000, pods_rx=950,
                        drops={"dropSpoofed": 0, "dropTxFull": 7})


@pytest.mark.parametrize("t,problem", [
    (Traffic(1000, 1000, {"dropSpoofed": 0}), None),
    (Traffic(1000, 1000, {"dropTxFull": 20}), None),  # 1 %: still counts
    (Traffic(1000, 0, {}), "both ways"),
    (Traffic(0, 1000, {}), "both ways"),
    (Traffic(1000, 1000, {"dropNoRoute": 21}), "drops dominate"),
])
def test_traffic_problem(t, problem):
    got = perf_split.traffic_problem(t)
    if problem is None:
        assert got is None
    else:
        assert problem in got


def test_report_lines_give_shares_and_cycles_per_class():
    s = perf_split.split(perf_split.parse_report(REPORT))
    lines = perf_split.report_lines(s, 200.0, 95.0, Traffic(10, 20, {"dropSpoofed": 3}), top=2)
    text = "\n".join(lines)
    assert "from the VPC 10, from pods 20; drops: dropSpoofed 3" in text
    assert "200.0 busy cycles per packet received, busy 95.0 %" in text
    assert "| rte_vhost | 76.5 % | 153.0 |" in text
    assert "| switch | 10.0 % | 20.0 |" in text
    assert "| ambiguous | 0.5 % | 1.0 |" in text
    # Two switch rows, the largest.
    assert lines[-2].endswith("enadpdk::vhostuser::Worker::process")
    assert lines[-1].endswith("rte_pktmbuf_free_bulk")


def test_report_lines_say_when_the_worker_was_not_at_full_load():
    s = perf_split.split(perf_split.parse_report(REPORT))
    assert not any("generator-bound" in line for line in perf_split.report_lines(s, 200.0, 95.0, None))
    lines = perf_split.report_lines(s, 200.0, 94.9, None)
    assert lines[1].startswith("generator-bound: busy below 95 %")
    assert any("generator-bound" in line for line in perf_split.report_lines(s, 200.0, 97.0, None,
                                                                            full_load=98.0))


def test_summarize_leaves_out_runs_below_full_load_while_others_are_at_it():
    text = "\n".join([
        _split_output(1, 10.8, "170.0", "20.0", busy="62.0"),
        _split_output(1, 8.1, "170.0", "15.0", busy="96.5"),
        _split_output(1, 7.9, "160.0", "14.0", busy="97.0"),
        _split_output(8, 7.5, "300.0", "24.0", busy="84.0"),
        _split_output(8, 7.2, "310.0", "23.0", busy="91.0"),
    ])
    lines = perf_split.summarize(text)
    assert lines[3] == "| 1 | 2 at full load (of 3) | 8.0 % (7.9 to 8.1) | 14.5 | 165.0 | 96.5 to 97.0 % |"
    # No run at full load: all of them, and the table says so.
    assert lines[4] == ("| 8 | 2, none at full load (≥ 95 % busy) | 7.3 % (7.2 to 7.5) | 23.5 | "
                        "305.0 | 84.0 to 91.0 % |")
    assert perf_split.summarize(text, full_load=90.0)[4].startswith("| 8 | 1 at full load (of 2) | 7.2 %")


def test_report_lines_leave_out_an_empty_ambiguous_class_and_unknown_cycles():
    s = perf_split.split([Sample(1.0, "librte_vhost.so.23.0", "x")])
    text = "\n".join(perf_split.report_lines(s, None, None, None))
    assert "ambiguous" not in text
    assert "| rte_vhost | 100.0 % | - |" in text


def test_main_fails_loudly_without_samples_or_without_traffic(tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    assert perf_split.main([str(empty)]) == 1
    report = tmp_path / "report.txt"
    report.write_text(REPORT)
    before, after = tmp_path / "s0.json", tmp_path / "s1.json"
    before.write_text(json.dumps(_snapshot(0, 0)))
    after.write_text(json.dumps(_snapshot(0, 500)))
    assert perf_split.main([str(report), "--cycles-per-packet", "-", "--stats", str(before),
                            str(after)]) == 1
    assert "both ways" in capsys.readouterr().err
    after.write_text(json.dumps(_snapshot(500, 500)))
    assert perf_split.main([str(report), "--cycles-per-packet", "180", "--stats", str(before),
                            str(after)]) == 0
    assert "| switch | 10.0 % | 18.0 |" in capsys.readouterr().out


def _split_output(pods, switch, vhost_cycles, switch_cycles, busy="97.7"):
    return "\n".join([
        "",
        f"cycle split of the ena-dpdk worker: north-south 64B, {pods} pod(s), VPC round robin "
        "over them (this run: 7.56 3.78 528.58)",
        "frames: from the VPC 22627808, from pods 22625696; drops: dropTxFull 672",
        f"switch lcore: 296.1 busy cycles per packet received, busy {busy} %",
        "| class | share of samples | cycles per packet |",
        "|---|---|---|",
        f"| rte_vhost | {100 - switch - 1:.1f} % | {vhost_cycles} |",
        f"| switch | {switch:.1f} % | {switch_cycles} |",
        "| other | 1.0 % | 2.5 |",
        f"switch's own top symbols (of {switch:.1f} %):",
        "   6.36 %  ena-dpdk-dataplane  enadpdk::vhostuser::Worker::process",
    ])


def test_summarize_takes_the_median_run_per_pod_count(tmp_path, capsys):
    text = "\n".join([
        _split_output(1, 9.5, "265.5", "28.2"), _split_output(8, 5.2, "761.6", "41.9"),
        _split_output(1, 12.0, "110.0", "15.2"), _split_output(8, 13.1, "208.0", "31.6"),
        _split_output(1, 7.4, "206.0", "16.6"), _split_output(8, 6.2, "498.0", "-"),
    ])
    lines = perf_split.summarize(text)
    assert lines[0] == "median of the profiled runs"
    assert lines[3] == "| 1 | 3 | 9.5 % (7.4 to 12.0) | 16.6 | 206.0 | 97.7 to 97.7 % |"
    # unknown cycles ("-") leave that run out of the cycle medians, not out of the shares
    assert lines[4] == "| 8 | 3 | 6.2 % (5.2 to 13.1) | 36.8 | 498.0 | 97.7 to 97.7 % |"
    splits = tmp_path / "splits.txt"
    splits.write_text(text)
    assert perf_split.main(["--summarize", str(splits)]) == 0
    assert capsys.readouterr().out.splitlines()[3] == lines[3]
    splits.write_text("FATAL: no cycle split for 1 pod(s)\n")
    assert perf_split.main(["--summarize", str(splits)]) == 1
    assert "no cycle splits" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        perf_split.main([])  # neither a report nor --summarize
