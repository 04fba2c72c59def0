/* Serves any protoc-c generated service: a thread per connection reads a
 * request, runs its handler and writes the reply (rpc/transport.h), with
 * one of a fixed pool of worker states (a PostgreSQL or Redis connection,
 * say: what worker_open made) lent to it for the handler, so handlers
 * share nothing and take no lock, and no more than `workers` run at once.
 *
 * A handler is the generated service's function pointer:
 *   void get_user(Users__UserService_Service *svc, const Users__GetUserRequest *in,
 *                 Users__User_Closure done, void *closure_data);
 * closure_data is the rpc_call of this request (see the accessors below).
 * The handler calls done(&reply, closure_data) exactly once, or sets
 * rpc_call_status(call) and calls done(NULL, closure_data). The reply is
 * packed inside done, so it may live on the handler's stack.
 * A status message reaches HTTP clients (the gateway hides only those of
 * INTERNAL and other 500s): write it for them, never a library's text. */
#ifndef RPC_SERVER_H
#define RPC_SERVER_H

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>

#include "rpc/status.h"
#include "rpc/tls_files.h"

/* How long a connection may go without a request, by default: twice
 * what clients keep one idle (RPC_ENDPOINT_IDLE_CLOSE_MS, 30 s). */
#define RPC_SERVER_IDLE_CLOSE_MS 60000

typedef struct rpc_server rpc_server;
typedef struct rpc_call rpc_call;

typedef struct rpc_server_options {
	const char *url;           /* tcp://127.0.0.1:5001, tls+tcp://0.0.0.0:5001, ipc:///tmp/x; port 0: any */
	ProtobufCService *service; /* e.g. &(Users__UserService_Service)USERS__USER_SERVICE__INIT(prefix_) */
	int workers;               /* worker states, the handlers that may run at once; >= 1 */
	/* Deadline for a request that carries none (timeout_ms 0); 0 → 30 s. */
	uint32_t default_timeout_ms;
	/* A connection with no request for this long is closed, in ms; <= 0 →
	 * RPC_SERVER_IDLE_CLOSE_MS. Longer than clients keep an idle
	 * connection (rpc_client_options.idle_close_ms), so that they close
	 * first and never send on one being closed. */
	int idle_close_ms;
	/* Optional: called once per worker (index 0 to workers - 1) on the
	 * opening thread; its result is that worker's state, lent to one
	 * handler at a time on a connection's thread (rpc_call_worker_state). */
	void *(*worker_open)(void *arg, int index);
	/* Optional: called as each request begins, before its handler, with
	 * the state lent to it and the call (its deadline known): to bound what
	 * the state's connections do for it. */
	void (*call_begin)(void *state, const rpc_call *call);
	/* Optional: called for each state on the closing thread, once no
	 * handler runs. */
	void (*worker_close)(void *state);
	void *arg;
	/* Optional: with TLS configured (rpc_tls_configured), url is
	 * tls+tcp:// and every caller must present a certificate that chains
	 * to tls->caller_ca; any other connection is closed before a request
	 * is read, logged once (rpc_caller_refused, with the peer's address)
	 * and counted (rpc_server_refused_callers). Read at open only. */
	const rpc_tls_files *tls;
	/* Optional, with tls: the names whose certificates may call,
	 * comma-separated ("user-svc,gateway,order-svc,operator": the service
	 * itself and its registry line's callers), at most 255 bytes: a caller
	 * whose certificate's common name is not one of them is refused like
	 * one whose certificate does not verify. NULL or "": any certificate
	 * that verifies. Borrowed for the call. */
	const char *callers;
} rpc_server_options;

/* Listens on opt->url and starts the workers. On success *out is the
 * caller's, to be closed with rpc_server_close. On failure returns the
 * code (UNAVAILABLE when the address cannot be bound, INVALID_ARGUMENT for
 * bad options), fills st and leaves nothing running. */
rpc_code rpc_server_open(rpc_server **out, const rpc_server_options *opt, rpc_status *st);

/* Stops taking requests, lets every request already in a handler finish
 * and reply, joins the workers and frees everything. Accepts NULL. Not to
 * be called from a handler. */
void rpc_server_close(rpc_server *srv);

/* The URL actually bound (useful with tcp port 0); borrowed. */
const char *rpc_server_url(const rpc_server *srv);

/* Connections the servers of this process refused since it started
 * because the caller's certificate was missing or did not verify (always 0
 * without TLS): a counter for /metrics. Thread-safe. */
uint64_t rpc_server_refused_callers(void);

/* Requests the servers of this process answered without a handler since
 * it started: a frame over the 4 MB limit, a malformed envelope or
 * payload, an unknown method. Each is logged with the peer's address, at
 * most once a minute per kind and address (the line after that says how
 * many were left out); this counts them all, for /metrics. Thread-safe. */
uint64_t rpc_server_bad_requests(void);

/* Accessors for handlers; each takes the closure_data of the call. The
 * strings are borrowed for the duration of the handler. */
const char *rpc_call_request_id(const rpc_call *call);                /* "" when none */
int64_t rpc_call_deadline_ms(const rpc_call *call);                   /* on rpc_clock_ms's clock */
int64_t rpc_call_remaining_ms(const rpc_call *call);                  /* may be <= 0 */
const char *rpc_call_metadata(const rpc_call *call, const char *key); /* NULL if absent */
void *rpc_call_worker_state(const rpc_call *call);
rpc_status *rpc_call_status(rpc_call *call);

#endif
