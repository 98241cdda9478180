#!/usr/bin/env bash
# Checks the command-line contract every binary shares (DESIGN.md): --help and --version answer,
# a bad flag or a bad config file gives one clear line on stderr and a non-zero exit.
# Usage: binaries_cli_test.sh BUILD_DIR
set -u
build=${1:?usage: $0 BUILD_DIR}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

check() {  # check DESCRIPTION CONDITION...
  local what=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: $what"
    echo "  stdout: $(head -c 400 "$tmp/out")"
    echo "  stderr: $(head -c 400 "$tmp/err")"
  fi
}
run() {  # run BINARY ARGS... (stdin from $tmp/in); sets rc
  "$@" <"$tmp/in" >"$tmp/out" 2>"$tmp/err"
  rc=$?
}
lines() { wc -l <"$1" | tr -d ' '; }

: >"$tmp/in"
echo '{"dataplane": {"networks": [{"name": "eni1", "mode": "bogus"}]}}' >"$tmp/bad.json"
echo '{"dataplane": ' >"$tmp/broken.json"

daemons=(vhostuser/ena-dpdk-dataplane deviceplugin/ena-dpdk-deviceplugin nodeprep/ena-dpdk-nodeprep)
all=("${daemons[@]}" vhostuser/ena-dpdk-ctl cni/ena-dpdk-cni ipam/ena-dpdk-ipam)

for rel in "${all[@]}"; do
  bin="$build/$rel"
  name=$(basename "$rel")
  check "$name exists" test -x "$bin"
  run "$bin" --help
  check "$name --help exits 0" test "$rc" -eq 0
  check "$name --help prints usage" grep -q "^Usage: $name " "$tmp/out"
  run "$bin" --version
  check "$name --version exits 0" test "$rc" -eq 0
  check "$name --version prints name and version" grep -Eq "^$name [0-9]+\.[0-9]+\.[0-9]+ " "$tmp/out"
  run "$bin" --no-such-flag
  check "$name rejects a bad flag" test "$rc" -ne 0
  check "$name: bad flag gives one line on stderr" test "$(lines "$tmp/err")" -eq 1
  check "$name: bad flag line names the flag" grep -q "^$name: unknown flag --no-such-flag" "$tmp/err"
done

for rel in "${daemons[@]}"; do
  bin="$build/$rel"
  name=$(basename "$rel")
  run "$bin" --config "$tmp/missing.json"
  check "$name rejects a missing config" test "$rc" -ne 0
  check "$name: missing config is one line naming the file" \
    bash -c "[ \$(wc -l <'$tmp/err') -eq 1 ] && grep -q 'missing.json' '$tmp/err'"
  run "$bin" --config "$tmp/broken.json"
  check "$name rejects malformed JSON" test "$rc" -ne 0
  check "$name: malformed JSON is one line" test "$(lines "$tmp/err")" -eq 1
  run "$bin" --log-level loud --config "$tmp/broken.json"
  check "$name rejects a bad --log-level" grep -q "log-level" "$tmp/err"
  run "$bin" --log-format text --config "$tmp/broken.json"
  check "$name rejects a bad --log-format" \
    grep -qx "$name: --log-format: \"text\" is not one of logfmt, json" "$tmp/err"
done

# Both metrics endpoints take --metrics-address over the config's (the chart passes the node's
# address); a malformed one is refused before anything starts, IPv6 only in brackets.
for rel in vhostuser/ena-dpdk-dataplane deviceplugin/ena-dpdk-deviceplugin; do
  bin="$build/$rel"
  name=$(basename "$rel")
  run "$bin" --help
  check "$name --help lists --metrics-address" grep -q -- "--metrics-address ADDR" "$tmp/out"
  run "$bin" --metrics-address fd00::1:9640 --config "$tmp/missing.json"
  check "$name refuses an unbracketed IPv6 --metrics-address" test "$rc" -eq 2
  check "$name: bad --metrics-address is one line naming the flag" \
    bash -c "[ \$(wc -l <'$tmp/err') -eq 1 ] && grep -q '^$name: --metrics-address: .*\[IP\]:PORT' '$tmp/err'"
done
# --log-format (every binary, common::FlagParser): one event per line, logfmt or JSON.
for format in logfmt json; do
  run "$build/vhostuser/ena-dpdk-ctl" --socket "$tmp/none.sock" --timeout 1 --log-level debug \
    --log-format "$format" health
  check "ctl --log-format $format: the failed call is logged" grep -q "dataplane call" "$tmp/err"
done
check "ctl --log-format json: each log line is a JSON object" \
  grep -q '^{"ts":"[0-9T:.-]*Z","level":"debug","component":"ctl","msg":"dataplane call","method":"Health.Check"' "$tmp/err"
run "$build/vhostuser/ena-dpdk-ctl" --socket "$tmp/none.sock" --timeout 1 --log-level debug health
check "ctl: logfmt by default" \
  grep -Eq '^ts=[0-9T:.-]+Z level=debug component=ctl msg="dataplane call" method=Health.Check ' "$tmp/err"

run "$build/vhostuser/ena-dpdk-dataplane" --config "$tmp/bad.json"
check "dataplane names the bad JSON path" \
  grep -q 'dataplane.networks\[0\].mode: expected "vpc" or "l2"' "$tmp/err"

# CNI plugins follow the CNI spec: errors as JSON on stdout.
for path in cni/ena-dpdk-cni ipam/ena-dpdk-ipam; do
  name=${path#*/}
  bin="$build/$path"
  echo '{"cniVersion": "1.0.0"}' >"$tmp/in"
  CNI_COMMAND=VERSION run "$bin"
  check "$name VERSION exits 0" test "$rc" -eq 0
  check "$name VERSION lists 0.3.0 to 1.1.0" \
    grep -q '"supportedVersions":\["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"\]' "$tmp/out"
  echo '{"cniVersion": ' >"$tmp/in"
  CNI_COMMAND=ADD run "$bin"
  check "$name: undecodable config gives code 6" grep -q '"code":6' "$tmp/out"
  check "$name: undecodable config exits non-zero" test "$rc" -ne 0
  echo '{"cniVersion": "1.0.0", "name": "n", "type": "t"}' >"$tmp/in"
  CNI_COMMAND=BOGUS run "$bin"
  check "$name: unknown CNI_COMMAND gives code 4" grep -q '"code":4' "$tmp/out"
  env -u CNI_COMMAND "$bin" <"$tmp/in" >"$tmp/out" 2>"$tmp/err"
  check "$name: missing CNI_COMMAND gives code 4" grep -q '"code":4' "$tmp/out"
  : >"$tmp/in"
done

echo "binaries_cli_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
