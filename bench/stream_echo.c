/* stream_echo.h: the echo over nng_stream, a thread per connection. */
#include "stream_echo.h"

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcp_floor.h" /* TCP_FLOOR_MAX_BYTES: the same frames */

#define MAX_CONNECTIONS 256

struct stream_echo_conn {
	nng_stream *stream;
	nng_aio *aio;
	nng_stream_dialer *dialer; /* the caller's side keeps it until the close */
};

struct stream_echo_server {
	nng_stream_listener *listener;
	atomic_bool stopping;
	nng_aio *accept_aio;
	pthread_t acceptor;
	pthread_mutex_t mu; /* guards conns, threads, n */
	stream_echo_conn *conns[MAX_CONNECTIONS];
	pthread_t threads[MAX_CONNECTIONS];
	int n;
};

/* Sends or receives exactly len bytes, waiting on the connection's aio. */
static int
transfer(stream_echo_conn *c, void *buf, size_t len, bool send)
{
	for (size_t done = 0; done < len;) {
		nng_iov iov = {.iov_buf = (char *) buf + done, .iov_len = len - done};
		nng_aio_set_iov(c->aio, 1, &iov);
		if (send)
			nng_stream_send(c->stream, c->aio);
		else
			nng_stream_recv(c->stream, c->aio);
		nng_aio_wait(c->aio);
		if (nng_aio_result(c->aio) != 0 || nng_aio_count(c->aio) == 0)
			return -1;
		done += nng_aio_count(c->aio);
	}
	return 0;
}

static stream_echo_conn *
conn_new(nng_stream *stream)
{
	stream_echo_conn *c = calloc(1, sizeof(*c));
	if (c == NULL || nng_aio_alloc(&c->aio, NULL, NULL) != 0) {
		free(c);
		nng_stream_free(stream);
		return NULL;
	}
	c->stream = stream;
	return c;
}

void
stream_echo_close(stream_echo_conn *c)
{
	if (c == NULL)
		return;
	nng_stream_close(c->stream);
	nng_aio_free(c->aio);
	nng_stream_free(c->stream);
	nng_stream_dialer_free(c->dialer);
	free(c);
}

static void *
serve_connection(void *arg)
{
	stream_echo_conn *c = arg;
	uint8_t frame[4 + TCP_FLOOR_MAX_BYTES];
	for (;;) {
		uint32_t len;
		if (transfer(c, &len, 4, false) != 0 || len > TCP_FLOOR_MAX_BYTES ||
		    transfer(c, frame + 4, len, false) != 0)
			break;
		memcpy(frame, &len, 4);
		if (transfer(c, frame, 4 + len, true) != 0)
			break;
	}
	return NULL;
}

static void *
accept_loop(void *arg)
{
	stream_echo_server *s = arg;
	for (;;) {
		nng_stream_listener_accept(s->listener, s->accept_aio);
		nng_aio_wait(s->accept_aio);
		if (nng_aio_result(s->accept_aio) != 0 && atomic_load(&s->stopping))
			return NULL; /* stream_echo_stop closed the listener */
		if (nng_aio_result(s->accept_aio) != 0) {
			nng_msleep(10); /* a passing failure (out of files...) */
			continue;
		}
		stream_echo_conn *c = conn_new(nng_aio_get_output(s->accept_aio, 0));
		if (c == NULL)
			continue;
		pthread_mutex_lock(&s->mu);
		if (s->n == MAX_CONNECTIONS || pthread_create(&s->threads[s->n], NULL, serve_connection, c) != 0) {
			pthread_mutex_unlock(&s->mu);
			stream_echo_close(c);
			continue;
		}
		s->conns[s->n++] = c;
		pthread_mutex_unlock(&s->mu);
	}
}

stream_echo_server *
stream_echo_start(char *url, size_t len, nng_tls_config *tls)
{
	stream_echo_server *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	pthread_mutex_init(&s->mu, NULL);
	int port           = 0;
	const char *scheme = tls != NULL ? "tls+tcp" : "tcp";
	char where[64];
	snprintf(where, sizeof(where), "%s://127.0.0.1:0", scheme);
	if (nng_stream_listener_alloc(&s->listener, where) != 0) {
		free(s);
		return NULL;
	}
	if ((tls != NULL && nng_stream_listener_set_ptr(s->listener, NNG_OPT_TLS_CONFIG, tls) != 0) ||
	    nng_stream_listener_listen(s->listener) != 0 ||
	    nng_stream_listener_get_int(s->listener, NNG_OPT_TCP_BOUND_PORT, &port) != 0 ||
	    nng_aio_alloc(&s->accept_aio, NULL, NULL) != 0 || pthread_create(&s->acceptor, NULL, accept_loop, s) != 0) {
		nng_stream_listener_free(s->listener);
		nng_aio_free(s->accept_aio);
		free(s);
		return NULL;
	}
	snprintf(url, len, "%s://127.0.0.1:%d", scheme, port);
	return s;
}

void
stream_echo_stop(stream_echo_server *s)
{
	if (s == NULL)
		return;
	atomic_store(&s->stopping, true);
	nng_stream_listener_close(s->listener); /* ends the accept */
	pthread_join(s->acceptor, NULL);
	for (int i = 0; i < s->n; i++) {
		nng_stream_close(s->conns[i]->stream); /* ends its thread's receive */
		pthread_join(s->threads[i], NULL);
		stream_echo_close(s->conns[i]);
	}
	nng_aio_free(s->accept_aio);
	nng_stream_listener_free(s->listener);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

stream_echo_conn *
stream_echo_connect(const char *url, nng_tls_config *tls)
{
	nng_stream_dialer *d;
	nng_aio *aio;
	if (nng_stream_dialer_alloc(&d, url) != 0)
		return NULL;
	if (tls != NULL && nng_stream_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, tls) != 0) {
		nng_stream_dialer_free(d);
		return NULL;
	}
	if (nng_aio_alloc(&aio, NULL, NULL) != 0) {
		nng_stream_dialer_free(d);
		return NULL;
	}
	nng_stream_dialer_dial(d, aio);
	nng_aio_wait(aio);
	stream_echo_conn *c = nng_aio_result(aio) == 0 ? conn_new(nng_aio_get_output(aio, 0)) : NULL;
	nng_aio_free(aio);
	if (c == NULL) {
		nng_stream_dialer_free(d);
		return NULL;
	}
	c->dialer = d;
	/* A server that stopped answering fails the call, not the benchmark
	 * (the server's side waits as long as its connection is open). */
	nng_aio_set_timeout(c->aio, 5000);
	uint8_t hello[1] = {0}, back[1];
	if (tls != NULL && stream_echo_call(c, hello, 1, back) != 0) {
		stream_echo_close(c); /* the handshake failed */
		return NULL;
	}
	return c;
}

int
stream_echo_call(stream_echo_conn *c, const uint8_t *request, size_t len, uint8_t *reply)
{
	uint8_t frame[4 + TCP_FLOOR_MAX_BYTES];
	uint32_t n = (uint32_t) len, back;
	if (len > TCP_FLOOR_MAX_BYTES)
		return -1;
	memcpy(frame, &n, 4);
	memcpy(frame + 4, request, len);
	if (transfer(c, frame, 4 + len, true) != 0 || transfer(c, &back, 4, false) != 0 || back != n)
		return -1;
	return transfer(c, reply, len, false);
}
