/* The replicas of a dial list and their resolver: see replica_set.h. */
#include "rpc/replica_set.h"

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

/* At most this many URLs in one dial list (a list is at most 1023 bytes). */
#define TARGETS_MAX 32

typedef struct replica {
	rpc_endpoint *ep;           /* the set's reference */
	char addr[RPC_ADDRESS_LEN]; /* by_name: its address */
} replica;

/* One URL of the list and its replicas. */
typedef struct target {
	char url[256];
	rpc_dial_target t;
	replica replicas[RPC_ADDRESSES_MAX]; /* by_name: one per address; one for a plain URL */
	size_t n_replicas;                   /* (under mu) */
	size_t left_out;                     /* the last answer's addresses beyond the limit (resolver only) */
	char problem[160];                   /* the last lookup's failure; "" after a good one (under mu) */
} target;

struct rpc_replica_set {
	rpc_tls *tls; /* NULL: plain */
	int interval_ms;
	int idle_close_ms; /* each endpoint's */
	target targets[TARGETS_MAX];
	size_t n_targets;
	bool by_name; /* some target is a name: the resolver runs */
	_Atomic size_t turn;

	pthread_mutex_t mu; /* guards what follows, and the targets' replicas and problems */
	pthread_cond_t cv;
	bool stop, kicked;
	int refs; /* the owner's and the set's thread's */
	size_t lookups;
};

static void
release(rpc_replica_set *rs)
{
	pthread_mutex_lock(&rs->mu);
	bool last = --rs->refs == 0;
	pthread_mutex_unlock(&rs->mu);
	if (!last)
		return;
	for (size_t t = 0; t < rs->n_targets; t++)
		for (size_t i = 0; i < rs->targets[t].n_replicas; i++)
			rpc_endpoint_release(rs->targets[t].replicas[i].ep);
	rpc_tls_free(rs->tls);
	pthread_cond_destroy(&rs->cv);
	pthread_mutex_destroy(&rs->mu);
	free(rs);
}

/* Ends a lookup of tg: what it found wrong ("" when nothing) and the count
 * of lookups change together, so whoever waits for the count sees both. */
static void
lookup_done(rpc_replica_set *rs, target *tg, const char *problem)
{
	pthread_mutex_lock(&rs->mu);
	bool changed = strcmp(tg->problem, problem) != 0;
	snprintf(tg->problem, sizeof(tg->problem), "%s", problem);
	size_t n = tg->n_replicas;
	rs->lookups++;
	pthread_mutex_unlock(&rs->mu);
	if (changed && problem[0] != '\0')
		log_warn(NULL, "rpc_resolve_failed host=%s replicas=%zu reason=\"%s\"", tg->t.host, n, problem);
}

static bool
has_replica(const target *tg, const char *addr)
{
	for (size_t i = 0; i < tg->n_replicas; i++)
		if (strcmp(tg->replicas[i].addr, addr) == 0)
			return true;
	return false;
}

/* Looks tg's name up and brings its replicas in line with the answer. Only
 * the resolver calls it (or the opener, when the resolver could not
 * start). */
