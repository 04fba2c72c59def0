#!/usr/bin/python3
"""Checks compose/docker-compose.yml against what issue 6 asks and against the
binaries themselves (ctest -L compose). No Docker engine is needed: the file is
read with a real YAML parser (Debian's python3-yaml), and every environment
variable given to gateway, user-svc and order-svc must be one that binary
lists in its --help, so a renamed variable fails here instead of in a
container.

Usage: check_compose.py SOURCE-DIR BIN-DIR
"""
import os
import re
import subprocess
import sys
from urllib.parse import urlsplit

import yaml

APPS = ("gateway", "user-svc", "order-svc")
SERVERS = ("postgres", "redis", "rabbitmq")
# Published ports, exactly: the gateway's three and RabbitMQ's UI.
PUBLISHED = {"gateway": {3000, 3001, 3002}, "rabbitmq": {15672}}
DEPENDS = {
    "user-svc": {"postgres", "redis", "rabbitmq"},
    "order-svc": {"postgres", "redis", "rabbitmq", "user-svc"},
    "gateway": {"user-svc", "order-svc"},
}
REQUIRED_ENV = {
    "user-svc": {"USER_SVC_URL", "USER_DB_URL", "REDIS_URL", "AMQP_URL"},
    "order-svc": {"ORDER_SVC_URL", "USER_SVC_URL", "ORDER_DB_URL", "REDIS_URL", "AMQP_URL"},
    "gateway": {"GATEWAY_PORTS", "USER_SVC_URL", "ORDER_SVC_URL"},
}
# What each container's health check must run (a word of its command).
HEALTH = {
    "postgres": ["pg_isready"],
    "redis": ["redis-cli", "ping"],
    "rabbitmq": ["rabbitmq-diagnostics", "ping"],
    "gateway": ["healthcheck", "gateway"],
    "user-svc": ["healthcheck", "user-svc"],
    "order-svc": ["healthcheck", "order-svc"],
}
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
    check(set(services) == set(APPS + SERVERS),
          f"services should be {sorted(APPS + SERVERS)}, are {sorted(services)}")

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
                check((cond or {}).get("condition") == "service_healthy",
                      f"{name}: depends_on {dep} should have condition service_healthy")

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

    # PostgreSQL's init script: exists, creates both databases and roles.
    init = [str(v).split(":") for v in services.get("postgres", {}).get("volumes") or []]
    init = [m for m in init if len(m) >= 2 and m[1].startswith("/docker-entrypoint-initdb.d/")]
    if check(init, "postgres: no init script mounted in /docker-entrypoint-initdb.d"):
        script = os.path.normpath(os.path.join(compose_dir, init[0][0]))
        if check(os.path.isfile(script), f"postgres: init script {script} missing"):
            sql = open(script).read()
            for stmt in ("CREATE ROLE user_svc", "CREATE ROLE order_svc",
                         "CREATE DATABASE user_db OWNER user_svc", "CREATE DATABASE order_db OWNER order_svc"):
                check(stmt in sql, f"postgres init script lacks '{stmt}'")

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
    for needle in ("/readyz", "users.UserService/Health", "orders.OrderService/Health"):
        check(needle in hc, f"compose/healthcheck does not use {needle}")

    # Environment: names the binaries read, consistent URLs between services.
    envs = {name: env_of(services.get(name, {})) for name in APPS}
    for name in APPS:
        known = help_vars(os.path.join(bindir, name))
        given = set(envs[name]) | image_env.get(name, set())
        check(not (given - known), f"{name}: variables its --help does not list: {sorted(given - known)}")
        check(REQUIRED_ENV[name] <= given, f"{name}: missing {sorted(REQUIRED_ENV[name] - given)}")

    def hostport(url):
        u = urlsplit(url.split(",")[0])
        return u.hostname, u.port

    listen = {"user-svc": hostport(envs["user-svc"].get("USER_SVC_URL", "")),
              "order-svc": hostport(envs["order-svc"].get("ORDER_SVC_URL", ""))}
    for caller, var, callee in (("gateway", "USER_SVC_URL", "user-svc"), ("gateway", "ORDER_SVC_URL", "order-svc"),
                                ("order-svc", "USER_SVC_URL", "user-svc")):
        for url in envs[caller].get(var, "").split(","):
            check(hostport(url) == (callee, listen[callee][1]),
                  f"{caller}: {var}={url} should dial {callee}:{listen[callee][1]}")
    for name in ("user-svc", "order-svc"):
        check(listen[name][0] in ("0.0.0.0", "*", ""), f"{name}: should listen on all interfaces, not {listen[name][0]}")
        for var, host in (("REDIS_URL", "redis"), ("AMQP_URL", "rabbitmq")):
            check(hostport(envs[name].get(var, ""))[0] == host, f"{name}: {var} should point at {host}")
    for name, var, user in (("user-svc", "USER_DB_URL", "user_svc"), ("order-svc", "ORDER_DB_URL", "order_svc")):
        u = urlsplit(envs[name].get(var, ""))
        check(u.hostname == "postgres" and u.username == user, f"{name}: {var} should log in as {user} at postgres")
    ports = {int(p) for p in envs["gateway"].get("GATEWAY_PORTS", "").split(",") if p.strip()}
    check(ports == {c for _, c in published(services.get("gateway", {}))},
          f"gateway: GATEWAY_PORTS {sorted(ports)} differ from its published ports")

    # The health RPCs the check script calls exist (rpc-call knows every method).
    for method in ("users.UserService/Health", "orders.OrderService/Health"):
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
