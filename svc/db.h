/* A PostgreSQL connection that heals itself: connects lazily, and after a
 * failure reconnects with backoff, answering UNAVAILABLE meanwhile instead
 * of blocking or crashing. Plus the migration runner. One db per thread
 * (libpq connections are not thread-safe). */
#ifndef SVC_DB_H
#define SVC_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc/status.h"

typedef struct db db;

/* One migration: a name recorded in schema_migrations, and its SQL. */
typedef struct db_migration {
	const char *name;
	const char *sql;
} db_migration;

/* Checks a libpq URL or key=value string before anything connects:
 * PQconninfoParse, then what libpq would check only when connecting (each
 * host name or IP address, hostaddr, ports 1-65535 and their count,
 * sslmode, gssencmode, target_session_attrs, connect_timeout). Returns 0,
 * or -1 with a reason that reads after the quoted value and never holds a
 * password (libpq's own message may quote the URI: its passwords become
 * "***"). Thread-safe. */
int db_check_conninfo(const char *text, char *err, size_t errlen);

/* An ENV_CUSTOM parser (env.h) over db_check_conninfo; out is const char **
 * and gets the text. */
int db_env_parse_conninfo(const char *text, void *out, char *err, size_t errlen);

/* Checks, at start, what libpq fills in for what url (already checked by
 * db_check_conninfo) leaves out: the service file's section of its service
 * (service=, else PGSERVICE) and the PG* environment variables (PGHOST,
 * PGPORT, PGTARGETSESSIONATTRS, PGSSLMODE, PGCONNECT_TIMEOUT...), with the
 * same rules, since a bad one there fails every connect just the same.
 * Returns 0, or -1 with "PGNAME: 'value' cannot work: ..." (or "VARIABLE:
 * its service 'name' cannot work: ...") in err. variable names the URL's
 * variable (e.g. "USER_DB_URL"). Reads the environment: start-up only. */
int db_check_environment(const char *variable, const char *url, char *err, size_t errlen);

/* Logs, once at start, what connects will do with the url that variable
 * (e.g. "USER_DB_URL") gave: target_session_attrs=read-write added when
 * none was chosen (db_hosts.h: in the URL, its service or
 * PGTARGETSESSIONATTRS; info), a warning when the value chosen accepts a
 * server that cannot take writes (any, read-only, standby, prefer-standby),
 * else the value and where it came from (info). */
void db_log_url(const char *variable, const char *url);

/* Creates a handle for url (a libpq URI or conninfo); does not connect yet.
 * Returns NULL when out of memory. */
db *db_new(const char *url);

/* Closes the connection, and ends a connect under way; accepts NULL. */
void db_free(db *d);

/* Tells d the deadline of the request it now serves, in ms on
 * rpc_clock_ms's clock (rpc_call_deadline_ms); 0 for none (start-up, the
 * outbox relay, the event consumer). Kept until the next call of it: a
 * worker sets it as each request begins. */
void db_set_deadline(db *d, int64_t deadline_ms);

/* Tells d the id of the request it now serves (rpc_call_request_id; ""
 * or NULL for none), copied (63 bytes at most), for its log lines: kept
 * until the next call of it, as the deadline is. */
void db_set_request_id(db *d, const char *request_id);

/* Lets a connect without a deadline (db_set_deadline 0: start-up, the
 * outbox relay, the event consumer) end as soon as stopping(arg) says
 * true, asked every 100 ms while it waits: the connect is kept, as at a
 * deadline, and db_conn answers UNAVAILABLE. Without it such a connect
 * waits up to 2 s per silent address, and a stop (SIGTERM) with it.
 * stopping is called on d's thread; NULL for none. */
void db_set_stop(db *d, bool (*stopping)(void *arg), void *arg);

/* A db_set_stop check: whether the _Atomic bool at flag is set (a relay's
 * or a consumer's stop flag). */
bool db_stop_flag_set(void *flag);

/* A db_set_stop check for start-up work (migrations, a service's start
 * hook): whether a stop signal (SIGTERM, SIGINT) is pending, not yet taken
 * (base/signals.h: signals_stop_pending). arg is unused. */
bool db_stop_signal_pending(void *arg);

/* Returns a live connection, connecting (at most every backoff step) when
 * needed. On failure returns NULL with UNAVAILABLE in st (every host's
 * reason is logged). Borrowed until the next call on d.
 * A connect is asynchronous (PQconnectStartParams), one address at a time:
 * the URL's host, hostaddr and port lists (else its service's, else
 * PGHOST/PGHOSTADDR/PGPORT) are expanded as libpq does, an empty element
 * being libpq's default (db_hosts.h), and a host name is looked up here
 * (db_lookup.h: getaddrinfo_a, 2 s at most, bounded and kept between
 * calls as a connect is) and each of its addresses given to libpq as
 * hostaddr (the name kept for TLS and the password file). Each address has 2 s at most
 * (the URL's connect_timeout is not used), then the next is tried; they
 * are the time it was waited for: while a call drives the connect, and the
 * time between two calls only when what it waited for had not come by the
 * second (a server that answered meanwhile loses nothing). The connect
 * never outlives d's deadline (db_set_deadline): one not done when the
 * deadline comes is kept, the call answers UNAVAILABLE at once, and the
 * next call on d goes on with it (it is never queried before libpq
 * finished it). When such a kept connect then fails with an error (a
 * refusal, a reset, no route: not a host's 2 s), the call that finds it
 * makes one connect of its own within its deadline, past the backoff: the
 * kept one began under an earlier call's conditions (a network cut since
 * healed). That one is never begun again itself: when it fails too, the
 * backoff answers the calls after it. Without a deadline a connect takes at most 2 s per
 * address. Only a server that accepts writes is taken
 * (target_session_attrs=read-write, given unless a value was chosen: a
 * standby promoted meanwhile is found by the next connect, and a
 * read-only server is refused at connect, with libpq's reason), starting,
 * with read-write or primary, at the one that last took a connection of
 * this process (db_hosts.h). A value chosen means what libpq documents,
 * checked on each server reached; prefer-standby takes a standby if any
 * host is one (PostgreSQL 14+: in_hot_standby), else the first server that
 * answered, kept open meanwhile (not dialled twice). A connection
 * the server closed while it was idle is replaced at once, unless it was
 * inside a transaction: then NULL (UNAVAILABLE), since the rest of that
 * transaction must not run on a new connection without it. */
