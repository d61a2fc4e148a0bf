// Validates a rendered Tessera chart (the JSON array printed by `render --json`):
//   1. every object against the Kubernetes OpenAPI schemas (kubernetes-models, Kubernetes 1.27;
//      ServiceMonitor against prometheus-operator's CRD schema);
//   2. the wiring a schema cannot see: workload selectors match their pod labels, Services select
//      some pod and target ports those pods declare, probes use declared ports and paths the
//      daemons serve, volume mounts name declared volumes, ConfigMaps/Secrets/ServiceAccounts/
//      roles referenced by name exist (or are the operator's existingSecret), a StatefulSet's
//      serviceName is a headless Service of the same pods, the PodDisruptionBudget covers the
//      storage nodes, and every flag given to a Tessera binary (args and tessera-node's config
//      file) is one that binary knows (from its real --helpfull output).
//
// Usage: node validate.mjs RENDERED.json [--flags tessera-node=FILE ...] [--external-secret NAME]
//        node validate.mjs --self-test RENDERED.json --flags ...
// Exit 0 when valid; otherwise prints one line per problem and exits 1. --self-test breaks the
// rendered objects in known ways and fails unless every break is reported (the checker can fail).
import fs from "node:fs";
import * as core from "kubernetes-models/v1";
import * as apps from "kubernetes-models/apps/v1";
import * as batch from "kubernetes-models/batch/v1";
import * as policy from "kubernetes-models/policy/v1";
import * as rbac from "kubernetes-models/rbac.authorization.k8s.io/v1";
import * as monitoring from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";

const MODELS = {
  "v1": core,
  "apps/v1": apps,
  "batch/v1": batch,
  "policy/v1": policy,
  "rbac.authorization.k8s.io/v1": rbac,
  "monitoring.coreos.com/v1": monitoring,
};

// Paths the daemons' admin servers answer (services/common/admin_server.h).
const SERVED_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);
const TESSERA_BINARIES = ["tessera-node", "tessera-s3", "tessera-gateway"];

function podTemplate(obj) {
  if (["Deployment", "StatefulSet", "DaemonSet"].includes(obj.kind)) return obj.spec?.template;
  if (obj.kind === "Job") return obj.spec?.template;
  return undefined;
}

