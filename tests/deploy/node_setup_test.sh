#!/usr/bin/env bash
# deploy/eks/src/node-setup.sh (the EC2 user data step before the kubelet) on a fake host: a
# fake instance metadata service behind a fake curl, a fake aws CLI that attaches ENIs by adding
# them to the metadata, fake grubby and systemctl; /proc, /sys and /var under ENA_DPDK_NODE_ROOT.
# Asserts the exact AWS calls, the kernel arguments, the reboot decision and the exit status.
# Usage: node_setup_test.sh
# shellcheck disable=SC2016 # single-quoted conditions and fake scripts expand later
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd -P)
script=$repo/deploy/eks/src/node-setup.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

fakes=$tmp/bin
mkdir -p "$fakes"
cat >"$fakes/curl" <<'EOF'
#!/bin/bash
# curl -sf [-X PUT] [-H ...] URL: answers from the directory $FAKE_IMDS.
url=${*: -1}
if [[ " $* " == *" -X PUT "* ]]; then echo token; exit 0; fi
path=${url#http://169.254.169.254/latest/meta-data/}
if [[ $path == */ || -z $path ]]; then
  [ -d "$FAKE_IMDS/$path" ] || exit 22
  for e in "$FAKE_IMDS/$path"*; do [ -d "$e" ] && echo "${e##*/}/" || echo "${e##*/}"; done
  exit 0
fi
[ -f "$FAKE_IMDS/$path" ] || exit 22
cat "$FAKE_IMDS/$path"
EOF
cat >"$fakes/aws" <<'EOF'
#!/bin/bash
echo "aws $*" >>"$FAKE_LOG"
case "$2" in
  create-network-interface) echo eni-0123456789abcdef0 ;;
  attach-network-interface)
    [ "${FAKE_ATTACH_FAIL:-0}" = 1 ] && { echo "attach failed" >&2; exit 255; }
    mkdir -p "$FAKE_IMDS/network/interfaces/macs/0a:00:00:00:00:02"
    echo 1 >"$FAKE_IMDS/network/interfaces/macs/0a:00:00:00:00:02/device-number"
    echo eni-0123456789abcdef0 >"$FAKE_IMDS/network/interfaces/macs/0a:00:00:00:00:02/interface-id"
    echo eni-attach-0123 ;;
  describe-network-interfaces) echo "${FAKE_NO_MANAGE:-None}" ;;
esac
EOF
cat >"$fakes/grubby" <<'EOF'
#!/bin/bash
echo "grubby $*" >>"$FAKE_LOG"
case "$1" in
  --update-kernel=ALL) echo "${2#--args=}" >"$FAKE_STATE/grubby-args" ;;
  --info=DEFAULT) echo "args=\"ro console=ttyS0 $(cat "$FAKE_STATE/grubby-args" 2>/dev/null)\"" ;;
