/* db.h: libpq with reconnect and migrations. */
#include "svc/db.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/env.h"
#include "base/log.h"
#include "base/signals.h"
#include "svc/backoff.h"
#include "svc/db_hosts.h"
#include "svc/db_lookup.h"

/* Statements db_exec prepared on the current connection, by their text:
 * each is parsed and planned once per connection, not once per call. */
#define PREPARED_MAX 32

/* The longest reason kept from libpq (every host's, joined): three hosts'
 * refusals with their hints fit. */
#define DB_ERROR_MAX 1024

/* How long one address may take to connect (libpq's connect_timeout,
 * which its asynchronous connect does not apply: db_conn does), and one
 * host name's lookup. */
#define HOST_TIMEOUT_MS 2000

struct db {
	char *url;
	char last_error[DB_ERROR_MAX]; /* why the last connect failed, for the start-up wait */
	bool failing;                  /* connects have failed since the last success */
	PGconn *pg;                    /* a connection libpq finished (PGRES_POLLING_OK), or NULL */
	int pg_entry;                  /* the entry (db_hosts.h) pg reached */
	/* A connect under way (PQconnectStartParams), one host at a time; kept
	 * past a caller's deadline so the next call goes on with it. Never
	 * queried: it becomes pg only when PQconnectPoll says PGRES_POLLING_OK.
	 * NULL when none. */
	PGconn *connecting;
	PostgresPollingStatusType wants; /* what connecting waits for: READING or WRITING */
	int start, tried;                /* the connect's first entry (db_hosts.h), entries begun */
	int entry;                       /* the entry being connected to (index in hosts.entry) */
	db_lookup *lookup;               /* its host name's lookup under way, or NULL */
	char **addrs;                    /* its addresses (a host name's, looked up), or its hostaddr */
	int n_addrs, next_addr;          /* how many, and the next one to try */
	/* A host's 2 s count the time it was waited for: while a call drives
	 * the connect, and the time between calls when its answer had not
	 * come by the next one (an answer that came meanwhile costs nothing). */
	int64_t spent_ms;               /* of HOST_TIMEOUT_MS, by connecting's address */
	int64_t idle_since_ms;          /* when the last call left connecting; 0: none */
	bool host_timed_out;            /* an address or lookup of this connect had its 2 s */
	bool begun_again;               /* this connect is db_conn's second chance (begun again) */
	PGconn *fallback;               /* prefer-standby: the first server that is no standby */
	int fallback_entry;             /* its entry */
	char reasons[4 * DB_ERROR_MAX]; /* libpq's messages for the hosts that failed so far */
	int64_t deadline_ms;            /* the caller's (db_set_deadline), 0 for none */
	char request_id[64];            /* the request served (db_set_request_id), "" for none */
	/* The server ended pg's session (a FATAL, as a notice while idle, or
	 * after a statement's own result): pg is not to be used again. */
	bool session_ended;
	/* The statement's own result came, then the session ended before the
	 * server said it was ready again: for a statement sent with the
	 * extended protocol, which commits at its Sync, after the result,
	 * nobody knows whether it committed (db_exec). */
	bool ended_after_result;
	bool (*stopping)(void *arg); /* db_set_stop's, or NULL */
	void *stopping_arg;
	db_hosts hosts; /* the URL's hosts, tried from the one that last worked */
	backoff retry;
	const char *prepared[PREPARED_MAX]; /* copies; index i is statement "s<i>" */
	int n_prepared;
};

/* msg's lines (libpq writes one or two per host it tried, and a statement
 * error's detail on more) joined with "; " into out, each without its
 * leading tab and without the final newline; cut with "..." when longer
 * than out. */
static void
db_error_lines(const char *msg, char *out, size_t len)
{
	size_t used = 0;
	out[0]      = '\0';
	for (const char *p = msg; *p != '\0' && used < len;) {
		p += strspn(p, " \t\n");
		size_t n = strcspn(p, "\n");
		if (n > 0)
			used += (size_t) snprintf(out + used, len - used, "%s%.*s", used > 0 ? "; " : "", (int) n, p);
		p += n;
	}
	if (used >= len && len > 4)
		memcpy(out + len - 4, "...", 4);
}

static void
forget_prepared(db *d)
{
	for (int i = 0; i < d->n_prepared; i++)
		free((char *) d->prepared[i]);
	d->n_prepared = 0;
}

static void free_addrs(db *d);

/* Every connection of this process reaches the same PostgreSQL: one that
 * got through tells the others, waiting out their backoff, to try now. */
static _Atomic uint64_t connects_succeeded;

db *
db_new(const char *url)
{
	db *d = calloc(1, sizeof(*d));
	if (d == NULL || (d->url = strdup(url)) == NULL || db_hosts_init(&d->hosts, url) != 0) {
		if (d != NULL)
			free(d->url);
		free(d);
		return NULL;
	}
	backoff_init(&d->retry, 100, 5000);
	backoff_share(&d->retry, &connects_succeeded);
	return d;
}

void
db_free(db *d)
{
	if (d == NULL)
		return;
	PQfinish(d->pg);
	PQfinish(d->connecting); /* a connect under way ends here too */
	PQfinish(d->fallback);
	db_lookup_free(d->lookup);
	free_addrs(d);
	forget_prepared(d);
	db_hosts_free(&d->hosts);
	free(d->url);
	free(d);
}

bool
db_connected(const db *d)
{
	return d->pg != NULL && PQstatus(d->pg) == CONNECTION_OK;
}

void
db_set_deadline(db *d, int64_t deadline_ms)
{
	d->deadline_ms = deadline_ms;
}

void
db_set_request_id(db *d, const char *request_id)
{
	snprintf(d->request_id, sizeof(d->request_id), "%s", request_id != NULL ? request_id : "");
}

/* The request id d's log lines carry: NULL ("-") for none. */
static const char *
request_of(const db *d)
{
	return d->request_id[0] != '\0' ? d->request_id : NULL;
}

void
db_set_stop(db *d, bool (*stopping)(void *arg), void *arg)
{
	d->stopping     = stopping;
	d->stopping_arg = arg;
}

bool
db_stop_flag_set(void *flag)
{
	return atomic_load((_Atomic bool *) flag);
}

bool
db_stop_signal_pending(void *unused)
{
	(void) unused;
	return signals_stop_pending();
}

/* How often a connect without a deadline looks at db_set_stop's check. */
#define STOP_LOOK_MS 100

