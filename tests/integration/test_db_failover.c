/* svc/db.c when the server behind a connection changes (issue 20), against
 * the real PostgreSQL: a server that cannot take writes (a standby; here a
 * role whose sessions are read-only, which answers writes with the same
 * SQLSTATE 25006) reads as UNAVAILABLE and the connection is made again;
 * a connection lost inside a transaction fails the rest of it instead of
 * running it on a new connection outside any transaction; a multi-host URL
 * skips a host that refuses, and once a host worked, later connects start
 * there instead of waiting out a dead one again. Each test has its own
 * role and database. */
#define _GNU_SOURCE /* unshare, CLONE_NEWNS */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rpc/envelope.h" /* rpc_clock_ms */
#include "svc/db.h"
#include "tcp_proxy.h"

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
	/* With any (chosen: kept), a read-only server is taken at connect. */
	char url[600];
	snprintf(url, sizeof(url), "%s?target_session_attrs=any", role_url);
	db *d = db_new(url);
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

/* hosts ("h1:p1,h2:p2") as libpq's separate host and port lists. */
static void
host_and_port_lists(char *host_list, char *port_list, size_t len)
{
	host_list[0] = port_list[0] = '\0';
	for (const char *p = hosts; *p != '\0';) {
		size_t n = strcspn(p, ","), colon = strcspn(p, ":");
		cr_assert_lt(colon, n, "%s: expected host:port pairs", hosts);
		snprintf(host_list + strlen(host_list), len - strlen(host_list), "%s%.*s", host_list[0] ? "," : "",
		    (int) colon, p);
		snprintf(port_list + strlen(port_list), len - strlen(port_list), "%s%.*s", port_list[0] ? "," : "",
		    (int) (n - colon - 1), p + colon + 1);
		p += n + (p[n] == ',');
	}
}

/* Issue 20, the outsider attack: read-write was added only when the URL
 * itself listed several hosts. The hosts given another way (PGHOST and
 * PGPORT, a service file's host= and port=, or one host in the URL) got
 * libpq's default any: with the primary down a connect took the standby,
 * every write failed, and Health said postgres connected. Now every connect
 * asks for read-write unless a value was chosen, so a server that cannot
 * take writes (here: twice the same one, with a read-only role) is refused
 * at connect, with libpq's reason, db_ping (Health) says so, and the first
 * connect after it takes writes again succeeds. */
Test(
    db_failover, a_read_only_server_is_refused_at_connect_wherever_the_hosts_come_from, .init = setup, .fini = teardown)
{
	char host_list[256], port_list[256], twice_host[600], twice_port[600];
	host_and_port_lists(host_list, port_list, sizeof(host_list));
	snprintf(twice_host, sizeof(twice_host), "%s,%s", host_list, host_list);
	snprintf(twice_port, sizeof(twice_port), "%s,%s", port_list, port_list);
	char service_path[] = "/tmp/pg-service-XXXXXX";
	int fd              = mkstemp(service_path);
	cr_assert(fd >= 0);
	char section[1024];
	int len = snprintf(section, sizeof(section), "[atkusers]\nhost=%s\nport=%s\ndbname=%s\nuser=%s\n", twice_host,
	    twice_port, database, role);
	cr_assert_eq(write(fd, section, (size_t) len), len);
	close(fd);
	char env_url[256];
	snprintf(env_url, sizeof(env_url), "postgresql://%s@/%s", role, database);
	static const char *const forms[] = {"PGHOST and PGPORT", "service file", "PGSERVICE", "one host"};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		const char *url = i == 0 ? env_url : i == 1 ? "service=atkusers" : i == 2 ? "dbname=" : role_url;
		char dbname_url[128];
		if (i == 2) {
			snprintf(dbname_url, sizeof(dbname_url), "dbname=%s", database);
			url = dbname_url;
		}
		if (i == 0) {
			setenv("PGHOST", twice_host, 1);
			setenv("PGPORT", twice_port, 1);
		}
		if (i == 1 || i == 2)
			setenv("PGSERVICEFILE", service_path, 1);
		if (i == 2)
			setenv("PGSERVICE", "atkusers", 1);
		char err[256];
		cr_assert_eq(db_check_conninfo(url, err, sizeof(err)), 0, "%s: %s", forms[i], err);
		cr_assert_eq(db_check_environment("T_DB_URL", url, err, sizeof(err)), 0, "%s: %s", forms[i], err);
		set_read_only(true);
		db *d = db_new(url);
		rpc_status st;
		cr_assert_eq(run(d, "SELECT count(*) FROM t", PGRES_TUPLES_OK, &st), RPC_UNAVAILABLE,
		    "%s: a read-only server was taken", forms[i]);
		cr_assert_not(db_connected(d), "%s", forms[i]);
		cr_assert_not_null(
		    strstr(db_last_error(d), "session is read-only"), "%s: %s", forms[i], db_last_error(d));
		cr_assert_eq(db_ping(d, &st), RPC_UNAVAILABLE, "%s: Health would say connected", forms[i]);
		set_read_only(false);
		cr_assert_eq(run_until_ok(d, "INSERT INTO t VALUES (1)", PGRES_COMMAND_OK, 3000, &st), RPC_OK, "%s: %s",
		    forms[i], st.message);
		cr_assert_eq(db_ping(d, &st), RPC_OK, "%s: %s", forms[i], st.message);
		db_free(d);
		unsetenv("PGHOST");
		unsetenv("PGPORT");
		unsetenv("PGSERVICEFILE");
		unsetenv("PGSERVICE");
		cr_assert_eq(rows_in_t(), (long) i + 1, "%s", forms[i]);
	}
	unlink(service_path);
}

/* A value chosen is kept: with any, a read-only server is taken, and
 * db_ping (Health) says it takes no writes instead of "connected"; so does
 * a service file's any (explicit values override the service file's, so
 * nothing is added over it). */
