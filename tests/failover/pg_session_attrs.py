#!/usr/bin/python3
"""target_session_attrs against a real streaming standby (issue 20): runs
integration_db_failover's test each_target_session_attrs_takes_the_server_
libpq_documents (skipped in the suite's own instance, which has no standby)
on an instance with SERVERS_PG_STANDBY=1: prefer-standby, standby and
read-only must take the standby listed after the primary; any, primary and
read-write the primary.

Usage: pg_session_attrs.py BIN-DIR (ctest failover_pg_session_attrs)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import drill_kit as kit  # noqa: E402
from drill_kit import expect, say  # noqa: E402


def body(servers, procs, stack):
    env = dict(os.environ, **servers.vars())
    expect(env.get("PG_STANDBY_PORT"), "scripts/servers env gives PG_STANDBY_PORT")
    r = kit.run(os.path.join(sys.argv[1], "integration_db_failover"), "--verbose",
                "--filter=db_failover/each_target_session_attrs_takes_the_server_libpq_documents",
                check=False, env=env)
    print(r.stdout + r.stderr, end="")
    expect(r.returncode == 0 and "Passing: 1 " in r.stdout + r.stderr,
           "each target_session_attrs takes the server libpq documents")


if __name__ == "__main__":
    sys.exit(kit.run_drill("failover_pg_session_attrs", {"SERVERS_PG_STANDBY": "1"}, body))
