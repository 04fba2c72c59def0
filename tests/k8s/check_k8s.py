#!/usr/bin/python3
"""Checks deploy/k8s offline (ctest -L k8s): no cluster is needed.

1. `kubectl kustomize` renders the base and every overlay.
2. Every rendered object is loaded into the Kubernetes API's own types
   (Debian's python3-kubernetes models), strictly: a field the type does not
   have, a value of the wrong type, a missing required field or a value
   outside an enumeration fails, naming the object and the field path. The
   Secrets deploy/k8s/make-secrets.sh prints (from a fresh dev_pki.sh
   directory) are loaded the same way.
3. What the system needs of them, read from the registry (proto/services.conf,
   through scripts/registry), the binaries' --help and compose/:
   - a Deployment per binary with the image compose builds, non-root (uid
     10001), read-only root filesystem, no privilege escalation, no
     capabilities, requests and limits above the measured peak RSS;
   - every environment variable (env and the ConfigMaps of envFrom) one the
     binary lists in --help; the ones it needs set; RPC URLs tls+tcp://, the
     services listening on RPC_LISTEN_URL at the port of their headless
     Service (named as the registry), callers dialing that name;
   - every *_FILE and RPC_TLS_* path a file of a read-only mounted Secret that
     make-secrets.sh (or an operator's resource in the render) provides;
   - probes (gateway /healthz, /readyz; a service's Health through rpc-call
     and `healthcheck NAME`; no tcpSocket probe: an open port proves nothing), a preStop pause
     long enough for callers to re-resolve, inside the grace period;
   - PodDisruptionBudgets and HPAs selecting their Deployment; NetworkPolicies
     letting exactly the registry's callers reach each service's port, the
     callers reach what they dial, and every pod reach DNS.

Usage: check_k8s.py SOURCE-DIR BIN-DIR
       check_k8s.py --self-test SOURCE-DIR BIN-DIR   the check finds each of
           MUTATIONS (a misspelt field, a quoted port, a plain RPC URL, a
           missing NetworkPolicy caller...) made on a copy of the rendered base
Exit: 0 all good; 1 problems (each printed as FAIL:); 77 skipped (no kubectl
with kustomize v4 or later, or no python3-kubernetes).
"""
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compose"))
import check_compose  # noqa: E402  help_vars() and registry(), as the compose check reads them

try:
    from kubernetes.client import models
except ImportError:
    print("SKIP: python3-kubernetes is not installed (scripts/bootstrap test)")
    sys.exit(77)

errors = []


def check(cond, msg):
    if not cond:
        errors.append(msg)
    return cond


# ---------------------------------------------------------------- typed load

# apiVersion/kind -> model class name where the client's version differs:
# python3-kubernetes 22 (Kubernetes 1.22) has autoscaling/v2beta2, which
# autoscaling/v2 (1.23) promoted with the same schema.
MODEL_ALIASES = {("autoscaling/v2", "HorizontalPodAutoscaler"): "V2beta2HorizontalPodAutoscaler"}
# Custom resources of the operators (components/with-operators): their
# schemas are not available offline; only metadata is typed, and the spec
# is checked against the registry below.
CUSTOM = {("postgresql.cnpg.io/v1", "Cluster"), ("rabbitmq.com/v1beta1", "RabbitmqCluster")}
# Values the client's models do not enumerate themselves (class, attribute).
ENUMS = {
    ("V1Container", "image_pull_policy"): {"Always", "IfNotPresent", "Never"},
    ("V1ContainerPort", "protocol"): {"TCP", "UDP", "SCTP"},
    ("V1ServicePort", "protocol"): {"TCP", "UDP", "SCTP"},
    ("V1NetworkPolicyPort", "protocol"): {"TCP", "UDP", "SCTP"},
    ("V1NetworkPolicySpec", "policy_types"): {"Ingress", "Egress"},
    ("V1ServiceSpec", "type"): {"ClusterIP", "NodePort", "LoadBalancer", "ExternalName"},
    ("V1DeploymentStrategy", "type"): {"RollingUpdate", "Recreate"},
    ("V1SeccompProfile", "type"): {"RuntimeDefault", "Localhost", "Unconfined"},
    ("V1Capabilities", "drop"): None,  # capability names: checked below
    ("V1TopologySpreadConstraint", "when_unsatisfiable"): {"DoNotSchedule", "ScheduleAnyway"},
    ("V2beta2MetricSpec", "type"): {"Resource", "Pods", "Object", "External", "ContainerResource"},
    ("V2beta2MetricTarget", "type"): {"Utilization", "Value", "AverageValue"},
    ("V1EmptyDirVolumeSource", "medium"): {"", "Memory"},
}
CAPABILITY = re.compile(r"^(ALL|[A-Z_]+)$")
QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei|e[0-9]+)?$")
PRIMITIVE = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "datetime": (str,), "date": (str,)}


