#!/usr/bin/env bash
# kubectl kustomize deploy/ renders the same objects as deploy/ena-dpdk.yaml, all valid, and an
# overlay that changes the image (as deploy/kustomization.yaml shows) changes every container.
# Usage: kustomize_test.sh
# shellcheck disable=SC2016 # single quotes: JavaScript expressions
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
export RENDERED=$repo/deploy/ena-dpdk.yaml

check "kubectl kustomize deploy/ renders" bash -c "'$kubectl' kustomize '$repo/deploy' >'$tmp/kustomized.yaml'"
check "every rendered object is valid" node "$repo/tests/deploy/validate.mjs" k8s "$tmp/kustomized.yaml"
check "the same objects as deploy/ena-dpdk.yaml" \
  expect "$tmp/kustomized.yaml" 'JSON.stringify(docs.map(d => d.kind + "/" + d.metadata.name).sort()) === JSON.stringify(require("yaml").parseAllDocuments(require("fs").readFileSync(process.env.RENDERED, "utf8")).map(d => d.toJS()).filter(d => d).map(d => d.kind + "/" + d.metadata.name).sort())' 'true'

mkdir -p "$tmp/overlay"
cat >"$tmp/overlay/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $(realpath --relative-to="$tmp/overlay" "$repo/deploy")
images:
  - name: localhost/ena-dpdk
    newName: 123456789012.dkr.ecr.us-west-2.amazonaws.com/ena-dpdk
    newTag: v1
YAML
check "an image overlay renders" bash -c "'$kubectl' kustomize '$tmp/overlay' >'$tmp/overlay.yaml'"
check "the overlay's image is in every container of both DaemonSets" \
  expect "$tmp/overlay.yaml" '[kind("DaemonSet").length, ...new Set([...pod.initContainers, ...pod.containers, ...dpod.containers].map(x => x.image))]' \
  '[2,"123456789012.dkr.ecr.us-west-2.amazonaws.com/ena-dpdk:v1"]'

finish
