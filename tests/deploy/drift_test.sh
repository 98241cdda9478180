#!/usr/bin/env bash
# The rendered files in deploy/ are what scripts/render-manifests.sh makes from their sources
# (the chart with default values; the EKS user data and eksctl config from deploy/eks/src/).
# A difference fails with the diff and the command that fixes it.
# Usage: drift_test.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

check "scripts/render-manifests.sh renders" "$repo/scripts/render-manifests.sh" "$tmp/rendered"
for f in deploy/ena-dpdk.yaml deploy/eks/al2023-user-data.mime deploy/eks/al2-user-data.sh \
  deploy/eks/eksctl-cluster.yaml; do
  check "$f is up to date (else run scripts/render-manifests.sh)" diff -u "$repo/$f" "$tmp/rendered/$f"
done
check "deploy/eks/al2-user-data.sh is executable" test -x "$repo/deploy/eks/al2-user-data.sh"

finish
