#!/bin/bash
# ena-dpdk node setup, run as root from EC2 user data before the kubelet starts (the AL2023 and AL2
# user data and the eksctl node group in deploy/eks embed this file; scripts/render-manifests.sh
# puts it there). Two steps, each idempotent:
#
#  1. The DPDK ENI: unless an ENI is attached at device index 1 already, create one in the
#     instance's subnet (or the subnet ENA_DPDK_ENI_SUBNET_ID names) with the primary ENI's
#     security groups and ENA_DPDK_ENI_SECONDARY_IPS secondary private IPs, tag it
#     node.k8s.amazonaws.com/no_manage=true so the VPC CNI leaves it alone, attach it at device
#     index 1 (PCI 0000:00:06.0 on Nitro), delete it on termination, and remember its ID in
#     /var/lib/ena-dpdk/dpdk-eni. Its secondary IPs are the pod IPs ena-dpdk-ipam hands out (it
#     reads them from the instance metadata). Device index 1 is free because this runs before the
#     kubelet, so before aws-node's first start; the VPC CNI attaches its ENIs at the lowest free
#     index, so they take 2, 3, ... (docs/eks.md, "Beside the AWS VPC CNI"). An ENI found at
#     device index 1 that is not the remembered one must carry the no_manage tag; otherwise it is
#     the VPC CNI's (it got there first, e.g. after this script failed once) and the script stops
#     rather than hand it to DPDK.
#     Needs the node role to allow ec2:CreateNetworkInterface, ec2:AttachNetworkInterface,
#     ec2:ModifyNetworkInterfaceAttribute, ec2:DeleteNetworkInterface, ec2:CreateTags and
#     ec2:DescribeNetworkInterfaces (deploy/eks/eksctl-cluster.yaml attaches such a policy).
#  2. 1G hugepages on the kernel command line (default_hugepagesz=1G hugepagesz=1G hugepages=N,
#     with grubby), so that the kubelet sees them when it starts. When the running kernel lacks
#     them, the script writes them and reboots once (exit status 3 tells the caller it did);
#     a kernel that booted with them but has fewer pages is an error, never a reboot loop.
#
# Settings (environment): ENA_DPDK_HUGEPAGES_1G (default 8), ENA_DPDK_ENI_SECONDARY_IPS (default
# 15), ENA_DPDK_ENI_SUBNET_ID (default: the primary ENI's subnet), ENA_DPDK_SKIP_ENI=1 (the launch
# template attaches the ENI), ENA_DPDK_NO_REBOOT=1 (only write the kernel arguments).
# ENA_DPDK_NODE_ROOT prefixes /proc, /sys and /var (tests run the script on a fake host; the
# metadata service, aws, grubby and systemctl are found through PATH).
set -euo pipefail

root=${ENA_DPDK_NODE_ROOT:-}
hugepages=${ENA_DPDK_HUGEPAGES_1G:-8}
secondary_ips=${ENA_DPDK_ENI_SECONDARY_IPS:-15}
log() { echo "ena-dpdk-node-setup: $*" >&2; }
die() { log "$*"; exit 1; }

