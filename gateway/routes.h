/* The route table: data that says, for each HTTP method and path template,
 * which service method serves it and how, and the matcher over it. The same
 * table drives request handling and the OpenAPI document. */
#ifndef GATEWAY_ROUTES_H
#define GATEWAY_ROUTES_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum route_kind {
	ROUTE_RPC,     /* translated to a service method */
	ROUTE_HEALTHZ, /* the process is up */
	ROUTE_READYZ,  /* every service answers its Health method */
	ROUTE_OPENAPI, /* the OpenAPI document */
	ROUTE_METRICS, /* Prometheus text: the gateway's and the services' metrics */
} route_kind;

/* Services the gateway talks to; the index into its client array. */
typedef enum route_service {
	SERVICE_USERS  = 0,
	SERVICE_ORDERS = 1,
	SERVICE_COUNT  = 2,
} route_service;

#define ROUTE_MAX_STATUSES 8

typedef struct route {
	route_kind kind;
	const char *method;   /* "GET", "POST" */
	const char *path;     /* "/users/{id}": each {name} binds request field `name` */
	const char *summary;  /* one line, for OpenAPI */
	route_service service;
	const char *rpc_method; /* short name in the service: "GetUser" */
	bool takes_body;      /* the JSON body fills the request message */
	int success_status;   /* 200, 201 */
	const char *location; /* for 201: "/users/{id}", filled from the reply's fields */
	const char *response_field; /* NULL: the reply is the body; else that field of it */
	int statuses[ROUTE_MAX_STATUSES]; /* error statuses the service can cause; 0-terminated */
} route;

extern const route routes[];
extern const size_t routes_count;

/* The service descriptor and the name used in logs and /readyz. */
const ProtobufCServiceDescriptor *routes_service_descriptor(route_service s);
const char *routes_service_name(route_service s);

#define ROUTE_MAX_PARAMS 4
#define ROUTE_PARAM_MAX 256

typedef struct route_match {
	const route *route;
	int n_params;
	struct {
		const char *name; /* borrowed from the route table: "{id}" → "id" (without braces) */
		size_t name_len;
		char value[ROUTE_PARAM_MAX];
	} params[ROUTE_MAX_PARAMS];
} route_match;

typedef enum route_result {
	ROUTE_FOUND,
	ROUTE_NOT_FOUND,          /* no template matches the path */
	ROUTE_METHOD_NOT_ALLOWED, /* the path matches, with other methods: see allow */
} route_result;

/* Matches a path decoded by routes_decode_path (one trailing slash
 * tolerated; an empty segment never binds a parameter) and a method against
 * the table; HEAD matches the GET routes (RFC 9110 9.3.2). On
 * ROUTE_METHOD_NOT_ALLOWED, allow gets "GET, HEAD, POST"-style text. With
 * method NULL, any method matches (to list what a path allows). */
route_result routes_match(const char *method, const char *path, route_match *m, char *allow,
    size_t allow_len);

/* Decodes a raw (still %-encoded) origin-form path, segment by segment:
 * split on '/' first, then each segment's %XX decoded exactly once (RFC 3986
 * 2.4), so a decoded byte never splits or joins segments. Refused, with a
 * message for the client in why: a path not starting with '/', a '%' not
 * followed by two hex digits, a segment that decodes to a NUL, '/', a
 * control character or invalid UTF-8, a "." or ".." segment (raw or
 * encoded: RFC 3986 5.2.4 is for clients resolving references; a server
 * taking them would serve data under other URLs), and an empty segment
 * ("//") anywhere but a single trailing slash, which is dropped. out gets
 * the decoded path (NUL-terminated, never longer than raw). Returns 0, 400,
 * or 414 when out is too small. No allocation; thread-safe. */
int routes_decode_path(const char *raw, char *out, size_t out_len, char *why, size_t why_len);

#endif