static void
refresh(rpc_replica_set *rs, target *tg, bool changes_are_news)
{
	rpc_address_set now;
	int rv            = rpc_address_set_resolve(&tg->t, &now);
	char problem[160] = "";
	if (rv != 0)
		snprintf(problem, sizeof(problem), "%.64s: %s", tg->t.host, gai_strerror(rv));
	else if (now.n == 0)
		snprintf(problem, sizeof(problem), "%.64s: no address of the URL's IP version", tg->t.host);
	pthread_mutex_lock(&rs->mu);
	if (problem[0] != '\0' || rs->stop) {
		/* Keep the replicas: a lookup that fails says nothing of them. */
		pthread_mutex_unlock(&rs->mu);
		lookup_done(rs, tg, problem);
		return;
	}
	rpc_endpoint *gone[RPC_ADDRESSES_MAX];
	size_t n_gone = 0, added = 0;
	for (size_t i = 0; i < tg->n_replicas;) {
		if (rpc_address_set_has(&now, tg->replicas[i].addr)) {
			i++;
			continue;
		}
		gone[n_gone++] = tg->replicas[i].ep;
		if (i != --tg->n_replicas)
			tg->replicas[i] = tg->replicas[tg->n_replicas];
	}
	for (size_t i = 0; i < now.n && tg->n_replicas < RPC_ADDRESSES_MAX; i++) {
		if (has_replica(tg, now.addr[i]))
			continue;
		char url[320];
		replica *r = &tg->replicas[tg->n_replicas];
		int err    = rpc_dial_target_url(&tg->t, now.addr[i], url, sizeof(url)) != 0
		                 ? NNG_EADDRINVAL
		                 : rpc_endpoint_open(&r->ep, url, rs->tls, rs->idle_close_ms);
		if (err != 0) {
			log_warn(NULL, "rpc_dial_failed host=%s address=%s reason=\"%s\"", tg->t.host, now.addr[i],
			    nng_strerror(err));
			continue;
		}
		memcpy(r->addr, now.addr[i], RPC_ADDRESS_LEN);
		tg->n_replicas++;
		added++;
	}
	size_t n = tg->n_replicas;
	pthread_mutex_unlock(&rs->mu);
	/* An address gone: no new call; its connections close as their calls
	 * end (each call holds its endpoint). */
	for (size_t i = 0; i < n_gone; i++) {
		rpc_endpoint_drain(gone[i]);
		rpc_endpoint_release(gone[i]);
	}
	lookup_done(rs, tg, "");
	if (now.left_out != tg->left_out && now.left_out > 0)
		log_warn(NULL,
		    "rpc_replicas_left_out host=%s replicas=%zu left_out=%zu reason=\"at most %d addresses of a name "
		    "are dialed (and none with an IPv6 zone): the others get no calls\"",
		    tg->t.host, n, now.left_out, RPC_ADDRESSES_MAX);
	tg->left_out = now.left_out;
	/* The first answer is what was configured; a change later is news. */
	log_level level = changes_are_news ? LOG_INFO : LOG_DEBUG;
	if (added + n_gone > 0 && log_enabled(level))
		log_write(level, NULL, "rpc_replicas host=%s port=%s addresses=%zu added=%zu removed=%zu%s", tg->t.host,
		    tg->t.port, n, added, n_gone, now.left_out > 0 ? " left_out=some" : "");
}

/* Waits until ms have passed, or (with kicks) a kick came: 1 when a kick
 * was taken, 0 when the time passed, -1 once stopped. Only a wait that
 * heeds kicks takes one: a dial that fails during the gap after a lookup
 * still has the names looked up at the gap's end, not a whole interval
 * later. */
static int
wait_for(rpc_replica_set *rs, int64_t ms, bool kicks)
{
	struct timespec until = monotonic_deadline(ms > 0 ? ms : 0);
	pthread_mutex_lock(&rs->mu);
	while (!rs->stop && !(kicks && rs->kicked)) {
		if (pthread_cond_timedwait(&rs->cv, &rs->mu, &until) == ETIMEDOUT)
			break;
	}
	int result = rs->stop ? -1 : kicks && rs->kicked ? 1 : 0;
	if (kicks)
		rs->kicked = false;
	pthread_mutex_unlock(&rs->mu);
	return result;
}

static bool
stopping(rpc_replica_set *rs)
{
	pthread_mutex_lock(&rs->mu);
	bool stop = rs->stop;
	pthread_mutex_unlock(&rs->mu);
	return stop;
}

/* Looks every name up, one after the other. */
static void
refresh_all(rpc_replica_set *rs, bool changes_are_news)
{
	for (size_t i = 0; i < rs->n_targets && !stopping(rs); i++)
		if (rs->targets[i].t.by_name)
			refresh(rs, &rs->targets[i], changes_are_news);
}

/* Closes every replica's connections idle past their limit
 * (rpc_endpoint_close_idle), each replica held meanwhile. */
static void
close_idle_all(rpc_replica_set *rs)
{
	rpc_endpoint *eps[TARGETS_MAX * RPC_ADDRESSES_MAX];
	size_t n = 0;
	pthread_mutex_lock(&rs->mu);
	for (size_t t = 0; t < rs->n_targets; t++)
		for (size_t i = 0; i < rs->targets[t].n_replicas; i++) {
			eps[n] = rs->targets[t].replicas[i].ep;
			rpc_endpoint_hold(eps[n++]);
		}
	pthread_mutex_unlock(&rs->mu);
	for (size_t i = 0; i < n; i++) {
		rpc_endpoint_close_idle(eps[i]);
		rpc_endpoint_release(eps[i]);
	}
}

