#!/usr/bin/env bash
# The Helm chart: helm lint --strict, helm template for the default values and the value sets in
# tests/deploy/values/, every object validated offline (validate.mjs: Kubernetes OpenAPI schemas,
# unknown fields, the Multus CRD, CNI configuration, pod-spec rules), what each value set must
# change, and values the schema or the templates must reject. The validator itself is checked
# on objects it must reject.
# Usage: chart_test.sh
# shellcheck disable=SC2016 # single quotes: JavaScript expressions and a literal $(NODE_IP)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
chart=$repo/charts/ena-dpdk
sets=(default shared-only dedicated-only cdi custom network-resources uninstall)

namespace_of() {  # namespace_of SET: the release namespace a value set installs into
  if [ "$1" = custom ]; then echo dpdk-system; else echo kube-system; fi
}
render() {  # render SET: helm template of a value set into $tmp/SET.yaml
  local args=(--namespace "$(namespace_of "$1")")
  [ "$1" = default ] || args+=(-f "$repo/tests/deploy/values/$1.yaml")
  "$helm" template ena-dpdk "$chart" "${args[@]}" >"$tmp/$1.yaml"
}
lint() {
  local args=(--namespace "$(namespace_of "$1")")
  [ "$1" = default ] || args+=(-f "$repo/tests/deploy/values/$1.yaml")
  "$helm" lint --strict "$chart" "${args[@]}"
}
# checksums FILE: the config checksum annotations of both DaemonSets' pods, as JSON.
checksums() {
  q "$1" '[ds.spec.template.metadata.annotations, dds.spec.template.metadata.annotations].map(a => Object.keys(a).filter(k => k.startsWith("checksum/")).sort().map(k => k + "=" + a[k]))'
}
# only_changes SETTING ANNOTATIONS: rendering the defaults with --set SETTING changes exactly the
# checksum annotations ANNOTATIONS (a JSON array of names, e.g. ["checksum/cni"]).
only_changes() {
  "$helm" template ena-dpdk "$chart" --namespace kube-system --set "$1" >"$tmp/variant.yaml" || return 1
  local before after
  before=$(checksums "$tmp/default.yaml") && after=$(checksums "$tmp/variant.yaml") || return 1
  node -e '
    const [before, after, wanted] = process.argv.slice(1).map(a => JSON.parse(a));
    const changed = before.flat().filter(x => !after.flat().includes(x)).map(x => x.split("=")[0]);
    if (JSON.stringify(changed.sort()) !== JSON.stringify(wanted.sort())) {
      console.log("changed: " + JSON.stringify(changed) + ", wanted: " + JSON.stringify(wanted));
      process.exit(1);
    }' "$before" "$after" "$2"
}

for set in "${sets[@]}"; do
  check "$set: helm lint --strict" lint "$set"
  check "$set: helm template" render "$set"
  check "$set: every object valid (OpenAPI, fields, CRD, CNI config, pod rules)" \
    node "$repo/tests/deploy/validate.mjs" k8s "$tmp/$set.yaml"
  check "$set: no RBAC and no API token (nothing talks to the API)" \
    expect "$tmp/$set.yaml" 'docs.filter(d => /Role|ServiceAccount/.test(d.kind)).length + "/" + kind("DaemonSet").every(d => d.spec.template.spec.automountServiceAccountToken === false)' '"0/true"'
done

# --- default values: the node DaemonSet and the dataplane DaemonSet -------------------------------
f=$tmp/default.yaml
check "default: objects" expect "$f" 'docs.map(d => d.kind + "/" + d.metadata.namespace + "/" + d.metadata.name)' \
  '["ConfigMap/kube-system/ena-dpdk-config","Service/kube-system/ena-dpdk-metrics","DaemonSet/kube-system/ena-dpdk","DaemonSet/kube-system/ena-dpdk-dataplane","NetworkAttachmentDefinition/default/ena-dpdk-shared","NetworkAttachmentDefinition/default/ena-dpdk-dedicated"]'
check "default: containers in order (node DaemonSet; dataplane DaemonSet)" \
  expect "$f" '[pod.initContainers.map(x => x.name), pod.containers.map(x => x.name), dpod.initContainers, dpod.containers.map(x => x.name)]' \
  '[["nodeprep","install-cni"],["deviceplugin"],null,["dataplane"]]'
check "default: the node selector stays, the dataplane's own selector picks only its pods" \
  expect "$f" '[ds.spec.selector.matchLabels, dds.spec.selector.matchLabels, pod === dpod, Object.entries(dds.spec.selector.matchLabels).every(([k, v]) => dds.spec.template.metadata.labels[k] === v), ds.spec.template.metadata.labels["app.kubernetes.io/component"]]' \
  '[{"app.kubernetes.io/name":"ena-dpdk","app.kubernetes.io/instance":"ena-dpdk"},{"app.kubernetes.io/name":"ena-dpdk","app.kubernetes.io/instance":"ena-dpdk","app.kubernetes.io/component":"dataplane"},false,true,"node"]'
