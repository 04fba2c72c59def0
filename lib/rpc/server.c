/* rpc_server.h: REP socket, worker threads and dispatch by method name. */
#include "rpc/server.h"

#include <arpa/inet.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "rpc/address_set.h"
#include "rpc/envelope.h"
#include "rpc/listener_watch.h"
#include "rpc/nng_fixes.h"
#include "rpc/tls_config.h"

#define DEFAULT_TIMEOUT_MS 30000
#define SEND_TIMEOUT_MS 5000
/* Larger requests are refused by nng before any allocation (nng's default
 * is no limit at all). */
#define MAX_REQUEST_BYTES (4 * 1024 * 1024)
/* nng 1.5.2 has no linger: a reply handed to a connection is still being
 * written when the socket closes. Closing waits this long after the last
 * reply so it gets out. */
#define CLOSE_GRACE_MS 200

struct rpc_call {
	const Rpc__Request *request;
	const ProtobufCMethodDescriptor *method;
	int64_t deadline_ms;
	void *worker_state;
	rpc_status status;
	nng_msg *reply; /* packed by the closure */
	bool replied;
};

typedef struct worker {
	rpc_server *server;
	int index;
	pthread_t thread;
	bool thread_started;
	nng_ctx ctx;
	nng_aio *recv_aio; /* stopped on close, which ends the worker's loop */
	nng_aio *send_aio; /* left alone on close, so in-flight replies go out */
	rpc_call call;
} worker;

struct rpc_server {
	rpc_server_options opt;
	nng_socket sock;
	nng_listener listener;
	listener_watch *watch; /* re-opens the listener if it stops accepting */
	nng_tls_config *tls;   /* the listener's, NULL without TLS */
	char url[256];
	char callers[256]; /* opt.callers, copied; "" for any verified caller */
	worker *workers;
	int n_workers;
	_Atomic int64_t last_reply_ms;
};

const char *
rpc_call_request_id(const rpc_call *call)
{
	return call->request != NULL ? call->request->request_id : "";
}

int64_t
rpc_call_deadline_ms(const rpc_call *call)
{
	return call->deadline_ms;
}

int64_t
rpc_call_remaining_ms(const rpc_call *call)
{
	return call->deadline_ms - rpc_clock_ms();
}

const char *
rpc_call_metadata(const rpc_call *call, const char *key)
{
	return call->request != NULL ? rpc_envelope_metadata(call->request, key) : NULL;
}

void *
rpc_call_worker_state(const rpc_call *call)
{
	return call->worker_state;
}

rpc_status *
rpc_call_status(rpc_call *call)
{
	return &call->status;
}

const char *
rpc_server_url(const rpc_server *srv)
{
	return srv->url;
}

static _Atomic uint64_t refused_callers;

/* A refused caller's dialer redials every 10-200 ms, so one misconfigured
 * gateway would write some 30 lines a second: the first refusal of a peer
 * address is logged, the next within REFUSAL_LOG_WINDOW_MS are counted and
 * told in the line after the window (the counter stays exact). Peers are
 * kept in a small table, the oldest replaced. */
#define REFUSAL_LOG_WINDOW_MS 60000
#define REFUSAL_PEERS 64
static struct {
	pthread_mutex_t mu;
	struct {
		char ip[INET6_ADDRSTRLEN];
		int64_t logged_ms; /* 0: free */
		uint64_t suppressed;
	} peers[REFUSAL_PEERS];
} refusal_log = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Whether to log a refusal of ip now; *suppressed gets how many were not
 * logged since this peer's last line. */
