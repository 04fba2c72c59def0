#!/usr/bin/python3
"""Checks compose/docker-compose.yml against what issue 6 asks and against the
binaries themselves (ctest -L compose). No Docker engine is needed: the file is
read with a real YAML parser (Debian's python3-yaml), and every environment
variable given to the gateway and to each service must be one that binary
lists in its --help, so a renamed variable fails here instead of in a
container. The services are those of the registry, proto/services.conf, as
scripts/registry prints it: each must have its compose service, image stage,
health check, database and password, with nothing of its own written here.

Usage: check_compose.py SOURCE-DIR BIN-DIR
"""
import os
import re
import subprocess
import sys
from urllib.parse import urlsplit

import yaml

SERVERS = ("postgres", "redis", "rabbitmq")
# The one-shot maker of the TLS files (compose/tls-init, the Dockerfile's pki
# stage); every application waits for it to have succeeded.
TLS_INIT = "tls-init"
# Published ports, exactly: the gateway's three and RabbitMQ's UI.
PUBLISHED = {"gateway": {3000, 3001, 3002}, "rabbitmq": {15672}}
# What each server container's health check must run (a word of its
# command); each application's is `healthcheck NAME`.
HEALTH = {
    "postgres": ["pg_isready"],
    "redis": ["redis-cli", "ping"],
    "rabbitmq": ["rabbitmq-diagnostics", "ping"],
}
# Where the registry and its reader are mounted for the init script.
REGISTRY_MOUNTS = {"/opt/registry/proto/services.conf", "/opt/registry/scripts/lib/registry.sh"}
DATA = {"postgres": "/var/lib/postgresql/data", "redis": "/data", "rabbitmq": "/var/lib/rabbitmq"}

errors = []


def check(cond, msg):
    if not cond:
        errors.append(msg)
    return cond


def env_of(svc):
    """environment as a dict, from either the mapping or the list form."""
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def help_vars(binary):
    """The variables a binary reads, from its --help (two-space indented NAMEs)."""
    out = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30,
                         env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    check(out.returncode == 0, f"{binary} --help exited {out.returncode}: {out.stderr}")
    names = set(re.findall(r"^  ([A-Z][A-Z0-9_]+)\s", out.stdout, re.M))
    check(names, f"{binary} --help lists no variables")
    return names