check "default: both DaemonSets share priority class, host network, node selector, tolerations, config, update strategy" \
  expect "$f" '["priorityClassName", "hostNetwork", "dnsPolicy", "nodeSelector", "tolerations", "automountServiceAccountToken", "terminationGracePeriodSeconds"].filter(k => JSON.stringify(pod[k]) !== JSON.stringify(dpod[k])).concat(dpod.volumes.find(v => v.name === "config").configMap.name, JSON.stringify(dds.spec.updateStrategy) === JSON.stringify(ds.spec.updateStrategy), dpod.hostPID === undefined)' \
  '["ena-dpdk-config",true,true]'
check "default: the dataplane asks the kubelet for its one PCI uplink, requests = limits" \
  expect "$f" '[c("dataplane").resources.requests["dpdk.aws/ena-uplink"], c("dataplane").resources.limits["dpdk.aws/ena-uplink"]]' '["1","1"]'
check "default: the dataplane pod is Guaranteed with whole CPUs (every container: requests = limits, integer cpu)" \
  expect "$f" '[...(dpod.initContainers || []), ...dpod.containers].map(x => JSON.stringify(x.resources.requests) === JSON.stringify(x.resources.limits) && /^[1-9][0-9]*$/.test(x.resources.limits.cpu) && ["cpu", "memory"].every(r => r in x.resources.limits))' '[true]'
check "default: the node pod asks for no uplink" \
  expect "$f" 'JSON.stringify(pod).includes("ena-uplink")' 'false'
check "default: system-node-critical, host network but not host PID, node selector, toleration" \
  expect "$f" '[pod.priorityClassName, pod.hostNetwork, pod.hostPID, pod.dnsPolicy, pod.nodeSelector, pod.tolerations[0].key]' \
  '["system-node-critical",true,null,"ClusterFirstWithHostNet",{"dpdk.aws/node":"true"},"dpdk.aws/dedicated"]'
check "default: nodeprep privileged on the host root, nsenter propagation, node address" \
  expect "$f" '[c("nodeprep").securityContext.privileged, c("nodeprep").command.join(" "), c("nodeprep").volumeMounts.find(m => m.mountPath === "/host").mountPropagation, c("nodeprep").env[0].valueFrom.fieldRef.fieldPath, pod.volumes.find(v => v.name === "host-root").hostPath.path]' \
  '[true,"ena-dpdk-nodeprep --config /etc/ena-dpdk/config.json --root /host --node-address $(NODE_IP) --log-level info --log-format logfmt","HostToContainer","status.hostIP","/"]'
check "default: install-cni copies into the host's /opt/cni/bin, unprivileged" \
  expect "$f" '[c("install-cni").command, pod.volumes.find(v => v.name === "host-cni-bin").hostPath.path, c("install-cni").securityContext.capabilities.drop, c("install-cni").securityContext.privileged]' \
  '[["ena-dpdk-install-cni","/host/opt/cni/bin","/etc/ena-dpdk/config.json","/host/etc/ena-dpdk"],"/opt/cni/bin",["ALL"],null]'
check "default: dataplane hugepages (requests = limits), hugetlbfs emptyDir, IPC_LOCK" \
  expect "$f" '[c("dataplane").resources.requests["hugepages-1Gi"], c("dataplane").resources.limits["hugepages-1Gi"], dpod.volumes.find(v => v.name === "hugepages").emptyDir.medium, c("dataplane").volumeMounts.find(m => m.name === "hugepages").mountPath, c("dataplane").securityContext.capabilities.add]' \
  '["2Gi","2Gi","HugePages-1Gi","/dev/hugepages",["IPC_LOCK"]]'
check "default: dataplane Guaranteed with whole CPUs" \
  expect "$f" '[c("dataplane").resources.requests.cpu, c("dataplane").resources.limits.cpu, c("dataplane").resources.requests.memory === c("dataplane").resources.limits.memory]' '["2","2",true]'
check "default: dataplane probes are HTTP GET /healthz of its metrics endpoint on the pod's (= node's) address (no exec in its CPU set)" \
  expect "$f" '["startupProbe", "livenessProbe", "readinessProbe"].map(p => [c("dataplane")[p].httpGet, c("dataplane")[p].exec, c("dataplane")[p].periodSeconds])' \
  '[[{"path":"/healthz","port":9640},null,2],[{"path":"/healthz","port":9640},null,10],[{"path":"/healthz","port":9640},null,5]]'