function matches(selector, labels) {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

function allContainers(spec) {
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
}

export function check(docs, { flags = {}, externalSecrets = [] } = {}) {
  const problems = [];
  const where = (d) => `${d.source}: ${d.object.kind}/${d.object.metadata?.name}`;
  const objects = docs.map((d) => d.object);
  const byKind = (kind) => docs.filter((d) => d.object.kind === kind);
  const names = (kind) => new Set(byKind(kind).map((d) => d.object.metadata?.name));

  // 1. Schemas.
  for (const d of docs) {
    const o = d.object;
    const Model = MODELS[o.apiVersion]?.[o.kind];
    if (!Model) {
      problems.push(`${where(d)}: no schema for ${o.apiVersion} ${o.kind}`);
      continue;
    }
    try {
      new Model(o).validate();
    } catch (e) {
      problems.push(`${where(d)}: schema: ${e.message}`);
    }
  }

  const pods = docs
    .filter((d) => podTemplate(d.object))
    .map((d) => ({ doc: d, template: podTemplate(d.object) }));
  const configMaps = names("ConfigMap");
  const secrets = new Set([...names("Secret"), ...externalSecrets]);
  // The keys Secret the pre-install Job creates (deploy/docker/keygen-secret.sh).
  for (const { template } of pods) {
    for (const c of allContainers(template.spec)) {
      if ((c.command ?? [])[0]?.endsWith("/tessera-keygen-secret")) {
        const env = (c.env ?? []).find((e) => e.name === "SECRET_NAME");
        if (env?.value) secrets.add(env.value);
      }
    }
  }
  const serviceAccounts = names("ServiceAccount");

  // 2. Workloads.
  for (const { doc, template } of pods) {
    const o = doc.object;
    const labels = template.metadata?.labels ?? {};
    const sel = o.spec?.selector?.matchLabels;
    if (o.kind !== "Job" && !matches(sel, labels)) {
      problems.push(`${where(doc)}: selector ${JSON.stringify(sel)} does not match its pod labels`);
    }
    const spec = template.spec ?? {};
    if (spec.serviceAccountName && !serviceAccounts.has(spec.serviceAccountName)) {
      problems.push(`${where(doc)}: service account ${spec.serviceAccountName} is not defined`);
    }
    const volumes = new Set((spec.volumes ?? []).map((v) => v.name));
    for (const t of o.spec?.volumeClaimTemplates ?? []) volumes.add(t.metadata?.name);
    for (const v of spec.volumes ?? []) {
      if (v.configMap && !configMaps.has(v.configMap.name)) {
        problems.push(`${where(doc)}: volume ${v.name}: ConfigMap ${v.configMap.name} is not defined`);
      }
      if (v.secret && !secrets.has(v.secret.secretName)) {
        problems.push(`${where(doc)}: volume ${v.name}: Secret ${v.secret.secretName} is not defined`);
      }
    }
    for (const c of allContainers(spec)) {
      for (const m of c.volumeMounts ?? []) {
        if (!volumes.has(m.name)) {
          problems.push(`${where(doc)}: container ${c.name} mounts undeclared volume ${m.name}`);
        }
      }
      for (const e of c.envFrom ?? []) {
        if (e.configMapRef && !configMaps.has(e.configMapRef.name)) {
          problems.push(`${where(doc)}: container ${c.name}: ConfigMap ${e.configMapRef.name} is not defined`);
        }
      }
      const ports = c.ports ?? [];
      for (const kind of ["startupProbe", "livenessProbe", "readinessProbe"]) {
        const get = c[kind]?.httpGet;
        if (!get) continue;
        const ok = ports.some((p) => p.name === get.port || p.containerPort === get.port);
        if (!ok) problems.push(`${where(doc)}: ${c.name} ${kind} uses undeclared port ${get.port}`);
        if (!SERVED_PATHS.has(get.path)) {
          problems.push(`${where(doc)}: ${c.name} ${kind} path ${get.path} is not served`);
        }
      }
      checkFlags(doc, c, flags, objects, problems, where);
      // $(VAR) in args must be defined (env, or a ConfigMap's keys through envFrom): Kubernetes
      // leaves an undefined reference as literal text, which the daemon would take as a value.
      const defined = new Set((c.env ?? []).map((e) => e.name));
      for (const e of c.envFrom ?? []) {
        const cm = objects.find((x) => x.kind === "ConfigMap" && x.metadata?.name === e.configMapRef?.name);
        for (const k of Object.keys(cm?.data ?? {})) defined.add(k);
      }
      for (const a of [...(c.args ?? []), ...(c.command ?? [])]) {
        for (const m of a.matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
          if (!defined.has(m[1])) {
            problems.push(`${where(doc)}: container ${c.name} uses undefined $(${m[1]})`);
          }
        }
      }
    }
  }

  // 3. Services select pods and target their ports.
  for (const d of byKind("Service")) {
    const s = d.object;
    const selected = pods.filter(({ template }) => matches(s.spec?.selector, template.metadata?.labels));
    if (selected.length === 0) {
      problems.push(`${where(d)}: selector ${JSON.stringify(s.spec?.selector)} matches no pod`);
      continue;
    }
    for (const p of s.spec?.ports ?? []) {
      const target = p.targetPort ?? p.port;
      for (const { doc, template } of selected) {
        const declared = (template.spec?.containers ?? []).flatMap((c) => c.ports ?? []);
        const hit = declared.find((cp) => cp.name === target || cp.containerPort === target);
        if (!hit) {
          problems.push(`${where(d)}: port ${p.name} targets ${target}, not declared by ${where(doc)}`);
        } else if ((hit.protocol ?? "TCP") !== (p.protocol ?? "TCP")) {
          problems.push(`${where(d)}: port ${p.name} is ${p.protocol ?? "TCP"} but ${target} is ${hit.protocol}`);
        }
      }
    }
  }

  // 4. StatefulSets name a headless Service selecting their pods.
  for (const d of byKind("StatefulSet")) {
    const svc = byKind("Service").find((s) => s.object.metadata?.name === d.object.spec?.serviceName);
    if (!svc) {
      problems.push(`${where(d)}: serviceName ${d.object.spec?.serviceName} is not defined`);
    } else if (svc.object.spec?.clusterIP !== "None") {
      problems.push(`${where(d)}: serviceName ${d.object.spec?.serviceName} is not headless`);
    } else if (!matches(svc.object.spec?.selector, d.object.spec?.template?.metadata?.labels)) {
      problems.push(`${where(d)}: headless Service ${svc.object.metadata?.name} does not select its pods`);
    }
  }

  // 5. PodDisruptionBudgets cover some workload; the storage nodes have one.
  for (const d of byKind("PodDisruptionBudget")) {
    const sel = d.object.spec?.selector?.matchLabels;
    if (!pods.some(({ template }) => matches(sel, template.metadata?.labels))) {
      problems.push(`${where(d)}: selector matches no pod`);
    }
  }

  // 6. RBAC bindings name defined roles and service accounts.
  for (const kind of ["RoleBinding", "ClusterRoleBinding"]) {
    for (const d of byKind(kind)) {
      const ref = d.object.roleRef;
      if (!names(ref?.kind).has(ref?.name)) {
        problems.push(`${where(d)}: roleRef ${ref?.kind}/${ref?.name} is not defined`);
      }
      for (const s of d.object.subjects ?? []) {
        if (s.kind === "ServiceAccount" && !serviceAccounts.has(s.name)) {
          problems.push(`${where(d)}: subject ServiceAccount ${s.name} is not defined`);
        }
      }
    }
  }
  return problems;
}

// Flags passed to a Tessera binary must be flags it knows (its --helpfull output, passed in).
function checkFlags(doc, container, flags, objects, problems, where) {
  const binary = (container.command ?? [])[0]?.split("/").pop();
  if (!TESSERA_BINARIES.includes(binary)) return;
  const known = flags[binary];
  if (!known) {
    problems.push(`${where(doc)}: no --helpfull output given for ${binary}`);
    return;
  }
  const given = [];
  for (const a of container.args ?? []) {
    const m = /^--([A-Za-z0-9_]+)(=|$)/.exec(a);
    if (m) given.push(m[1]);
    else problems.push(`${where(doc)}: ${container.name}: argument ${JSON.stringify(a)} is not a --flag`);
    const conf = /^--config=(.*)$/.exec(a);
    if (conf && binary === "tessera-node") {
      // The node's config file is built from the ConfigMap's node.conf (plus location lines).
      for (const cm of objects.filter((o) => o.kind === "ConfigMap")) {
        const text = cm.data?.["node.conf"];
        if (!text) continue;
        for (const line of text.split("\n")) {
          const kv = /^\s*([A-Za-z0-9_]+)\s*=/.exec(line);
          if (kv) given.push(kv[1]);
        }
      }
      given.push("site", "zone", "isp");  // written by tessera-node-location
    }
  }
  for (const f of given) {
    if (!known.has(f)) problems.push(`${where(doc)}: ${container.name}: ${binary} has no flag --${f}`);
  }
}

export function loadFlags(path) {
  const known = new Set();
  for (const m of fs.readFileSync(path, "utf8").matchAll(/--(?:no)?([a-z][a-z0-9_]*)/g)) {
    known.add(m[1]);
  }
  return known;
}

// Breaks a copy of the rendered objects in ways the checker must report.
function selfTest(docs, options) {
  const mutations = {
    "selector mismatch": (o) => {
      const s = o.find((x) => x.kind === "StatefulSet");
      s.spec.selector.matchLabels["app.kubernetes.io/component"] = "nope";
    },
    "schema violation": (o) => {
      const s = o.find((x) => x.kind === "StatefulSet");
      s.spec.replicas = "six";
    },
    "probe on an undeclared port": (o) => {
      const d = o.find((x) => x.kind === "Deployment");
      d.spec.template.spec.containers[0].readinessProbe.httpGet.port = "nope";
    },
    "probe path not served": (o) => {
      const d = o.find((x) => x.kind === "Deployment");
      d.spec.template.spec.containers[0].livenessProbe.httpGet.path = "/health";
    },
    "service targets an undeclared port": (o) => {
      const s = o.find((x) => x.kind === "Service" && x.spec.clusterIP !== "None");
      s.spec.ports[0].targetPort = "nope";
    },
    "unknown flag": (o) => {
      const s = o.find((x) => x.kind === "StatefulSet");
      s.spec.template.spec.containers[0].args.push("--no_such_flag=1");
    },
    "unknown config key": (o) => {
      const c = o.find((x) => x.kind === "ConfigMap" && x.data?.["node.conf"]);
      c.data["node.conf"] += "no_such_setting = 1\n";
    },
    "missing volume": (o) => {
      const s = o.find((x) => x.kind === "StatefulSet");
      s.spec.template.spec.volumes = s.spec.template.spec.volumes.filter((v) => v.name !== "keys");
    },
    "undefined variable in args": (o) => {
      const s = o.find((x) => x.kind === "StatefulSet");
      s.spec.template.spec.containers[0].env = s.spec.template.spec.containers[0].env.filter(
        (e) => e.name !== "POD_NAME");
    },
    "headless service missing": (o) => {
      const s = o.find((x) => x.kind === "StatefulSet");
      s.spec.serviceName = "nope";
    },
  };
  let failed = 0;
  if (check(docs, options).length !== 0) {
    console.log("self-test: the unbroken chart is not valid");
    failed++;
  }
  for (const [name, mutate] of Object.entries(mutations)) {
    const copy = structuredClone(docs);
    mutate(copy.map((d) => d.object));
    const problems = check(copy, options);
    if (problems.length === 0) {
      console.log(`self-test: "${name}" was not reported`);
      failed++;
    } else {
      console.log(`self-test: "${name}" reported: ${problems[0]}`);
    }
  }
  return failed;
}

function main(argv) {
  const flags = {};
  const externalSecrets = [];
  let selfTestMode = false;
  let input;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--flags") {
      const [bin, file] = argv[++i].split("=");
      flags[bin] = loadFlags(file);
    } else if (argv[i] === "--external-secret") {
      externalSecrets.push(argv[++i]);
    } else if (argv[i] === "--self-test") {
      selfTestMode = true;
    } else {
      input = argv[i];
    }
  }
  const docs = JSON.parse(fs.readFileSync(input, "utf8"));
  if (selfTestMode) return selfTest(docs, { flags, externalSecrets }) === 0 ? 0 : 1;
  const problems = check(docs, { flags, externalSecrets });
  for (const p of problems) console.log(p);
  console.log(`${docs.length} objects, ${problems.length} problems`);
  return problems.length === 0 ? 0 : 1;
}

process.exit(main(process.argv.slice(2)));
