"""Failover drill, Redis through Sentinel (issue 20): a primary, a replica
and three sentinels (scripts/servers, SERVERS_REDIS_SENTINEL=1), the services
with REDIS_URL=redis-sentinel://...#cache, a steady load. Then the worst case
of asynchronous replication: the replica stops taking the stream, orders are
created (each invalidates its user's cached list), the master dies at once
(SHUTDOWN NOSAVE NOW: no wait for the replica) and Sentinel promotes the
replica, which still holds the lists those orders made stale.

Asserts: no request fails because of Redis (not even a 503) and none outlives
its deadline; no 201 without its row and event, each event logged once; no
list read after an order's 201 lacks that order (no stale read) although the
promoted replica held the stale lists; the services follow the new master
without a restart; /readyz is 503 only while the cache cannot reach a master
(it names redis) and 200 again within REDIS_BACK_S; after the old master comes
back as a replica, cached reads resume.

Usage: redis_drill.py BIN_DIR (ctest failover_redis; label failover)."""

import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import drill_kit as kit  # noqa: E402
from drill_kit import expect, say, wait_for  # noqa: E402

PROBES = 6  # users whose cached list is made stale on the replica
REDIS_BACK_S = 15  # bound: master killed -> /readyz 200 again (Sentinel needs ~1 s to see it down)
RESUME_S = 60  # bound: old master back -> cached list reads again (Sentinel converts it in ~10-20 s)


def redis(port, *args):
    r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args], capture_output=True, text=True,
                       timeout=5)
    return r.stdout.strip()


def master_port(sentinel):
    out = redis(sentinel, "sentinel", "get-master-addr-by-name", "cache").split()
    return int(out[1]) if len(out) == 2 else None