check "default: dataplane mounts (control socket and slots, state; vfio nodes come from Allocate)" \
  expect "$f" 'c("dataplane").volumeMounts.map(m => m.mountPath)' \
  '["/etc/ena-dpdk","/dev/hugepages","/run/ena-dpdk","/var/lib/ena-dpdk"]'
check "default: device plugin mounts (kubelet, slots, devinfo, vfio, IPAM leases, hugepages propagated)" \
  expect "$f" 'c("deviceplugin").volumeMounts.map(m => m.mountPath + (m.readOnly ? ":ro" : "") + (m.mountPropagation ? ":" + m.mountPropagation : ""))' \
  '["/etc/ena-dpdk:ro","/var/lib/kubelet/device-plugins","/var/lib/kubelet/pod-resources:ro","/run/ena-dpdk","/var/run/k8s.cni.cncf.io/devinfo/dp","/dev/vfio","/var/lib/ena-dpdk/ipam","/var/run/ena-dpdk/hugepages:Bidirectional"]'
check "default: device plugin privileged (hugetlbfs mounts reach the host), liveness on /healthz" \
  expect "$f" '[c("deviceplugin").securityContext.privileged, c("deviceplugin").livenessProbe.httpGet]' \
  '[true,{"path":"/healthz","port":9641}]'
check "default: hostPath volumes are the mounted directories" \
  expect "$f" '[pod, dpod].map(p => p.volumes.filter(v => v.hostPath).map(v => v.hostPath.path + ":" + v.hostPath.type))' \
  '[["/:Directory","/opt/cni/bin:DirectoryOrCreate","/etc/ena-dpdk:DirectoryOrCreate","/dev/vfio:DirectoryOrCreate","/run/ena-dpdk:DirectoryOrCreate","/var/lib/ena-dpdk/ipam:DirectoryOrCreate","/var/lib/kubelet/device-plugins:DirectoryOrCreate","/var/lib/kubelet/pod-resources:DirectoryOrCreate","/var/run/ena-dpdk/hugepages:DirectoryOrCreate","/var/run/k8s.cni.cncf.io/devinfo/dp:DirectoryOrCreate"],["/run/ena-dpdk:DirectoryOrCreate","/var/lib/ena-dpdk:DirectoryOrCreate"]]'
check "default: the chart adds --huge-dir and -a <uplink> to the EAL arguments" \
  expect "$f" 'config.dataplane.eal' '["--huge-dir","/dev/hugepages","-a","0000:00:06.0","--file-prefix","ena-dpdk"]'
check "default: config.json is the values' config otherwise" \
  expect "$f" '[Object.keys(config), config.nodeprep.hostExec, config.deviceplugin.resourcePrefix, config.ipam.networks]' \
  '[["dataplane","deviceplugin","ipam","nodeprep"],"nsenter","dpdk.aws",{"eni1":{"deviceNumber":1}}]'
check "default: node prep binds the ENI at the IPAM network's device index, named by device index (the VPC CNI allow list)" \
  expect "$f" '[config.nodeprep.bind, Object.values(config.ipam.networks).map(n => n.deviceNumber)]' \
  '[{"allExceptPrimary":false,"deviceIndices":[1],"force":[],"interfaces":[],"pciAddresses":[]},[1]]'
check "default: the node path policy allows the chart's paths, and only those" \
  expect "$f" 'JSON.parse(cm.data["cni-policy.json"])' \
  '{"CNIDeviceInfoFile":["/run/k8s.cni.cncf.io/devinfo","/var/run/k8s.cni.cncf.io/devinfo"],"dataplaneSocket":["/run/ena-dpdk/dataplane.sock"],"hostRoot":["/"],"ipam.configFile":["/etc/ena-dpdk/config.json"],"ipam.stateDir":["/var/lib/ena-dpdk","/var/lib/ena-dpdk/ipam"],"logFile":["/var/log/ena-dpdk-cni.log","/var/log/ena-dpdk-ipam.log","/var/log/ena-dpdk"],"slotDir":["/var/run/ena-dpdk/vhost"],"stateDir":["/var/lib/ena-dpdk"]}'
check "custom: the node path policy follows the configured socket and slot directory" \
  expect "$tmp/custom.yaml" '(p => [p.dataplaneSocket, p.slotDir])(JSON.parse(cm.data["cni-policy.json"]))' \
  '[["/run/dpdk-switch/control.sock"],["/var/run/dpdk-switch/vhost"]]'
