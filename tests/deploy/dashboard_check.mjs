// Checks the Grafana dashboard (charts/ena-dpdk/dashboards/ena-dpdk.json) offline:
//   - against Grafana's own types (@grafana/schema, the types Grafana's frontend is built with):
//     the dashboard as a `Dashboard`, each time series panel's options and custom field config as
//     the timeseries panel's `Options` / `FieldConfig`, each table's as the table's; the
//     TypeScript compiler checks them as object literals, so an unknown key is an error too;
//   - the layout: unique panel ids, every panel inside the 24-column grid, no two overlapping;
//   - the queries: every metric a query names is one of METRICS (the names the daemons export),
//     every panel has a query, and the panels the operations guide promises are there.
// Prints each query with $node and $__rate_interval substituted, one per line, to --exprs FILE
// (monitoring_test.sh has promtool parse them).
//
//   node dashboard_check.mjs DASHBOARD METRICS_FILE --exprs FILE
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";

const [file, metricsFile, , exprsFile] = process.argv.slice(2);
const toolsDir = process.env.ENA_DPDK_TOOLS_DIR || "/var/cache/ena-dpdk-tools";
const modules = path.join(toolsDir, "npm", "node_modules");
const dash = JSON.parse(fs.readFileSync(file, "utf8"));
const known = new Set(fs.readFileSync(metricsFile, "utf8").split("\n").filter(Boolean));
let failures = 0;
const fail = (msg) => { failures++; console.log(`FAIL: ${msg}`); };

// --- Grafana's types ------------------------------------------------------------------------
const schema = "@grafana/schema/dist/esm/raw";
const lines = [
  // Grafana's types use string enums (LegendDisplayMode.Table = "table"); JSON holds their
  // values. Json<T> is T with every enum replaced by the union of its values.
  "type Json<T> = T extends string ? `${T}` : T extends (infer U)[] ? Json<U>[] :",
  "  T extends object ? { [K in keyof T]: Json<T[K]> } : T;",
  `import type { Dashboard } from "${schema}/dashboard/x/Dashboard_types.gen";`,
  `import type * as TimeSeries from "${schema}/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen";`,
  `import type * as Table from "${schema}/composable/table/panelcfg/x/TablePanelCfg_types.gen";`,
  `export const dashboard: Json<Dashboard> = ${JSON.stringify(dash)};`,
];
const all = (dash.panels || []).flatMap((p) => [p, ...(p.panels || [])]);
all.forEach((p, i) => {
  const ns = { timeseries: "TimeSeries", table: "Table" }[p.type];
  if (p.type === "row") return;
  if (!ns) return fail(`panel "${p.title}": type ${p.type} is not one this check knows`);
  lines.push(`export const options${i}: Json<${ns}.Options> = ${JSON.stringify(p.options || {})};`);
  const custom = ((p.fieldConfig || {}).defaults || {}).custom;
  if (custom) lines.push(`export const custom${i}: Json<${ns}.FieldConfig> = ${JSON.stringify(custom)};`);
});
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dashboard-check-"));
try {
  fs.symlinkSync(modules, path.join(dir, "node_modules"));
  fs.writeFileSync(path.join(dir, "dashboard.ts"), lines.join("\n") + "\n");
  execFileSync(process.execPath, [path.join(modules, "typescript/bin/tsc"), "--noEmit", "--strict",
    "--target", "es2022", "--module", "nodenext", "--moduleResolution", "nodenext",
    "--skipLibCheck", path.join(dir, "dashboard.ts")], { stdio: "pipe" });
  console.log("ok: the dashboard and its panels' options match Grafana's types (@grafana/schema)");
} catch (e) {
  fail(`Grafana's types reject the dashboard:\n${(e.stdout || "").toString()}${(e.stderr || "").toString()}`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

// --- layout ---------------------------------------------------------------------------------
const ids = new Set();
const boxes = [];
for (const p of all) {
  if (ids.has(p.id)) fail(`panel id ${p.id} used twice`);
  ids.add(p.id);
  const g = p.gridPos || {};
  if (!(g.w > 0 && g.h > 0 && g.x >= 0 && g.y >= 0 && g.x + g.w <= 24)) {
    fail(`panel "${p.title}": gridPos ${JSON.stringify(g)} outside the 24-column grid`);
  }
  for (const b of boxes) {
    if (g.x < b.x + b.w && b.x < g.x + g.w && g.y < b.y + b.h && b.y < g.y + g.h) {
      fail(`panels "${p.title}" and "${b.title}" overlap`);
    }
  }
  boxes.push({ ...g, title: p.title });
}

// --- queries --------------------------------------------------------------------------------
const exprs = [];
const variables = new Set(((dash.templating || {}).list || []).map((v) => v.name));
for (const p of all.filter((p) => p.type !== "row")) {
  if (!(p.targets || []).length) fail(`panel "${p.title}" has no query`);
  if (!p.description) fail(`panel "${p.title}" has no description`);
  for (const t of p.targets || []) {
    for (const v of t.expr.matchAll(/\$(\w+)/g)) {
      if (!variables.has(v[1]) && !v[1].startsWith("__")) fail(`panel "${p.title}": unknown variable $${v[1]}`);
    }
    const names = [...t.expr.matchAll(/\bena_dpdk_\w+/g)].map((m) => m[0]);
    // {__name__=~"ena_dpdk_(port|uplink)_drops_total"}: each alternative.
    for (const m of t.expr.matchAll(/__name__=~"([^"]+)"/g)) {
      const alt = m[1].match(/^(\w*)\(([\w|]+)\)(\w*)$/);
      if (!alt) { fail(`panel "${p.title}": cannot read ${m[0]}`); continue; }
      names.push(...alt[2].split("|").map((a) => alt[1] + a + alt[3]));
    }
    if (!names.length) fail(`panel "${p.title}": query names no ena_dpdk metric: ${t.expr}`);
    for (const n of names.filter((n) => !n.endsWith("_"))) {
      if (!known.has(n)) fail(`panel "${p.title}": ${n} is not a metric the daemons export`);
    }
    exprs.push(t.expr.replaceAll("$__rate_interval", "5m").replaceAll("$node", ".*"));
  }
}
const titles = all.map((p) => p.title);
for (const want of ["Uplink throughput per node", "Drops by reason", "Worker busy share",
  "Pods per network", "ENA allowance exceeded", "Allocations by result"]) {
  if (!titles.includes(want)) fail(`no panel "${want}"`);
}
if (exprsFile) fs.writeFileSync(exprsFile, exprs.join("\n") + "\n");
console.log(`${all.length} panels, ${exprs.length} queries, ${failures} problems`);
process.exit(failures ? 1 : 0);