Test(db_failover, a_read_only_server_taken_with_any_is_not_reported_healthy, .init = setup, .fini = teardown)
{
	char service_path[] = "/tmp/pg-service-XXXXXX";
	int fd              = mkstemp(service_path);
	cr_assert(fd >= 0);
	char section[1024];
	int len = snprintf(section, sizeof(section), "[anyusers]\ntarget_session_attrs=any\n");
	cr_assert_eq(write(fd, section, (size_t) len), len);
	close(fd);
	setenv("PGSERVICEFILE", service_path, 1);
	char urls[2][700];
	snprintf(urls[0], sizeof(urls[0]), "%s?target_session_attrs=any", role_url);
	snprintf(urls[1], sizeof(urls[1]), "%s?service=anyusers", role_url);
	set_read_only(true);
	for (int i = 0; i < 2; i++) {
		db *d = db_new(urls[i]);
		rpc_status st;
		cr_assert_eq(db_ping(d, &st), RPC_UNAVAILABLE, "%s: a read-only server reads as healthy", urls[i]);
		cr_assert(db_connected(d), "%s: the read-only server was not taken", urls[i]);
		cr_assert_not_null(
		    strstr(db_last_error(d), "default_transaction_read_only=on"), "%s: %s", urls[i], db_last_error(d));
		db_free(d);
	}
	set_read_only(false);
	db *d = db_new(urls[0]);
	rpc_status st;
	cr_assert_eq(db_ping(d, &st), RPC_OK, "%s", st.message);
	db_free(d);
	unsetenv("PGSERVICEFILE");
	unlink(service_path);
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

/* Issue 20's fault found later: with several hosts and libpq's default
 * target_session_attrs=any, a connect taken by a standby while the primary
 * was down stayed there (the host that last worked was tried first) and
 * every write failed with 25006 until a restart. Here the same server is
 * written twice, as two hosts, with a role whose sessions are read-only:
 * without target_session_attrs, db adds read-write, so no connect takes a
 * server that cannot write (reads are not served from it either), and the
 * first connect after it takes writes again succeeds. */
Test(db_failover, several_hosts_without_session_attrs_take_only_a_server_that_takes_writes, .init = setup,
    .fini = teardown)
{
	char url[1024];
	snprintf(url, sizeof(url), "postgresql://%s@%s,%s/%s", role, hosts, hosts, database);
	char err[256];
	cr_assert_eq(db_check_conninfo(url, err, sizeof(err)), 0, "%s", err);
	set_read_only(true);
	db *d = db_new(url);
	rpc_status st;
	cr_assert_eq(run(d, "SELECT count(*) FROM t", PGRES_TUPLES_OK, &st), RPC_UNAVAILABLE,
	    "a multi-host URL without target_session_attrs took a read-only server");
	cr_assert_not(db_connected(d));
	set_read_only(false);
	cr_assert_eq(
	    run_until_ok(d, "INSERT INTO t VALUES (1)", PGRES_COMMAND_OK, 3000, &st), RPC_OK, "%s", st.message);
	db_free(d);
	/* A value the URL gives is kept: with any, the read-only server is
	 * taken (and writes there are UNAVAILABLE, as on one host). */
	snprintf(url, sizeof(url), "postgresql://%s@%s,%s/%s?target_session_attrs=any", role, hosts, hosts, database);
	set_read_only(true);
	d = db_new(url);
	cr_assert_eq(run(d, "SELECT count(*) FROM t", PGRES_TUPLES_OK, &st), RPC_OK, "%s", st.message);
	cr_assert_eq(run(d, "INSERT INTO t VALUES (2)", PGRES_COMMAND_OK, &st), RPC_UNAVAILABLE, "%s", st.message);
	db_free(d);
	cr_assert_eq(rows_in_t(), 1);
}

/* With a target_session_attrs that takes a server without writes (any),
 * the host that last worked may be a standby: connects do not start there,
 * but at the URL's first host each time (here a dead one, tried again). */
Test(
    db_failover, without_read_write_connects_do_not_start_at_the_host_that_last_worked, .init = setup, .fini = teardown)
{
	int port, fd = dead_listener(&port);
	char url[1024];
	snprintf(url, sizeof(url), "postgresql://%s@127.0.0.1:%d,%s/%s?target_session_attrs=any", role, port, hosts,
	    database);
	rpc_status st;
	db *a = db_new(url);
	cr_assert_eq(run(a, "INSERT INTO t VALUES (1)", PGRES_COMMAND_OK, &st), RPC_OK, "%s", st.message);
	cr_assert_eq(reached(fd), 1, "the dead host was tried first");
	db *b = db_new(url);
	cr_assert_eq(run(b, "INSERT INTO t VALUES (2)", PGRES_COMMAND_OK, &st), RPC_OK, "%s", st.message);
	cr_assert_eq(reached(fd), 1, "the host that last worked was tried first, with target_session_attrs=any");
	db_free(a);
	db_free(b);
	close(fd);
	cr_assert_eq(rows_in_t(), 2);
}

/* A server that refused a write as read-only (25006: a primary demoted, a
 * name that moved) is no longer the host to start at: the connection is
 * dropped and the next connect goes through the list from its start. */
Test(db_failover, a_read_only_refusal_forgets_the_host_that_last_worked, .init = setup, .fini = teardown)
{
	int port, fd = dead_listener(&port);
	char url[1024];
	snprintf(url, sizeof(url), "postgresql://%s@127.0.0.1:%d,%s/%s?target_session_attrs=read-write", role, port,
	    hosts, database);
	rpc_status st;
	db *a = db_new(url);
	cr_assert_eq(run(a, "INSERT INTO t VALUES (1)", PGRES_COMMAND_OK, &st), RPC_OK, "%s", st.message);
	cr_assert_eq(reached(fd), 1, "the dead host was tried first");
	db *b = db_new(url);
	cr_assert_eq(run(b, "INSERT INTO t VALUES (2)", PGRES_COMMAND_OK, &st), RPC_OK, "%s", st.message);
	cr_assert_eq(reached(fd), 0, "the host that last worked was not tried first");
	/* b's session turns read-only, as a server that stopped taking writes. */
	cr_assert_eq(run(b, "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", PGRES_COMMAND_OK, &st), RPC_OK,
	    "%s", st.message);
	cr_assert_eq(run(b, "INSERT INTO t VALUES (3)", PGRES_COMMAND_OK, &st), RPC_UNAVAILABLE, "%s", st.message);
	cr_assert_not(db_connected(b), "the connection to a read-only server is kept");
	/* The next connect (after the 100 ms backoff) starts at the first host. */
	cr_assert_eq(
	    run_until_ok(b, "INSERT INTO t VALUES (4)", PGRES_COMMAND_OK, 3000, &st), RPC_OK, "%s", st.message);
	cr_assert_eq(reached(fd), 1, "the list was not gone through from its start");
	db_free(a);
	db_free(b);
	close(fd);
	cr_assert_eq(rows_in_t(), 3);
}

static void
setup_and_capture_stderr(void)
{
	setup();
	cr_redirect_stderr();
}

/* With several hosts, a failed connect's reason is every host's (libpq
 * writes one line or two per host), joined with "; " and bounded. */
Test(db_failover, a_failed_connect_reports_every_hosts_reason, .init = setup_and_capture_stderr, .fini = teardown)
{
	static const db_migration none[] = {{"001_none", "SELECT 1"}};
	/* Ports 1 and 2 on loopback refuse at once; a third host that is read-only. */
	set_read_only(true);
	char url[1024];
	snprintf(url, sizeof(url), "postgresql://%s@127.0.0.1:1,127.0.0.1:2,%s/%s", role, hosts, database);
	cr_assert_eq(db_migrate_at_start(url, 42, none, 1, 1), -1);
	/* Many hosts: the reason is cut, not the line lost. */
	char many[2048] = "";
	size_t used     = (size_t) snprintf(many, sizeof(many), "postgresql://%s@", role);
	for (int i = 1; i <= 30; i++)
		used += (size_t) snprintf(many + used, sizeof(many) - used, "%s127.0.0.1:%d", i > 1 ? "," : "", i);
	snprintf(many + used, sizeof(many) - used, "/%s", database);
	cr_assert_eq(db_migrate_at_start(many, 42, none, 1, 1), -1);
	fflush(stderr);
	FILE *f = cr_get_redirected_stderr();
	char line[8192];
	int gave_up = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, "db_wait_gave_up") == NULL)
			continue;
		gave_up++;
		const char *reason = strstr(line, "reason=\"");
		cr_assert_not_null(reason, "%s", line);
		if (gave_up == 1) {
			cr_assert_not_null(strstr(reason, "port 1 failed: Connection refused"), "%s", line);
			cr_assert_not_null(
			    strstr(reason, "; connection to server at \\\"127.0.0.1\\\", port 2 failed"), "%s", line);
			cr_assert_not_null(strstr(reason, "session is read-only"), "%s", line);
			cr_assert_null(strchr(reason, '\t'), "%s", line);
		} else {
			cr_assert_not_null(strstr(reason, "port 1 failed"), "%s", line);
			cr_assert_not_null(strstr(reason, "...\""), "a cut reason ends with ...: %s", line);
			cr_assert_lt(strlen(reason), 1100, "%s", line);
		}
	}
	cr_assert_eq(gave_up, 2);
}

/* A host that drops every connection attempt unanswered (a machine gone,
 * a firewall that drops SYNs): a listener whose backlog is full, so the
 * kernel ignores further SYNs. *fill holds the connections that filled it. */
static int
full_listener(int *port, int fill[8])
{
	int fd               = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	cr_assert(fd >= 0 && bind(fd, (struct sockaddr *) &a, sizeof(a)) == 0 && listen(fd, 0) == 0);
	socklen_t len = sizeof(a);
	cr_assert_eq(getsockname(fd, (struct sockaddr *) &a, &len), 0);
	*port = ntohs(a.sin_port);
	for (int i = 0; i < 8; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		cr_assert(fill[i] >= 0);
		connect(fill[i], (struct sockaddr *) &a, sizeof(a));
		struct pollfd p = {.fd = fill[i], .events = POLLOUT};
		if (poll(&p, 1, 300) == 0) {
			/* This one hangs: the backlog is full. */
			for (int j = i + 1; j < 8; j++)
				fill[j] = -1;
			return fd;
		}
	}
	cr_assert_fail("the listen backlog of port %d never filled", *port);
	return -1;
}

static void
close_full_listener(int fd, int fill[8])
{
	for (int i = 0; i < 8; i++)
		if (fill[i] >= 0)
			close(fill[i]);
	close(fd);
}

static int64_t
now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t) t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* run on d with a deadline deadline_ms away; *took_ms is how long it took. */
static rpc_code
run_within(db *d, const char *sql, ExecStatusType expect, int deadline_ms, int64_t *took_ms, rpc_status *st)
{
	db_set_deadline(d, rpc_clock_ms() + deadline_ms);
	int64_t t0    = now_ms();
	rpc_code code = run(d, sql, expect, st);
	*took_ms      = now_ms() - t0;
	return code;
}

/* Issue 20, the last finding: a reconnect waited 2 s per silent host
 * whatever the request's deadline, so the gateway answered 504 instead of
 * the service's fast 503. Now a connect ends by the caller's deadline
 * (UNAVAILABLE "database unavailable"), is kept, and the next call goes on
 * with it, so the silent host is not tried again from its start and the
 * real server is reached once the silent one had its 2 s. Each silent kind:
 * one that accepts and never answers, one that never accepts (SYNs
 * dropped); the hosts in the URL, and in PGHOST/PGPORT. */
Test(db_failover, a_connect_ends_by_the_callers_deadline_and_the_next_call_goes_on_with_it, .init = setup,
    .fini = teardown)
{
	char host_list[256], port_list[256];
	host_and_port_lists(host_list, port_list, sizeof(host_list));
	for (int form = 0; form < 3; form++) {
		int port, fill[8] = {-1, -1, -1, -1, -1, -1, -1, -1};
		int fd = form == 1 ? full_listener(&port, fill) : dead_listener(&port);
		char url[1024];
		if (form < 2) {
			snprintf(url, sizeof(url), "postgresql://%s@127.0.0.1:%d,%s/%s", role, port, hosts, database);
		} else {
			char env_host[512], env_port[512];
			snprintf(env_host, sizeof(env_host), "127.0.0.1,%s", host_list);
			snprintf(env_port, sizeof(env_port), "%d,%s", port, port_list);
			setenv("PGHOST", env_host, 1);
			setenv("PGPORT", env_port, 1);
			snprintf(url, sizeof(url), "postgresql://%s@/%s", role, database);
		}
		db *d = db_new(url);
		rpc_status st;
		int64_t took;
		cr_assert_eq(run_within(d, "SELECT 1", PGRES_TUPLES_OK, 1000, &took, &st), RPC_UNAVAILABLE,
		    "form %d: %s", form, st.message);
		cr_assert_str_eq(st.message, "database unavailable");
		cr_assert_lt(
		    took, 2000, "form %d: the call took %lld ms with a 1000 ms deadline", form, (long long) took);
		cr_assert_geq(
		    took, 900, "form %d: the call ended before its deadline (%lld ms)", form, (long long) took);
		cr_assert_not(db_connected(d), "form %d: a connect under way reads as connected", form);
		cr_assert_not_null(strstr(db_last_error(d), "no answer yet"), "form %d: %s", form, db_last_error(d));
		db_rollback(d); /* nothing to roll back: the connect under way is not queried */
		cr_log_info("form %d: the first call took %lld ms", form, (long long) took);
		/* Once the silent host had its 2 s, the next call goes on to the
		 * real server, within its deadline. */
		sleep_ms(1200);
		cr_assert_eq(run_within(d, "INSERT INTO t VALUES (1)", PGRES_COMMAND_OK, 1000, &took, &st), RPC_OK,
		    "form %d: %s (%s)", form, st.message, db_last_error(d));
		cr_assert_lt(took, 1000, "form %d: %lld ms", form, (long long) took);
		cr_log_info("form %d: the second call took %lld ms", form, (long long) took);
		if (form != 1)
			cr_assert_eq(reached(fd), 1, "form %d: the silent host was tried again from its start", form);
		/* The host that worked is where the next connect starts. */
		db *b = db_new(url);
		cr_assert_eq(run_within(b, "SELECT 1", PGRES_TUPLES_OK, 1000, &took, &st), RPC_OK, "form %d: %s", form,
		    st.message);
		cr_assert_lt(took, 1000, "form %d: %lld ms", form, (long long) took);
		if (form != 1)
			cr_assert_eq(reached(fd), 0, "form %d", form);
		db_free(b);
		db_free(d);
		unsetenv("PGHOST");
		unsetenv("PGPORT");
		if (form == 1)
			close_full_listener(fd, fill);
		else
			close(fd);
		cr_assert_eq(rows_in_t(), form + 1);
	}
}

