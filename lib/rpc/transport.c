/* transport.h over nng_stream: each connection waits on its own aio. */
#include "rpc/transport.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/envelope.h"
#include "rpc/nng_fixes.h" /* NNG_OPT_TLS_PEER_CN on nng < 1.6 */
#include "rpc/tcp_liveness.h"

/* Read-ahead: a whole small frame (most requests and replies) arrives in
 * one read. */
#define READ_BUF 4096

struct rpc_conn {
	nng_stream *s;
	nng_aio *aio;
	bool parked; /* a read is armed on the idle connection (rpc_conn_park) */
	bool broken; /* an operation failed: not fit for another call */
	size_t off, have;
	uint8_t buf[READ_BUF];
};

struct rpc_acceptor {
	nng_stream_listener *l;
	nng_aio *aio;
};

struct rpc_connector {
	nng_stream_dialer *d;
};

/* nng's relative timeout for an operation that must end by deadline_ms. */
static nng_duration
until(int64_t deadline_ms)
{
	if (deadline_ms == RPC_NO_DEADLINE)
		return NNG_DURATION_INFINITE;
	int64_t left = deadline_ms - rpc_clock_ms();
	if (left < 1)
		return 1; /* nng's 0 would mean "the default", not "now" */
	return left > INT32_MAX ? INT32_MAX : (nng_duration) left;
}

/* One receive or send on the connection's aio, waited for: the bytes
 * moved, or -error. */
static long
io(rpc_conn *c, nng_iov *iov, unsigned n_iov, int64_t deadline_ms, bool send)
{
	nng_aio_set_iov(c->aio, n_iov, iov);
	nng_aio_set_timeout(c->aio, until(deadline_ms));
	if (send)
		nng_stream_send(c->s, c->aio);
	else
		nng_stream_recv(c->s, c->aio);
	nng_aio_wait(c->aio);
	int rv = nng_aio_result(c->aio);
	if (rv == 0 && nng_aio_count(c->aio) == 0)
		rv = NNG_ECONNSHUT;
	if (rv != 0) {
		c->broken = true;
		return -rv;
	}
	return (long) nng_aio_count(c->aio);
}

static rpc_conn *
conn_new(nng_stream *s)
{
	rpc_conn *c = malloc(sizeof(*c));
	if (c == NULL || nng_aio_alloc(&c->aio, NULL, NULL) != 0) {
		free(c);
		nng_stream_close(s);
		nng_stream_free(s);
		return NULL;
	}
	c->s      = s;
	c->parked = c->broken = false;
	c->off = c->have = 0;
	return c;
}

int
rpc_conn_write_frame(rpc_conn *c, const void *body, size_t len, int64_t deadline_ms)
{
	if (len > UINT32_MAX)
		return NNG_EMSGSIZE;
	uint8_t hdr[RPC_FRAME_HEADER] = {
	    (uint8_t) (len >> 24), (uint8_t) (len >> 16), (uint8_t) (len >> 8), (uint8_t) len};
	nng_iov iov[2] = {{.iov_buf = hdr, .iov_len = sizeof(hdr)}, {.iov_buf = (void *) body, .iov_len = len}};
	unsigned n     = len > 0 ? 2 : 1;
	nng_iov *at    = iov;
	while (n > 0) { /* a send may take part of the bytes */
		long sent = io(c, at, n, deadline_ms, true);
		if (sent < 0)
			return (int) -sent;
		while (n > 0 && (size_t) sent >= at->iov_len) {
			sent -= (long) at->iov_len;
			at++;
			n--;
		}
		if (n > 0) {
			at->iov_buf = (uint8_t *) at->iov_buf + sent;
			at->iov_len -= (size_t) sent;
		}
	}
	return 0;
}

/* Reads more into the buffer (compacted first): 0 or an nng error. */
static int
fill(rpc_conn *c, int64_t deadline_ms)
{
	if (c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->have - c->off);
		c->have -= c->off;
		c->off = 0;
	}
	nng_iov iov = {.iov_buf = c->buf + c->have, .iov_len = sizeof(c->buf) - c->have};
	long got    = io(c, &iov, 1, deadline_ms, false);
	if (got < 0)
		return (int) -got;
	c->have += (size_t) got;
	return 0;
}

