#!/usr/bin/python3
"""The PostgreSQL primary that comes back (issue 20, the fault the outsider
attack found): a primary and its streaming standby (scripts/servers with
SERVERS_PG_STANDBY=1), the services' URLs listing both. Under a steady load
of creates and reads of users and creates of orders, the primary is stopped
for DOWN_S and started again, the standby never promoted. Before the fix, a
URL without target_session_attrs (libpq's default: any) let a reconnect take
the standby while the primary was down, and connects kept starting there
after it was back: every write answered 503 (SQLSTATE 25006) and the outbox
relay stalled until a restart. One round per form of the URL, each with its
own processes:
  - no target_session_attrs: the services add read-write (logged once at
    start, naming the variable), never take the standby, and /readyz is 503
    while the primary is down;
  - target_session_attrs=read-write: the same, without the start-up line;
  - target_session_attrs=any (kept, warned about at start): the standby is
    taken while the primary is down (its refusals are seen), and left once
    the primary is back: at most one write per connection fails then.
    Reads there may lag (404 for a user just created, and for an order of
    it), which any accepts.
Each round asserts: users and orders created again within RECOVER_BOUND_S of
the primary's start, no process restarted, every failure within the
deadline, a read's as 503, a create's as 503 or 504 (its answer lost with
the connection: the outcome is unknown; drill_kit.FAILURES, each 504
counted with its row or without), every 201 with its row and every user's
event logged by order-svc exactly once (the relay delivers again).

Usage: pg_return_drill.py BIN-DIR (ctest failover_pg_return, label failover)."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import drill_kit as kit  # noqa: E402
from drill_kit import expect, say  # noqa: E402

WARMUP_S = 3.0  # load before the fault
DOWN_S = 3.0  # the primary stopped this long
RECOVER_BOUND_S = 12.0  # primary started → first 201 (the reconnect backoff is at most 5 s)
SETTLE_S = 3.0  # first 201 → every request succeeds (read-write rounds)
AFTER_S = 4.0  # load after the recovery
CONNECTIONS = 2 * 4  # the two services' workers (WORKERS=4): each may hold the standby, with any

ROUNDS = [  # (name, query of the URLs)
    ("no target_session_attrs", ""),
    ("target_session_attrs=read-write", "?target_session_attrs=read-write"),
    ("target_session_attrs=any", "?target_session_attrs=any"),
]
DB_VARS = ("USER_DB_URL", "ORDER_DB_URL")


def with_query(url, query):
    return url.split("?", 1)[0] + query


class Logs:
    """Every round's logs of a process, as one (a user created in one round
    may have its event delivered by the next round's processes)."""

    def __init__(self):
        self.rounds = []

    def log(self, name):
        return "".join(p.log(name) for p in self.rounds)


def start_stack(servers, procs, query):
    stack = kit.Stack(servers, procs)
    for env in stack.env.values():
        for var in DB_VARS:
            if var in env:
                env[var] = with_query(env[var], query)
    stack.start()
    return stack


def wrong_server_lines(procs):
    return [m for n in ("user-svc", "order-svc")
            for m in re.findall(r"db_wrong_server [^\n]*sqlstate=25006", procs.log(n))]


