/* http_server.h: CivetWeb, and the request flow of every route. */
#define _GNU_SOURCE /* strcasestr */
#include "http_server.h"

#include <civetweb.h>
#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "civetweb_conn.h"
#include "civetweb_head.h"
#include "health.pb-c.h"
#include "http_error.h"
#include "listen_sockets.h"
#include "metrics.h"
#include "openapi.h"
#include "request_checks.h"
#include "request_id.h"
#include "json/pbjson.h"

#define MAX_EXTRA_HEADERS 12
#define READY_TIMEOUT_MS 1000
#define PATH_MAX_BYTES 4096 /* a decoded path; the target check allows no longer */

struct http_server {
	struct mg_context *ctx;
	const gateway_config *cfg;
	rpc_client *clients[CONTRACT_SERVICES_MAX]; /* one per registry service */
	char *openapi;                              /* generated once at start */
	size_t openapi_len;
	_Atomic long connections;  /* each holds a worker until it closes */
	char answered_by_civetweb; /* its address marks a connection whose request on_http_error answered */
};

/* One request's state from arrival to access log line. */
typedef struct exchange {
	struct mg_connection *conn;
	const struct mg_request_info *ri;
	char request_id[REQUEST_ID_MAX + 1];
	const char *route;    /* template, for the access log */
	const route *matched; /* NULL until a route matched; for metrics */
	int64_t started_ms;
	int64_t rpc_ms;
	http_header headers[MAX_EXTRA_HEADERS]; /* sent with every response */
	size_t n_headers;
	bool body_read;                /* the body was consumed, so the connection can stay open */
	bool closing;                  /* "Connection: close" is among the headers */
	rpc_status st;                 /* scratch status for this request */
	char path[PATH_MAX_BYTES + 1]; /* the target's path, decoded (routes_decode_path) */
} exchange;

static void
add_header(exchange *x, const char *name, const char *value)
{
	if (x->n_headers < MAX_EXTRA_HEADERS)
		x->headers[x->n_headers++] = (http_header){name, value};
}

/* The response says the connection ends after it (and handle_request
 * makes CivetWeb end it). */
static void
close_after_response(exchange *x)
{
	if (!x->closing && x->n_headers < MAX_EXTRA_HEADERS) {
		add_header(x, "Connection", "close");
		x->closing = true;
	}
}

/* CivetWeb 1.15 decides whether to keep a connection from the request's
 * Connection header alone (should_keep_alive), never from the response. A
 * server that answers "close" must close (RFC 9112, 9.6), and must not
 * count on the client to: so once the answer is sent, the request is made
 * to say close as well. Nothing reads the request's headers after this. */
static void
civetweb_closes_after_this_request(struct mg_connection *conn)
{
	struct mg_request_info *ri = (struct mg_request_info *) mg_get_request_info(conn);
	int i                      = 0;
	while (i < ri->num_headers && strcasecmp(ri->http_headers[i].name, "Connection") != 0)
		i++;
	if (i == ri->num_headers && ri->num_headers < MG_MAX_HEADERS)
		ri->num_headers++;
	else if (i == ri->num_headers)
		i = ri->num_headers - 1; /* full: the last header has been read already */
	ri->http_headers[i].name  = "Connection";
	ri->http_headers[i].value = "close";
}

/* True when a Connection field of the request lists "close" (RFC 9112
 * 9.6: then the server closes after its answer). CivetWeb 1.15 keeps the
 * connection when "keep-alive" is listed too, or in another Connection
 * line. */
static bool
asks_to_close(const struct mg_request_info *ri)
{
	for (int i = 0; i < ri->num_headers; i++) {
		if (strcasecmp(ri->http_headers[i].name, "Connection") != 0)
			continue;
		for (const char *p = ri->http_headers[i].value; *p != '\0';) {
			p += strspn(p, " \t,");
			size_t n = strcspn(p, " \t,");
			if (n == 5 && strncasecmp(p, "close", 5) == 0)
				return true;
			p += n;
		}
	}
	return false;
}

/* True when the request has a body that nobody read. */
static bool
body_pending(const exchange *x)
{
	const char *te = mg_get_header(x->conn, "Transfer-Encoding");
	return !x->body_read && (x->ri->content_length > 0 || (te != NULL && strcasecmp(te, "chunked") == 0));
}

static int
send_error(exchange *x, int status, rpc_code code, const char *message, const rpc_status *st)
{
	/* An unread body ends the connection: say so, rather than let CivetWeb
	 * promise keep-alive and then close. */
	if (body_pending(x))
		close_after_response(x);
	return http_send_error(x->conn, status, code, message, st, x->request_id, x->headers, x->n_headers);
}

static int
send_json(exchange *x, int status, const char *body, size_t len)
{
	/* As send_error: a body nobody reads ends the connection, else CivetWeb
	 * reads it to its declared end, as slowly as the client sends it. */
	if (body_pending(x))
		close_after_response(x);
	return http_send_json(x->conn, status, x->request_id, body, len, x->headers, x->n_headers);
}

/* ---- CORS ---- */

