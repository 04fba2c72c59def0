/* The dialers of one REQ socket and their resolver: see dialer_set.h. */
#include "rpc/dialer_set.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/monotonic.h"
#include "rpc/address_set.h"
#include "rpc/envelope.h"
#include "rpc/nng_fixes.h"

/* At most this many URLs in one dial list (a list is at most 1023 bytes). */
#define TARGETS_MAX 32

/* The dialers of one replica (an address of a name, or a plain URL):
 * per_replica of them, each keeping one connection (nng's REQ writes one
 * request at a time per connection). Also a replica whose address left the
 * name: not a replica any more, but its connections may still carry calls,
 * so its dialers that have one stay until it ends (the replica drains and
 * closes it on SIGTERM) or RPC_DRAIN_MS pass; the others close at once. */
typedef struct replica {
	nng_dialer d[RPC_CONNECTIONS_PER_REPLICA_MAX];
	int pipes[RPC_CONNECTIONS_PER_REPLICA_MAX]; /* d[k]'s connections now (under mu) */
	size_t n;                                   /* dialers in d */
	int64_t close_at;                           /* leaving: ms, monotonic */
	char addr[RPC_ADDRESS_LEN];                 /* by_name: its address */
} replica;

/* One URL of the list and what it dials. */
typedef struct target {
	char url[256];
	rpc_dial_target t;
	replica replicas[RPC_ADDRESSES_MAX]; /* by_name: one per address dialed; one for a plain URL */
	size_t n_replicas;                   /* (changes under mu) */
	replica leaving[RPC_ADDRESSES_MAX];  /* by_name: addresses gone, draining (under mu) */
	size_t n_leaving;
	size_t left_out;   /* the last answer's addresses beyond RPC_ADDRESSES_MAX (resolver only) */
	char problem[160]; /* the last lookup's failure; "" after a good one (under mu) */
	size_t live;       /* n_replicas as others may read it (under mu) */
} target;

struct rpc_dialer_set {
	nng_socket sock;
	nng_tls_config *cfg; /* NULL: plain */
	int interval_ms;
	size_t per_replica; /* dialers per replica: rpc_dialer_set_open's, or 1 (nng < 1.6) */
	target targets[TARGETS_MAX];
	size_t n_targets;
	bool by_name; /* some target is a name: the resolver runs */

	pthread_mutex_t mu; /* guards what follows, and targets[].problem */
	pthread_cond_t cv;
	bool stop, kicked;
	bool changing; /* dialers are being started or closed: stop waits for it */
	int refs;      /* the owner's and the resolver thread's */
	size_t lookups;
};

static void
release(rpc_dialer_set *ds)
{
	pthread_mutex_lock(&ds->mu);
	bool last = --ds->refs == 0;
	pthread_mutex_unlock(&ds->mu);
	if (!last)
		return;
	if (ds->cfg != NULL)
		nng_tls_config_free(ds->cfg);
	pthread_cond_destroy(&ds->cv);
	pthread_mutex_destroy(&ds->mu);
	free(ds);
}

static int
start_dialer(rpc_dialer_set *ds, const char *url, nng_dialer *out)
{
	nng_dialer d = NNG_DIALER_INITIALIZER;
	int rv       = nng_dialer_create(&d, ds->sock, url);
	if (rv == 0 && ds->cfg != NULL)
		rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, ds->cfg);
	if (rv == 0)
		rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK); /* a blocking start would not retry */
	if (rv != 0 && nng_dialer_id(d) > 0)
		nng_dialer_close(d);
	if (rv == 0)
		*out = d;
	return rv;
}

static bool
stopping(rpc_dialer_set *ds)
{
	pthread_mutex_lock(&ds->mu);
	bool stop = ds->stop;
	pthread_mutex_unlock(&ds->mu);
	return stop;
}

/* Ends a lookup of tg: what it found wrong ("" when nothing) and the count
 * of lookups change together, so whoever waits for the count sees both. */
