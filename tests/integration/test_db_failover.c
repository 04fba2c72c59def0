/* svc/db.c when the server behind a connection changes (issue 20), against
 * the real PostgreSQL: a server that cannot take writes (a standby; here a
 * role whose sessions are read-only, which answers writes with the same
 * SQLSTATE 25006) reads as UNAVAILABLE and the connection is made again;
 * a connection lost inside a transaction fails the rest of it instead of
 * running it on a new connection outside any transaction; a multi-host URL
 * skips a host that refuses, and once a host worked, later connects start
 * there instead of waiting out a dead one again. Each test has its own
 * role and database. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "svc/db.h"

static char role[64], database[64], hosts[256], role_url[512];

static void
exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
	    PQerrorMessage(c));
	PQclear(r);
}

static void
quiet(void *arg, const char *message)
{
	(void) arg;
	(void) message; /* "does not exist, skipping" */
}

static PGconn *
admin(const char *db_name)
{
	char url[512];
	snprintf(url, sizeof(url), "postgresql://postgres@%s/%s", hosts, db_name);
	PGconn *c = PQconnectdb(url);
	cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s: %s", url, PQerrorMessage(c));
	PQsetNoticeProcessor(c, quiet, NULL);
	return c;
}

static long
query_number(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
	long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return n;
}

/* A role owning a scratch database with table t; role_url reaches it
 * (the hosts of PG_ADMIN_URL, without its query: no session attributes). */
static void
setup(void)
{
	const char *url = getenv("PG_ADMIN_URL");
	cr_assert_not_null(url, "PG_ADMIN_URL is not set: run the tests with scripts/test");
	const char *at = strchr(url, '@'), *slash = at != NULL ? strchr(at, '/') : NULL;
	cr_assert(at != NULL && slash != NULL, "PG_ADMIN_URL=%s: expected postgresql://USER@HOSTS/DB", url);
	snprintf(hosts, sizeof(hosts), "%.*s", (int) (slash - at - 1), at + 1);
	snprintf(role, sizeof(role), "db_failover_%d", (int) getpid());
	snprintf(database, sizeof(database), "db_failover_%d", (int) getpid());
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
	/* The sequence moves with its table to the role. */
	snprintf(sql, sizeof(sql), "CREATE TABLE t (x int); CREATE SEQUENCE s OWNED BY t.x; ALTER TABLE t OWNER TO %s",
	    role);
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

static long
rows_in_t(void)
{
	PGconn *c = admin(database);
	long n    = query_number(c, "SELECT count(*) FROM t");
	PQfinish(c);
	return n;
}

/* Runs sql (no parameters) on d; the code, with st filled. */
static rpc_code
run(db *d, const char *sql, ExecStatusType expect, rpc_status *st)
{
	rpc_status_clear(st);
	PGresult *r = db_exec(d, sql, 0, NULL, expect, "test", st);
	PQclear(r);
	return r != NULL ? RPC_OK : st->code;
}

static void
sleep_ms(long ms)
{
	struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	nanosleep(&t, NULL);
}

/* Retries sql until it succeeds, for at most bound_ms (d's backoff after a
 * dropped connection is 100 ms, doubling). */
static rpc_code
run_until_ok(db *d, const char *sql, ExecStatusType expect, long bound_ms, rpc_status *st)
{
	for (long waited = 0;; waited += 50) {
		if (run(d, sql, expect, st) == RPC_OK || waited >= bound_ms)
			return st->code;
		sleep_ms(50);
	}
}

static void
set_read_only(bool on)
{
	PGconn *c = admin("postgres");
	char sql[256];
	snprintf(sql, sizeof(sql),
	    on ? "ALTER ROLE %s SET default_transaction_read_only = on"
	       : "ALTER ROLE %s RESET default_transaction_read_only",
	    role);
	exec_ok(c, sql);
	PQfinish(c);
}

Test(db_failover, a_server_that_cannot_take_writes_reads_as_unavailable_and_is_left, .init = setup, .fini = teardown)
{
	set_read_only(true);
	db *d = db_new(role_url);
	cr_assert_not_null(d);
	rpc_status st;
	/* Reads are served: the server answers, it just cannot write. */
	cr_assert_eq(run(d, "SELECT count(*) FROM t", PGRES_TUPLES_OK, &st), RPC_OK, "%s", st.message);
	/* Each kind of write: UNAVAILABLE (try again elsewhere), never INTERNAL,
	 * and the connection to that server is dropped. */
	const char *writes[] = {"INSERT INTO t VALUES (1)", "UPDATE t SET x = 2", "DELETE FROM t",
	    "CREATE TABLE u (y int)", "SELECT nextval('s')"};
	for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
		/* Connected again (after the backoff) to the same server. */
		cr_assert_eq(run_until_ok(d, "SELECT 1", PGRES_TUPLES_OK, 3000, &st), RPC_OK, "%s", st.message);
		cr_assert_eq(run(d, writes[i], i == 4 ? PGRES_TUPLES_OK : PGRES_COMMAND_OK, &st), RPC_UNAVAILABLE,
		    "%s: %s %s", writes[i], rpc_code_name(st.code), st.message);
		cr_assert_str_eq(st.message, "database unavailable");
		cr_assert_not(db_connected(d), "%s: the connection to a read-only server is kept", writes[i]);
	}
	/* Inside a transaction too: the rest of it is not attempted there. */
	cr_assert_eq(run_until_ok(d, "BEGIN", PGRES_COMMAND_OK, 3000, &st), RPC_OK, "%s", st.message);
	cr_assert_eq(run(d, "INSERT INTO t VALUES (1)", PGRES_COMMAND_OK, &st), RPC_UNAVAILABLE);
	cr_assert_not(db_connected(d));
	db_rollback(d);
	/* The server takes writes again (a standby promoted): the next
	 * connect, after the backoff, finds it. */
	set_read_only(false);
	cr_assert_eq(
	    run_until_ok(d, "INSERT INTO t VALUES (7)", PGRES_COMMAND_OK, 3000, &st), RPC_OK, "%s", st.message);
	cr_assert(db_connected(d));
	cr_assert_eq(rows_in_t(), 1);
	db_free(d);
}