/* Every host silent: each call ends by its deadline, whatever the hosts'
 * 2 s each; once each host had its 2 s the connect fails with every host's
 * reason (timeout expired), and the backoff answers at once meanwhile. A
 * handle freed with a connect under way frees it (LSan in the ASan build). */
Test(db_failover, with_every_host_silent_each_call_ends_by_its_deadline, .init = setup, .fini = teardown)
{
	int port_a, port_b, fill[8] = {-1, -1, -1, -1, -1, -1, -1, -1};
	int a = dead_listener(&port_a), b = full_listener(&port_b, fill);
	char url[1024];
	snprintf(url, sizeof(url), "postgresql://%s@127.0.0.1:%d,127.0.0.1:%d/%s", role, port_a, port_b, database);
	db *d = db_new(url);
	rpc_status st;
	int64_t took, total = 0;
	bool failed           = false;
	const int deadlines[] = {300, 1000, 700, 50};
	for (int i = 0; i < 12 && !failed; i++) {
		int deadline = i < 4 ? deadlines[i] : 1000;
		cr_assert_eq(run_within(d, "SELECT 1", PGRES_TUPLES_OK, deadline, &took, &st), RPC_UNAVAILABLE, "%s",
		    st.message);
		cr_assert_lt(
		    took, deadline + 500, "call %d took %lld ms with a %d ms deadline", i, (long long) took, deadline);
		cr_log_info(
		    "call %d: deadline %d ms, took %lld ms: %s", i, deadline, (long long) took, db_last_error(d));
		total += took;
		failed = strstr(db_last_error(d), "no answer yet") == NULL;
	}
	/* Both hosts had their 2 s (no less), then the connect failed with
	 * both reasons. */
	cr_assert(failed, "%s", db_last_error(d));
	cr_assert_geq(total, 3500);
	char port_a_text[32], port_b_text[32];
	snprintf(port_a_text, sizeof(port_a_text), "port %d failed: timeout expired", port_a);
	snprintf(port_b_text, sizeof(port_b_text), "port %d failed: timeout expired", port_b);
	cr_assert_not_null(strstr(db_last_error(d), port_a_text), "%s", db_last_error(d));
	cr_assert_not_null(strstr(db_last_error(d), port_b_text), "%s", db_last_error(d));
	/* The backoff answers at once. */
	cr_assert_eq(run_within(d, "SELECT 1", PGRES_TUPLES_OK, 1000, &took, &st), RPC_UNAVAILABLE, "%s", st.message);
	cr_assert_lt(took, 500, "%lld ms", (long long) took);
	cr_assert_eq(reached(a), 1, "the accepting host was connected to again before its 2 s");
	db_free(d);
	/* Freed with a connect under way. */
	d = db_new(url);
	cr_assert_eq(run_within(d, "SELECT 1", PGRES_TUPLES_OK, 100, &took, &st), RPC_UNAVAILABLE, "%s", st.message);
	cr_assert_not_null(strstr(db_last_error(d), "no answer yet"), "%s", db_last_error(d));
	db_free(d);
	close(a);
	close_full_listener(b, fill);
}

/* A server that answers a byte at a time: after the startup packet, the
 * head of an authentication request 1000 bytes long, then one byte of it
 * every 100 ms for 4 s. Each byte wakes the connect; none completes it. */
static void *
trickle(void *arg)
{
	int fd = *(int *) arg, c = accept(fd, NULL, NULL);
	if (c < 0)
		return NULL;
	char buf[512];
	if (read(c, buf, sizeof(buf)) <= 0) { /* the startup packet */
		close(c);
		return NULL;
	}
	const unsigned char head[] = {'R', 0, 0, 0x03, 0xe8};
	for (size_t i = 0; i < 40 + sizeof(head); i++) {
		/* MSG_NOSIGNAL: the client may have hung up. */
		if (send(c, i < sizeof(head) ? &head[i] : (const unsigned char *) "x", 1, MSG_NOSIGNAL) != 1)
			break;
		sleep_ms(100);
	}
	close(c);
	return NULL;
}

/* The bounds hold for a server that keeps the connect busy: the deadline,
 * and a host's 2 s without one. */
Test(db_failover, a_server_answering_a_byte_at_a_time_does_not_hold_a_call_past_its_bounds, .init = setup,
    .fini = teardown)
{
	int port, fd = dead_listener(&port);
	fcntl(fd, F_SETFL, 0); /* the thread waits in accept */
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, trickle, &fd), 0);
	char url[600];
	snprintf(url, sizeof(url), "postgresql://%s@127.0.0.1:%d/%s?sslmode=disable&gssencmode=disable", role, port,
	    database);
	db *d = db_new(url);
	rpc_status st;
	int64_t took;
	cr_assert_eq(run_within(d, "SELECT 1", PGRES_TUPLES_OK, 1000, &took, &st), RPC_UNAVAILABLE, "%s", st.message);
	cr_assert_lt(took, 1500, "the call took %lld ms with a 1000 ms deadline", (long long) took);
	cr_log_info("first call %lld ms: %s", (long long) took, db_last_error(d));
	cr_assert_not_null(strstr(db_last_error(d), "no answer yet"), "%s", db_last_error(d));
	/* No deadline: the host's 2 s end it (the server goes on for 4 s). */
	db_set_deadline(d, 0);
	int64_t t0 = now_ms();
	cr_assert_eq(run(d, "SELECT 1", PGRES_TUPLES_OK, &st), RPC_UNAVAILABLE, "%s", st.message);
	took = now_ms() - t0;
	cr_assert_lt(took, 1500, "the host's 2 s ended %lld ms after the first call", (long long) took);
	cr_assert_not_null(strstr(db_last_error(d), "timeout expired"), "%s", db_last_error(d));
	cr_log_info("byte at a time: ended by the deadline, then by the host's 2 s %lld ms later", (long long) took);
	db_free(d);
	pthread_join(t, NULL);
	close(fd);
}

/* hosts' first port (PG_ADMIN_URL's first server: the primary). */
static int
real_port(void)
{
	const char *colon = strchr(hosts, ':');
	cr_assert_not_null(colon, "%s: expected host:port", hosts);
	return atoi(colon + 1);
}

/* Issue 20, the outsider attack: a host list with an empty element (which
 * cannot be given to libpq one host at a time) was handed to libpq whole,
 * where its asynchronous connect applies no per-host timeout: a silent first
 * host took the whole bound and the hosts after it were never tried. Now
 * the lists are expanded as libpq does (an empty hostaddr: the host name is
 * looked up; an empty port: 5432, where nothing listens here, so refused)
 * and each host has its 2 s. Each form of the kind, with a deadline (the
 * connect kept between calls) and without. */
Test(db_failover, a_host_list_with_an_empty_element_reaches_the_hosts_after_a_silent_one, .init = setup,
    .fini = teardown)
{
	int port, fd = dead_listener(&port), real = real_port();
	char urls[3][1024];
	/* The attack's URL: the second hostaddr empty. */
	snprintf(urls[0], sizeof(urls[0]),
	    "postgresql://%s@/%s?host=localhost,localhost&hostaddr=127.0.0.1,&port=%d,%d", role, database, port, real);
	/* An empty port element (libpq's default, 5432: refused here). */
	snprintf(urls[1], sizeof(urls[1]), "postgresql://%s@/%s?host=127.0.0.1,127.0.0.1,127.0.0.1&port=%d,,%d", role,
	    database, port, real);
	/* An empty host element beside a hostaddr. */
	snprintf(urls[2], sizeof(urls[2]), "host=127.0.0.1,localhost hostaddr=,127.0.0.1 port=%d,%d user=%s dbname=%s",
	    port, real, role, database);
	for (int i = 0; i < 3; i++) {
		char err[256];
		cr_assert_eq(db_check_conninfo(urls[i], err, sizeof(err)), 0, "%s: %s", urls[i], err);
		for (int with_deadline = 0; with_deadline < 2; with_deadline++) {
			/* A URL of its own each time: a connect starts at the host
			 * that last took one with the same URL (db_hosts.h). */
			char url[1100];
			snprintf(url, sizeof(url), "%s%sfallback_application_name=run%d", urls[i], i == 2 ? " " : "&",
			    with_deadline);
			db *d = db_new(url);
			cr_assert_not_null(d);
			rpc_status st;
			int64_t took, t0 = now_ms();
			if (with_deadline) {
				cr_assert_eq(run_within(d, "SELECT 1", PGRES_TUPLES_OK, 1000, &took, &st),
				    RPC_UNAVAILABLE, "%s: %s", urls[i], st.message);
				cr_assert_lt(
				    took, 1500, "%s: %lld ms with a 1000 ms deadline", urls[i], (long long) took);
				sleep_ms(1200);
				cr_assert_eq(
				    run_within(d, "INSERT INTO t VALUES (1)", PGRES_COMMAND_OK, 1000, &took, &st),
				    RPC_OK, "%s: %s (%s)", urls[i], st.message, db_last_error(d));
			} else {
				db_set_deadline(d, 0);
				cr_assert_eq(run(d, "INSERT INTO t VALUES (1)", PGRES_COMMAND_OK, &st), RPC_OK,
				    "%s: %s (%s)", urls[i], st.message, db_last_error(d));
			}
			took = now_ms() - t0;
			/* The silent host's 2 s, then the real server. */
			cr_assert_geq(took, 1900, "%s: the silent host was not given its 2 s (%lld ms)", urls[i],
			    (long long) took);
			cr_assert_lt(took, 6000, "%s: %lld ms", urls[i], (long long) took);
			cr_log_info("%s, deadline %s: connected after %lld ms", urls[i],
			    with_deadline ? "1000 ms" : "none", (long long) took);
			int dialled = reached(fd);
			cr_assert_eq(dialled, 1, "%s: the silent host was dialled %d times", urls[i], dialled);
			db_free(d);
		}
	}
	close(fd);
	cr_assert_eq(rows_in_t(), 6);
}

