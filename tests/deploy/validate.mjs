// Offline validation of the deploy files. Run with NODE_PATH unset; the modules come from the
// tools directory (tests/deploy/tools.sh), given as ENA_DPDK_TOOLS_DIR.
//
//   node validate.mjs k8s FILE...            Kubernetes objects (multi-document YAML)
//   node validate.mjs schema SCHEMA FILE...  every document of each FILE against a JSON Schema
//
// k8s mode checks each object:
//   - against the Kubernetes OpenAPI schemas of the kubernetes-models package (Kubernetes 1.34
//     API, a superset of 1.29's for everything used here): types, enums, required fields; the
//     Prometheus Operator's kinds against @kubernetes-models/prometheus-operator (its CRDs);
//   - for fields the API server would reject as unknown (strict field validation), from the
//     package's type declarations: the OpenAPI schemas allow unknown fields, the server does not;
//   - NetworkAttachmentDefinition against the Multus CRD schema (schemas/) and its spec.config
//     as CNI configuration (ena-dpdk-cni's keys); NodeConfig (nodeadm) and eksctl's ClusterConfig
//     against schemas written from their API types (schemas/);
//   - pod specs for what only the API server checks: volume and container names, mounts naming
//     volumes, Bidirectional propagation only when privileged, hugepages requests.
// Prints one "ok:" line per object and one "FAIL:" line per problem; exits 1 on any problem.

import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const toolsDir = process.env.ENA_DPDK_TOOLS_DIR || "/var/cache/ena-dpdk-tools";
const modules = path.join(toolsDir, "npm", "node_modules");
const require = createRequire(path.join(modules, "noop.js"));
const YAML = require("yaml");
const Ajv = require("ajv").default;
const addFormats = require("ajv-formats").default;

let failures = 0;
function fail(where, message) {
  failures++;
  console.log(`FAIL: ${where}: ${message}`);
}

function readDocuments(file) {
  const text = fs.readFileSync(file, "utf8");
  const docs = [];
  for (const doc of YAML.parseAllDocuments(text)) {
    if (doc.errors.length) {
      fail(file, `YAML: ${doc.errors.map((e) => e.message).join("; ")}`);
      continue;
    }
    const value = doc.toJS();
    if (value !== null && value !== undefined) docs.push(value);
  }
  return docs;
}

function ajvFor() {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  return ajv;
}

function schemaErrors(validate) {
  return (validate.errors || []).map((e) => `${e.instancePath || "/"} ${e.message}${e.params && e.params.additionalProperty ? ` (${e.params.additionalProperty})` : ""}`);
}

// ---- strict fields from the type declarations ----------------------------------------------

const declarationCache = new Map();

// Parses a .d.ts of kubernetes-models: its imports (alias -> file) and its main interface's
// members (name -> type text). A file holding only a type alias (Quantity) has no members.
function parseDeclaration(file) {
  if (declarationCache.has(file)) return declarationCache.get(file);
  const text = fs.readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "");
  const imports = new Map();
  for (const m of text.matchAll(/import \{ ([^}]+) \} from "([^"]+)";/g)) {
    for (const name of m[1].split(",").map((s) => s.trim())) {
      imports.set(name, resolveDeclaration(file, m[2]));
    }
  }
  let members = null;
  const start = text.search(/export interface I\w+(?: extends [\w, <>]+)? \{/);
  if (start >= 0) {
    let i = text.indexOf("{", start) + 1;
    let depth = 1;
    const bodyStart = i;
    for (; i < text.length && depth > 0; i++) {
      if (text[i] === "{") depth++;
      else if (text[i] === "}") depth--;
    }
    members = new Map();
    for (const member of splitTopLevel(text.slice(bodyStart, i - 1))) {
      const m = member.match(/^\s*"?([^"?:\s]+)"?\??:\s*([\s\S]+?)\s*$/);
      if (m) members.set(m[1], m[2]);
    }
  }
  const result = { imports, members };
  declarationCache.set(file, result);
  return result;
}

function splitTopLevel(body) {
  const parts = [];
  let depth = 0;
  let current = "";
  for (const c of body) {
    if (c === "{" || c === "<" || c === "(") depth++;
    if (c === "}" || c === ">" || c === ")") depth--;
    if (c === ";" && depth === 0) {
      parts.push(current);
      current = "";
    } else {
      current += c;
    }
  }
  if (current.trim()) parts.push(current);
  return parts;
}

function resolveDeclaration(from, spec) {
  const base = spec.startsWith(".")
    ? path.resolve(path.dirname(from), spec)
    : path.join(modules, spec);
  return base.replace(/\.js$/, "") + ".d.ts";
}