/* Until when a wait of the connect begun at now may last: the address's
 * 2 s, the caller's deadline, and without one, the next look at the stop. */
static int64_t
wait_until(const db *d, int64_t now)
{
	int64_t until = now + (HOST_TIMEOUT_MS - d->spent_ms);
	if (d->deadline_ms > 0 && d->deadline_ms < until)
		until = d->deadline_ms;
	if (d->deadline_ms == 0 && d->stopping != NULL && now + STOP_LOOK_MS < until)
		until = now + STOP_LOOK_MS;
	return until;
}

/* Whether the connect must end now, kept: the deadline came, or, without
 * one, the stop (db_set_stop). */
static bool
must_end(const db *d, int64_t now)
{
	if (d->deadline_ms > 0)
		return now >= d->deadline_ms;
	return d->stopping != NULL && d->stopping(d->stopping_arg);
}

static void
drop(db *d)
{
	PQfinish(d->pg);
	d->pg = NULL;
	PQfinish(d->connecting);
	d->connecting = NULL;
	PQfinish(d->fallback);
	d->fallback = NULL;
	db_lookup_free(d->lookup);
	d->lookup = NULL;
	forget_prepared(d);
	d->session_ended = false;
	/* failed() reads ended_after_result before it drops. */
	d->ended_after_result = false;
	backoff_failed(&d->retry);
}

/* Closes d's connection without the backoff: a connection the server
 * closed, or a statement cut by its deadline or a stop (cancelled and
 * closed: the server is not known to be down, and a caller with a tiny
 * budget must not make the next callers wait). */
static void
close_now(db *d)
{
	PQfinish(d->pg);
	d->pg                 = NULL;
	d->session_ended      = false;
	d->ended_after_result = false;
	forget_prepared(d);
}

/* Server notices ("already exists, skipping") are not ours to print. An
 * error that arrives while no statement runs comes as one too: a FATAL
 * (57P01: the backend terminated, a fast shutdown) ends the session before
 * the server closes the socket, and a statement sent in between would meet
 * a reset, with no word of the server's to say it never ran. */
static void
on_notice(void *arg, const PGresult *notice)
{
	db *d                = arg;
	const char *severity = PQresultErrorField(notice, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *state    = PQresultErrorField(notice, PG_DIAG_SQLSTATE);
	/* An immediate shutdown or a crash says goodbye as a WARNING with
	 * 57P01/57P02 (quickdie) before the backend exits. */
	if ((severity != NULL && (strcmp(severity, "FATAL") == 0 || strcmp(severity, "PANIC") == 0)) ||
	    (state != NULL && strncmp(state, "57P", 3) == 0))
		d->session_ended = true;
	log_debug(request_of(d), "db_notice text=\"%.200s\"", PQresultErrorMessage(notice));
}

/* An idle connection the server closed (a restart, say) has something to
 * read: its goodbye. Noticed here, it is replaced before a request is sent
 * on it, instead of failing that request. */
static bool
closed_while_idle(db *d)
{
	/* The server's last message comes before its end of stream: read
	 * until nothing is left, and see whether the stream ended, or the
	 * server said it ends it (a FATAL, on_notice). */
	for (int reads = 0; reads < 4 && !d->session_ended; reads++) {
		struct pollfd p = {.fd = PQsocket(d->pg), .events = POLLIN};
		if (poll(&p, 1, 0) <= 0)
			return false;
		if (!PQconsumeInput(d->pg) || PQstatus(d->pg) != CONNECTION_OK)
			return true;
		(void) PQisBusy(d->pg); /* parses what was read: a FATAL reaches on_notice */
	}
	return d->session_ended;
}

/* Adds msg (libpq's lines for one host) to the connect's reasons. */
static void
add_reason(db *d, const char *msg)
{
	size_t used = strlen(d->reasons);
	snprintf(d->reasons + used, sizeof(d->reasons) - used, "%s%s", msg,
	    msg[0] != '\0' && msg[strlen(msg) - 1] != '\n' ? "\n" : "");
}

/* Ends the host being connected to, with why. */
static void
host_failed(db *d, const char *why)
{
	add_reason(d, why);
	PQfinish(d->connecting);
	d->connecting = NULL;
}

/* d->reasons joined on one line, without the password, into out. */
static void
reasons_line(db *d, char *out, size_t len)
{
	db_error_lines(d->reasons[0] != '\0' ? d->reasons : "no host to connect to", out, len);
	env_scrub(out, len, d->url); /* libpq may quote a part of the URL */
}

static void
free_addrs(db *d)
{
	for (int i = 0; i < d->n_addrs; i++)
		free(d->addrs[i]);
	free(d->addrs);
	d->addrs   = NULL;
	d->n_addrs = d->next_addr = 0;
}

/* Whether host names a Unix socket directory (libpq: an absolute path, or
 * '@' for an abstract socket): nothing to look up. */
static bool
is_socket_path(const char *host)
{
	return host[0] == '/' || host[0] == '@';
}

/* Whether entry e's host is a name to look up: no hostaddr, and neither
 * empty (libpq's default socket) nor a Unix socket directory. */
static bool
needs_lookup(const db_host *e)
{
	return e->hostaddr[0] == '\0' && e->host[0] != '\0' && !is_socket_path(e->host);
}

/* The reason a lookup of e's host failed, in libpq's words. */
static void
lookup_failed(db *d, const char *why)
{
	char line[512];
	snprintf(line, sizeof(line), "could not translate host name \"%s\" to address: %s\n",
	    d->hosts.entry[d->entry].host, why);
	add_reason(d, line);
}

/* When host is an IP address (getaddrinfo with AI_NUMERICHOST: no query,
 * no thread), it as the entry's one address, and true. */
static bool
numeric_address(db *d, const char *host)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST};
	struct addrinfo *list = NULL;
	if (getaddrinfo(host, NULL, &hints, &list) != 0)
		return false;
	freeaddrinfo(list);
	d->addrs = malloc(sizeof(*d->addrs));
	if (d->addrs == NULL || (d->addrs[0] = strdup(host)) == NULL) {
		free(d->addrs);
		d->addrs = NULL;
		return false; /* looked up then, as a name */
	}
	d->n_addrs = 1;
	return true;
}

/* Begins entry d->entry: its host name's lookup (db_lookup.h: libpq tries
 * a name's addresses in getaddrinfo's order, connect_timeout each, and
 * so does db), else its hostaddr as given ("" for a Unix socket or
 * libpq's default) as its one address. False, with the reason added, when
 * neither could begin. */
