/* listener_watch.h: a probe dial every second; two not taken re-open. */
#include "rpc/listener_watch.h"

#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "base/fd_limit.h"
#include "base/log.h"
#include "base/monotonic.h"

#define PERIOD_MS 1000
#define PROBE_TIMEOUT_MS 2000 /* generous: a busy machine accepts slowly */
#define FAILURES_TO_REOPEN 2
/* Below this many free descriptors a probe that went unanswered says the
 * process is starved, not that the listener is stuck: re-opening would
 * close the listener and then fail to open it again. */
#define FD_HEADROOM_MIN 64

struct listener_watch {
	nng_socket sock;
	nng_listener *listener;
	nng_tls_config *listen_tls; /* NULL without TLS */
	nng_tls_config *probe_tls;
	char url[256];
	pthread_t thread;
	pthread_mutex_t mu; /* guards stop and accepted */
	pthread_cond_t cv;  /* signalled on stop and on each accepted connection */
	bool stop;
	uint64_t accepted; /* connections the server socket added */
	bool probe_up;     /* the probe's own side of the handshake is done */
};

/* The server socket added a connection (any client's, or the probe's). */
static void
on_accepted(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	(void) pipe;
	(void) ev;
	listener_watch *w = arg;
	pthread_mutex_lock(&w->mu);
	w->accepted++;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* The probe's side of its connection is up. Closing the probe before this
 * would cut its handshake short, which nng 1.5.2 mishandles (it leaks the
 * connection, the same bug #1518 on the dialing side). */
static void
on_probe_up(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	(void) pipe;
	(void) ev;
	listener_watch *w = arg;
	pthread_mutex_lock(&w->mu);
	w->probe_up = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* True when the server socket takes a new connection in time (or when no
 * probe could be made: then there is nothing to act on). */
static bool
accepts(listener_watch *w)
{
	nng_socket probe;
	if (nng_req0_open(&probe) != 0)
		return true;
	pthread_mutex_lock(&w->mu);
	uint64_t before = w->accepted;
	w->probe_up     = false;
	pthread_mutex_unlock(&w->mu);
	nng_pipe_notify(probe, NNG_PIPE_EV_ADD_POST, on_probe_up, w);
	bool ok = true;
	nng_dialer d;
	int rv = nng_dialer_create(&d, probe, w->url);
	if (rv == 0 && w->probe_tls != NULL)
		rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, w->probe_tls);
	if (rv == 0)
		rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK);
	if (rv == 0) {
		/* Not cut short by a stop: both ends finish the handshake (or the
		 * bound passes) before the probe closes. A stop comes just before
		 * the server socket closes, and nng 1.5.2 never frees a listener
		 * closed with an accepted TLS connection still in its handshake (a
		 * cycle of its own objects, which LeakSanitizer reports at exit). */
		struct timespec until = monotonic_deadline(PROBE_TIMEOUT_MS);
		pthread_mutex_lock(&w->mu);
		while ((w->accepted == before || !w->probe_up) && pthread_cond_timedwait(&w->cv, &w->mu, &until) == 0) {
		}
		ok = w->accepted != before || w->stop;
		pthread_mutex_unlock(&w->mu);
	}
	nng_close(probe);
	return ok;
}

/* Returns true when a listener is open (again, or still: a starved process
 * keeps the one it has); false leaves none open (the caller retries at the
 * next period, when closed is true: then it listens whatever the headroom,
 * since nothing listens to lose). */
static bool
reopen(listener_watch *w, bool closed)
{
	long headroom = fd_limit_headroom();
	if (!closed && headroom >= 0 && headroom < FD_HEADROOM_MIN) {
		log_warn(NULL,
		    "rpc_listener_reopen_skipped url=%s free_fds=%ld reason=\"out of file descriptors: new connections "
		    "wait for some to close (a flood of half-open connections holds one each for up to 10 s)\"",
		    w->url, headroom);
		return true; /* the listener stays as it is */
	}
	nng_listener_close(*w->listener);
	int rv = nng_listener_create(w->listener, w->sock, w->url);
	if (rv == 0 && w->listen_tls != NULL)
		rv = nng_listener_set_ptr(*w->listener, NNG_OPT_TLS_CONFIG, w->listen_tls);
	if (rv == 0 && (rv = nng_listener_start(*w->listener, 0)) != 0)
		nng_listener_close(*w->listener);
	if (rv != 0) {
		log_error(NULL, "rpc_listener_reopen_failed url=%s error=\"%s\" (retried each second)", w->url,
		    nng_strerror(rv));
		return false;
	}
	log_warn(NULL, "rpc_listener_reopened url=%s reason=\"new connections were not accepted (nng#1518)\"", w->url);
	return true;
}

static void *
watch_main(void *arg)
{
	listener_watch *w = arg;
	int failures      = 0;
	bool closed       = false; /* a re-open failed: nothing listens */
	for (;;) {
		struct timespec until = monotonic_deadline(PERIOD_MS);
		pthread_mutex_lock(&w->mu);
		while (!w->stop && pthread_cond_timedwait(&w->cv, &w->mu, &until) == 0) {
		}
		bool stop = w->stop;
		pthread_mutex_unlock(&w->mu);
		if (stop)
			break;
		if (closed) {
			closed = !reopen(w, true);
			continue;
		}
		failures = accepts(w) ? 0 : failures + 1;
		pthread_mutex_lock(&w->mu);
		stop = w->stop; /* a stop during the probe: the server is closing */
		pthread_mutex_unlock(&w->mu);
		if (failures >= FAILURES_TO_REOPEN && !stop) {
			closed   = !reopen(w, false);
			failures = 0;
		}
	}
	return NULL;
}

listener_watch *
listener_watch_start(
    nng_socket sock, nng_listener *listener, const char *url, nng_tls_config *listen_tls, nng_tls_config *probe_tls)
{
	listener_watch *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	w->sock       = sock;
	w->listener   = listener;
	w->listen_tls = listen_tls;
	w->probe_tls  = probe_tls;
	if (listen_tls != NULL)
		nng_tls_config_hold(listen_tls);
	if (probe_tls != NULL)
		nng_tls_config_hold(probe_tls);
	snprintf(w->url, sizeof(w->url), "%s", url);
	pthread_mutex_init(&w->mu, NULL);
	monotonic_cond_init(&w->cv);
	if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
		listener_watch_free(w);
		return NULL;
	}
	nng_pipe_notify(sock, NNG_PIPE_EV_ADD_POST, on_accepted, w);
	return w;
}

void
listener_watch_stop(listener_watch *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
}

void
listener_watch_free(listener_watch *w)
{
	if (w == NULL)
		return;
	if (w->listen_tls != NULL)
		nng_tls_config_free(w->listen_tls);
	if (w->probe_tls != NULL)
		nng_tls_config_free(w->probe_tls);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