/* The set's thread: looks the names up, and closes idle connections a
 * quarter of their limit after it passed at most, so a client that goes
 * quiet closes them too, not only its next call (later while a lookup
 * hangs: getaddrinfo has no bound of ours here, and calls still drop a
 * connection the server closed, rpc_conn_fit). */
static void *
set_main(void *arg)
{
	rpc_replica_set *rs = arg;
	/* The first lookup here, not in rpc_replica_set_open: a DNS server
	 * that does not answer holds getaddrinfo for 10 s and more (timeout:5
	 * attempts:2, per search domain), which would hold a binary's start
	 * and rpc-call's --timeout. */
	refresh_all(rs, false);
	/* A gap after each lookup: a kick right after one (a refused dial is
	 * retried every 10-200 ms) must not turn into a lookup storm. */
	int64_t gap        = rs->interval_ms < RPC_RESOLVE_GAP_MS ? rs->interval_ms : RPC_RESOLVE_GAP_MS;
	int64_t last       = rpc_clock_ms();
	int64_t sweep_ms   = (rs->idle_close_ms > 0 ? rs->idle_close_ms : RPC_ENDPOINT_IDLE_CLOSE_MS) / 4;
	sweep_ms           = sweep_ms < 10 ? 10 : sweep_ms; /* a tiny limit (tests) must not spin */
	int64_t next_sweep = last + sweep_ms;
	for (;;) {
		int64_t now   = rpc_clock_ms();
		int64_t since = now - last;
		bool in_gap   = since < gap;
		int64_t wait  = next_sweep - now;
		if (rs->by_name) {
			int64_t lookup = in_gap ? gap - since : rs->interval_ms - since;
			wait           = lookup < wait ? lookup : wait;
		}
		/* A kick is taken only out of the gap (wait_for). */
		int woke = wait_for(rs, wait, rs->by_name && !in_gap);
		if (woke < 0)
			break;
		if (rs->by_name && (woke == 1 || rpc_clock_ms() - last >= rs->interval_ms)) {
			refresh_all(rs, true);
			last = rpc_clock_ms();
		}
		if (rpc_clock_ms() >= next_sweep) {
			close_idle_all(rs);
			next_sweep = rpc_clock_ms() + sweep_ms;
		}
	}
	release(rs);
	return NULL;
}

rpc_code
rpc_replica_set_open(
    rpc_replica_set **out, const char *urls, rpc_tls *tls, int interval_ms, int idle_close_ms, rpc_status *st)
{
	rpc_replica_set *rs = calloc(1, sizeof(*rs));
	if (rs == NULL)
		return rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "out of memory");
	rs->interval_ms   = interval_ms > 0 ? interval_ms : RPC_RESOLVE_INTERVAL_DEFAULT_MS;
	rs->idle_close_ms = idle_close_ms;
	rs->refs          = 1;
	pthread_mutex_init(&rs->mu, NULL);
	monotonic_cond_init(&rs->cv);
	if (tls != NULL) {
		rpc_tls_hold(tls);
		rs->tls = tls;
	}
	const char *p = urls;
	while (*p != '\0') {
		size_t len = strcspn(p, ",");
		if (rs->n_targets == TARGETS_MAX || len >= sizeof(rs->targets[0].url)) {
			release(rs);
			return rpc_status_set(
			    st, RPC_INVALID_ARGUMENT, "more than %d URLs, or one over 255 bytes", TARGETS_MAX);
		}
		target *tg = &rs->targets[rs->n_targets++];
		memcpy(tg->url, p, len);
		tg->url[len] = '\0';
		p += len + (p[len] == ',');
		if (rpc_dial_target_parse(tg->url, &tg->t) != 0) {
			rpc_status_set(st, RPC_INVALID_ARGUMENT, "cannot dial %s: not a dial URL", tg->url);
			release(rs);
			return RPC_INVALID_ARGUMENT;
		}
		if (tg->t.by_name) {
			rs->by_name = true; /* looked up by the resolver */
			char host[65];      /* a copy: GCC's -Wrestrict takes tg->t.host for part of tg->problem */
			snprintf(host, sizeof(host), "%.64s", tg->t.host);
			snprintf(tg->problem, sizeof(tg->problem), "%s: lookup not answered yet", host);
			continue;
		}
		/* A numeric host or a path: no lookup in rpc_url_for_nng. */
		char url[sizeof(tg->url)];
		int lookup, rv = rpc_url_for_nng(tg->url, url, sizeof(url), &lookup) != 0
		                     ? NNG_EADDRINVAL
		                     : rpc_endpoint_open(&tg->replicas[0].ep, url, rs->tls, rs->idle_close_ms);
		if (rv != 0) {
			rpc_status_set(st, RPC_INVALID_ARGUMENT, "cannot dial %s: %s", tg->url, nng_strerror(rv));
			release(rs);
			return RPC_INVALID_ARGUMENT;
		}
		tg->n_replicas = 1;
	}
	if (rs->n_targets == 0) {
		release(rs);
		return rpc_status_set(st, RPC_INVALID_ARGUMENT, "no URL to dial");
	}
	*out = rs;
	return RPC_OK;
}