check "default: one config checksum per part a pod reads at start (node: nodeprep, cni; dataplane: dataplane)" \
  expect "$f" '[ds, dds].map(d => Object.entries(d.spec.template.metadata.annotations).filter(([k, v]) => k.startsWith("checksum/") && /^[0-9a-f]{64}$/.test(v)).map(([k]) => k))' \
  '[["checksum/nodeprep","checksum/cni"],["checksum/dataplane"]]'
check "default: changing only the IPAM section changes only checksum/cni (the dataplane keeps running)" \
  only_changes config.ipam.imds.ttlSeconds=30 '["checksum/cni"]'
check "default: changing only the dataplane section changes only checksum/dataplane" \
  only_changes config.dataplane.mbufs=32768 '["checksum/dataplane"]'
check "default: a dataplane key it applies live (macAgingSeconds, maxPorts) restarts nothing" \
  bash -c "$(declare -f only_changes checksums q); helm=$helm chart=$chart tmp=$tmp; only_changes config.dataplane.macAgingSeconds=60 '[]' && only_changes config.dataplane.maxPorts=128 '[]'"
check "default: changing only the nodeprep section changes only checksum/nodeprep" \
  only_changes config.nodeprep.vfio.noiommu=never '["checksum/nodeprep"]'
check "default: a device plugin change restarts nothing (the plugin reloads the mounted file)" \
  only_changes config.deviceplugin.ena.slotsPerNetwork=10 '[]'
check "default: a moved CNI log file (node path policy) changes only checksum/cni" \
  only_changes networkAttachments.logFile=/var/log/ena-dpdk/cni.log '["checksum/cni"]'
check "default: NADs name the device plugin's resources" \
  expect "$f" 'kind("NetworkAttachmentDefinition").map(d => d.metadata.annotations["k8s.v1.cni.cncf.io/resourceName"])' \
  '["dpdk.aws/ena","dpdk.aws/ena-dedicated"]'
check "default: no per-network resource (config.json, NADs)" \
  expect "$f" '[config.deviceplugin.ena.networkResources, kind("NetworkAttachmentDefinition").filter(d => JSON.parse(d.spec.config).network).length]' '[null,0]'
check "default: shared NAD: vhostuser mode, paths of the config, capabilities, IPAM" \
  expect "$f" 'nad("ena-dpdk-shared")' \
  '{"capabilities":{"CNIDeviceInfoFile":true,"deviceID":true},"cniVersion":"1.0.0","dataplaneSocket":"/run/ena-dpdk/dataplane.sock","ipam":{"type":"ena-dpdk-ipam"},"logFile":"/var/log/ena-dpdk-cni.log","logFormat":"logfmt","mode":"vhostuser","name":"ena-dpdk-shared","podSlotDir":"/var/run/vhost-user","slotDir":"/var/run/ena-dpdk/vhost","slotGroup":1500,"type":"ena-dpdk-cni"}'
check "default: every component logs logfmt (--log-format of nodeprep, device plugin, dataplane; NADs' logFormat)" \
  expect "$f" '[c("nodeprep"), c("deviceplugin"), c("dataplane")].map(x => (a => a[a.indexOf("--log-format") + 1])([...x.command, ...(x.args || [])])).concat(kind("NetworkAttachmentDefinition").map(d => JSON.parse(d.spec.config).logFormat))' \
  '["logfmt","logfmt","logfmt","logfmt","logfmt"]'
check "logFormat=json: every component and NAD logs JSON" \
  bash -c "\"$helm\" template ena-dpdk \"$chart\" -n kube-system --set logFormat=json >\"$tmp/json-logs.yaml\""
check "logFormat=json: the flags and the NADs" \
  expect "$tmp/json-logs.yaml" '[c("nodeprep"), c("deviceplugin"), c("dataplane")].map(x => (a => a[a.indexOf("--log-format") + 1])([...x.command, ...(x.args || [])])).concat(kind("NetworkAttachmentDefinition").map(d => JSON.parse(d.spec.config).logFormat))' \
  '["json","json","json","json","json"]'
check "logFormat=json: every object valid" node "$repo/tests/deploy/validate.mjs" k8s "$tmp/json-logs.yaml"
check "default: the slot group reaches the device plugin and the shared NAD" \
  expect "$f" '[config.deviceplugin.ena.slotGroup, nad("ena-dpdk-shared").slotGroup, nad("ena-dpdk-dedicated").slotGroup]' '[1500,1500,null]'
check "slotGroup=null: root:root slots, no slotGroup anywhere" \
  bash -c "! \"$helm\" template ena-dpdk \"$chart\" --set slotGroup=null | grep -q slotGroup"
check "slotGroup=null: config.deviceplugin.ena.slotGroup is used for both" \
  bash -c "[ \"\$(\"$helm\" template ena-dpdk \"$chart\" --set slotGroup=null --set config.deviceplugin.ena.slotGroup=2000 | grep -c '\"slotGroup\": 2000')\" = 2 ]"