static bool
refusal_log_due(const char *ip, uint64_t *suppressed)
{
	int64_t now = rpc_clock_ms();
	bool due    = true;
	pthread_mutex_lock(&refusal_log.mu);
	int slot = 0;
	for (int i = 0; i < REFUSAL_PEERS; i++) {
		if (refusal_log.peers[i].logged_ms != 0 && strcmp(refusal_log.peers[i].ip, ip) == 0) {
			slot = i;
			goto found;
		}
		if (refusal_log.peers[i].logged_ms < refusal_log.peers[slot].logged_ms)
			slot = i; /* the free or the oldest */
	}
	snprintf(refusal_log.peers[slot].ip, sizeof(refusal_log.peers[slot].ip), "%s", ip);
	refusal_log.peers[slot].logged_ms  = 0;
	refusal_log.peers[slot].suppressed = 0;
found:
	if (refusal_log.peers[slot].logged_ms != 0 && now - refusal_log.peers[slot].logged_ms < REFUSAL_LOG_WINDOW_MS) {
		refusal_log.peers[slot].suppressed++;
		due = false;
	} else {
		*suppressed                        = refusal_log.peers[slot].suppressed;
		refusal_log.peers[slot].suppressed = 0;
		refusal_log.peers[slot].logged_ms  = now > 0 ? now : 1;
	}
	pthread_mutex_unlock(&refusal_log.mu);
	return due;
}

uint64_t
rpc_server_refused_callers(void)
{
	return atomic_load(&refused_callers);
}

/* "192.0.2.1:40000", "[2001:db8::1]:40000", or "unknown"; ip gets the
 * address alone. */
static void
peer_address(nng_pipe pipe, char *buf, size_t len, char ip[INET6_ADDRSTRLEN])
{
	nng_sockaddr sa;
	snprintf(buf, len, "unknown");
	snprintf(ip, INET6_ADDRSTRLEN, "unknown");
	if (nng_pipe_get_addr(pipe, NNG_OPT_REMADDR, &sa) != 0)
		return;
	if (sa.s_family == NNG_AF_INET && inet_ntop(AF_INET, &sa.s_in.sa_addr, ip, INET6_ADDRSTRLEN) != NULL)
		snprintf(buf, len, "%s:%u", ip, (unsigned) ntohs(sa.s_in.sa_port));
	else if (sa.s_family == NNG_AF_INET6 && inet_ntop(AF_INET6, sa.s_in6.sa_addr, ip, INET6_ADDRSTRLEN) != NULL)
		snprintf(buf, len, "[%s]:%u", ip, (unsigned) ntohs(sa.s_in6.sa_port));
}

/* Whether name is one of the comma-separated names of list. */
static bool
named_in(const char *name, const char *list)
{
	size_t n = strlen(name);
	for (const char *p = list; *p != '\0';) {
		size_t len = strcspn(p, ",");
		if (len == n && strncmp(p, name, n) == 0)
			return true;
		p += len + (p[len] == ',');
	}
	return false;
}

/* Before the socket takes a TLS connection (NNG_PIPE_EV_ADD_PRE): one
 * whose caller's certificate did not verify against RPC_TLS_CALLER_CA (the
 * listener asks in OPTIONAL mode, see tls_config.h), or, where nng tells
 * the certificate's name (rpc_nng_tells_peer_name), names no allowed
 * caller, is closed here, so the socket never sees it and no request of
 * it is read. nng 1.5.2 shows a pipe nothing more of its peer's
 * certificate than the one bit "verified". */
static void
gate_caller(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	(void) ev;
	const rpc_server *srv = arg;
	bool verified         = false;
	char why[384];
	if (nng_pipe_get_bool(pipe, NNG_OPT_TLS_VERIFIED, &verified) != 0 || !verified) {
		snprintf(why, sizeof(why),
		    "no certificate, or one that does not chain to RPC_TLS_CALLER_CA (a role not allowed to call this "
		    "service, another CA, self-signed, expired or not yet valid)");
	} else if (srv->callers[0] == '\0' || !rpc_nng_tells_peer_name()) {
		return;
	} else {
		char *cn = NULL;
		int rv   = nng_pipe_get_string(pipe, NNG_OPT_TLS_PEER_CN, &cn);
		if (rv == 0 && named_in(cn, srv->callers)) {
			nng_strfree(cn);
			return;
		}
		if (rv != 0)
			snprintf(why, sizeof(why), "the certificate's name cannot be read: %s", nng_strerror(rv));
		else
			snprintf(why, sizeof(why), "a certificate of '%.64s', not one of this service's callers (%s)",
			    cn, srv->callers);
		nng_strfree(cn);
	}
	char peer[INET6_ADDRSTRLEN + 16], ip[INET6_ADDRSTRLEN];
	peer_address(pipe, peer, sizeof(peer), ip);
	nng_pipe_close(pipe);
	uint64_t suppressed = 0;
	if (refusal_log_due(ip, &suppressed))
		log_warn(NULL,
		    "rpc_caller_refused peer=%s suppressed=%llu reason=\"%s; refusals of this address are logged at "
		    "most once a minute, all are counted in rpc_callers_refused_total\"",
		    peer, (unsigned long long) suppressed, why);
	/* Counted last: whoever sees the count (Health's stats) may count on
	 * the line being written (e2e_rpc_tls once read the count and, 200 ms
	 * later, found no line on a loaded machine). */
	atomic_fetch_add(&refused_callers, 1);
}

