/* http_error.h: status mapping and the error envelope. */
#include "http_error.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

int
http_status_from_rpc(rpc_code code)
{
	switch (code) {
	case RPC_OK:
		return 200;
	case RPC_INVALID_ARGUMENT:
	case RPC_FAILED_PRECONDITION:
		return 400;
	case RPC_NOT_FOUND:
		return 404;
	case RPC_ALREADY_EXISTS:
		return 409;
	case RPC_RESOURCE_EXHAUSTED:
		return 429;
	case RPC_UNAVAILABLE:
		return 503;
	case RPC_DEADLINE_EXCEEDED:
		return 504;
	default:
		return 500;
	}
}

int
http_send_json(struct mg_connection *conn, int status, const char *request_id, const char *body, size_t len,
    const http_header *extra, size_t n_extra)
{
	char length[24];
	snprintf(length, sizeof(length), "%zu", len);
	mg_response_header_start(conn, status);
	if (status != 204) { /* a 204 has no content, so no content headers */
		mg_response_header_add(conn, "Content-Type", "application/json", -1);
		mg_response_header_add(conn, "Content-Length", length, -1);
	}
	mg_response_header_add(conn, "X-Request-Id", request_id, -1);
	for (size_t i = 0; i < n_extra; i++)
		mg_response_header_add(conn, extra[i].name, extra[i].value, -1);
	mg_response_header_send(conn);
	if (len > 0)
		mg_write(conn, body, len);
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
http_send_error(struct mg_connection *conn, int status, rpc_code code, const char *message,
    const rpc_status *st, const char *request_id, const http_header *extra, size_t n_extra)
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