/* True when origin is in the comma-separated allow list. */
static bool
origin_allowed(const char *list, const char *origin)
{
	size_t n = strlen(origin);
	for (const char *p = list; *p != '\0';) {
		const char *comma = strchr(p, ',');
		size_t len        = comma != NULL ? (size_t) (comma - p) : strlen(p);
		if (len == n && strncmp(p, origin, n) == 0)
			return true;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return false;
}

static void
add_cors_headers(const http_server *srv, exchange *x)
{
	const char *origin = mg_get_header(x->conn, "Origin");
	if (origin == NULL || !origin_allowed(srv->cfg->cors_origins, origin))
		return;
	add_header(x, "Access-Control-Allow-Origin", origin);
	add_header(x, "Vary", "Origin");
	add_header(x, "Access-Control-Expose-Headers", "X-Request-Id, Location");
}

/* OPTIONS: the methods a path allows, and the CORS preflight answer. */
static int
handle_options(const http_server *srv, exchange *x, const char *allow)
{
	add_header(x, "Allow", allow);
	if (mg_get_header(x->conn, "Access-Control-Request-Method") != NULL &&
	    mg_get_header(x->conn, "Origin") != NULL &&
	    origin_allowed(srv->cfg->cors_origins, mg_get_header(x->conn, "Origin"))) {
		add_header(x, "Access-Control-Allow-Methods", allow);
		add_header(x, "Access-Control-Allow-Headers",
		    "Content-Type, X-Request-Id, X-Request-Timeout, Idempotency-Key");
		add_header(x, "Access-Control-Max-Age", "600");
	}
	return send_json(x, 204, "", 0);
}

/* ---- request checks ---- */

/* Query parameters: no route takes any yet, so each one is reported. */
static bool
check_query(exchange *x)
{
	const char *q = x->ri->query_string;
	if (q == NULL || q[0] == '\0')
		return true;
	rpc_status_clear(&x->st);
	for (const char *p = q; *p != '\0';) {
		size_t len = strcspn(p, "&");
		size_t key = strcspn(p, "=&");
		if (key > 0) {
			char name[RPC_FIELD_MAX];
			snprintf(name, sizeof(name), "%.*s", (int) (key < 64 ? key : 64), p);
			rpc_status_add_violation(&x->st, name, "unknown query parameter '%s'", name);
		} else if (len > 0) {
			rpc_status_add_violation(&x->st, "query", "query parameters must have a name");
		}
		p += len;
		if (*p == '&')
			p++;
	}
	return x->st.n_violations == 0;
}

/* X-Request-Timeout may shorten the deadline, never lengthen it. */
static bool
request_timeout(const http_server *srv, exchange *x, int64_t *timeout_ms)
{
	*timeout_ms     = srv->cfg->rpc_timeout_ms;
	const char *hdr = mg_get_header(x->conn, "X-Request-Timeout");
	if (hdr == NULL)
		return true;
	char *end;
	long long ms = strtoll(hdr, &end, 10);
	if (!isdigit((unsigned char) hdr[0]) || *end != '\0' || ms <= 0) {
		rpc_status_clear(&x->st);
		rpc_status_add_violation(
		    &x->st, "X-Request-Timeout", "X-Request-Timeout must be a positive number of milliseconds");
		return false;
	}
	if (ms < *timeout_ms)
		*timeout_ms = ms;
	return true;
}

/* application/json, with no charset or charset=utf-8 (RFC 8259 8.1: JSON
 * exchanged between systems is UTF-8; a body declared UTF-16 would be read
 * as something it is not). */
static bool
is_json_content_type(const char *type)
{
	static const char json_type[] = "application/json";
	if (type == NULL || strncasecmp(type, json_type, sizeof(json_type) - 1) != 0)
		return false;
	const char *p = type + sizeof(json_type) - 1;
	if (*p != '\0' && *p != ';' && *p != ' ' && *p != '\t')
		return false;
	for (const char *c = strcasestr(p, "charset"); c != NULL; c = strcasestr(c + 7, "charset")) {
		const char *v = c + 7 + strspn(c + 7, " \t");
		if (*v != '=')
			continue;
		v += 1 + strspn(v + 1, " \t\"");
		if (strncasecmp(v, "utf-8", 5) != 0 || strchr("\"; \t", v[5]) == NULL)
			return false;
	}
	return true;
}

/* Reads the body when it is JSON and within the limit. Returns 0 and a
 * malloc'd *body (NUL-terminated), or the HTTP status already sent. */
static int
read_body(const http_server *srv, exchange *x, char **body, size_t *len)
{
	long long max = srv->cfg->max_body_bytes;
	*body         = NULL;
	*len          = 0;
	if (!is_json_content_type(mg_get_header(x->conn, "Content-Type")))
		return send_error(x, 415, RPC_INVALID_ARGUMENT, "Content-Type must be application/json (UTF-8)", NULL);
	if (x->ri->content_length > max) {
		/* Refused unread (send_error adds Connection: close). */
		char text[96];
		snprintf(text, sizeof(text), "body is larger than %lld bytes", max);
		return send_error(x, 413, RPC_RESOURCE_EXHAUSTED, text, NULL);
	}
	/* The client waits for this before it sends the body (CivetWeb 1.15
	 * says it only for CGI and PUT). */
	const char *expect = mg_get_header(x->conn, "Expect");
	if (expect != NULL && strcasecmp(expect, "100-continue") == 0)
		mg_printf(x->conn, "HTTP/1.1 100 Continue\r\n\r\n");
	x->body_read = true;
	/* Without a length (chunked), read at most the limit + 1. */
	size_t cap = x->ri->content_length >= 0 ? (size_t) x->ri->content_length : (size_t) max + 1;
	char *buf  = malloc(cap + 1);
	if (buf == NULL)
		return send_error(x, 500, RPC_INTERNAL, "internal error", NULL);
	size_t n = 0;
	int got  = 0;
	/* The whole body gets REQUEST_TIMEOUT_MS from the request's start
	 * (civetweb_conn.h: CivetWeb's own wait restarts with every byte). */
	if (civetweb_conn_read_deadline_start(x->started_ms + srv->cfg->request_timeout_ms) != 0)
		log_warn(x->request_id, "body_read_without_deadline (the worker's socket is not known)");
	while (n < cap && (got = mg_read(x->conn, buf + n, cap - n)) > 0)
		n += (size_t) got;
	if (civetweb_conn_read_deadline_end()) {
		free(buf);
		x->body_read = false;
		return send_error(
		    x, 408, RPC_DEADLINE_EXCEEDED, "the body did not arrive within REQUEST_TIMEOUT_MS", NULL);
	}
	/* A bad chunk header (mg_read < 0), or a body cut short (the client
	 * stopped, or a timeout): the framing is lost, so the connection ends
	 * with the answer. */
	bool chunked = x->ri->content_length < 0;
	if ((got < 0 && chunked) || (!chunked && n < cap)) {
		free(buf);
		x->body_read = false;
		return send_error(x, 400, RPC_INVALID_ARGUMENT,
		    chunked ? "malformed chunked encoding" : "body ended before Content-Length", NULL);
	}
	if (n > (size_t) max) {
		free(buf);
		x->body_read = false; /* the rest is still unread */
		char text[96];
		snprintf(text, sizeof(text), "body is larger than %lld bytes", max);
		return send_error(x, 413, RPC_RESOURCE_EXHAUSTED, text, NULL);
	}
	buf[n] = '\0';
	*body  = buf;
	*len   = n;
	return 0;
}

/* ---- RPC routes ---- */

/* True when the message's field `name` holds an integer. */
static bool
integer_field(const ProtobufCMessageDescriptor *desc, const char *name)
{
	const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(desc, name);
	if (f == NULL)
		return false;
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64: return true;
	default: return false;
	}
}

