/* endpoint.h: a replica's connections, lent one call at a time. */
#include "rpc/endpoint.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/envelope.h"

/* Idle connections kept; more are closed when given back. */
#define IDLE_MAX 256

struct rpc_endpoint {
	rpc_connector *connector;
	pthread_mutex_t mu; /* guards what follows */
	int refs;
	rpc_conn *idle[IDLE_MAX]; /* the oldest given back first */
	int64_t idle_since[IDLE_MAX];
	int n_idle;
	int idle_close_ms;
	int open;           /* idle, lent and being dialed */
	int dialing;        /* dials in progress */
	int64_t down_until; /* no dial before this (ms, rpc_clock_ms) */
	int64_t retry_ms;   /* the next back-off */
	bool draining;
	int last_error;     /* the last failed dial's, told while down */
	char last_why[256]; /* and what TLS said of it */
};

int
rpc_endpoint_open(rpc_endpoint **out, const char *url, rpc_tls *tls, int idle_close_ms)
{
	rpc_endpoint *ep = calloc(1, sizeof(*ep));
	if (ep == NULL)
		return NNG_ENOMEM;
	int rv = rpc_connector_open(&ep->connector, url, tls);
	if (rv != 0) {
		free(ep);
		return rv;
	}
	pthread_mutex_init(&ep->mu, NULL);
	ep->refs          = 1;
	ep->retry_ms      = RPC_ENDPOINT_RETRY_MIN_MS;
	ep->idle_close_ms = idle_close_ms > 0 ? idle_close_ms : RPC_ENDPOINT_IDLE_CLOSE_MS;
	*out              = ep;
	return 0;
}

void
rpc_endpoint_hold(rpc_endpoint *ep)
{
	pthread_mutex_lock(&ep->mu);
	ep->refs++;
	pthread_mutex_unlock(&ep->mu);
}

void
rpc_endpoint_release(rpc_endpoint *ep)
{
	if (ep == NULL)
		return;
	pthread_mutex_lock(&ep->mu);
	bool last = --ep->refs == 0;
	pthread_mutex_unlock(&ep->mu);
	if (!last)
		return;
	for (int i = 0; i < ep->n_idle; i++)
		rpc_conn_close(ep->idle[i]);
	rpc_connector_free(ep->connector);
	pthread_mutex_destroy(&ep->mu);
	free(ep);
}

/* Takes out the connections idle for idle_close_ms, into expired (the
 * caller closes them, outside the lock): they close before the server's
 * own limit could close them under a call. The oldest are at the bottom.
 * Called with ep->mu held. */
static int
take_expired(rpc_endpoint *ep, rpc_conn **expired)
{
	int64_t now   = rpc_clock_ms();
	int n_expired = 0;
	while (n_expired < ep->n_idle && now - ep->idle_since[n_expired] >= ep->idle_close_ms) {
		expired[n_expired] = ep->idle[n_expired];
		n_expired++;
	}
	if (n_expired > 0) {
		ep->n_idle -= n_expired;
		ep->open -= n_expired;
		memmove(ep->idle, ep->idle + n_expired, (size_t) ep->n_idle * sizeof(ep->idle[0]));
		memmove(ep->idle_since, ep->idle_since + n_expired, (size_t) ep->n_idle * sizeof(ep->idle_since[0]));
	}
	return n_expired;
}

void
rpc_endpoint_close_idle(rpc_endpoint *ep)
{
	rpc_conn *expired[IDLE_MAX];
	pthread_mutex_lock(&ep->mu);
	int n_expired = take_expired(ep, expired);
	pthread_mutex_unlock(&ep->mu);
	for (int i = 0; i < n_expired; i++)
		rpc_conn_close(expired[i]);
}