int
rpc_conn_read_frame(
    rpc_conn *c, size_t max, int64_t first_deadline_ms, int64_t rest_ms, nng_msg **body, bool *started)
{
	*body = NULL;
	if (started != NULL)
		*started = c->have > c->off;
	int64_t deadline = c->have > c->off ? rpc_clock_ms() + rest_ms : first_deadline_ms;
	int rv;
	while (c->have - c->off < RPC_FRAME_HEADER) {
		bool empty = c->have == c->off;
		if ((rv = fill(c, deadline)) != 0) {
			if (rv == NNG_ETIMEDOUT && empty)
				c->broken = false; /* nothing of a frame was read: still usable */
			return rv;
		}
		if (empty) {
			deadline = rpc_clock_ms() + rest_ms;
			if (started != NULL)
				*started = true;
		}
	}
	const uint8_t *h = c->buf + c->off;
	size_t len       = (size_t) h[0] << 24 | (size_t) h[1] << 16 | (size_t) h[2] << 8 | h[3];
	if (len > max) {
		c->broken = true;
		return NNG_EMSGSIZE;
	}
	c->off += RPC_FRAME_HEADER;
	nng_msg *m;
	if ((rv = nng_msg_alloc(&m, len)) != 0) {
		c->broken = true;
		return rv;
	}
	size_t in_buf = c->have - c->off < len ? c->have - c->off : len;
	memcpy(nng_msg_body(m), c->buf + c->off, in_buf);
	c->off += in_buf;
	if (c->off == c->have)
		c->off = c->have = 0;
	/* The rest of a large frame goes straight into the message. */
	for (size_t got = in_buf; got < len;) {
		nng_iov iov = {.iov_buf = (uint8_t *) nng_msg_body(m) + got, .iov_len = len - got};
		long n      = io(c, &iov, 1, deadline, false);
		if (n < 0) {
			nng_msg_free(m);
			return (int) -n;
		}
		got += (size_t) n;
	}
	*body = m;
	return 0;
}

void
rpc_conn_park(rpc_conn *c)
{
	if (c->broken || c->parked || c->have > c->off)
		return;
	c->off = c->have = 0;
	nng_iov iov      = {.iov_buf = c->buf, .iov_len = sizeof(c->buf)};
	nng_aio_set_iov(c->aio, 1, &iov);
	nng_aio_set_timeout(c->aio, NNG_DURATION_INFINITE);
	nng_stream_recv(c->s, c->aio);
	c->parked = true;
}

bool
rpc_conn_fit(rpc_conn *c)
{
	if (c->parked) {
		/* Whatever ended the armed read other than this cancel (bytes
		 * nobody asked for, the peer's close, an error) makes it unfit. */
		nng_aio_cancel(c->aio);
		nng_aio_wait(c->aio);
		c->parked = false;
		if (nng_aio_result(c->aio) != NNG_ECANCELED)
			c->broken = true;
	}
	return !c->broken && c->have == c->off;
}

void
rpc_conn_peer(rpc_conn *c, char *buf, size_t len, char *ip, size_t ip_len)
{
	nng_sockaddr sa;
	snprintf(buf, len, "unknown");
	snprintf(ip, ip_len, "unknown");
	if (nng_stream_get_addr(c->s, NNG_OPT_REMADDR, &sa) != 0)
		return;
	if (sa.s_family == NNG_AF_IPC) {
		snprintf(buf, len, "local");
		snprintf(ip, ip_len, "local");
	} else if (sa.s_family == NNG_AF_INET && inet_ntop(AF_INET, &sa.s_in.sa_addr, ip, (socklen_t) ip_len) != NULL)
		snprintf(buf, len, "%s:%u", ip, (unsigned) ntohs(sa.s_in.sa_port));
	else if (sa.s_family == NNG_AF_INET6 && inet_ntop(AF_INET6, sa.s_in6.sa_addr, ip, (socklen_t) ip_len) != NULL)
		snprintf(buf, len, "[%s]:%u", ip, (unsigned) ntohs(sa.s_in6.sa_port));
}

bool
rpc_conn_verified(rpc_conn *c)
{
	bool verified = false;
	return nng_stream_get_bool(c->s, NNG_OPT_TLS_VERIFIED, &verified) == 0 && verified;
}