/* Digits with no leading zero ("0" itself aside), after an optional '-'
 * ("-0" is 0 spelled another way); anything else is left to the decoder,
 * which names what is wrong. */
static bool
canonical_integer(const char *s, size_t len)
{
	size_t sign        = len > 0 && s[0] == '-';
	const char *digits = s + sign;
	size_t n = len - sign, i = 0;
	while (i < n && digits[i] >= '0' && digits[i] <= '9')
		i++;
	if (n == 0 || i != n)
		return true;
	return !(digits[0] == '0' && (n > 1 || sign));
}

/* "/users/{id}" with the reply's id → "/users/12". */
static void
fill_location(const char *tmpl, const ProtobufCMessage *reply, char *out, size_t len)
{
	size_t j = 0;
	for (const char *p = tmpl; *p != '\0' && j + 1 < len;) {
		if (*p != '{') {
			out[j++] = *p++;
			continue;
		}
		const char *close = strchr(p, '}');
		char name[64];
		snprintf(name, sizeof(name), "%.*s", (int) (close - p - 1), p + 1);
		buffer v = {0};
		if (pbjson_encode_field(reply, name, &v) == 0) {
			const char *text = v.data;
			size_t n         = v.len;
			if (n >= 2 && text[0] == '"') { /* a string field: without its quotes */
				text++;
				n -= 2;
			}
			j += (size_t) snprintf(out + j, len - j, "%.*s", (int) n, text);
		}
		buffer_free(&v);
		p = close + 1;
	}
	out[j < len ? j : len - 1] = '\0';
}

/* A failed call, as a client may see it. A status the service replied with
 * carries the service's own words (written for clients), except INTERNAL
 * and the like; a failure of the call itself is worded here. */
static int
send_rpc_error(exchange *x, const route *r, rpc_code code, int64_t timeout_ms)
{
	int status       = http_status_from_rpc(code);
	const char *name = routes_service_name(r->service);
	char text[RPC_MESSAGE_MAX];
	if (x->st.remote && status != 500) {
		if (status < 500)
			return send_error(x, status, code, x->st.message, &x->st);
		snprintf(text, sizeof(text), "%s", x->st.message);
	} else if (code == RPC_UNAVAILABLE) {
		snprintf(text, sizeof(text), "%s is unavailable", name);
	} else if (code == RPC_DEADLINE_EXCEEDED) {
		snprintf(text, sizeof(text), "%s did not answer within %lld ms", name, (long long) timeout_ms);
	} else {
		status = 500; /* a local failure (memory, say) is never the client's */
		code   = RPC_INTERNAL;
		snprintf(text, sizeof(text), "internal error");
	}
	log_warn(x->request_id, "rpc_failed service=%s method=%s code=%s detail=\"%s\"", name, r->rpc_method,
	    rpc_code_name(code), x->st.message);
	return send_error(x, status, code, text, NULL);
}

/* A field bound from the path is named as its template spells it
 * ("user_id" in /orders/user/{user_id}), not by its JSON name ("userId"),
 * in the violations the gateway or the service found: one spelling of a
 * path variable everywhere (AIP-127 templates name the request's fields). */
static void
name_path_fields(rpc_status *st, const route_match *m)
{
	for (size_t v = 0; v < st->n_violations; v++) {
		rpc_violation *vi = &st->violations[v];
		for (int i = 0; i < m->n_params; i++) {
			char name[64], json_name[64];
			snprintf(name, sizeof(name), "%.*s", (int) m->params[i].name_len, m->params[i].name);
			pbjson_json_name(name, json_name, sizeof(json_name));
			if (strcmp(vi->field, json_name) != 0)
				continue;
			size_t n = strlen(json_name);
			char description[sizeof(vi->description)];
			if (strncmp(vi->description, json_name, n) == 0 && vi->description[n] == ' ') {
				snprintf(description, sizeof(description), "%s%s", name, vi->description + n);
				snprintf(vi->description, sizeof(vi->description), "%s", description);
			}
			snprintf(vi->field, sizeof(vi->field), "%s", name);
		}
	}
}

