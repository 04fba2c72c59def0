#!/usr/bin/python3
"""The multi-host drill (issue 19): the system on several hosts of one machine,
callers finding user-svc's replicas through a name.

Hosts are network namespaces on one bridge (itself in a namespace of its own,
so the machine's firewall rules for bridged traffic do not apply): the
gateway, user-svc replicas 1 and 2 (3 joins later) and order-svc, each with
an address of its own; the backing servers (this drill's own instance of
scripts/servers) listen on the machine's end of the bridge. The gateway and
order-svc dial tls+tcp://user-svc:5001, and `ip netns exec` gives their hosts
/etc/netns/NAME/hosts, where user-svc has one line per replica.

Under a steady load of creates and reads of users (and creates of orders,
through order-svc's own dialer), it asserts:
  1. the load spreads over both replicas (each replica's own log of the calls
     it served, by request id);
  2. replica 1's link cut (its end of the bridge down: no FIN, no RST): only
     calls in flight on it fail, within the RPC deadline: as 503, a create
     (a user, an order) as 503 or 504 (drill_kit.FAILURES: a create whose
     answer was lost may have been done), and within a
     bound every call goes to replica 2; when the link returns, replica 1
     serves again (in its first second back it may answer 503 itself: its
     own connection to PostgreSQL, cut too, comes back after the link);
  3. a third replica, started and added to the name (a line appended to the
     hosts files), serves within the re-resolve interval (plus a margin), no
     caller restarted;
  4. nothing lost: every 201 has its row; every user has its user_created
     event logged once by order-svc;
  5. every process exits 0 on SIGTERM (leaks fail the sanitized build).

Needs root and `ip netns`: otherwise it says so and exits 77 (ctest: skipped).
Names include TEST_INSTANCE, so two checkouts' drills do not meet; whatever a
run leaves (killed at its timeout) the next run of the same instance removes
first.

Its processes, load and ledger are the failover drills' (tests/failover/drill_kit.py).

Usage: drill.py SOURCE-DIR BIN-DIR
"""
import calendar
import http.client
import json
import os
import shutil
import signal
import sys
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "failover"))
from drill_kit import (FAILURES, SKIP, WORKERS, RPC_TIMEOUT_MS, DrillFailure, Load, Procs, Servers,  # noqa: E402
                       allowed_for, check_ledger, describe, expect, registry, role_env, run, say, statuses,
                       wait_for)

RESOLVE_MS = 1000  # RPC_RESOLVE_INTERVAL_MS of the callers
# The kit's RPC_TIMEOUT_MS (5 s), the gateway's deadline, is longer than dead-link detection (~3-4 s).
PAUSE_S = 0.1  # each client's pause between requests
# Bounds (generous: a noisy 2-core machine); the measured values are printed.
CUT_BOUND_S = 8.0  # cut → the last failed call answered, every call after on the survivor
RECOVER_S = 1.0  # link back → replica 1's own connections out are back (see "recovering")
BACK_BOUND_S = 25.0  # link back → the cut replica serves again (a pending SYN backs off)
JOIN_BOUND_S = RESOLVE_MS / 1000 + 4.0  # third replica in the name → it serves

SRC, BIN = sys.argv[1], sys.argv[2]
INSTANCE = os.environ.get("SERVERS_INSTANCE") or os.environ.get("TEST_INSTANCE") or "test"
RUN_ID = f"{INSTANCE}-mh"  # the drill's instance of scripts/servers
TAG = f"{zlib.crc32(INSTANCE.encode()) & 0xFFFF:04x}"  # for interface names (15 bytes at most)
NS = {h: f"mh-{INSTANCE}-{h}" for h in ("net", "gw", "u1", "u2", "u3", "os")}
HOSTS = ("gw", "u1", "u2", "u3", "os")
WORK = os.path.join(SRC, ".run", RUN_ID, "drill")
IP = shutil.which("ip") or "/usr/sbin/ip"


def ip(*args, check=True):
    return run(IP, *args, check=check)


# ------------------------------------------------------------------ network