void
rpc_replica_set_start(rpc_replica_set *rs)
{
	pthread_t th;
	pthread_mutex_lock(&rs->mu);
	rs->refs++;
	pthread_mutex_unlock(&rs->mu);
	if (pthread_create(&th, NULL, set_main, rs) != 0) {
		release(rs);
		log_warn(NULL, "rpc_replica_set_thread_not_started reason=\"pthread_create failed: names are looked up "
		               "once, idle connections closed by calls only\"");
		refresh_all(rs, false);
	} else {
		pthread_detach(th);
	}
}

rpc_endpoint *
rpc_replica_set_pick(rpc_replica_set *rs)
{
	pthread_mutex_lock(&rs->mu);
	size_t n = 0;
	for (size_t t = 0; t < rs->n_targets; t++)
		n += rs->targets[t].n_replicas;
	rpc_endpoint *pick = NULL, *first = NULL;
	size_t start = n > 0 ? atomic_fetch_add(&rs->turn, 1) % n : 0;
	for (size_t k = 0; k < n && pick == NULL; k++) {
		size_t i = (start + k) % n;
		for (size_t t = 0; t < rs->n_targets; i -= rs->targets[t++].n_replicas) {
			if (i < rs->targets[t].n_replicas) {
				rpc_endpoint *ep = rs->targets[t].replicas[i].ep;
				if (first == NULL)
					first = ep;
				if (rpc_endpoint_up(ep))
					pick = ep;
				break;
			}
		}
	}
	if (pick == NULL)
		pick = first;
	if (pick != NULL)
		rpc_endpoint_hold(pick);
	pthread_mutex_unlock(&rs->mu);
	return pick;
}

void
rpc_replica_set_kick(rpc_replica_set *rs)
{
	if (rs == NULL || !rs->by_name)
		return;
	pthread_mutex_lock(&rs->mu);
	rs->kicked = true;
	pthread_cond_broadcast(&rs->cv);
	pthread_mutex_unlock(&rs->mu);
}

size_t
rpc_replica_set_count(rpc_replica_set *rs)
{
	size_t n = 0;
	pthread_mutex_lock(&rs->mu);
	for (size_t i = 0; i < rs->n_targets; i++)
		n += rs->targets[i].n_replicas;
	pthread_mutex_unlock(&rs->mu);
	return n;
}

int
rpc_replica_set_connections(rpc_replica_set *rs)
{
	int n = 0;
	pthread_mutex_lock(&rs->mu);
	for (size_t t = 0; t < rs->n_targets; t++)
		for (size_t i = 0; i < rs->targets[t].n_replicas; i++)
			n += rpc_endpoint_connections(rs->targets[t].replicas[i].ep);
	pthread_mutex_unlock(&rs->mu);
	return n;
}

size_t
rpc_replica_set_lookups(rpc_replica_set *rs)
{
	pthread_mutex_lock(&rs->mu);
	size_t n = rs->lookups;
	pthread_mutex_unlock(&rs->mu);
	return n;
}

void
rpc_replica_set_problem(rpc_replica_set *rs, char *out, size_t len)
{
	out[0] = '\0';
	pthread_mutex_lock(&rs->mu);
	for (size_t i = 0; i < rs->n_targets; i++) {
		if (rs->targets[i].n_replicas == 0 && rs->targets[i].problem[0] != '\0') {
			snprintf(out, len, "%s", rs->targets[i].problem);
			break;
		}
	}
	pthread_mutex_unlock(&rs->mu);
}

void
rpc_replica_set_free(rpc_replica_set *rs)
{
	if (rs == NULL)
		return;
	pthread_mutex_lock(&rs->mu);
	rs->stop = true;
	pthread_cond_broadcast(&rs->cv);
	pthread_mutex_unlock(&rs->mu);
	release(rs);
}