int
rpc_conn_peer_name(rpc_conn *c, char **cn)
{
	return nng_stream_get_string(c->s, NNG_OPT_TLS_PEER_CN, cn);
}

int
rpc_conn_set_liveness(rpc_conn *c)
{
	nng_sockaddr local, peer;
	if (nng_stream_get_addr(c->s, NNG_OPT_LOCADDR, &local) != 0 ||
	    nng_stream_get_addr(c->s, NNG_OPT_REMADDR, &peer) != 0)
		return 1;
	return rpc_tcp_liveness_set_addresses(&local, &peer);
}

void
rpc_conn_shutdown(rpc_conn *c)
{
	nng_stream_close(c->s);
}

void
rpc_conn_close(rpc_conn *c)
{
	if (c == NULL)
		return;
	nng_stream_close(c->s);
	nng_aio_free(c->aio); /* waits out a parked read */
	nng_stream_free(c->s);
	free(c);
}

int
rpc_acceptor_open(rpc_acceptor **out, const char *url, nng_tls_config *tls, char *url_out, size_t url_len)
{
	rpc_acceptor *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return NNG_ENOMEM;
	int rv = nng_stream_listener_alloc(&a->l, url);
	if (rv == 0 && tls != NULL)
		rv = nng_stream_listener_set_ptr(a->l, NNG_OPT_TLS_CONFIG, tls);
	if (rv == 0)
		rv = nng_stream_listener_listen(a->l);
	if (rv == 0)
		rv = nng_aio_alloc(&a->aio, NULL, NULL);
	if (rv != 0) {
		nng_stream_listener_free(a->l);
		free(a);
		return rv;
	}
	snprintf(url_out, url_len, "%s", url);
	/* With tcp port 0 the system picks the port: report the real one. */
	int port;
	const char *colon = strrchr(url, ':');
	if (strncmp(url, "ipc://", 6) != 0 && colon != NULL && strcmp(colon, ":0") == 0 &&
	    nng_stream_listener_get_int(a->l, NNG_OPT_TCP_BOUND_PORT, &port) == 0)
		snprintf(url_out, url_len, "%.*s:%d", (int) (colon - url), url, port);
	*out = a;
	return 0;
}

int
rpc_acceptor_accept(rpc_acceptor *a, rpc_conn **out)
{
	nng_stream_listener_accept(a->l, a->aio);
	nng_aio_wait(a->aio);
	int rv = nng_aio_result(a->aio);
	if (rv != 0)
		return rv;
	if ((*out = conn_new(nng_aio_get_output(a->aio, 0))) == NULL)
		return NNG_ENOMEM;
	return 0;
}

void
rpc_acceptor_shutdown(rpc_acceptor *a)
{
	if (a != NULL)
		nng_stream_listener_close(a->l);
}

void
rpc_acceptor_free(rpc_acceptor *a)
{
	if (a == NULL)
		return;
	nng_stream_listener_close(a->l);
	nng_aio_free(a->aio);
	nng_stream_listener_free(a->l);
	free(a);
}

int
rpc_connector_open(rpc_connector **out, const char *url, nng_tls_config *tls)
{
	rpc_connector *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NNG_ENOMEM;
	int rv = nng_stream_dialer_alloc(&d->d, url);
	if (rv == 0 && tls != NULL)
		rv = nng_stream_dialer_set_ptr(d->d, NNG_OPT_TLS_CONFIG, tls);
	if (rv != 0) {
		nng_stream_dialer_free(d->d);
		free(d);
		return rv;
	}
	*out = d;
	return 0;
}

int
rpc_connector_dial(rpc_connector *d, int64_t deadline_ms, rpc_conn **out)
{
	nng_aio *aio;
	int rv = nng_aio_alloc(&aio, NULL, NULL);
	if (rv != 0)
		return rv;
	nng_aio_set_timeout(aio, until(deadline_ms));
	nng_stream_dialer_dial(d->d, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) == 0 && (*out = conn_new(nng_aio_get_output(aio, 0))) == NULL)
		rv = NNG_ENOMEM;
	nng_aio_free(aio);
	return rv;
}

void
rpc_connector_free(rpc_connector *d)
{
	if (d == NULL)
		return;
	nng_stream_dialer_close(d->d);
	nng_stream_dialer_free(d->d);
	free(d);
}