static bool
begin_entry(db *d)
{
	const db_host *e = &d->hosts.entry[d->entry];
	free_addrs(d);
	d->spent_ms      = 0;
	d->idle_since_ms = 0;
	if (needs_lookup(e) && numeric_address(d, e->host))
		return true;
	if (needs_lookup(e)) {
		int err   = 0;
		d->lookup = db_lookup_start(e->host, &err);
		if (d->lookup == NULL)
			lookup_failed(d, gai_strerror(err));
		return d->lookup != NULL;
	}
	d->addrs = malloc(sizeof(*d->addrs));
	if (d->addrs == NULL || (d->addrs[0] = strdup(e->hostaddr)) == NULL) {
		free(d->addrs);
		d->addrs = NULL;
		add_reason(d, "out of memory");
		return false;
	}
	d->n_addrs = 1;
	return true;
}

/* The lookup under way done: its addresses become the entry's. */
static void
lookup_done(db *d)
{
	int rc = db_lookup_result(d->lookup, &d->addrs, &d->n_addrs);
	if (rc != 0)
		lookup_failed(d, gai_strerror(rc));
	db_lookup_free(d->lookup);
	d->lookup    = NULL;
	d->next_addr = 0;
}

/* The target_session_attrs each connect gives libpq: the value chosen (the
 * URL's, its service's or PGTARGETSESSIONATTRS), read-write when none was;
 * any for prefer-standby, whose two passes db does (connect_go_on). Each
 * other value means for one host what it means for a list (libpq checks it
 * on each server it reaches). */
static const char *
session_attrs_for_libpq(const db *d)
{
	if (d->hosts.session_attrs != NULL)
		return d->hosts.session_attrs;
	return strcmp(d->hosts.given, "prefer-standby") == 0 ? "any" : d->hosts.given;
}

/* Begins the next address of the connect: the current entry's next one,
 * else the next entry (begin_entry; with a lookup to wait for, true
 * without a connect begun). PQconnectStartParams with that host alone
 * (db_hosts_conninfo: the URL's other settings, sslmode, gssencmode...
 * stay; the host name kept for TLS and the password file, its address as
 * hostaddr), so each address gets its own bound. Statements cannot
 * outlive any caller's deadline by much (statement_timeout). False when
 * no address is left. */
static bool
begin_address(db *d)
{
	while (d->next_addr >= d->n_addrs) {
		if (d->tried >= d->hosts.n) {
			free_addrs(d);
			return false;
		}
		d->entry = (d->start + d->tried) % d->hosts.n;
		d->tried++;
		if (begin_entry(d) && d->lookup != NULL)
			return true;
	}
	char *conninfo     = db_hosts_conninfo(&d->hosts, d->entry, d->addrs[d->next_addr++]);
	const char *keys[] = {"dbname", "target_session_attrs", "options", "application_name", NULL};
	/* client_connection_check_interval (PostgreSQL 14+): a backend whose
	 * client closed the connection (a statement cut by its deadline,
	 * db_exec) ends its statement, rolled back, within 100 ms instead of
	 * running on, blocked, until statement_timeout. The user's options
	 * (the URL's, its service's or PGOPTIONS) go after ours: the server
	 * takes the last -c of a name, so theirs win. */
	static const char ours[] = "-c statement_timeout=5000 -c client_connection_check_interval=100 ";
	size_t len               = sizeof(ours) + strlen(d->hosts.options);
	char *options            = malloc(len);
	if (options != NULL)
		snprintf(options, len, "%s%s", ours, d->hosts.options);
	const char *values[] = {conninfo, session_attrs_for_libpq(d), options, "microservices", NULL};
	d->connecting        = conninfo != NULL && options != NULL ? PQconnectStartParams(keys, values, 1) : NULL;
	free(options);
	d->spent_ms      = 0;
	d->idle_since_ms = 0;
	d->wants         = PGRES_POLLING_WRITING; /* libpq's docs: as if PQconnectPoll had said so */
	free(conninfo);
	if (d->connecting == NULL)
		add_reason(d, "out of memory");
	else if (PQstatus(d->connecting) == CONNECTION_BAD)
		host_failed(d, PQerrorMessage(d->connecting));
	return true;
}

/* A connect that failed on every host: logged, and the backoff begins. */
static void
connect_failed(db *d)
{
	char reason[sizeof(d->last_error)];
	reasons_line(d, reason, sizeof(reason));
	snprintf(d->last_error, sizeof(d->last_error), "%s", reason);
	drop(d);
	/* Once per outage at warn; each retry after it at debug. A reason
	 * quotes host names: escaped, so the field ends where it should. */
	char quoted[2 * sizeof(reason)];
	log_quote(reason, quoted, sizeof(quoted));
	if (!d->failing)
		log_warn(request_of(d), "db_connect_failed retry_ms=%d reason=\"%s\"", d->retry.current_ms, quoted);
	else
		log_debug(request_of(d), "db_connect_failed retry_ms=%d reason=\"%s\"", d->retry.current_ms, quoted);
	d->failing = true;
}

/* The server connecting reached, for a reason line: libpq's words. */
static void
server_named(PGconn *c, char *out, size_t len)
{
	const char *host = PQhost(c), *addr = PQhostaddr(c), *port = PQport(c);
	if (addr != NULL && addr[0] != '\0' && host != NULL && strcmp(host, addr) != 0)
		snprintf(out, len, "server at \"%s\" (%s), port %s", host, addr, port != NULL ? port : "?");
	else
		snprintf(out, len, "server at \"%s\", port %s", host != NULL ? host : "?", port != NULL ? port : "?");
}

/* PostgreSQL 14+ reports in_hot_standby (libpq's test for standby). */
static bool
is_standby(PGconn *c)
{
	const char *v = PQparameterStatus(c, "in_hot_standby");
	return v != NULL && strcmp(v, "on") == 0;
}

/* A connect libpq finished: taken, or with prefer-standby a server that
 * is no standby kept as the fallback (the first one only) while the
 * others are tried for a standby: libpq's two passes (first only
 * standbys, then any) without dialling a host twice. True when taken. */
