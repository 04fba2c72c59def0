/* rpc_client.h: each call borrows a connection of a replica (rpc/replica_set.h,
 * rpc/endpoint.h) and writes and reads it on the calling thread. */
#include "rpc/client.h"

#include <nng/nng.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "rpc/address_set.h"
#include "rpc/endpoint.h"
#include "rpc/replica_set.h"
#include "rpc/tls_config.h"
#include "rpc/transport.h"

#define DEFAULT_TIMEOUT_MS 2000
#define DEFAULT_CONNECT_WAIT_MS 300
#define MAX_REPLY_BYTES (16 * 1024 * 1024)
#define MAX_TIMEOUT_MS (24 * 3600 * 1000)

struct rpc_client {
	int connect_wait_ms;
	char tls_name[64]; /* the server name checked; "" without TLS */
	rpc_replica_set *replicas;
};

int
rpc_client_connections(const rpc_client *c)
{
	return rpc_replica_set_connections(c->replicas);
}

rpc_code
rpc_client_open(rpc_client **out, const char *url, const rpc_client_options *opt, rpc_status *st)
{
	rpc_client *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "out of memory");
	c->connect_wait_ms = opt != NULL && opt->connect_wait_ms > 0 ? opt->connect_wait_ms : DEFAULT_CONNECT_WAIT_MS;
	static const rpc_tls_files no_tls = {"", "", "", ""};
	const rpc_tls_files *tls          = opt != NULL && opt->tls != NULL ? opt->tls : &no_tls;
	char why[512];
	if (rpc_tls_check_urls(tls, "rpc client url", url, why, sizeof(why)) != 0) {
		free(c);
		return rpc_status_set(st, RPC_INVALID_ARGUMENT, "%s", why);
	}
	rpc_tls *cfg = NULL;
	if (rpc_tls_configured(tls)) {
		const char *name = opt->server_name != NULL ? opt->server_name : "";
		rpc_code code    = name[0] == '\0' ? rpc_status_set(st, RPC_INVALID_ARGUMENT, "TLS needs a server name")
		                                   : rpc_tls_dialer_config(&cfg, tls, name, st);
		snprintf(c->tls_name, sizeof(c->tls_name), "%s", name);
		if (code != RPC_OK) {
			free(c);
			return code;
		}
	}
	if (strlen(url) >= 1024) {
		rpc_tls_free(cfg);
		free(c);
		return rpc_status_set(st, RPC_INVALID_ARGUMENT, "URL list longer than 1023 bytes");
	}
	/* Each URL, or each address of a URL's host name (issue 19). */
	rpc_code code = rpc_replica_set_open(&c->replicas, url, cfg, opt != NULL ? opt->resolve_interval_ms : 0,
	    opt != NULL ? opt->idle_close_ms : 0, st);
	rpc_tls_free(cfg); /* the set and each replica hold their own reference */
	if (code != RPC_OK) {
		free(c);
		return code;
	}
	rpc_replica_set_start(c->replicas);
	*out = c;
	return RPC_OK;
}

void
rpc_client_close(rpc_client *c)
{
	if (c == NULL)
		return;
	rpc_replica_set_free(c->replicas);
	free(c);
}

/* The answer when no connection could be had: UNAVAILABLE when the connect
 * wait ended before the caller's deadline (the service is not there);
 * otherwise DEADLINE_EXCEEDED. */