static void
lookup_done(rpc_dialer_set *ds, target *tg, const char *problem)
{
	pthread_mutex_lock(&ds->mu);
	bool changed = strcmp(tg->problem, problem) != 0;
	snprintf(tg->problem, sizeof(tg->problem), "%s", problem);
	ds->lookups++;
	pthread_mutex_unlock(&ds->mu);
	if (changed && problem[0] != '\0')
		log_warn(
		    NULL, "rpc_resolve_failed host=%s dialed=%zu reason=\"%s\"", tg->t.host, tg->n_replicas, problem);
}

/* tg's replica of address addr, or NULL. */
static replica *
find_replica(target *tg, const char *addr)
{
	for (size_t i = 0; i < tg->n_replicas; i++)
		if (strcmp(tg->replicas[i].addr, addr) == 0)
			return &tg->replicas[i];
	return NULL;
}

/* Starts r's missing dialers (a new replica's, or those that closed while
 * it drained, or failed to start last time), up to per_replica; a failure
 * is logged and tried again at the next lookup. Under mu: pipe events
 * count into r. */
static void
fill(rpc_dialer_set *ds, target *tg, replica *r)
{
	char url[320];
	if (r->n >= ds->per_replica)
		return;
	int err = rpc_dial_target_url(&tg->t, r->addr, url, sizeof(url)) != 0 ? -1 : 0;
	while (err == 0 && r->n < ds->per_replica) {
		nng_dialer d;
		if ((err = start_dialer(ds, url, &d)) != 0)
			break;
		r->pipes[r->n] = 0;
		r->d[r->n++]   = d;
	}
	if (err != 0)
		log_warn(NULL, "rpc_dial_failed host=%s address=%s dialers=%zu reason=\"%s\"", tg->t.host, r->addr,
		    r->n, err > 0 ? nng_strerror(err) : "URL too long");
}

/* Makes tg's replica count visible to other threads. */
static void
publish(rpc_dialer_set *ds, target *tg)
{
	pthread_mutex_lock(&ds->mu);
	tg->live = tg->n_replicas;
	pthread_mutex_unlock(&ds->mu);
}

/* Looks tg's name up and brings its dialers in line with the answer. Only
 * the resolver calls it (or the opener, when the resolver could not
 * start). */