static bool
connected(db *d)
{
	PGconn *c     = d->connecting;
	d->connecting = NULL;
	if (strcmp(d->hosts.given, "prefer-standby") != 0 || is_standby(c)) {
		PQfinish(d->fallback);
		d->fallback = NULL;
		d->pg       = c;
		d->pg_entry = d->entry;
		return true;
	}
	char name[512], why[640];
	server_named(c, name, sizeof(name));
	snprintf(why, sizeof(why), "connection to %s: not a standby (prefer-standby: %s)\n", name,
	    d->fallback == NULL ? "taken if no host is one" : "another was first");
	add_reason(d, why);
	if (d->fallback == NULL) {
		d->fallback       = c;
		d->fallback_entry = d->entry;
	} else {
		PQfinish(c);
	}
	return false;
}

/* The message for a connect kept past the caller's deadline: the reasons
 * so far and what is waited for, into d->last_error (and the log). */
static void
kept(db *d, const char *waiting_for)
{
	char all[sizeof(d->reasons)];
	size_t used = strlen(d->reasons);
	memcpy(all, d->reasons, used);
	snprintf(all + used, sizeof(all) - used, "%s: no answer yet", waiting_for);
	db_error_lines(all, d->last_error, sizeof(d->last_error));
	env_scrub(d->last_error, sizeof(d->last_error), d->url);
	d->idle_since_ms = rpc_clock_ms();
	char quoted[2 * sizeof(d->last_error)];
	log_quote(d->last_error, quoted, sizeof(quoted));
	log_debug(request_of(d), "db_connect_pending reason=\"%s\"", quoted);
}

/* Waits for the lookup under way, within the host's 2 s and the caller's
 * deadline. True when the connect goes on (the lookup done, or failed:
 * the next entry then); false when it is kept for the next call. */
static bool
lookup_go_on(db *d)
{
	int64_t now = rpc_clock_ms(), until = wait_until(d, now);
	bool done     = db_lookup_wait(d->lookup, until > now ? (int) (until - now) : 0);
	int64_t after = rpc_clock_ms();
	d->spent_ms += after - now;
	if (done) {
		lookup_done(d);
		return true;
	}
	if (d->spent_ms >= HOST_TIMEOUT_MS) {
		d->host_timed_out = true;
		lookup_failed(d, "timeout expired");
		db_lookup_free(d->lookup);
		d->lookup = NULL;
		return true;
	}
	if (must_end(d, after)) {
		char what[512];
		snprintf(what, sizeof(what), "looking up \"%s\"", d->hosts.entry[d->entry].host);
		kept(d, what);
		return false;
	}
	return true; /* woken early (a signal): wait again */
}

/* Drives the connect under way (libpq's PQconnectPoll loop on PQsocket)
 * until it is done, every host failed, or the caller's deadline came.
 * True with d->pg connected; false otherwise: the connect failed (and the
 * backoff began), or it is kept in d->connecting for the next call. */
static bool
connect_go_on(db *d)
{
	if (d->idle_since_ms != 0) {
		/* Kept since the last call: that time counts against the host
		 * only if what it was waited for has not come meanwhile. */
		bool came = false;
		if (d->lookup != NULL) {
			came = db_lookup_wait(d->lookup, 0);
		} else if (d->connecting != NULL) {
			struct pollfd p = {.fd = PQsocket(d->connecting),
			    .events            = d->wants == PGRES_POLLING_READING ? POLLIN : POLLOUT};
			came            = poll(&p, 1, 0) != 0;
		}
		if (!came)
			d->spent_ms += rpc_clock_ms() - d->idle_since_ms;
		d->idle_since_ms = 0;
	}
	for (;;) {
		if (d->lookup != NULL) {
			if (lookup_go_on(d))
				continue;
			return false;
		}
		if (d->connecting == NULL) {
			if (begin_address(d))
				continue;
			if (d->fallback != NULL) {
				/* prefer-standby's second pass: no standby answered. */
				d->pg       = d->fallback;
				d->pg_entry = d->fallback_entry;
				d->fallback = NULL;
				return true;
			}
			connect_failed(d);
			return false;
		}
		int64_t now = rpc_clock_ms(), until = wait_until(d, now);
		/* Past the bound, still one look (timeout 0): the answer may
		 * have come while no call was here to read it. */
		struct pollfd p = {
		    .fd = PQsocket(d->connecting), .events = d->wants == PGRES_POLLING_READING ? POLLIN : POLLOUT};
		int ready     = poll(&p, 1, until > now ? (int) (until - now) : 0);
		int64_t after = rpc_clock_ms();
		d->spent_ms += after - now;
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready < 0) {
			char why[256];
			snprintf(why, sizeof(why), "waiting for the server: %s", strerror(errno));
			host_failed(d, why);
			continue;
		}
		if (ready > 0) {
			/* An error on the socket is libpq's to report. */
			PostgresPollingStatusType ps = PQconnectPoll(d->connecting);
			if (ps == PGRES_POLLING_OK) {
				if (connected(d))
					return true;
				continue;
			}
			if (ps == PGRES_POLLING_FAILED) {
				host_failed(d, PQerrorMessage(d->connecting));
				continue;
			}
			d->wants = ps;
			d->spent_ms += rpc_clock_ms() - after; /* libpq's own work (TLS, SCRAM) counts too */
		}
		/* After any answer too, a look at the bounds: they do not rest
		 * on poll's timeout alone. */
		now = rpc_clock_ms();
		if (d->spent_ms >= HOST_TIMEOUT_MS) {
			/* libpq's words for its own connect_timeout. */
			char name[512], why[640];
			server_named(d->connecting, name, sizeof(name));
			snprintf(why, sizeof(why), "connection to %s failed: timeout expired\n", name);
			d->host_timed_out = true;
			host_failed(d, why);
			continue;
		}
		if (must_end(d, now)) {
			/* Kept: the next call goes on from here instead of
			 * beginning again at a host that takes HOST_TIMEOUT_MS. */
			char name[512], what[560];
			server_named(d->connecting, name, sizeof(name));
			snprintf(what, sizeof(what), "connecting to %s", name);
			kept(d, what);
			return false;
		}
	}
}

/* A new connect, from the host that last took one (db_hosts.h); again:
 * it replaces a kept one that failed (db_conn). */
static void
begin_connect(db *d, bool again)
{
	backoff_attempt(&d->retry);
	d->start          = db_hosts_start(&d->hosts);
	d->tried          = 0;
	d->reasons[0]     = '\0';
	d->host_timed_out = false;
	d->begun_again    = again;
	free_addrs(d);
}

