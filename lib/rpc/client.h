/* Calls methods of a service. Thread-safe: each call borrows a connection
 * to one of the service's replicas (rpc/replica_set.h, rpc/endpoint.h),
 * writes the request and reads the reply on the calling thread
 * (rpc/transport.h), so any number of threads may call at once, each over
 * its own connection. Every call has a deadline; a request is never
 * resent, so a call is never repeated behind the caller's back. */
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
	/* How long a connect to one replica may take when no connection is
	 * idle (a replica that refuses answers at once); 0 → 300 ms. One that
	 * fails sent nothing, so the call tries the next replica that is up,
	 * within its deadline, and answers UNAVAILABLE when none connected (or
	 * DEADLINE_EXCEEDED when the deadline ended first). */
	int connect_wait_ms;
	/* With TLS configured (rpc_tls_configured): every URL is tls+tcp://,
	 * each connection presents tls->cert and accepts only a server whose
	 * certificate chains to tls->ca and names server_name (the service's
	 * registry name, whatever host the URL has). NULL: plain. Read at open
	 * only. A server that fails the check is never called: its calls answer
	 * UNAVAILABLE saying what is wrong with its certificate. */
	const rpc_tls_files *tls;
	const char *server_name;
	/* How often a URL's host name is looked up again, in ms (each of its
	 * addresses is a replica: rpc/replica_set.h); <= 0 → 5000. */
	int resolve_interval_ms;
	/* How long a connection may sit idle before a call closes it, in ms;
	 * <= 0 → RPC_ENDPOINT_IDLE_CLOSE_MS (30 s). Below the servers' limit
	 * (rpc_server_options.idle_close_ms, 60 s), so a call is never sent
	 * on a connection the server is closing. */
	int idle_close_ms;
} rpc_client_options;

/* Per-call options; all may be zero/NULL. */
typedef struct rpc_call_options {
	const char *request_id;
	int64_t timeout_ms; /* <= 0 → the client's default of 2000 ms */
	const rpc_metadata *metadata;
	size_t n_metadata;
} rpc_call_options;

/* Creates a client of url: several URLs separated by commas, or a host name
 * of several addresses, spread calls across those servers; names are
 * looked up (in the background) again every opt->resolve_interval_ms and
 * after a dial fails. Connections are dialed as calls need them and kept.
 * It succeeds even when no server is up yet (or a name does not resolve
 * yet); a dead link is noticed within RPC_TCP_USER_TIMEOUT_MS. opt may be
 * NULL. On success *out is the caller's; close it with rpc_client_close. */
rpc_code rpc_client_open(rpc_client **out, const char *url, const rpc_client_options *opt, rpc_status *st);

/* Closes every connection and frees the client. Every call must have
 * returned first (stop the threads that call, e.g. mg_stop, before
 * closing). Accepts NULL. Never waits for a name lookup in progress. */
void rpc_client_close(rpc_client *c);

/* Connections open now, idle and lent to calls. */
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