static void
refresh(rpc_dialer_set *ds, target *tg, bool changes_are_news)
{
	rpc_address_set now;
	int rv            = rpc_address_set_resolve(&tg->t, &now);
	char problem[160] = "";
	if (rv != 0)
		snprintf(problem, sizeof(problem), "%.64s: %s", tg->t.host, gai_strerror(rv));
	else if (now.n == 0)
		snprintf(problem, sizeof(problem), "%.64s: no address of the URL's IP version", tg->t.host);
	/* Once stopped, the socket may be closing: the answer is dropped. The
	 * arrays change under mu (pipe events count into them); dialers start
	 * under it too (nng_dialer_start does not wait for pipe events). */
	pthread_mutex_lock(&ds->mu);
	bool change = problem[0] == '\0' && !ds->stop;
	if (!change) {
		pthread_mutex_unlock(&ds->mu);
		/* Keep what is dialed: a lookup that fails says nothing of the
		 * replicas already connected. */
		lookup_done(ds, tg, problem);
		return;
	}
	ds->changing   = true;
	int64_t now_ms = rpc_clock_ms();
	size_t added = 0, gone = 0;
	nng_dialer close_now[RPC_ADDRESSES_MAX * RPC_CONNECTIONS_PER_REPLICA_MAX];
	size_t n_close = 0;
	/* Gone from the answer: drained, not cut (see replica). Its dialers
	 * without a connection would only redial an address gone. */
	for (size_t i = 0; i < tg->n_replicas;) {
		replica *r = &tg->replicas[i];
		if (rpc_address_set_has(&now, r->addr)) {
			i++;
			continue;
		}
		replica *l = tg->n_leaving < RPC_ADDRESSES_MAX ? &tg->leaving[tg->n_leaving] : NULL;
		if (l != NULL) {
			memcpy(l->addr, r->addr, RPC_ADDRESS_LEN);
			l->close_at = now_ms + RPC_DRAIN_MS;
			l->n        = 0;
		}
		for (size_t k = 0; k < r->n; k++) {
			if (l != NULL && r->pipes[k] > 0) {
				l->pipes[l->n] = r->pipes[k];
				l->d[l->n++]   = r->d[k];
			} else {
				close_now[n_close++] = r->d[k];
			}
		}
		if (l != NULL && l->n > 0)
			tg->n_leaving++;
		gone++;
		if (i != --tg->n_replicas) /* not onto itself: a struct copy is a memcpy */
			*r = tg->replicas[tg->n_replicas];
	}
	/* Back in the answer while draining: a replica again. */
	for (size_t i = 0; i < tg->n_leaving;) {
		if (!rpc_address_set_has(&now, tg->leaving[i].addr) || find_replica(tg, tg->leaving[i].addr) != NULL) {
			i++;
			continue;
		}
		tg->replicas[tg->n_replicas++] = tg->leaving[i];
		if (i != --tg->n_leaving)
			tg->leaving[i] = tg->leaving[tg->n_leaving];
	}
	/* Every replica has its per_replica dialers, a new one too. */
	for (size_t i = 0; i < tg->n_replicas; i++)
		fill(ds, tg, &tg->replicas[i]);
	for (size_t i = 0; i < now.n && tg->n_replicas < RPC_ADDRESSES_MAX; i++) {
		if (find_replica(tg, now.addr[i]) != NULL)
			continue;
		replica *r = &tg->replicas[tg->n_replicas];
		r->n       = 0;
		memcpy(r->addr, now.addr[i], RPC_ADDRESS_LEN);
		fill(ds, tg, r);
		if (r->n > 0) { /* else not dialed: tried again at the next lookup */
			tg->n_replicas++;
			added++;
		}
	}
	pthread_mutex_unlock(&ds->mu);
	for (size_t i = 0; i < n_close; i++)
		nng_dialer_close(close_now[i]);
	publish(ds, tg);
	pthread_mutex_lock(&ds->mu);
	ds->changing = false;
	pthread_cond_broadcast(&ds->cv);
	pthread_mutex_unlock(&ds->mu);
	lookup_done(ds, tg, "");
	/* Replicas that get no calls are worth a warning, once per change. */
	if (now.left_out != tg->left_out && now.left_out > 0)
		log_warn(NULL,
		    "rpc_replicas_left_out host=%s dialed=%zu left_out=%zu reason=\"at most %d addresses of a name are "
		    "dialed (and none with an IPv6 zone): the others get no calls\"",
		    tg->t.host, tg->n_replicas, now.left_out, RPC_ADDRESSES_MAX);
	tg->left_out = now.left_out;
	/* The first answer is what was configured; a change later is news. */
	log_level level = changes_are_news ? LOG_INFO : LOG_DEBUG;
	if (added + gone > 0 && log_enabled(level))
		log_write(level, NULL,
		    "rpc_replicas host=%s port=%s addresses=%zu added=%zu removed=%zu draining=%zu%s", tg->t.host,
		    tg->t.port, tg->n_replicas, added, gone, tg->n_leaving, now.left_out > 0 ? " left_out=some" : "");
}

/* Closes the dialers of addresses gone from their name whose connection
 * ended or whose drain time is up; returns ms until the next drain time
 * is up (or interval_ms). Only the resolver calls it. */