/* A private view of a file (a mount namespace of the calling process's
 * own, with text bound over path). False when this machine cannot. */
static bool
private_file(const char *path, const char *text)
{
	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return false;
	char tmp[] = "/tmp/db-file-XXXXXX";
	int f      = mkstemp(tmp);
	if (f < 0)
		return false;
	bool ok = write(f, text, strlen(text)) == (ssize_t) strlen(text);
	close(f);
	ok = ok && mount(tmp, path, NULL, MS_BIND, NULL) == 0;
	unlink(tmp);
	return ok;
}

/* The child of the test below: in a mount namespace of its own, name
 * resolves (its /etc/hosts) to ::1 first, where a listener answers
 * nothing, then to 127.0.0.1, the real server, on the same port. Exits 0
 * when a connect reached the real server after the silent address's 2 s;
 * 77 when the namespace cannot be made here. */
static int
resolve_in_own_namespace(const char *url, int silent6)
{
	if (!private_file("/etc/hosts", "::1 localhost pgmulti.test\n127.0.0.1 localhost pgmulti.test\n"))
		return 77;
	db *d = db_new(url);
	rpc_status st;
	rpc_status_clear(&st);
	int64_t t0   = now_ms();
	PGresult *r  = db_exec(d, "INSERT INTO t VALUES (1)", 0, NULL, PGRES_COMMAND_OK, "test", &st);
	int64_t took = now_ms() - t0;
	/* Only this connect's dials count: tests beside this one may reach
	 * [::1] on this port too while it listens there (a "localhost" URL,
	 * a cut's cancel request). Without TLS and GSS the startup message,
	 * which names the role, comes first. */
	int accepted = 0, c;
	while ((c = accept(silent6, NULL, NULL)) >= 0) {
		char buf[512];
		struct pollfd p = {.fd = c, .events = POLLIN};
		ssize_t n       = poll(&p, 1, 200) > 0 ? read(c, buf, sizeof(buf)) : 0;
		if (n > 0 && memmem(buf, (size_t) n, role, strlen(role)) != NULL)
			accepted++;
		close(c);
	}
	fprintf(stderr, "%s: %s after %lld ms, silent address dialled %d times (%s)\n", url,
	    r != NULL ? "connected" : "failed", (long long) took, accepted, db_last_error(d));
	bool ok = r != NULL && took >= 1900 && took < 6000 && accepted == 1;
	PQclear(r);
	db_free(d);
	return ok ? 0 : 1;
}

/* Issue 20: a host name with several addresses was one host to libpq,
 * 2 s in all: a silent first address used them and the second was never
 * tried. Now each address has its own 2 s (libpq's connect_timeout applies
 * per address too). The name resolves so only in a mount namespace of the
 * child's own (this machine's localhost is 127.0.0.1 alone). */
Test(db_failover, a_host_name_whose_first_address_is_silent_reaches_the_next, .init = setup, .fini = teardown)
{
	int real              = real_port();
	int fd6               = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT, .sin6_port = htons(real)};
	int one               = 1;
	setsockopt(fd6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (fd6 < 0 || bind(fd6, (struct sockaddr *) &a, sizeof(a)) != 0 || listen(fd6, 16) != 0)
		cr_skip_test("no IPv6 loopback to listen on at [::1]:%d", real);
	fcntl(fd6, F_SETFL, O_NONBLOCK);
	const char *names[] = {"localhost", "pgmulti.test"};
	for (int i = 0; i < 2; i++) {
		char url[600];
		snprintf(url, sizeof(url), "postgresql://%s@%s:%d/%s?sslmode=disable&gssencmode=disable", role,
		    names[i], real, database);
		pid_t pid = fork();
		cr_assert(pid >= 0);
		if (pid == 0)
			_exit(resolve_in_own_namespace(url, fd6));
		int status;
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		cr_assert(WIFEXITED(status), "%s: the child died", url);
		if (WEXITSTATUS(status) == 77)
			cr_skip_test("no mount namespace here (unshare, mount --bind /etc/hosts)");
		cr_assert_eq(WEXITSTATUS(status), 0, "%s: see the child's line above", url);
	}
	close(fd6);
	cr_assert_eq(rows_in_t(), 2);
}

/* Issue 20: a host's 2 s were wall time, but a kept connect moves only
 * while a call drives it: calls with budgets of a few ms, seconds apart,
 * never connected even to a healthy server. Now the time between calls
 * counts only when what the host was waited for had not come by the next
 * call: a healthy server is reached, and a silent host still loses its
 * turn at the first call after its 2 s. */
Test(db_failover, sparse_calls_with_tiny_budgets_reach_a_healthy_server, .init = setup, .fini = teardown)
{
	int port, fd = dead_listener(&port);
	char urls[2][600];
	snprintf(urls[0], sizeof(urls[0]), "%s", role_url);
	snprintf(urls[1], sizeof(urls[1]), "postgresql://%s@127.0.0.1:%d,%s/%s", role, port, hosts, database);
	for (int u = 0; u < 2; u++) {
		db *d = db_new(urls[u]);
		rpc_status st;
		int64_t took;
		int calls = 0;
		rpc_code code;
		bool connected;
		do {
			if (calls > 0)
				sleep_ms(2100);
			calls++;
			/* 1 ms: less than the connect needs (TCP, fork of a
			 * backend, authentication), so it is kept each time.
			 * What is judged is the connect: the statement after it
			 * may not fit the 1 ms left, and a statement cut by its
			 * deadline ("database too slow") closes the connection
			 * the connect had made. */
			code = run_within(d, "SELECT 1", PGRES_TUPLES_OK, 1, &took, &st);
			cr_log_info("%s: call %d (1 ms budget): %lld ms, %s: %s", urls[u], calls, (long long) took,
			    rpc_code_name(code), db_last_error(d));
			cr_assert_lt(
			    took, 500, "%s: call %d took %lld ms with a 1 ms budget", urls[u], calls, (long long) took);
			connected = code == RPC_OK || db_connected(d) || strcmp(st.message, "database too slow") == 0;
		} while (!connected && calls < 10);
		cr_assert(
		    connected, "%s: not connected after %d calls 2.1 s apart: %s", urls[u], calls, db_last_error(d));
		db_set_deadline(d, 0);
		/* Kept, or (cut with its statement) made again after the
		 * backoff, from the host that last worked. */
		code = run_until_ok(d, "SELECT 1", PGRES_TUPLES_OK, 1000, &st);
		cr_assert_eq(code, RPC_OK, "%s: after the short calls: %s", urls[u], st.message);
		if (u == 1)
			cr_assert_eq(reached(fd), 1, "%s: the silent host was dialled again", urls[u]);
		db_free(d);
	}
	close(fd);
}

/* libpq's prefer-standby: a standby if any host is one, else any server.
 * One host at a time it took the first server that answered. Here no
 * host is a standby (the dead one first, then the real primary twice): the
 * first server that answered is taken after every host was tried, the
 * dead one dialled once. (A standby later in the list: failover_pg_prefer.) */
Test(db_failover, prefer_standby_takes_a_primary_only_when_no_host_is_a_standby, .init = setup, .fini = teardown)
{
	int port, fd = dead_listener(&port);
	char url[1024];
	snprintf(url, sizeof(url), "postgresql://%s@%s,127.0.0.1:%d,%s/%s?target_session_attrs=prefer-standby", role,
	    hosts, port, hosts, database);
	db *d = db_new(url);
	rpc_status st;
	int64_t t0 = now_ms();
	cr_assert_eq(
	    run(d, "SELECT count(*) FROM t", PGRES_TUPLES_OK, &st), RPC_OK, "%s (%s)", st.message, db_last_error(d));
	int64_t took = now_ms() - t0;
	/* Every host tried for a standby: the dead one's 2 s included. */
	cr_assert_geq(
	    took, 1900, "the hosts after the first primary were not tried for a standby (%lld ms)", (long long) took);
	cr_assert_eq(reached(fd), 1);
	cr_log_info("prefer-standby without a standby: connected after %lld ms", (long long) took);
	db_free(d);
	close(fd);
}

/* What each target_session_attrs takes, libpq's documented meaning, with a
 * real streaming standby after the primary (SERVERS_PG_STANDBY=1 gives
 * PG_STANDBY_PORT; skipped without one): prefer-standby, standby and
 * read-only the standby, any and primary the primary, read-write the
 * primary. prefer-standby one host at a time took the primary, the first
 * server that answered. */
Test(db_failover, each_target_session_attrs_takes_the_server_libpq_documents, .init = setup, .fini = teardown)
{
	const char *standby = getenv("PG_STANDBY_PORT");
	if (standby == NULL || standby[0] == '\0')
		cr_skip_test("no standby: run with SERVERS_PG_STANDBY=1 (PG_STANDBY_PORT)");
	static const struct {
		const char *attrs;
		const char *in_recovery; /* "t": the standby taken */
	} cases[] = {{"prefer-standby", "t"}, {"standby", "t"}, {"read-only", "t"}, {"any", "f"}, {"primary", "f"},
	    {"read-write", "f"}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char url[600];
		snprintf(url, sizeof(url),
		    "postgresql://postgres@127.0.0.1:%d,127.0.0.1:%s/postgres?target_session_attrs=%s", real_port(),
		    standby, cases[i].attrs);
		db *d = db_new(url);
		rpc_status st;
		rpc_status_clear(&st);
		PGresult *r = db_exec(d, "SELECT pg_is_in_recovery()", 0, NULL, PGRES_TUPLES_OK, "test", &st);
		cr_assert_not_null(r, "%s: %s (%s)", cases[i].attrs, st.message, db_last_error(d));
		cr_assert_str_eq(PQgetvalue(r, 0, 0), cases[i].in_recovery, "%s took the %s", cases[i].attrs,
		    PQgetvalue(r, 0, 0)[0] == 't' ? "standby" : "primary");
		PQclear(r);
		db_free(d);
	}
}