PGconn *db_conn(db *d, rpc_status *st);

/* Tells d that a statement failed (db_exec's rules for a statement that
 * may have committed are its own): if the connection is broken, or its
 * server cannot serve us (25006 read-only: a standby, which is then no
 * longer the host to start at; class 08; 57P01-03 shutting down), it is
 * dropped (and reconnected later) and UNAVAILABLE is returned; otherwise
 * the SQLSTATE maps to a code (23505 → ALREADY_EXISTS, 57014 statement
 * timeout → UNAVAILABLE, else INTERNAL). The server's text goes to the
 * log, not to st. */
rpc_code db_failed(db *d, const PGresult *res, const char *what, rpc_status *st);

/* Runs one parameterised statement (text parameters) on d's connection.
 * Returns the result, the caller's to PQclear, when its status is `expect`;
 * otherwise NULL, and st (not NULL) says why: db_failed's code and message,
 * UNAVAILABLE when there is no connection. The one report is st: read
 * st->code, there is no second copy of it.
 * The statement never outlives d's deadline (db_set_deadline): when the
 * deadline comes first the server is sent a cancel (from a thread of its
 * own) and the connection is closed (the next call connects again at
 * once, no backoff: one caller's tiny budget must not cost the next), and
 * the server ends the statement, within 100 ms even without the cancel
 * (client_connection_check_interval, PostgreSQL 14+), unless it had
 * finished. Inside a transaction, for any statement but COMMIT, that
 * rolls it back: UNAVAILABLE "database too slow", as for a SELECT.
 * Otherwise (an autocommit write, or COMMIT) it may have committed:
 * DEADLINE_EXCEEDED "database too slow: the outcome is unknown" (gRPC:
 * "might have completed"; the gateway's 504). A call already late sends
 * nothing and keeps the connection ("not asked: ..."). Without a deadline
 * it waits as long as the server takes (statement_timeout, 5 s, bounds a
 * server that answers), looking at the stop (db_set_stop) every 100 ms: a
 * frozen or cut-off server never answers, and a stop then closes the
 * connection with the same outcomes ("stopped", "stopped: the outcome is
 * unknown"). An answer lost with its connection is judged the same way:
 * the server's error (a SQLSTATE, 57P01 too) says the statement failed,
 * UNAVAILABLE; the connection lost with no word of the server's, for a
 * statement that may have committed, DEADLINE_EXCEEDED "database
 * connection lost: the outcome is unknown"; and a statement's own result
 * followed by the session's end (a FATAL) stands when it was committed
 * before its result (a simple query: COMMIT), and is unknown for an
 * autocommit statement with parameters (the extended protocol commits at
 * the Sync, after the result). A FATAL the server sends while no statement
 * runs (read as a notice) ends the connection before the next statement
 * is sent on it.
 * Statements without parameters go as simple queries (a migration may
 * hold several). db_rollback is bounded the same way. */
PGresult *db_exec(
    db *d, const char *sql, int n, const char *const *params, ExecStatusType expect, const char *what, rpc_status *st);

/* ROLLBACK when a connection is open; for the failure path of a
 * transaction. */
void db_rollback(db *d);

/* A round trip, for health checks: RPC_OK when a server answered and takes
 * writes, as every service needs; UNAVAILABLE when none answers, or the one
 * connected says it takes no writes (a standby taken with
 * target_session_attrs=any; the connection is kept, the operator chose
 * it). The reason is then db_last_error's. */
rpc_code db_ping(db *d, rpc_status *st);

/* Why the last connect, or the last db_ping, failed ("" when nothing has
 * failed): libpq's reasons per host, or the server's read-only state; no
 * password. Borrowed until the next call on d. */
const char *db_last_error(const db *d);

/* Whether a query would be sent to an open connection right now. */
bool db_connected(const db *d);

/* Applies, in order, the migrations not yet recorded in schema_migrations,
 * all in one transaction under an advisory lock (lock_key), so replicas
 * starting together apply each once; each statement through db_exec, so a
 * stop (db_set_stop) ends a wait on a frozen server. Returns RPC_OK or the
 * failure. */
rpc_code db_migrate(db *d, long long lock_key, const db_migration *migrations, size_t n, rpc_status *st);

/* db_migrate at start-up: waits, retrying every second, while PostgreSQL is
 * not reachable yet (containers start in any order), until one of the stop
 * signals arrives (base/signals.h: call signals_catch_stop first) or, when
 * max_wait_s > 0, that many seconds have passed.
 * The wait is logged when it begins and every 30 s (db_waiting_for_postgres
 * with the URL, password masked, and libpq's reason). Returns 0 when
 * migrated, 1 when a stop signal came first (a clean stop: exit 0), -1
 * after the bound or a failed migration (logged). */
int db_migrate_at_start(const char *url, long long lock_key, const db_migration *migrations, size_t n, int max_wait_s);

#endif
