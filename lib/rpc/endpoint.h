/* One replica of a service as a client sees it (an address of a name, or
 * a URL): the connections kept to it, each lent to one calling thread at a
 * time (rpc/transport.h), so a call is written and its reply read by the
 * thread that makes it. A connection is dialed when a call finds none idle
 * and kept after the call, so a client ends up with as many as it has had
 * calls in flight at once; an idle one the replica has closed is dropped
 * when a call finds it (rpc_conn_fit). One left idle for idle_close_ms is
 * closed by the next call, or by rpc_endpoint_close_idle (the replica
 * set's thread calls it), before a server's own limit for idle
 * connections (RPC_SERVER_IDLE_CLOSE_MS, longer) could close it under a
 * call: a pool shrinks back after a burst, no call is sent on a connection
 * the server is closing, and a client that goes quiet holds no socket the
 * server has given up on.
 *
 * A replica that refused or did not answer its last dial is down for a
 * back-off (RPC_ENDPOINT_RETRY_MIN_MS, doubling to _MAX_MS, or to
 * _SILENT_MAX_MS after connects that hung), and its idle connections
 * close: calls take no new dial to it then but fail at once, so a client
 * with several replicas picks another (rpc_endpoint_up), and one with a
 * single replica answers UNAVAILABLE without a connect wait each time. Any
 * call's dial after the back-off finds a replica that came back.
 *
 * Thread-safe. An endpoint is counted: the opener's reference, and each
 * rpc_endpoint_hold; it is freed when the last is released, its connections
 * with it. */
#ifndef RPC_ENDPOINT_H
#define RPC_ENDPOINT_H

#include <nng/nng.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc/transport.h"

#define RPC_ENDPOINT_RETRY_MIN_MS 10
#define RPC_ENDPOINT_RETRY_MAX_MS 200
/* The back-off's bound after connects that hung (no answer at all). */
#define RPC_ENDPOINT_RETRY_SILENT_MAX_MS 1000
/* How long a connection may sit idle in the pool, by default. */
#define RPC_ENDPOINT_IDLE_CLOSE_MS 30000

typedef struct rpc_endpoint rpc_endpoint;

/* An endpoint dialing url (a numeric host: rpc_url_for_nng's) with tls
 * (NULL: plain; held), keeping idle connections idle_close_ms (<= 0:
 * RPC_ENDPOINT_IDLE_CLOSE_MS; it must stay below the servers'). 0 and *out
 * the caller's reference, or an nng error (a URL nng does not take). */
int rpc_endpoint_open(rpc_endpoint **out, const char *url, rpc_tls *tls, int idle_close_ms);

void rpc_endpoint_hold(rpc_endpoint *ep);
void rpc_endpoint_release(rpc_endpoint *ep);

/* A connection for one call: an idle one still fit, else a new one dialed
 * connected before connect_by_ms and through its TLS handshake before
 * handshake_by_ms (rpc_connector_dial). 0 and *out lent to the caller until
 * rpc_endpoint_give_back; or the dial's error, with why (why_len bytes,
 * may be NULL) saying what TLS found wrong with the server's certificate.
 * While the endpoint is down the failed dial's error and why again, at
 * once; NNG_ECONNREFUSED while it drains. */
int rpc_endpoint_take(
    rpc_endpoint *ep, int64_t connect_by_ms, int64_t handshake_by_ms, rpc_conn **out, char *why, size_t why_len);

/* Returns a connection from rpc_endpoint_take: kept for the next call when
 * reusable (its call ended with a whole reply), else closed. */
void rpc_endpoint_give_back(rpc_endpoint *ep, rpc_conn *c, bool reusable);

/* Whether a call may go to this endpoint now: not draining, not down (its
 * last dial worked, or its back-off has passed), and not only being dialed
 * (a dial in progress with no connection up says nothing yet). */
bool rpc_endpoint_up(rpc_endpoint *ep);

/* Closes the connections idle for idle_close_ms or more now; a call
 * does the same as it takes one. Any thread. */
void rpc_endpoint_close_idle(rpc_endpoint *ep);

/* Connections open to it now, idle and lent. */
int rpc_endpoint_connections(rpc_endpoint *ep);

/* The address has left its name: idle connections close now, lent ones
 * when given back, and no new one is dialed. */
void rpc_endpoint_drain(rpc_endpoint *ep);

#endif