imds_token=""
imds() {  # imds PATH: one instance metadata value (IMDSv2)
  if [ -z "$imds_token" ]; then
    imds_token=$(curl -sf -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 300" \
      http://169.254.169.254/latest/api/token) || die "instance metadata service unreachable"
  fi
  curl -sf -H "X-aws-ec2-metadata-token: $imds_token" "http://169.254.169.254/latest/meta-data/$1"
}

mac_at_index() {  # mac_at_index N: the MAC of the ENI attached at device index N, if any
  local mac
  for mac in $(imds network/interfaces/macs/); do
    mac=${mac%/}
    if [ "$(imds "network/interfaces/macs/$mac/device-number")" = "$1" ]; then
      echo "$mac"
      return 0
    fi
  done
  return 1
}

record=$root/var/lib/ena-dpdk/dpdk-eni
no_manage_tag=node.k8s.amazonaws.com/no_manage

remember_eni() {  # remember_eni ENI_ID: the DPDK ENI of this instance
  mkdir -p "${record%/*}"
  echo "$1" >"$record"
}

# Succeeds when the ENI with MAC $1 is the DPDK ENI: the one this script attached, or one that
# carries the no_manage tag (a launch template or an operator attached it).
is_dpdk_eni() {
  local id tag
  id=$(imds "network/interfaces/macs/$1/interface-id") || die "no interface-id for ENI $1"
  if [ "$(cat "$record" 2>/dev/null)" = "$id" ]; then
    return 0
  fi
  command -v aws >/dev/null || die "the AWS CLI is needed to check the tags of $id at device index 1"
  tag=$(aws ec2 describe-network-interfaces --region "$(imds placement/region)" \
    --network-interface-ids "$id" \
    --query "NetworkInterfaces[0].TagSet[?Key=='$no_manage_tag'].Value" --output text)
  [ "$tag" = true ] || return 1
  remember_eni "$id"
}

attach_eni() {
  if mac=$(mac_at_index 1); then
    is_dpdk_eni "$mac" ||
      die "the ENI at device index 1 ($mac) lacks the tag $no_manage_tag=true: it is not the DPDK ENI (the VPC CNI's?); detach it, or attach the DPDK ENI yourself and set ENA_DPDK_SKIP_ENI=1"
    log "ENI $mac is attached at device index 1 already"
    return 0
  fi
  command -v aws >/dev/null || die "the AWS CLI is needed to attach the DPDK ENI"
  local instance region primary subnet groups eni attachment deadline
  instance=$(imds instance-id)
  region=$(imds placement/region)
  primary=$(mac_at_index 0) || die "no primary ENI in the instance metadata"
  subnet=${ENA_DPDK_ENI_SUBNET_ID:-$(imds "network/interfaces/macs/$primary/subnet-id")}
  groups=$(imds "network/interfaces/macs/$primary/security-group-ids" | tr '\n' ' ')
  # shellcheck disable=SC2086 # one word per security group
  eni=$(aws ec2 create-network-interface --region "$region" --subnet-id "$subnet" \
    --groups $groups --secondary-private-ip-address-count "$secondary_ips" \
    --description "ena-dpdk DPDK ENI of $instance" \
    --tag-specifications "ResourceType=network-interface,Tags=[{Key=$no_manage_tag,Value=true},{Key=ena-dpdk.aws/instance,Value=$instance}]" \
    --query NetworkInterface.NetworkInterfaceId --output text)
  log "created $eni in $subnet with $secondary_ips secondary IPs"
  # Do not leave an ENI behind that nothing deletes.
  trap 'aws ec2 delete-network-interface --region "$region" --network-interface-id "$eni" || true' ERR
  attachment=$(aws ec2 attach-network-interface --region "$region" --network-interface-id "$eni" \
    --instance-id "$instance" --device-index 1 --query AttachmentId --output text)
  aws ec2 modify-network-interface-attribute --region "$region" --network-interface-id "$eni" \
    --attachment "AttachmentId=$attachment,DeleteOnTermination=true"
  trap - ERR
  remember_eni "$eni"
  deadline=$((SECONDS + 120))
  until mac=$(mac_at_index 1); do
    [ "$SECONDS" -lt "$deadline" ] || die "$eni attached but not in the instance metadata after 120 s"
    sleep 2
  done
  log "attached $eni ($mac) at device index 1"
}

# Returns 0 when the running kernel has the 1G pages, 3 after writing the arguments (reboot due).
ensure_hugepages() {
  local args="default_hugepagesz=1G hugepagesz=1G hugepages=$hugepages"
  local nr=$root/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages
  local marker=$root/var/lib/ena-dpdk/node-setup-rebooted
  if grep -qw "hugepages=$hugepages" "$root/proc/cmdline" && grep -qw "hugepagesz=1G" "$root/proc/cmdline"; then
    [ "$(cat "$nr" 2>/dev/null || echo 0)" -ge "$hugepages" ] ||
      die "the kernel booted with $args but has $(cat "$nr" 2>/dev/null || echo 0) 1G pages (not enough memory?)"
    log "$hugepages 1G hugepages reserved at boot"
    return 0
  fi
  if [ "$(cat "$marker" 2>/dev/null)" = "$args" ]; then
    die "rebooted once for $args and the kernel still lacks them; not rebooting again"
  fi
  command -v grubby >/dev/null || die "grubby is needed to set the kernel arguments"
  grubby --update-kernel=ALL --args="$args"
  grubby --info=DEFAULT | grep -qw "hugepages=$hugepages" || die "grubby did not keep $args"
  mkdir -p "${marker%/*}"
  echo "$args" >"$marker"
  log "kernel arguments set: $args"
  return 3
}

if [ "${ENA_DPDK_SKIP_ENI:-0}" != 1 ]; then
  attach_eni
fi
status=0
ensure_hugepages || status=$?
if [ "$status" -eq 3 ] && [ "${ENA_DPDK_NO_REBOOT:-0}" != 1 ]; then
  log "rebooting for the hugepages"
  systemctl --no-block reboot
  # Keep cloud-init (and so the kubelet start that follows it) waiting until the reboot stops us.
  sleep 600
fi
exit "$status"
