#!/usr/bin/env bash
# The chart's config.json against the components' own parsers: for the default values and every
# value set of tests/deploy/values/, the ConfigMap's config.json must load with each component's
# loader (deploy_config_check); and the chart's schema must accept the documented example
# configuration (docs/config.example.json), so that the schema is not stricter than the parsers
# where it matters. A configuration the parsers reject proves the checker can fail.
# Usage: config_test.sh BUILD_DIR
# shellcheck disable=SC2016 # single quotes: JavaScript expressions
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
checker=${1:?usage: config_test.sh BUILD_DIR}/tests/deploy/deploy_config_check
[ -x "$checker" ] || { echo "FATAL: $checker is missing (build the deploy_config_check target)"; exit 1; }
chart=$repo/charts/ena-dpdk

for set in default shared-only dedicated-only cdi custom network-resources; do
  args=()
  [ "$set" = default ] || args=(-f "$repo/tests/deploy/values/$set.yaml")
  "$helm" template ena-dpdk "$chart" "${args[@]}" >"$tmp/$set.yaml" || { echo "FATAL: helm template $set"; exit 1; }
  q "$tmp/$set.yaml" 'config' >"$tmp/$set.json"
  check "$set: config.json loads with every component's parser" "$checker" "$tmp/$set.json"
done

# Two networks on one uplink: the schema cannot see it, the parsers must.
printf '{"dataplane": {"networks": [{"name": "a", "uplink": {"device": "0000:00:06.0"}}, {"name": "b", "uplink": {"device": "0000:00:06.0"}}]}}\n' >"$tmp/shared-uplink.json"
check "a configuration the parsers reject fails the check" \
  fails_with 'is already the uplink of network "a"' "$checker" "$tmp/shared-uplink.json"

# The values schema's "config" part, as a schema of its own.
node -e '
  const fs = require("fs");
  const values = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  const schema = { ...values.properties.config, definitions: values.definitions,
                   $schema: values.$schema };
  fs.writeFileSync(process.argv[2], JSON.stringify(schema));
' "$chart/values.schema.json" "$tmp/config.schema.json"
check "the chart schema accepts docs/config.example.json" \
  node "$repo/tests/deploy/validate.mjs" schema "$tmp/config.schema.json" "$repo/docs/config.example.json"
check "docs/config.example.json loads with every component's parser" "$checker" "$repo/docs/config.example.json"

finish