int
rpc_endpoint_take(
    rpc_endpoint *ep, int64_t connect_by_ms, int64_t handshake_by_ms, rpc_conn **out, char *why, size_t why_len)
{
	/* The most recently used first: it is the likeliest still open. */
	for (;;) {
		rpc_conn *expired[IDLE_MAX];
		pthread_mutex_lock(&ep->mu);
		int n_expired = take_expired(ep, expired);
		rpc_conn *c   = ep->n_idle > 0 ? ep->idle[--ep->n_idle] : NULL;
		pthread_mutex_unlock(&ep->mu);
		for (int i = 0; i < n_expired; i++)
			rpc_conn_close(expired[i]);
		if (c == NULL)
			break;
		if (rpc_conn_fit(c)) {
			*out = c;
			return 0;
		}
		rpc_endpoint_give_back(ep, c, false); /* the replica closed it: maybe it restarted */
	}
	int64_t now = rpc_clock_ms();
	pthread_mutex_lock(&ep->mu);
	bool refused = ep->draining || now < ep->down_until;
	int told     = ep->draining ? NNG_ECONNREFUSED : ep->last_error;
	if (refused && why != NULL && why_len > 0)
		snprintf(why, why_len, "%s", ep->draining ? "" : ep->last_why);
	if (!refused) {
		ep->open++; /* counted while dialing, so a drain waits for it */
		ep->dialing++;
	}
	pthread_mutex_unlock(&ep->mu);
	if (refused) /* the reason of the dial that failed, not "refused" */
		return told;
	int rv = rpc_connector_dial(ep->connector, connect_by_ms, handshake_by_ms, out, why, why_len);
	pthread_mutex_lock(&ep->mu);
	ep->dialing--;
	/* A dial that ran out of the caller's deadline (a call of 1 ms, or a
	 * handshake queued behind others for the CPU) says nothing of the
	 * replica: only a refusal, a failed handshake, or a connect that had
	 * its whole bound marks it down. */
	bool decisive = rv != 0 && (rv != NNG_ETIMEDOUT || rpc_clock_ms() < handshake_by_ms);
	rpc_conn *stale[IDLE_MAX];
	int n_stale = 0;
	if (rv != 0 && !decisive) {
		ep->open--;
	} else if (rv != 0) {
		ep->open--;
		ep->last_error = rv;
		snprintf(ep->last_why, sizeof(ep->last_why), "%s", why != NULL ? why : "");
		/* A connect that hangs is a host or link gone (a refusal, a
		 * process restarting): tried again less often. */
		int64_t max    = rv == NNG_ETIMEDOUT ? RPC_ENDPOINT_RETRY_SILENT_MAX_MS : RPC_ENDPOINT_RETRY_MAX_MS;
		ep->down_until = rpc_clock_ms() + (ep->retry_ms < max ? ep->retry_ms : max);
		ep->retry_ms   = ep->retry_ms * 2 < max ? ep->retry_ms * 2 : max;
		/* Its idle connections share the fate of the dial (a cut link
		 * leaves them looking open until TCP gives up on them). */
		n_stale = ep->n_idle;
		for (int i = 0; i < n_stale; i++)
			stale[i] = ep->idle[i];
		ep->open -= n_stale;
		ep->n_idle = 0;
	} else {
		ep->down_until = 0;
		ep->retry_ms   = RPC_ENDPOINT_RETRY_MIN_MS;
	}
	pthread_mutex_unlock(&ep->mu);
	for (int i = 0; i < n_stale; i++)
		rpc_conn_close(stale[i]);
	return rv;
}

void
rpc_endpoint_give_back(rpc_endpoint *ep, rpc_conn *c, bool reusable)
{
	pthread_mutex_lock(&ep->mu);
	bool keep = reusable && !ep->draining && ep->n_idle < IDLE_MAX;
	if (keep) {
		ep->idle_since[ep->n_idle] = rpc_clock_ms();
		ep->idle[ep->n_idle++]     = c;
	} else {
		ep->open--;
	}
	pthread_mutex_unlock(&ep->mu);
	if (!keep)
		rpc_conn_close(c);
}

bool
rpc_endpoint_up(rpc_endpoint *ep)
{
	int64_t now = rpc_clock_ms();
	pthread_mutex_lock(&ep->mu);
	/* A replica whose only connection is a dial in progress is not known
	 * to answer (a cut link holds a dial until its deadline): calls go
	 * elsewhere meanwhile. */
	bool up = !ep->draining &&
	          (ep->n_idle > 0 || (now >= ep->down_until && (ep->dialing == 0 || ep->open > ep->dialing)));
	pthread_mutex_unlock(&ep->mu);
	return up;
}

int
rpc_endpoint_connections(rpc_endpoint *ep)
{
	pthread_mutex_lock(&ep->mu);
	int n = ep->open;
	pthread_mutex_unlock(&ep->mu);
	return n;
}

void
rpc_endpoint_drain(rpc_endpoint *ep)
{
	rpc_conn *close_now[IDLE_MAX];
	pthread_mutex_lock(&ep->mu);
	ep->draining = true;
	int n        = ep->n_idle;
	for (int i = 0; i < n; i++)
		close_now[i] = ep->idle[i];
	ep->open -= n;
	ep->n_idle = 0;
	pthread_mutex_unlock(&ep->mu);
	for (int i = 0; i < n; i++)
		rpc_conn_close(close_now[i]);
}