PGconn *
db_conn(db *d, rpc_status *st)
{
	if (d->pg != NULL && PQstatus(d->pg) == CONNECTION_OK) {
		/* Read before the goodbye is: a closed connection's is unknown. */
		PGTransactionStatusType tx = PQtransactionStatus(d->pg);
		if (!closed_while_idle(d))
			return d->pg;
		close_now(d); /* no backoff: the server is likely back already */
		/* The transaction died with its connection: the caller's next
		 * statement must fail, not run on a new connection outside any
		 * transaction (a COMMIT there is a no-op that reads as success). */
		if (tx == PQTRANS_INTRANS || tx == PQTRANS_INERROR) {
			log_warn(request_of(d), "db_connection_lost in_transaction=yes");
			rpc_status_set(st, RPC_UNAVAILABLE, "database connection lost in a transaction");
			return NULL;
		}
		log_info(request_of(d), "db_connection_closed_by_server reconnecting=now");
	}
	if (d->pg != NULL) {
		/* Ended by the server after a statement's own result (one that
		 * committed: db_exec): replaced at once, as an idle one is. */
		close_now(d);
		log_info(request_of(d), "db_connection_closed_by_server reconnecting=now");
	}
	bool carried = d->connecting != NULL || d->lookup != NULL; /* kept by an earlier call */
	if (!carried) {
		if (!backoff_ready(&d->retry)) {
			rpc_status_set(st, RPC_UNAVAILABLE, "database unavailable");
			return NULL;
		}
		begin_connect(d, false);
	}
	bool ok = connect_go_on(d);
	/* A kept connect that ended in an error of the network or a server
	 * (refused, reset, no route) began under an earlier call's conditions:
	 * a network cut since healed, a server since restarted. This call,
	 * with time left, makes one of its own, past the backoff. Only once:
	 * a connect begun again is not begun again when it fails in turn (a
	 * server that fails slowly would otherwise take every call's whole
	 * deadline, the backoff never asked). Nor is a host that had its 2 s
	 * dialled again (silent hosts keep the backoff's fast answer). */
	if (!ok && carried && d->connecting == NULL && d->lookup == NULL && !d->host_timed_out && !d->begun_again &&
	    !must_end(d, rpc_clock_ms())) {
		log_info(request_of(d), "db_connect_again reason=\"the connect kept from an earlier call failed\"");
		begin_connect(d, true);
		ok = connect_go_on(d);
	}
	if (!ok) {
		rpc_status_set(st, RPC_UNAVAILABLE, "database unavailable");
		return NULL;
	}
	/* Server notices ("already exists, skipping") are not ours to print. */
	PQsetNoticeReceiver(d->pg, on_notice, d);
	db_hosts_connected(&d->hosts, d->pg_entry);
	d->last_error[0] = '\0';
	if (d->retry.current_ms != 0)
		log_info(request_of(d), "db_reconnected");
	d->failing = false;
	backoff_succeeded(&d->retry);
	return d->pg;
}

/* SQLSTATEs that say this connection's server cannot serve us (PostgreSQL
 * Appendix A): 25006 read_only_sql_transaction (a standby, or a primary
 * demoted behind a name that moved: the writable server is elsewhere),
 * class 08 connection_exception, and 57P01-57P03 (shutting down, crashed,
 * not accepting connections yet). */
static bool
wrong_server(const char *state)
{
	return state != NULL &&
	       (strcmp(state, "25006") == 0 || strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
	           strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0);
}

/* db_failed, for a statement that may have committed (db_exec's
 * may_commit): when its answer was lost with the connection, nobody knows
 * whether it did: DEADLINE_EXCEEDED (gRPC: "might have completed"; the
 * gateway's 504), not UNAVAILABLE, which says it was not done. Lost means
 * the server said nothing of it. An error of the server's has a SQLSTATE
 * and means the statement failed, rolled back (57P01 from a fast shutdown
 * too); PostgreSQL closes without one where it cannot say (an immediate
 * shutdown; a backend stopped while it waits for a synchronous standby
 * after committing locally), and so does a network that drops the
 * connection. */
static rpc_code
failed(db *d, const PGresult *res, const char *what, bool may_commit, rpc_status *st)
{
	const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg   = d->pg != NULL ? PQerrorMessage(d->pg) : "";
	if (d->pg == NULL || PQstatus(d->pg) != CONNECTION_OK || d->ended_after_result) {
		/* No word of the server's, or its result then the session's end
		 * before the Sync that commits it (keep_result). */
		const char *severity = res != NULL ? PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED) : NULL;
		/* A PANIC (a failed fsync in the commit, say) crashes the server,
		 * whose recovery may replay the commit: no word either. */
		bool panic   = severity != NULL && strcmp(severity, "PANIC") == 0;
		bool unknown = may_commit && (state == NULL || panic || d->ended_after_result);
		db_error_lines(msg[0] != '\0' ? msg : "connection lost", d->last_error, sizeof(d->last_error));
		env_scrub(d->last_error, sizeof(d->last_error), d->url);
		char quoted[2 * sizeof(d->last_error)];
		log_quote(d->last_error, quoted, sizeof(quoted));
		log_warn(request_of(d), "db_connection_lost during=%s outcome=%s reason=\"%s\"", what,
		    unknown         ? "unknown"
		    : state != NULL ? "failed"
		                    : "not_committed",
		    quoted);
		drop(d);
		if (unknown)
			return rpc_status_set(
			    st, RPC_DEADLINE_EXCEEDED, "database connection lost: the outcome is unknown");
		return rpc_status_set(st, RPC_UNAVAILABLE, "database unavailable");
	}
	if (wrong_server(state)) {
		/* Dropped, so the next connect (after the backoff) asks libpq
		 * again, which with target_session_attrs=read-write finds the
		 * server that takes writes now. A read-only server is not the
		 * one to start at either: the next connect goes through the
		 * list from its start (db_hosts.h). */
		if (strcmp(state, "25006") == 0)
			db_hosts_forget(&d->hosts);
		/* The reason the start-up wait reports (db_migrate_at_start). */
		db_error_lines(msg, d->last_error, sizeof(d->last_error));
		char quoted[2 * sizeof(d->last_error)];
		log_quote(d->last_error, quoted, sizeof(quoted));
		log_warn(request_of(d), "db_wrong_server during=%s sqlstate=%s reason=\"%s\" reconnecting=yes", what,
		    state, quoted);
		drop(d);
		return rpc_status_set(st, RPC_UNAVAILABLE, "database unavailable");
	}
	if (state != NULL && strcmp(state, "23505") == 0)
		return rpc_status_set(st, RPC_ALREADY_EXISTS, "already exists");
	if (state != NULL && strcmp(state, "57014") == 0) { /* statement timeout */
		log_warn(request_of(d), "db_statement_timeout during=%s", what);
		return rpc_status_set(st, RPC_UNAVAILABLE, "database too slow");
	}
	char first_line[256];
	snprintf(first_line, sizeof(first_line), "%s", msg);
	first_line[strcspn(first_line, "\n")] = '\0';
	char quoted[2 * sizeof(first_line)];
	log_quote(first_line, quoted, sizeof(quoted));
	log_error(
	    request_of(d), "db_error during=%s sqlstate=%s reason=\"%s\"", what, state != NULL ? state : "-", quoted);
	return rpc_status_set(st, RPC_INTERNAL, "internal error");
}

