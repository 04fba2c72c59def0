/* rpc_server.h: a thread per connection over rpc/transport.h, a pool of
 * worker states, dispatch by method name. */
#include "rpc/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/monotonic.h"
#include "rpc/address_set.h"
#include "rpc/envelope.h"
#include "rpc/tls_config.h"
#include "rpc/transport.h"

#define DEFAULT_TIMEOUT_MS 30000
#define SEND_TIMEOUT_MS 5000
/* A request whose first byte has arrived must be whole within this: a
 * caller that stalls mid-frame does not hold its connection's thread. */
#define FRAME_REST_MS 10000
/* A TLS handshake must be done within this of the connection's arrival. */
#define HANDSHAKE_MS 10000
/* Larger requests end their connection before any allocation. */
#define MAX_REQUEST_BYTES (4 * 1024 * 1024)
/* Connections served at once (each has its thread). Callers keep one per
 * calling thread per replica: a gateway's 32-64, another service's
 * workers. When they are all taken, a new connection closes the one idle
 * the longest (waiting for a request, or not through its handshake yet),
 * so connections that only sit there (a pool grown by a burst, or a peer
 * that opens them to fill the table) never lock a caller out; only when
 * every one is serving a request is the new one refused, logged at most
 * once a minute. The threads of closed ones may take a moment to end:
 * EXIT_SLACK more at most. */
#define MAX_SESSIONS 512
#define EXIT_SLACK 64
/* A connection's thread needs little stack: a handler's frames, libpq's and
 * hiredis's calls. */
#define SESSION_STACK_BYTES (512 * 1024)

struct rpc_call {
	const Rpc__Request *request;
	const ProtobufCMethodDescriptor *method;
	int64_t deadline_ms;
	void *worker_state;
	int state_index; /* the pool's slot, -1 while none is held */
	rpc_status status;
	nng_msg *reply; /* packed by the closure */
	bool replied;
};

/* A request waiting for a worker state (on its thread's stack). */
typedef struct state_waiter {
	pthread_cond_t cv;
	int given; /* the state handed to it; -1 until then */
	struct state_waiter *next;
} state_waiter;

/* One connection and its thread. */
typedef struct session {
	rpc_server *server;
	rpc_conn *conn;
	bool busy;          /* serving a request (under the server's mu) */
	bool shut;          /* woken by close or an eviction: no request of it is served */
	int64_t idle_since; /* when it last became idle (ms; under mu) */
	struct session *prev, *next;
	rpc_call call;
} session;

struct rpc_server {
	rpc_server_options opt;
	rpc_acceptor *acceptor;
	rpc_tls *tls; /* the listener's, NULL without TLS */
	char url[256];
	char callers[256]; /* opt.callers, copied; "" for any verified caller */
	pthread_t accept_thread;
	bool accept_started;

