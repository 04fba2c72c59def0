/* A small libcurl client for the HTTP tests. */
#ifndef TESTS_SUPPORT_HTTP_CLIENT_H
#define TESTS_SUPPORT_HTTP_CLIENT_H

#include <jansson.h>
#include <stddef.h>

typedef struct http_response {
	long status; /* 0 when the request failed at the transport */
	char *body;  /* NUL-terminated */
	size_t len;
	char *headers;  /* raw header block */
	json_t *json;   /* body parsed, or NULL */
	double seconds; /* total time */
} http_response;

/* Sends one request. headers is NULL-terminated ("Name: value"); body may
 * be NULL. Returns the status. Free the response with http_response_free. */
long http_request(
    const char *method, const char *url, const char *const *headers, const char *body, http_response *out);

/* The value of a response header (case-insensitive name), copied into buf;
 * NULL when absent. */
const char *http_header(const http_response *r, const char *name, char *buf, size_t len);

void http_response_free(http_response *r);

#endif
