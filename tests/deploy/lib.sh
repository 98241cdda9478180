# Shared helpers of the deploy tests (sourced, not run). Installs the tools (tools.sh) or fails
# loudly, and provides a scratch directory, check/expectation helpers and the closing count line.
# shellcheck shell=bash disable=SC2034 # the variables are for the scripts that source this

set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
tools_bin=$("$repo/tests/deploy/tools.sh") || { echo "FATAL: tests/deploy/tools.sh failed"; exit 1; }
export ENA_DPDK_TOOLS_DIR=${tools_bin%/bin}
helm=$tools_bin/helm
kubectl=$tools_bin/kubectl
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source-path=SCRIPTDIR source=check.sh
source "$repo/tests/deploy/check.sh"

# fails_with FRAGMENT COMMAND...: COMMAND must fail and print FRAGMENT.
fails_with() {
  local fragment=$1
  shift
  if "$@" >"$tmp/fail-out" 2>&1; then
    echo "expected a failure, got success"
    return 1
  fi
  grep -qF -- "$fragment" "$tmp/fail-out" && return 0
  echo "the failure does not mention \"$fragment\":"
  cat "$tmp/fail-out"
  return 1
}

# q FILE EXPRESSION: evaluates a JavaScript EXPRESSION over `docs` (the YAML documents of FILE)
# with helpers `kind(k)` (the documents of a kind), `ds` (the node DaemonSet),
# `pod` (its pod spec or the first Pod's), `dds` and `dpod` (the dataplane DaemonSet, named
# *-dataplane, and its pod spec), `c(name)` (a container or init container of either pod),
# `config` (the parsed config.json of the ConfigMap), `nad(name)` (a
# NetworkAttachmentDefinition's parsed CNI config) and prints the result as JSON.
q() {
  node --input-type=module -e '
    import fs from "node:fs";
    import { createRequire } from "node:module";
    const require = createRequire(process.env.ENA_DPDK_TOOLS_DIR + "/npm/node_modules/noop.js");
    const YAML = require("yaml");
    const docs = YAML.parseAllDocuments(fs.readFileSync(process.argv[1], "utf8"))
      .map((d) => d.toJS()).filter((d) => d);
    const kind = (k) => docs.filter((d) => d.kind === k);
    const ds = kind("DaemonSet").find((d) => !d.metadata.name.endsWith("-dataplane"));
    const pod = ds ? ds.spec.template.spec : (kind("Pod")[0] || {}).spec;
    const dds = kind("DaemonSet").find((d) => d.metadata.name.endsWith("-dataplane"));
    const dpod = dds ? dds.spec.template.spec : {};
    const c = (name) => [pod || {}, dpod].flatMap((p) => [...(p.initContainers || []), ...(p.containers || [])]).find((x) => x.name === name);
    const cm = kind("ConfigMap")[0];
    const config = cm ? JSON.parse(cm.data["config.json"]) : undefined;
    const nad = (name) => { const n = kind("NetworkAttachmentDefinition").find((d) => d.metadata.name === name); return n && JSON.parse(n.spec.config); };
    const result = eval(process.argv[2]);
    console.log(JSON.stringify(result));
  ' "$1" "$2"
}

# expect FILE EXPRESSION EXPECTED_JSON: q FILE EXPRESSION must print EXPECTED_JSON.
expect() {
  local got
  got=$(q "$1" "$2") || return 1
  [ "$got" = "$3" ] && return 0
  echo "$2"
  echo "  expected: $3"
  echo "  got:      $got"
  return 1
}

finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