	pthread_mutex_t mu;    /* guards what follows */
	pthread_cond_t cv;     /* a state came free; a session ended */
	void **states;         /* worker_open's results, one per worker */
	int *free_states;      /* a stack of indexes into states */
	state_waiter *waiting; /* requests waiting for a state, the oldest first */
	int n_states, n_free;
	session *sessions; /* every live connection */
	int n_sessions;
	bool closing;
	int64_t refused_full_logged_ms, evicted_logged_ms;
	int n_shut;       /* sessions shut, their threads not ended yet */
	uint64_t evicted; /* idle connections closed for a new one */
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

static _Atomic uint64_t refused_callers, bad_requests;

/* A peer that errs usually errs again at once: a refused caller's dialer
 * redials every 10-200 ms (a misconfigured gateway would write some 30
 * lines a second), and a broken or hostile client can send bad frames as
 * fast as it writes. Each (event, peer address) is logged once per
 * PEER_LOG_WINDOW_MS: the first occurrence at once, the next ones counted
 * and told in that pair's line after the window (the metrics stay exact).
 * Pairs are kept in a small table, the oldest replaced (a pair evicted
 * takes its count along: the metrics keep it). Peers of many addresses (a
 * scan, IPv6's plenty) would each get their line, so each event writes at
 * most PEER_LOG_LINES a window for all its peers: past that, one line says
 * so, and the rest are counted. An event of its own budget: bad frames
 * from many addresses cannot crowd out a refused caller's line. */
#define PEER_LOG_WINDOW_MS 60000
#define PEER_LOG_SLOTS 64
#define PEER_LOG_LINES 60
#define PEER_LOG_EVENTS 8
static struct {
	pthread_mutex_t mu;
	struct {
		const char *event; /* NULL: free */
		int64_t window_ms; /* when its window began */
		int lines;         /* written in it */
	} budgets[PEER_LOG_EVENTS];
	struct {
		const char *event; /* a string constant */
		char ip[INET6_ADDRSTRLEN];
		int64_t logged_ms; /* 0: free */
		uint64_t suppressed;
	} slots[PEER_LOG_SLOTS];
} peer_log = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Whether to log event (a string constant) of the peer at ip now;
 * *suppressed gets how many were not logged since the pair's last line. */
static bool
peer_log_due(const char *event, const char *ip, uint64_t *suppressed)
{
	int64_t now = rpc_clock_ms();
	bool due    = true;
	pthread_mutex_lock(&peer_log.mu);
	int slot = 0;
	int b    = 0;
	for (int i = 0; i < PEER_LOG_SLOTS; i++) {
		if (peer_log.slots[i].logged_ms != 0 && strcmp(peer_log.slots[i].event, event) == 0 &&
		    strcmp(peer_log.slots[i].ip, ip) == 0) {
			slot = i;
			goto found;
		}
		if (peer_log.slots[i].logged_ms < peer_log.slots[slot].logged_ms)
			slot = i; /* the free or the oldest */
	}
	peer_log.slots[slot].event = event;
	snprintf(peer_log.slots[slot].ip, sizeof(peer_log.slots[slot].ip), "%s", ip);
	peer_log.slots[slot].logged_ms  = 0;
	peer_log.slots[slot].suppressed = 0;
found:
	while (b < PEER_LOG_EVENTS - 1 && peer_log.budgets[b].event != NULL &&
	       strcmp(peer_log.budgets[b].event, event) != 0)
		b++; /* the event's, a free one, or the last (more kinds than budgets: they share it) */
	if (peer_log.budgets[b].event == NULL) {
		peer_log.budgets[b].event     = event;
		peer_log.budgets[b].window_ms = now - PEER_LOG_WINDOW_MS;
	}
	if (now - peer_log.budgets[b].window_ms >= PEER_LOG_WINDOW_MS) {
		peer_log.budgets[b].window_ms = now;
		peer_log.budgets[b].lines     = 0;
	}
	bool budget_ended = false;
	if (peer_log.slots[slot].logged_ms != 0 && now - peer_log.slots[slot].logged_ms < PEER_LOG_WINDOW_MS) {
		peer_log.slots[slot].suppressed++;
		due = false;
	} else if (peer_log.budgets[b].lines >= PEER_LOG_LINES) {
		budget_ended = peer_log.budgets[b].lines++ == PEER_LOG_LINES;
		peer_log.slots[slot].suppressed++;
		peer_log.slots[slot].logged_ms = now > 0 ? now : 1;
		due                            = false;
	} else {
		peer_log.budgets[b].lines++;
		*suppressed                     = peer_log.slots[slot].suppressed;
		peer_log.slots[slot].suppressed = 0;
		peer_log.slots[slot].logged_ms  = now > 0 ? now : 1;
	}
	pthread_mutex_unlock(&peer_log.mu);
	if (budget_ended)
		log_warn(NULL,
		    "rpc_peer_log_limited event=%s lines=%d window_ms=%d reason=\"%d lines of it this minute, from "
		    "as many peer addresses; the rest are counted in the metrics only\"",
		    event, PEER_LOG_LINES, PEER_LOG_WINDOW_MS, PEER_LOG_LINES);
	return due;
}

uint64_t
rpc_server_refused_callers(void)
{
	return atomic_load(&refused_callers);
}

uint64_t
rpc_server_bad_requests(void)
{
	return atomic_load(&bad_requests);
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

/* Whether a TLS connection's caller may call: its certificate verified
 * against RPC_TLS_CALLER_CA (the listener asks in OPTIONAL mode, see
 * tls_config.h) and names an allowed caller. Asked once the handshake is
 * done, before any request is read; a refusal is logged once (per peer and
 * minute) and counted. */
static bool
caller_allowed(const rpc_server *srv, rpc_conn *conn)
{
	char why[384];
	if (!rpc_conn_verified(conn)) {
		snprintf(why, sizeof(why),
		    "no certificate, or one that does not chain to RPC_TLS_CALLER_CA (a role not allowed to call this "
		    "service, another CA, self-signed, expired or not yet valid)");
	} else if (srv->callers[0] == '\0') {
		return true;
	} else {
		char cn[256];
		int rv = rpc_conn_peer_name(conn, cn, sizeof(cn));
		if (rv == 0 && named_in(cn, srv->callers))
			return true;
		if (rv != 0)
			snprintf(why, sizeof(why), "the certificate has no common name");
		else
			snprintf(why, sizeof(why), "a certificate of '%.64s', not one of this service's callers (%s)",
			    cn, srv->callers);
	}
	const char *peer    = rpc_conn_peer(conn);
	uint64_t suppressed = 0;
	if (peer_log_due("rpc_caller_refused", rpc_conn_peer_ip(conn), &suppressed))
		log_warn(NULL,
		    "rpc_caller_refused peer=%s suppressed=%llu reason=\"%s; refusals of this address are logged at "
		    "most once a minute, all are counted in rpc_callers_refused_total\"",
		    peer, (unsigned long long) suppressed, why);
	/* Counted last: whoever sees the count (Health's stats) may count on
	 * the line being written (e2e_rpc_tls once read the count and, 200 ms
	 * later, found no line on a loaded machine). */
	atomic_fetch_add(&refused_callers, 1);
	return false;
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

/* Takes a worker state for call, waiting at most until its deadline while
 * every one is in use: false when none came free in time. */
static bool
state_take(rpc_server *srv, rpc_call *call)
{
	pthread_mutex_lock(&srv->mu);
	if (srv->n_free > 0 && srv->waiting == NULL) {
		call->state_index  = srv->free_states[--srv->n_free];
		call->worker_state = srv->states[call->state_index];
		pthread_mutex_unlock(&srv->mu);
		return true;
	}
	/* In line, first come first served: a state given back goes to the
	 * longest waiting, and wakes it alone. */
	state_waiter w = {.given = -1};
	monotonic_cond_init(&w.cv);
	state_waiter **at = &srv->waiting;
	while (*at != NULL)
		at = &(*at)->next;
	*at                   = &w;
	struct timespec until = monotonic_deadline(call->deadline_ms - rpc_clock_ms());
	while (w.given < 0) {
		if (pthread_cond_timedwait(&w.cv, &srv->mu, &until) == ETIMEDOUT && w.given < 0) {
			for (at = &srv->waiting; *at != &w; at = &(*at)->next)
				;
			*at = w.next;
			break;
		}
	}
	pthread_mutex_unlock(&srv->mu);
	pthread_cond_destroy(&w.cv);
	if (w.given < 0)
		return false;
	call->state_index  = w.given;
	call->worker_state = srv->states[w.given];
	return true;
}

static void
state_give_back(rpc_server *srv, rpc_call *call)
{
	pthread_mutex_lock(&srv->mu);
	state_waiter *w = srv->waiting;
	if (w != NULL) {
		srv->waiting = w->next;
		w->given     = call->state_index;
		pthread_cond_signal(&w->cv);
	} else {
		srv->free_states[srv->n_free++] = call->state_index;
	}
	pthread_mutex_unlock(&srv->mu);
	call->state_index  = -1;
	call->worker_state = NULL;
}

/* A request refused before any handler ran (event: its log event, a
 * string constant): counted (rpc_server_bad_requests), and whether its
 * line is due (peer_log_due), *suppressed then the count left out. */
static bool
bad_request_log_due(session *se, const char *event, uint64_t *suppressed)
{
	atomic_fetch_add(&bad_requests, 1);
	*suppressed = 0;
	return peer_log_due(event, rpc_conn_peer_ip(se->conn), suppressed);
}

/* Decodes one request, runs its handler and returns the packed reply (NULL
 * only when even an error reply could not be allocated). */
static nng_msg *
serve(session *se, const nng_msg *request_msg, int64_t started)
{
	rpc_server *srv           = se->server;
	ProtobufCService *service = srv->opt.service;
	rpc_call *call            = &se->call;
	ProtobufCMessage *input   = NULL;
	uint64_t suppressed;

	call->request = NULL;
	call->method  = NULL;
	call->reply   = NULL;
	call->replied = false;
	rpc_status_clear(&call->status);

	Rpc__Request *req = rpc_envelope_unpack_request(request_msg);
	if (req == NULL) {
		if (bad_request_log_due(se, "rpc_bad_envelope", &suppressed))
			log_warn(NULL, "rpc_bad_envelope peer=%s suppressed=%llu bytes=%zu", rpc_conn_peer(se->conn),
			    (unsigned long long) suppressed, nng_msg_len(request_msg));
		rpc_status_set(&call->status, RPC_INVALID_ARGUMENT, "malformed request envelope");
		goto reply;
	}
	if (rpc_envelope_check_request(req, &call->status) != RPC_OK) {
		/* Its request id is not fit for a log line either. */
		if (bad_request_log_due(se, "rpc_bad_envelope", &suppressed))
			log_warn(NULL, "rpc_bad_envelope peer=%s suppressed=%llu field=%s", rpc_conn_peer(se->conn),
			    (unsigned long long) suppressed, call->status.violations[0].field);
		rpc__request__free_unpacked(req, NULL);
		req = NULL;
		goto reply;
	}
	call->request     = req;
	call->deadline_ms = started + (req->timeout_ms != 0 ? req->timeout_ms : srv->opt.default_timeout_ms);

	int index = find_method(service->descriptor, req->method);
	if (index < 0 || !has_handler(service, index)) {
		if (bad_request_log_due(se, "rpc_unimplemented", &suppressed))
			log_warn(req->request_id, "rpc_unimplemented peer=%s suppressed=%llu method=%.128s",
			    rpc_conn_peer(se->conn), (unsigned long long) suppressed, req->method);
		rpc_status_set(&call->status, RPC_UNIMPLEMENTED, "unknown method %.128s", req->method);
		goto reply;
	}
	call->method = &service->descriptor->methods[index];
	input        = protobuf_c_message_unpack(call->method->input, NULL, req->payload.len, req->payload.data);
	if (input == NULL) {
		if (bad_request_log_due(se, "rpc_bad_payload", &suppressed))
			log_warn(req->request_id, "rpc_bad_payload peer=%s suppressed=%llu method=%s",
			    rpc_conn_peer(se->conn), (unsigned long long) suppressed, req->method);
		rpc_status_set(&call->status, RPC_INVALID_ARGUMENT, "malformed %s payload", call->method->input->name);
		goto reply;
	}
	if (!state_take(srv, call)) {
		rpc_status_set(&call->status, RPC_DEADLINE_EXCEEDED, "no worker free within the call's deadline");
		goto reply;
	}
	if (srv->opt.call_begin != NULL)
		srv->opt.call_begin(call->worker_state, call);
	service->invoke(service, (unsigned) index, input, reply_closure, call);
	state_give_back(srv, call);
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

/* Ends a session: its connection closed, itself out of the list. */
static void
session_end(session *se)
{
	rpc_server *srv = se->server;
	pthread_mutex_lock(&srv->mu); /* out of the list first: close no longer wakes it */
	if (se->prev != NULL)
		se->prev->next = se->next;
	else
		srv->sessions = se->next;
	if (se->next != NULL)
		se->next->prev = se->prev;
	bool shut = se->shut;
	pthread_mutex_unlock(&srv->mu);
	rpc_conn_close(se->conn);
	free(se);
	pthread_mutex_lock(&srv->mu);
	srv->n_sessions--;
	srv->n_shut -= shut;
	pthread_cond_broadcast(&srv->cv);
	pthread_mutex_unlock(&srv->mu);
}

/* A connection's thread: reads a request, serves it, writes the reply, on
 * this one thread, until the caller goes or the server closes. */
static void *
session_main(void *arg)
{
	session *se     = arg;
	rpc_server *srv = se->server;
	/* With TLS, the caller is checked before any request is read. */
	bool allowed = rpc_conn_handshake(se->conn, rpc_clock_ms() + HANDSHAKE_MS) == 0 &&
	               (srv->tls == NULL || caller_allowed(srv, se->conn));
	for (; allowed;) {
		nng_msg *request;
		/* A caller that sends nothing for idle_close_ms has left it in a
		 * pool it stopped using, or is gone without a word (a host cut
		 * off): the connection closes, and its thread ends. A request
		 * that has begun has FRAME_REST_MS to arrive whole. */
		int rv = rpc_conn_wait_readable(se->conn, rpc_clock_ms() + srv->opt.idle_close_ms);
		if (rv == 0)
			rv = rpc_conn_read_frame(
			    se->conn, MAX_REQUEST_BYTES, rpc_clock_ms() + FRAME_REST_MS, FRAME_REST_MS, &request);
		uint64_t suppressed;
		if (rv == NNG_EMSGSIZE && bad_request_log_due(se, "rpc_request_too_large", &suppressed))
			log_warn(NULL, "rpc_request_too_large peer=%s suppressed=%llu max_bytes=%d",
			    rpc_conn_peer(se->conn), (unsigned long long) suppressed, MAX_REQUEST_BYTES);
		if (rv != 0)
			break; /* the caller went, or close woke us */
		int64_t started = rpc_clock_ms();
		pthread_mutex_lock(&srv->mu);
		bool shut = se->shut;
		se->busy  = !shut;
		pthread_mutex_unlock(&srv->mu);
		if (shut) { /* read as close or an eviction woke it: never served */
			nng_msg_free(request);
			break;
		}
		nng_msg *reply = serve(se, request, started);
		nng_msg_free(request);
		rv = reply == NULL ? NNG_ENOMEM
		                   : rpc_conn_write_frame(se->conn, nng_msg_body(reply), nng_msg_len(reply),
		                         rpc_clock_ms() + SEND_TIMEOUT_MS);
		nng_msg_free(reply);
		pthread_mutex_lock(&srv->mu);
		se->busy       = false;
		se->idle_since = rpc_clock_ms();
		bool closing   = srv->closing;
		pthread_mutex_unlock(&srv->mu);
		if (rv != 0 && reply != NULL)
			log_debug(NULL, "rpc_send_failed error=\"%s\"", nng_strerror(rv));
		if (rv != 0 || closing)
			break; /* an unanswered caller learns it from the close */
	}
	session_end(se);
	return NULL;
}

/* Starts a session for conn, or closes it when the server is full or
 * closing. */
static void
session_start(rpc_server *srv, rpc_conn *conn)
{
	session *se = calloc(1, sizeof(*se));
	pthread_mutex_lock(&srv->mu);
	int64_t now = rpc_clock_ms();
	if (srv->n_sessions - srv->n_shut >= MAX_SESSIONS && srv->n_sessions < MAX_SESSIONS + EXIT_SLACK) {
		session *oldest = NULL;
		for (session *s = srv->sessions; s != NULL; s = s->next)
			if (!s->busy && !s->shut && (oldest == NULL || s->idle_since < oldest->idle_since))
				oldest = s;
		if (oldest != NULL) {
			oldest->shut = true;
			srv->n_shut++;
			srv->evicted++;
			rpc_conn_shutdown(oldest->conn);
		}
	}
	bool full = srv->n_sessions - srv->n_shut >= MAX_SESSIONS || srv->n_sessions >= MAX_SESSIONS + EXIT_SLACK;
	bool say_evicted = srv->evicted > 0 && now - srv->evicted_logged_ms >= 60000;
	uint64_t evicted = srv->evicted;
	if (say_evicted) {
		srv->evicted_logged_ms = now;
		srv->evicted           = 0;
	}
	if (say_evicted)
		log_info(NULL,
		    "rpc_idle_connections_closed count=%llu reason=\"%d connections already: the idle longest made "
		    "room "
		    "for new ones (logged at most once a minute)\"",
		    (unsigned long long) evicted, MAX_SESSIONS);
	if (se == NULL || full || srv->closing) {
		bool say = full && now - srv->refused_full_logged_ms >= 60000;
		if (say)
			srv->refused_full_logged_ms = now;
		pthread_mutex_unlock(&srv->mu);
		if (say)
			log_warn(NULL,
			    "rpc_connection_refused reason=\"%d connections already, each serving a request; "
			    "logged at most once a minute\"",
			    MAX_SESSIONS);
		rpc_conn_close(conn);
		free(se);
		return;
	}
	se->server           = srv;
	se->conn             = conn;
	se->call.state_index = -1;
	se->idle_since       = now;
	se->next             = srv->sessions;
	if (se->next != NULL)
		se->next->prev = se;
	srv->sessions = se;
	srv->n_sessions++;
	pthread_mutex_unlock(&srv->mu);
	pthread_attr_t attr;
	pthread_t th;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, SESSION_STACK_BYTES);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int rv = pthread_create(&th, &attr, session_main, se);
	pthread_attr_destroy(&attr);
	if (rv != 0) {
		log_warn(NULL, "rpc_connection_refused reason=\"cannot start its thread\"");
		session_end(se);
	}
}

static void *
accept_main(void *arg)
{
	rpc_server *srv = arg;
	for (;;) {
		rpc_conn *conn;
		int rv = rpc_acceptor_accept(srv->acceptor, &conn);
		if (rv == NNG_ECLOSED)
			break; /* rpc_server_close */
		if (rv != 0) {
			/* A connection that failed on its way in; out of descriptors,
			 * never a busy loop. */
			if (rv != NNG_ECONNABORTED && rv != NNG_ECONNRESET && rv != NNG_ECONNSHUT)
				nng_msleep(10);
			continue;
		}
		session_start(srv, conn);
	}
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
	if (srv->opt.idle_close_ms <= 0)
		srv->opt.idle_close_ms = RPC_SERVER_IDLE_CLOSE_MS;
	pthread_mutex_init(&srv->mu, NULL);
	monotonic_cond_init(&srv->cv);
	if (opt->callers != NULL && strlen(opt->callers) >= sizeof(srv->callers)) {
		rpc_server_close(srv);
		return rpc_status_set(st, RPC_INVALID_ARGUMENT, "callers: over %zu bytes", sizeof(srv->callers) - 1);
	}
	snprintf(srv->callers, sizeof(srv->callers), "%s", opt->callers != NULL ? opt->callers : "");

	static const rpc_tls_files no_tls = {"", "", "", ""};
	const rpc_tls_files *tls          = opt->tls != NULL ? opt->tls : &no_tls;
	char why[512], nng_url[256];
	rpc_code code = RPC_OK;
	if (rpc_tls_check_urls(tls, "rpc server url", opt->url, why, sizeof(why)) != 0)
		code = rpc_status_set(st, RPC_INVALID_ARGUMENT, "%s", why);
	if (code == RPC_OK && rpc_tls_configured(tls))
		code = rpc_tls_listener_config(&srv->tls, tls, st);
	/* What nng is given (address_set.h says why). */
	int lookup;
	if (code == RPC_OK && rpc_url_for_nng(opt->url, nng_url, sizeof(nng_url), &lookup) != 0)
		code = rpc_status_set(st, RPC_INVALID_ARGUMENT, "cannot listen on %s: %s", opt->url,
		    lookup != 0 ? gai_strerror(lookup) : "not an nng URL, or over 255 bytes");
	if (code == RPC_OK &&
	    (rv = rpc_acceptor_open(&srv->acceptor, nng_url, srv->tls, srv->url, sizeof(srv->url))) != 0)
		code = rpc_status_set(st, RPC_UNAVAILABLE, "cannot listen on %s: %s", opt->url, nng_strerror(rv));
	if (code != RPC_OK) {
		rpc_server_close(srv);
		return code;
	}

	srv->states      = calloc((size_t) opt->workers, sizeof(void *));
	srv->free_states = calloc((size_t) opt->workers, sizeof(int));
	if (srv->states == NULL || srv->free_states == NULL) {
		rpc_server_close(srv);
		return rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "out of memory");
	}
	for (int i = 0; i < opt->workers; i++) {
		srv->states[i]      = opt->worker_open != NULL ? opt->worker_open(opt->arg, i) : NULL;
		srv->free_states[i] = opt->workers - 1 - i; /* worker 0 first */
		srv->n_states = srv->n_free = i + 1;
	}
	if (pthread_create(&srv->accept_thread, NULL, accept_main, srv) != 0) {
		rpc_server_close(srv);
		return rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "cannot start the accepting thread");
	}
	srv->accept_started = true;
	if (srv->tls != NULL && srv->callers[0] != '\0')
		log_info(NULL, "rpc_callers_checked url=%s by=ca_and_name callers=%s", srv->url, srv->callers);
	*out = srv;
	return RPC_OK;
}

void
rpc_server_close(rpc_server *srv)
{
	if (srv == NULL)
		return;
	/* 1. No new connection: the listener closes, its thread ends. */
	rpc_acceptor_shutdown(srv->acceptor);
	if (srv->accept_started)
		pthread_join(srv->accept_thread, NULL);
	/* 2. Idle connections close now (their callers see UNAVAILABLE at
	 *    once, and never a request half-served); one serving a request
	 *    finishes it, writes the reply, then closes. */
	pthread_mutex_lock(&srv->mu);
	srv->closing = true;
	for (session *se = srv->sessions; se != NULL; se = se->next) {
		if (!se->busy && !se->shut) {
			se->shut = true;
			srv->n_shut++;
			rpc_conn_shutdown(se->conn);
		}
	}
	while (srv->n_sessions > 0)
		pthread_cond_wait(&srv->cv, &srv->mu);
	pthread_mutex_unlock(&srv->mu);
	/* 3. The worker states, now that no handler runs. */
	for (int i = 0; i < srv->n_states; i++)
		if (srv->opt.worker_close != NULL)
			srv->opt.worker_close(srv->states[i]);
	rpc_acceptor_free(srv->acceptor);
	free(srv->states);
	free(srv->free_states);
	rpc_tls_free(srv->tls);
	pthread_cond_destroy(&srv->cv);
	pthread_mutex_destroy(&srv->mu);
	free(srv);
}