static int
handle_rpc(http_server *srv, exchange *x, const route_match *m, int64_t timeout_ms)
{
	const route *r                        = m->route;
	const ProtobufCServiceDescriptor *svc = routes_service_descriptor(r->service);
	const ProtobufCMethodDescriptor *md   = protobuf_c_service_descriptor_get_method_by_name(svc, r->rpc_method);
	char *body                            = NULL;
	json_t *root                          = NULL;
	ProtobufCMessage *request = NULL, *reply = NULL;
	int status;

	/* 1. The body, when the route takes one, else an empty object. */
	if (r->takes_body) {
		size_t len;
		if ((status = read_body(srv, x, &body, &len)) != 0)
			return status;
		if (pbjson_parse(body, len, &root, &x->st) != RPC_OK) {
			status = send_error(x, 400, RPC_INVALID_ARGUMENT, NULL, &x->st);
			goto out;
		}
	} else {
		root = json_object();
		if (root == NULL) {
			status = send_error(x, 500, RPC_INTERNAL, "internal error", NULL);
			goto out;
		}
	}
	/* 2. Path parameters bind the fields they name. */
	if (json_is_object(root)) {
		for (int i = 0; i < m->n_params; i++) {
			char name[64];
			snprintf(name, sizeof(name), "%.*s", (int) m->params[i].name_len, m->params[i].name);
			json_t *value = json_stringn(m->params[i].value, m->params[i].value_len);
			if (value == NULL) { /* not UTF-8 once %-decoded */
				rpc_status_clear(&x->st);
				rpc_status_add_violation(&x->st, name, "%s must be valid UTF-8", name);
				status = send_error(x, 400, RPC_INVALID_ARGUMENT, NULL, &x->st);
				goto out;
			}
			/* Data is served under its own URL only: an integer in the path
			 * is written one way ("/users/2", never "/users/0002"). */
			if (integer_field(md->input, name) &&
			    !canonical_integer(m->params[i].value, m->params[i].value_len)) {
				json_decref(value);
				rpc_status_clear(&x->st);
				rpc_status_add_violation(
				    &x->st, name, "%s must be written in digits without leading zeros", name);
				status = send_error(x, 400, RPC_INVALID_ARGUMENT, NULL, &x->st);
				goto out;
			}
			/* The path binds it: the same field in the body would be
			 * overwritten unseen, or blamed on the path. */
			char json_name[64];
			pbjson_json_name(name, json_name, sizeof(json_name));
			if (json_object_get(root, name) != NULL || json_object_get(root, json_name) != NULL) {
				json_decref(value);
				rpc_status_clear(&x->st);
				rpc_status_add_violation(
				    &x->st, name, "%s is bound by the path; leave it out of the body", name);
				status = send_error(x, 400, RPC_INVALID_ARGUMENT, NULL, &x->st);
				goto out;
			}
			json_object_set_new(root, name, value);
		}
	}
	/* 3. JSON → request message; every problem is listed. */
	if (pbjson_decode_object(md->input, root, &request, &x->st) != RPC_OK) {
		name_path_fields(&x->st, m);
		status = x->st.code == RPC_INVALID_ARGUMENT ? send_error(x, 400, RPC_INVALID_ARGUMENT, NULL, &x->st)
		                                            : send_error(x, 500, RPC_INTERNAL, "internal error", NULL);
		goto out;
	}
	/* 4. The call, with the request id, the deadline and the metadata. */
	rpc_metadata md_items[1];
	size_t n_md     = 0;
	const char *key = mg_get_header(x->conn, "Idempotency-Key");
	if (key != NULL)
		md_items[n_md++] = (rpc_metadata){"idempotency-key", key};
	rpc_call_options opt = {
	    .request_id = x->request_id, .timeout_ms = timeout_ms, .metadata = md_items, .n_metadata = n_md};
	int64_t t0    = rpc_clock_ms();
	rpc_code code = rpc_client_call(srv->clients[r->service], svc, r->rpc_method, request, &reply, &opt, &x->st);
	x->rpc_ms     = rpc_clock_ms() - t0;
	if (code != RPC_OK) {
		metrics_count_rpc_error(r->service, code);
		name_path_fields(&x->st, m);
		status = send_rpc_error(x, r, code, timeout_ms);
		goto out;
	}
	/* 5. Reply → JSON: the whole message or the route's field of it. */
	buffer out = {0};
	int rv     = r->response_field != NULL ? pbjson_encode_field(reply, r->response_field, &out)
	                                       : pbjson_encode(reply, &out);
	if (rv != 0) {
		buffer_free(&out);
		status = send_error(x, 500, RPC_INTERNAL, "internal error", NULL);
		goto out;
	}
	char location[256];
	if (r->location != NULL) {
		fill_location(r->location, reply, location, sizeof(location));
		add_header(x, "Location", location);
	}
	status = send_json(x, r->success_status, out.data, out.len);
	buffer_free(&out);

out:
	protobuf_c_message_free_unpacked(reply, NULL);
	protobuf_c_message_free_unpacked(request, NULL);
	json_decref(root);
	free(body);
	return status;
}

