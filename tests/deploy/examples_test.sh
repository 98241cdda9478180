#!/usr/bin/env bash
# The example pods in deploy/examples: valid objects; no privileged flag, no hostPath; the
# shared one non-root in the chart's slot group without capabilities, the dedicated one with
# IPC_LOCK; hugepages and the device plugin's resource; a network the chart creates; their commands,
# run against a fake attachment (a private mount namespace puts ena-dpdk.json where the device
# plugin would mount it) with a fake dpdk-testpmd, start testpmd with the right devices.
# Usage: examples_test.sh
# shellcheck disable=SC2016 # single quotes: JavaScript expressions
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
examples=$repo/deploy/examples
"$helm" template ena-dpdk "$repo/charts/ena-dpdk" --namespace kube-system >"$tmp/chart.yaml" || { echo "FATAL: helm template"; exit 1; }
nads=$(q "$tmp/chart.yaml" 'kind("NetworkAttachmentDefinition").map(d => d.metadata.name)')
image=$(q "$tmp/chart.yaml" 'pod.containers[0].image')
slot_group=$(q "$tmp/chart.yaml" 'config.deviceplugin.ena.slotGroup')

for f in "$examples"/testpmd-shared.yaml "$examples"/testpmd-dedicated.yaml; do
  name=$(basename "$f" .yaml)
  check "$name: valid" node "$repo/tests/deploy/validate.mjs" k8s "$f"
  check "$name: no privileged flag, no hostPath, drops every capability" \
    expect "$f" '[pod.containers.some(x => (x.securityContext || {}).privileged), (pod.volumes || []).some(v => v.hostPath), pod.containers[0].securityContext.capabilities.drop, pod.containers[0].securityContext.allowPrivilegeEscalation]' \
    '[false,false,["ALL"],false]'
  check "$name: its network is one the chart creates, its image the chart's" \
    expect "$f" '['"$nads"'.includes(kind("Pod")[0].metadata.annotations["k8s.v1.cni.cncf.io/networks"]), pod.containers[0].image]' \
    "[true,$image]"
  check "$name: tolerates the DPDK node taint and selects DPDK nodes" \
    expect "$f" '[pod.nodeSelector["dpdk.aws/node"], pod.tolerations[0].key]' '["true","dpdk.aws/dedicated"]'
done
check "testpmd-shared: one dpdk.aws/ena attachment" \
  expect "$examples/testpmd-shared.yaml" 'pod.containers[0].resources.limits["dpdk.aws/ena"]' '"1"'
check "testpmd-dedicated: one dpdk.aws/ena-dedicated device" \
  expect "$examples/testpmd-dedicated.yaml" 'pod.containers[0].resources.limits["dpdk.aws/ena-dedicated"]' '"1"'
check "testpmd-shared: non-root in the chart's slot group (fsGroup), read-only root, no capability" \
  expect "$examples/testpmd-shared.yaml" '[pod.securityContext.runAsNonRoot, pod.securityContext.runAsUser, pod.securityContext.fsGroup, pod.containers[0].securityContext.readOnlyRootFilesystem, pod.containers[0].securityContext.capabilities.add, pod.containers[0].securityContext.runAsUser]' \
  "[true,1000,$slot_group,true,null,null]"
check "testpmd-shared: the device plugin's 1G pages only, a writable /tmp for EAL" \
  expect "$examples/testpmd-shared.yaml" '[pod.containers[0].resources.limits["dpdk.aws/hugepages-1Gi"], Object.keys(pod.containers[0].resources.limits).filter(k => k.startsWith("hugepages-")), pod.containers[0].volumeMounts.map(m => m.mountPath), pod.volumes.map(v => Object.keys(v).join("/"))]' \
  '["1",[],["/tmp"],["name/emptyDir"]]'
check "testpmd-dedicated: root with IPC_LOCK (vfio), the kubelet's hugepages" \
  expect "$examples/testpmd-dedicated.yaml" '[pod.containers[0].securityContext.runAsUser, pod.containers[0].securityContext.capabilities.add.includes("IPC_LOCK"), pod.containers[0].resources.limits["hugepages-1Gi"], pod.volumes[0].emptyDir.medium]' \
  '[0,true,"1Gi","HugePages-1Gi"]'