check "default: dedicated NAD: pci mode" \
  expect "$f" 'nad("ena-dpdk-dedicated")' \
  '{"capabilities":{"CNIDeviceInfoFile":true,"deviceID":true},"cniVersion":"1.0.0","logFile":"/var/log/ena-dpdk-cni.log","logFormat":"logfmt","mode":"pci","name":"ena-dpdk-dedicated","type":"ena-dpdk-cni"}'
check "helm install -n ena-dpdk: every namespaced object but the NADs is in ena-dpdk, with a quota admitting the critical priority class" \
  bash -c "\"$helm\" template ena-dpdk \"$chart\" -n ena-dpdk >\"$tmp/ns.yaml\""
check "helm install -n ena-dpdk: objects" expect "$tmp/ns.yaml" 'docs.map(d => d.kind + "/" + d.metadata.namespace + "/" + d.metadata.name)' \
  '["ResourceQuota/ena-dpdk/ena-dpdk-critical-pods","ConfigMap/ena-dpdk/ena-dpdk-config","Service/ena-dpdk/ena-dpdk-metrics","DaemonSet/ena-dpdk/ena-dpdk","DaemonSet/ena-dpdk/ena-dpdk-dataplane","NetworkAttachmentDefinition/default/ena-dpdk-shared","NetworkAttachmentDefinition/default/ena-dpdk-dedicated"]'
check "helm install -n ena-dpdk: the quota selects the DaemonSets' priority class" \
  expect "$tmp/ns.yaml" '(r => [r.spec.scopeSelector.matchExpressions, [ds, dds].map(d => d.spec.template.spec.priorityClassName)])(kind("ResourceQuota")[0])' \
  '[[{"operator":"In","scopeName":"PriorityClass","values":["system-node-critical"]}],["system-node-critical","system-node-critical"]]'
check "helm install -n ena-dpdk: every object valid" node "$repo/tests/deploy/validate.mjs" k8s "$tmp/ns.yaml"
check "criticalPodsQuota=false: no quota" \
  bash -c "! \"$helm\" template ena-dpdk \"$chart\" -n ena-dpdk --set criticalPodsQuota=false | grep -q ResourceQuota"

# --- shared only ----------------------------------------------------------------------------------
f=$tmp/shared-only.yaml
check "shared-only: a shared NAD per namespace, no dedicated one, CNI keys merged" \
  expect "$f" 'kind("NetworkAttachmentDefinition").map(d => d.metadata.namespace + "/" + d.metadata.name + ":" + JSON.stringify(JSON.parse(d.spec.config).vhost) + ":" + JSON.parse(d.spec.config).logLevel)' \
  '["default/ena-dpdk-shared:{\"mode\":\"server\",\"queues\":2}:debug","dpdk-apps/ena-dpdk-shared:{\"mode\":\"server\",\"queues\":2}:debug"]'
check "shared-only: -a for each PCI uplink, and as many dpdk.aws/ena-uplink devices" \
  expect "$f" '[config.dataplane.eal, c("dataplane").resources.limits["dpdk.aws/ena-uplink"]]' '[["--huge-dir","/dev/hugepages","-a","0000:00:06.0","-a","0000:00:07.0","--file-prefix","ena-dpdk","--socket-mem","1024"],"2"]'

# --- a resource per network -----------------------------------------------------------------------
f=$tmp/network-resources.yaml
check "network-resources: per namespace the shared NAD, one per network, the dedicated one" \
  expect "$f" 'kind("NetworkAttachmentDefinition").map(d => d.metadata.namespace + "/" + d.metadata.name)' \
  '["default/ena-dpdk-shared","default/ena-dpdk-shared-eni1","default/ena-dpdk-shared-eni2","default/ena-dpdk-dedicated","dpdk-apps/ena-dpdk-shared","dpdk-apps/ena-dpdk-shared-eni1","dpdk-apps/ena-dpdk-shared-eni2","dpdk-apps/ena-dpdk-dedicated"]'
check "network-resources: each NAD names its network's resource; the shared one keeps dpdk.aws/ena" \
  expect "$f" 'kind("NetworkAttachmentDefinition").filter(d => d.metadata.namespace === "default").map(d => d.metadata.name + "=" + d.metadata.annotations["k8s.v1.cni.cncf.io/resourceName"])' \
  '["ena-dpdk-shared=dpdk.aws/ena","ena-dpdk-shared-eni1=dpdk.aws/ena-eni1","ena-dpdk-shared-eni2=dpdk.aws/ena-eni2","ena-dpdk-dedicated=dpdk.aws/ena-dedicated"]'