/* ---- health and metrics ---- */

/* Asks every service's Health method (at most READY_TIMEOUT_MS each);
 * replies[s] is NULL, with codes[s] saying why, for one that did not answer. */
static void
ask_health(http_server *srv, exchange *x, int64_t timeout_ms, Health__HealthReply *replies[CONTRACT_SERVICES_MAX],
    rpc_code codes[CONTRACT_SERVICES_MAX])
{
	for (int s = 0; (size_t) s < contract_services_count; s++) {
		Health__HealthRequest in = HEALTH__HEALTH_REQUEST__INIT;
		ProtobufCMessage *out    = NULL;
		rpc_call_options opt     = {.request_id = x->request_id,
		        .timeout_ms                     = timeout_ms < READY_TIMEOUT_MS ? timeout_ms : READY_TIMEOUT_MS};
		codes[s]                 = rpc_client_call(
		                    srv->clients[s], routes_service_descriptor(s), "Health", &in.base, &out, &opt, &x->st);
		replies[s] = codes[s] == RPC_OK ? (Health__HealthReply *) out : NULL;
		if (codes[s] != RPC_OK)
			metrics_count_rpc_error((size_t) s, codes[s]);
	}
}

static void
free_health(Health__HealthReply *replies[CONTRACT_SERVICES_MAX])
{
	for (int s = 0; (size_t) s < contract_services_count; s++) {
		if (replies[s] != NULL)
			health__health_reply__free_unpacked(replies[s], NULL);
	}
}

static int
handle_readyz(http_server *srv, exchange *x, int64_t timeout_ms)
{
	Health__HealthReply *replies[CONTRACT_SERVICES_MAX];
	rpc_code codes[CONTRACT_SERVICES_MAX];
	ask_health(srv, x, timeout_ms, replies, codes);
	json_t *services = json_object();
	bool all_ok      = true;
	for (int s = 0; (size_t) s < contract_services_count; s++) {
		Health__HealthReply *h = replies[s];
		json_t *entry;
		if (h != NULL) {
			json_t *deps = json_array();
			for (size_t i = 0; i < h->n_dependencies; i++) {
				json_array_append_new(
				    deps, json_pack("{s:s,s:b,s:s}", "name", h->dependencies[i]->name, "ok",
				              h->dependencies[i]->ok, "detail", h->dependencies[i]->detail));
			}
			entry  = json_pack("{s:b,s:o}", "ok", h->ok, "dependencies", deps);
			all_ok = all_ok && h->ok;
		} else {
			entry  = json_pack("{s:b,s:s}", "ok", 0, "error", rpc_code_name(codes[s]));
			all_ok = false;
		}
		json_object_set_new(services, routes_service_name(s), entry);
	}
	free_health(replies);
	json_t *doc = json_pack("{s:s,s:o}", "status", all_ok ? "ready" : "unavailable", "services", services);
	char *text  = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (text == NULL)
		return send_error(x, 500, RPC_INTERNAL, "internal error", NULL);
	int status = send_json(x, all_ok ? 200 : 503, text, strlen(text));
	free(text);
	return status;
}

/* Always 200 while the gateway runs: a service that did not answer shows
 * as service_up 0, which is itself a metric worth scraping. */
static int
handle_metrics(http_server *srv, exchange *x, int64_t timeout_ms)
{
	Health__HealthReply *replies[CONTRACT_SERVICES_MAX];
	rpc_code codes[CONTRACT_SERVICES_MAX];
	ask_health(srv, x, timeout_ms, replies, codes);
	char *text = metrics_render(replies, atomic_load(&srv->connections), srv->cfg->workers);
	free_health(replies);
	if (text == NULL)
		return send_error(x, 500, RPC_INTERNAL, "internal error", NULL);
	if (body_pending(x))
		close_after_response(x);
	int status = http_send(x->conn, 200, "text/plain; version=0.0.4; charset=utf-8", x->request_id, text,
	    strlen(text), x->headers, x->n_headers);
	free(text);
	return status;
}

/* ---- the handler ---- */

static int
dispatch(http_server *srv, exchange *x)
{
	const char *method = x->ri->request_method;
	char allow[64];
	route_match m;
	add_cors_headers(srv, x);

	/* The path, from the raw target (CivetWeb's local_uri was decoded
	 * whole, so "%00" ended it and "%2F" split it): each segment decoded
	 * once. An absolute-form target's path follows its authority. */
	const char *raw = x->ri->request_uri;
	if (raw[0] != '/')
		raw = strchr(strstr(raw, "://") + 3, '/');
	char why[128];
	int bad = routes_decode_path(raw, x->path, sizeof(x->path), why, sizeof(why));
	if (bad != 0)
		return send_error(x, bad, RPC_INVALID_ARGUMENT, why, NULL);
	route_result found = routes_match(method, x->path, &m, allow, sizeof(allow));
	if (strcmp(method, "OPTIONS") == 0 && found == ROUTE_METHOD_NOT_ALLOWED)
		return handle_options(srv, x, allow);
	if (found == ROUTE_NOT_FOUND) {
		char text[160];
		snprintf(text, sizeof(text), "no route for %.16s %.100s", method, x->path);
		return send_error(x, 404, RPC_NOT_FOUND, text, NULL);
	}
	if (found == ROUTE_METHOD_NOT_ALLOWED) {
		add_header(x, "Allow", allow);
		char text[160];
		snprintf(text, sizeof(text), "%.16s is not allowed here; allowed: %s", method, allow);
		return send_error(x, 405, RPC_UNIMPLEMENTED, text, NULL);
	}
	x->route   = m.route->path;
	x->matched = m.route;
	if (!check_query(x))
		return send_error(x, 400, RPC_INVALID_ARGUMENT, NULL, &x->st);
	int64_t timeout_ms;
	if (!request_timeout(srv, x, &timeout_ms))
		return send_error(x, 400, RPC_INVALID_ARGUMENT, NULL, &x->st);

	switch (m.route->kind) {
	case ROUTE_HEALTHZ: return send_json(x, 200, "{\"status\":\"ok\"}", 15);
	case ROUTE_READYZ: return handle_readyz(srv, x, timeout_ms);
	case ROUTE_OPENAPI: return send_json(x, 200, srv->openapi, srv->openapi_len);
	case ROUTE_METRICS: return handle_metrics(srv, x, timeout_ms);
	case ROUTE_RPC: return handle_rpc(srv, x, &m, timeout_ms);
	}
	return send_error(x, 500, RPC_INTERNAL, "internal error", NULL);
}