def typed(data, typ, path):
    """data loaded as the client type typ (e.g. 'V1Deployment', 'list[V1Volume]'),
    strictly; problems go to errors with the field path."""
    if data is None:
        return None
    m = re.match(r"^list\[(.*)\]$", typ)
    if m:
        if not check(isinstance(data, list), f"{path}: should be a list, is {type(data).__name__}"):
            return None
        return [typed(v, m.group(1), f"{path}[{i}]") for i, v in enumerate(data)]
    m = re.match(r"^dict\(str, (.*)\)$", typ)
    if m:
        if not check(isinstance(data, dict), f"{path}: should be a mapping, is {type(data).__name__}"):
            return None
        return {k: typed(v, m.group(1), f"{path}.{k}") for k, v in data.items()}
    if re.search(r"\.(requests|limits)\.[^.]+$", path):  # resource quantities: dict(str, str) in the models
        check(isinstance(data, (str, int)) and QUANTITY.match(str(data)), f"{path}: '{data}' is not a Kubernetes quantity")
    if typ == "object":  # IntOrString, free-form
        return data
    if typ in PRIMITIVE:
        ok = isinstance(data, PRIMITIVE[typ]) and not (typ in ("int", "float") and isinstance(data, bool))
        check(ok, f"{path}: should be {typ}, is {type(data).__name__} ({data!r})")
        return data
    cls = getattr(models, typ, None)
    if not check(cls is not None, f"{path}: no client type {typ}"):
        return None
    if not check(isinstance(data, dict), f"{path}: should be a {typ} mapping, is {type(data).__name__}"):
        return None
    by_json = {j: a for a, j in cls.attribute_map.items()}
    kwargs = {}
    for key, value in data.items():
        attr = by_json.get(key)
        if not check(attr is not None, f"{path}.{key}: {typ} has no field '{key}'"):
            continue
        kwargs[attr] = typed(value, cls.openapi_types[attr], f"{path}.{key}")
        allowed = ENUMS.get((typ, attr))
        values = value if isinstance(value, list) else [value]
        if allowed:
            for v in values:
                check(v in allowed, f"{path}.{key}: '{v}' is not one of {sorted(allowed)}")
        if (typ, attr) == ("V1Capabilities", "drop"):
            for v in values:
                check(isinstance(v, str) and CAPABILITY.match(v), f"{path}.{key}: '{v}' is not a capability name")
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as e:  # required fields, the models' own enums
        errors.append(f"{path}: {e}")
        return None


def load(doc, where):
    """One rendered object into its API type; returns (kind, name)."""
    api, kind = doc.get("apiVersion", ""), doc.get("kind", "")
    name = (doc.get("metadata") or {}).get("name", "?")
    path = f"{where}: {kind}/{name}"
    if (api, kind) in CUSTOM:
        typed(doc.get("metadata"), "V1ObjectMeta", f"{path}.metadata")
        check(isinstance(doc.get("spec"), dict), f"{path}: no spec")
        return
    cls = MODEL_ALIASES.get((api, kind)) or (api.split("/")[-1].capitalize() + kind)
    if not check(getattr(models, cls, None) is not None, f"{path}: {api} {kind} is no type the Kubernetes API has"):
        return
    check(getattr(models, cls).attribute_map.get("api_version") == "apiVersion", f"{path}: {cls} is not an object")
    typed(doc, cls, path)


# ---------------------------------------------------------------- rendering

def kubectl():
    """kubectl, if its kustomize reads this tree (labels, components, patches:
    kustomize v4 and later, kubectl 1.21+); else why not."""
    exe = shutil.which(os.environ.get("KUBECTL") or "kubectl")
    if not exe:
        return None, f"no {os.environ.get('KUBECTL') or 'kubectl'} to run (KUBECTL, else PATH)"
    out = subprocess.run([exe, "version", "--client", "-o", "json"], capture_output=True, text=True, timeout=60)
    try:
        info = json.loads(out.stdout)
    except ValueError:
        return None, f"{exe} version failed: {out.stderr.strip()}"
    kv = info.get("kustomizeVersion", "")
    m = re.match(r"v(\d+)", kv)
    if not m or int(m.group(1)) < 4:
        minor = info.get("clientVersion", {}).get("gitVersion", "?")
        return None, (f"{exe} {minor} embeds kustomize {kv or 'v2.0.3'}, which cannot read components or "
                      "patches: needs kubectl 1.21 or later (Debian 12's kubernetes-client is 1.20)")
    return exe, None


def render(exe, target):
    out = subprocess.run([exe, "kustomize", target], capture_output=True, text=True, timeout=60)
    if not check(out.returncode == 0, f"kubectl kustomize {target} failed: {out.stderr.strip()}"):
        return []
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def made_secrets(src, exe, operators):
    """The Secrets make-secrets.sh prints for a fresh development PKI and
    stand-in credentials: {name: set of keys}."""
    with tempfile.TemporaryDirectory() as tmp:
        pki = os.path.join(tmp, "pki")
        r = subprocess.run([os.path.join(src, "scripts", "lib", "dev_pki.sh"), pki], capture_output=True, text=True,
                           timeout=60)
        if not check(r.returncode == 0, f"dev_pki.sh failed: {r.stderr}"):
            return {}
        env = dict(os.environ, USER_DB_URL="postgresql://user_svc:x@db:5432/user_db", AMQP_URL="amqp://app:x@mq:5672/",
                   ORDER_DB_URL="postgresql://order_svc:x@db:5432/order_db",
                   PATH=os.path.dirname(exe) + ":" + os.environ.get("PATH", "/usr/bin:/bin"))
        cmd = [os.path.join(src, "deploy", "k8s", "make-secrets.sh")] + (["--operators"] if operators else []) + [pki]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
        if not check(r.returncode == 0, f"{' '.join(cmd)} failed: {r.stderr}"):
            return {}
    found = {}
    for doc in (d for d in yaml.safe_load_all(r.stdout) if d):
        load(doc, "make-secrets.sh")
        data = doc.get("data") or {}
        for k, v in data.items():
            check(base64.b64decode(v), f"make-secrets.sh: {doc['metadata']['name']}.{k} is empty")
        found[doc["metadata"]["name"]] = set(data)
    return found


