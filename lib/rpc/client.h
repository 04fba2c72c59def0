/* Calls methods of a service over one nng REQ socket. Thread-safe: each
 * call borrows its own nng context (kept in a pool and reused), so any
 * number of threads may call at once. Every call has a deadline; the
 * transport never resends a request (REQ resend is disabled), so a call is
 * never repeated behind the caller's back. */
#ifndef RPC_CLIENT_H
#define RPC_CLIENT_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc/envelope.h"
#include "rpc/status.h"
#include "rpc/tls_files.h"

typedef struct rpc_client rpc_client;

typedef struct rpc_client_options {
	/* How long a call waits for a connection when none is up before it
	 * answers UNAVAILABLE; 0 → 300 ms. A call whose deadline ends no later
	 * than this wait answers DEADLINE_EXCEEDED instead. */
	int connect_wait_ms;
	/* With TLS configured (rpc_tls_configured): every URL is tls+tcp://,
	 * each connection presents tls->cert and accepts only a server whose
	 * certificate chains to tls->ca and names server_name (the service's
	 * registry name, whatever host the URL has). NULL: plain. Read at open
	 * only. A server that fails the check is never connected to: its calls
	 * answer UNAVAILABLE, and the dialer keeps trying. */
	const rpc_tls_files *tls;
	const char *server_name;
	/* How often a URL's host name is looked up again, in ms (each of its
	 * addresses gets a dialer: rpc/dialer_set.h); <= 0 → 5000. */
	int resolve_interval_ms;
	/* Connections to each replica (each URL, each address of a name),
	 * calls spread over them all: a connection writes one request at a
	 * time. <= 1 → 1; 1 on nng < 1.6 whatever is asked, logged once per
	 * process (rpc/dialer_set.h: rpc_connections_per_replica). */
	int connections_per_replica;
} rpc_client_options;

/* Per-call options; all may be zero/NULL. */
typedef struct rpc_call_options {
	const char *request_id;
	int64_t timeout_ms; /* <= 0 → the client's default of 2000 ms */
	const rpc_metadata *metadata;
	size_t n_metadata;
} rpc_call_options;

/* Creates a client that dials url in the background: several URLs
 * separated by commas, or a host name of several addresses, spread calls
 * across those servers; names are looked up again every
 * opt->resolve_interval_ms and after a connection drops. It succeeds even
 * when no server is up yet (or a name does not resolve yet), and reconnects
 * by itself; a dead link is noticed within RPC_TCP_USER_TIMEOUT_MS. opt may
 * be NULL. On success *out is the caller's; close it with
 * rpc_client_close. */
rpc_code rpc_client_open(rpc_client **out, const char *url, const rpc_client_options *opt, rpc_status *st);

/* Closes the socket and frees the client. Every call must have returned
 * first (stop the threads that call, e.g. mg_stop, before closing). Accepts
 * NULL. Returns within about 1 s: should nng's close not finish by then (a
 * teardown race of nng 1.5.2, see rpc/client.c), it logs a warning and
 * leaves the socket, and the client's memory, to the process's exit. */
void rpc_client_close(rpc_client *c);

/* Number of connections currently up. */
int rpc_client_connections(const rpc_client *c);

/* Calls service method `method` (its short name, "GetUser") with `request`,
 * whose descriptor must be the method's input. On RPC_OK *reply is a newly
 * unpacked message of the method's output type, the caller's to free with
 * protobuf_c_message_free_unpacked(*reply, NULL). Otherwise *reply is NULL
 * and st (may be NULL) says why: the server's status, or UNAVAILABLE (not
 * connected, connection lost) or DEADLINE_EXCEEDED (the deadline ended first,
 * waiting for a reply or for a connection). */
rpc_code rpc_client_call(rpc_client *c, const ProtobufCServiceDescriptor *service, const char *method,
    const ProtobufCMessage *request, ProtobufCMessage **reply, const rpc_call_options *opt, rpc_status *st);

/* The same with the request already packed and the method by full name
 * ("users.UserService/GetUser"). On RPC_OK *reply_envelope holds the reply
 * bytes in ->payload; free it with rpc__reply__free_unpacked(r, NULL). */
rpc_code rpc_client_call_raw(rpc_client *c, const char *full_method, const uint8_t *payload, size_t len,
    Rpc__Reply **reply_envelope, const rpc_call_options *opt, rpc_status *st);

#endif
