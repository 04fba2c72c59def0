/* http_error.h: status mapping and the error envelope. */
#include "http_error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/buffer.h"
#include "base/utf8.h"

int
http_status_from_rpc(rpc_code code)
{
	switch (code) {
	case RPC_OK: return 200;
	case RPC_INVALID_ARGUMENT:
	case RPC_FAILED_PRECONDITION: return 400;
	case RPC_NOT_FOUND: return 404;
	case RPC_ALREADY_EXISTS: return 409;
	case RPC_RESOURCE_EXHAUSTED: return 429;
	case RPC_UNAVAILABLE: return 503;
	case RPC_DEADLINE_EXCEEDED: return 504;
	default: return 500;
	}
}

/* True when the comma-separated header value lists token (any case). */
static bool
has_token(const char *value, const char *token)
{
	size_t n = strlen(token);
	for (const char *p = value; *p != '\0';) {
		p += strspn(p, " \t,");
		size_t len = strcspn(p, ",");
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == n && strncasecmp(p, token, n) == 0)
			return true;
		p += strcspn(p, ",");
	}
	return false;
}

/* CivetWeb's own rule (should_keep_alive): the client's Connection header
 * decides, else HTTP/1.1 means keep-alive. The caller adds "Connection:
 * close" where it knows better (an unread body). */
static const char *
connection_value(struct mg_connection *conn)
{
	const char *asked = mg_get_header(conn, "Connection");
	if (asked != NULL)
		return has_token(asked, "keep-alive") ? "keep-alive" : "close";
	const char *version = mg_get_request_info(conn)->http_version;
	return version != NULL && strcmp(version, "1.1") == 0 ? "keep-alive" : "close";
}

/* The Date header's value, formatted once a second per thread. */
static const char *
http_date(void)
{
	static _Thread_local time_t cached_at = -1;
	static _Thread_local char text[40];
	time_t now = time(NULL);
	if (now != cached_at) {
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(text, sizeof(text), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		cached_at = now;
	}
	return text;
}

static bool
append_header(buffer *b, const char *name, const char *value)
{
	return buffer_printf(b, "%s: %s\r\n", name, value);
}

/* The whole response goes out in one write: with TCP_NODELAY every write
 * is a segment, and CivetWeb's header API writes each line on its own
 * (eight sends and as many wake-ups of the client per response). */
int
http_send_json(struct mg_connection *conn, int status, const char *request_id, const char *body, size_t len,
    const http_header *extra, size_t n_extra)
{
	return http_send(conn, status, "application/json", request_id, body, len, extra, n_extra);
}

int
http_send(struct mg_connection *conn, int status, const char *content_type, const char *request_id, const char *body,
    size_t len, const http_header *extra, size_t n_extra)
{
	char stack[2048]; /* most responses fit: no malloc for them */
	buffer b;
	buffer_init_on(&b, stack, sizeof(stack));
	char line[64], length[24];
	int n   = snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", status, mg_get_response_code_text(conn, status));
	bool ok = buffer_append(&b, line, (size_t) n);
	bool says_connection = false;
	if (status != 204) { /* a 204 has no content, so no content headers */
		snprintf(length, sizeof(length), "%zu", len);
		ok = ok && append_header(&b, "Content-Type", content_type) &&
		     append_header(&b, "Content-Length", length);
	}
	ok = ok && append_header(&b, "X-Request-Id", request_id);
	for (size_t i = 0; i < n_extra; i++) {
		ok              = ok && append_header(&b, extra[i].name, extra[i].value);
		says_connection = says_connection || strcasecmp(extra[i].name, "Connection") == 0;
	}
	ok = ok && append_header(&b, "Date", http_date());
	if (!says_connection)
		ok = ok && append_header(&b, "Connection", connection_value(conn));
	/* A HEAD answer has the headers of the GET but no body: a client
	 * would read one as the start of the next response. */
	const char *method = mg_get_request_info(conn)->request_method;
	bool head_only     = method != NULL && strcmp(method, "HEAD") == 0;
	ok                 = ok && buffer_append(&b, "\r\n", 2) && (head_only || buffer_append(&b, body, len));
	if (ok) {
		mg_write(conn, b.data, b.len);
	} else { /* out of memory: a bare status, and the connection ends */
		mg_printf(conn, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
		status = 500;
	}
	buffer_free(&b);
	return status;
}

/* A JSON string of text, repaired where it is not UTF-8 (json_string
 * would refuse it, and the entry would silently vanish). */
static json_t *
text_value(const char *text)
{
	json_t *v = json_string(text);
	if (v != NULL)
		return v;
	char clean[512];
	utf8_sanitize(text, clean, sizeof(clean));
	return json_string(clean);
}

int
http_send_error(struct mg_connection *conn, int status, rpc_code code, const char *message, const rpc_status *st,
    const char *request_id, const http_header *extra, size_t n_extra)
{
	json_t *body = json_object();
	json_object_set_new(body, "statusCode", json_integer(status));
	json_object_set_new(body, "error", json_string(mg_get_response_code_text(conn, status)));
	json_object_set_new(body, "code", json_string(rpc_code_name(code)));
	if (st != NULL && st->n_violations > 0) {
		json_t *list = json_array();
		for (size_t i = 0; i < st->n_violations; i++)
			json_array_append_new(list, text_value(st->violations[i].description));
		if (st->n_dropped > 0) {
			char more[64];
			snprintf(more, sizeof(more), "and %zu more problems", st->n_dropped);
			json_array_append_new(list, json_string(more));
		}
		json_object_set_new(body, "message", list);
	} else {
		json_object_set_new(body, "message", text_value(message != NULL ? message : ""));
	}
	json_object_set_new(body, "requestId", json_string(request_id));
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (text == NULL)
		return http_send_json(conn, status, request_id, "{}", 2, extra, n_extra);
	http_send_json(conn, status, request_id, text, strlen(text), extra, n_extra);
	free(text);
	return status;
}