check "network-resources: a network's CNI config has the NAD's name and is pinned to its network" \
  expect "$f" '["eni1", "eni2"].map(n => [nad("ena-dpdk-shared-" + n).name, nad("ena-dpdk-shared-" + n).network])' \
  '[["ena-dpdk-shared-eni1","eni1"],["ena-dpdk-shared-eni2","eni2"]]'
check "network-resources: otherwise a network's CNI config is the shared NAD's" \
  expect "$f" '["eni1", "eni2"].map(n => (({name, network, ...rest}) => JSON.stringify(rest))(nad("ena-dpdk-shared-" + n)) === (({name, ...rest}) => JSON.stringify(rest))(nad("ena-dpdk-shared")))' \
  '[true,true]'
check "network-resources: the device plugin gets the map in config.json" \
  expect "$f" 'config.deviceplugin.ena.networkResources' '{"eni1":"ena-eni1","eni2":"ena-eni2"}'
check "network-resources: the dataplane still asks for both uplinks" \
  expect "$f" 'c("dataplane").resources.limits["dpdk.aws/ena-uplink"]' '"2"'
check "network-resources: with the pooled NAD off, the per-network NADs stay and take shared.config" \
  bash -c "\"$helm\" template ena-dpdk \"$chart\" -f \"$repo/tests/deploy/values/network-resources.yaml\" --set networkAttachments.shared.config.mtu=1400 --set networkAttachments.shared.enabled=false | grep -c '\"mtu\": 1400' | grep -qx 4"

# --- dedicated only -------------------------------------------------------------------------------
f=$tmp/dedicated-only.yaml
check "dedicated-only: no dataplane DaemonSet, only the dedicated NAD" \
  expect "$f" '[kind("DaemonSet").map(d => d.metadata.name), pod.containers.map(x => x.name), kind("NetworkAttachmentDefinition").map(d => d.metadata.name), pod.volumes.some(v => v.emptyDir)]' \
  '[["ena-dpdk"],["deviceplugin"],["ena-dpdk-dedicated"],false]'
check "dedicated-only: device plugin unprivileged without the hugepages resource" \
  expect "$f" '[c("deviceplugin").securityContext, c("deviceplugin").volumeMounts.some(m => m.mountPropagation)]' \
  '[{"runAsUser":0,"runAsGroup":0,"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}},false]'
check "dedicated-only: no uplink, so EAL probes no PCI device" \
  expect "$f" 'config.dataplane.eal.slice(0, 3)' '["--huge-dir","/dev/hugepages","--no-pci"]'

# --- CDI ------------------------------------------------------------------------------------------
f=$tmp/cdi.yaml
check "cdi: the spec directory is mounted and enabled in the config" \
  expect "$f" '[c("deviceplugin").volumeMounts.some(m => m.mountPath === "/var/run/cdi"), pod.volumes.some(v => v.hostPath && v.hostPath.path === "/var/run/cdi"), config.deviceplugin.cdi.enabled]' \
  '[true,true,true]'

# --- everything moved -----------------------------------------------------------------------------
f=$tmp/custom.yaml
check "custom: namespace, image, pull secret, priority class, annotations" \
  expect "$f" '[ds.metadata.namespace, dds.metadata.namespace, c("dataplane").image, c("dataplane").imagePullPolicy, pod.imagePullSecrets, dpod.imagePullSecrets, pod.priorityClassName, dpod.priorityClassName, ds.spec.template.metadata.annotations["prometheus.io/scrape"], dds.spec.template.metadata.annotations["prometheus.io/scrape"]]' \
  '["dpdk-system","dpdk-system","123456789012.dkr.ecr.us-west-2.amazonaws.com/ena-dpdk:v0.1.0-rc1","Always",[{"name":"ecr"}],[{"name":"ecr"}],"dpdk-critical","dpdk-critical","true","true"]'
check "custom: both hugepages resources' mount directories propagate to the host (privileged plugin)" \
  expect "$f" '[c("deviceplugin").securityContext.privileged, c("deviceplugin").volumeMounts.filter(m => m.mountPropagation === "Bidirectional").map(m => m.mountPath), config.deviceplugin.hugepages.chargeCgroup]' \
  '[true,["/var/run/dpdk-switch/hugepages","/var/run/dpdk-switch/hugepages-2Mi"],"/dpdk-switch/hugepages"]'
check "custom: direct host commands need Bidirectional /host; reboot wrapper; no install-cni" \
  expect "$f" '[c("nodeprep").volumeMounts.find(m => m.mountPath === "/host").mountPropagation, c("nodeprep").command.slice(0, 2), c("nodeprep").command.slice(3, 5), pod.hostPID, pod.initContainers.length]' \
  '["Bidirectional",["/bin/sh","-c"],["ena-dpdk-nodeprep","--config"],null,1]'