rpc_code
db_failed(db *d, const PGresult *res, const char *what, rpc_status *st)
{
	return failed(d, res, what, false, st);
}

/* Cancel requests of cut statements, sent from detached threads: libpq
 * 15's PQcancel dials the server with no timeout, so never on a caller's
 * thread. At most CANCELS_MAX at once per process: a server that does not
 * answer them must not gather threads. */
#define CANCELS_MAX 4
static _Atomic int cancels_running;

static void *
cancel_thread(void *arg)
{
	PGcancel *c = arg;
	char err[256];
	PQcancel(c, err, sizeof(err)); /* a backend already gone ignores it */
	PQfreeCancel(c);
	atomic_fetch_sub(&cancels_running, 1);
	return NULL;
}

/* Asks pg's server, from a thread of its own (which usually dials after
 * the caller closed pg), to cancel the statement running on it; skipped,
 * at debug, when CANCELS_MAX are under way. Closing alone ends a statement within
 * client_connection_check_interval, but not a COMMIT waiting for a
 * synchronous standby (PostgreSQL checks the client only between
 * statements, and the wait holds its interrupts): each cut one kept its
 * backend until the standby answered, and every reconnect added one. A
 * cancel ends that wait (the transaction stays committed locally, as
 * PostgreSQL warns), and the backend then finds its client gone. */
static void
cancel_in_background(PGconn *pg)
{
	if (atomic_fetch_add(&cancels_running, 1) >= CANCELS_MAX) {
		atomic_fetch_sub(&cancels_running, 1);
		log_debug(NULL, "db_cancel_skipped running=%d", CANCELS_MAX);
		return;
	}
	PGcancel *c = PQgetCancel(pg);
	pthread_attr_t attr;
	pthread_t t;
	bool started = false;
	if (c != NULL && pthread_attr_init(&attr) == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		started = pthread_create(&t, &attr, cancel_thread, c) == 0;
		pthread_attr_destroy(&attr);
	}
	if (!started) {
		PQfreeCancel(c);
		atomic_fetch_sub(&cancels_running, 1);
	}
}

/* Whether r is the server's word: a result, or an error with its SQLSTATE
 * (libpq's own errors, a connection lost, have none). */
static bool
from_server(const PGresult *r)
{
	return PQresultStatus(r) != PGRES_FATAL_ERROR || PQresultErrorField(r, PG_DIAG_SQLSTATE) != NULL;
}

/* Whether r ends the session rather than says anything of a statement:
 * libpq's news of a lost connection, or a FATAL (a backend terminated). */
static bool
ends_session(const PGresult *r)
{
	const char *severity = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
	return !from_server(r) ||
	       (severity != NULL && (strcmp(severity, "FATAL") == 0 || strcmp(severity, "PANIC") == 0));
}

/* When a statement's work is committed (PostgreSQL's protocol, 55.2): a
 * statement inside a transaction, or that is no write, commits nothing; an
 * autocommit statement sent with the extended protocol (parameters)
 * commits at its Sync, after its result was sent; one sent as a simple
 * query (a COMMIT, here) is committed before its result is sent. */
typedef enum commit_point {
	COMMITS_NOTHING,
	COMMITS_AFTER_RESULT,
	COMMITTED_BEFORE_RESULT,
} commit_point;

/* r becomes *last, the result a statement is judged by (one statement, one
 * result; a later statement's error, in a migration's several, is the
 * last), unless r only ends the session after what the server already
 * said: libpq's news of the connection lost after the server's error (a
 * FATAL 57P01, then the close) is dropped. A FATAL after the statement's
 * own result ends the session (d->session_ended) and then: the result
 * stands for a statement committed before it (COMMITTED_BEFORE_RESULT);
 * for one that commits at its Sync, nobody knows whether the Sync was
 * reached (d->ended_after_result: outcome unknown); inside a transaction
 * the error stands, the transaction died with the session. */
static void
keep_result(db *d, PGresult **last, PGresult *r, commit_point commit)
{
	bool answered = *last != NULL && PQresultStatus(*last) != PGRES_FATAL_ERROR;
	if (answered && ends_session(r)) {
		d->session_ended      = true;
		d->ended_after_result = commit == COMMITS_AFTER_RESULT;
		if (commit == COMMITTED_BEFORE_RESULT) {
			PQclear(r);
			return;
		}
	} else if (*last != NULL && from_server(*last) && !from_server(r)) {
		PQclear(r);
		return;
	}
	PQclear(*last);
	*last = r;
}

/* The result of the statement just sent on d->pg (PQsendQuery*), waited
 * for until d's deadline; with none, as long as the server takes (its
 * statement_timeout bounds a server that answers), looking at the stop
 * (db_set_stop) after each 100 ms: a frozen or cut-off server never
 * answers. NULL with *late when the deadline or the stop came first: the
 * server is sent a cancel (cancel_in_background) and the connection is
 * closed (close_now: no backoff, the next call connects again at once;
 * the one bounded way to stop waiting here, since libpq 15's PQcancel
 * dials with no timeout). The server ends the statement, rolled back,
 * unless it had already finished (the close alone within
 * client_connection_check_interval, 100 ms): what a cut statement did is
 * known only inside a transaction that was not being committed
 * (db_exec). */