/* The child of the test below: its DNS server (its own resolv.conf) takes
 * queries and never answers. Exit 0 when every step held, 77 when the
 * namespace cannot be made, else 1 (the step on stderr). */
static int
silent_dns_child(const char *first_url, const char *second_url)
{
	if (!private_file("/etc/resolv.conf", "nameserver 127.0.0.99\noptions timeout:30 attempts:1\n"))
		return 77;
#define STEP(cond, ...)                                                                                                \
	do {                                                                                                           \
		if (!(cond)) {                                                                                         \
			fprintf(stderr, __VA_ARGS__);                                                                  \
			fputc('\n', stderr);                                                                           \
			return 1;                                                                                      \
		}                                                                                                      \
	} while (0)
	rpc_status st;
	int64_t took;
	/* Only a name the silent server is asked about. */
	db *d = db_new(first_url);
	db_set_deadline(d, rpc_clock_ms() + 500);
	int64_t t0 = now_ms();
	rpc_status_clear(&st);
	PGresult *r = db_exec(d, "SELECT 1", 0, NULL, PGRES_TUPLES_OK, "test", &st);
	took        = now_ms() - t0;
	fprintf(stderr, "silent DNS, 500 ms deadline: %lld ms: %s\n", (long long) took, db_last_error(d));
	STEP(r == NULL && took < 1000, "the first call took %lld ms with a 500 ms deadline", (long long) took);
	STEP(strstr(db_last_error(d), "looking up \"pg.silent.test\": no answer yet") != NULL, "%s", db_last_error(d));
	/* The lookup's 2 s (the 1 s between the calls included: no answer
	 * came) end within the next call, which reports it. */
	sleep_ms(1000);
	db_set_deadline(d, rpc_clock_ms() + 1000);
	t0   = now_ms();
	r    = db_exec(d, "SELECT 1", 0, NULL, PGRES_TUPLES_OK, "test", &st);
	took = now_ms() - t0;
	fprintf(stderr, "silent DNS, the next call: %lld ms: %s\n", (long long) took, db_last_error(d));
	STEP(r == NULL && took < 1000, "the second call took %lld ms", (long long) took);
	STEP(strstr(db_last_error(d), "could not translate host name \"pg.silent.test\" to address: timeout expired") !=
	         NULL,
	    "%s", db_last_error(d));
	db_free(d);
	/* The name first, the real server second: reached after the
	 * lookup's 2 s, without a deadline. */
	d    = db_new(second_url);
	t0   = now_ms();
	r    = db_exec(d, "INSERT INTO t VALUES (1)", 0, NULL, PGRES_COMMAND_OK, "test", &st);
	took = now_ms() - t0;
	fprintf(stderr, "silent DNS first, then the real server: %lld ms: %s\n", (long long) took, db_last_error(d));
	STEP(r != NULL && took >= 1900 && took < 4000, "%s after %lld ms", st.message, (long long) took);
	PQclear(r);
	db_free(d);
	/* Freed with its lookup under way (glibc's thread still on it). */
	d = db_new(first_url);
	db_set_deadline(d, rpc_clock_ms() + 100);
	r = db_exec(d, "SELECT 1", 0, NULL, PGRES_TUPLES_OK, "test", &st);
	STEP(r == NULL && strstr(db_last_error(d), "no answer yet") != NULL, "%s", db_last_error(d));
	db_free(d);
#undef STEP
	return 0;
}

/* A host name's lookup is bounded too: a DNS server that never answers
 * costs a connect 2 s (the host's), spread over calls that each end by
 * their deadline, as a silent PostgreSQL host does; libpq's own lookup
 * blocked as long as the resolver's timeouts (here 30 s). */
Test(db_failover, a_silent_dns_server_costs_a_connect_2_s_and_no_call_its_deadline, .init = setup, .fini = teardown)
{
	int dns              = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(53)};
	inet_pton(AF_INET, "127.0.0.99", &a.sin_addr);
	if (dns < 0 || bind(dns, (struct sockaddr *) &a, sizeof(a)) != 0)
		cr_skip_test("cannot listen on 127.0.0.99:53 (UDP) here");
	char first_url[600], second_url[700];
	snprintf(first_url, sizeof(first_url), "postgresql://%s@pg.silent.test:%d/%s", role, real_port(), database);
	snprintf(second_url, sizeof(second_url), "postgresql://%s@pg.silent.test:%d,%s/%s", role, real_port(), hosts,
	    database);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0)
		_exit(silent_dns_child(first_url, second_url));
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	close(dns);
	cr_assert(WIFEXITED(status), "the child died");
	if (WEXITSTATUS(status) == 77)
		cr_skip_test("no mount namespace here (unshare, mount --bind /etc/resolv.conf)");
	cr_assert_eq(WEXITSTATUS(status), 0, "see the child's lines above");
	cr_assert_eq(rows_in_t(), 1);
}

/* Runs sql with one text parameter on d; the code, with st filled. */
static rpc_code
run1(db *d, const char *sql, const char *param, ExecStatusType expect, rpc_status *st)
{
	rpc_status_clear(st);
	const char *params[] = {param};
	PGresult *r          = db_exec(d, sql, 1, params, expect, "test", st);
	PQclear(r);
	return r != NULL ? RPC_OK : st->code;
}

/* A statement is bounded by the caller's deadline too, not only the
 * connect: a connect that finished just before the deadline, or a server
 * that is slow (a lock, a stall), held the worker until statement_timeout
 * (5 s), past the gateway's deadline. Now the call ends by its deadline and
 * the connection is closed: UNAVAILABLE inside a transaction (the server
 * rolls it back), DEADLINE_EXCEEDED outside one (it may have committed).
 * Each kind: a statement blocked on a lock inside a transaction, a slow
 * prepared statement, a slow plain one; and a call already late keeps its
 * connection. */
Test(db_failover, a_statement_ends_by_the_callers_deadline_and_its_transaction_is_rolled_back, .init = setup,
    .fini = teardown)
{
	db *d = db_new(role_url);
	rpc_status st;
	cr_assert_eq(run(d, "SELECT 1", PGRES_TUPLES_OK, &st), RPC_OK, "%s", db_last_error(d));

	/* Blocked on a lock: the insert waits for admin's transaction. */
	PGconn *locker = admin(database);
	exec_ok(locker, "BEGIN");
	exec_ok(locker, "LOCK TABLE t IN ACCESS EXCLUSIVE MODE");
	int64_t took;
	cr_assert_eq(run_within(d, "BEGIN", PGRES_COMMAND_OK, 5000, &took, &st), RPC_OK);
	cr_assert_eq(run_within(d, "INSERT INTO t VALUES (1)", PGRES_COMMAND_OK, 300, &took, &st), RPC_UNAVAILABLE);
	cr_assert_str_eq(st.message, "database too slow");
	cr_assert(took >= 250 && took < 1500, "ended after %lld ms, deadline 300", (long long) took);
	cr_assert_not(db_connected(d), "the connection of the cut statement is closed");
	exec_ok(locker, "COMMIT");
	PQfinish(locker);
	/* The next call connects again (after the backoff's first step) and
	 * sees no row: the cut transaction never committed. */
	db_set_deadline(d, 0);
	cr_assert_eq(run_until_ok(d, "SELECT 1", PGRES_TUPLES_OK, 2000, &st), RPC_OK, "%s", st.message);
	sleep_ms(200);
	cr_assert_eq(rows_in_t(), 0, "the insert cut by the deadline was rolled back");

	/* A slow prepared statement (parameters), then a slow plain one:
	 * SELECTs outside a transaction, which write nothing: 503. */
	cr_assert_eq(run1(d, "SELECT pg_sleep($1::float8)", "0", PGRES_TUPLES_OK, &st), RPC_OK, "prepared once");
	db_set_deadline(d, rpc_clock_ms() + 300);
	int64_t t0 = now_ms();
	cr_assert_eq(run1(d, "SELECT pg_sleep($1::float8)", "5", PGRES_TUPLES_OK, &st), RPC_UNAVAILABLE);
	took = now_ms() - t0;
	cr_assert(took >= 250 && took < 1500, "prepared: ended after %lld ms, deadline 300", (long long) took);
	db_set_deadline(d, 0);
	cr_assert_eq(run_until_ok(d, "SELECT 1", PGRES_TUPLES_OK, 2000, &st), RPC_OK, "%s", st.message);
	cr_assert_eq(run_within(d, "SELECT pg_sleep(5)", PGRES_TUPLES_OK, 300, &took, &st), RPC_UNAVAILABLE);
	cr_assert(took < 1500, "plain: ended after %lld ms, deadline 300", (long long) took);

	/* Already late before the statement: nothing is sent, nothing closed. */
	db_set_deadline(d, 0);
	cr_assert_eq(run_until_ok(d, "SELECT 1", PGRES_TUPLES_OK, 2000, &st), RPC_OK, "%s", st.message);
	db_set_deadline(d, rpc_clock_ms() - 1);
	cr_assert_eq(run(d, "SELECT 1", PGRES_TUPLES_OK, &st), RPC_UNAVAILABLE);
	cr_assert(db_connected(d), "a call already late keeps the connection");
	db_set_deadline(d, 0);
	cr_assert_eq(run(d, "SELECT 1", PGRES_TUPLES_OK, &st), RPC_OK, "%s", st.message);
	db_free(d);
}

/* Runs INSERT INTO t VALUES (1) on d (autocommit) with a deadline
 * deadline_ms away (0: none). */
static rpc_code
insert_by(db *d, int deadline_ms, rpc_status *st)
{
	db_set_deadline(d, deadline_ms > 0 ? rpc_clock_ms() + deadline_ms : 0);
	return run1(d, "INSERT INTO t VALUES ($1::int)", "1", PGRES_COMMAND_OK, st);
}