check "custom: 2M hugepages where the values say, EAL without PCI, no uplink to ask for" \
  expect "$f" '[c("dataplane").resources.limits["hugepages-2Mi"], dpod.volumes.find(v => v.name === "hugepages").emptyDir.medium, config.dataplane.eal, Object.keys(c("dataplane").resources.requests)]' \
  '["512Mi","HugePages-2Mi",["--huge-dir","/mnt/huge","--no-pci","--file-prefix","ena-dpdk"],["cpu","memory","hugepages-2Mi"]]'
check "custom: mounts follow the configured paths (inner directories covered); no probe on port 0" \
  expect "$f" '[c("dataplane").volumeMounts.map(m => m.mountPath).slice(2), c("deviceplugin").volumeMounts.map(m => m.mountPath).slice(3), c("deviceplugin").livenessProbe]' \
  '[["/run/dpdk-switch","/var/lib/dpdk-switch","/var/lib/dpdk-cni"],["/run/dpdk-switch","/var/run/k8s.cni.cncf.io/devinfo/dp","/dev/vfio","/var/lib/ena-dpdk/ipam","/var/run/dpdk-switch/hugepages","/var/run/dpdk-switch/hugepages-2Mi"],null]'
check "custom: no NetworkAttachmentDefinition" expect "$f" 'kind("NetworkAttachmentDefinition").length' '0'

# --- values that must not install -----------------------------------------------------------------
bad() {  # bad FRAGMENT --set ...: helm template must fail naming FRAGMENT
  local fragment=$1
  shift
  check "rejected: $* ($fragment)" fails_with "$fragment" "$helm" template ena-dpdk "$chart" "$@"
}
bad "config.dataplane.networks.0.name: Does not match pattern" --set 'config.dataplane.networks[0].name=ENI_1'
bad "config.nodeprep.hugepages.1G: Must be greater than or equal to 0" --set 'config.nodeprep.hugepages.1G=-1'
bad "Additional property bogus is not allowed" --set config.deviceplugin.bogus=1
bad "dataplane.hugepageSize must be one of" --set dataplane.hugepageSize=4Gi
bad "config.nodeprep.hostExec must be one of" --set config.nodeprep.hostExec=chroot
bad "config.nodeprep.bind.deviceIndices.0: Must be less than or equal to 127" --set 'config.nodeprep.bind.deviceIndices={128}'
bad "config.nodeprep.bind.eniIds.0: Does not match pattern" --set 'config.nodeprep.bind.eniIds={eni-xyz}'
# --- uninstall=true: the node DaemonSet gives the node back, nothing holds the ENAs ----------------
f=$tmp/uninstall.yaml
check "uninstall: objects (no dataplane DaemonSet)" expect "$f" 'docs.map(d => d.kind + "/" + d.metadata.name)' \
  '["ConfigMap/ena-dpdk-config","DaemonSet/ena-dpdk","NetworkAttachmentDefinition/ena-dpdk-shared","NetworkAttachmentDefinition/ena-dpdk-dedicated"]'
check "uninstall: undo init containers, then only a sleeping container (no device plugin)" \
  expect "$f" '[pod.initContainers.map(x => x.name), pod.containers.map(x => x.name), c("uninstalled").command.join(" ").includes("exec sleep infinity"), c("uninstalled").securityContext.runAsNonRoot]' \
  '[["nodeprep","install-cni"],["uninstalled"],true,true]'
check "uninstall: nodeprep runs --undo on the host root" \
  expect "$f" '[c("nodeprep").command.join(" "), c("nodeprep").securityContext.privileged, c("nodeprep").volumeMounts.find(m => m.mountPath === "/host").mountPropagation]' \
  '["ena-dpdk-nodeprep --undo --config /etc/ena-dpdk/config.json --root /host --log-level info --log-format logfmt",true,"HostToContainer"]'
check "uninstall: install-cni --uninstall the host's CNI bin and config directories" \
  expect "$f" '[c("install-cni").command, c("install-cni").securityContext.capabilities.drop]' \
  '[["ena-dpdk-install-cni","--uninstall","/host/opt/cni/bin","/host/etc/ena-dpdk"],["ALL"]]'
check "uninstall: no device plugin volume (kubelet, vfio, hugepages), only what undo needs" \
  expect "$f" 'pod.volumes.map(v => v.name)' '["config","host-root","host-cni-bin","host-etc-ena-dpdk"]'
check "uninstall with rebootWhenRequired and direct host commands: helm template" \
  bash -c "\"$helm\" template ena-dpdk \"$chart\" --set uninstall=true --set nodeprep.rebootWhenRequired=true --set config.nodeprep.hostExec=direct >'$tmp/undo-reboot.yaml'"