static PGresult *
result_by_deadline(db *d, commit_point commit, bool *late)
{
	*late          = false;
	PGresult *last = NULL;  /* one statement, one result; an error's is the last */
	bool waited    = false; /* a stop cuts only a statement given one look of 100 ms */
	for (;;) {
		if (!PQisBusy(d->pg)) {
			PGresult *r = PQgetResult(d->pg);
			if (r == NULL)
				return last;
			keep_result(d, &last, r, commit);
			continue;
		}
		int wait_ms  = -1;
		int64_t left = d->deadline_ms > 0 ? d->deadline_ms - rpc_clock_ms() : STOP_LOOK_MS;
		if (left <= 0 ||
		    (d->deadline_ms == 0 && waited && d->stopping != NULL && d->stopping(d->stopping_arg))) {
			/* One last look: the answer may have come meanwhile. */
			struct pollfd p = {.fd = PQsocket(d->pg), .events = POLLIN};
			if (poll(&p, 1, 0) > 0 && PQconsumeInput(d->pg) && !PQisBusy(d->pg))
				continue;
			PQclear(last);
			cancel_in_background(d->pg);
			close_now(d);
			*late = true;
			return NULL;
		}
		if (d->deadline_ms > 0 || d->stopping != NULL)
			wait_ms = left > 60000 ? 60000 : (int) left;
		struct pollfd p = {.fd = PQsocket(d->pg), .events = POLLIN};
		int ready       = poll(&p, 1, wait_ms);
		waited          = true;
		if (ready < 0 && errno != EINTR)
			ready = 1; /* let libpq read, and say what is wrong */
		if (ready > 0 && !PQconsumeInput(d->pg)) {
			/* The connection broke: libpq's error result says so. */
			PGresult *r;
			while ((r = PQgetResult(d->pg)) != NULL)
				keep_result(d, &last, r, commit);
			return last;
		}
	}
}

/* The name of sql prepared on d's connection, preparing it on first use;
 * false (with res holding the failure, or NULL) when it could not be, and
 * *late when d's deadline came first (result_by_deadline). */
static bool
prepared_name(db *d, const char *sql, int n, char name[16], PGresult **res, bool *late)
{
	*res  = NULL;
	*late = false;
	int i = 0;
	while (i < d->n_prepared && strcmp(d->prepared[i], sql) != 0)
		i++;
	if (i == PREPARED_MAX)
		return false;
	snprintf(name, 16, "s%d", i);
	if (i < d->n_prepared)
		return true;
	char *copy = strdup(sql);
	if (copy == NULL)
		return false;
	if (PQsendPrepare(d->pg, name, sql, n, NULL))
		*res = result_by_deadline(d, COMMITS_NOTHING, late);
	if (PQresultStatus(*res) != PGRES_COMMAND_OK) {
		free(copy);
		return false;
	}
	PQclear(*res);
	*res                         = NULL;
	d->prepared[d->n_prepared++] = copy;
	return true;
}

PGresult *
db_exec(
    db *d, const char *sql, int n, const char *const *params, ExecStatusType expect, const char *what, rpc_status *st)
{
	PGconn *pg = db_conn(d, st);
	if (pg == NULL)
		return NULL;
	/* Statements with parameters are the repeated ones; BEGIN and COMMIT
	 * have nothing to plan. Each is sent, then its result awaited until
	 * the caller's deadline. */
	char name[16];
	PGresult *res = NULL;
	bool late     = false;
	if (d->deadline_ms > 0 && rpc_clock_ms() >= d->deadline_ms) {
		/* Too late to begin: nobody waits for the answer, and the
		 * connection is kept for the next request. */
		rpc_status_set(st, RPC_UNAVAILABLE, "not asked: the request's deadline left no time for the database");
		return NULL;
	}
	/* Inside a transaction, a statement other than COMMIT that is cut
	 * commits nothing (the transaction ends with the connection); any
	 * other may have committed before the server saw the close. */
	bool may_commit = (PQtransactionStatus(pg) == PQTRANS_IDLE && strcmp(sql, "BEGIN") != 0 &&
	                      strncmp(sql, "SELECT ", 7) != 0) || /* our SELECTs write nothing */
	                  strcmp(sql, "COMMIT") == 0;
	/* A simple query of several statements commits before its last
	 * result only: only a COMMIT's result says it was committed. */
	commit_point commit   = !may_commit                  ? COMMITS_NOTHING
	                        : strcmp(sql, "COMMIT") == 0 ? COMMITTED_BEFORE_RESULT
	                                                     : COMMITS_AFTER_RESULT;
	d->ended_after_result = false;
	bool sent             = false; /* the statement itself, not only its Parse */
	if (n > 0 && prepared_name(d, sql, n, name, &res, &late)) {
		if ((sent = PQsendQueryPrepared(pg, name, n, params, NULL, NULL, 0)))
			res = result_by_deadline(d, commit, &late);
	} else if (n == 0) {
		/* The simple protocol: a migration may hold several statements. */
		if ((sent = PQsendQuery(pg, sql)))
			res = result_by_deadline(d, commit, &late);
	} else if (res == NULL && !late) {
		if ((sent = PQsendQueryParams(pg, sql, n, NULL, params, NULL, NULL, 0)))
			res = result_by_deadline(d, commit, &late);
	}
	may_commit = may_commit && sent;
	if (late) {
		/* UNAVAILABLE (503) says it was not done; DEADLINE_EXCEEDED (504,
		 * gRPC: "the operation might have completed") that nobody knows. */
		bool stopped = d->deadline_ms == 0;
		log_warn(request_of(d), "db_%s during=%s connection=closed outcome=%s",
		    stopped ? "stopped" : "deadline_passed", what, may_commit ? "unknown" : "rolled_back");
		if (may_commit)
			rpc_status_set(st, RPC_DEADLINE_EXCEEDED,
			    stopped ? "stopped: the outcome is unknown" : "database too slow: the outcome is unknown");
		else
			rpc_status_set(st, RPC_UNAVAILABLE, stopped ? "stopped" : "database too slow");
		return NULL;
	}
	if (PQresultStatus(res) == expect)
		return res;
	failed(d, res, what, may_commit, st);
	PQclear(res);
	return NULL;
}

void
db_rollback(db *d)
{
	bool late;
	if (db_connected(d) && PQsendQuery(d->pg, "ROLLBACK"))
		PQclear(result_by_deadline(d, COMMITS_NOTHING, &late)); /* late: closed, which rolls back too */
}

/* Runs one statement through db_exec (bounded, stoppable: db_set_stop);
 * RPC_OK when it returned what was expected. */