// Reports fields of `value` that the type `typeText` (declared in `file`) does not have.
function checkFields(value, typeText, file, where) {
  typeText = typeText.trim();
  if (value === null || typeof value !== "object") return;
  let m;
  if ((m = typeText.match(/^Array<([\s\S]+)>$/))) {
    if (Array.isArray(value)) value.forEach((v, i) => checkFields(v, m[1], file, `${where}[${i}]`));
    return;
  }
  if ((m = typeText.match(/^\{\s*\[key: string\]:\s*([\s\S]+?);?\s*\}$/))) {
    for (const [k, v] of Object.entries(value)) checkFields(v, m[1], file, `${where}.${k}`);
    return;
  }
  const target = parseDeclaration(file).imports.get(typeText);
  if (!target) return; // a primitive, a literal union or an index type
  checkObjectFields(value, target, where);
}

function checkObjectFields(value, file, where) {
  const { members } = parseDeclaration(file);
  if (!members || Array.isArray(value)) return;
  for (const [key, child] of Object.entries(value)) {
    if (!members.has(key)) {
      fail(where, `unknown field "${key}"`);
      continue;
    }
    checkFields(child, members.get(key), file, `${where}.${key}`);
  }
}

// ---- Kubernetes objects --------------------------------------------------------------------

// Kinds outside the Kubernetes API packages: their schema, and whether metadata is ObjectMeta.
const customSchemas = {
  "k8s.cni.cncf.io/v1/NetworkAttachmentDefinition": {
    schema: "network-attachment-definition.schema.json",
    objectMeta: true,
  },
  "node.eks.aws/v1alpha1/NodeConfig": { schema: "nodeconfig.schema.json", objectMeta: true },
  "eksctl.io/v1alpha5/ClusterConfig": { schema: "eksctl-clusterconfig.schema.json", objectMeta: false },
};
// Every schema of schemas/, under its file name, so that they can refer to each other.
let schemaStore = null;
function customValidator(name) {
  if (!schemaStore) {
    schemaStore = ajvFor();
    const dir = path.join(here, "schemas");
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".json"))) {
      schemaStore.addSchema(JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")), file);
    }
  }
  return schemaStore.getSchema(name);
}

// The model of a kind: kubernetes-models for the core API, its Prometheus Operator package for
// monitoring.coreos.com (ServiceMonitor, PodMonitor, PrometheusRule, from the operator's CRDs).
async function modelValidator(apiVersion, kind) {
  const pkg = apiVersion.startsWith("monitoring.coreos.com/")
    ? "@kubernetes-models/prometheus-operator"
    : "kubernetes-models";
  const dir = path.join(modules, pkg, apiVersion);
  const file = path.join(dir, `${kind}.js`);
  if (!fs.existsSync(file)) return null;
  const module = await import(pathToFileURL(file).href);
  return { Model: module[kind], declaration: path.join(dir, `${kind}.d.ts`) };
}

function checkPodSpec(spec, where) {
  if (!spec) return;
  const volumes = new Map();
  for (const v of spec.volumes || []) {
    if (volumes.has(v.name)) fail(where, `volume "${v.name}" defined twice`);
    volumes.set(v.name, v);
  }
  const names = new Set();
  const hugepageRequests = new Set();
  const containers = [...(spec.initContainers || []), ...(spec.containers || [])];
  if (!(spec.containers || []).length) fail(where, "no containers");
  for (const c of containers) {
    const at = `${where} container ${c.name}`;
    if (names.has(c.name)) fail(where, `container name "${c.name}" used twice`);
    names.add(c.name);
    const mountPaths = new Set();
    for (const m of c.volumeMounts || []) {
      if (!volumes.has(m.name)) fail(at, `volumeMount "${m.name}" names no volume`);
      if (mountPaths.has(m.mountPath)) fail(at, `two mounts at ${m.mountPath}`);
      mountPaths.add(m.mountPath);
      if (m.mountPropagation === "Bidirectional" && !(c.securityContext || {}).privileged) {
        fail(at, `mount ${m.mountPath}: Bidirectional propagation needs a privileged container`);
      }
    }
    const requests = (c.resources || {}).requests || {};
    const limits = (c.resources || {}).limits || {};
    for (const [name, quantity] of Object.entries({ ...requests, ...limits })) {
      if (!name.startsWith("hugepages-")) continue;
      hugepageRequests.add(name.slice("hugepages-".length));
      if (requests[name] !== undefined && String(requests[name]) !== String(limits[name])) {
        fail(at, `${name}: requests must equal limits`);
      }
      if (!(requests.cpu || requests.memory || limits.cpu || limits.memory)) {
        fail(at, `${name} (${quantity}) needs a cpu or memory request`);
      }
    }
  }
  for (const v of volumes.values()) {
    const medium = (v.emptyDir || {}).medium || "";
    const size = medium.startsWith("HugePages-") ? medium.slice("HugePages-".length) : medium === "HugePages" ? "any" : null;
    if (size && size !== "any" && !hugepageRequests.has(size)) {
      fail(where, `volume "${v.name}" (${medium}) but no container requests hugepages-${size}`);
    }
  }
  if (spec.hostNetwork && spec.dnsPolicy === "ClusterFirst") {
    fail(where, "hostNetwork pods should use dnsPolicy ClusterFirstWithHostNet");
  }
}