check "uninstall: no reboot wrapper and no host PID (an undo never needs a reboot)" \
  expect "$tmp/undo-reboot.yaml" '[c("nodeprep").command[0], pod.hostPID]' '["ena-dpdk-nodeprep",null]'
check "uninstall with the device plugin off renders (undo mode runs no device plugin anyway)" \
  bash -c "\"$helm\" template ena-dpdk \"$chart\" --set uninstall=true --set deviceplugin.enabled=false --set dataplane.enabled=false | grep -q 'name: uninstalled'"
bad "uninstall=true with nodeprep.enabled and installCni.enabled both false" \
  --set uninstall=true --set nodeprep.enabled=false --set installCni.enabled=false
bad "uninstall: Invalid type" --set uninstall=yes

bad "config.nodeprep.vfio.iommu must be one of" --set config.nodeprep.vfio.iommu=on
bad "config.nodeprep.vfio.driver" --set config.nodeprep.vfio.iommu=required --set config.nodeprep.vfio.driver=igb_uio
bad "config.nodeprep.vfio.noiommu" --set config.nodeprep.vfio.iommu=required --set config.nodeprep.vfio.noiommu=always
bad "config.deviceplugin.resourcePrefix: Does not match pattern" --set config.deviceplugin.resourcePrefix=DPDK.AWS
bad "config.ipam.networks.eni1: Must validate one and only one schema" --set config.ipam.networks.eni1.gateway=10.0.0.1
bad "networkAttachments.shared.config.type" --set networkAttachments.shared.config.type=other
bad "image.repository: String length must be greater than or equal to 1" --set image.repository=
bad "logFormat must be one of" --set logFormat=text
bad "config.dataplane.eal holds \"-a\"" --set 'config.dataplane.eal={-a,0000:00:07.0}'
bad "both false" --set dataplane.enabled=false --set deviceplugin.enabled=false
bad "deviceplugin.enabled=false: the node DaemonSet would run nothing" --set deviceplugin.enabled=false
bad "dataplane.resources.cpu: Does not match pattern" --set dataplane.resources.cpu=1500m
bad "slotGroup: Must validate at least one schema" --set slotGroup=0
bad "config.deviceplugin.ena.slotGroup: Must be less than or equal to 2.147483647e+09" --set config.deviceplugin.ena.slotGroup=2147483648
bad "slotGroup (1500) and config.deviceplugin.ena.slotGroup (2000) differ" --set config.deviceplugin.ena.slotGroup=2000
bad "networkAttachments.shared.config.slotGroup" --set networkAttachments.shared.config.slotGroup=1500
nr=config.deviceplugin.ena.networkResources
bad "$nr.eni1: Does not match pattern" --set "$nr.eni1=ENA-1"
bad "$nr.eni1: Must not validate the schema (not)" --set "$nr.eni1=ena-dedicated"
bad "$nr.eni1: String length must be less than or equal to 50" --set "$nr.eni1=$(printf 'e%.0s' {1..51})"
bad "$nr: Property name of \"eni_1\" does not match" --set "$nr.eni_1=ena-eni1"
bad "$nr: \"eni2\" is no dataplane network with an uplink" --set "$nr.eni2=ena-eni2"
bad "$nr: resource \"ena-x\" is named for two networks" -f "$repo/tests/deploy/values/network-resources.yaml" \
  --set "$nr.eni1=ena-x" --set "$nr.eni2=ena-x"
printf 'config:\n  dataplane:\n    networks:\n      - name: eni1\n      - name: eni1\n' >"$tmp/duplicate.yaml"
bad "duplicate network name \"eni1\"" -f "$tmp/duplicate.yaml"

# --- the validator rejects what it must -----------------------------------------------------------
invalid=$repo/tests/deploy/fixtures/invalid.yaml
for fragment in \
  'Pod/bad: data/spec/containers/0/ports/0/containerPort must be integer' \
  'unknown field "labelz"' \
  'unknown field "mountPropogation"' \
  'volumeMount "nope" names no volume' \
  'Bidirectional propagation needs a privileged container' \
  'hugepages-1Gi: requests must equal limits' \
  'no container requests hugepages-2Mi' \
  'NetworkAttachmentDefinition/n: /spec must NOT have additional properties (extra)' \
  'spec.config: / must NOT have additional properties (slotdir)' \
  'resources/limits/cpu must match format "quantity"' \
  'no schema for example.com/v1 Widget'; do
  check "validator rejects: $fragment" fails_with "$fragment" node "$repo/tests/deploy/validate.mjs" k8s "$invalid"
done

finish