/* pg_terminate_backend, then wait until the backend is gone (its goodbye
 * and end of stream are then on the client's socket). */
static void
terminate(int pid)
{
	PGconn *c = admin("postgres");
	char sql[256];
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)::int", pid);
	cr_assert_eq(query_number(c, sql), 1);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_stat_activity WHERE pid = %d", pid);
	for (int i = 0; i < 100 && query_number(c, sql) != 0; i++)
		sleep_ms(20);
	cr_assert_eq(query_number(c, sql), 0, "backend %d still there", pid);
	PQfinish(c);
	sleep_ms(50);
}

static int
backend_pid(db *d)
{
	rpc_status st;
	rpc_status_clear(&st);
	PGresult *r = db_exec(d, "SELECT pg_backend_pid()", 0, NULL, PGRES_TUPLES_OK, "test", &st);
	cr_assert_not_null(r, "%s", st.message);
	int pid = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return pid;
}

Test(db_failover, a_connection_lost_inside_a_transaction_fails_the_rest_of_it, .init = setup, .fini = teardown)
{
	db *d = db_new(role_url);
	cr_assert_not_null(d);
	rpc_status st;
	/* Each statement that could follow in a transaction (the server
	 * stopped, as in a failover, between two of them). */
	const char *next[]      = {"INSERT INTO t VALUES (1)", "COMMIT", "SELECT count(*) FROM t"};
	ExecStatusType expect[] = {PGRES_COMMAND_OK, PGRES_COMMAND_OK, PGRES_TUPLES_OK};
	for (size_t i = 0; i < sizeof(next) / sizeof(next[0]); i++) {
		cr_assert_eq(run(d, "BEGIN", PGRES_COMMAND_OK, &st), RPC_OK, "%s", st.message);
		cr_assert_eq(run(d, "INSERT INTO t VALUES (0)", PGRES_COMMAND_OK, &st), RPC_OK, "%s", st.message);
		terminate(backend_pid(d));
		/* Not run on a new connection in autocommit: a COMMIT there
		 * would report success for a transaction that is gone. */
		cr_assert_eq(run(d, next[i], expect[i], &st), RPC_UNAVAILABLE, "%s: %s", next[i], st.message);
		cr_assert_not(db_connected(d));
		db_rollback(d);
		cr_assert_eq(rows_in_t(), 0, "after %s", next[i]);
	}
	/* The next transaction reconnects at once and commits. */
	cr_assert_eq(run(d, "BEGIN", PGRES_COMMAND_OK, &st), RPC_OK, "%s", st.message);
	cr_assert_eq(run(d, "INSERT INTO t VALUES (2)", PGRES_COMMAND_OK, &st), RPC_OK, "%s", st.message);
	cr_assert_eq(run(d, "COMMIT", PGRES_COMMAND_OK, &st), RPC_OK, "%s", st.message);
	cr_assert_eq(rows_in_t(), 1);
	/* Outside a transaction, a connection the server closed is replaced
	 * before the statement, which succeeds. */
	terminate(backend_pid(d));
	cr_assert_eq(run(d, "INSERT INTO t VALUES (3)", PGRES_COMMAND_OK, &st), RPC_OK, "%s", st.message);
	cr_assert_eq(rows_in_t(), 2);
	db_free(d);
}

