/* The route table: data that says, for each HTTP method and path template,
 * which service method serves it and how, and the matcher over it. The same
 * table drives request handling, 405's Allow, /metrics and the OpenAPI
 * document. Its RPC routes come from the contracts (lib/contract, generated
 * from google.api.http and rest.route); the gateway adds its own four. */
#ifndef GATEWAY_ROUTES_H
#define GATEWAY_ROUTES_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

#include "contract/tables.h"

typedef enum route_kind {
	ROUTE_RPC,     /* translated to a service method */
	ROUTE_HEALTHZ, /* the process is up */
	ROUTE_READYZ,  /* every service answers its Health method */
	ROUTE_OPENAPI, /* the OpenAPI document */
	ROUTE_METRICS, /* Prometheus text: the gateway's and the services' metrics */
} route_kind;

#define ROUTE_MAX_STATUSES (CONTRACT_ERROR_STATUSES_MAX + 1)
#define ROUTES_OWN 4 /* /healthz, /readyz, /openapi.json, /metrics */
#define ROUTES_MAX (CONTRACT_ROUTES_MAX + ROUTES_OWN)

typedef struct route {
	route_kind kind;
	const char *method;               /* "GET", "POST" */
	const char *path;                 /* "/users/{id}": each {name} binds request field `name` */
	const char *summary;              /* one line, for OpenAPI */
	size_t service;                   /* ROUTE_RPC: index into contract_services */
	const char *rpc_method;           /* short name in the service: "GetUser" */
	bool takes_body;                  /* the JSON body fills the request message (body: "*") */
	int success_status;               /* 200, 201 */
	const char *location;             /* for 201: "/users/{id}", filled from the reply's fields */
	const char *response_field;       /* NULL: the reply is the body; else that field of it (response_body) */
	int statuses[ROUTE_MAX_STATUSES]; /* error statuses the service can cause; 0-terminated */
} route;

/* The table: the contracts' routes in their generated order, then the
 * gateway's own. Built on first use (thread-safe), constant after; count
 * gets its length (at most ROUTES_MAX). */
const route *routes_table(size_t *count);

/* A service's protobuf-c descriptor and its registry name ("order-svc"),
 * used in logs, /readyz and metrics labels. service < contract_services_count. */
const ProtobufCServiceDescriptor *routes_service_descriptor(size_t service);
const char *routes_service_name(size_t service);

#define ROUTE_MAX_PARAMS CONTRACT_PATH_VARIABLES_MAX

/* A path segment binds whatever its length: the field's own rules (the
 * gateway's integer check, the service's validation) judge it, naming the
 * field, rather than a buffer's size turning it into "no route". */
typedef struct route_match {
	const route *route;
	int n_params;
	struct {
		const char *name; /* borrowed from the route table: "{id}" → "id" (without braces) */
		size_t name_len;
		const char *value; /* borrowed from the path matched; not NUL-terminated */
		size_t value_len;  /* >= 1: an empty segment never binds */
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
route_result routes_match(const char *method, const char *path, route_match *m, char *allow, size_t allow_len);

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