static int
handle_request(struct mg_connection *conn, void *cbdata)
{
	http_server *srv = cbdata;
	exchange *x      = malloc(sizeof(*x)); /* its status is large for a thread's stack */
	if (x == NULL)
		return 0;
	x->conn       = conn;
	x->ri         = mg_get_request_info(conn);
	x->route      = "none"; /* the metrics' label for no route, too */
	x->matched    = NULL;
	x->started_ms = rpc_clock_ms();
	x->rpc_ms     = -1;
	x->n_headers  = 0;
	x->body_read  = false;
	x->closing    = false;
	request_id_take_or_make(mg_get_header(conn, "X-Request-Id"), x->request_id);
	/* A keep-alive connection holds its worker between requests, and
	 * CivetWeb gives a waiting connection a worker only when one closes.
	 * So once every worker is held, each answer ends its connection: the
	 * client reconnects behind those already waiting, and none waits for
	 * longer than a request. */
	if (atomic_load(&srv->connections) >= srv->cfg->workers) {
		close_after_response(x);
		metrics_count_connection_turn();
	}

	/* Framing and syntax first, before a body byte is read: a request
	 * whose length or target could be read two ways is refused and its
	 * connection ends (RFC 9112 6.3, 11.2). */
	request_field fields[MG_MAX_HEADERS];
	request_head head;
	request_violation violation;
	civetweb_head(x->ri, fields, &head);
	int status;
	if (request_check(&head, &violation)) {
		close_after_response(x);
		status = send_error(x, violation.status,
		    violation.status >= 500 ? RPC_UNIMPLEMENTED : RPC_INVALID_ARGUMENT, violation.message, NULL);
	} else {
		/* CivetWeb 1.15 cannot discard a chunked body's trailer section
		 * ("0\r\nX-Checksum: 1\r\n\r\n"), whether a route read the body or
		 * not, and then closes without a word after an answer that promised
		 * keep-alive; it does not tell whether the body had one. So the
		 * answer to any chunked request ends its connection and says so
		 * (RFC 9112 9.6): a request pipelined behind it is the client's to
		 * send again, never silently lost. (CivetWeb 1.16 discards trailers.) */
		if (mg_get_header(conn, "Transfer-Encoding") != NULL || asks_to_close(x->ri))
			close_after_response(x);
		status = dispatch(srv, x);
	}
	if (x->closing && body_pending(x) && civetweb_conn_stop_reading() == -1)
		log_warn(x->request_id,
		    "connection_socket_unknown peer=%s:%d (its unread body is discarded until "
		    "REQUEST_TIMEOUT_MS)",
		    x->ri->remote_addr, x->ri->remote_port);
	if (x->closing)
		civetweb_closes_after_this_request(conn);
	int64_t ms = rpc_clock_ms() - x->started_ms;
	metrics_observe_request(x->matched, status, ms);
	log_info(x->request_id, "http method=%.16s route=%s status=%d ms=%lld rpc_ms=%lld", x->ri->request_method,
	    x->route, status, (long long) ms, (long long) x->rpc_ms);
	free(x);
	return status;
}

/* The methods CivetWeb 1.15's parser takes (is_valid_http_method); it
 * refuses any other before the gateway sees the request. */
static bool
civetweb_parses_method(const char *m)
{
	static const char *const taken[] = {"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "CONNECT", "PATCH",
	    "PROPFIND", "MKCOL", "LOCK", "UNLOCK", "PROPPATCH", "REPORT"};
	for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++) {
		if (strcmp(m, taken[i]) == 0)
			return true;
	}
	return false;
}

/* When CivetWeb refused a fully parsed head (a Transfer-Encoding other
 * than chunked), the checks' own status and words for it. */
static bool
framing_refusal(const struct mg_request_info *ri, char *text, size_t len, int *status)
{
	request_field fields[MG_MAX_HEADERS];
	for (int i = 0; i < ri->num_headers; i++)
		fields[i] = (request_field){ri->http_headers[i].name, ri->http_headers[i].value};
	request_head h = {.method = ri->request_method,
	    .version              = ri->http_version,
	    .target               = "/",
	    .fields               = fields,
	    .n_fields             = ri->num_headers,
	    .layout_field         = -1};
	request_violation v;
	if (!request_check(&h, &v))
		return false;
	snprintf(text, len, "%s", v.message);
	*status = v.status;
	return true;
}

