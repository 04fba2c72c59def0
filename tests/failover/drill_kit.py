"""What the failover drills (tests/failover/*_drill.py) share: a drill's own
instance of scripts/servers, the three binaries run from the build, a steady
load through the gateway, a /readyz watcher, and the ledger checks that make
"nothing lost" a fact (every 201 has its row, every user's event is logged by
order-svc exactly once, no request outlived its deadline).

A drill is `run(name, settings, body)`: the servers of instance
<test instance>-fo are started with `settings` (e.g. SERVERS_PG_STANDBY=1),
the binaries with them, then `body(kit)` faults one server under load and
asserts; everything is stopped whatever happens, and a failing run prints the
end of each log. The multi-host drill (tests/multihost/drill.py) uses the
same parts, with a host (a network namespace) for each process."""

import calendar
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

SKIP = 77
SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
T0 = time.time()
INSTANCE = os.environ.get("SERVERS_INSTANCE") or os.environ.get("TEST_INSTANCE") or "test"
RUN_ID = f"{INSTANCE}-fo"  # the drills' own instance of scripts/servers
WORKERS = 4  # concurrent clients of the load
PAUSE_S = 0.05  # each client's pause between requests
RPC_TIMEOUT_MS = 5000  # the gateway's deadline for each call
DEADLINE_SLACK_S = 1.0  # an answer may come this long after the deadline
# What a failed request of each kind of the load may answer. A read does
# nothing: 503 (UNAVAILABLE). A create (a user, an order) is one autocommit
# INSERT: when its answer is lost with its database connection (the server
# said nothing of it: an immediate shutdown, a network drop) svc/db.c
# answers 504 (DEADLINE_EXCEEDED, "the outcome is unknown"), its row there
# or not; else 503, not done. check_ledger takes such a map, or one tuple
# for every kind.
FAILURES = {"create": (503, 504), "order": (503, 504), "read": (503,)}
CREATES = ("create", "order")


def say(msg):
    print(f"[{time.time() - T0:6.1f}s] {msg}", flush=True)


def run(*cmd, check=True, **kw):
    return subprocess.run(cmd, check=check, capture_output=True, text=True, **kw)