static long
backends_of_role(PGconn *c)
{
	char sql[256];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_stat_activity WHERE usename = '%s'", role);
	return query_number(c, sql);
}

/* The outsider attack on the bounded statement (issue 20): an autocommit
 * statement cut by the deadline was answered 503 "database too slow", yet
 * the server, blocked on a lock, ran it once the lock was free and
 * committed it (Bind/Execute/Sync were sent together): a create answered
 * 503 existed, and a retry without a key doubled it. Now a cut outside a
 * transaction says the outcome is unknown (DEADLINE_EXCEEDED: 504), and
 * the server ends the statement within client_connection_check_interval
 * of the close, so it does not commit once the lock is free. */
Test(db_failover, an_autocommit_statement_cut_by_the_deadline_says_its_outcome_is_unknown_and_does_not_commit_later,
    .init = setup, .fini = teardown)
{
	db *d = db_new(role_url);
	rpc_status st;
	cr_assert_eq(insert_by(d, 0, &st), RPC_OK, "%s", db_last_error(d)); /* prepared on this connection */
	PGconn *locker = admin(database);
	exec_ok(locker, "BEGIN");
	exec_ok(locker, "LOCK TABLE t IN ACCESS EXCLUSIVE MODE");
	cr_assert_eq(insert_by(d, 300, &st), RPC_DEADLINE_EXCEEDED, "%s", st.message);
	cr_assert_str_eq(st.message, "database too slow: the outcome is unknown");
	sleep_ms(500); /* the lock outlives the cut by more than the check interval */
	exec_ok(locker, "COMMIT");
	sleep_ms(300);
	cr_assert_eq(query_number(locker, "SELECT count(*) FROM t"), 1, "only the first insert committed");
	PQfinish(locker);
	db_free(d);
}

/* The same attack: each cut closed its connection and the server's
 * backend ran on, blocked, until statement_timeout (5 s), so short
 * deadlines against a blocked table piled up backends until
 * max_connections (103 of 100 in the attack's storm). Now each ends within
 * client_connection_check_interval (100 ms) of its close, sooner with the
 * cancel a cut sends (the handle then connects again at once, without the
 * backoff: a_cut_statement_does_not_make_the_next_call_wait). */
Test(db_failover, cut_statements_do_not_pile_up_backends_on_the_server, .init = setup, .fini = teardown)
{
	db *d = db_new(role_url);
	rpc_status st;
	cr_assert_eq(insert_by(d, 0, &st), RPC_OK, "%s", db_last_error(d));
	PGconn *locker = admin(database);
	exec_ok(locker, "BEGIN");
	exec_ok(locker, "LOCK TABLE t IN ACCESS EXCLUSIVE MODE");
	int cut = 0;
	for (int i = 0; i < 20; i++) {
		rpc_code code = insert_by(d, 50, &st);
		cr_assert(code == RPC_DEADLINE_EXCEEDED || code == RPC_UNAVAILABLE, "call %d: %s", i, st.message);
		cut += code == RPC_DEADLINE_EXCEEDED;
		sleep_ms(50);
	}
	long backends = backends_of_role(locker);
	exec_ok(locker, "COMMIT");
	PQfinish(locker);
	db_free(d);
	cr_assert_geq(cut, 1, "at least one statement was sent and cut");
	cr_assert_leq(backends, 2,
	    "one db handle holds %ld server backends after 20 calls (%d cut after they were sent)", backends, cut);
}

/* ---- Issue 20's second attack: lost answers, frozen servers, options ---- */

/* A db handle that reaches the server through a new proxy (*p), not yet
 * connected. */
static db *
behind_a_proxy(tcp_proxy **p)
{
	*p = tcp_proxy_start(real_port());
	cr_assert_not_null(*p, "no proxy");
	char url[600];
	snprintf(url, sizeof(url), "postgresql://%s@127.0.0.1:%d/%s?sslmode=disable&gssencmode=disable", role,
	    tcp_proxy_port(*p), database);
	db *d = db_new(url);
	cr_assert_not_null(d);
	return d;
}

/* A db handle that reaches the server through a proxy (tcp_proxy.h) which
 * can lose an answer or freeze; connected, without a deadline. */
static db *
through_proxy(tcp_proxy **p)
{
	db *d = behind_a_proxy(p);
	rpc_status st;
	cr_assert_eq(run(d, "SELECT 1", PGRES_TUPLES_OK, &st), RPC_OK, "%s", db_last_error(d));
	return d;
}

static long
rows_with(int x)
{
	PGconn *c = admin(database);
	char sql[64];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM t WHERE x = %d", x);
	long n = query_number(c, sql);
	PQfinish(c);
	return n;
}

/* sql run on d with fault met at the message holding sql; the code. */
static rpc_code
run_meeting(db *d, tcp_proxy *p, tcp_proxy_fault fault, const char *sql, ExecStatusType expect, rpc_status *st)
{
	tcp_proxy_arm(p, fault, sql);
	rpc_code code = run(d, sql, expect, st);
	cr_assert(tcp_proxy_met(p), "the proxy never saw %s", sql);
	return code;
}

/* Issue 20's second attack, (1): a write whose connection broke after it
 * reached the server answered 503 "database unavailable", though it had
 * committed: a create claimed not done was there, and a retry without a
 * key made it twice. Now an answer lost with its connection says what is
 * known: a statement that may have committed (an autocommit write, a
 * COMMIT) answers DEADLINE_EXCEEDED "the outcome is unknown" (504); one
 * inside a transaction before COMMIT, or a SELECT, UNAVAILABLE (rolled
 * back, nothing done). Each checked against the rows. */
Test(db_failover, an_answer_lost_with_its_connection_says_what_is_known, .init = setup, .fini = teardown)
{
	tcp_proxy *p;
	db *d = through_proxy(&p);
	rpc_status st;
	cr_assert_eq(run_meeting(d, p, TCP_PROXY_LOSE_REPLY, "INSERT INTO t VALUES (1)", PGRES_COMMAND_OK, &st),
	    RPC_DEADLINE_EXCEEDED, "an autocommit write: %s", st.message);
	cr_assert_str_eq(st.message, "database connection lost: the outcome is unknown");
	cr_assert_eq(rows_with(1), 1, "it had committed");

	cr_assert_eq(run_until_ok(d, "BEGIN", PGRES_COMMAND_OK, 2000, &st), RPC_OK, "%s", st.message);
	cr_assert_eq(run(d, "INSERT INTO t VALUES (2)", PGRES_COMMAND_OK, &st), RPC_OK, "%s", st.message);
	cr_assert_eq(run_meeting(d, p, TCP_PROXY_LOSE_REPLY, "COMMIT", PGRES_COMMAND_OK, &st), RPC_DEADLINE_EXCEEDED,
	    "a COMMIT: %s", st.message);
	cr_assert_eq(rows_with(2), 1, "it had committed");

	cr_assert_eq(run_until_ok(d, "BEGIN", PGRES_COMMAND_OK, 2000, &st), RPC_OK, "%s", st.message);
	cr_assert_eq(run_meeting(d, p, TCP_PROXY_LOSE_REPLY, "INSERT INTO t VALUES (3)", PGRES_COMMAND_OK, &st),
	    RPC_UNAVAILABLE, "a write inside a transaction: %s", st.message);
	cr_assert_str_eq(st.message, "database unavailable");
	cr_assert_eq(rows_with(3), 0, "its transaction ended with the connection");

	cr_assert_eq(run_until_ok(d, "SELECT 1", PGRES_TUPLES_OK, 2000, &st), RPC_OK, "%s", st.message);
	cr_assert_eq(run_meeting(d, p, TCP_PROXY_LOSE_REPLY, "SELECT count(*) FROM t", PGRES_TUPLES_OK, &st),
	    RPC_UNAVAILABLE, "a SELECT: %s", st.message);
	db_free(d);
	tcp_proxy_stop(p);
}

/* A connect kept past one call's deadline, which then fails with an
 * error of the network (here a reset; in the multi-host drill "No route
 * to host", the socket having been begun during a cut since healed): the
 * next call, with time left, makes a connect of its own and is served,
 * instead of answering 503 from the stale one. When that connect fails
 * too (the server gone: refused), the call still answers at once. */
Test(db_failover, a_kept_connect_that_fails_with_an_error_is_made_again_by_a_call_with_time_left, .init = setup,
    .fini = teardown)
{
	for (int gone = 0; gone < 2; gone++) {
		tcp_proxy *p;
		db *d = behind_a_proxy(&p);
		rpc_status st;
		int64_t took;
		/* The startup packet names the application: held, no answer. */
		tcp_proxy_arm(p, TCP_PROXY_FREEZE, "microservices");
		cr_assert_eq(
		    run_within(d, "SELECT 1", PGRES_TUPLES_OK, 300, &took, &st), RPC_UNAVAILABLE, "%s", st.message);
		cr_assert(tcp_proxy_met(p), "the startup packet never reached the proxy");
		cr_assert_not_null(strstr(db_last_error(d), "no answer yet"), "%s", db_last_error(d));
		if (gone) {
			tcp_proxy_stop(p); /* the kept connect ends, and nothing listens */
			p = NULL;
		} else {
			tcp_proxy_reset_frozen(p);
		}
		sleep_ms(200);
		rpc_code code = run_within(d, "INSERT INTO t VALUES (1)", PGRES_COMMAND_OK, 2000, &took, &st);
		cr_log_info(
		    "gone=%d: %s in %lld ms: %s", gone, rpc_code_name(code), (long long) took, db_last_error(d));
		if (gone) {
			cr_assert_eq(code, RPC_UNAVAILABLE, "%s", st.message);
			cr_assert_lt(took, 500, "a refused connect answered after %lld ms", (long long) took);
			cr_assert_not_null(strstr(db_last_error(d), "refused"), "%s", db_last_error(d));
		} else {
			cr_assert_eq(code, RPC_OK, "%s (%s)", st.message, db_last_error(d));
			cr_assert_lt(took, 1000, "%lld ms", (long long) took);
		}
		cr_assert_eq(rows_in_t(), 1);
		db_free(d);
		tcp_proxy_stop(p);
	}
}