const cniSchemaName = "ena-dpdk-cni-netconf.schema.json";

async function checkObject(obj, where) {
  if (typeof obj !== "object" || !obj.apiVersion || !obj.kind) {
    fail(where, "not a Kubernetes object (apiVersion and kind are required)");
    return;
  }
  const name = `${obj.kind}/${(obj.metadata || {}).name || "?"}`;
  const at = `${where} ${name}`;
  const before = failures;
  const custom = customSchemas[`${obj.apiVersion}/${obj.kind}`];
  if (custom) {
    const validate = customValidator(custom.schema);
    if (!validate(obj)) schemaErrors(validate).forEach((e) => fail(at, e));
    if (obj.metadata && custom.objectMeta) {
      const meta = path.join(modules, "@kubernetes-models/apimachinery");
      const { validate } = await import(
        pathToFileURL(path.join(meta, "_schemas/IoK8sApimachineryPkgApisMetaV1ObjectMeta.js")).href
      );
      if (!validate(obj.metadata)) schemaErrors(validate).forEach((e) => fail(`${at} metadata`, e));
      checkObjectFields(obj.metadata, path.join(meta, "apis/meta/v1/ObjectMeta.d.ts"), `${at} metadata`);
    }
    if (obj.kind === "NetworkAttachmentDefinition" && obj.spec && typeof obj.spec.config === "string") {
      let config;
      try {
        config = JSON.parse(obj.spec.config);
      } catch (e) {
        fail(at, `spec.config is not JSON: ${e.message}`);
      }
      if (config) {
        const validate = customValidator(cniSchemaName);
        if (!validate(config)) schemaErrors(validate).forEach((e) => fail(`${at} spec.config`, e));
      }
    }
  } else {
    const model = await modelValidator(obj.apiVersion, obj.kind);
    if (!model) {
      fail(at, `no schema for ${obj.apiVersion} ${obj.kind}`);
      return;
    }
    try {
      new model.Model(obj).validate();
    } catch (e) {
      fail(at, e.message.replace(/\s+/g, " "));
    }
    checkObjectFields(obj, model.declaration, at);
  }
  const podSpec =
    obj.kind === "Pod" ? obj.spec : obj.spec && obj.spec.template ? obj.spec.template.spec : null;
  if (podSpec) checkPodSpec(podSpec, at);
  if (failures === before) console.log(`ok: ${at}`);
}

async function main() {
  const [mode, ...args] = process.argv.slice(2);
  if (mode === "k8s" && args.length) {
    for (const file of args) {
      const docs = readDocuments(file);
      if (!docs.length) fail(file, "no documents");
      for (const doc of docs) await checkObject(doc, file);
    }
  } else if (mode === "schema" && args.length >= 2) {
    const [schemaFile, ...files] = args;
    const validate = ajvFor().compile(JSON.parse(fs.readFileSync(schemaFile, "utf8")));
    for (const file of files) {
      const docs = file.endsWith(".json") ? [JSON.parse(fs.readFileSync(file, "utf8"))] : readDocuments(file);
      if (!docs.length) fail(file, "no documents");
      docs.forEach((doc, i) => {
        if (validate(doc)) console.log(`ok: ${file}[${i}]`);
        else schemaErrors(validate).forEach((e) => fail(`${file}[${i}]`, e));
      });
    }
  } else {
    console.error("usage: validate.mjs k8s FILE... | validate.mjs schema SCHEMA FILE...");
    process.exit(2);
  }
  process.exit(failures ? 1 : 0);
}

main().catch((e) => {
  console.error(`validate.mjs: ${e.stack || e}`);
  process.exit(2);
});
