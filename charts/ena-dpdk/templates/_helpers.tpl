{{/* Names and labels. */}}
{{- define "ena-dpdk.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ena-dpdk.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Every namespaced object of the chart (but the NADs, which go where pods are) is the release's. */}}
{{- define "ena-dpdk.namespace" -}}
{{- .Release.Namespace -}}
{{- end -}}

{{/*
The part of the config file one component reads, as JSON, for its pod's checksum annotation: a
pod restarts only when what its own containers read changed. "nodeprep": the nodeprep section;
"cni": the ipam section and the node path policy, which install-cni copies to the host for
ena-dpdk-cni and ena-dpdk-ipam; "dataplane": the dataplane section (with the EAL arguments the
chart adds). The device plugin reloads its sections (deviceplugin, dataplane, ipam) from the
mounted ConfigMap by itself, without a restart.
*/}}
{{- define "ena-dpdk.configChecksum" -}}
{{- $config := include "ena-dpdk.configJson" .root | fromJson -}}
{{- if eq .part "cni" -}}
{{- dict "ipam" ($config.ipam | default dict) "policy" (include "ena-dpdk.cniPolicy" .root) | toJson | sha256sum -}}
{{- else if eq .part "dataplane" -}}
{{- /* The keys the dataplane applies live when the mounted file changes (docs/dataplane.md,
"Reloading the configuration") restart nothing; a directory among them that needs a new mount
changes the pod template anyway. Added networks apply live too, but a template cannot tell an
added network from a changed one, so networks stay in. */ -}}
{{- omit ($config.dataplane | default dict) "macAgingSeconds" "maxPorts" "socket" "allowedSocketDirs" "cniStateDir" | toJson | sha256sum -}}
{{- else -}}
{{- get $config .part | default dict | toJson | sha256sum -}}
{{- end -}}
{{- end -}}

{{- define "ena-dpdk.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ena-dpdk.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ena-dpdk.labels" -}}
{{ include "ena-dpdk.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: ena-dpdk
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "ena-dpdk.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* The resource names the device plugin serves: "<prefix>/ena", "<prefix>/ena-dedicated". */}}
{{- define "ena-dpdk.resource" -}}
{{- printf "%s/%s" (dig "deviceplugin" "resourcePrefix" "dpdk.aws" .root.Values.config) .name -}}
{{- end -}}

{{/*
The config file as JSON: .Values.config, with the EAL arguments the chart manages added in front
of config.dataplane.eal when dataplane.autoEalArgs is set (docs/deploy.md).
*/}}
{{- define "ena-dpdk.configJson" -}}
{{- $config := deepCopy .Values.config -}}
{{- $dataplane := $config.dataplane | default dict -}}
{{- $eal := $dataplane.eal | default list -}}
{{- $names := list -}}
{{- range $network := $dataplane.networks | default list -}}
{{- if has $network.name $names -}}
{{- fail (printf "config.dataplane.networks: duplicate network name %q" $network.name) -}}
{{- end -}}
{{- $names = append $names $network.name -}}
{{- end -}}
{{- /* networkResources: the schema checks each name; these rules span entries. */ -}}
{{- $resources := list -}}
{{- range $network, $resource := dig "deviceplugin" "ena" "networkResources" dict $config -}}
{{- $uplinked := false -}}
{{- range $n := $dataplane.networks | default list -}}
{{- if and (eq $n.name $network) $n.uplink -}}
{{- $uplinked = true -}}
{{- end -}}
{{- end -}}
{{- if not $uplinked -}}
{{- fail (printf "config.deviceplugin.ena.networkResources: %q is no dataplane network with an uplink (config.dataplane.networks)" $network) -}}
{{- end -}}
{{- if has $resource $resources -}}
{{- fail (printf "config.deviceplugin.ena.networkResources: resource %q is named for two networks" $resource) -}}
{{- end -}}
{{- $resources = append $resources $resource -}}
{{- end -}}
{{- if .Values.dataplane.autoEalArgs -}}
{{- range $arg := $eal -}}
{{- if has $arg (list "--huge-dir" "-a" "--allow" "-b" "--block" "--no-pci" "-w" "--pci-whitelist") -}}
{{- fail (printf "config.dataplane.eal holds %q, which the chart sets itself while dataplane.autoEalArgs is true: remove it, or set dataplane.autoEalArgs=false" $arg) -}}
{{- end -}}
{{- end -}}
{{- $managed := list "--huge-dir" $.Values.dataplane.hugepagesMountPath -}}
{{- $pci := include "ena-dpdk.pciUplinks" . | fromJsonArray -}}
{{- if $pci -}}
{{- range $device := $pci -}}
{{- $managed = concat $managed (list "-a" $device) -}}
{{- end -}}
{{- else -}}
{{- $managed = append $managed "--no-pci" -}}
{{- end -}}
{{- $_ := set $dataplane "eal" (concat $managed $eal) -}}
{{- $_ := set $config "dataplane" $dataplane -}}
{{- end -}}
{{- $slotGroup := include "ena-dpdk.slotGroup" . -}}
{{- if $slotGroup -}}
{{- $plugin := $config.deviceplugin | default dict -}}
{{- $ena := $plugin.ena | default dict -}}
{{- $_ := set $ena "slotGroup" ($slotGroup | int64) -}}
{{- $_ := set $plugin "ena" $ena -}}
{{- $_ := set $config "deviceplugin" $plugin -}}
{{- end -}}
{{- toPrettyJson $config -}}
{{- end -}}

{{/*
The PCI addresses the dataplane networks use as uplinks, in config order, as a JSON array (vdev
uplinks are no PCI device). EAL is allowed exactly these (autoEalArgs), and the dataplane pod
asks the kubelet for as many <prefix>/ena-uplink devices.
*/}}
{{- define "ena-dpdk.pciUplinks" -}}
{{- $pci := list -}}
{{- range $network := (.Values.config.dataplane | default dict).networks | default list -}}
{{- if and $network.uplink (regexMatch "^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]$" ($network.uplink.device | toString)) -}}
{{- $pci = append $pci $network.uplink.device -}}
{{- end -}}
{{- end -}}
{{- toJson $pci -}}
{{- end -}}

{{/*
The group of the slot directories (values slotGroup, or config.deviceplugin.ena.slotGroup when
slotGroup is null), as a decimal string; empty for none. The device plugin and the shared NAD's
CNI configuration get the same one.
*/}}
{{- define "ena-dpdk.slotGroup" -}}
{{- $fromConfig := dig "deviceplugin" "ena" "slotGroup" nil .Values.config -}}
{{- $fromValues := .Values.slotGroup -}}
{{- if and (not (kindIs "invalid" $fromValues)) (not (kindIs "invalid" $fromConfig)) (ne (int64 $fromValues) (int64 $fromConfig)) -}}
{{- fail (printf "slotGroup (%v) and config.deviceplugin.ena.slotGroup (%v) differ: set only slotGroup" (int64 $fromValues) (int64 $fromConfig)) -}}
{{- end -}}
{{- if not (kindIs "invalid" $fromValues) -}}
{{- int64 $fromValues -}}
{{- else if not (kindIs "invalid" $fromConfig) -}}
{{- int64 $fromConfig -}}
{{- end -}}
{{- end -}}

{{/*
Host directories each container needs, as JSON {"<container>": [{"path", "propagation",
"readOnly"}]}. Paths come from the config file, so that moving a directory there moves the
mount. A directory inside another one of the same container (after /var/run -> /run) is covered
by the outer mount unless it needs its own propagation.
*/}}
{{- define "ena-dpdk.hostDirs" -}}
{{- $c := .Values.config -}}
{{- $dp := $c.dataplane | default dict -}}
{{- $pluginConfig := $c.deviceplugin | default dict -}}
{{- $ena := $pluginConfig.ena | default dict -}}
{{- $huge := $pluginConfig.hugepages | default dict -}}
{{- $huge2 := $pluginConfig.hugepages2Mi | default dict -}}
{{- $cdi := $pluginConfig.cdi | default dict -}}
{{- $controlDir := dir ($dp.controlSocket | default "/run/ena-dpdk/dataplane.sock") -}}
{{- $stateDir := dir ($dp.stateFile | default "/var/lib/ena-dpdk/dataplane-state.json") -}}
{{- $dataplane := list (dict "path" $controlDir) (dict "path" $stateDir) -}}
{{- /* the CNI's pending deletes, which the dataplane finishes at start */ -}}
{{- $cniStateDir := $dp.cniStateDir | default "/var/lib/ena-dpdk/cni" -}}
{{- if not (hasPrefix (printf "%s/" $stateDir) $cniStateDir) -}}
{{- $dataplane = append $dataplane (dict "path" $cniStateDir) -}}
{{- end -}}
{{- range $d := $dp.allowedSocketDirs | default (list "/var/run/ena-dpdk/vhost") -}}
{{- $dataplane = append $dataplane (dict "path" $d) -}}
{{- end -}}
{{- $plugin := list (dict "path" "/var/lib/kubelet/device-plugins") (dict "path" "/var/lib/kubelet/pod-resources" "readOnly" true) (dict "path" $controlDir) (dict "path" ($ena.dir | default "/var/run/ena-dpdk/vhost")) (dict "path" "/var/run/k8s.cni.cncf.io/devinfo/dp") (dict "path" "/dev/vfio") -}}
{{- /* the IPAM's leases and metadata cache, which bound the healthy attachments per network */ -}}
{{- $ipam := $c.ipam | default dict -}}
{{- if $ipam.networks -}}
{{- $plugin = append $plugin (dict "path" ($ipam.stateDir | default "/var/lib/ena-dpdk/ipam")) -}}
{{- end -}}
{{- if ne $huge.enabled false -}}
{{- $plugin = append $plugin (dict "path" ($huge.mountDir | default "/var/run/ena-dpdk/hugepages") "propagation" "Bidirectional") -}}
{{- end -}}
{{- if $huge2.enabled -}}
{{- $plugin = append $plugin (dict "path" ($huge2.mountDir | default "/var/run/ena-dpdk/hugepages-2Mi") "propagation" "Bidirectional") -}}
{{- end -}}
{{- if $cdi.enabled -}}
{{- $plugin = append $plugin (dict "path" ($cdi.specDir | default "/var/run/cdi")) -}}
{{- end -}}
{{- $result := dict -}}
{{- range $name, $dirs := dict "dataplane" $dataplane "deviceplugin" $plugin -}}
{{- $kept := list -}}
{{- range $d := $dirs -}}
{{- $p := regexReplaceAll "^/var/run/" (clean $d.path) "/run/" -}}
{{- $covered := false -}}
{{- range $o := $dirs -}}
{{- $op := regexReplaceAll "^/var/run/" (clean $o.path) "/run/" -}}
{{- if and (ne $op $p) (hasPrefix (printf "%s/" $op) $p) (not $d.propagation) (not $o.readOnly) -}}
{{- $covered = true -}}
{{- end -}}
{{- end -}}
{{- $seen := false -}}
{{- range $k := $kept -}}
{{- if eq (regexReplaceAll "^/var/run/" $k.path "/run/") $p -}}
{{- $seen = true -}}
{{- end -}}
{{- end -}}
{{- if not (or $covered $seen) -}}
{{- $kept = append $kept (dict "path" (clean $d.path) "propagation" ($d.propagation | default "") "readOnly" ($d.readOnly | default false)) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $result $name $kept -}}
{{- end -}}
{{- toJson $result -}}
{{- end -}}

{{/* The volume name of a host directory. */}}
{{- define "ena-dpdk.hostVolume" -}}
{{- printf "host%s" (. | replace "/" "-" | replace "." "-" | replace "_" "-" | lower) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* requests = limits (Guaranteed QoS, needed for exclusive CPUs) from {cpu, memory}. */}}
{{- define "ena-dpdk.resources" -}}
requests:
  cpu: {{ .cpu | quote }}
  memory: {{ .memory | quote }}
limits:
  cpu: {{ .cpu | quote }}
  memory: {{ .memory | quote }}
{{- end -}}

{{/* /etc/ena-dpdk/cni-policy.json as JSON (configmap.yaml). */}}
{{- define "ena-dpdk.cniPolicy" -}}
{{- $config := .Values.config -}}
{{- $policy := dict
      "logFile" (uniq (list .Values.networkAttachments.logFile "/var/log/ena-dpdk-cni.log" "/var/log/ena-dpdk-ipam.log" "/var/log/ena-dpdk"))
      "stateDir" (list "/var/lib/ena-dpdk")
      "dataplaneSocket" (list $config.dataplane.controlSocket)
      "slotDir" (list $config.deviceplugin.ena.dir)
      "CNIDeviceInfoFile" (list "/run/k8s.cni.cncf.io/devinfo" "/var/run/k8s.cni.cncf.io/devinfo")
      "hostRoot" (list "/")
      "ipam.stateDir" (uniq (list "/var/lib/ena-dpdk" $config.ipam.stateDir))
      "ipam.configFile" (list "/etc/ena-dpdk/config.json") }}
{{- toJson $policy -}}
{{- end -}}

{{/*
The host a probe reaches a metrics address ("127.0.0.1:9640") at: its host, or 127.0.0.1 for a
wildcard one ("0.0.0.0:9640", "[::]:9640"); the kubelet probes from the node (hostNetwork).
*/}}
{{- define "ena-dpdk.probeHost" -}}
{{- $host := regexReplaceAll ":[0-9]+$" . "" | trimPrefix "[" | trimSuffix "]" -}}
{{- if has $host (list "" "0.0.0.0" "::") -}}
127.0.0.1
{{- else -}}
{{- $host -}}
{{- end -}}
{{- end -}}

{{/*
The --metrics-address of a component, for (dict "root" . "port" N): metrics.host "node" gives
"[$(NODE_IP)]:N" (the kubelet expands $(NODE_IP), status.hostIP, from the container's env; the
brackets keep an IPv6 node address apart from the port, and the daemons accept them around IPv4
too); a literal host gives "HOST:N" ("[HOST]:N" for IPv6). Fails when config.dataplane or
config.deviceplugin still names a metricsAddress, which the flag would silently override.
*/}}
{{- define "ena-dpdk.metricsAddress" -}}
{{- range $part := list "dataplane" "deviceplugin" -}}
{{- if hasKey (get $.root.Values.config $part | default dict) "metricsAddress" -}}
{{- fail (printf "config.%s.metricsAddress: set metrics.host and metrics.%sPort instead (the chart passes --metrics-address)" $part $part) -}}
{{- end -}}
{{- end -}}
{{- $host := .root.Values.metrics.host -}}
{{- if eq $host "node" -}}
[$(NODE_IP)]:{{ .port }}
{{- else if contains ":" $host -}}
[{{ $host }}]:{{ .port }}
{{- else -}}
{{ $host }}:{{ .port }}
{{- end -}}
{{- end -}}

{{/*
The container lines of a metrics endpoint, for (dict "root" . "port" N): the --metrics-address
flag goes in the command; this renders the NODE_IP env entry and the named port. Used as
  env: {{ include "ena-dpdk.metricsEnv" ... }}   ports: {{ include "ena-dpdk.metricsPorts" ... }}
*/}}
{{- define "ena-dpdk.metricsEnv" -}}
{{- if eq .root.Values.metrics.host "node" -}}
- name: NODE_IP
  valueFrom:
    fieldRef:
      fieldPath: status.hostIP
{{- end -}}
{{- end -}}

{{- define "ena-dpdk.metricsPorts" -}}
{{- if gt (int .port) 0 -}}
# hostNetwork: the port is the node's (hostPort = containerPort, so the scheduler sees clashes).
- name: metrics
  containerPort: {{ .port }}
  hostPort: {{ .port }}
  protocol: TCP
{{- end -}}
{{- end -}}

{{/*
The httpGet handler of a probe on GET /healthz of the metrics endpoint, for (dict "root" . "port"
N): no host for metrics.host "node" (the kubelet probes the pod's IP, which is the node's on the
host network), the address itself for a literal one, 127.0.0.1 for a wildcard one.
*/}}
{{- define "ena-dpdk.healthzProbe" -}}
{{- $get := dict "port" (int .port) "path" "/healthz" -}}
{{- $host := .root.Values.metrics.host -}}
{{- if ne $host "node" -}}
{{- $_ := set $get "host" (include "ena-dpdk.probeHost" (printf "[%s]:%d" $host (int .port))) -}}
{{- end -}}
{{- dict "httpGet" $get | toYaml -}}
{{- end -}}