/* Listens on url, with the TLS configuration when there is one. */
static int
listen_on(nng_socket sock, const char *url, nng_tls_config *tls, nng_listener *out)
{
	int rv = nng_listener_create(out, sock, url);
	if (rv != 0)
		return rv;
	if ((tls != NULL && (rv = nng_listener_set_ptr(*out, NNG_OPT_TLS_CONFIG, tls)) != 0) ||
	    (rv = nng_listener_start(*out, 0)) != 0)
		nng_listener_close(*out);
	return rv;
}

/* The closure handed to every handler: packs the reply right away, so the
 * handler may free what the reply borrowed as soon as it returns. */
static void
reply_closure(const ProtobufCMessage *msg, void *closure_data)
{
	rpc_call *call  = closure_data;
	const char *rid = rpc_call_request_id(call);
	if (call->replied) {
		log_error(rid, "rpc_handler_replied_twice method=%s", call->request->method);
		return;
	}
	call->replied = true;
	if (msg != NULL && msg->descriptor != call->method->output) {
		log_error(rid, "rpc_handler_wrong_reply_type method=%s type=%s", call->request->method,
		    msg->descriptor->name);
		rpc_status_set(&call->status, RPC_INTERNAL, "internal error");
		msg = NULL;
	} else if (msg != NULL) {
		rpc_status_clear(&call->status);
	} else if (call->status.code == RPC_OK) {
		log_error(rid, "rpc_handler_failed_without_status method=%s", call->request->method);
		rpc_status_set(&call->status, RPC_INTERNAL, "internal error");
	}
	if (rpc_envelope_pack_reply(&call->reply, &call->status, msg) != 0)
		call->reply = NULL; /* out of memory: serve() tries a bare status */
}

/* Finds the method index of "package.Service/Method" in the service's
 * descriptor; -1 when the service or method is not this one's. */
static int
find_method(const ProtobufCServiceDescriptor *desc, const char *full_name)
{
	const char *slash = strchr(full_name, '/');
	size_t svc_len    = strlen(desc->name);
	if (slash == NULL || (size_t) (slash - full_name) != svc_len || strncmp(full_name, desc->name, svc_len) != 0)
		return -1;
	const ProtobufCMethodDescriptor *m = protobuf_c_service_descriptor_get_method_by_name(desc, slash + 1);
	return m != NULL ? (int) (m - desc->methods) : -1;
}

/* protoc-c lays a generated service out as the base followed by one handler
 * pointer per method (protobuf_c_service_invoke_internal relies on it too);
 * a NULL pointer is a method this server does not implement. */
static bool
has_handler(const ProtobufCService *service, int index)
{
	typedef void (*handler_fn)(void);
	const handler_fn *handlers = (const handler_fn *) (service + 1);
	return handlers[index] != NULL;
}

/* Decodes one request, runs its handler and returns the packed reply (NULL
 * only when even an error reply could not be allocated). */