# ---------------------------------------------------------------- the system

def kinds(docs, kind):
    return {d["metadata"]["name"]: d for d in docs if d.get("kind") == kind}


def selects(selector, labels):
    ml = (selector or {}).get("matchLabels") or {}
    return bool(ml) and all(labels.get(k) == v for k, v in ml.items())


def exec_words(probe):
    return ((probe or {}).get("exec") or {}).get("command") or []


def host_port(url):
    m = re.match(r"^tls\+tcp://([^:/]+):(\d+)$", url or "")
    return (m.group(1), int(m.group(2))) if m else (None, None)


# Measured peak RSS per process with mutual TLS (README, Performance: 9.4,
# 11.8 and 11.6 MB under 32 connections).
PEAK_RSS_MIB = 12
DNS_TTL_S = 5  # CoreDNS's kubernetes plugin answers Service records with a 5 s TTL


def mebibytes(q):
    m = re.match(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|k|M|G)?$", str(q))
    if not m:
        return 0
    f = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "k": 1e3 / 2**20, "M": 1e6 / 2**20, "G": 1e9 / 2**20}
    return float(m.group(1)) * f.get(m.group(2), 1 / 2**20)


def millicores(q):
    s = str(q)
    return float(s[:-1]) if s.endswith("m") else float(s) * 1000