/* An answer CivetWeb caused (its own error, or a request it dropped), in
 * our envelope, always with close (CivetWeb closes after it), logged and
 * counted under route "none" like any other answer. */
static void
answer_for_civetweb(struct mg_connection *conn, int status, const char *message, const char *detail)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	/* Set by the parse of this request, or NULL (reset before each). */
	const char *method = ri->http_version != NULL && ri->request_method != NULL ? ri->request_method : "-";
	char rid[REQUEST_ID_MAX + 1];
	request_id_take_or_make(ri->http_version != NULL ? mg_get_header(conn, "X-Request-Id") : NULL, rid);
	static const http_header closing[] = {{"Connection", "close"}};
	rpc_code code                      = status == 404                                     ? RPC_NOT_FOUND
	                                     : status == 405 || status == 501 || status == 505 ? RPC_UNIMPLEMENTED
	                                     : status == 413                                   ? RPC_RESOURCE_EXHAUSTED
	                                     : status >= 500                                   ? RPC_INTERNAL
	                                                                                       : RPC_INVALID_ARGUMENT;
	http_send_error(conn, status, code, message, NULL, rid, closing, 1);
	metrics_observe_request(NULL, status, 0);
	log_info(rid, "http method=%.16s route=none status=%d ms=0 rpc_ms=-1 civetweb=\"%s\"", method, status, detail);
}

/* CivetWeb's own errors (a request line it could not parse, say). */
static int
on_http_error(struct mg_connection *conn, int status, const char *errmsg)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	const char *method               = ri->http_version != NULL ? ri->request_method : NULL;
	const char *message = mg_get_response_code_text(conn, status); /* CivetWeb's text is not for clients */
	char text[192];
	bool line_parsed = civetweb_head_line_parsed(ri);
	/* A method CivetWeb does not parse fails the parse after the request
	 * line was split, with a version of digits: unrecognised, so 501 (RFC
	 * 9110 9.1), as is CONNECT (refused as an "Invalid URI"). */
	if (status == 400 && method != NULL && request_is_token(method) &&
	    (!civetweb_parses_method(method) || strcmp(method, "CONNECT") == 0) &&
	    isdigit((unsigned char) ri->http_version[0])) {
		status = 501;
		snprintf(text, sizeof(text), "method %.32s is not implemented", method);
		message = text;
	} else if (status == 400 && method != NULL && !request_is_token(method)) {
		message = "the method is not a token (RFC 9110 9.1)";
	} else if (status == 400 && errmsg != NULL && strcmp(errmsg, "Invalid URI") == 0) {
		message = "the request-target must be a path starting with '/' or an absolute http URI";
	} else if (status == 400 && line_parsed && ri->num_headers < 0) {
		message = "a header line is not a field (name \":\" value, RFC 9112 5)";
	} else if (status == 400 && line_parsed && civetweb_parses_method(method) &&
	           framing_refusal(ri, text, sizeof(text), &status)) {
		message = text; /* a Transfer-Encoding CivetWeb refused: say which rule */
	} else if (status == 400 && errmsg != NULL && strcmp(errmsg, "Malformed message") == 0 &&
	           civetweb_conn_buffer_filled(CIVETWEB_REQUEST_BUFFER)) {
		status  = 431; /* RFC 6585 5 */
		message = "the request head is larger than " CIVETWEB_REQUEST_BUFFER_TEXT " bytes";
	} else if (status == 404 && method != NULL && mg_get_header(conn, "Upgrade") != NULL) {
		/* CivetWeb takes "Upgrade: websocket" past the handler to its own
		 * websocket table, which is empty. */
		message = "no WebSocket endpoint here: send the request without Upgrade";
	} else if (status == 411) {
		/* CivetWeb's answer to a Content-Length it cannot read ("-1", "x") */
		status  = 400;
		message = "Content-Length must be a decimal number of bytes (RFC 9110 8.6)";
	} else if (status == 505 && line_parsed) {
		snprintf(text, sizeof(text), "HTTP/%.16s is not supported: use HTTP/1.1", ri->http_version);
		message = text;
	}
	answer_for_civetweb(conn, status, message, errmsg);
	/* The answer says close; so must CivetWeb, also for the errors it sends
	 * past a parsed request (a WebSocket upgrade's 404). */
	civetweb_closes_after_this_request(conn);
	http_server *srv = mg_get_user_data(mg_get_context(conn));
	if (mg_get_user_connection_data(conn) == srv)
		mg_set_user_connection_data(conn, &srv->answered_by_civetweb);
	return 0;
}

/* A connection is counted from the worker taking it to its close. */
static int
on_connection_open(const struct mg_connection *conn, void **conn_data)
{
	http_server *srv = mg_get_user_data(mg_get_context(conn));
	atomic_fetch_add(&srv->connections, 1);
	*conn_data = srv;       /* marks it counted, so the close is counted once */
	civetweb_conn_opened(); /* this worker's next recv() is the connection's first */
	return 0;
}

/* CivetWeb 1.15 reads some requests and then closes without an answer and
 * without calling anything: an asterisk-form target ("OPTIONS *"), and an
 * absolute-form one whose port is not the listening port's (its "non-local
 * request", get_rel_url_at_current_server). Such a request was parsed
 * (http_version set) but never given a local_uri; it is answered here, the
 * last moment the socket is open. */