static nng_msg *
serve(worker *w, const nng_msg *request_msg)
{
	rpc_server *srv           = w->server;
	ProtobufCService *service = srv->opt.service;
	rpc_call *call            = &w->call;
	ProtobufCMessage *input   = NULL;
	int64_t started           = rpc_clock_ms();

	call->request = NULL;
	call->method  = NULL;
	call->reply   = NULL;
	call->replied = false;
	rpc_status_clear(&call->status);

	Rpc__Request *req = rpc_envelope_unpack_request(request_msg);
	if (req == NULL) {
		log_warn(NULL, "rpc_bad_envelope bytes=%zu", nng_msg_len(request_msg));
		rpc_status_set(&call->status, RPC_INVALID_ARGUMENT, "malformed request envelope");
		goto reply;
	}
	if (rpc_envelope_check_request(req, &call->status) != RPC_OK) {
		/* Its request id is not fit for a log line either. */
		log_warn(NULL, "rpc_bad_envelope field=%s", call->status.violations[0].field);
		rpc__request__free_unpacked(req, NULL);
		req = NULL;
		goto reply;
	}
	call->request     = req;
	call->deadline_ms = started + (req->timeout_ms != 0 ? req->timeout_ms : srv->opt.default_timeout_ms);

	int index = find_method(service->descriptor, req->method);
	if (index < 0 || !has_handler(service, index)) {
		log_warn(req->request_id, "rpc_unimplemented method=%.128s", req->method);
		rpc_status_set(&call->status, RPC_UNIMPLEMENTED, "unknown method %.128s", req->method);
		goto reply;
	}
	call->method = &service->descriptor->methods[index];
	input        = protobuf_c_message_unpack(call->method->input, NULL, req->payload.len, req->payload.data);
	if (input == NULL) {
		log_warn(req->request_id, "rpc_bad_payload method=%s", req->method);
		rpc_status_set(&call->status, RPC_INVALID_ARGUMENT, "malformed %s payload", call->method->input->name);
		goto reply;
	}
	if (srv->opt.call_begin != NULL)
		srv->opt.call_begin(call->worker_state, call);
	service->invoke(service, (unsigned) index, input, reply_closure, call);
	if (!call->replied) {
		log_error(req->request_id, "rpc_handler_returned_without_reply method=%s", req->method);
		rpc_status_set(&call->status, RPC_INTERNAL, "internal error");
	}

reply:
	if (call->reply == NULL && rpc_envelope_pack_reply(&call->reply, &call->status, NULL) != 0)
		call->reply = NULL;
	log_debug(rpc_call_request_id(call), "rpc method=%.128s code=%s ms=%lld", req != NULL ? req->method : "-",
	    rpc_code_name(call->status.code), (long long) (rpc_clock_ms() - started));
	protobuf_c_message_free_unpacked(input, NULL);
	rpc__request__free_unpacked(req, NULL);
	call->request = NULL;
	return call->reply;
}

static void *
worker_main(void *arg)
{
	worker *w       = arg;
	rpc_server *srv = w->server;
	if (srv->opt.worker_open != NULL)
		w->call.worker_state = srv->opt.worker_open(srv->opt.arg, w->index);

	for (;;) {
		nng_ctx_recv(w->ctx, w->recv_aio);
		nng_aio_wait(w->recv_aio);
		int rv = nng_aio_result(w->recv_aio);
		if (rv == NNG_ECANCELED || rv == NNG_ECLOSED)
			break; /* rpc_server_close */
		if (rv != 0) {
			log_warn(NULL, "rpc_recv_failed error=\"%s\"", nng_strerror(rv));
			nng_msleep(10); /* never a busy loop on a persistent error */
			continue;
		}
		nng_msg *request = nng_aio_get_msg(w->recv_aio);
		nng_msg *reply   = serve(w, request);
		nng_msg_free(request);
		if (reply == NULL)
			continue; /* the caller's deadline will tell it */
		nng_aio_set_msg(w->send_aio, reply);
		nng_ctx_send(w->ctx, w->send_aio);
		nng_aio_wait(w->send_aio);
		if ((rv = nng_aio_result(w->send_aio)) != 0) {
			nng_msg_free(reply); /* a failed send leaves the message ours */
			log_warn(NULL, "rpc_send_failed error=\"%s\"", nng_strerror(rv));
		}
		atomic_store(&srv->last_reply_ms, rpc_clock_ms());
	}
	if (srv->opt.worker_close != NULL)
		srv->opt.worker_close(w->call.worker_state);
	return NULL;
}

