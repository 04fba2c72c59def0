/* Errors as HTTP: the RPC status → HTTP status mapping, and the one error
 * body of CONTRACT.md, used for every error whatever its origin. */
#ifndef GATEWAY_HTTP_ERROR_H
#define GATEWAY_HTTP_ERROR_H

#include <civetweb.h>
#include <stddef.h>

#include "rpc/status.h"

/* OK→200, INVALID_ARGUMENT→400, NOT_FOUND→404, ALREADY_EXISTS→409,
 * FAILED_PRECONDITION→400, RESOURCE_EXHAUSTED→429, UNAVAILABLE→503,
 * DEADLINE_EXCEEDED→504, anything else→500. */
int http_status_from_rpc(rpc_code code);

/* An extra response header. */
typedef struct http_header {
	const char *name, *value;
} http_header;

/* Sends status with a body of content_type and the standard headers
 * (Content-Type, Content-Length, X-Request-Id, Date, Connection) plus the
 * extra ones, in one write. Returns status. */
int http_send(struct mg_connection *conn, int status, const char *content_type, const char *request_id,
    const char *body, size_t len, const http_header *extra, size_t n_extra);

/* http_send with application/json. */
int http_send_json(struct mg_connection *conn, int status, const char *request_id, const char *body, size_t len,
    const http_header *extra, size_t n_extra);

/* Sends the error body {"statusCode","error","code","message","requestId"}.
 * With violations (st->n_violations > 0) message is the list of their
 * descriptions; otherwise the single string `message`, which the caller
 * guarantees is fit for a client (never a library's or a 5xx's internal
 * text). Returns status. */
int http_send_error(struct mg_connection *conn, int status, rpc_code code, const char *message, const rpc_status *st,
    const char *request_id, const http_header *extra, size_t n_extra);

#endif