static int64_t
sweep(rpc_dialer_set *ds)
{
	int64_t now_ms = rpc_clock_ms(), next = ds->interval_ms;
	for (size_t t = 0; t < ds->n_targets; t++) {
		target *tg = &ds->targets[t];
		nng_dialer close_now[RPC_ADDRESSES_MAX * RPC_CONNECTIONS_PER_REPLICA_MAX];
		bool drained[RPC_ADDRESSES_MAX];
		char addr[RPC_ADDRESSES_MAX][RPC_ADDRESS_LEN];
		size_t n_close = 0, n_ended = 0;
		pthread_mutex_lock(&ds->mu);
		if (ds->stop) {
			pthread_mutex_unlock(&ds->mu);
			return next;
		}
		for (size_t i = 0; i < tg->n_leaving;) {
			replica *l     = &tg->leaving[i];
			bool time_up   = l->close_at <= now_ms;
			bool connected = false;
			/* A dialer whose connection ended closes now (it would
			 * redial an address gone), every one once the time is up. */
			for (size_t k = 0; k < l->n;) {
				if (!time_up && l->pipes[k] > 0) {
					k++;
					continue;
				}
				connected |= l->pipes[k] > 0;
				close_now[n_close++] = l->d[k];
				l->n--;
				l->d[k]     = l->d[l->n];
				l->pipes[k] = l->pipes[l->n];
			}
			if (l->n > 0) {
				if (l->close_at - now_ms < next)
					next = l->close_at - now_ms;
				i++;
				continue;
			}
			drained[n_ended] = !connected;
			memcpy(addr[n_ended++], l->addr, RPC_ADDRESS_LEN);
			if (i != --tg->n_leaving)
				*l = tg->leaving[tg->n_leaving];
		}
		ds->changing = n_close > 0;
		pthread_mutex_unlock(&ds->mu);
		for (size_t i = 0; i < n_close; i++)
			nng_dialer_close(close_now[i]);
		for (size_t i = 0; i < n_ended; i++)
			log_info(NULL, "rpc_replica_closed host=%s address=%s reason=\"%s\"", tg->t.host, addr[i],
			    drained[i]
			        ? "gone from the name, its connections ended"
			        : "gone from the name, still connected after " RPC_RESOLVE_STR(RPC_DRAIN_MS) " ms");
		if (n_close > 0) {
			pthread_mutex_lock(&ds->mu);
			ds->changing = false;
			pthread_cond_broadcast(&ds->cv);
			pthread_mutex_unlock(&ds->mu);
		}
	}
	return next;
}

/* Waits until ms have passed, or (with kicks) a kick came: 1 when a kick
 * was taken, 0 when the time passed, -1 once stopped. Only a wait that
 * heeds kicks takes one: a connection that drops during the gap after a
 * lookup still has the names looked up at the gap's end, not a whole
 * interval later. */
static int
wait_for(rpc_dialer_set *ds, int64_t ms, bool kicks)
{
	struct timespec until = monotonic_deadline(ms > 0 ? ms : 0);
	pthread_mutex_lock(&ds->mu);
	while (!ds->stop && !(kicks && ds->kicked)) {
		if (pthread_cond_timedwait(&ds->cv, &ds->mu, &until) == ETIMEDOUT)
			break;
	}
	int result = ds->stop ? -1 : kicks && ds->kicked ? 1 : 0;
	if (kicks)
		ds->kicked = false;
	pthread_mutex_unlock(&ds->mu);
	return result;
}

/* Looks every name up, one after the other. */
static void
refresh_all(rpc_dialer_set *ds, bool changes_are_news)
{
	for (size_t i = 0; i < ds->n_targets && !stopping(ds); i++)
		if (ds->targets[i].t.by_name)
			refresh(ds, &ds->targets[i], changes_are_news);
}

static void *
resolver_main(void *arg)
{
	rpc_dialer_set *ds = arg;
	/* The first lookup here, not in rpc_dialer_set_open: a DNS server that
	 * does not answer holds getaddrinfo for 10 s and more (timeout:5
	 * attempts:2, per search domain), which would hold a binary's start
	 * and rpc-call's --timeout. */
	refresh_all(ds, false);
	/* A gap after each lookup: a kick right after one (a refused
	 * connection redials every 10-200 ms) must not turn into a lookup
	 * storm. */
	int64_t gap  = ds->interval_ms < RPC_RESOLVE_GAP_MS ? ds->interval_ms : RPC_RESOLVE_GAP_MS;
	int64_t last = rpc_clock_ms();
	for (;;) {
		/* Draining addresses are looked at on every wake: a dropped
		 * connection kicks, and a drain time ends the wait early. */
		int64_t next  = sweep(ds);
		int64_t since = rpc_clock_ms() - last;
		bool in_gap   = since < gap;
		int64_t wait  = in_gap ? gap - since : ds->interval_ms - since;
		int woke      = wait_for(ds, next < wait ? next : wait, !in_gap);
		if (woke < 0)
			break;
		if (woke == 1 || rpc_clock_ms() - last >= ds->interval_ms) {
			refresh_all(ds, true);
			last = rpc_clock_ms();
		}
	}
	release(ds);
	return NULL;
}