esac
EOF
printf '#!/bin/bash\necho "systemctl $*" >>"$FAKE_LOG"\n' >"$fakes/systemctl"
printf '#!/bin/bash\necho "sleep $*" >>"$FAKE_LOG"\n' >"$fakes/sleep"
chmod +x "$fakes"/*

# host [ENI_AT_1] [CMDLINE] [NR_1G_PAGES]: a fresh fake host in $tmp/host; ENI_AT_1 "yes": the
# DPDK ENI an earlier run attached (and remembered), "foreign": an ENI the script did not attach
host() {
  rm -rf "$tmp/host"
  local imds=$tmp/host/imds root=$tmp/host/root
  mkdir -p "$imds/network/interfaces/macs/0a:00:00:00:00:01" "$imds/placement" "$root/proc" \
    "$root/sys/kernel/mm/hugepages/hugepages-1048576kB" "$tmp/host/state"
  echo i-0abc >"$imds/instance-id"
  echo us-west-2 >"$imds/placement/region"
  echo 0 >"$imds/network/interfaces/macs/0a:00:00:00:00:01/device-number"
  echo subnet-primary >"$imds/network/interfaces/macs/0a:00:00:00:00:01/subnet-id"
  printf 'sg-1\nsg-2\n' >"$imds/network/interfaces/macs/0a:00:00:00:00:01/security-group-ids"
  if [ "${1:-no}" != no ]; then
    mkdir -p "$imds/network/interfaces/macs/0a:00:00:00:00:09"
    echo 1 >"$imds/network/interfaces/macs/0a:00:00:00:00:09/device-number"
    echo eni-0999999999999999a >"$imds/network/interfaces/macs/0a:00:00:00:00:09/interface-id"
  fi
  if [ "${1:-no}" = yes ]; then
    mkdir -p "$root/var/lib/ena-dpdk"
    echo eni-0999999999999999a >"$root/var/lib/ena-dpdk/dpdk-eni"
  fi
  echo "BOOT_IMAGE=/vmlinuz ro ${2:-}" >"$root/proc/cmdline"
  echo "${3:-0}" >"$root/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"
  : >"$tmp/host/log"
}
# run [ENV=VALUE...]: the script on the fake host; sets rc, stderr in $tmp/host/err
run() {
  env PATH="$fakes:$PATH" FAKE_IMDS="$tmp/host/imds" FAKE_LOG="$tmp/host/log" \
    FAKE_STATE="$tmp/host/state" ENA_DPDK_NODE_ROOT="$tmp/host/root" ENA_DPDK_HUGEPAGES_1G=4 \
    "$@" bash "$script" >/dev/null 2>"$tmp/host/err"
  rc=$?
}
check() {  # check DESCRIPTION CONDITION...
  local what=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
    echo "ok: $what"
  else
    failed=$((failed + 1))
    echo "FAIL: $what (rc=$rc)"
    sed 's/^/    log: /' "$tmp/host/log"
    sed 's/^/    err: /' "$tmp/host/err"
  fi
}
logged() { grep -qxF -- "$1" "$tmp/host/log"; }
not_logged() { ! grep -q -- "$1" "$tmp/host/log"; }
args="default_hugepagesz=1G hugepagesz=1G hugepages=4"

host yes "$args" 4
run
check "prepared node: exit 0, no AWS call, no grubby" \
  eval '[ "$rc" -eq 0 ] && [ ! -s "$tmp/host/log" ]'

host no "" 0
run ENA_DPDK_NO_REBOOT=1
check "fresh node: creates the ENI in the primary's subnet with its groups, 15 IPs, no_manage tag" \
  logged "aws ec2 create-network-interface --region us-west-2 --subnet-id subnet-primary --groups sg-1 sg-2 --secondary-private-ip-address-count 15 --description ena-dpdk DPDK ENI of i-0abc --tag-specifications ResourceType=network-interface,Tags=[{Key=node.k8s.amazonaws.com/no_manage,Value=true},{Key=ena-dpdk.aws/instance,Value=i-0abc}] --query NetworkInterface.NetworkInterfaceId --output text"
check "fresh node: attaches it at device index 1, deleted on termination" \
  eval 'logged "aws ec2 attach-network-interface --region us-west-2 --network-interface-id eni-0123456789abcdef0 --instance-id i-0abc --device-index 1 --query AttachmentId --output text" && logged "aws ec2 modify-network-interface-attribute --region us-west-2 --network-interface-id eni-0123456789abcdef0 --attachment AttachmentId=eni-attach-0123,DeleteOnTermination=true"'
check "fresh node: remembers the ENI it attached" \
  eval '[ "$(cat "$tmp/host/root/var/lib/ena-dpdk/dpdk-eni")" = eni-0123456789abcdef0 ]'
check "fresh node: writes the hugepage arguments, remembers them, exit 3, no reboot when told" \
  eval '[ "$rc" -eq 3 ] && logged "grubby --update-kernel=ALL --args=$args" && [ "$(cat "$tmp/host/root/var/lib/ena-dpdk/node-setup-rebooted")" = "$args" ] && not_logged systemctl'

host yes "" 0
run
check "reboot due: systemctl --no-block reboot, and waits for it" \
  eval '[ "$rc" -eq 3 ] && logged "systemctl --no-block reboot" && logged "sleep 600"'

host yes "" 0
mkdir -p "$tmp/host/root/var/lib/ena-dpdk"
echo "$args" >"$tmp/host/root/var/lib/ena-dpdk/node-setup-rebooted"
run
check "rebooted for these arguments and still without them: error, no second reboot" \
  eval '[ "$rc" -eq 1 ] && not_logged grubby && not_logged systemctl && grep -q "not rebooting again" "$tmp/host/err"'

host yes "$args" 2
run
check "booted with the arguments but short of pages: error naming the count" \
  eval '[ "$rc" -eq 1 ] && grep -q "has 2 1G pages" "$tmp/host/err" && not_logged systemctl'

host foreign "$args" 4
run FAKE_NO_MANAGE=true
check "an ENI at device index 1 with the no_manage tag: checked once, remembered, no other AWS call" \
  eval '[ "$rc" -eq 0 ] && [ "$(grep -c "^aws " "$tmp/host/log")" -eq 1 ] && logged "aws ec2 describe-network-interfaces --region us-west-2 --network-interface-ids eni-0999999999999999a --query NetworkInterfaces[0].TagSet[?Key=='"'"'node.k8s.amazonaws.com/no_manage'"'"'].Value --output text" && [ "$(cat "$tmp/host/root/var/lib/ena-dpdk/dpdk-eni")" = eni-0999999999999999a ]'

host foreign "$args" 4
run
check "an ENI at device index 1 without the no_manage tag (the VPC CNI's): error naming the tag, no ENI created, nothing remembered" \
  eval '[ "$rc" -eq 1 ] && grep -q "lacks the tag node.k8s.amazonaws.com/no_manage=true" "$tmp/host/err" && not_logged create-network-interface && not_logged attach-network-interface && [ ! -e "$tmp/host/root/var/lib/ena-dpdk/dpdk-eni" ]'

host no "$args" 4
run FAKE_ATTACH_FAIL=1
check "attach fails: the created ENI is deleted, failure" \
  eval '[ "$rc" -ne 0 ] && logged "aws ec2 delete-network-interface --region us-west-2 --network-interface-id eni-0123456789abcdef0"'

host no "$args" 4
run ENA_DPDK_ENI_SUBNET_ID=subnet-dpdk ENA_DPDK_ENI_SECONDARY_IPS=7
check "subnet and IP count from the settings" \
  eval '[ "$rc" -eq 0 ] && grep -q -- "--subnet-id subnet-dpdk --groups sg-1 sg-2 --secondary-private-ip-address-count 7 " "$tmp/host/log"'

host no "$args" 4
run ENA_DPDK_SKIP_ENI=1
check "ENA_DPDK_SKIP_ENI: no AWS call" eval '[ "$rc" -eq 0 ] && not_logged aws'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