def pick_subnet():
    """10.213.N.0/24, N from the instance, the next one free if the machine
    already has an address or a route in it."""
    used = run("ip", "-4", "route", "show", "table", "all").stdout + run("ip", "-4", "addr").stdout
    start = zlib.crc32(INSTANCE.encode()) % 200 + 20
    for k in range(200):
        n = (start + k - 20) % 200 + 20
        if f"10.213.{n}." not in used:
            return f"10.213.{n}"
    raise DrillFailure("no free 10.213.N.0/24 subnet")


def addresses(net):
    return {"root": f"{net}.1", "gw": f"{net}.10", "u1": f"{net}.21", "u2": f"{net}.22", "u3": f"{net}.23",
            "os": f"{net}.30"}


def veth(h):  # this host's end on the bridge; the root's is mh<tag>r
    return f"mh{TAG}{h}"


def cleanup_network():
    """Everything of this instance's drill, whether or not it exists: the
    processes left in its namespaces (ours: this drill started them), the
    namespaces (their veths go with them), the hosts files."""
    for h in ("net",) + HOSTS:
        pids = ip("netns", "pids", NS[h], check=False).stdout.split()
        for p in pids:
            try:
                os.kill(int(p), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
    for h in HOSTS + ("net",):
        ip("netns", "del", NS[h], check=False)
        shutil.rmtree(f"/etc/netns/{NS[h]}", ignore_errors=True)
    ip("link", "del", f"mh{TAG}r", check=False)


def setup_network(addr):
    ip("netns", "add", NS["net"])
    ip("-n", NS["net"], "link", "add", "br0", "type", "bridge")
    ip("-n", NS["net"], "link", "set", "br0", "up")
    # The machine's end: the backing servers listen on its address.
    ip("link", "add", f"mh{TAG}r", "type", "veth", "peer", "name", "root", "netns", NS["net"])
    ip("-n", NS["net"], "link", "set", "root", "master", "br0", "up")
    ip("addr", "add", f"{addr['root']}/24", "dev", f"mh{TAG}r")
    ip("link", "set", f"mh{TAG}r", "up")
    for h in HOSTS:
        add_host(h, addr)


def add_host(h, addr):
    ns = NS[h]
    ip("netns", "add", ns)
    ip("-n", NS["net"], "link", "add", veth(h), "type", "veth", "peer", "name", "eth0", "netns", ns)
    ip("-n", NS["net"], "link", "set", veth(h), "master", "br0", "up")
    ip("-n", ns, "addr", "add", f"{addr[h]}/24", "dev", "eth0")
    ip("-n", ns, "link", "set", "eth0", "up")
    ip("-n", ns, "link", "set", "lo", "up")
    os.makedirs(f"/etc/netns/{ns}", exist_ok=True)
    # Every line of a name, not the first only (glibc reads host.conf).
    with open(f"/etc/netns/{ns}/host.conf", "w") as f:
        f.write("multi on\n")
    with open(f"/etc/netns/{ns}/hosts", "w") as f:
        f.write(f"127.0.0.1 localhost\n{addr[h]} {h}\n{addr['u1']} user-svc\n{addr['u2']} user-svc\n"
                f"{addr['os']} order-svc\n")


def resolve(h, name):
    out = run("ip", "netns", "exec", NS[h], "getent", "ahostsv4", name, check=False).stdout
    return sorted({line.split()[0] for line in out.splitlines() if line.strip()})


# ------------------------------------------------------------------ binaries and load

def on_host(h):
    """How a process runs on host h: `ip netns exec` execs the binary, whose
    pid stays the one Procs knows."""
    return [IP, "netns", "exec", NS[h]]


def listening(host, port):
    out = run(IP, "netns", "exec", NS[host], "ss", "-Hltn", f"sport = :{port}", check=False).stdout
    return out.strip() != ""


def served(name):
    """(time, request id) of each call replica NAME answered, from its log
    (LOG_FORMAT=json, LOG_LEVEL=debug: one `rpc method=...` line a call)."""
    calls = []
    try:
        with open(os.path.join(WORK, f"{name}.log"), errors="replace") as f:
            for line in f:
                if '"msg":"rpc method=users.' not in line or "/Health" in line:
                    continue
                try:
                    j = json.loads(line)
                except ValueError:
                    continue
                ts = calendar.timegm(time.strptime(j["ts"][:19], "%Y-%m-%dT%H:%M:%S"))
                calls.append((ts + int(j["ts"][20:23]) / 1000, j["request"]))
    except FileNotFoundError:
        pass
    return calls


def order_calls(records, hosts):
    """How many of the load's order creates each replica answered order-svc's call for."""
    where = {rid: h for h in hosts for _, rid in served(f"user-svc-{h}")}
    counts = {h: 0 for h in hosts}
    for r in records:
        if r[2] == "order" and where.get(r[4]) in counts:
            counts[where[r[4]]] += 1
    return counts


def first_after(name, t):
    times = [ts for ts, _ in served(name) if ts >= t]
    return min(times) if times else None


# ------------------------------------------------------------------ the drill

def drill(addr, procs, servers):
    reg = registry()
    tls = os.environ.get("RPC_TLS", "on") != "off"
    senv = servers.vars()
    scheme = "tls+tcp" if tls else "tcp"
    base = {"PATH": "/usr/bin:/bin", "REDIS_URL": senv["REDIS_URL"], "AMQP_URL": senv["AMQP_URL"],
            "REDIS_TIMEOUT_MS": "500", "OUTBOX_POLL_MS": "200", "LOG_FORMAT": "json", "WORKERS": "4"}
    for name, _, url_var, default_url, db_var, _, _ in reg:
        if db_var != "-":
            base[db_var] = senv[db_var]
        port = default_url.rsplit(":", 1)[1]
        # Callers dial by name; services other than these two are not run.
        host = name if name in ("user-svc", "order-svc") else "127.0.0.1"
        base[url_var] = f"{scheme}://{host}:{port}"

    tls_dir = senv["RPC_TLS_DIR"] if tls else ""

    def start_user(h):
        procs.start(f"user-svc-{h}", "user-svc",
                    {**base, **role_env(tls_dir, "user-svc"), "LOG_LEVEL": "debug",
                     "RPC_LISTEN_URL": f"{scheme}://0.0.0.0:5001"}, host=h)

    callers = {"RPC_RESOLVE_INTERVAL_MS": str(RESOLVE_MS), "LOG_LEVEL": "info"}
    start_user("u1")
    start_user("u2")
    procs.start("order-svc", "order-svc",
                {**base, **role_env(tls_dir, "order-svc"), **callers, "RPC_LISTEN_URL": f"{scheme}://0.0.0.0:5002"},
                host="os")
    procs.start("gateway", "gateway",
                {**base, **role_env(tls_dir, "gateway"), **callers, "GATEWAY_PORTS": "3000", "GATEWAY_BIND": "0.0.0.0",
                 "RPC_TIMEOUT_MS": str(RPC_TIMEOUT_MS)}, host="gw")
    for name, h, port in (("user-svc-u1", "u1", 5001), ("user-svc-u2", "u2", 5001), ("order-svc", "os", 5002)):
        wait_for(f"{name} listening", lambda: listening(h, port) or not procs.alive(name), 60)
        expect(procs.alive(name), f"{name} started (its log: {WORK}/{name}.log)")

    def gateway_answers():
        try:
            c = http.client.HTTPConnection(addr["gw"], 3000, timeout=2)
            c.request("GET", "/users/1")
            st = c.getresponse().status
            c.close()
            return st == 404
        except OSError:
            return False

    wait_for("the gateway answering GET /users/1 with 404", gateway_answers, 30)

    load = Load(3000, host=addr["gw"], pause=PAUSE_S)
    load.start()
    time.sleep(6)

    # 1. Spread.
    t_cut = time.time()
    u1 = [rid for ts, rid in served("user-svc-u1")]
    u2 = [rid for ts, rid in served("user-svc-u2")]
    total = len(u1) + len(u2)
    say(f"before the cut: replica 1 served {len(u1)} calls, replica 2 {len(u2)}")
    expect(total >= 40, f"the load reached user-svc ({total} calls in 6 s)")
    expect(min(len(u1), len(u2)) >= total // 4,
           f"the load spreads over both replicas: {len(u1)} / {len(u2)} calls")
    # order-svc's own dialer too (its calls carry the request id of the POST /orders).
    by_order = order_calls(load.snapshot(), ("u1", "u2"))
    expect(min(by_order.values()) > 0, f"order-svc's calls to user-svc reach both replicas: {by_order}")

    # 2. Cut replica 1's link: its end of the bridge down (no FIN, no RST).
    ip("-n", NS["net"], "link", "set", veth("u1"), "down")
    say("replica 1's link cut")
    time.sleep(CUT_BOUND_S + 1)
    t_up = time.time()
    ip("-n", NS["net"], "link", "set", veth("u1"), "up")
    say("replica 1's link back")
    recs = load.snapshot()
    failed = [r for r in recs if r[3] not in (200, 201)]
    window = [r for r in recs if t_cut - 1 <= r[0] < t_up]
    for r in failed:
        say(f"  failed: {r[2]} started at cut{r[0] - t_cut:+.2f} s, answered after {r[1] - r[0]:.2f} s: {r[3]}"
            f" request={r[4]}")
    expect(all(r[3] in allowed_for(FAILURES, r[2]) for r in failed),
           f"every failure is allowed for its kind ({describe(FAILURES)}; {len(failed)} failures: {statuses(failed)})")
    expect(all(r[1] - r[0] <= RPC_TIMEOUT_MS / 1000 + 1 for r in failed),
           "each failure answered within the deadline")
    expect(all(t_cut - RPC_TIMEOUT_MS / 1000 <= r[0] <= t_cut + CUT_BOUND_S for r in failed),
           "only calls sent around the cut failed")
    on_u2 = {rid for _, rid in served("user-svc-u2")}
    expect(not [r for r in failed if r[4] in on_u2], "no failed call was one replica 2 answered")
    expect(len(failed) <= WORKERS * 2,
           f"{len(failed)} failures, at most {WORKERS * 2} (each client has one call in flight)")
    settled = max([r[1] for r in failed] + [t_cut])
    after = [r for r in window if r[0] > settled]
    # A call in flight on replica 1 at the cut ends there at its deadline (a
    # database statement is bounded by it) and logs then, its answer lost
    # in the cut: one of the failed calls, not a call that reached it.
    in_flight = {r[4] for r in failed}
    u1_after = [ts for ts, rid in served("user-svc-u1") if ts > settled and rid not in in_flight]
    say(f"cut: {len(failed)} failed calls; the last answered {settled - t_cut:.2f} s after the cut; "
        f"then {len(after)} calls until the link came back, all on replica 2")
    expect(settled - t_cut <= CUT_BOUND_S, f"calls stop failing {settled - t_cut:.2f} s after the cut "
                                           f"(bound {CUT_BOUND_S} s)")
    expect(len(after) >= 10 and all(r[3] in (200, 201) for r in after), "every call after that succeeds")
    expect(not [t for t in u1_after if t < t_up], "no call reached replica 1 after that, while cut")

    # ... and it serves again once the link is back.
    wait_for("replica 1 serving again after its link came back",
             lambda: first_after("user-svc-u1", t_up) is not None, BACK_BOUND_S)
    t_back = first_after("user-svc-u1", t_up)
    say(f"replica 1 served again {t_back - t_up:.2f} s after its link came back")

    # 3. A third replica: started, then added to the name in both callers' hosts.
    start_user("u3")
    wait_for("replica 3 listening", lambda: listening("u3", 5001) or not procs.alive("user-svc-u3"), 60)
    expect(procs.alive("user-svc-u3"), "replica 3 started")
    # Listening is not enough: callers find it through the name only.
    time.sleep(2 * RESOLVE_MS / 1000)
    expect(first_after("user-svc-u3", 0) is None,
           f"replica 3, listening for {2 * RESOLVE_MS} ms, gets nothing before it is in the name")
    for h in ("gw", "os"):
        with open(f"/etc/netns/{NS[h]}/hosts", "a") as f:  # in place: ip netns exec bind-mounted this file
            f.write(f"{addr['u3']} user-svc\n")
    t_add = time.time()
    expect(resolve("gw", "user-svc") == sorted([addr["u1"], addr["u2"], addr["u3"]]),
           "user-svc resolves to three addresses in the gateway's host")
    wait_for("replica 3 serving", lambda: first_after("user-svc-u3", t_add) is not None, JOIN_BOUND_S)
    t_join = first_after("user-svc-u3", t_add)
    say(f"replica 3 served its first call {t_join - t_add:.2f} s after it joined the name "
        f"(re-resolve interval {RESOLVE_MS} ms)")
    time.sleep(3)
    t_end = time.time()
    load.finish()
    late = {h: len([1 for ts, _ in served(f"user-svc-{h}") if t_end - 3 <= ts <= t_end]) for h in ("u1", "u2", "u3")}
    say(f"the last 3 s: replica 1 {late['u1']}, replica 2 {late['u2']}, replica 3 {late['u3']} calls")
    expect(min(late.values()) > 0, "all three replicas serve at the end")
    by_order = order_calls([r for r in load.snapshot() if r[0] > t_join], ("u1", "u2", "u3"))
    expect(min(by_order.values()) > 0, f"order-svc's calls to user-svc reach all three replicas at the end: {by_order}")

    # 4. Nothing lost: every 201 has its row, every user (those behind a 503
    # too) its event logged once, once the relays (replica 1's held rows
    # until its link came back) have published.
    fails = check_ledger(load, procs, {"users": senv["USER_DB_URL"], "orders": senv["ORDER_DB_URL"]})
    # The cut's failures are those sent around it, and those replica 1
    # itself answers 503 in the first RECOVER_S after its link returns: its
    # own connections out (to PostgreSQL, a connect begun in the cut) come
    # back after the link, so a call that reaches it first may be told
    # "database unavailable" at once, with nothing written (the ledger
    # above checks that every 503 create has no row).
    on_u1 = {rid for _, rid in served("user-svc-u1")}
    recovering = [r for r in fails if t_up <= r[0] <= t_up + RECOVER_S and r[3] == 503 and r[4] in on_u1]
    for r in recovering:
        say(f"  replica 1 recovering: {r[2]} started at link back{r[0] - t_up:+.2f} s, answered 503 by replica 1 "
            f"after {r[1] - r[0]:.2f} s request={r[4]}")
    say(f"MEASURED: calls replica 1 answered 503 in the {RECOVER_S} s after its link came back: {len(recovering)}")
    expect(len(recovering) <= WORKERS * 2, f"at most {WORKERS * 2} calls fail while replica 1 recovers")
    expect(len(fails) == len(failed) + len(recovering), "no failure outside the cut")
    return procs


def main():
    if os.geteuid() != 0:
        print("multihost drill: SKIPPED: needs root (network namespaces, veth pairs, /etc/netns)")
        return SKIP
    if shutil.which("ip") is None or ip("netns", "list", check=False).returncode != 0:
        print("multihost drill: SKIPPED: `ip netns` is not available (iproute2)")
        return SKIP
    cleanup_network()
    probe = ip("netns", "add", NS["net"], check=False)
    if probe.returncode != 0:
        print(f"multihost drill: SKIPPED: cannot add a network namespace: {probe.stderr.strip()}")
        return SKIP
    ip("netns", "del", NS["net"])
    servers = Servers({}, run_id=RUN_ID)
    servers("destroy", check=False)
    os.makedirs(WORK, exist_ok=True)
    procs = Procs(BIN, WORK, on_host)
    status = 1
    try:
        addr = addresses(pick_subnet())
        setup_network(addr)
        say(f"hosts: {addr}")
        for h in ("gw", "os"):
            got = resolve(h, "user-svc")
            expect(got == sorted([addr["u1"], addr["u2"]]), f"user-svc resolves to both replicas in {NS[h]}: {got}")
        servers.env["SERVERS_ADDRESS"] = addr["root"]  # the backing servers listen on the bridge
        servers("start")
        say(f"backing servers on {addr['root']} (instance {RUN_ID}, port base {servers.base})")
        drill(addr, procs, servers)
        exits = procs.stop_all()
        bad = {n: s for n, s in exits.items() if s != 0}
        expect(not bad, f"every process exits 0 on SIGTERM ({bad or len(exits)})")
        status = 0
    except DrillFailure as e:
        say(f"FAIL: {e}")
    except Exception as e:  # a fault of the drill itself: still clean up
        say(f"FAIL: {type(e).__name__}: {e}")
        raise
    finally:
        procs.stop_all(5)
        if status != 0:
            for name in procs.procs:
                say(f"---- last lines of {name}.log")
                print("".join(procs.log(name).splitlines(keepends=True)[-15:]), end="")
        cleanup_network()
        servers("stop", check=False)
        say("multihost drill: done")
    if status == 0 and not procs.kept:
        servers("destroy", check=False)
    return status


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run the finally: clean up
    sys.exit(main())