size_t
rpc_connections_per_replica(int requested)
{
	if (requested <= 1)
		return 1;
	if (requested > RPC_CONNECTIONS_PER_REPLICA_MAX)
		requested = RPC_CONNECTIONS_PER_REPLICA_MAX;
	if (!rpc_nng_loses_calls_over_several_connections())
		return (size_t) requested;
	static atomic_bool said;
	if (!atomic_exchange(&said, true))
		log_info(NULL,
		    "rpc_connections_per_replica_not_applied requested=%d applied=1 nng=%s reason=\"nng before 1.6 "
		    "lost a call now and then over several connections to one replica after a service restart "
		    "(nng 1.5.2 in the fault drills): one connection per replica\"",
		    requested, nng_version());
	return 1;
}

rpc_code
rpc_dialer_set_open(rpc_dialer_set **out, nng_socket sock, const char *urls, nng_tls_config *cfg, int interval_ms,
    int per_replica, rpc_status *st)
{
	rpc_dialer_set *ds = calloc(1, sizeof(*ds));
	if (ds == NULL)
		return rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "out of memory");
	ds->sock        = sock;
	ds->per_replica = rpc_connections_per_replica(per_replica);
	ds->interval_ms = interval_ms > 0 ? interval_ms : RPC_RESOLVE_INTERVAL_DEFAULT_MS;
	ds->refs        = 1;
	pthread_mutex_init(&ds->mu, NULL);
	monotonic_cond_init(&ds->cv);
	if (cfg != NULL) {
		nng_tls_config_hold(cfg);
		ds->cfg = cfg;
	}

	const char *p = urls;
	while (*p != '\0') {
		size_t len = strcspn(p, ",");
		if (ds->n_targets == TARGETS_MAX || len >= sizeof(ds->targets[0].url)) {
			release(ds);
			return rpc_status_set(
			    st, RPC_INVALID_ARGUMENT, "more than %d URLs, or one over 255 bytes", TARGETS_MAX);
		}
		target *tg = &ds->targets[ds->n_targets++];
		memcpy(tg->url, p, len);
		tg->url[len] = '\0';
		p += len + (p[len] == ',');
		if (rpc_dial_target_parse(tg->url, &tg->t) != 0) {
			rpc_status_set(st, RPC_INVALID_ARGUMENT, "cannot dial %s: not a dial URL", tg->url);
			release(ds);
			return RPC_INVALID_ARGUMENT;
		}
		if (tg->t.by_name) {
			ds->by_name = true; /* looked up by the resolver */
			char host[65];      /* a copy: GCC's -Wrestrict takes tg->t.host for part of tg->problem */
			snprintf(host, sizeof(host), "%.64s", tg->t.host);
			snprintf(tg->problem, sizeof(tg->problem), "%s: lookup not answered yet", host);
			continue;
		}
		/* A numeric host or a path: no lookup in rpc_url_for_nng. */
		char nng_url[sizeof(tg->url)];
		int lookup, rv = rpc_url_for_nng(tg->url, nng_url, sizeof(nng_url), &lookup);
		if (rv != 0)
			rv = NNG_EADDRINVAL;
		replica *r = &tg->replicas[0];
		while (rv == 0 && r->n < ds->per_replica)
			if ((rv = start_dialer(ds, nng_url, &r->d[r->n])) == 0)
				r->n++;
		if (rv != 0) {
			rpc_status_set(st, RPC_INVALID_ARGUMENT, "cannot dial %s: %s", tg->url, nng_strerror(rv));
			release(ds);
			return RPC_INVALID_ARGUMENT;
		}
		tg->n_replicas = 1;
		publish(ds, tg);
	}
	if (ds->n_targets == 0) {
		release(ds);
		return rpc_status_set(st, RPC_INVALID_ARGUMENT, "no URL to dial");
	}
	*out = ds;
	return RPC_OK;
}