static void
answer_dropped_request(const struct mg_connection *cconn)
{
	struct mg_connection *conn       = (struct mg_connection *) cconn; /* CivetWeb's callback is const */
	const struct mg_request_info *ri = mg_get_request_info(conn);
	if (ri->http_version == NULL || ri->request_uri == NULL || ri->local_uri != NULL)
		return;
	if (strcmp(ri->request_uri, "*") == 0 && strcmp(ri->request_method, "OPTIONS") == 0) {
		static const http_header h[] = {{"Allow", "GET, HEAD, POST, OPTIONS"}, {"Connection", "close"}};
		char rid[REQUEST_ID_MAX + 1];
		request_id_take_or_make(mg_get_header(conn, "X-Request-Id"), rid);
		http_send_json(conn, 204, rid, "", 0, h, 2);
		metrics_observe_request(NULL, 204, 0);
		log_info(rid, "http method=OPTIONS route=none status=204 ms=0 rpc_ms=-1 civetweb=\"asterisk-form\"");
	} else if (strcmp(ri->request_uri, "*") == 0) {
		answer_for_civetweb(
		    conn, 400, "the asterisk-form target \"*\" is only for OPTIONS (RFC 9112 3.2.4)", "asterisk-form");
	} else {
		answer_for_civetweb(conn, 421, "the request-target names a host or port this gateway does not serve",
		    "non-local absolute-form");
	}
}

static void
on_connection_close(const struct mg_connection *conn)
{
	http_server *srv = mg_get_user_data(mg_get_context(conn));
	void *data       = mg_get_user_connection_data(conn);
	if (data == srv)
		answer_dropped_request(conn);
	if (data == srv || data == &srv->answered_by_civetweb)
		atomic_fetch_sub(&srv->connections, 1);
}

/* Every request is authorized: access control is not the gateway's. */
static int
no_http_authentication(struct mg_connection *conn, void *data)
{
	(void) conn;
	(void) data;
	return 1;
}

static int
on_log_message(const struct mg_connection *conn, const char *message)
{
	(void) conn;
	log_warn(NULL, "civetweb message=\"%s\"", message);
	return 1;
}

int
http_server_start(http_server **out, const gateway_config *cfg, rpc_client *const clients[CONTRACT_SERVICES_MAX],
    char *err, size_t errlen)
{
	http_server *srv = calloc(1, sizeof(*srv));
	if (srv == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	srv->cfg = cfg;
	for (int s = 0; (size_t) s < contract_services_count; s++)
		srv->clients[s] = clients[s];
	srv->openapi = openapi_document(err, errlen);
	if (srv->openapi == NULL) {
		free(srv);
		return -1;
	}
	srv->openapi_len = strlen(srv->openapi);

	char ports[256] = "", threads[16], request_timeout[24];
	for (int i = 0; i < cfg->ports.n; i++) {
		size_t used = strlen(ports);
		snprintf(ports + used, sizeof(ports) - used, "%s%s:%d", i ? "," : "", cfg->bind_address,
		    cfg->ports.ports[i]);
	}
	snprintf(threads, sizeof(threads), "%ld", cfg->workers);
	snprintf(request_timeout, sizeof(request_timeout), "%ld", cfg->request_timeout_ms);
	/* tcp_nodelay: CivetWeb writes headers and body separately, and Nagle's
	 * algorithm with the client's delayed ACK held each response ~40 ms. */
	const char *options[]         = {"listening_ports", ports, "num_threads", threads, "enable_keep_alive", "yes",
	            "tcp_nodelay", "1", "keep_alive_timeout_ms", "5000", "request_timeout_ms", request_timeout,
	            /* The raw target reaches the handler (the path is decoded there,
	             * per segment), and an absolute-form target naming this port is
	             * served whatever its host (RFC 9112 3.2.2: a server MUST accept
	             * absolute-form; CivetWeb's default checks it against
	             * authentication_domain "mydomain.com" and drops it silently). */
	            "decode_url", "no", "enable_auth_domain_check", "no", "max_request_size", CIVETWEB_REQUEST_BUFFER_TEXT,
	            /* CORS is ours (CORS_ORIGINS): CivetWeb's own would allow any origin. */
	            "access_control_allow_origin", "", "access_control_allow_methods", "", NULL};
	struct mg_callbacks callbacks = {0};
	callbacks.http_error          = on_http_error;
	callbacks.log_message         = on_log_message;
	callbacks.init_connection     = on_connection_open;
	callbacks.connection_close    = on_connection_close;

	struct mg_init_data init   = {.callbacks = &callbacks, .user_data = srv, .configuration_options = options};
	struct mg_error_data error = {.text = err, .text_buffer_size = errlen};
	srv->ctx                   = mg_start2(&init, &error);
	if (srv->ctx == NULL) {
		free(srv->openapi);
		free(srv);
		return -1;
	}
	mg_set_request_handler(srv->ctx, "/", handle_request, srv);
	/* The API has no HTTP authentication. Without a handler of its own,
	 * CivetWeb looks for a passwords file (".htpasswd") with a stat(2) on
	 * every request. */
	mg_set_auth_handler(srv->ctx, "/", no_http_authentication, NULL);
	int deferred = listen_sockets_defer_accept(&cfg->ports, cfg->request_timeout_ms);
	if (deferred < cfg->ports.n)
		log_warn(NULL,
		    "tcp_defer_accept_missing ports=%d set=%d (a silent connection holds a worker "
		    "until REQUEST_TIMEOUT_MS)",
		    cfg->ports.n, deferred);
	*out = srv;
	return 0;
}

void
http_server_stop(http_server *srv)
{
	if (srv == NULL)
		return;
	mg_stop(srv->ctx);
	free(srv->openapi);
	free(srv);
}