static rpc_code
exec_ok(
    db *d, const char *sql, int n, const char *const *params, ExecStatusType expect, const char *what, rpc_status *st)
{
	PGresult *res = db_exec(d, sql, n, params, expect, what, st);
	rpc_code code = res != NULL ? RPC_OK : st->code;
	PQclear(res);
	return code;
}

rpc_code
db_migrate(db *d, long long lock_key, const db_migration *migrations, size_t n, rpc_status *st)
{
	rpc_code code;
	if ((code = exec_ok(d, "BEGIN", 0, NULL, PGRES_COMMAND_OK, "migrate", st)) != RPC_OK)
		return code;
	char key[32];
	snprintf(key, sizeof(key), "%lld", lock_key);
	const char *lock_params[] = {key};
	code =
	    exec_ok(d, "SELECT pg_advisory_xact_lock($1::bigint)", 1, lock_params, PGRES_TUPLES_OK, "migrate_lock", st);
	if (code == RPC_OK)
		code = exec_ok(d,
		    "CREATE TABLE IF NOT EXISTS schema_migrations ("
		    " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
		    0, NULL, PGRES_COMMAND_OK, "migrate_table", st);
	for (size_t i = 0; code == RPC_OK && i < n; i++) {
		const char *params[] = {migrations[i].name};
		PGresult *res        = db_exec(d, "SELECT 1 FROM schema_migrations WHERE name = $1", 1, params,
		           PGRES_TUPLES_OK, "migrate_check", st);
		if (res == NULL) {
			code = st->code;
		} else if (PQntuples(res) == 0) {
			log_info(NULL, "db_migration_applying name=%s", migrations[i].name);
			code = exec_ok(d, migrations[i].sql, 0, NULL, PGRES_COMMAND_OK, migrations[i].name, st);
			if (code == RPC_OK)
				code = exec_ok(d, "INSERT INTO schema_migrations (name) VALUES ($1)", 1, params,
				    PGRES_COMMAND_OK, "migrate_record", st);
		}
		PQclear(res);
	}
	if (code == RPC_OK)
		return exec_ok(d, "COMMIT", 0, NULL, PGRES_COMMAND_OK, "migrate_commit", st);
	db_rollback(d);
	return code;
}

/* Whether pg's server says it takes no writes: PostgreSQL 14+ reports
 * in_hot_standby (a standby) and default_transaction_read_only (a role or
 * database set so) as ParameterStatus, the values libpq 14+ reads for
 * target_session_attrs too, and reports their changes (a promotion). */
static const char *
read_only_because(PGconn *pg)
{
	const char *standby = PQparameterStatus(pg, "in_hot_standby");
	const char *ro      = PQparameterStatus(pg, "default_transaction_read_only");
	if (standby != NULL && strcmp(standby, "on") == 0)
		return "the server is a standby (in_hot_standby=on): writes fail";
	if (ro != NULL && strcmp(ro, "on") == 0)
		return "the server's sessions are read-only (default_transaction_read_only=on): writes fail";
	return NULL;
}

rpc_code
db_ping(db *d, rpc_status *st)
{
	rpc_status_clear(st);
	PQclear(db_exec(d, "SELECT 1", 0, NULL, PGRES_TUPLES_OK, "ping", st));
	const char *why = st->code == RPC_OK ? read_only_because(d->pg) : NULL;
	if (why != NULL) {
		snprintf(d->last_error, sizeof(d->last_error), "%s", why);
		return rpc_status_set(st, RPC_UNAVAILABLE, "database takes no writes");
	}
	return st->code;
}

const char *
db_last_error(const db *d)
{
	return d->last_error;
}

int
db_migrate_at_start(const char *url, long long lock_key, const db_migration *migrations, size_t n, int max_wait_s)
{
	db *d = db_new(url);
	if (d != NULL) /* a stop during a connect through silent hosts ends it */
		db_set_stop(d, db_stop_signal_pending, NULL);
	rpc_status st;
	int result = -1;
	char masked[512], shown[1024]; /* quoted: a key=value URL has spaces */
	env_mask_url(url, masked, sizeof(masked));
	log_quote(masked, shown, sizeof(shown));
	int64_t started = rpc_clock_ms(), next_report = 0;
	for (;;) {
		rpc_code code = db_migrate(d, lock_key, migrations, n, &st);
		if (code == RPC_OK) {
			if (next_report != 0)
				log_info(NULL, "db_ready url=\"%s\" waited_s=%lld", shown,
				    (long long) (rpc_clock_ms() - started) / 1000);
			result = 0;
			break;
		}
		if (signals_stop_pending()) { /* a stop cut it: a clean stop, whatever it answered */
			log_info(NULL, "db_wait_stopped url=\"%s\"", shown);
			result = 1;
			break;
		}
		if (code != RPC_UNAVAILABLE) {
			log_error(NULL, "db_migration_failed reason=\"%s\"", st.message);
			break;
		}
		/* One line when the wait begins, then one every 30 s: what is
		 * awaited, why, and for how long at most. */
		int64_t waited_ms = rpc_clock_ms() - started;
		char reason[2 * sizeof(d->last_error)];
		/* libpq's reason, else the statement's (a statement_timeout
		 * while another replica holds the migrations' lock). */
		log_quote(d->last_error[0] != '\0' ? d->last_error : st.message, reason, sizeof(reason));
		if (max_wait_s > 0 && waited_ms >= (int64_t) max_wait_s * 1000) {
			log_error(
			    NULL, "db_wait_gave_up url=\"%s\" waited_s=%d reason=\"%s\"", shown, max_wait_s, reason);
			break;
		}
		if (rpc_clock_ms() >= next_report) {
			char bound[32] = "until_stopped";
			if (max_wait_s > 0)
				snprintf(bound, sizeof(bound), "%d", max_wait_s);
			log_warn(NULL, "%s url=\"%s\" waited_s=%lld max_wait_s=%s reason=\"%s\"",
			    next_report == 0 ? "db_waiting_for_postgres" : "db_still_waiting_for_postgres", shown,
			    (long long) waited_ms / 1000, bound, reason);
			next_report = rpc_clock_ms() + 30000;
		}
		if (signals_wait_stop(1000) > 0) {
			log_info(NULL, "db_wait_stopped url=\"%s\"", shown);
			result = 1;
			break;
		}
	}
	db_free(d);
	return result;
}