void
rpc_dialer_set_start(rpc_dialer_set *ds)
{
	if (!ds->by_name)
		return;
	pthread_t th;
	pthread_mutex_lock(&ds->mu);
	ds->refs++;
	pthread_mutex_unlock(&ds->mu);
	if (pthread_create(&th, NULL, resolver_main, ds) != 0) {
		release(ds);
		log_warn(NULL, "rpc_resolver_not_started reason=\"pthread_create failed: names are looked up once\"");
		refresh_all(ds, false);
	} else {
		pthread_detach(th);
	}
}

void
rpc_dialer_set_kick(rpc_dialer_set *ds)
{
	if (ds == NULL || !ds->by_name)
		return;
	pthread_mutex_lock(&ds->mu);
	ds->kicked = true;
	pthread_cond_broadcast(&ds->cv);
	pthread_mutex_unlock(&ds->mu);
}

/* Counts a connection of dialer id, if it is one of r's. */
static void
count_pipe(replica *r, int id, int delta)
{
	for (size_t k = 0; k < r->n; k++)
		if (nng_dialer_id(r->d[k]) == id && (delta > 0 || r->pipes[k] > 0))
			r->pipes[k] += delta;
}

void
rpc_dialer_set_pipe(rpc_dialer_set *ds, nng_pipe pipe, int delta)
{
	if (ds == NULL || !ds->by_name)
		return;
	int id = nng_dialer_id(nng_pipe_dialer(pipe));
	pthread_mutex_lock(&ds->mu);
	/* A pipe of a dialer not stored yet (it connected while being
	 * started) is not counted; a count never goes below 0. */
	for (size_t t = 0; t < ds->n_targets && id > 0; t++) {
		target *tg = &ds->targets[t];
		for (size_t i = 0; i < tg->n_replicas; i++)
			count_pipe(&tg->replicas[i], id, delta);
		for (size_t i = 0; i < tg->n_leaving; i++)
			count_pipe(&tg->leaving[i], id, delta);
	}
	if (delta < 0) {
		ds->kicked = true;
		pthread_cond_broadcast(&ds->cv);
	}
	pthread_mutex_unlock(&ds->mu);
}

size_t
rpc_dialer_set_count(rpc_dialer_set *ds)
{
	size_t n = 0;
	pthread_mutex_lock(&ds->mu);
	for (size_t i = 0; i < ds->n_targets; i++)
		n += ds->targets[i].live;
	pthread_mutex_unlock(&ds->mu);
	return n;
}

size_t
rpc_dialer_set_per_replica(rpc_dialer_set *ds)
{
	return ds->per_replica; /* set at open */
}

size_t
rpc_dialer_set_lookups(rpc_dialer_set *ds)
{
	pthread_mutex_lock(&ds->mu);
	size_t n = ds->lookups;
	pthread_mutex_unlock(&ds->mu);
	return n;
}

void
rpc_dialer_set_problem(rpc_dialer_set *ds, char *out, size_t len)
{
	out[0] = '\0';
	pthread_mutex_lock(&ds->mu);
	for (size_t i = 0; i < ds->n_targets; i++) {
		if (ds->targets[i].live == 0 && ds->targets[i].problem[0] != '\0') {
			snprintf(out, len, "%s", ds->targets[i].problem);
			break;
		}
	}
	pthread_mutex_unlock(&ds->mu);
}

void
rpc_dialer_set_stop(rpc_dialer_set *ds, int wait_ms)
{
	if (ds == NULL)
		return;
	struct timespec until = monotonic_deadline(wait_ms);
	pthread_mutex_lock(&ds->mu);
	ds->stop = true;
	pthread_cond_broadcast(&ds->cv);
	while (ds->changing) {
		if (pthread_cond_timedwait(&ds->cv, &ds->mu, &until) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&ds->mu);
}

void
rpc_dialer_set_free(rpc_dialer_set *ds)
{
	if (ds != NULL)
		release(ds);
}
