#!/usr/bin/env bash
# Benchmark: wall time of a no-op `ena-dpdk-nodeprep` run on an already prepared host (the
# steady state of every DaemonSet restart), target <= 100 ms at the median.
#
# Builds a fake host tree laid out like sysfs/procfs on a prepared AL2 node (4 1G pages reserved,
# both hugetlbfs mounts present, vfio-pci loaded with no-IOMMU mode on, eth1's ENA bound to
# vfio-pci, eth0 the primary with the default route), checks that a run there changes nothing,
# then times RUNS runs and prints min / median / p99 / max (tests/bench/benchlib.py).
#
# Usage: tests/bench/nodeprep_bench.sh [BUILD_DIR] (default: build); RUNS=N overrides 200;
# SHOW_REPORT=1 also prints the JSON report of the checked run.
set -euo pipefail
build=${1:-build}
bin=$build/nodeprep/ena-dpdk-nodeprep
runs=${RUNS:-200}
target_ms=100
[ -x "$bin" ] || { echo "nodeprep_bench: $bin not found; build first" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
r=$tmp/root

put() { mkdir -p "$(dirname "$r$1")" && printf '%b' "$2" >"$r$1"; }  # put HOST_PATH CONTENT
link() { mkdir -p "$(dirname "$r$1")" && ln -sfn "$2" "$r$1"; }      # link HOST_PATH TARGET

# CPU, hugepages, mounts, routes.
put /proc/cpuinfo 'processor\t: 0\nflags\t\t: fpu pse tsc pdpe1gb lm\n\nprocessor\t: 1\nflags\t\t: fpu pse tsc pdpe1gb lm\n'
for size in 2048kB:0 1048576kB:4; do
  put "/sys/kernel/mm/hugepages/hugepages-${size%%:*}/nr_hugepages" "${size##*:}\n"
  put "/sys/kernel/mm/hugepages/hugepages-${size%%:*}/free_hugepages" "${size##*:}\n"
done
put /proc/mounts 'sysfs /sys sysfs rw 0 0\nproc /proc proc rw 0 0\nnodev /dev/hugepages-1Gi hugetlbfs rw,relatime,pagesize=1024M 0 0\nnodev /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n'
put /proc/net/route 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\neth0\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\neth0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n'
mkdir -p "$r/sys/kernel/iommu_groups" "$r/sys/bus/pci/drivers/ena" "$r/sys/bus/pci/drivers/vfio-pci"
put /sys/bus/pci/drivers_probe ''
put /sys/module/vfio/parameters/enable_unsafe_noiommu_mode 'Y\n'

# Two ENAs: 0000:00:05.0 (eth0, ena) and 0000:00:06.0 (vfio-pci, was eth1).
ena() {  # ena ADDRESS DRIVER OVERRIDE [IFNAME]
  local dev=/sys/devices/pci0000:00/$1
  put "$dev/vendor" '0x1d0f\n'
  put "$dev/device" '0xec20\n'
  put "$dev/class" '0x020000\n'
  put "$dev/numa_node" '-1\n'
  put "$dev/driver_override" "$3\n"
  link "$dev/driver" "../../../bus/pci/drivers/$2"
  link "/sys/bus/pci/devices/$1" "../../../devices/pci0000:00/$1"
  if [ -n "${4:-}" ]; then
    put "$dev/net/$4/address" '02:00:00:00:05:00\n'
    link "$dev/net/$4/device" "../../../$1"
    link "/sys/class/net/$4" "../../devices/pci0000:00/$1/net/$4"
  fi
}
ena 0000:00:05.0 ena '(null)' eth0
ena 0000:00:06.0 vfio-pci vfio-pci
put /var/lib/ena-dpdk/nodeprep-state.json '{"interfaces": {"eth1": "0000:00:06.0"}}\n'

cat >"$tmp/config.json" <<'JSON'
{"nodeprep": {
  "hugepages": {"1G": 4, "2M": 0, "perNumaNode": false, "persist": "auto"},
  "mounts": [{"path": "/dev/hugepages-1Gi", "pageSize": "1G"}, {"path": "/dev/hugepages", "pageSize": "2M"}],
  "vfio": {"noiommu": "auto", "driver": "vfio-pci"},
  "bind": {"pciAddresses": [], "interfaces": ["eth1"], "allExceptPrimary": false},
  "hostExec": "direct"}}
JSON

# An empty PATH directory: a no-op run must not need any host command.
mkdir -p "$tmp/bin"
run() { PATH=$tmp/bin "$bin" --config "$tmp/config.json" --root "$r" >"$tmp/out" 2>"$tmp/err"; }

digest() { (cd "$r" && find . -printf '%p %l %m\n' -type f -exec cat {} + 2>/dev/null | sha256sum); }
before=$(digest)
if ! run; then
  echo "nodeprep_bench: the prepared host is not ready (exit $?):" >&2
  cat "$tmp/err" "$tmp/out" >&2
  exit 1
fi
if grep -Eq '"status": "(changed|planned|failed|refused)"' "$tmp/out"; then
  echo "nodeprep_bench: the run on the prepared host was not a no-op:" >&2
  cat "$tmp/out" >&2
  exit 1
fi
[ "$(digest)" = "$before" ] || { echo "nodeprep_bench: the no-op run wrote to the host tree" >&2; exit 1; }
[ -z "${SHOW_REPORT:-}" ] || cat "$tmp/out"

times=()
for ((i = 0; i < runs; i++)); do
  start=$EPOCHREALTIME
  run
  end=$EPOCHREALTIME
  # EPOCHREALTIME is "seconds.microseconds"; keep integer microseconds.
  times+=("$((10#${end/./} - 10#${start/./}))")
done
# min / median / p99 / max and the target: tests/bench/benchlib.py (exit 1 when it is missed).
printf '%s\n' "${times[@]}" >"$tmp/times.us"
python3 "$(dirname "$0")/benchlib.py" latency-report --name "nodeprep no-op run (prepared host)" \
  --target-ms "$target_ms" "$tmp/times.us"
