#!/usr/bin/env bash
# Monitoring from the chart: where the daemons listen (--metrics-address, named ports, probes),
# the headless Service, the Prometheus Operator's ServiceMonitor / PodMonitor and PrometheusRule
# (validated against the operator's CRD schemas), the alerts evaluated by promtool on sample
# series (rules/alerts_test.yaml), and the Grafana dashboard: Grafana's types, its layout, its
# queries parsed by promtool and naming only metrics the daemons export.
# Usage: monitoring_test.sh
# shellcheck disable=SC2016 # single quotes: JavaScript expressions and a literal $(NODE_IP)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
chart=$repo/charts/ena-dpdk
command -v promtool >/dev/null || { echo "FATAL: promtool is missing (Debian package prometheus; scripts/deps.sh)"; exit 1; }

template() {  # template OUT ARGS...: helm template into $tmp/OUT.yaml
  local out=$1
  shift
  "$helm" template t "$chart" -n ena "$@" >"$tmp/$out.yaml"
}
all=(--api-versions monitoring.coreos.com/v1 --set metrics.serviceMonitor.enabled=true
  --set metrics.podMonitor.enabled=true --set metrics.prometheusRule.enabled=true
  --set metrics.dashboard.enabled=true)

# --- where the daemons listen -------------------------------------------------------------------
check "default: helm template" template default
f=$tmp/default.yaml
check "default: both daemons listen on the node's address (downward API), brackets for IPv6" \
  expect "$f" '[c("dataplane"), c("deviceplugin")].map(x => [x.command.slice(x.command.indexOf("--metrics-address") + 1)[0], x.env.find(e => e.name === "NODE_IP").valueFrom.fieldRef.fieldPath])' \
  '[["[$(NODE_IP)]:9640","status.hostIP"],["[$(NODE_IP)]:9641","status.hostIP"]]'
check "default: a port named metrics on each container (hostPort = containerPort on the host network)" \
  expect "$f" '[c("dataplane").ports, c("deviceplugin").ports]' \
  '[[{"name":"metrics","containerPort":9640,"hostPort":9640,"protocol":"TCP"}],[{"name":"metrics","containerPort":9641,"hostPort":9641,"protocol":"TCP"}]]'
check "default: probes on the pod's address, which is the node's" \
  expect "$f" '[c("dataplane").livenessProbe.httpGet, c("deviceplugin").livenessProbe.httpGet]' \
  '[{"path":"/healthz","port":9640},{"path":"/healthz","port":9641}]'
check "default: a headless Service over both DaemonSets' pods, port metrics by name" \
  expect "$f" '(s => [s.spec.clusterIP, s.spec.ports, [ds, dds].map(d => Object.entries(s.spec.selector).every(([k, v]) => d.spec.template.metadata.labels[k] === v))])(kind("Service")[0])' \
  '["None",[{"name":"metrics","port":9640,"targetPort":"metrics","protocol":"TCP"}],[true,true]]'
check "default: no ServiceMonitor, PodMonitor, PrometheusRule or dashboard" \
  expect "$f" 'docs.filter(d => /Monitor|Rule/.test(d.kind) || /dashboard/.test(d.metadata.name)).length' '0'
check "monitors enabled without the CRD: none rendered (the Service still is)" \
  template nocrd --set metrics.serviceMonitor.enabled=true --set metrics.prometheusRule.enabled=true
check "monitors enabled without the CRD: none rendered" \
  expect "$tmp/nocrd.yaml" 'docs.map(d => d.kind).filter(k => /Service|Monitor|Rule/.test(k))' '["Service"]'
notes() {  # notes ARGS...: NOTES.txt as helm would print it after an install (a copy of the chart
  # renders it as a template; --debug prints it although it is not YAML)
  rm -rf "$tmp/chart" && cp -r "$chart" "$tmp/chart" && cp "$chart/templates/NOTES.txt" "$tmp/chart/templates/notes.txt"
  "$helm" template t "$tmp/chart" -n ena --show-only templates/notes.txt --debug "$@" 2>&1 | sed -n '/^Metrics and health/,$p'
}
check "NOTES: monitors enabled without the CRD: a warning" \
  bash -c "$(declare -f notes); tmp=$tmp chart=$chart helm=$helm; notes --set metrics.serviceMonitor.enabled=true | grep -q 'WARNING: metrics.serviceMonitor, podMonitor or prometheusRule is enabled, but the cluster'"