# The commands, with a fake dpdk-testpmd that prints its arguments.
mkdir -p "$tmp/bin"
printf '#!/bin/sh\necho "dpdk-testpmd $*"\n' >"$tmp/bin/dpdk-testpmd"
chmod +x "$tmp/bin/dpdk-testpmd"
q "$examples/testpmd-shared.yaml" 'pod.containers[0].command[2]' |
  node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0, "utf8")))' >"$tmp/shared.sh"
q "$examples/testpmd-dedicated.yaml" 'pod.containers[0].command[2]' |
  node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0, "utf8")))' >"$tmp/dedicated.sh"
check "the example commands pass shellcheck" shellcheck -s bash "$tmp/shared.sh" "$tmp/dedicated.sh"

# ena-dpdk.json as ena-dpdk-cni writes it (cni/slot_files.cc: sorted keys, two-space indent).
mkdir -p "$tmp/slot"
cat >"$tmp/slot/ena-dpdk.json" <<'JSON'
{
  "cniNetwork": "ena-dpdk-shared",
  "containerID": "0123456789ab",
  "deviceID": "eni1-07",
  "gateway": "10.0.1.1",
  "ifname": "net1",
  "ips": [
    "10.0.1.23/24"
  ],
  "mac": "02:11:22:33:44:55",
  "mtu": 9001,
  "network": "eni1",
  "queues": 2,
  "socketPath": "/var/run/vhost-user/eni1-07/vhost.sock",
  "vhostMode": "server"
}
JSON
run_shared() {
  unshare --mount --propagation private bash -c '
    mount -t tmpfs tmpfs /run &&
    mkdir -p /run/vhost-user/eni1-07 &&
    cp "$1/slot/ena-dpdk.json" /run/vhost-user/eni1-07/ &&
    PATH="$1/bin:$PATH" ENA_DPDK_DEVICES=eni1-07,eni1-08 HOSTNAME=pod-a bash "$1/shared.sh"' _ "$tmp"
}
eal='--huge-dir /dev/hugepages-1Gi --file-prefix enanode0-1 --huge-unlink=never --single-file-segments --socket-mem 1024'
check "testpmd-shared: the allocation's EAL arguments, virtio_user on the attachment's socket, mode, queues and MAC" \
  bash -c "$(declare -f run_shared); tmp='$tmp'; ENA_DPDK_HUGEPAGES_1GI_EAL='$eal' run_shared | grep -qxF -- 'dpdk-testpmd $eal --iova-mode va --no-pci --vdev net_virtio_user0,path=/var/run/vhost-user/eni1-07/vhost.sock,server=1,queues=2,mac=02:11:22:33:44:55 -- --forward-mode=icmpecho --stats-period 10 --total-num-mbufs 16384 --no-mlockall --rxq 2 --txq 2'"
check "testpmd-shared: fails without a dpdk.aws/hugepages-1Gi allocation" \
  fails_with "no dpdk.aws/hugepages-1Gi allocation" bash -c "$(declare -f run_shared); tmp='$tmp'; unset ENA_DPDK_HUGEPAGES_1GI_EAL; run_shared"
check "testpmd-dedicated: the ENA PMD on the allocated PCI address" \
  bash -c "PATH='$tmp/bin':\$PATH PCIDEVICE_DPDK_AWS_ENA_DEDICATED=0000:00:07.0,0000:00:08.0 PCIDEVICE_DPDK_AWS_ENA_DEDICATED_INFO='{}' HOSTNAME=pod-b bash '$tmp/dedicated.sh' | grep -qxF -- 'dpdk-testpmd --file-prefix testpmd-pod-b --huge-dir /dev/hugepages -a 0000:00:07.0 -- --forward-mode=icmpecho --stats-period 10 --total-num-mbufs 16384'"

finish
