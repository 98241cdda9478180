# check DESCRIPTION COMMAND...: the deploy tests' assertion (sourced, not run). Runs COMMAND,
# counts it in `passed` or `failed` and shows the last 40 lines of its output when it fails.
# The caller provides the scratch directory $tmp.
# shellcheck shell=bash disable=SC2034,SC2154 # counters for the sourcing scripts; $tmp is theirs
passed=0
failed=0
check() {
  local what=$1
  shift
  if "$@" >"$tmp/out" 2>&1; then
    passed=$((passed + 1))
    echo "ok: $what"
  else
    failed=$((failed + 1))
    echo "FAIL: $what"
    sed 's/^/    /' "$tmp/out" | tail -n 40
  fi
}