def one_round(servers, procs, stack, logs, name, query):
    say(f"---- round: {name}")
    any_ = query.endswith("=any")
    pids = {n: p.pid for n, p in procs.procs.items()}
    for svc, var in (("user-svc", "USER_DB_URL"), ("order-svc", "ORDER_DB_URL")):
        text = procs.log(svc)
        added = f"db_url_session_attrs_added variable={var} hosts=2 target_session_attrs=read-write" in text
        warned = f"db_url_accepts_read_only_servers variable={var} hosts=2 target_session_attrs=any" in text
        expect((added, warned) == (query == "", any_),
               f"{svc}'s start-up line about {var} (read-write added: {added}, warned: {warned})")
    watch = kit.ReadyzWatch(stack).start()
    load = kit.Load(stack.gateway_port, tag=f"{int(kit.T0 * 1000)}-{len(logs.rounds)}").start()
    t_load = time.time()
    time.sleep(WARMUP_S)
    expect(load.ok_after(t_load, "create", 5) is not None, "the load creates users before the fault")

    t_stop, t_stopped = kit.stop_primary(servers)
    time.sleep(DOWN_S)
    t_start = time.time()
    servers("start-one", "postgres")
    say(f"primary started again ({time.time() - t_start:.2f} s)")
    seen_standby = len(wrong_server_lines(procs))

    first_create, first_order = kit.served_again(load, watch, t_start, RECOVER_BOUND_S,
                                                 "after the primary's start")
    time.sleep(AFTER_S)
    load.finish()
    watch.finish()
    t_end = time.time()

    say(f"MEASURED ({name}): primary start → first 201 create {first_create - t_start:.2f} s, "
        f"first 201 order {first_order - t_start:.2f} s")
    expect(first_create - t_start <= RECOVER_BOUND_S and first_order - t_start <= RECOVER_BOUND_S,
           f"writes served again within {RECOVER_BOUND_S} s of the primary's start, without a restart")
    expect(all(procs.alive(n) and procs.procs[n].pid == pid for n, pid in pids.items()),
           "no process was restarted")
    if any_:
        expect(seen_standby > 0, f"with any, the standby was taken while the primary was down "
                                 f"({seen_standby} writes refused as read-only)")
    else:
        expect(seen_standby == 0 and not wrong_server_lines(procs),
               "the standby was never taken (no write refused as read-only)")
        window = watch.between(t_stopped + 1.0, t_start)
        expect(window and all(s[1] == 503 for s in window),
               f"/readyz 503 while the primary is down ({len(window)} checks: "
               f"{sorted(set(str(s[1]) for s in window))})")
    later = watch.between(first_create + SETTLE_S, t_end)
    expect(later and all(s[1] == 200 for s in later),
           f"/readyz 200 from {SETTLE_S} s after the first 201 on ({len(later)} checks)")

    v = servers.vars()
    logs.rounds.append(procs)
    # With any, a read on the standby may lag the primary: after the
    # primary's restart the standby's walreceiver comes back only after its
    # retry interval (5 s), so a user just created can read as 404 there,
    # and an order for it too (order-svc asks user-svc). Stale reads are what
    # any accepts; read-write never reads from the standby.
    allowed = dict(kit.FAILURES, order=(503, 504, 404), read=(503, 404)) if any_ else kit.FAILURES
    fails = kit.check_ledger(load, logs, {"users": v["USER_DB_URL"], "orders": v["ORDER_DB_URL"]}, allowed)
    late = [r for r in fails if r[0] > first_create + SETTLE_S]
    if any_:
        # A connection that took the standby leaves it at its first write
        # after the primary is back: that write fails, once per connection.
        expect(len(late) <= CONNECTIONS,
               f"at most one write per connection failed after the primary was back ({len(late)})")
    else:
        expect(not late, f"no request sent {SETTLE_S} s after the first 201 failed ({len(late)})")
    expect(not [r for r in fails if r[1] < t_stop], "no request failed before the primary stopped")
    say(f"MEASURED ({name}): {len(load.snapshot())} requests, {len(fails)} failed ({kit.statuses(fails)}), "
        f"{len(late)} of them sent {SETTLE_S} s after the first 201")


def body(servers, procs, stack):
    logs = Logs()
    more = []
    try:
        for i, (name, query) in enumerate(ROUNDS):
            if i > 0:
                exits = procs.stop_all()
                bad = {n: s for n, s in exits.items() if s != 0}
                expect(not bad, f"every process exits 0 on SIGTERM ({bad or len(exits)})")
                procs = kit.Procs(procs.bin_dir, os.path.join(procs.work, f"round{i}"))
                os.makedirs(procs.work, exist_ok=True)
                more.append(procs)
                stack = start_stack(servers, procs, query)
            one_round(servers, procs, stack, logs, name, query)
        if more:
            exits = more[-1].stop_all()
            bad = {n: s for n, s in exits.items() if s != 0}
            expect(not bad, f"every process exits 0 on SIGTERM ({bad or len(exits)})")
    finally:
        for p in more:
            p.stop_all(5)


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    # The first round's processes are run_drill's: their URLs without a query.
    _Stack = kit.Stack

    class FirstStack(_Stack):
        def __init__(self, servers, procs, extra=None):
            super().__init__(servers, procs, extra)
            for env in self.env.values():
                for var in DB_VARS:
                    if var in env:
                        env[var] = with_query(env[var], ROUNDS[0][1])

    kit.Stack = FirstStack
    sys.exit(kit.run_drill("failover_pg_return", {"SERVERS_PG_STANDBY": "1"}, body, needs=("psql",)))
