#!/usr/bin/env bash
# Benchmark of ena-dpdk-deviceplugin, through its real gRPC Unix sockets with a fake kubelet on a
# fake host (tests/deviceplugin/deviceplugin_bench.cc):
#   - Allocate latency p50/p99 over CALLS calls (default 1000) for dpdk.aws/ena-dedicated and
#     dpdk.aws/ena, target p99 <= 1 ms;
#   - health-change-to-ListAndWatch-update latency over CHANGES driver flips (default 20) at the
#     production health interval, target <= 1 s.
# Prints a table with PASS/FAIL per target; exits non-zero when a target is missed.
#
# The fake host lives on tmpfs (/dev/shm), like /var/run on a node, where the device-info files
# and CDI specs that Allocate writes atomically (with fsync) really go.
#
# Usage: tests/bench/deviceplugin_bench.sh [BUILD_DIR] (default: build)
set -euo pipefail
build=${1:-build}
bin=$build/tests/deviceplugin/deviceplugin_bench
[ -x "$bin" ] || { echo "deviceplugin_bench: $bin not found; build the deviceplugin_bench target first" >&2; exit 1; }
export TMPDIR=${TMPDIR_BENCH:-/dev/shm}
exec "$bin" --calls "${CALLS:-1000}" --changes "${CHANGES:-20}"