def check_system(where, docs, reg, known, compose_images, secrets):
    deps, svcs = kinds(docs, "Deployment"), kinds(docs, "Service")
    cms, pdbs, hpas = kinds(docs, "ConfigMap"), kinds(docs, "PodDisruptionBudget"), kinds(docs, "HorizontalPodAutoscaler")
    pols = list(kinds(docs, "NetworkPolicy").values())
    clusters = kinds(docs, "Cluster")
    apps = ["gateway"] + [r["name"] for r in reg]
    url_of = {r["url_variable"]: r for r in reg}
    by_name = {r["name"]: r for r in reg}
    envs, pods, listen = {}, {}, {}

    for name in apps:
        w = f"{where}: Deployment/{name}"
        d = deps.get(name)
        if not check(d, f"{w} missing"):
            continue
        spec = d["spec"]
        check("replicas" not in spec, f"{w}: sets replicas, which its HorizontalPodAutoscaler owns")
        pod = spec["template"]["spec"]
        labels = spec["template"]["metadata"].get("labels") or {}
        pods[name] = labels
        check(labels.get("app.kubernetes.io/name") == name and labels.get("app.kubernetes.io/part-of") == "microservices",
              f"{w}: pod labels should be app.kubernetes.io/name={name}, app.kubernetes.io/part-of=microservices")
        check(selects(spec.get("selector"), labels), f"{w}: its selector does not select its pods")
        for t in pod.get("topologySpreadConstraints") or []:
            check(selects(t.get("labelSelector"), labels), f"{w}: a topologySpreadConstraint does not select its own pods")
        check(pod.get("enableServiceLinks") is False, f"{w}: enableServiceLinks should be false (*_PORT variables)")
        check(pod.get("automountServiceAccountToken") is False, f"{w}: mounts a service account token it never uses")
        psc = pod.get("securityContext") or {}
        check(psc.get("runAsNonRoot") is True and psc.get("runAsUser") == 10001,
              f"{w}: should run as non-root uid 10001 (the images' app user)")
        check(psc.get("fsGroup") == 10001, f"{w}: fsGroup should be 10001 (Secret files group-readable)")
        cs = pod.get("containers") or []
        if not check(len(cs) == 1, f"{w}: should have one container"):
            continue
        c = cs[0]
        image = c.get("image", "")
        check(image.split("@")[0].rsplit(":", 1)[0].endswith(compose_images.get(name, "?")) if ":" in image.split("/")[-1]
              else image.endswith(compose_images.get(name, "?")),
              f"{w}: image {image} is not compose's {compose_images.get(name)} (with a tag or registry)")
        sc = c.get("securityContext") or {}
        check(sc.get("allowPrivilegeEscalation") is False, f"{w}: allowPrivilegeEscalation should be false")
        check(sc.get("readOnlyRootFilesystem") is True, f"{w}: readOnlyRootFilesystem should be true")
        check((sc.get("capabilities") or {}).get("drop") == ["ALL"], f"{w}: capabilities should drop ALL")
        check(not (sc.get("capabilities") or {}).get("add"), f"{w}: adds capabilities")
        check(sc.get("privileged") in (None, False), f"{w}: privileged")
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        for r in ("cpu", "memory"):
            check(r in req and r in lim, f"{w}: resources should request and limit {r}")
        if "memory" in req and "memory" in lim:
            check(mebibytes(req["memory"]) >= 2 * PEAK_RSS_MIB,
                  f"{w}: memory request {req['memory']} leaves no headroom over the measured peak ({PEAK_RSS_MIB} MiB)")
            check(mebibytes(lim["memory"]) >= mebibytes(req["memory"]), f"{w}: memory limit below its request")
        if "cpu" in req and "cpu" in lim:
            check(millicores(lim["cpu"]) >= millicores(req["cpu"]), f"{w}: cpu limit below its request")

        # The environment: env, and the ConfigMaps of envFrom.
        env = {}
        for ef in c.get("envFrom") or []:
            ref = (ef.get("configMapRef") or {}).get("name")
            check(ref in cms, f"{w}: envFrom ConfigMap {ref} is not in the render")
            check(not ef.get("secretRef"), f"{w}: envFrom a Secret: secrets go in files (*_FILE)")
            env.update((cms.get(ref) or {}).get("data") or {})
        for e in c.get("env") or []:
            check("valueFrom" not in e or "secretKeyRef" not in e["valueFrom"],
                  f"{w}: {e['name']} from a secretKeyRef: secrets go in files (*_FILE)")
            env[e["name"]] = e.get("value", "")
        envs[name] = env
        check(not (set(env) - known[name]), f"{w}: variables its --help does not list: {sorted(set(env) - known[name])}")
        mounts = {m["mountPath"]: m for m in c.get("volumeMounts") or []}
        vols = {v["name"]: v for v in pod.get("volumes") or []}

        def file_of(var, path):
            """path must be a key of a read-only mounted Secret that exists."""
            parent, key = os.path.dirname(path), os.path.basename(path)
            m = mounts.get(parent)
            if not check(m, f"{w}: {var}={path}: nothing is mounted at {parent}"):
                return
            check(m.get("readOnly") is True, f"{w}: {parent} should be mounted read-only")
            v = vols.get(m["name"]) or {}
            sources = [s["secret"] for s in (v.get("projected") or {}).get("sources") or [] if "secret" in s]
            if "secret" in v:
                sources.append({"name": v["secret"].get("secretName"), "items": v["secret"].get("items")})
            check(sources and len(sources) == len((v.get("projected") or {}).get("sources") or [None]),
                  f"{w}: {parent} should be Secrets only")
            for s in sources:
                items = s.get("items")
                if items is not None:
                    provided = {i["path"]: i["key"] for i in items}
                else:
                    provided = {k: k for k in secrets.get(s["name"], set())}
                if key not in provided:
                    continue
                cluster = s["name"].removesuffix("-app")
                if s["name"] in secrets:
                    check(provided[key] in secrets[s["name"]],
                          f"{w}: {var}: Secret {s['name']} (make-secrets.sh) has no key {provided[key]}")
                else:
                    check(s["name"].endswith("-app") and cluster in clusters and provided[key] == "uri",
                          f"{w}: {var}: Secret {s['name']} is made neither by make-secrets.sh nor by an operator here")
                return
            errors.append(f"{w}: {var}={path}: no Secret mounted at {parent} provides {key}")

        for var, value in env.items():
            if var.endswith("_FILE") or var.startswith("RPC_TLS_"):
                check(not var.startswith("RPC_TLS_") or value.startswith("/run/tls/"),
                      f"{w}: {var} should be under /run/tls (as compose)")
                file_of(var, value)
            if var.endswith("_FILE"):
                check(var[:-5] not in env, f"{w}: both {var[:-5]} and {var}")

        # Required settings, as compose's (check_compose.REQUIRED_ENV).
        need = {"RPC_TLS_CERT", "RPC_TLS_KEY", "RPC_TLS_CA"}
        dials = {url_of[v]["name"] for v in known[name] if v in url_of and (name == "gateway" or v != by_name[name]["url_variable"])}
        need |= {by_name[d]["url_variable"] for d in dials}
        if name == "gateway":
            need |= {"GATEWAY_PORTS"}
        else:
            r = by_name[name]
            need |= {r["url_variable"], "RPC_LISTEN_URL", "RPC_TLS_CALLER_CA"}
            for v in ["REDIS_URL", "AMQP_URL"] + ([r["db_url_variable"]] if r["db_url_variable"] != "-" else []):
                if v in known[name]:
                    check(v in env or v + "_FILE" in env, f"{w}: neither {v} nor {v}_FILE is set")
            listen[name] = host_port(env.get("RPC_LISTEN_URL"))
            check(listen[name][0] == "0.0.0.0", f"{w}: RPC_LISTEN_URL={env.get('RPC_LISTEN_URL')} should be tls+tcp://0.0.0.0:PORT")
            ports = [p["containerPort"] for p in c.get("ports") or []]
            check(ports == [listen[name][1]], f"{w}: containerPort {ports} should be RPC_LISTEN_URL's port")
        if dials:
            need.add("RPC_RESOLVE_INTERVAL_MS")  # it dials: it re-resolves (issue 19)
        check(need <= set(env), f"{w}: missing {sorted(need - set(env))}")
        for var in [*url_of, "RPC_LISTEN_URL"]:
            if var in env:
                check(all(u.startswith("tls+tcp://") for u in env[var].split(",")), f"{w}: {var}={env[var]} should be tls+tcp://")

        # Probes and the stop.
        for p in ("livenessProbe", "readinessProbe", "startupProbe"):
            check("tcpSocket" not in (c.get(p) or {}), f"{w}: {p} is tcpSocket: an open port says nothing of the "
                  "service (Health does), and each probe is a refused caller in the log")
        pre = exec_words(((c.get("lifecycle") or {}).get("preStop") or {}))
        pause = int(pre[1]) if len(pre) == 2 and pre[0] == "sleep" and pre[1].isdigit() else None
        if check(pause, f"{w}: preStop should be exec [sleep, SECONDS], is {pre}"):
            grace = pod.get("terminationGracePeriodSeconds", 30)
            timeout_s = int(envs.get("gateway", {}).get("RPC_TIMEOUT_MS", "2000") or 2000) / 1000
            check(grace >= pause + timeout_s + 5,
                  f"{w}: terminationGracePeriodSeconds {grace} leaves under 5 s after the {pause} s pause and a {timeout_s} s call")
        if name == "gateway":
            gports = {int(p) for p in env.get("GATEWAY_PORTS", "").split(",") if p.strip()}
            cports = {p["name"]: p["containerPort"] for p in c.get("ports") or []}
            check(set(cports.values()) == gports, f"{w}: containerPorts {sorted(cports.values())} are not GATEWAY_PORTS {sorted(gports)}")
            for p, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
                g = (c.get(p) or {}).get("httpGet") or {}
                port = cports.get(g.get("port"), g.get("port"))
                check(g.get("path") == path and port in gports, f"{w}: {p} should GET {path} on a port of GATEWAY_PORTS")
        else:
            r = by_name[name]
            check(exec_words(c.get("readinessProbe")) == ["healthcheck", name],
                  f"{w}: readinessProbe should exec [healthcheck, {name}] (Health ok, dependencies included)")
            want = ["rpc-call", "--timeout", "3000", f"tls+tcp://127.0.0.1:{listen[name][1]}", f"{r['contract']}/Health", "{}"]
            for p in ("livenessProbe", "startupProbe"):
                words = exec_words(c.get(p))
                check(words == want, f"{w}: {p} should exec {want} (alive = answers Health), is {words}")

    # Services: headless, named as the registry, on the listen port.
    for r in reg:
        name, w = r["name"], f"{where}: Service/{r['name']}"
        s = svcs.get(name)
        if not check(s, f"{w} missing (callers dial tls+tcp://{name}:PORT)"):
            continue
        check(s["spec"].get("clusterIP") == "None", f"{w}: should be headless (clusterIP: None): DNS must answer every replica")
        check(not s["spec"].get("publishNotReadyAddresses"), f"{w}: publishes replicas that are not ready")
        check(selects({"matchLabels": s["spec"].get("selector")}, pods.get(name, {})), f"{w}: does not select {name}'s pods")
        ports = [p["port"] for p in s["spec"].get("ports") or []]
        check(ports == [listen.get(name, (None, None))[1]], f"{w}: ports {ports} should be RPC_LISTEN_URL's")
        for caller, env in envs.items():
            if r["url_variable"] in env and caller != name or caller == name:
                hp = host_port(env.get(r["url_variable"]))
                check(hp == (name, listen.get(name, (None, None))[1]),
                      f"{where}: {caller}: {r['url_variable']}={env.get(r['url_variable'])} should be tls+tcp://{name}:{listen.get(name, (0, '?'))[1]}")
    g = svcs.get("gateway")
    if check(g, f"{where}: Service/gateway missing"):
        check(g["spec"].get("clusterIP") != "None", f"{where}: Service/gateway should have a cluster IP (HTTP clients)")
        check(selects({"matchLabels": g["spec"].get("selector")}, pods.get("gateway", {})), f"{where}: Service/gateway selects no gateway pod")
        c = ((deps.get("gateway") or {}).get("spec", {}).get("template", {}).get("spec", {}).get("containers") or [{}])[0]
        named = {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}
        gports = {int(p) for p in envs.get("gateway", {}).get("GATEWAY_PORTS", "").split(",") if p.strip()}
        for p in g["spec"].get("ports") or []:
            target = named.get(p.get("targetPort"), p.get("targetPort", p.get("port")))
            check(target in gports, f"{where}: Service/gateway port {p.get('port')} targets {target}, not a port of GATEWAY_PORTS")

    # Disruption budgets and autoscalers.
    for name in apps:
        p, h = pdbs.get(name), hpas.get(name)
        if check(p and h, f"{where}: {name} needs a PodDisruptionBudget and a HorizontalPodAutoscaler"):
            check(selects(p["spec"].get("selector"), pods.get(name, {})), f"{where}: PodDisruptionBudget/{name} selects no {name} pod")
            ref = h["spec"]["scaleTargetRef"]
            check(ref.get("kind") == "Deployment" and ref.get("name") == name, f"{where}: HPA/{name} scales {ref}")
            lo, hi = h["spec"].get("minReplicas", 1), h["spec"]["maxReplicas"]
            check(2 <= lo <= hi, f"{where}: HPA/{name}: minReplicas {lo} should be 2 or more, and at most maxReplicas {hi}")
            check(isinstance(p["spec"].get("minAvailable"), int) and p["spec"]["minAvailable"] < lo,
                  f"{where}: PodDisruptionBudget/{name}: minAvailable should be an integer below minReplicas {lo} (else no node drains)")

    # The preStop pause of a service outlasts its callers' re-resolve
    # interval plus the DNS record's TTL: by SIGTERM they have left it.
    for r in reg:
        c = ((deps.get(r["name"]) or {}).get("spec", {}).get("template", {}).get("spec", {}).get("containers") or [{}])[0]
        pre = exec_words((c.get("lifecycle") or {}).get("preStop"))
        pause = int(pre[1]) if len(pre) == 2 and pre[1].isdigit() else 0
        for caller, env in envs.items():
            if caller != r["name"] and r["url_variable"] in env:
                every = int(env.get("RPC_RESOLVE_INTERVAL_MS") or 5000) / 1000
                check(pause >= every + DNS_TTL_S, f"{where}: {r['name']}'s preStop pause {pause} s is shorter than "
                      f"{caller}'s RPC_RESOLVE_INTERVAL_MS ({every} s) + the DNS TTL ({DNS_TTL_S} s)")

    # NetworkPolicies: who reaches each service's port is exactly its
    # registry callers (each a pod label; "operator" too), and nobody else.
    def policies_of(labels):
        return [p for p in pols if selects(p["spec"].get("podSelector"), labels)]

    def allows(rule, port):
        ports = rule.get("ports")
        return not ports or any(p.get("port") == port and p.get("protocol", "TCP") == "TCP" for p in ports)

    check(any(not p["spec"].get("ingress") and not p["spec"].get("egress") and
              set(p["spec"].get("policyTypes") or []) == {"Ingress", "Egress"} and
              selects(p["spec"].get("podSelector"), {"app.kubernetes.io/part-of": "microservices"}) for p in pols),
          f"{where}: no default-deny NetworkPolicy (Ingress and Egress) over app.kubernetes.io/part-of=microservices")
    for name in apps:
        mine = policies_of(pods.get(name, {}))
        check(all(set(p["spec"].get("policyTypes") or []) <= {"Ingress", "Egress"} for p in mine), f"{where}: {name}: bad policyTypes")
        egress = [e for p in mine for e in p["spec"].get("egress") or []]
        check(any(any(p.get("port") == 53 and p.get("protocol") == "UDP" for p in e.get("ports") or []) for e in egress),
              f"{where}: {name} cannot reach DNS (UDP 53): it resolves the services' names")
        if name == "gateway":
            ingress = [i for p in mine for i in p["spec"].get("ingress") or []]
            check(any(allows(i, 3000) and not i.get("from") for i in ingress), f"{where}: nothing may reach the gateway on 3000")
        for callee in reg:
            if callee["url_variable"] in envs.get(name, {}) and callee["name"] != name:
                port = listen.get(callee["name"], (None, None))[1]
                check(any(allows(e, port) and (not e.get("to") or any(selects(t.get("podSelector"), pods.get(callee["name"], {}))
                          for t in e["to"])) for e in egress),
                      f"{where}: {name} dials {callee['name']} but no NetworkPolicy lets it out to port {port}")
    for r in reg:
        name, port = r["name"], listen.get(r["name"], (None, None))[1]
        rules = [i for p in policies_of(pods.get(name, {})) for i in p["spec"].get("ingress") or [] if allows(i, port)]
        peers = set()
        for i in rules:
            if not check(i.get("from"), f"{where}: {name}: an ingress rule lets anyone reach port {port}"):
                continue
            for f in i["from"]:
                ml = (f.get("podSelector") or {}).get("matchLabels") or {}
                check(set(f) == {"podSelector"} and set(ml) == {"app.kubernetes.io/name"},
                      f"{where}: {name}: ingress peer {f} is not one role's pods (app.kubernetes.io/name)")
                peers.add(ml.get("app.kubernetes.io/name"))
        callers = set(r["callers"].split(","))
        check(peers == callers, f"{where}: {name}: port {port} reachable from {sorted(peers)}, the registry's callers are {sorted(callers)}")

    # Operators' databases, where the render has them: one per service that
    # has a database, as the registry names it, owned by its role.
    if clusters:
        for r in reg:
            if r["db_url_variable"] == "-":
                continue
            owner = r["name"].replace("-", "_")
            found = [n for n, c in clusters.items()
                     if ((c["spec"].get("bootstrap") or {}).get("initdb") or {}).get("database") == r["database"]]
            if check(len(found) == 1, f"{where}: no CloudNativePG Cluster bootstraps {r['database']}"):
                initdb = clusters[found[0]]["spec"]["bootstrap"]["initdb"]
                check(initdb.get("owner") == owner, f"{where}: Cluster/{found[0]}: {r['database']} should be owned by {owner}")