Test(db_failover, a_multi_host_url_skips_a_host_that_refuses, .init = setup, .fini = teardown)
{
	/* Port 1 on loopback: nothing listens, the connect is refused at once. */
	char url[600];
	snprintf(url, sizeof(url), "postgresql://%s@127.0.0.1:1,%s/%s?target_session_attrs=read-write", role, hosts,
	    database);
	char err[256];
	cr_assert_eq(db_check_conninfo(url, err, sizeof(err)), 0, "%s", err);
	db *d = db_new(url);
	rpc_status st;
	cr_assert_eq(run(d, "INSERT INTO t VALUES (1)", PGRES_COMMAND_OK, &st), RPC_OK, "%s", st.message);
	db_free(d);
	/* Every host read-only: libpq refuses each (target_session_attrs), so
	 * nothing connects, and that is UNAVAILABLE. */
	set_read_only(true);
	d = db_new(url);
	cr_assert_eq(run(d, "SELECT 1", PGRES_TUPLES_OK, &st), RPC_UNAVAILABLE, "%s", st.message);
	db_free(d);
	cr_assert_eq(rows_in_t(), 1);
}

/* A dead host: its port takes connections (the kernel's backlog) but
 * nothing ever answers, as a machine that hangs. */
static int
dead_listener(int *port)
{
	int fd               = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	cr_assert(fd >= 0 && bind(fd, (struct sockaddr *) &a, sizeof(a)) == 0 && listen(fd, 16) == 0);
	socklen_t len = sizeof(a);
	cr_assert_eq(getsockname(fd, (struct sockaddr *) &a, &len), 0);
	*port = ntohs(a.sin_port);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* How many connections reached the dead host since the last call. */
static int
reached(int fd)
{
	int n = 0, c;
	while ((c = accept(fd, NULL, NULL)) >= 0) {
		close(c);
		n++;
	}
	return n;
}

Test(db_failover, connects_start_at_the_host_that_last_took_one, .init = setup, .fini = teardown)
{
	int port, fd = dead_listener(&port);
	char url[600];
	snprintf(url, sizeof(url), "postgresql://%s@127.0.0.1:%d,%s/%s?target_session_attrs=read-write", role, port,
	    hosts, database);
	rpc_status st;
	/* The first connect of the process tries the hosts in written order:
	 * the dead one costs its connect_timeout (2 s), then the next works. */
	db *a = db_new(url);
	cr_assert_eq(run(a, "INSERT INTO t VALUES (1)", PGRES_COMMAND_OK, &st), RPC_OK, "%s", st.message);
	cr_assert_eq(reached(fd), 1, "the dead host was tried first");
	/* Another handle of the process, and a reconnect after the server
	 * closed the connection, start at the host that worked. */
	db *b = db_new(url);
	cr_assert_eq(run(b, "INSERT INTO t VALUES (2)", PGRES_COMMAND_OK, &st), RPC_OK, "%s", st.message);
	terminate(backend_pid(a));
	cr_assert_eq(run(a, "INSERT INTO t VALUES (3)", PGRES_COMMAND_OK, &st), RPC_OK, "%s", st.message);
	cr_assert_eq(reached(fd), 0, "the dead host was tried again");
	cr_assert_eq(rows_in_t(), 3);
	/* The working host gone (every host refused now), the next connect
	 * still goes through the whole list, the dead host included. */
	set_read_only(true);
	terminate(backend_pid(b));
	cr_assert_eq(run_until_ok(b, "SELECT 1", PGRES_TUPLES_OK, 0, &st), RPC_UNAVAILABLE, "%s", st.message);
	cr_assert_eq(reached(fd), 1, "the other hosts were not tried");
	db_free(a);
	db_free(b);
	close(fd);
}

static void *
writable_after_a_second(void *arg)
{
	(void) arg;
	sleep_ms(1000);
	set_read_only(false);
	return NULL;
}

/* A service starting while its URL reaches only a server that cannot take
 * writes (the standby, before its promotion) waits for one that can, as it
 * waits for PostgreSQL to come up, instead of exiting on a failed
 * migration. */
Test(db_failover, start_up_waits_through_a_read_only_server, .init = setup, .fini = teardown)
{
	static const db_migration migrations[] = {{"001_test", "CREATE TABLE migrated (x int)"}};
	set_read_only(true);
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, writable_after_a_second, NULL), 0);
	cr_assert_eq(db_migrate_at_start(role_url, 42, migrations, 1, 20), 0, "the migration waited and ran");
	pthread_join(t, NULL);
	PGconn *c = admin(database);
	cr_assert_eq(query_number(c, "SELECT count(*) FROM schema_migrations WHERE name = '001_test'"), 1);
	PQfinish(c);
}