rpc_code
rpc_server_open(rpc_server **out, const rpc_server_options *opt, rpc_status *st)
{
	int rv;
	if (opt->url == NULL || opt->service == NULL || opt->workers < 1)
		return rpc_status_set(st, RPC_INVALID_ARGUMENT, "rpc server needs a url, a service and workers >= 1");
	rpc_server *srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "out of memory");
	srv->opt = *opt;
	if (srv->opt.default_timeout_ms == 0)
		srv->opt.default_timeout_ms = DEFAULT_TIMEOUT_MS;
	snprintf(srv->url, sizeof(srv->url), "%s", opt->url);
	if (opt->callers != NULL && strlen(opt->callers) >= sizeof(srv->callers)) {
		free(srv);
		return rpc_status_set(st, RPC_INVALID_ARGUMENT, "callers: over %zu bytes", sizeof(srv->callers) - 1);
	}
	snprintf(srv->callers, sizeof(srv->callers), "%s", opt->callers != NULL ? opt->callers : "");

	if ((rv = nng_rep0_open(&srv->sock)) != 0) {
		free(srv);
		return rpc_status_set(st, RPC_INTERNAL, "nng_rep0_open: %s", nng_strerror(rv));
	}
	nng_socket_set_size(srv->sock, NNG_OPT_RECVMAXSZ, MAX_REQUEST_BYTES);
	static const rpc_tls_files no_tls = {"", "", "", ""};
	const rpc_tls_files *tls          = opt->tls != NULL ? opt->tls : &no_tls;
	char why[512];
	rpc_tls_self self;
	nng_tls_config *probe_tls = NULL;
	rpc_code code             = RPC_OK;
	if (rpc_tls_check_urls(tls, "rpc server url", opt->url, why, sizeof(why)) != 0)
		code = rpc_status_set(st, RPC_INVALID_ARGUMENT, "%s", why);
	/* The listener watch, only where nng needs it (nng_fixes.h), proves
	 * itself with an identity only this process has, which the listener
	 * trusts besides the callers. */
	bool watched = rpc_nng_listener_stops_after_failed_handshake();
	if (code == RPC_OK && rpc_tls_configured(tls)) {
		if (watched)
			code = rpc_tls_self_make(&self, st);
		if (code == RPC_OK)
			code = rpc_tls_listener_config(&srv->tls, tls, watched ? self.cert_pem : NULL, st);
		if (code == RPC_OK && watched)
			code = rpc_tls_self_dialer_config(&probe_tls, &self, st);
	}
	if (code == RPC_OK && srv->tls != NULL)
		nng_pipe_notify(srv->sock, NNG_PIPE_EV_ADD_PRE, gate_caller, srv);
	/* srv->url becomes what nng is given (address_set.h says why). */
	int lookup;
	if (code == RPC_OK && rpc_url_for_nng(opt->url, srv->url, sizeof(srv->url), &lookup) != 0)
		code = rpc_status_set(st, RPC_INVALID_ARGUMENT, "cannot listen on %s: %s", opt->url,
		    lookup != 0 ? gai_strerror(lookup) : "not an nng URL, or over 255 bytes");
	if (code == RPC_OK && (rv = listen_on(srv->sock, srv->url, srv->tls, &srv->listener)) != 0)
		code = rpc_status_set(st, RPC_UNAVAILABLE, "cannot listen on %s: %s", opt->url, nng_strerror(rv));
	if (code != RPC_OK) {
		nng_close(srv->sock);
		if (srv->tls != NULL)
			nng_tls_config_free(srv->tls);
		if (probe_tls != NULL)
			nng_tls_config_free(probe_tls);
		free(srv);
		return code;
	}
	/* With tcp port 0 the system picks the port; report the real one. */
	nng_sockaddr sa;
	if (nng_listener_get_addr(srv->listener, NNG_OPT_LOCADDR, &sa) == 0 && sa.s_family == NNG_AF_INET) {
		const uint8_t *ip = (const uint8_t *) &sa.s_in.sa_addr;
		snprintf(srv->url, sizeof(srv->url), "%s://%u.%u.%u.%u:%u", srv->tls != NULL ? "tls+tcp" : "tcp", ip[0],
		    ip[1], ip[2], ip[3], (unsigned) ntohs(sa.s_in.sa_port));
	}
	if (watched)
		srv->watch = listener_watch_start(srv->sock, &srv->listener, srv->url, srv->tls, probe_tls);
	if (probe_tls != NULL)
		nng_tls_config_free(probe_tls); /* the watch holds its own reference */

	srv->workers = calloc((size_t) opt->workers, sizeof(worker));
	if (srv->workers == NULL) {
		rpc_server_close(srv);
		return rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "out of memory");
	}
	for (int i = 0; i < opt->workers; i++) {
		worker *w      = &srv->workers[i];
		w->server      = srv;
		w->index       = i;
		srv->n_workers = i + 1; /* so a failure below is cleaned up by close */
		if ((rv = nng_aio_alloc(&w->recv_aio, NULL, NULL)) != 0 ||
		    (rv = nng_aio_alloc(&w->send_aio, NULL, NULL)) != 0 ||
		    (rv = nng_ctx_open(&w->ctx, srv->sock)) != 0) {
			rpc_server_close(srv);
			return rpc_status_set(st, RPC_INTERNAL, "nng worker setup: %s", nng_strerror(rv));
		}
		nng_aio_set_timeout(w->send_aio, SEND_TIMEOUT_MS);
	}
	for (int i = 0; i < srv->n_workers; i++) {
		worker *w = &srv->workers[i];
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			rpc_server_close(srv);
			return rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "cannot start worker thread");
		}
		w->thread_started = true;
	}
	if (srv->tls != NULL && srv->callers[0] != '\0')
		log_info(NULL, "rpc_callers_checked url=%s by=%s callers=%s nng=%s", srv->url,
		    rpc_nng_tells_peer_name() ? "ca_and_name" : "ca_only", srv->callers, nng_version());
	*out = srv;
	return RPC_OK;
}

