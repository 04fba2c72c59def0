/* ATTACK (issue 20 review, h-attack): failing tests for faults found in
 * svc/db.c's statement deadline, against the real PostgreSQL. They FAIL on
 * the code they were written against (1a1ed99); label "attack", not
 * "integration", so the suite stays green until they are fixed.
 *
 * 1. A statement outside a transaction (autocommit) cut by the deadline is
 *    answered UNAVAILABLE "database too slow", but it is not rolled back:
 *    PQsendQueryPrepared/Params sent Bind/Execute/Sync together, the server
 *    runs it once the lock is free and commits it at Sync, whatever became
 *    of the client. (A 503 whose create happened: POST /orders without a
 *    key, retried, is doubled.)
 * 2. Each cut closes its connection without a cancel and the next call
 *    connects again at once: the server keeps the old backend (blocked)
 *    until statement_timeout (5 s), so short deadlines against a blocked
 *    table pile up backends until max_connections is reached. */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rpc/envelope.h" /* rpc_clock_ms */
#include "svc/db.h"

static char role[64], database[64], hosts[256], role_url[512];

static PGconn *
admin(const char *db_name)
{
	char url[512];
	snprintf(url, sizeof(url), "postgresql://postgres@%s/%s", hosts, db_name);
	PGconn *c = PQconnectdb(url);
	cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s: %s", url, PQerrorMessage(c));
	return c;
}

static void
exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
	    PQerrorMessage(c));
	PQclear(r);
}

static long
number(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
	long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return n;
}

static void
sleep_ms(long ms)
{
	struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	nanosleep(&t, NULL);
}

static void
setup(void)
{
	const char *url = getenv("PG_ADMIN_URL");
	cr_assert_not_null(url, "PG_ADMIN_URL is not set: run the tests with scripts/test");
	const char *at = strchr(url, '@'), *slash = at != NULL ? strchr(at, '/') : NULL;
	cr_assert(at != NULL && slash != NULL);
	snprintf(hosts, sizeof(hosts), "%.*s", (int) (slash - at - 1), at + 1);
	snprintf(role, sizeof(role), "db_attack_%d", (int) getpid());
	snprintf(database, sizeof(database), "db_attack_%d", (int) getpid());
	PGconn *c = admin("postgres");
	char sql[256];
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", database);
	exec_ok(c, sql);
	snprintf(sql, sizeof(sql), "DROP ROLE IF EXISTS %s", role);
	exec_ok(c, sql);
	snprintf(sql, sizeof(sql), "CREATE ROLE %s LOGIN", role);
	exec_ok(c, sql);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s OWNER %s", database, role);
	exec_ok(c, sql);
	PQfinish(c);
	c = admin(database);
	snprintf(sql, sizeof(sql), "CREATE TABLE t (x int); ALTER TABLE t OWNER TO %s", role);
	exec_ok(c, sql);
	PQfinish(c);
	snprintf(role_url, sizeof(role_url), "postgresql://%s@%s/%s", role, hosts, database);
}

static void
teardown(void)
{
	PGconn *c = admin("postgres");
	char sql[256];
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", database);
	PQclear(PQexec(c, sql));
	snprintf(sql, sizeof(sql), "DROP ROLE IF EXISTS %s", role);
	PQclear(PQexec(c, sql));
	PQfinish(c);
}

static rpc_code
insert_by(db *d, int deadline_ms, rpc_status *st)
{
	const char *params[] = {"1"};
	rpc_status_clear(st);
	db_set_deadline(d, deadline_ms > 0 ? rpc_clock_ms() + deadline_ms : 0);
	PGresult *r = db_exec(d, "INSERT INTO t VALUES ($1::int)", 1, params, PGRES_COMMAND_OK, "attack", st);
	PQclear(r);
	return r != NULL ? RPC_OK : st->code;
}

Test(db_attack, a_statement_cut_outside_a_transaction_is_not_committed_later, .init = setup, .fini = teardown)
{
	db *d = db_new(role_url);
	rpc_status st;
	cr_assert_eq(insert_by(d, 0, &st), RPC_OK, "%s", db_last_error(d)); /* prepared on this connection */
	PGconn *locker = admin(database);
	exec_ok(locker, "BEGIN");
	exec_ok(locker, "LOCK TABLE t IN ACCESS EXCLUSIVE MODE");
	cr_assert_eq(insert_by(d, 300, &st), RPC_UNAVAILABLE);
	cr_assert_str_eq(st.message, "database too slow");
	exec_ok(locker, "COMMIT");
	sleep_ms(500);
	long rows = number(locker, "SELECT count(*) FROM t");
	PQfinish(locker);
	db_free(d);
	cr_expect_eq(rows, 1, "the insert answered \"database too slow\" was committed after all (%ld rows, 1 expected)",
	    rows);
}

Test(db_attack, cut_statements_do_not_pile_up_backends_on_the_server, .init = setup, .fini = teardown)
{
	db *d = db_new(role_url);
	rpc_status st;
	cr_assert_eq(insert_by(d, 0, &st), RPC_OK, "%s", db_last_error(d));
	PGconn *locker = admin(database);
	exec_ok(locker, "BEGIN");
	exec_ok(locker, "LOCK TABLE t IN ACCESS EXCLUSIVE MODE");
	for (int i = 0; i < 20; i++)
		cr_assert_eq(insert_by(d, 50, &st), RPC_UNAVAILABLE, "call %d: %s", i, st.message);
	char sql[256];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_stat_activity WHERE usename = '%s'", role);
	long backends = number(locker, sql);
	exec_ok(locker, "COMMIT");
	PQfinish(locker);
	db_free(d);
	cr_expect_leq(backends, 2, "one db handle holds %ld server backends after 20 cut statements", backends);
}
