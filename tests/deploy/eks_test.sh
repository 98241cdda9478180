#!/usr/bin/env bash
# The EKS node-group bootstrap in deploy/eks: the AL2023 user data is a MIME multipart whose
# shell part is node-setup.sh (shellcheck-clean) and whose NodeConfig part is valid; the AL2 user
# data is a shellcheck-clean script that embeds node-setup.sh; the eksctl ClusterConfig is valid,
# its node group runs node-setup.sh before bootstrap with the NodeConfig's kubelet settings, and
# its labels and taints are what the chart's node selector and tolerations expect; the chart's
# attachments per network equal the secondary IPs the bootstrap gives the DPDK ENI.
# Usage: eks_test.sh
# shellcheck disable=SC2016 # single quotes: JavaScript expressions
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
eks=$repo/deploy/eks
command -v shellcheck >/dev/null || { echo "FATAL: shellcheck is missing (scripts/deps.sh)"; exit 1; }
command -v python3 >/dev/null || { echo "FATAL: python3 is missing (scripts/deps.sh)"; exit 1; }

# --- AL2023: MIME multipart ------------------------------------------------------------------------
mkdir -p "$tmp/parts"
python3 - "$eks/al2023-user-data.mime" "$tmp/parts" >"$tmp/mime.txt" 2>&1 <<'EOF'
import email, sys
message = email.message_from_binary_file(open(sys.argv[1], "rb"))
print(message.get_content_type(), message.get("MIME-Version"))
for i, part in enumerate(message.walk()):
    if part.is_multipart():
        continue
    name = f"{sys.argv[2]}/{i}"
    open(name, "wb").write(part.get_payload(decode=True))
    print(part.get_content_type(), name)
EOF
check "al2023: MIME multipart/mixed with a shell part and a NodeConfig part" \
  bash -c "diff <(awk '{print \$1, \$2}' '$tmp/mime.txt' | sed 's|$tmp/parts/[0-9]*|PART|') <(printf 'multipart/mixed 1.0\ntext/x-shellscript PART\napplication/node.eks.aws PART\n')"
shell_part=$(awk '$1 == "text/x-shellscript" {print $2}' "$tmp/mime.txt")
nodeconfig_part=$(awk '$1 == "application/node.eks.aws" {print $2}' "$tmp/mime.txt")
check "al2023: the shell part is deploy/eks/src/node-setup.sh" cmp "$shell_part" "$eks/src/node-setup.sh"
check "al2023: shellcheck passes on the shell part" shellcheck -s bash "$shell_part"
cp "$nodeconfig_part" "$tmp/nodeconfig.yaml"
check "al2023: the NodeConfig part is valid" node "$repo/tests/deploy/validate.mjs" k8s "$tmp/nodeconfig.yaml"
check "al2023: static CPU manager, single-numa-node topology manager (pod scope), static memory manager, reserved CPUs" \
  expect "$tmp/nodeconfig.yaml" '(({cpuManagerPolicy, topologyManagerPolicy, topologyManagerScope, memoryManagerPolicy, reservedSystemCPUs}) => [cpuManagerPolicy, topologyManagerPolicy, topologyManagerScope, memoryManagerPolicy, reservedSystemCPUs])(docs[0].spec.kubelet.config)' \
  '["static","single-numa-node","pod","Static","0,8"]'
# The kubelet does not start when the static memory manager's reserved memory differs from
# kubeReserved + systemReserved + the hard eviction threshold of memory.available.
mib='const mib = (q) => { const m = /^([0-9]+)(Ki|Mi|Gi)?$/.exec(q || "0"); return Number(m[1]) * ({Ki: 1 / 1024, Mi: 1, Gi: 1024}[m[2]] ?? 1 / 1048576); };'
check "al2023: reservedMemory adds up to kubeReserved + systemReserved + evictionHard memory.available" \
  expect "$tmp/nodeconfig.yaml" "(() => { $mib"' const k = docs[0].spec.kubelet.config; return [k.reservedMemory.reduce((s, r) => s + mib(r.limits.memory), 0), mib((k.kubeReserved || {}).memory) + mib((k.systemReserved || {}).memory) + mib(k.evictionHard["memory.available"])]; })()' \
  '[1124,1124]'