check "NOTES: with the CRD, no warning; the node's address and ports" \
  bash -c "$(declare -f notes); tmp=$tmp chart=$chart helm=$helm; out=\$(notes --set metrics.serviceMonitor.enabled=true --api-versions monitoring.coreos.com/v1); echo \"\$out\"; ! grep -q WARNING <<<\"\$out\" && grep -q 'the dataplane on <node address>:9640, the device plugin on <node address>:9641' <<<\"\$out\""
check "metrics.host=127.0.0.1: node-local, probes at 127.0.0.1, no NODE_IP" \
  template local --set metrics.host=127.0.0.1
check "metrics.host=127.0.0.1: addresses and probes" \
  expect "$tmp/local.yaml" '[(x => x.command[x.command.indexOf("--metrics-address") + 1])(c("dataplane")), (x => x.command[x.command.indexOf("--metrics-address") + 1])(c("deviceplugin")), c("dataplane").readinessProbe.httpGet.host, c("deviceplugin").livenessProbe.httpGet.host, c("dataplane").env, c("deviceplugin").env]' \
  '["127.0.0.1:9640","127.0.0.1:9641","127.0.0.1","127.0.0.1",null,null]'
check "metrics.host=fd00::5: brackets" template v6 --set metrics.host=fd00::5
check "metrics.host=fd00::5: brackets in the flag, the probe host without" \
  expect "$tmp/v6.yaml" '[(x => x.command[x.command.indexOf("--metrics-address") + 1])(c("dataplane")), c("dataplane").startupProbe.httpGet.host]' '["[fd00::5]:9640","fd00::5"]'
check "metrics.host=0.0.0.0: probes at 127.0.0.1" template any --set metrics.host=0.0.0.0
check "metrics.host=0.0.0.0: probes at 127.0.0.1" \
  expect "$tmp/any.yaml" '[(x => x.command[x.command.indexOf("--metrics-address") + 1])(c("dataplane")), c("dataplane").startupProbe.httpGet.host]' '["0.0.0.0:9640","127.0.0.1"]'
check "ports 0: no named ports, no Service, the dataplane probes fall back to ena-dpdk-ctl health" \
  template zero --set metrics.dataplanePort=0 --set metrics.devicepluginPort=0 "${all[@]}"
check "ports 0: nothing to scrape" \
  expect "$tmp/zero.yaml" '[c("dataplane").ports, c("deviceplugin").ports, c("deviceplugin").livenessProbe, c("dataplane").livenessProbe.exec.command.slice(-1)[0], docs.filter(d => /Service|Monitor/.test(d.kind)).length]' \
  '[null,null,null,"health",0]'
check "config.dataplane.metricsAddress is refused (the flag would override it)" \
  fails_with "config.dataplane.metricsAddress: set metrics.host and metrics.dataplanePort instead" \
  "$helm" template t "$chart" --set config.dataplane.metricsAddress=127.0.0.1:9640
check "a bad metrics.host is refused by the schema" \
  fails_with "metrics.host" "$helm" template t "$chart" --set 'metrics.host=node;rm'

# --- Prometheus Operator objects ----------------------------------------------------------------
check "uninstall mode: no Service, monitors or alert rules (the daemons are gone on purpose)" \
  template undo "${all[@]}" --set uninstall=true
check "uninstall mode: nothing to scrape or alert on" \
  expect "$tmp/undo.yaml" 'docs.filter(d => /Service|Monitor|Rule/.test(d.kind)).length' '0'
check "everything enabled with the CRD: helm template" template all "${all[@]}" \
  --set 'metrics.serviceMonitor.labels.release=kps' --set 'metrics.prometheusRule.labels.release=kps'
f=$tmp/all.yaml
check "everything enabled: every object valid (core and Prometheus Operator schemas)" \
  node "$repo/tests/deploy/validate.mjs" k8s "$f"
check "ServiceMonitor: selects the metrics Service in the release namespace, port metrics, node label" \
  expect "$f" '(m => [m.metadata.namespace, m.metadata.labels.release, Object.entries(m.spec.selector.matchLabels).every(([k, v]) => kind("Service")[0].metadata.labels[k] === v), m.spec.namespaceSelector, m.spec.endpoints.map(e => [e.port, e.path, e.interval, e.relabelings[0].targetLabel])])(kind("ServiceMonitor")[0])' \
  '["ena","kps",true,{"matchNames":["ena"]},[["metrics","/metrics","30s","node"]]]'
check "PodMonitor: both DaemonSets' pods, port metrics, node label" \
  expect "$f" '(m => [[ds, dds].map(d => Object.entries(m.spec.selector.matchLabels).every(([k, v]) => d.spec.template.metadata.labels[k] === v)), m.spec.podMetricsEndpoints.map(e => [e.port, e.relabelings[0].sourceLabels[0]])])(kind("PodMonitor")[0])' \
  '[[true,true],[["metrics","__meta_kubernetes_pod_node_name"]]]'
