# shellcheck shell=bash
# Shared shell helpers for integration tests that run real DPDK processes (sourced, not run).
# Provides: hugepage setup, a private hugetlbfs mount, testpmd "pods", assertions and cleanup.

# ensure_hugepages N: make sure at least N free 2M pages exist (only ever adds pages).
ensure_hugepages() {
  local want=$1 f=/sys/kernel/mm/hugepages/hugepages-2048kB
  local free nr
  free=$(cat $f/free_hugepages)
  if [ "$free" -lt "$want" ]; then
    nr=$(cat $f/nr_hugepages)
    echo $((nr + want - free)) >$f/nr_hugepages
    free=$(cat $f/free_hugepages)
  fi
  if [ "$free" -lt "$want" ]; then
    echo "FATAL: need $want free 2M hugepages, have $free" >&2
    return 1
  fi
}

# require CMD...: fail loudly when a tool is missing.
require() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || { echo "FATAL: $c is required (scripts/deps.sh installs it)" >&2; exit 1; }
  done
}

T_PASSED=0
T_FAILED=0
# check DESCRIPTION COMMAND...: runs COMMAND, records pass/fail.
check() {
  local what=$1
  shift
  if "$@"; then
    T_PASSED=$((T_PASSED + 1))
    echo "ok: $what"
  else
    T_FAILED=$((T_FAILED + 1))
    echo "FAIL: $what"
  fi
}
summary() {
  echo "$1: $T_PASSED passed, $T_FAILED failed"
  [ "$T_FAILED" -eq 0 ]
}

# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds or time runs out.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  while ! "$@" 2>/dev/null; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.1
  done
}
