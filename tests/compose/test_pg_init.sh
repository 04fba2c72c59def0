#!/usr/bin/env bash
# compose/postgres/init-databases.sh against a real, empty PostgreSQL 15
# cluster of its own (ctest -L compose), the way the postgres image runs it
# on a first start: each service's role logs in with its password over TCP,
# owns its database and can create tables there, and cannot connect to the
# other service's database.
# Usage: test_pg_init.sh SOURCE-DIR     (as root: PostgreSQL runs as postgres)
set -euo pipefail

script=$(cd "$1" && pwd)/compose/postgres/init-databases.sh
pg=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
[ -x "$pg/postgres" ] || { echo "FAIL: PostgreSQL server binaries missing (scripts/bootstrap test)" >&2; exit 1; }

dir=$(mktemp -d /tmp/pg-init.XXXXXX)
chmod 755 "$dir"
pid=""
cleanup() {
	# SIGINT to the postmaster (runuser does not pass it on): PostgreSQL's
	# fast shutdown; then wait for runuser, so nothing outlives us.
	local pm
	pm=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null) || pm=""
	[ -z "$pm" ] || kill -INT "$pm" 2>/dev/null || true
	[ -z "$pid" ] || wait "$pid" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

# A port no socket uses, below the ephemeral range and away from the
# PORT_BASE ranges scripts/servers uses.
port=""
for p in $(shuf -i 20000-24999 -n 20); do
	if [ -z "$(ss -Htan "sport = :$p")" ]; then port=$p; break; fi
done
[ -n "$port" ] || { echo "FAIL: no free port" >&2; exit 1; }

# As the image does: trust on the socket, passwords (SCRAM) over TCP.
mkdir "$dir/data" "$dir/sock"
chown postgres: "$dir/data" "$dir/sock"
runuser -u postgres -- "$pg/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
	>"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
runuser -u postgres -- "$pg/postgres" -D "$dir/data" -k "$dir/sock" -p "$port" -c listen_addresses=127.0.0.1 \
	>"$dir/postgres.log" 2>&1 &
pid=$!
for _ in $(seq 200); do
	"$pg/pg_isready" -q -h 127.0.0.1 -p "$port" && break
	kill -0 "$pid" 2>/dev/null || { cat "$dir/postgres.log" >&2; exit 1; }
	sleep 0.05
done

# A password missing: refused naming it, before anything is created.
if out=$(PGHOST=$dir/sock PGPORT=$port POSTGRES_USER=postgres USER_DB_PASSWORD=x bash "$script" 2>&1); then
	echo "FAIL: $script ran without ORDER_DB_PASSWORD" >&2; exit 1
fi
[[ $out == *"ORDER_DB_PASSWORD (the password of order-svc's role) is not set"* ]] ||
	{ echo "FAIL: the missing password is not named: $out" >&2; exit 1; }

# The init script, with the variables the compose file gives the image.
PGHOST=$dir/sock PGPORT=$port POSTGRES_USER=postgres USER_DB_PASSWORD='u s"er' ORDER_DB_PASSWORD="o'rder" \
	bash "$script" || { echo "FAIL: $script failed" >&2; exit 1; }

sql() { # sql ROLE PASSWORD DB QUERY: one statement over TCP with a password
	PGPASSWORD=$2 "$pg/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U "$1" -d "$3" -c "$4" 2>&1
}
fail=0
expect_ok() {
	local out
	out=$(sql "$@") && echo "ok: $1 on $3: $4" || { echo "FAIL: $1 on $3: $4: $out"; fail=1; }
}
expect_refused() {
	local out
	out=$(sql "$@") && { echo "FAIL: $1 could connect to $3"; fail=1; } || echo "ok: $1 refused on $3 (${out##*FATAL:  })"
}
expect_ok user_svc 'u s"er' user_db "CREATE TABLE t (id int); DROP TABLE t"
expect_ok order_svc "o'rder" order_db "CREATE TABLE t (id int); DROP TABLE t"
expect_refused order_svc "o'rder" user_db "SELECT 1"
expect_refused user_svc 'u s"er' order_db "SELECT 1"
expect_refused user_svc wrong user_db "SELECT 1"
exit "$fail"
