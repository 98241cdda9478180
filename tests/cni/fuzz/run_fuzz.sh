#!/usr/bin/env bash
# Runs a libFuzzer binary for a bounded time over a scratch copy of its seed corpus, so the source
# tree is never written to. Usage: run_fuzz.sh FUZZER SEED_DIR SECONDS
set -eu
fuzzer=${1:?usage: $0 FUZZER SEED_DIR SECONDS}
seeds=${2:?}
seconds=${3:?}
[ -x "$fuzzer" ] || { echo "FATAL: $fuzzer is not built" >&2; exit 1; }
work=$(mktemp -d /tmp/cni-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus" "$work/artifacts"
"$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$work/corpus" "$seeds" || {
  rc=$?
  # Keep what crashed it where ctest ran (the build tree).
  rm -rf cni-fuzz-artifacts && cp -r "$work/artifacts" cni-fuzz-artifacts
  echo "fuzzer failed; reproducers in $(pwd)/cni-fuzz-artifacts" >&2
  exit $rc
}