check "dashboard ConfigMap: Grafana's sidecar label, the chart's dashboard file" \
  node -e '
    const fs = require("fs");
    const YAML = require(process.env.ENA_DPDK_TOOLS_DIR + "/npm/node_modules/yaml");
    const cm = YAML.parseAllDocuments(fs.readFileSync(process.argv[1], "utf8")).map(d => d.toJS())
      .find(d => d && d.kind === "ConfigMap" && d.metadata.name.endsWith("-dashboard"));
    const file = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
    if (cm.metadata.labels.grafana_dashboard !== "1") throw new Error("label: " + JSON.stringify(cm.metadata.labels));
    if (JSON.stringify(JSON.parse(cm.data["ena-dpdk.json"])) !== JSON.stringify(file)) throw new Error("data differs from the file");
  ' "$f" "$chart/dashboards/ena-dpdk.json"

# --- alerts: promtool ---------------------------------------------------------------------------
rules_from() {  # rules_from FILE OUT: the PrometheusRule's spec (a Prometheus rule file)
  node -e '
    const fs = require("fs");
    const YAML = require(process.env.ENA_DPDK_TOOLS_DIR + "/npm/node_modules/yaml");
    const r = YAML.parseAllDocuments(fs.readFileSync(process.argv[1], "utf8")).map(d => d.toJS())
      .find(d => d && d.kind === "PrometheusRule");
    fs.writeFileSync(process.argv[2], YAML.stringify(r.spec));
  ' "$1" "$2"
}
mkdir -p "$tmp/rules"
check "alerts: the rule file" rules_from "$f" "$tmp/rules/rules.yaml"
check "alerts: promtool check rules" promtool check rules "$tmp/rules/rules.yaml"
cp "$repo/tests/deploy/rules/alerts_test.yaml" "$tmp/rules/"
check "alerts: promtool test rules (each alert fires when it should, and only then)" \
  promtool test rules "$tmp/rules/alerts_test.yaml"
check "alerts: every alert has a test in which it fires" \
  node -e '
    const fs = require("fs");
    const YAML = require(process.env.ENA_DPDK_TOOLS_DIR + "/npm/node_modules/yaml");
    const rules = YAML.parse(fs.readFileSync(process.argv[1], "utf8")).groups.flatMap(g => g.rules).map(r => r.alert);
    const tests = YAML.parse(fs.readFileSync(process.argv[2], "utf8")).tests.flatMap(t => t.alert_rule_test || []);
    const fired = new Set(tests.filter(t => (t.exp_alerts || []).length).map(t => t.alertname));
    const missing = rules.filter(a => !fired.has(a));
    if (missing.length) throw new Error("never fires in a test: " + missing.join(", "));
    console.log(rules.length + " alerts, all tested");
  ' "$tmp/rules/rules.yaml" "$tmp/rules/alerts_test.yaml"
check "alerts: thresholds come from the values" \
  bash -c "\"$helm\" template t \"$chart\" -n ena ${all[*]} --set-json metrics.prometheusRule.workerBusyThreshold=0.75 | grep -q '/ rate(ena_dpdk_worker_cycles_total\[5m\]) > 0.75'"

# --- the dashboard ------------------------------------------------------------------------------
# The metric names the daemons export: every "ena_dpdk_..." string of their sources (the e2e test
# queries the dashboard on a real Prometheus scraping the real daemons).
grep -rhoE '"ena_dpdk_[a-z0-9_]+"' "$repo/vhostuser" "$repo/deviceplugin" --include='*.cc' | tr -d '"' | sort -u >"$tmp/metrics.txt"
check "dashboard: Grafana's types, layout, panels, only exported metrics" \
  node "$repo/tests/deploy/dashboard_check.mjs" "$chart/dashboards/ena-dpdk.json" "$tmp/metrics.txt" --exprs "$tmp/exprs.txt"
dashboard_rules() {  # every query as a recording rule, so that promtool parses it
  echo "groups:"
  echo "  - name: dashboard"
  echo "    rules:"
  local i=0 expr
  while IFS= read -r expr; do
    i=$((i + 1))
    printf '      - record: dashboard:query%d\n        expr: %s\n' "$i" "$(node -e 'console.log(JSON.stringify(process.argv[1]))' "$expr")"
  done <"$tmp/exprs.txt"
}
check "dashboard: every query parses (promtool)" \
  bash -c "$(declare -f dashboard_rules); tmp=$tmp; dashboard_rules >$tmp/dashboard-rules.yaml && promtool check rules $tmp/dashboard-rules.yaml"
finish