class Http:
    def __init__(self, port):
        self.port = port

    def __call__(self, method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=kit.RPC_TIMEOUT_MS / 1000 + 5)
        try:
            c.request(method, path, body=json.dumps(body) if body is not None else None,
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            data = r.read()
            return r.status, (json.loads(data) if data else None)
        finally:
            c.close()


class StaleWatch:
    """Reads each probe user's order list every 100 ms; a read begun after an
    order's 201 that lacks it is a stale read."""

    def __init__(self, http_, users):
        self.http, self.users = http_, users
        self.created = {u: {} for u in users}  # user -> {order id: time of its 201}
        self.stale, self.reads, self.failed = [], 0, []
        self.lock, self.halt = threading.Lock(), threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def order_created(self, user, order, at):
        with self.lock:
            self.created[user][order] = at

    def loop(self):
        while not self.halt.is_set():
            for u in self.users:
                t = time.time()
                with self.lock:
                    due = {o for o, at in self.created[u].items() if at < t}
                try:
                    status, body = self.http("GET", f"/orders/user/{u}")
                except OSError as e:
                    status, body = f"error: {e}", None
                self.reads += 1
                if status != 200:
                    self.failed.append((t, u, status))
                    continue
                got = {o["id"] for o in body}
                if not due <= got:
                    self.stale.append((t, u, sorted(due - got)))
            time.sleep(0.1)

    def start(self):
        self.thread.start()
        return self

    def finish(self):
        self.halt.set()
        self.thread.join(30)


def cache_stats(http_):
    """order-svc's cache hits so far, from the gateway's /metrics."""
    c = http.client.HTTPConnection("127.0.0.1", http_.port, timeout=10)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    m = re.findall(r'^service_cache_hits_total\{service="order[^"]*"[^}]*\} (\d+)', text, re.M)
    return sum(int(x) for x in m) if m else None


def body(servers, procs, stack):
    v = servers.vars()
    expect(v["REDIS_URL"].startswith("redis-sentinel://"), f"the services use {v['REDIS_URL']}")
    base = servers.base
    primary, replica, sentinel = base + 379, base + 380, base + 381
    expect(master_port(sentinel) == primary, "Sentinel names the primary as master")
    http_ = Http(stack.gateway_port)
    pids = {n: p.pid for n, p in procs.procs.items()}

    # Probe users, each with one order and its list cached (read twice: a
    # miss that fills, then a hit).
    users = []
    for i in range(PROBES):
        s, u = http_("POST", "/users", {"name": "Probe", "email": f"probe-{i}-{int(time.time() * 1000)}@example.com"})
        expect(s == 201, f"probe user {i} created")
        users.append(u["id"])
    watch_stale = StaleWatch(http_, users)
    for u in users:
        s, o = http_("POST", "/orders", {"userId": u, "product": "Before", "price": 1})
        expect(s == 201, f"user {u}: first order")
        watch_stale.order_created(u, o["id"], time.time())
        for _ in range(2):
            s, _l = http_("GET", f"/orders/user/{u}")
    keys = [f"orders:user:{u}" for u in users]
    redis(primary, "wait", "1", "2000")
    cached = [k for k in keys if redis(replica, "exists", k) == "1"]
    expect(len(cached) == PROBES, f"every probe's list is cached and on the replica ({len(cached)} of {PROBES})")

    readyz = kit.ReadyzWatch(stack).start()
    load = kit.Load(stack.gateway_port).start()
    watch_stale.start()
    time.sleep(3)

    # The replica stops taking the stream; each probe gets an order, whose
    # invalidation reaches the master only (WAIT times out: kept pending).
    # (Frozen, then cut off by the master: a frozen process's kernel still
    # takes the stream into its socket buffer.)
    servers("pause-one", "redis-replica")
    redis(primary, "client", "kill", "type", "replica")
    for u in users:
        s, o = http_("POST", "/orders", {"userId": u, "product": "After", "price": 2})
        expect(s == 201, f"user {u}: an order while the replica lags")
        watch_stale.order_created(u, o["id"], time.time())
    # (The master may hold a list again: a read after the DEL fills it with
    # the new order. The replica, frozen before the orders, cannot.)

    # The master dies before the replica got the DELs.
    t_kill = time.time()
    redis(primary, "shutdown", "nosave", "now")
    servers("resume-one", "redis-replica")
    stale_on_replica = [k for k in keys if redis(replica, "exists", k) == "1"]
    say(f"the replica still holds {len(stale_on_replica)} of {PROBES} stale lists")
    expect(len(stale_on_replica) == PROBES, "the replica missed the invalidations (the loss the cache must survive)")
    t_promoted = wait_for("Sentinel promoting the replica", lambda: master_port(sentinel) == replica, 30)
    say(f"replica promoted {t_promoted - t_kill:.1f} s after the master died")

    # The services follow: /readyz 200 again, the DELs sent again.
    t_ready = wait_for("/readyz 200 again", lambda: readyz.seen and readyz.seen[-1][0] > t_kill + 0.5
                       and readyz.seen[-1][1] == 200, REDIS_BACK_S)
    say(f"/readyz 200 again {t_ready - t_kill:.1f} s after the master died")
    t_resent = wait_for("the invalidations sent again to the new master",
                        lambda: all(redis(replica, "exists", k) == "0" for k in keys), REDIS_BACK_S)
    say(f"invalidations landed on the new master {t_resent - t_kill:.1f} s after the master died")
    time.sleep(3)

    # The old master returns; Sentinel makes it a replica of the new one;
    # the invalidations are acknowledged and cached list reads come back.
    hits0 = cache_stats(http_)
    t_back = time.time()
    servers("start-one", "redis")
    wait_for("the old master made a replica", lambda: "role:slave" in redis(primary, "info", "replication"), RESUME_S)

    def lists_cached_again():
        for u in users:
            http_("GET", f"/orders/user/{u}")
        return all(redis(replica, "exists", k) == "1" for k in keys)

    t_cached = wait_for("order lists cached again", lists_cached_again, RESUME_S, 0.5)
    say(f"order lists cached again {t_cached - t_back:.1f} s after the old master came back")
    time.sleep(2)
    hits1 = cache_stats(http_)
    expect(hits0 is not None and hits1 is not None and hits1 > hits0,
           f"order-svc serves cached lists again ({hits0} -> {hits1} hits)")

    load.finish()
    watch_stale.finish()
    readyz.finish()

    # The ledger: Redis never failed a request.
    kit.check_ledger(load, procs, {"users": v["USER_DB_URL"], "orders": v["ORDER_DB_URL"]}, allowed_failures=())
    expect(not watch_stale.failed, f"no list read failed ({watch_stale.failed[:3]})")
    expect(not watch_stale.stale, f"no stale list in {watch_stale.reads} reads of the probes' lists "
                                  f"({watch_stale.stale[:3]})")
    expect(all(procs.alive(n) and procs.procs[n].pid == p for n, p in pids.items()),
           "no service was restarted")
    # /readyz: 200 before, 503 (naming redis) only between the kill and
    # REDIS_BACK_S after it, 200 at the end.
    before = readyz.between(0, t_kill)
    down = [s for s in readyz.seen if s[1] != 200]
    expect(before and all(s[1] == 200 for s in before), f"/readyz 200 before the failover ({len(before)} polls)")
    expect(all(t_kill <= s[0] <= t_kill + REDIS_BACK_S and s[1] == 503 and "redis" in s[2] for s in down),
           f"/readyz not 200 only in the failover window, as a 503 naming redis ({len(down)} polls, "
           f"{(max(s[0] for s in down) - t_kill) if down else 0:.1f} s)")
    expect(readyz.seen[-1][1] == 200, "/readyz 200 at the end")
    say(f"MEASURED: promoted {t_promoted - t_kill:.1f} s, /readyz 200 {t_ready - t_kill:.1f} s, "
        f"invalidations re-sent {t_resent - t_kill:.1f} s after the kill; lists cached again "
        f"{t_cached - t_back:.1f} s after the old master returned; {len(load.snapshot())} requests, 0 failed")


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sys.exit(kit.run_drill("redis", {"SERVERS_REDIS_SENTINEL": "1"}, body, needs=("redis-server", "redis-cli")))
