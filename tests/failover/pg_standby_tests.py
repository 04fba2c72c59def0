#!/usr/bin/python3
"""integration_db_failover's tests that need a PostgreSQL instance of their
own, with a streaming standby after the primary (scripts/servers with
SERVERS_PG_STANDBY=1; skipped in the suite's own instance, which has no
standby and is shared):
  - each_target_session_attrs_takes_the_server_libpq_documents (issue 20):
    prefer-standby, standby and read-only must take the standby listed
    after the primary; any, primary and read-write the primary;
  - a_cut_commit_waiting_for_a_synchronous_standby_leaves_no_backend (issue
    20's second attack): sets the server's synchronous_standby_names.

Usage: pg_standby_tests.py BIN-DIR (ctest failover_pg_standby)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import drill_kit as kit  # noqa: E402
from drill_kit import expect, say  # noqa: E402

TESTS = ("each_target_session_attrs_takes_the_server_libpq_documents",
         "a_cut_commit_waiting_for_a_synchronous_standby_leaves_no_backend")


def body(servers, procs, stack):
    env = dict(os.environ, **servers.vars())
    expect(env.get("PG_STANDBY_PORT"), "scripts/servers env gives PG_STANDBY_PORT")
    for test in TESTS:
        r = kit.run(os.path.join(sys.argv[1], "integration_db_failover"), "--verbose",
                    f"--filter=db_failover/{test}", check=False, env=env)
        print(r.stdout + r.stderr, end="")
        expect(r.returncode == 0 and "Passing: 1 " in r.stdout + r.stderr, test.replace("_", " "))


if __name__ == "__main__":
    say("integration_db_failover on an instance with a standby")
    sys.exit(kit.run_drill("failover_pg_standby", {"SERVERS_PG_STANDBY": "1"}, body))