def verify(where, docs, context):
    """Typed load and system checks of one render."""
    reg, known, compose_images, secrets = context
    for d in docs:
        load(d, where)
    try:
        check_system(where, docs, reg, known, compose_images, secrets)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        # A value of the wrong shape, already named by the typed load.
        errors.append(f"{where}: the system checks stopped at a malformed object: {e!r}")


def setup(src, bindir):
    reg = check_compose.registry(src)
    apps = ["gateway"] + [r["name"] for r in reg]
    known = {name: check_compose.help_vars(os.path.join(bindir, name)) for name in apps}
    compose = yaml.safe_load(open(os.path.join(src, "compose", "docker-compose.yml")))["services"]
    compose_images = {name: compose[name]["image"] for name in apps if name in compose}
    check(set(compose_images) == set(apps), f"compose/docker-compose.yml lacks an image for {sorted(set(apps) - set(compose_images))}")
    return reg, known, compose_images


def main(src, bindir):
    exe, why = kubectl()
    if not exe:
        print(f"SKIP: {why}")
        return 77
    reg, known, compose_images = setup(src, bindir)
    root = os.path.join(src, "deploy", "k8s")
    overlays = os.path.join(root, "overlays")
    targets = [os.path.join(root, "base")] + sorted(
        os.path.join(overlays, d) for d in os.listdir(overlays) if os.path.isfile(os.path.join(overlays, d, "kustomization.yaml")))
    check(len(targets) >= 2, "deploy/k8s: no overlay")
    secrets = {}
    counted = 0
    for t in targets:
        docs = render(exe, t)
        if not docs:
            continue
        operators = any(d.get("kind") == "Cluster" for d in docs)
        if operators not in secrets:
            secrets[operators] = made_secrets(src, exe, operators)
        verify(os.path.relpath(t, src), docs, (reg, known, compose_images, secrets[operators]))
        counted += len(docs)
    errors.extend(check_compose.errors)
    for e in errors:
        print("FAIL:", e)
    print(f"deploy/k8s: {len(targets)} renders, {counted} objects checked, {len(errors)} problems")
    return 1 if errors else 0