static rpc_code
not_connected(const rpc_client *c, int rv, const char *why, int64_t deadline, int64_t timeout, rpc_status *st)
{
	if (rv == NNG_ETIMEDOUT && rpc_clock_ms() >= deadline)
		return rpc_status_set(
		    st, RPC_DEADLINE_EXCEEDED, "no connection within the %lld ms deadline", (long long) timeout);
	if (rv == NNG_ENOENT) {
		char problem[160];
		rpc_replica_set_problem(c->replicas, problem, sizeof(problem));
		return rpc_status_set(st, RPC_UNAVAILABLE, "service unreachable: nothing to dial, %s", problem);
	}
	if (rv == NNG_EPEERAUTH) {
		/* mbedTLS's verify info ends each reason with a new line. */
		char reason[256];
		snprintf(reason, sizeof(reason), "%s", why != NULL ? why : "");
		for (char *p = reason; *p != '\0'; p++)
			if (*p == '\n')
				*p = p[1] != '\0' ? ';' : '\0';
		return rpc_status_set(st, RPC_UNAVAILABLE,
		    "service unreachable: the TLS handshake failed (%s; the server must present %s's certificate from "
		    "a "
		    "CA of RPC_TLS_CA, and accept this caller's)",
		    reason[0] != '\0' ? reason : "refused", c->tls_name);
	}
	/* A name of the list without an address is said too. */
	char problem[160], also[176] = "";
	rpc_replica_set_problem(c->replicas, problem, sizeof(problem));
	if (problem[0] != '\0')
		snprintf(also, sizeof(also), "; %s", problem);
	return rpc_status_set(st, RPC_UNAVAILABLE, "service unreachable: not connected%s (%s)", also, nng_strerror(rv));
}

/* A connection for the call: a replica's idle one, or a new one, each
 * connect bounded by connect_wait_ms within the deadline. A dial that fails
 * sent nothing, so the next replica that is up is tried, until each has
 * been or the deadline has passed. NULL when none could be had, with *rv
 * and why saying why the last failed. */
static rpc_endpoint *
connect_some(rpc_client *c, int64_t deadline, rpc_conn **conn, int *rv, char *why, size_t why_len)
{
	size_t n = rpc_replica_set_count(c->replicas);
	*rv      = NNG_ENOENT;
	for (size_t tried = 0; tried < (n > 0 ? n : 1); tried++) {
		rpc_endpoint *ep = rpc_replica_set_pick(c->replicas);
		if (ep == NULL)
			return NULL;
		int64_t connect_by = rpc_clock_ms() + c->connect_wait_ms;
		if ((*rv = rpc_endpoint_take(
		         ep, connect_by < deadline ? connect_by : deadline, deadline, conn, why, why_len)) == 0)
			return ep;
		rpc_endpoint_release(ep);
		rpc_replica_set_kick(c->replicas); /* the replica may be gone, or moved */
		if (rpc_clock_ms() >= deadline)
			break;
	}
	return NULL;
}