# --- AL2: bootstrap.sh -----------------------------------------------------------------------------
check "al2: shellcheck passes" shellcheck "$eks/al2-user-data.sh"
sed -n "/^cat >\/usr\/local\/sbin\/ena-dpdk-node-setup <<'ENA_DPDK_NODE_SETUP'$/,/^ENA_DPDK_NODE_SETUP$/p" \
  "$eks/al2-user-data.sh" | sed '1d;$d' >"$tmp/al2-node-setup.sh"
check "al2: embeds node-setup.sh unchanged" cmp "$tmp/al2-node-setup.sh" "$eks/src/node-setup.sh"
check "al2: bootstrap.sh with the kubelet settings, after node setup, on every boot until done" \
  grep -q "^/etc/eks/bootstrap.sh '\$CLUSTER_NAME' --kubelet-extra-args '--node-labels=dpdk.aws/node=true --register-with-taints=dpdk.aws/dedicated=true:NoSchedule --cpu-manager-policy=static --cpu-manager-policy-options=full-pcpus-only=true --topology-manager-policy=single-numa-node --topology-manager-scope=pod --memory-manager-policy=Static --kube-reserved=memory=1Gi,ephemeral-storage=1Gi --eviction-hard=memory.available<100Mi,nodefs.available<10%,nodefs.inodesFree<5% --reserved-memory=0:memory=1124Mi --reserved-cpus=0,8'$" \
  "$eks/al2-user-data.sh"

# --- eksctl -----------------------------------------------------------------------------------------
f=$eks/eksctl-cluster.yaml
export NODECONFIG=$eks/src/al2023-nodeconfig.yaml
check "eksctl: ClusterConfig valid" node "$repo/tests/deploy/validate.mjs" k8s "$f"
q "$f" 'docs[0].nodeGroups.find(g => g.name === "dpdk").preBootstrapCommands[0]' >"$tmp/cmd.json"
node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")))' "$tmp/cmd.json" >"$tmp/eksctl-node-setup.sh"
check "eksctl: the DPDK node group runs node-setup.sh before bootstrap" cmp "$tmp/eksctl-node-setup.sh" "$eks/src/node-setup.sh"
check "eksctl: kubeletExtraConfig is the NodeConfig's kubelet config" \
  expect "$f" 'JSON.stringify(docs[0].nodeGroups.find(g => g.name === "dpdk").kubeletExtraConfig) === JSON.stringify(require("yaml").parse(require("fs").readFileSync(process.env.NODECONFIG, "utf8")).spec.kubelet.config)' 'true'
"$helm" template ena-dpdk "$repo/charts/ena-dpdk" --namespace kube-system >"$tmp/chart.yaml"
selector=$(q "$tmp/chart.yaml" 'pod.nodeSelector')
tolerated=$(q "$tmp/chart.yaml" 'pod.tolerations.map(t => t.key + ":" + t.effect)')
check "eksctl: node labels satisfy the chart's nodeSelector, taints are tolerated" \
  expect "$f" '(g => [Object.fromEntries(Object.entries(g.labels).filter(([k]) => k in '"$selector"')), g.taints.map(t => t.key + ":" + t.effect)])(docs[0].nodeGroups.find(g => g.name === "dpdk"))' \
  "[$selector,$tolerated]"
# The chart's attachments per network and the DPDK ENI's secondary IPs (the pod addresses) the
# bootstrap asks for: more slots than addresses would schedule pods whose CNI ADD then fails.
ips_default=$(sed -n 's/^secondary_ips=\${ENA_DPDK_ENI_SECONDARY_IPS:-\([0-9]*\)}$/\1/p' "$eks/src/node-setup.sh")
ips_al2=$(sed -n 's/^export .*ENA_DPDK_ENI_SECONDARY_IPS=\([0-9]*\).*$/\1/p' "$eks/al2-user-data.sh" | head -n 1)
check "chart: slotsPerNetwork = the secondary IPs of node-setup.sh and the AL2 user data (ENA_DPDK_ENI_SECONDARY_IPS)" \
  expect "$tmp/chart.yaml" '[config.deviceplugin.ena.slotsPerNetwork, "'"$ips_default"'", "'"$ips_al2"'"].map(Number)' \
  "[$ips_default,$ips_default,$ips_default]"
check "eksctl: the node role may create and attach ENIs" \
  expect "$f" 'docs[0].nodeGroups.find(g => g.name === "dpdk").iam.attachPolicy.Statement[0].Action.filter(a => /NetworkInterface/.test(a)).length' '5'

finish