void
rpc_server_close(rpc_server *srv)
{
	if (srv == NULL)
		return;
	listener_watch_stop(srv->watch); /* it must not re-open what closes below */
	/* 1. Stop each worker's receive: idle workers wake with ECANCELED, busy
	 *    ones finish their handler, send the reply, then find their receive
	 *    stopped. The listener stays open until then, because closing it
	 *    would close the connections those replies go out on (and the
	 *    last replies get CLOSE_GRACE_MS to be written); requests
	 *    arriving meanwhile are never received, and their callers see the
	 *    connection close (UNAVAILABLE) in step 3. */
	for (int i = 0; i < srv->n_workers; i++)
		nng_aio_stop(srv->workers[i].recv_aio);
	/* 2. Wait for the workers; 3. close and free in reverse order of creation. */
	for (int i = 0; i < srv->n_workers; i++) {
		if (srv->workers[i].thread_started)
			pthread_join(srv->workers[i].thread, NULL);
	}
	int64_t since_reply = rpc_clock_ms() - atomic_load(&srv->last_reply_ms);
	if (since_reply < CLOSE_GRACE_MS)
		nng_msleep((nng_duration) (CLOSE_GRACE_MS - since_reply));
	for (int i = 0; i < srv->n_workers; i++)
		nng_ctx_close(srv->workers[i].ctx);
	nng_close(srv->sock);
	listener_watch_free(srv->watch); /* its pipe callback is done with now */
	for (int i = 0; i < srv->n_workers; i++) {
		nng_aio_free(srv->workers[i].recv_aio);
		nng_aio_free(srv->workers[i].send_aio);
	}
	free(srv->workers);
	if (srv->tls != NULL)
		nng_tls_config_free(srv->tls);
	free(srv);
}
