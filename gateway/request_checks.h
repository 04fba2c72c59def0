/* Request framing and syntax checks (RFC 9110, RFC 9112): one pure function
 * over a request's head that returns the first reason to refuse it. It runs
 * once per request, before any body byte is read or anything is dispatched,
 * so a request whose length or target could be read two ways never reaches a
 * route (request smuggling; RFC 9112 6.1, 6.3, 11.2). No allocation, no I/O,
 * thread-safe. */
#ifndef GATEWAY_REQUEST_CHECKS_H
#define GATEWAY_REQUEST_CHECKS_H

#include <stdbool.h>
#include <stddef.h>

/* Things the HTTP parser normalised away that the gateway must refuse; see
 * civetweb_head.h for how each is seen with CivetWeb 1.15. Bits. */
enum {
	REQUEST_LAYOUT_LINE_WS =
	    1 << 0, /* more than one SP in the request line, or a line that starts with white space */
	REQUEST_LAYOUT_WS_BEFORE_COLON = 1 << 1, /* "Name : value" (RFC 9112 5.1) */
	REQUEST_LAYOUT_OBS_FOLD        = 1 << 2, /* a field line continued on the next line (RFC 9112 5.2) */
	REQUEST_LAYOUT_BARE_LF         = 1 << 3, /* a line ended by LF alone, or by CR alone (RFC 9112 2.2) */
	REQUEST_LAYOUT_UNPARSED        = 1 << 4, /* field lines the parser stopped before (too many, or not a field) */
	REQUEST_LAYOUT_LEADING_WS      = 1 << 5, /* bytes before the request line other than one CRLF (RFC 9112 2.2) */
};

typedef struct request_field {
	const char *name, *value; /* value without leading white space */
} request_field;

/* A request's head as the parser saw it. Strings are borrowed. */
typedef struct request_head {
	const char *method;  /* "GET" */
	const char *version; /* "1.1": the text after "HTTP/" */
	const char *target;  /* the request-target up to '?' (raw, still %-encoded) */
	const char *query;   /* after '?', raw; NULL when there is no '?' */
	const request_field *fields;
	int n_fields;
	unsigned layout;  /* REQUEST_LAYOUT_* bits */
	int layout_field; /* the field the first layout bit concerns (its line or the one before), or -1 */
} request_head;

typedef struct request_violation {
	int status;        /* 400, 414, 431, 501 or 505 */
	char message[192]; /* for the client: names the header or the part of the request line */
} request_violation;

/* The first violation, in the order: layout, request line (version, method,
 * target), field names and values, Host, framing (Transfer-Encoding,
 * Content-Length). Returns true and fills *v when the request must be
 * refused; every refusal also ends the connection (the framing of what
 * follows cannot be trusted). Methods outside GET, HEAD, POST, OPTIONS and
 * those the routes answer 405 for (PUT, DELETE, PATCH) are 501 (RFC 9110
 * 9.1). */
bool request_check(const request_head *h, request_violation *v);

/* True when s is a method this gateway recognises: GET HEAD POST OPTIONS
 * PUT DELETE PATCH. */
bool request_method_known(const char *s);

/* True when s is a non-empty token (RFC 9110 5.6.2). */
bool request_is_token(const char *s);

#endif