rpc_code
rpc_client_call_raw(rpc_client *c, const char *full_method, const uint8_t *payload, size_t len,
    Rpc__Reply **reply_envelope, const rpc_call_options *opt, rpc_status *st)
{
	static const rpc_call_options none = {0};
	if (opt == NULL)
		opt = &none;
	*reply_envelope = NULL;
	int64_t timeout = opt->timeout_ms > 0 ? opt->timeout_ms : DEFAULT_TIMEOUT_MS;
	if (timeout > MAX_TIMEOUT_MS)
		timeout = MAX_TIMEOUT_MS;
	int64_t start    = rpc_clock_ms();
	int64_t deadline = start + timeout;
	rpc_status_clear(st);

	/* 1. A connection: with none idle, a dial of at most connect_wait_ms
	 *    (within the deadline). */
	rpc_conn *conn;
	char why[256] = "";
	int rv;
	rpc_endpoint *ep = connect_some(c, deadline, &conn, &rv, why, sizeof(why));
	if (ep == NULL)
		return not_connected(c, rv, why, deadline, timeout, st);

	/* 2. The envelope carries what is left of the budget now. */
	int64_t left = deadline - rpc_clock_ms();
	nng_msg *msg;
	rpc_request_header hdr = {
	    .method     = full_method,
	    .request_id = opt->request_id,
	    .timeout_ms = (uint32_t) (left > 0 ? left : 1),
	    .metadata   = opt->metadata,
	    .n_metadata = opt->n_metadata,
	};
	rpc_code code = RPC_OK;
	bool reusable = false;
	if (rpc_envelope_pack_request(&msg, &hdr, payload, len) != 0) {
		code     = rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "out of memory");
		reusable = true;
		goto out;
	}
	/* 3. Write, then read the reply with what is left of the deadline. */
	rv = rpc_conn_write_frame(conn, nng_msg_body(msg), nng_msg_len(msg), deadline);
	nng_msg_free(msg);
	if (rv != 0) {
		code = rv == NNG_ETIMEDOUT
		           ? rpc_status_set(st, RPC_DEADLINE_EXCEEDED, "no reply within %lld ms", (long long) timeout)
		           : rpc_status_set(st, RPC_UNAVAILABLE, "sending the request failed: %s", nng_strerror(rv));
		goto out;
	}
	nng_msg *reply;
	rv = rpc_conn_read_frame(conn, MAX_REPLY_BYTES, deadline, deadline - rpc_clock_ms(), &reply);
	if (rv != 0) {
		if (rv == NNG_ETIMEDOUT)
			code =
			    rpc_status_set(st, RPC_DEADLINE_EXCEEDED, "no reply within %lld ms", (long long) timeout);
		else if (c->tls_name[0] != '\0')
			/* A service that refuses the caller closes the connection
			 * right after the handshake. */
			code = rpc_status_set(st, RPC_UNAVAILABLE,
			    "connection lost: %s (if at once, %s may refuse this caller: is RPC_TLS_CERT from a CA in "
			    "its "
			    "RPC_TLS_CALLER_CA, and named as one of its callers?)",
			    nng_strerror(rv), c->tls_name);
		else if (rv == NNG_EMSGSIZE)
			/* A TLS service's alert, read as a frame's length. */
			code = rpc_status_set(st, RPC_UNAVAILABLE,
			    "connection lost: the service answered with something that is not a reply (does it speak "
			    "TLS?)");
		else
			code = rpc_status_set(st, RPC_UNAVAILABLE, "connection lost: %s", nng_strerror(rv));
		goto out;
	}
	reusable = true;
	code     = rpc_envelope_unpack_reply(reply, reply_envelope, st);
	nng_msg_free(reply);
out:
	rpc_endpoint_give_back(ep, conn, reusable);
	rpc_endpoint_release(ep);
	return code;
}

rpc_code
rpc_client_call(rpc_client *c, const ProtobufCServiceDescriptor *service, const char *method,
    const ProtobufCMessage *request, ProtobufCMessage **reply, const rpc_call_options *opt, rpc_status *st)
{
	*reply                             = NULL;
	const ProtobufCMethodDescriptor *m = protobuf_c_service_descriptor_get_method_by_name(service, method);
	if (m == NULL || request->descriptor != m->input) {
		return rpc_status_set(st, RPC_INTERNAL, "%s has no method %s taking %s", service->name, method,
		    request->descriptor->name);
	}
	char full[256];
	snprintf(full, sizeof(full), "%s/%s", service->name, m->name);

	uint8_t stack_buf[1024];
	size_t len   = protobuf_c_message_get_packed_size(request);
	uint8_t *buf = len <= sizeof(stack_buf) ? stack_buf : malloc(len);
	if (buf == NULL)
		return rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "out of memory");
	protobuf_c_message_pack(request, buf);

	Rpc__Reply *env = NULL;
	rpc_code code   = rpc_client_call_raw(c, full, buf, len, &env, opt, st);
	if (buf != stack_buf)
		free(buf);
	if (code != RPC_OK)
		return code;
	*reply = protobuf_c_message_unpack(m->output, NULL, env->payload.len, env->payload.data);
	rpc__reply__free_unpacked(env, NULL);
	if (*reply == NULL)
		return rpc_status_set(st, RPC_INTERNAL, "malformed %s reply payload", m->output->name);
	return RPC_OK;
}