/* The other side: a server that fails slowly (it takes the startup
 * packet, then resets after longer than a call's budget). The connect
 * begun again is kept past its call's deadline and fails too; it is not
 * begun again in turn, so the next call answers at once (the backoff's)
 * instead of each call waiting its whole deadline. Then, with the server
 * well, a call is served. */
Test(db_failover, a_connect_begun_again_that_fails_too_leaves_the_calls_after_it_to_the_backoff, .init = setup,
    .fini = teardown)
{
	tcp_proxy *p;
	db *d = behind_a_proxy(&p);
	rpc_status st;
	int64_t took;
	tcp_proxy_arm(p, TCP_PROXY_FREEZE, "microservices");
	cr_assert_eq(run_within(d, "SELECT 1", PGRES_TUPLES_OK, 300, &took, &st), RPC_UNAVAILABLE, "%s", st.message);
	cr_assert_not_null(strstr(db_last_error(d), "no answer yet"), "%s", db_last_error(d));
	/* The kept connect fails; the one begun again is held in its turn. */
	tcp_proxy_arm(p, TCP_PROXY_FREEZE, "microservices");
	tcp_proxy_reset_frozen(p);
	sleep_ms(200);
	cr_assert_eq(run_within(d, "SELECT 1", PGRES_TUPLES_OK, 300, &took, &st), RPC_UNAVAILABLE, "%s", st.message);
	cr_assert(tcp_proxy_met(p), "no connect was begun again");
	cr_assert_not_null(strstr(db_last_error(d), "no answer yet"), "%s", db_last_error(d));
	/* It fails too: the call that finds it answers at once, even with a
	 * whole second left and the proxy armed to hold a third connect. */
	tcp_proxy_arm(p, TCP_PROXY_FREEZE, "microservices");
	tcp_proxy_reset_frozen(p);
	sleep_ms(200);
	cr_assert_eq(run_within(d, "SELECT 1", PGRES_TUPLES_OK, 1000, &took, &st), RPC_UNAVAILABLE, "%s", st.message);
	cr_log_info("the call after the second failure: %lld ms: %s", (long long) took, db_last_error(d));
	cr_assert_lt(took, 500, "the call waited %lld ms for a third connect", (long long) took);
	cr_assert_not(tcp_proxy_met(p), "a third connect was begun");
	cr_assert_null(strstr(db_last_error(d), "no answer yet"), "%s", db_last_error(d));
	tcp_proxy_arm(p, TCP_PROXY_FREEZE, "never sent");
	db_set_deadline(d, 0);
	cr_assert_eq(run_until_ok(d, "SELECT 1", PGRES_TUPLES_OK, 2000, &st), RPC_OK, "%s", st.message);
	db_free(d);
	tcp_proxy_stop(p);
}

/* Ends, from another connection, the backend of ours that waits for a
 * lock: a server's FATAL (57P01) in the middle of a statement. */
static void *
terminate_the_waiting_backend(void *arg)
{
	(void) arg;
	PGconn *c = admin("postgres");
	char sql[256];
	snprintf(sql, sizeof(sql),
	    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '%s' AND "
	    "wait_event_type = 'Lock'",
	    database);
	for (int i = 0; i < 100 && query_number(c, sql) == 0; i++)
		sleep_ms(50);
	PQfinish(c);
	return NULL;
}

/* The other side of the same rule: the server that ends a statement with
 * an error of its own (a SQLSTATE) says it failed, rolled back, even when
 * the connection ends with it (57P01, as a fast shutdown sends each
 * backend): 503, and the row is not there. */
Test(db_failover, a_write_the_server_ended_with_an_error_is_unavailable_not_unknown, .init = setup, .fini = teardown)
{
	db *d = db_new(role_url);
	rpc_status st;
	cr_assert_eq(run(d, "SELECT 1", PGRES_TUPLES_OK, &st), RPC_OK, "%s", db_last_error(d));
	PGconn *locker = admin(database);
	exec_ok(locker, "BEGIN");
	exec_ok(locker, "LOCK TABLE t IN ACCESS EXCLUSIVE MODE");
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, terminate_the_waiting_backend, NULL), 0);
	rpc_code code = run(d, "INSERT INTO t VALUES (4)", PGRES_COMMAND_OK, &st);
	pthread_join(t, NULL);
	exec_ok(locker, "COMMIT");
	PQfinish(locker);
	cr_assert_eq(code, RPC_UNAVAILABLE, "%s (%s)", st.message, db_last_error(d));
	cr_assert_eq(rows_with(4), 0);
	db_free(d);
}

static _Atomic bool stop_flag;

static void *
stop_in_300_ms(void *arg)
{
	(void) arg;
	sleep_ms(300);
	atomic_store(&stop_flag, true);
	return NULL;
}

/* sql through a proxy that froze at it, no deadline, the stop set 300 ms
 * in: the code, and *took_ms. */
static rpc_code
frozen_until_stopped(db *d, tcp_proxy *p, const char *sql, ExecStatusType expect, int64_t *took_ms, rpc_status *st)
{
	atomic_store(&stop_flag, false);
	db_set_stop(d, db_stop_flag_set, &stop_flag);
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, stop_in_300_ms, NULL), 0);
	int64_t t0    = now_ms();
	rpc_code code = run_meeting(d, p, TCP_PROXY_FREEZE, sql, expect, st);
	*took_ms      = now_ms() - t0;
	pthread_join(t, NULL);
	return code;
}

/* Issue 20's second attack, (2): a statement without a deadline (the
 * outbox relay, the consumer, start-up's migrations) on a server frozen or
 * cut off by the network (not down: nothing refuses, nothing closes)
 * waited forever, and a stop (SIGTERM) with it; statement_timeout is the
 * server's, which never runs. Now it looks at the stop every 100 ms. */
Test(db_failover, a_stop_ends_a_statement_a_frozen_server_holds, .init = setup, .fini = teardown)
{
	tcp_proxy *p;
	db *d = through_proxy(&p);
	rpc_status st;
	int64_t took;
	cr_assert_eq(
	    frozen_until_stopped(d, p, "SELECT 2", PGRES_TUPLES_OK, &took, &st), RPC_UNAVAILABLE, "%s", st.message);
	cr_assert_str_eq(st.message, "stopped");
	cr_assert_lt(took, 2000, "a stop 300 ms in ended the SELECT after %lld ms", (long long) took);
	/* A write's outcome is unknown to the client, whatever the proxy did. */
	atomic_store(&stop_flag, false);
	cr_assert_eq(run_until_ok(d, "SELECT 1", PGRES_TUPLES_OK, 2000, &st), RPC_OK, "%s", st.message);
	cr_assert_eq(frozen_until_stopped(d, p, "INSERT INTO t VALUES (5)", PGRES_COMMAND_OK, &took, &st),
	    RPC_DEADLINE_EXCEEDED, "%s", st.message);
	cr_assert_str_eq(st.message, "stopped: the outcome is unknown");
	cr_assert_lt(took, 2000, "a stop 300 ms in ended the INSERT after %lld ms", (long long) took);
	db_free(d);
	tcp_proxy_stop(p);

	/* Migrations (start-up's) go through the same wait. */
	d = through_proxy(&p);
	atomic_store(&stop_flag, false);
	db_set_stop(d, db_stop_flag_set, &stop_flag);
	tcp_proxy_arm(p, TCP_PROXY_FREEZE, "pg_advisory_xact_lock");
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, stop_in_300_ms, NULL), 0);
	const db_migration m[] = {{"0001_test", "CREATE TABLE never (x int)"}};
	int64_t t0             = now_ms();
	rpc_code code          = db_migrate(d, 42, m, 1, &st);
	took                   = now_ms() - t0;
	pthread_join(t, NULL);
	cr_assert(tcp_proxy_met(p), "the migration's lock was never asked for");
	cr_assert_eq(code, RPC_UNAVAILABLE, "%s", st.message);
	cr_assert_lt(took, 2000, "a stop 300 ms in ended the migration after %lld ms", (long long) took);
	db_free(d);
	tcp_proxy_stop(p);
}

/* The value of setting name on d's connection. */
static void
setting_is(db *d, const char *name, const char *want)
{
	char sql[96];
	snprintf(sql, sizeof(sql), "SHOW %s", name);
	rpc_status st;
	PGresult *r = db_exec(d, sql, 0, NULL, PGRES_TUPLES_OK, "test", &st);
	cr_assert_not_null(r, "%s: %s (%s)", sql, st.message, db_last_error(d));
	cr_assert_str_eq(PQgetvalue(r, 0, 0), want, "%s", name);
	PQclear(r);
}

/* Issue 20's second attack, (3): the URL's options (and PGOPTIONS) were
 * replaced by the services' own -c settings. Now theirs go after ours:
 * the user's statement_timeout wins, and ours without a rival stay. */
Test(db_failover, the_users_options_win_over_the_services_own, .init = setup, .fini = teardown)
{
	char url[700];
	snprintf(url, sizeof(url), "%s?options=-c%%20statement_timeout%%3D1234", role_url);
	db *d = db_new(url);
	setting_is(d, "statement_timeout", "1234ms");
	setting_is(d, "client_connection_check_interval", "100ms");
	db_free(d);
	setenv("PGOPTIONS", "-c statement_timeout=4321", 1);
	d = db_new(role_url);
	setting_is(d, "statement_timeout", "4321ms");
	db_free(d);
	unsetenv("PGOPTIONS");
	d = db_new(role_url);
	setting_is(d, "statement_timeout", "5s");
	db_free(d);
}

/* Issue 20's second attack, (5): a health check whose budget left no time
 * for a round trip said PostgreSQL was "unreachable". Its reason now says
 * it was not asked. */
