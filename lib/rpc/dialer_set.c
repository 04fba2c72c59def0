/* The dialers of one REQ socket and their resolver: see dialer_set.h. */
#include "rpc/dialer_set.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/monotonic.h"
#include "rpc/address_set.h"

/* At most this many URLs in one dial list (a list is at most 1023 bytes). */
#define TARGETS_MAX 32

/* One URL of the list and what it dials. */
typedef struct target {
	char url[256];
	rpc_dial_target t;
	rpc_address_set dialed;                /* by_name: the addresses with a dialer */
	nng_dialer dialers[RPC_ADDRESSES_MAX]; /* dialers[i] dials dialed.addr[i]; one for a plain URL */
	size_t n_dialers;
	char problem[160]; /* the last lookup's failure; "" after a good one (under mu) */
	size_t live;       /* n_dialers as others may read it (under mu) */
} target;

struct rpc_dialer_set {
	nng_socket sock;
	nng_tls_config *cfg; /* NULL: plain */
	int interval_ms;
	target targets[TARGETS_MAX];
	size_t n_targets;
	bool by_name; /* some target is a name: the resolver runs */

	pthread_mutex_t mu; /* guards what follows, and targets[].problem */
	pthread_cond_t cv;
	bool stop, kicked, done;
	int refs; /* the owner's and the resolver thread's */
	size_t n_running;
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

static void
set_problem(rpc_dialer_set *ds, target *tg, const char *problem)
{
	pthread_mutex_lock(&ds->mu);
	bool changed = strcmp(tg->problem, problem) != 0;
	snprintf(tg->problem, sizeof(tg->problem), "%s", problem);
	pthread_mutex_unlock(&ds->mu);
	if (changed && problem[0] != '\0')
		log_warn(
		    NULL, "rpc_resolve_failed host=%s dialed=%zu reason=\"%s\"", tg->t.host, tg->n_dialers, problem);
}

/* Makes tg's dialer count visible to other threads. */
static void
publish(rpc_dialer_set *ds, target *tg)
{
	pthread_mutex_lock(&ds->mu);
	ds->n_running += tg->n_dialers - tg->live;
	tg->live = tg->n_dialers;
	pthread_mutex_unlock(&ds->mu);
}

/* Looks tg's name up and brings its dialers in line with the answer. Only
 * the opener (before the resolver starts) and the resolver call it. */
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
	if (problem[0] != '\0' || stopping(ds)) {
		/* Keep what is dialed: a lookup that fails says nothing of the
		 * replicas already connected. */
		set_problem(ds, tg, problem);
		return;
	}
	size_t added = 0, removed = 0;
	for (size_t i = 0; i < tg->dialed.n;) {
		if (rpc_address_set_has(&now, tg->dialed.addr[i])) {
			i++;
			continue;
		}
		nng_dialer_close(tg->dialers[i]);
		removed++;
		tg->dialed.n--;
		tg->n_dialers--;
		memcpy(tg->dialed.addr[i], tg->dialed.addr[tg->dialed.n], RPC_ADDRESS_LEN);
		tg->dialers[i] = tg->dialers[tg->n_dialers];
	}
	for (size_t i = 0; i < now.n; i++) {
		if (rpc_address_set_has(&tg->dialed, now.addr[i]))
			continue;
		char url[320];
		nng_dialer d;
		int err = 0;
		if (rpc_dial_target_url(&tg->t, now.addr[i], url, sizeof(url)) != 0 ||
		    (err = start_dialer(ds, url, &d)) != 0) {
			log_warn(NULL, "rpc_dial_failed host=%s address=%s reason=\"%s\"", tg->t.host, now.addr[i],
			    err != 0 ? nng_strerror(err) : "URL too long");
			continue;
		}
		rpc_address_set_add(&tg->dialed, now.addr[i]);
		tg->dialers[tg->n_dialers++] = d;
		added++;
	}
	publish(ds, tg);
	set_problem(ds, tg, "");
	/* The first answer is what was configured; a change later is news. */
	log_level level = changes_are_news ? LOG_INFO : LOG_DEBUG;
	if (added + removed > 0 && log_enabled(level))
		log_write(level, NULL, "rpc_replicas host=%s port=%s addresses=%zu added=%zu removed=%zu%s", tg->t.host,
		    tg->t.port, tg->dialed.n, added, removed, now.left_out > 0 ? " left_out=some" : "");
}

/* Waits until ms have passed, or (with kicks) a kick came; false once
 * stopped. */
static bool
wait_for(rpc_dialer_set *ds, int64_t ms, bool kicks)
{
	struct timespec until = monotonic_deadline(ms);
	pthread_mutex_lock(&ds->mu);
	while (!ds->stop && !(kicks && ds->kicked)) {
		if (pthread_cond_timedwait(&ds->cv, &ds->mu, &until) == ETIMEDOUT)
			break;
	}
	ds->kicked = false;
	bool go    = !ds->stop;
	pthread_mutex_unlock(&ds->mu);
	return go;
}

static void *
resolver_main(void *arg)
{
	rpc_dialer_set *ds = arg;
	/* A gap first: a kick right after a lookup (a refused connection
	 * redials every 10-200 ms) must not turn into a lookup storm. */
	int64_t gap = ds->interval_ms < RPC_RESOLVE_GAP_MS ? ds->interval_ms : RPC_RESOLVE_GAP_MS;
	while (wait_for(ds, gap, false) && wait_for(ds, ds->interval_ms - gap, true)) {
		for (size_t i = 0; i < ds->n_targets && !stopping(ds); i++)
			if (ds->targets[i].t.by_name)
				refresh(ds, &ds->targets[i], true);
	}
	pthread_mutex_lock(&ds->mu);
	ds->done = true;
	pthread_cond_broadcast(&ds->cv);
	pthread_mutex_unlock(&ds->mu);
	release(ds);
	return NULL;
}

rpc_code
rpc_dialer_set_open(
    rpc_dialer_set **out, nng_socket sock, const char *urls, nng_tls_config *cfg, int interval_ms, rpc_status *st)
{
	rpc_dialer_set *ds = calloc(1, sizeof(*ds));
	if (ds == NULL)
		return rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "out of memory");
	ds->sock        = sock;
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
			ds->by_name = true;
			refresh(ds, tg, false);
			continue;
		}
		int rv = start_dialer(ds, tg->url, &tg->dialers[0]);
		if (rv != 0) {
			rpc_status_set(st, RPC_INVALID_ARGUMENT, "cannot dial %s: %s", tg->url, nng_strerror(rv));
			release(ds);
			return RPC_INVALID_ARGUMENT;
		}
		tg->n_dialers = 1;
		publish(ds, tg);
	}
	if (ds->n_targets == 0) {
		release(ds);
		return rpc_status_set(st, RPC_INVALID_ARGUMENT, "no URL to dial");
	}
	ds->done = true;
	if (ds->by_name) {
		pthread_t th;
		ds->refs++;
		ds->done = false;
		if (pthread_create(&th, NULL, resolver_main, ds) != 0) {
			ds->refs--;
			ds->done = true;
			log_warn(NULL,
			    "rpc_resolver_not_started reason=\"pthread_create failed: names are looked up once\"");
		} else {
			pthread_detach(th);
		}
	}
	*out = ds;
	return RPC_OK;
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

size_t
rpc_dialer_set_count(rpc_dialer_set *ds)
{
	pthread_mutex_lock(&ds->mu);
	size_t n = ds->n_running;
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
	while (!ds->done) {
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