def registry(src):
    """The registry's services as dicts of its columns, read by scripts/registry."""
    out = subprocess.run([os.path.join(src, "scripts", "registry")], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        sys.exit(f"scripts/registry failed: {out.stderr}")
    cols = ("name", "contract", "url_variable", "default_url", "db_url_variable", "database", "callers")
    return [dict(zip(cols, line.split())) for line in out.stdout.splitlines()]


def published(svc):
    """(host, container) port pairs, from the short or the long syntax."""
    pairs = []
    for p in svc.get("ports") or []:
        if isinstance(p, dict):
            pairs.append((int(p.get("published", 0)), int(p["target"])))
            continue
        parts = str(p).split("/")[0].split(":")
        check(len(parts) in (2, 3), f"port '{p}' should name the host port (HOST:CONTAINER)")
        pairs.append((int(parts[-2]), int(parts[-1])))
    return pairs


def healthcheck_words(svc):
    test = (svc.get("healthcheck") or {}).get("test")
    if isinstance(test, str):
        return test.split()
    if isinstance(test, list) and test and test[0] == "CMD-SHELL":
        return " ".join(test[1:]).split()
    return list(test[1:]) if isinstance(test, list) and test and test[0] == "CMD" else []


def dockerfile_stages(path):
    stages, env, cur = {}, {}, None
    for line in open(path):
        m = re.match(r"FROM\s+\S+\s+AS\s+(\S+)", line)
        if m:
            cur = m.group(1)
            stages[cur] = []
            continue
        if cur:
            stages[cur].append(line.strip())
            m = re.match(r"ENV\s+([A-Z0-9_]+)=", line)
            if m:
                env.setdefault(cur, set()).add(m.group(1))
    return stages, env


def main(src, bindir):
    compose_dir = os.path.join(src, "compose")
    path = os.path.join(compose_dir, "docker-compose.yml")
    doc = yaml.safe_load(open(path))
    services = doc.get("services") or {}
    reg = registry(src)
    APPS = ("gateway",) + tuple(r["name"] for r in reg)
    known = {name: help_vars(os.path.join(bindir, name)) for name in APPS}
    url_of = {r["url_variable"]: r["name"] for r in reg}
    # Each service waits for the servers its --help shows it uses and for the
    # services it dials; the gateway for every service. Each is given at least
    # those settings.
    DEPENDS, REQUIRED_ENV = {"gateway": {r["name"] for r in reg} | {TLS_INIT}}, {}
    TLS_DIAL = {"RPC_TLS_CERT", "RPC_TLS_KEY", "RPC_TLS_CA"}
    REQUIRED_ENV["gateway"] = {"GATEWAY_PORTS"} | set(url_of) | TLS_DIAL
    for r in reg:
        uses = {v for v in ("REDIS_URL", "AMQP_URL") if v in known[r["name"]]}
        dials = {url_of[v] for v in known[r["name"]] if v in url_of and v != r["url_variable"]}
        DEPENDS[r["name"]] = ({"postgres"} if r["database"] != "-" else set()) | dials | \
            {{"REDIS_URL": "redis", "AMQP_URL": "rabbitmq"}[v] for v in uses} | {TLS_INIT}
        REQUIRED_ENV[r["name"]] = {r["url_variable"]} | uses | {v for v in url_of if url_of[v] in dials} | \
            ({r["db_url_variable"]} if r["db_url_variable"] != "-" else set()) | TLS_DIAL | {"RPC_TLS_CALLER_CA"}
    for name in APPS:
        HEALTH[name] = ["healthcheck", name]
    check(set(services) == set(APPS + SERVERS + (TLS_INIT,)),
          f"services should be {sorted(APPS + SERVERS + (TLS_INIT,))}, are {sorted(services)}")

    # Images of the servers: the versions the issue names.
    images = {"postgres": r"postgres:15(\b|$)", "redis": r"redis:7(\b|$)", "rabbitmq": r"rabbitmq:3[-.\w]*management"}
    for name, pattern in images.items():
        check(re.match(pattern, str(services.get(name, {}).get("image", ""))),
              f"{name}: image should match {pattern}")

    # Health checks, restart policies, start order.
    for name, svc in services.items():
        words = healthcheck_words(svc)
        for w in HEALTH.get(name, []):
            check(w in words, f"{name}: health check should run '{w}', runs {words}")
        check(svc.get("restart") in ("always", "unless-stopped", "on-failure"),
              f"{name}: restart policy missing or 'no' ({svc.get('restart')})")
        deps = svc.get("depends_on") or {}
        check(isinstance(deps, dict), f"{name}: depends_on should be a mapping with conditions")
        if isinstance(deps, dict):
            check(set(deps) == DEPENDS.get(name, set()),
                  f"{name}: depends_on {sorted(deps)}, expected {sorted(DEPENDS.get(name, set()))}")
            for dep, cond in deps.items():
                want = "service_completed_successfully" if dep == TLS_INIT else "service_healthy"
                check((cond or {}).get("condition") == want, f"{name}: depends_on {dep} should have condition {want}")

    # Published ports: exactly the gateway's three and the management UI.
    for name, svc in services.items():
        pairs = published(svc)
        check({h for h, _ in pairs} == PUBLISHED.get(name, set()),
              f"{name}: publishes {sorted(h for h, _ in pairs)}, expected {sorted(PUBLISHED.get(name, set()))}")
        for h, c in pairs:
            check(h == c, f"{name}: host port {h} should equal container port {c}")
        check("network_mode" not in svc, f"{name}: network_mode would bypass the port list")

    # Named volumes hold every server's data.
    named = set(doc.get("volumes") or {})
    for name, target in DATA.items():
        mounts = [str(v).split(":") for v in services.get(name, {}).get("volumes") or []]
        vols = [m[0] for m in mounts if len(m) >= 2 and m[1] == target]
        check(vols and vols[0] in named, f"{name}: {target} should be on a named volume (declared: {sorted(named)})")

    # PostgreSQL's init script: exists, reads the registry (mounted with its
    # reader), and each service with a database has its password variable.
    mounts = [str(v).split(":") for v in services.get("postgres", {}).get("volumes") or []]
    init = [m for m in mounts if len(m) >= 2 and m[1].startswith("/docker-entrypoint-initdb.d/")]
    if check(init, "postgres: no init script mounted in /docker-entrypoint-initdb.d"):
        script = os.path.normpath(os.path.join(compose_dir, init[0][0]))
        if check(os.path.isfile(script), f"postgres: init script {script} missing"):
            check("registry_services" in open(script).read(), "postgres init script does not read the registry")
    for m in mounts:
        if len(m) >= 2 and m[1] in REGISTRY_MOUNTS:
            check(os.path.isfile(os.path.normpath(os.path.join(compose_dir, m[0]))), f"postgres: {m[0]} missing")
    check(REGISTRY_MOUNTS <= {m[1] for m in mounts if len(m) >= 2},
          f"postgres: the registry should be mounted at {sorted(REGISTRY_MOUNTS)}")
    pg_env = env_of(services.get("postgres", {}))
    for r in reg:
        if r["database"] != "-":
            pw = r["db_url_variable"].removesuffix("_URL") + "_PASSWORD"
            check(pw in pg_env, f"postgres: {pw} (the password of {r['name']}'s role) missing")

    # The images: built from compose/Dockerfile, one target per binary,
    # each with a HEALTHCHECK and a non-root USER (inherited from runtime).
    dockerfile = os.path.join(src, "compose", "Dockerfile")
    stages, image_env = dockerfile_stages(dockerfile)
    for name in APPS:
        build = services.get(name, {}).get("build") or {}
        ctx = os.path.normpath(os.path.join(compose_dir, str(build.get("context", ""))))
        check(os.path.isfile(os.path.join(ctx, str(build.get("dockerfile", "")))),
              f"{name}: build.dockerfile {build.get('dockerfile')} not found in context {ctx}")
        check(build.get("target") == name and name in stages, f"{name}: build.target should be the Dockerfile stage '{name}'")
        body = stages.get(name, [])
        check(any(l.startswith("HEALTHCHECK") and name in l for l in body), f"Dockerfile stage {name}: no HEALTHCHECK")
    check(any(re.match(r"USER\s+(?!root\b|0\b)\S+", l) for l in stages.get("runtime", [])),
          "Dockerfile stage runtime: no non-root USER")
    hc = open(os.path.join(compose_dir, "healthcheck")).read()
    for needle in ("/readyz", "registry_services", "/Health"):
        check(needle in hc, f"compose/healthcheck does not use {needle}")
    for copied in ("proto/services.conf", "scripts/lib/registry.sh"):
        check(any(l.startswith(f"COPY {copied} /opt/registry/{copied}") for l in stages.get("runtime", [])),
              f"Dockerfile stage runtime: no COPY of {copied} to /opt/registry (healthcheck reads it)")

    # Environment: names the binaries read, consistent URLs between services.
    envs = {name: env_of(services.get(name, {})) for name in APPS}
    for name in APPS:
        given = set(envs[name]) | image_env.get(name, set())
        check(not (given - known[name]), f"{name}: variables its --help does not list: {sorted(given - known[name])}")
        check(REQUIRED_ENV[name] <= given, f"{name}: missing {sorted(REQUIRED_ENV[name] - given)}")

    def hostport(url):
        u = urlsplit(url.split(",")[0])
        return u.hostname, u.port

    # Where a service listens: RPC_LISTEN_URL, else its url_variable (issue 19).
    listen = {r["name"]: hostport(envs[r["name"]].get("RPC_LISTEN_URL") or envs[r["name"]].get(r["url_variable"], ""))
              for r in reg}
    for caller in APPS:
        for var, callee in url_of.items():
            if callee == caller or var not in envs[caller]:
                continue
            for url in envs[caller][var].split(","):
                check(hostport(url) == (callee, listen[callee][1]),
                      f"{caller}: {var}={url} should dial {callee}:{listen[callee][1]}")
    for r in reg:
        name = r["name"]
        check(listen[name][0] in ("0.0.0.0", "*", ""), f"{name}: should listen on all interfaces, not {listen[name][0]}")
        for var, host in (("REDIS_URL", "redis"), ("AMQP_URL", "rabbitmq")):
            if var in known[name]:
                check(hostport(envs[name].get(var, ""))[0] == host, f"{name}: {var} should point at {host}")
        if r["db_url_variable"] != "-":
            u, user = urlsplit(envs[name].get(r["db_url_variable"], "")), name.replace("-", "_")
            check(u.hostname == "postgres" and u.username == user and u.path == "/" + r["database"],
                  f"{name}: {r['db_url_variable']} should log in as {user} at postgres/{r['database']}")
    ports = {int(p) for p in envs["gateway"].get("GATEWAY_PORTS", "").split(",") if p.strip()}
    check(ports == {c for _, c in published(services.get("gateway", {}))},
          f"gateway: GATEWAY_PORTS {sorted(ports)} differ from its published ports")

    # Mutual TLS (issue 18): every RPC URL is tls+tcp://; each application's
    # files are in a volume of its own, mounted read-only at the directory its
    # RPC_TLS_* name, which tls-init fills at /out/<name>; the PKI's volume
    # (CA keys) is tls-init's alone. No key in an image: the Dockerfile
    # copies no .key/.pem.
    init = services.get(TLS_INIT, {})
    init_mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in init.get("volumes") or []}
    check(init_mounts.get("/pki") in named, f"{TLS_INIT}: /pki should be a named volume")
    for name in APPS:
        for var in [*url_of, "RPC_LISTEN_URL"]:
            for url in envs[name].get(var, "").split(",") if var in envs[name] else []:
                check(url.startswith("tls+tcp"), f"{name}: {var}={url} should be tls+tcp://")
        mounts = [str(v).split(":") for v in services.get(name, {}).get("volumes") or []]
        own = [m for m in mounts if len(m) >= 2 and m[1] == "/run/tls"]
        if check(own, f"{name}: its TLS files should be a volume mounted at /run/tls"):
            check(own[0][2:] == ["ro"], f"{name}: /run/tls should be mounted read-only")
            check(own[0][0] in named and init_mounts.get(f"/out/{name}") == own[0][0],
                  f"{name}: /run/tls should be the volume {TLS_INIT} fills at /out/{name}")
        for var in ("RPC_TLS_CERT", "RPC_TLS_KEY", "RPC_TLS_CA", "RPC_TLS_CALLER_CA"):
            if var in envs[name]:
                check(envs[name][var].startswith("/run/tls/"), f"{name}: {var} should be under /run/tls")
        check(not any(m[0] == init_mounts.get("/pki") for m in mounts), f"{name}: mounts the PKI (CA keys)")
    check(not re.search(r"^COPY\s.*\.(key|pem)\b", open(dockerfile).read(), re.M), "Dockerfile copies a key or certificate")

    # The health RPCs the check script calls exist (rpc-call knows every method).
    for method in (r["contract"] + "/Health" for r in reg):
        r = subprocess.run([os.path.join(bindir, "rpc-call"), "describe", method], capture_output=True, timeout=30)
        check(r.returncode == 0, f"rpc-call describe {method} failed: the health check would call nothing")

    for e in errors:
        print("FAIL:", e)
    print(f"{path}: {len(services)} services checked, {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
