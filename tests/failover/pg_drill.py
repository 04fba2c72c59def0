#!/usr/bin/python3
"""The PostgreSQL failover drill (issue 20): a primary and its streaming
standby (scripts/servers with SERVERS_PG_STANDBY=1); the services' URLs list
both with target_session_attrs=read-write. Under a steady load of creates
and reads of users and creates of orders, the primary is stopped (a fast
shutdown: sessions are ended, the WAL written so far reaches the standby),
and after PROMOTE_AFTER_S (the time a platform takes to decide) the standby
is promoted. Asserts:
  1. while no server takes writes, /readyz says 503, and requests fail
     within their deadline (none hangs): reads as 503, creates as 503 (not
     done) or 504 (their answer lost with the connection: the outcome is
     unknown; drill_kit.FAILURES), each 504 counted with its row or without;
  2. the services reach the promoted standby without a restart: the first
     201 create and the first 201 order within RECOVER_BOUND_S of the
     promotion, /readyz 200 again, and no request sent later than
     SETTLE_S after that first 201 fails;
  3. nothing lost: every 201 user and order has its row on the new primary;
     every user's user_created event (a 504's user with a row too) is
     logged by order-svc exactly once;
  4. every process exits 0 on SIGTERM.
Measured and printed: primary stop → first 201 on the new primary, the
promotion → first 201, how many requests failed (503, 504), and how many
504 creates ended with their row and how many without.

Usage: pg_drill.py BIN-DIR (ctest failover_pg, label failover)."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import drill_kit as kit  # noqa: E402
from drill_kit import expect, say  # noqa: E402

WARMUP_S = 4.0  # load before the fault
PROMOTE_AFTER_S = 2.0  # primary stopped → standby promoted
RECOVER_BOUND_S = 12.0  # promotion → first 201 (the reconnect backoff is at most 5 s)
SETTLE_S = 3.0  # first 201 → every request succeeds
AFTER_S = 5.0  # load after the recovery


def check_servers(servers):
    """What SERVERS_PG_STANDBY=1 gives scripts/servers, before the fault."""
    v = servers.vars()
    hosts = f"127.0.0.1:{servers.base + 432},127.0.0.1:{servers.base + 433}"
    expect(all(hosts in v[k] and v[k].endswith("?target_session_attrs=read-write")
               for k in ("USER_DB_URL", "ORDER_DB_URL", "PG_ADMIN_URL")),
           f"env prints both hosts with target_session_attrs=read-write ({v['USER_DB_URL'].split('@')[1]})")
    status = servers("status").stdout
    expect(re.search(r"^postgres-standby +running", status, re.M), "status lists postgres-standby running")
    standby = f"postgresql://postgres@127.0.0.1:{servers.base + 433}/postgres"
    state = kit.run("psql", "-X", "-At", standby, "-c",
                    "select pg_is_in_recovery(), (select status from pg_stat_wal_receiver)").stdout.strip()
    expect(state == "t|streaming", f"the standby streams from the primary ({state})")
    r = servers("promote-one", "redis", check=False)
    expect(r.returncode == 2 and "only postgres-standby can be promoted" in r.stderr,
           "promote-one refuses a server that cannot be promoted")
    bad = kit.run(os.path.join(kit.SRC, "scripts", "servers"), "env", kit.RUN_ID, check=False,
                  env=dict(servers.env, SERVERS_PG_STANDBY="yes"))
    expect(bad.returncode != 0 and "SERVERS_PG_STANDBY='yes'" in bad.stderr,
           "a bad SERVERS_PG_STANDBY is refused, naming it")


def body(servers, procs, stack):
    check_servers(servers)
    pids = {n: p.pid for n, p in procs.procs.items()}
    watch = kit.ReadyzWatch(stack).start()
    load = kit.Load(stack.gateway_port).start()
    t_load = time.time()
    time.sleep(WARMUP_S)
    expect(load.ok_after(t_load, "create", 5) is not None, "the load creates users before the fault")

    t_stop, t_stopped = kit.stop_primary(servers)
    time.sleep(PROMOTE_AFTER_S)
    t_promote = time.time()
    servers("promote-one", "postgres-standby")
    say(f"standby promoted ({time.time() - t_promote:.2f} s)")

    first_create, first_order = kit.served_again(load, watch, t_promote, RECOVER_BOUND_S, "on the new primary")
    time.sleep(AFTER_S)
    load.finish()
    watch.finish()
    t_end = time.time()

    say(f"MEASURED: primary stop → first 201 create on the new primary {first_create - t_stop:.2f} s; "
        f"promotion → first 201 create {first_create - t_promote:.2f} s, first 201 order "
        f"{first_order - t_promote:.2f} s")
    expect(first_create - t_promote <= RECOVER_BOUND_S,
           f"users served again within {RECOVER_BOUND_S} s of the promotion ({first_create - t_promote:.2f} s)")
    expect(first_order - t_promote <= RECOVER_BOUND_S,
           f"orders served again within {RECOVER_BOUND_S} s of the promotion ({first_order - t_promote:.2f} s)")
    expect(all(procs.alive(n) and procs.procs[n].pid == pid for n, pid in pids.items()),
           "no process was restarted")

    # /readyz: truthful through the window. A check answered from a second
    # after the primary's stop until the promotion found no writable server.
    window = watch.between(t_stopped + 1.0, t_promote)
    expect(window and all(s[1] == 503 for s in window),
           f"/readyz 503 while no server takes writes ({len(window)} checks: "
           f"{sorted(set(str(s[1]) for s in window))})")
    later = watch.between(first_create + SETTLE_S, t_end)
    expect(later and all(s[1] == 200 for s in later),
           f"/readyz 200 from {SETTLE_S} s after the first 201 on ({len(later)} checks: "
           f"{sorted(set(str(s[1]) for s in later))})")

    v = servers.vars()
    fails = kit.check_ledger(load, procs, {"users": v["USER_DB_URL"], "orders": v["ORDER_DB_URL"]})
    late = [r for r in fails if r[0] > first_create + SETTLE_S]
    expect(not late, f"no request sent {SETTLE_S} s after the first 201 failed ({len(late)})")
    early = [r for r in fails if r[1] < t_stop]
    expect(not early, f"no request failed before the primary stopped ({len(early)})")
    recs = load.snapshot()
    say(f"MEASURED: {len(recs)} requests, {len(fails)} failed ({kit.statuses(fails)}), all between the stop and "
        f"{max((r[1] for r in fails), default=t_stop) - t_stop:.2f} s after it")


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sys.exit(kit.run_drill("failover_pg", {"SERVERS_PG_STANDBY": "1"}, body, needs=("psql",)))