Test(db_failover, a_ping_with_no_time_left_says_it_did_not_ask, .init = setup, .fini = teardown)
{
	db *d = db_new(role_url);
	rpc_status st;
	cr_assert_eq(db_ping(d, &st), RPC_OK, "%s", db_last_error(d));
	db_set_deadline(d, rpc_clock_ms() - 1);
	cr_assert_eq(db_ping(d, &st), RPC_UNAVAILABLE);
	cr_assert_str_eq(db_last_error(d), "");
	cr_assert_not_null(strstr(st.message, "not asked"), "%s", st.message);
	cr_assert(db_connected(d), "the connection is kept");
	db_free(d);
}

/* Backends of the test's role waiting for a synchronous standby. */
static long
waiting_for_sync_rep(PGconn *c)
{
	char sql[200];
	snprintf(sql, sizeof(sql),
	    "SELECT count(*) FROM pg_stat_activity WHERE usename = '%s' AND wait_event = 'SyncRep'", role);
	return query_number(c, sql);
}

/* Issue 20's second attack, (4): a COMMIT cut by its deadline while it
 * waited for a synchronous standby kept its backend (PostgreSQL does not
 * look at the client during that wait), and each reconnect added one: with
 * the standby away, cut COMMITs filled max_connections. Now a cut sends the
 * server a cancel (from a thread of its own) before closing: the wait ends
 * and the backend with it. synchronous_standby_names is the server's
 * setting, so this runs on an instance of its own (failover_pg_standby:
 * PG_STANDBY_PORT set), naming a standby that never comes. */
Test(db_failover, a_cut_commit_waiting_for_a_synchronous_standby_leaves_no_backend, .init = setup, .fini = teardown)
{
	if (getenv("PG_STANDBY_PORT") == NULL)
		cr_skip_test("needs an instance of its own (ctest failover_pg_standby)");
	PGconn *c = admin("postgres");
	exec_ok(c, "ALTER SYSTEM SET synchronous_standby_names = 'no_such_standby'");
	exec_ok(c, "SELECT pg_reload_conf()");
	sleep_ms(500); /* the reload reaches the postmaster, then new sessions */
	db *d = db_new(role_url);
	rpc_status st;
	int64_t took;
	rpc_code codes[3];
	for (int i = 0; i < 3; i++) {
		db_set_deadline(d, 0);
		cr_assert_eq(run_until_ok(d, "BEGIN", PGRES_COMMAND_OK, 6000, &st), RPC_OK, "%s", st.message);
		cr_assert_eq(run(d, "INSERT INTO t VALUES (9)", PGRES_COMMAND_OK, &st), RPC_OK, "%s", st.message);
		codes[i] = run_within(d, "COMMIT", PGRES_COMMAND_OK, 300, &took, &st);
	}
	long waiting = 0;
	for (int i = 0; i < 40 && (waiting = waiting_for_sync_rep(c)) > 0; i++)
		sleep_ms(50);
	exec_ok(c, "ALTER SYSTEM RESET synchronous_standby_names");
	exec_ok(c, "SELECT pg_reload_conf()");
	PQfinish(c);
	db_free(d);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(codes[i], RPC_DEADLINE_EXCEEDED, "COMMIT %d: %s", i, rpc_code_name(codes[i]));
	cr_assert_eq(
	    waiting, 0, "%ld backends still wait for the synchronous standby 2 s after 3 cut COMMITs", waiting);
	cr_assert_eq(rows_with(9), 3, "each COMMIT was done locally (PostgreSQL's warning says so)");
}

/* ---- Issue 20's third attack ---- */

static void
terminate_role_backends(void)
{
	PGconn *c = admin("postgres");
	char sql[200];
	snprintf(sql, sizeof(sql), "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = '%s'",
	    role);
	query_number(c, sql);
	PQfinish(c);
}

typedef struct insert_call {
	db *d;
	rpc_status st;
	rpc_code code;
} insert_call;

static void *
insert_with_a_parameter(void *arg)
{
	insert_call *c           = arg;
	const char *const args[] = {"7777"};
	rpc_status_clear(&c->st);
	PGresult *r = db_exec(c->d, "INSERT INTO t VALUES ($1::int)", 1, args, PGRES_COMMAND_OK, "test", &c->st);
	c->code     = r != NULL ? RPC_OK : c->st.code;
	PQclear(r);
	return NULL;
}

/* The third attack, F1: an autocommit statement with parameters (the
 * extended protocol) commits at its Sync, after its result was sent; a
 * backend terminated between the two flushes the result, then its FATAL,
 * and the statement was rolled back: it answered 201 with no row. Now a
 * result followed by the session's end is "outcome unknown" (504) for such
 * a statement. Here the proxy holds back the Sync while the backend is
 * terminated. */
Test(db_failover, a_result_then_the_sessions_end_before_the_sync_is_unknown, .init = setup, .fini = teardown)
{
	tcp_proxy *p;
	insert_call call = {.d = through_proxy(&p)};
	/* Prepared first: the statement's Bind then holds only "7777". */
	const char *const args[] = {"1"};
	rpc_status st;
	PQclear(db_exec(call.d, "INSERT INTO t VALUES ($1::int)", 1, args, PGRES_COMMAND_OK, "test", &st));
	tcp_proxy_arm(p, TCP_PROXY_HOLD_TAIL, "7777");
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, insert_with_a_parameter, &call), 0);
	for (int i = 0; i < 100 && !tcp_proxy_met(p); i++)
		sleep_ms(20);
	cr_assert(tcp_proxy_met(p), "the INSERT never reached the proxy");
	sleep_ms(200); /* the server ran it, and waits for the Sync */
	terminate_role_backends();
	sleep_ms(200);
	tcp_proxy_release(p);
	pthread_join(t, NULL);
	cr_assert_eq(call.code, RPC_DEADLINE_EXCEEDED, "%s", call.st.message);
	cr_assert_str_eq(call.st.message, "database connection lost: the outcome is unknown");
	cr_assert_eq(rows_with(7777), 0, "(it was rolled back: answering 201 was wrong)");
	db_free(call.d);
	tcp_proxy_stop(p);
}

/* The third attack, F3: a backend terminated while its connection was
 * idle sends a FATAL (57P01), which the next call read as a notice before
 * the close itself arrived; the statement then went out on the dead
 * connection and met a reset: 504 "outcome unknown" for a statement that
 * never ran. Now the FATAL ends the connection before the statement is
 * sent, and the call connects again and succeeds. */
Test(
    db_failover, a_fatal_read_while_idle_ends_the_connection_before_the_next_statement, .init = setup, .fini = teardown)
{
	tcp_proxy *p;
	db *d = through_proxy(&p);
	tcp_proxy_hold_close(p, true);
	terminate_role_backends();
	sleep_ms(300); /* the FATAL waits in the client's socket; its close is held */
	rpc_status st;
	cr_assert_eq(
	    run(d, "INSERT INTO t VALUES (8)", PGRES_COMMAND_OK, &st), RPC_OK, "%s (%s)", st.message, db_last_error(d));
	cr_assert_eq(rows_with(8), 1);
	db_free(d);
	tcp_proxy_stop(p);
}

/* The third attack, F5: each statement cut by its deadline took the
 * reconnect backoff, so one client with a tiny budget made a healthy
 * database answer 503 to the next callers of that worker. Now a cut closes
 * the connection without it: the next call connects again at once. */
Test(db_failover, a_cut_statement_does_not_make_the_next_call_wait, .init = setup, .fini = teardown)
{
	db *d = db_new(role_url);
	rpc_status st;
	cr_assert_eq(insert_by(d, 0, &st), RPC_OK, "%s", db_last_error(d));
	PGconn *locker = admin(database);
	exec_ok(locker, "BEGIN");
	exec_ok(locker, "LOCK TABLE t IN ACCESS EXCLUSIVE MODE");
	cr_assert_eq(insert_by(d, 100, &st), RPC_DEADLINE_EXCEEDED, "%s", st.message);
	exec_ok(locker, "COMMIT");
	PQfinish(locker);
	int64_t took;
	cr_assert_eq(
	    run_within(d, "SELECT 1", PGRES_TUPLES_OK, 2000, &took, &st), RPC_OK, "the next call: %s", st.message);
	db_free(d);
}

/* The third attack, F6: a statement sent after the stop was cut before it
 * was given any time, even on a healthy server (the relay's COMMIT of a
 * batch the broker had confirmed: rolled back, published again). Now a stop
 * cuts only a statement that had its first 100 ms. */
Test(db_failover, a_statement_sent_after_the_stop_still_has_its_first_look, .init = setup, .fini = teardown)
{
	db *d = db_new(role_url);
	rpc_status st;
	cr_assert_eq(run(d, "SELECT 1", PGRES_TUPLES_OK, &st), RPC_OK, "%s", db_last_error(d));
	atomic_store(&stop_flag, true);
	db_set_stop(d, db_stop_flag_set, &stop_flag);
	cr_assert_eq(run(d, "INSERT INTO t VALUES (6)", PGRES_COMMAND_OK, &st), RPC_OK, "%s", st.message);
	cr_assert_eq(rows_with(6), 1);
	db_free(d);
}

/* The third attack, F7: an empty options= in the URL is a value (libpq
 * then takes no PGOPTIONS), and a service file's first line of a key is
 * the one libpq takes. */
Test(db_failover, options_are_read_as_libpq_reads_them, .init = setup, .fini = teardown)
{
	setenv("PGOPTIONS", "-c statement_timeout=4321", 1);
	char url[700];
	snprintf(url, sizeof(url), "%s?options=", role_url);
	db *d = db_new(url);
	setting_is(d, "statement_timeout", "5s");
	db_free(d);
	unsetenv("PGOPTIONS");
	char path[] = "/tmp/db-service-XXXXXX";
	int f       = mkstemp(path);
	cr_assert_geq(f, 0);
	const char text[] = "[opts]\noptions=-c statement_timeout=1111\noptions=-c statement_timeout=2222\n";
	cr_assert_eq(write(f, text, sizeof(text) - 1), (ssize_t) sizeof(text) - 1);
	close(f);
	setenv("PGSERVICEFILE", path, 1);
	snprintf(url, sizeof(url), "%s?service=opts", role_url);
	d = db_new(url);
	setting_is(d, "statement_timeout", "1111ms");
	db_free(d);
	unlink(path);
}
