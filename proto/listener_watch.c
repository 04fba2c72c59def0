/* listener_watch.h: a probe call every second; two failures re-open. */
#include "listener_watch.h"

#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "rpc_envelope.h"

#define PERIOD_MS 1000
#define PROBE_TIMEOUT_MS 2000 /* generous: a busy machine accepts slowly */
#define FAILURES_TO_REOPEN 2

struct listener_watch {
	nng_socket sock;
	nng_listener *listener;
	char url[256];
	pthread_t thread;
	pthread_mutex_t mu; /* guards stop */
	pthread_cond_t cv;  /* signalled on stop */
	bool stop;
	_Atomic int reopened;
};

static void
deadline_in(struct timespec *t, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += ms / 1000;
	t->tv_nsec += (long) (ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

/* True when a call on a new connection is answered in time (or when no
 * probe could be made: then there is nothing to act on). */
static bool
accepts(listener_watch *w)
{
	nng_socket probe;
	nng_msg *msg;
	rpc_request_header hdr = {.method = LISTENER_WATCH_METHOD, .timeout_ms = PROBE_TIMEOUT_MS};
	if (nng_req0_open(&probe) != 0)
		return true;
	nng_socket_set_ms(probe, NNG_OPT_SENDTIMEO, PROBE_TIMEOUT_MS);
	nng_socket_set_ms(probe, NNG_OPT_RECVTIMEO, PROBE_TIMEOUT_MS);
	bool ok = true;
	if (nng_dial(probe, w->url, NULL, NNG_FLAG_NONBLOCK) == 0 &&
	    rpc_envelope_pack_request(&msg, &hdr, NULL, 0) == 0) {
		int rv = nng_sendmsg(probe, msg, 0);
		if (rv != 0)
			nng_msg_free(msg);
		else if ((rv = nng_recvmsg(probe, &msg, 0)) == 0)
			nng_msg_free(msg);
		ok = rv == 0 || rv == NNG_ENOMEM;
	}
	nng_close(probe);
	return ok;
}

static void
reopen(listener_watch *w)
{
	nng_listener_close(*w->listener);
	int rv = nng_listen(w->sock, w->url, w->listener, 0);
	if (rv != 0) {
		log_error(NULL, "rpc_listener_reopen_failed url=%s error=\"%s\" (retried)", w->url, nng_strerror(rv));
		return;
	}
	atomic_fetch_add(&w->reopened, 1);
	log_warn(NULL, "rpc_listener_reopened url=%s reason=\"new connections were not accepted (nng#1518)\"", w->url);
}

static void *
watch_main(void *arg)
{
	listener_watch *w = arg;
	int failures      = 0;
	for (;;) {
		struct timespec until;
		deadline_in(&until, PERIOD_MS);
		pthread_mutex_lock(&w->mu);
		while (!w->stop && pthread_cond_timedwait(&w->cv, &w->mu, &until) == 0) {
		}
		bool stop = w->stop;
		pthread_mutex_unlock(&w->mu);
		if (stop)
			break;
		failures = accepts(w) ? 0 : failures + 1;
		if (failures >= FAILURES_TO_REOPEN) {
			reopen(w);
			failures = 0;
		}
	}
	return NULL;
}

listener_watch *
listener_watch_start(nng_socket sock, nng_listener *listener, const char *url)
{
	listener_watch *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	w->sock     = sock;
	w->listener = listener;
	snprintf(w->url, sizeof(w->url), "%s", url);
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &attr);
	pthread_condattr_destroy(&attr);
	if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		free(w);
		return NULL;
	}
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
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

int
listener_watch_reopened(const listener_watch *w)
{
	return w != NULL ? atomic_load(&w->reopened) : 0;
}