class DrillFailure(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise DrillFailure(msg)
    say(f"ok: {msg}")


def wait_for(what, cond, timeout, step=0.1):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return time.time()
        time.sleep(step)
    raise DrillFailure(f"{what}: not within {timeout} s")


def shell_env(text):
    """The variables of `export NAME=VALUE` lines, as bash reads them."""
    out = run("bash", "-c", 'eval "$1"; env -0', "-", text).stdout
    return dict(kv.split("=", 1) for kv in out.split("\0") if "=" in kv)


def main_base():
    """The port base of the instance scripts/test started; the drills' is 340
    above, between two instances' ranges (each uses base+369..base+701)."""
    out = run(os.path.join(SRC, "scripts", "servers"), "env", INSTANCE).stdout
    return int(re.search(r"PG_PORT=(\d+)", out).group(1)) - 432


class Servers:
    """scripts/servers for the drill's instance (run_id), with the drill's
    settings (SERVERS_PG_STANDBY=1, SERVERS_ADDRESS=...) in its environment."""

    def __init__(self, settings, run_id=RUN_ID):
        self.base = main_base() + 340
        self.run_id = run_id
        self.env = dict(os.environ, PORT_BASE=str(self.base), **settings)

    def __call__(self, *args, check=True):
        # The instance goes last: `start-one NAME INSTANCE`.
        r = run(os.path.join(SRC, "scripts", "servers"), *args, self.run_id, env=self.env, check=False)
        if check and r.returncode != 0:
            raise DrillFailure(f"scripts/servers {' '.join(args)} {self.run_id} failed:\n{r.stderr}")
        return r

    def vars(self):
        return shell_env(self("env").stdout)


def registry():
    out = run(os.path.join(SRC, "scripts", "registry"), "--tests").stdout
    return [line.split() for line in out.splitlines() if line.strip()]


def role_env(tls_dir, role):
    if not tls_dir:
        return {}
    out = run("bash", "-c", f'. "{SRC}/scripts/lib/rpc_tls.sh"; rpc_tls_role_env "$1" "$2"', "-",
              tls_dir, role).stdout
    return dict(line.split("=", 1) for line in out.splitlines())


class Procs:
    """The binaries, each with a clean environment (but the sanitizers'
    options) and its log in work/NAME.log. on_host(host) gives the command
    that runs a program on a host (e.g. `ip netns exec NS`, which execs it:
    the pid stays the binary's); without it every process runs here."""

    def __init__(self, bin_dir, work, on_host=None):
        self.bin_dir, self.work, self.procs = bin_dir, work, {}
        self.on_host = on_host or (lambda host: [])
        self.kept = []  # processes whose logs must outlive a passing run (a NOTE said why)

    def log_path(self, name):
        return os.path.join(self.work, f"{name}.log")

    def start(self, name, binary, env, host=None):
        log = open(self.log_path(name), "ab")
        env = {**{k: v for k, v in os.environ.items() if k.endswith("SAN_OPTIONS")}, **env}
        self.procs[name] = subprocess.Popen(self.on_host(host) + [os.path.join(self.bin_dir, binary)], env=env,
                                            stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    def alive(self, name):
        return self.procs[name].poll() is None

    def stop_all(self, timeout=15):
        status = {}
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, p in self.procs.items():
            try:
                status[name] = p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                status[name] = f"still running {timeout} s after SIGTERM"
        return status

    def log(self, name):
        try:
            with open(self.log_path(name), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


def listening(port):
    return run("ss", "-Hltn", f"sport = :{port}", check=False).stdout.strip() != ""


class Stack:
    """gateway, user-svc and order-svc on 127.0.0.1, at ports of the drill's
    base (below the servers' base+369), with mutual TLS unless RPC_TLS=off."""

    def __init__(self, servers, procs, extra=None):
        self.procs = procs
        self.vars = servers.vars()
        self.gateway_port = servers.base + 10
        tls = self.vars.get("RPC_TLS_DIR", "")
        scheme = "tls+tcp" if tls else "tcp"
        common = {"PATH": "/usr/bin:/bin", "REDIS_URL": self.vars["REDIS_URL"], "AMQP_URL": self.vars["AMQP_URL"],
                  "REDIS_TIMEOUT_MS": "500", "OUTBOX_POLL_MS": "200", "LOG_FORMAT": "json", "WORKERS": "4",
                  "RPC_TIMEOUT_MS": str(RPC_TIMEOUT_MS)}
        common.update(extra or {})
        self.listen = {}
        # Every service of the build's registry (the test build's echo-svc
        # too: /readyz asks each), at base+11, +12, ...
        for i, (name, _, url_var, _, db_var, _, _) in enumerate(registry()):
            if db_var != "-" and db_var in self.vars:
                common[db_var] = self.vars[db_var]
            p = servers.base + 11 + i
            # Callers dial the certificates' name; each service listens on loopback.
            common[url_var] = f"{scheme}://localhost:{p}"
            self.listen[name] = (f"{scheme}://127.0.0.1:{p}", p)
        self.env = {name: {**common, **role_env(tls, name)} for name in ["gateway", *self.listen]}
        self.env["gateway"].update({"GATEWAY_PORTS": str(self.gateway_port), "GATEWAY_BIND": "127.0.0.1"})
        for name, (url, _) in self.listen.items():
            self.env[name]["RPC_LISTEN_URL"] = url

    def start(self):
        for name in self.listen:
            self.procs.start(name, name, self.env[name])
        for name, (_, p) in self.listen.items():
            wait_for(f"{name} listening", lambda: listening(p) or not self.procs.alive(name), 60)
            expect(self.procs.alive(name), f"{name} started (its log: {self.procs.log_path(name)})")
        self.procs.start("gateway", "gateway", self.env["gateway"])
        wait_for("the gateway answering /readyz with 200",
                 lambda: self.readyz()[0] == 200 or not self.procs.alive("gateway"), 60)
        expect(self.procs.alive("gateway"), f"the gateway started (its log: {self.procs.log_path('gateway')})")

    def readyz(self):
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.gateway_port, timeout=RPC_TIMEOUT_MS / 1000 + 2)
            c.request("GET", "/readyz")
            r = c.getresponse()
            body = r.read().decode(errors="replace")
            c.close()
            return r.status, body
        except OSError as e:
            return f"error: {e}", ""


class Load:
    """WORKERS clients through the gateway, each creating a user, reading one
    of its users back, and every fourth round creating an order: one record
    per request, (start, end, kind, status, request id, created id, key).
    key tells a create's row whatever its answer: the user's email, the
    order's product (each unique to the request); None for a read."""

    def __init__(self, port, host="127.0.0.1", pause=PAUSE_S, tag=None):
        self.host, self.port, self.pause = host, port, pause
        self.tag = tag or int(T0 * 1000)  # in each email: a second Load of the run makes new ones
        self.records = []
        self.lock = threading.Lock()
        self.halt = threading.Event()
        self.threads = [threading.Thread(target=self.client, args=(i,), daemon=True) for i in range(WORKERS)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def finish(self):
        self.halt.set()
        for t in self.threads:
            t.join(RPC_TIMEOUT_MS / 1000 + 10)

    def request(self, conn, kind, method, path, body, key=None):
        t = time.time()
        try:
            conn.request(method, path, body=json.dumps(body) if body is not None else None,
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            status, rid = r.status, r.getheader("X-Request-Id", "")
            created = json.loads(data).get("id") if status == 201 else None
        except (OSError, http.client.HTTPException, ValueError) as e:
            conn.close()
            status, rid, created = f"error: {e}", "", None
        with self.lock:
            self.records.append((t, time.time(), kind, status, rid, created, key))
        return status, created

    def client(self, i):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=RPC_TIMEOUT_MS / 1000 + 5)
        n, mine = 0, []
        while not self.halt.is_set():
            n += 1
            email = f"fo-{i}-{n}-{self.tag}@example.com"
            status, uid = self.request(conn, "create", "POST", "/users", {"name": "Drill", "email": email}, email)
            if uid:
                mine.append(uid)
            if mine:
                self.request(conn, "read", "GET", f"/users/{mine[(n * 7) % len(mine)]}", None)
                if n % 4 == 0:
                    product = f"Drill {i}-{n}-{self.tag}"
                    self.request(conn, "order", "POST", "/orders",
                                 {"userId": mine[-1], "product": product, "price": 100}, product)
            time.sleep(self.pause)
        conn.close()

    def snapshot(self):
        with self.lock:
            return list(self.records)

    def ok_after(self, t, kind=None, n=5):
        """The time by which n requests (of kind) sent after t succeeded, or None."""
        done = sorted(r[1] for r in self.snapshot()
                      if r[0] >= t and r[3] in (200, 201) and (kind is None or r[2] == kind))
        return done[n - 1] if len(done) >= n else None


class ReadyzWatch:
    """The gateway's /readyz every 100 ms: (time, status, body)."""

    def __init__(self, stack):
        self.stack, self.seen, self.halt = stack, [], threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def loop(self):
        while not self.halt.is_set():
            status, body = self.stack.readyz()
            self.seen.append((time.time(), status, body))
            time.sleep(0.1)

    def finish(self):
        self.halt.set()
        self.thread.join(RPC_TIMEOUT_MS / 1000 + 5)

    def between(self, t0, t1):
        return [s for s in self.seen if t0 <= s[0] <= t1]


def stop_primary(servers):
    """Stops scripts/servers' PostgreSQL primary: (asked at, stopped at)."""
    t_stop = time.time()
    servers("stop-one", "postgres")
    t_stopped = time.time()
    say(f"primary stopped ({t_stopped - t_stop:.2f} s)")
    return t_stop, t_stopped


def served_again(load, watch, t, bound, where):
    """Waits, at most bound s each, for a 201 create, a 201 order and a
    /readyz 200 after t; returns (first create, first order) times."""
    firsts = []
    for kind in ("create", "order"):
        wait_for(f"a 201 {kind} {where}", lambda: load.ok_after(t, kind, 1), bound)
        firsts.append(load.ok_after(t, kind, 1))
    wait_for("/readyz 200 again", lambda: any(s[1] == 200 for s in watch.between(t, time.time())), bound)
    return tuple(firsts)


def user_events_logged(procs):
    """How many times order-svc logged each user's user_created event."""
    counts = {}
    for m in re.finditer(r"user_created id=(\d+) email=", procs.log("order-svc")):
        counts[int(m.group(1))] = counts.get(int(m.group(1)), 0) + 1
    return counts


def statuses(fails):
    """How many failures of each status, e.g. '503: 410, 504: 2'."""
    n = {}
    for r in fails:
        n[r[3]] = n.get(r[3], 0) + 1
    return ", ".join(f"{s}: {c}" for s, c in sorted(n.items(), key=str)) or "none"


def allowed_for(allowed, kind):
    """The statuses a failed request of kind may answer: allowed is a map
    kind -> statuses (FAILURES), or one tuple for every kind."""
    return allowed.get(kind, ()) if isinstance(allowed, dict) else tuple(allowed)


def describe(allowed):
    if not isinstance(allowed, dict):
        return f"one of {tuple(allowed)}"
    return ", ".join(f"{k} {'/'.join(map(str, v)) or 'none'}" for k, v in allowed.items())


def check_ledger(load, procs, db_url, allowed_failures=FAILURES, events_within=30):
    """Nothing lost and nothing hung: every failure has a status allowed for
    its kind (allowed_failures: a map kind -> statuses, or one tuple for
    every kind) and came within the deadline; every 201 user and order has
    its row; every user in the database (those behind a failed answer too)
    has its event logged exactly once. A create answered 504 (the outcome
    unknown) may have its row or not: both are counted, by the request's
    key, and a user so created is one of those whose event must be logged
    once. db_url maps 'users'/'orders' to a libpq URL that reaches the
    current primary. Returns the failed records."""
    recs = load.snapshot()
    fails = [r for r in recs if r[3] not in (200, 201)]
    slow = [r for r in recs if r[1] - r[0] > RPC_TIMEOUT_MS / 1000 + DEADLINE_SLACK_S]
    by_status = {}
    for r in fails:
        by_status[f"{r[2]} {r[3]}"] = by_status.get(f"{r[2]} {r[3]}", 0) + 1
    say(f"load: {len(recs)} requests, {len(fails)} failed ({by_status})")

    def ok(r):
        return r[3] in allowed_for(allowed_failures, r[2])

    # Those with a status not allowed first: the ones that fail the drill
    # (a failover_pg_return run failed on one not among the first 20 shown).
    for r in sorted(fails, key=ok)[:20]:
        say(f"  failed: {r[2]} at {r[0] - T0:.2f} s, answered after {r[1] - r[0]:.2f} s: {r[3]} request={r[4]}")
    expect(all(ok(r) for r in fails), f"every failure is allowed for its kind ({describe(allowed_failures)})")
    expect(not slow, f"every request answered within the deadline + {DEADLINE_SLACK_S} s "
                     f"(slowest {max((r[1] - r[0] for r in recs), default=0):.2f} s)")

    def column(url, sql):
        return run("psql", "-X", "-At", "-F", "\t", url, "-c", sql).stdout.splitlines()

    users = [r[5] for r in recs if r[2] == "create" and r[3] == 201]
    orders = [r[5] for r in recs if r[2] == "order" and r[3] == 201]
    user_rows = dict(line.split("\t", 1)[::-1] for line in column(db_url["users"], "select id, email from users"))
    rows = set(map(int, user_rows.values()))
    missing = [u for u in users if u not in rows]
    expect(not missing, f"every 201 user has its row ({len(users)}; missing: {missing[:5]})")
    order_rows = column(db_url["orders"], "select id from orders")
    orows = set(map(int, order_rows))
    missing = [o for o in orders if o not in orows]
    expect(not missing, f"every 201 order has its row ({len(orders)}; missing: {missing[:5]})")
    try:
        wait_for("every user's event logged", lambda: rows <= set(user_events_logged(procs)), events_within, 0.5)
    except DrillFailure:
        pass
    counts = user_events_logged(procs)
    unlogged = sorted(rows - set(counts))
    twice = sorted(u for u, n in counts.items() if n > 1)
    expect(not unlogged, f"every user's user_created event reached order-svc ({len(rows)} users; "
                         f"not logged: {unlogged[:5]})")
    expect(not twice, f"each event logged once (twice or more: {twice[:5]})")

    # The failed creates' outcomes, by their keys: a 504's either way; a
    # 503's should be no row (said, not failed: a caller's 503 for a lost
    # RPC connection, as in the multi-host drill's cut, cannot know either).
    products = set(column(db_url["orders"], "select product from orders"))

    def landed(r):
        return r[6] in user_rows if r[2] == "create" else r[6] in products

    unknown = [r for r in fails if r[2] in CREATES and r[3] == 504]
    done = [r for r in unknown if landed(r)]
    done_users = [int(user_rows[r[6]]) for r in done if r[2] == "create"]
    expect(all(counts.get(u) == 1 for u in done_users),
           f"each user behind a 504 that has its row has its event logged once ({len(done_users)})")
    refused = [r for r in fails if r[2] in CREATES and r[3] == 503]
    refused_done = [r for r in refused if landed(r)]
    say(f"MEASURED: 504 creates (outcome unknown): {len(unknown)}, {len(done)} with their row "
        f"({len(done_users)} users, {len(done) - len(done_users)} orders), {len(unknown) - len(done)} without; "
        f"503 creates: {len(refused)}, {len(refused_done)} with their row")
    if refused_done:
        say(f"NOTE: a 503 create has its row: {[(r[2], r[4], r[6]) for r in refused_done[:5]]}")
    return fails


def run_drill(name, settings, body, needs=()):
    """Runs body(servers, procs, stack) against a fresh instance started with
    settings; returns the process exit status (0, 1, or SKIP when one of the
    programs in needs is missing). The build's binaries are in argv[1]."""
    import shutil

    missing = [p for p in needs if shutil.which(p) is None and not os.path.exists(p)]
    if missing:
        print(f"{name}: SKIPPED: needs {', '.join(missing)}")
        return SKIP
    bin_dir = sys.argv[1]
    work = os.path.join(SRC, ".run", RUN_ID, "drill", name)
    servers = Servers(settings)
    servers("destroy", check=False)
    os.makedirs(work, exist_ok=True)
    procs = Procs(bin_dir, work)
    status = 1
    failure = ""
    try:
        t = time.time()
        servers("start")
        say(f"servers of {RUN_ID} (port base {servers.base}, {settings}) ready in {time.time() - t:.1f} s")
        stack = Stack(servers, procs)
        stack.start()
        body(servers, procs, stack)
        exits = procs.stop_all()
        bad = {n: s for n, s in exits.items() if s != 0}
        expect(not bad, f"every process exits 0 on SIGTERM ({bad or len(exits)})")
        status = 0
    except DrillFailure as e:
        failure = str(e)
        say(f"FAIL: {e}")
    finally:
        procs.stop_all(5)
        if status != 0:
            for n in procs.procs:
                say(f"---- last lines of {n}.log")
                print("".join(procs.log(n).splitlines(keepends=True)[-20:]), end="")
        servers("stop", check=False)
        # Said again last: a CI excerpt keeps the head and the tail of the
        # output, and the logs above pushed the FAIL line out of both once.
        say(f"{name}: total {time.time() - T0:.1f} s" + (f"; FAIL: {failure}" if failure else ""))
    if status == 0 and not procs.kept:
        servers("destroy", check=False)
    return status


if __name__ == "__main__":
    # A smoke run of the kit itself: no fault, the load, the ledger.
    def body(servers, procs, stack):
        watch = ReadyzWatch(stack).start()
        load = Load(stack.gateway_port).start()
        time.sleep(5)
        load.finish()
        watch.finish()
        expect(all(s[1] == 200 for s in watch.seen), "/readyz 200 throughout")
        v = servers.vars()
        check_ledger(load, procs, {"users": v["USER_DB_URL"], "orders": v["ORDER_DB_URL"]})

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sys.exit(run_drill("kit_smoke", {}, body))