# ---------------------------------------------------------------- self-test

def obj(docs, kind, name):
    return next(d for d in docs if d.get("kind") == kind and d["metadata"]["name"].startswith(name))


def container(docs, name):
    return obj(docs, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]


def env_entry(docs, name, var):
    return next(e for e in container(docs, name)["env"] if e["name"] == var)


def _rename(d, old, new):
    d[new] = d.pop(old)


# Mistakes a person makes, each on a copy of the rendered base, and what the
# check must say about it: (what, mutation, expected message regex).
MUTATIONS = [
    ("a misspelt field", lambda D: _rename(container(D, "user-svc")["securityContext"], "readOnlyRootFilesystem",
                                            "readOnlyRootFileSystem"), r"has no field 'readOnlyRootFileSystem'"),
    ("a quoted port", lambda D: container(D, "user-svc")["ports"][0].update(containerPort="5001"), r"containerPort: should be int"),
    ("a misspelt enumeration value", lambda D: container(D, "gateway").update(imagePullPolicy="IfNotPresnt"), r"is not one of"),
    ("a required field missing", lambda D: container(D, "gateway").pop("name"), r"`name`, must not be `None`"),
    ("a bad quantity", lambda D: container(D, "order-svc")["resources"]["requests"].update(memory="32Mx"),
     r"'32Mx' is not a Kubernetes quantity"),
    ("an object the API lacks", lambda D: D.append({"apiVersion": "apps/v1", "kind": "Deployments", "metadata": {"name": "x"}}),
     r"is no type the Kubernetes API has"),
    ("a variable the binary does not read", lambda D: obj(D, "ConfigMap", "user-svc-config")["data"].update(LOG_LEVL="info"),
     r"--help does not list: \['LOG_LEVL'\]"),
    ("a plain RPC URL", lambda D: obj(D, "ConfigMap", "gateway-config")["data"].update(ORDER_SVC_URL="tcp://order-svc:5002"),
     r"should be tls\+tcp://"),
    ("a caller dialing the wrong name", lambda D: obj(D, "ConfigMap", "order-svc-config")["data"].update(
        USER_SVC_URL="tls+tcp://users:5001"), r"USER_SVC_URL=tls\+tcp://users:5001 should be tls\+tcp://user-svc:5001"),
    ("a secret file no Secret provides", lambda D: env_entry(D, "user-svc", "USER_DB_URL_FILE").update(
        value="/run/secrets/credentials/USER_DB_UR"), r"provides USER_DB_UR"),
    ("a TLS Secret misnamed", lambda D: next(v for v in obj(D, "Deployment", "user-svc")["spec"]["template"]["spec"]["volumes"]
                                            if v["name"] == "tls")["secret"].update(secretName="user-svc-tl"),
     r"RPC_TLS_CERT=/run/tls/cert.pem: no Secret mounted at /run/tls provides cert.pem"),
    ("a service not headless", lambda D: obj(D, "Service", "order-svc")["spec"].pop("clusterIP"), r"should be headless"),
    ("root", lambda D: obj(D, "Deployment", "gateway")["spec"]["template"]["spec"]["securityContext"].update(runAsUser=0),
     r"non-root uid 10001"),
    ("a writable root filesystem", lambda D: container(D, "order-svc")["securityContext"].update(readOnlyRootFilesystem=False),
     r"readOnlyRootFilesystem should be true"),
    ("another image", lambda D: container(D, "order-svc").update(image="microservices/ordersvc"), r"is not compose's"),
    ("a TCP probe", lambda D: container(D, "user-svc").update(livenessProbe={"tcpSocket": {"port": 5001}}), r"an open port says nothing"),
    ("another service's health check", lambda D: container(D, "user-svc")["readinessProbe"]["exec"].update(
        command=["healthcheck", "order-svc"]), r"readinessProbe should exec \[healthcheck, user-svc\]"),
    ("a pause shorter than the re-resolve", lambda D: container(D, "user-svc")["lifecycle"]["preStop"]["exec"].update(
        command=["sleep", "3"]), r"preStop pause 3 s is shorter"),
    ("a caller missing from a NetworkPolicy", lambda D: obj(D, "NetworkPolicy", "user-svc")["spec"]["ingress"][0]["from"].pop(1),
     r"user-svc: port 5001 reachable from \['gateway', 'operator'\], the registry's callers are"),
    ("replicas beside an HPA", lambda D: obj(D, "Deployment", "gateway")["spec"].update(replicas=3), r"HorizontalPodAutoscaler owns"),
    ("a budget that blocks drains", lambda D: obj(D, "PodDisruptionBudget", "user-svc")["spec"].update(minAvailable=2),
     r"minAvailable should be an integer below minReplicas"),
    ("a spread over another app's pods", lambda D: obj(D, "Deployment", "gateway")["spec"]["template"]["spec"].update(
        topologySpreadConstraints=[{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
                                    "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "user-svc"}}}]),
     r"topologySpreadConstraint does not select its own pods"),
    ("a gateway Service on another port", lambda D: obj(D, "Service", "gateway")["spec"]["ports"][0].update(targetPort=3001),
     r"targets 3001, not a port of GATEWAY_PORTS"),
]


def self_test(src, bindir):
    """The check catches each mistake of MUTATIONS (and none in the base)."""
    import copy
    exe, why = kubectl()
    if not exe:
        print(f"SKIP: {why}")
        return 77
    reg, known, compose_images = setup(src, bindir)
    base = render(exe, os.path.join(src, "deploy", "k8s", "base"))
    context = (reg, known, compose_images, made_secrets(src, exe, False))
    if errors:
        print("\n".join("FAIL: " + e for e in errors))
        return 1
    verify("base", copy.deepcopy(base), context)
    passed, failed = 0, 0
    for what, mutate, expect in [("nothing", lambda D: None, None)] + MUTATIONS:
        errors.clear()
        docs = copy.deepcopy(base)
        mutate(docs)
        verify("base", docs, context)
        ok = not errors if expect is None else any(re.search(expect, e) for e in errors)
        passed, failed = passed + ok, failed + (not ok)
        print(f"{'ok' if ok else 'FAIL'}: {what}: " + ("; ".join(errors[:2]) or "no problem found"))
    # make-secrets.sh refuses, naming what is missing, before printing anything.
    with tempfile.TemporaryDirectory() as tmp:
        pki = os.path.join(tmp, "pki")
        subprocess.run([os.path.join(src, "scripts", "lib", "dev_pki.sh"), pki], capture_output=True, timeout=60)
        script = os.path.join(src, "deploy", "k8s", "make-secrets.sh")
        full = dict(os.environ, USER_DB_URL="postgresql://u:x@db/user_db", ORDER_DB_URL="postgresql://o:x@db/order_db",
                    AMQP_URL="amqp://a:x@mq:5672/")
        cases = [("no AMQP_URL", {k: v for k, v in full.items() if k != "AMQP_URL"}, [pki], r"AMQP_URL is not set"),
                 ("no ORDER_DB_URL", {k: v for k, v in full.items() if k != "ORDER_DB_URL"}, [pki], r"ORDER_DB_URL is not set"),
                 ("no PKI directory", full, [os.path.join(tmp, "none")], r"usage: make-secrets.sh"),
                 ("a PKI file missing", full, [pki], r"user-svc.key missing")]
        for what, env, args, expect in cases:
            if what == "a PKI file missing":
                os.remove(os.path.join(pki, "user-svc.key"))
            r = subprocess.run([script] + args, capture_output=True, text=True, timeout=60, env=env)
            ok = r.returncode == 1 and not r.stdout and re.search(expect, r.stderr)
            passed, failed = passed + bool(ok), failed + (not ok)
            print(f"{'ok' if ok else 'FAIL'}: make-secrets.sh, {what}: exit {r.returncode}, {r.stderr.strip()}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--self-test":
        sys.exit(self_test(sys.argv[2], sys.argv[3]))
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
