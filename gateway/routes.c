/* The route table and the path matcher. */
#include "routes.h"

#include <stdio.h>
#include <string.h>

#include "orders.pb-c.h"
#include "users.pb-c.h"

const route routes[] = {
    {.kind = ROUTE_RPC, .method = "POST", .path = "/users", .summary = "Create a user",
        .service = SERVICE_USERS, .rpc_method = "CreateUser", .takes_body = true, .success_status = 201,
        .location = "/users/{id}", .statuses = {409}},
    {.kind = ROUTE_RPC, .method = "GET", .path = "/users/{id}", .summary = "Get a user by id",
        .service = SERVICE_USERS, .rpc_method = "GetUser", .success_status = 200, .statuses = {404}},
    {.kind = ROUTE_RPC, .method = "POST", .path = "/orders", .summary = "Create an order for an existing user",
        .service = SERVICE_ORDERS, .rpc_method = "CreateOrder", .takes_body = true, .success_status = 201,
        .location = "/orders/{id}", .statuses = {404, 409}},
    {.kind = ROUTE_RPC, .method = "GET", .path = "/orders/{id}", .summary = "Get an order by id",
        .service = SERVICE_ORDERS, .rpc_method = "GetOrder", .success_status = 200, .statuses = {404}},
    {.kind = ROUTE_RPC, .method = "GET", .path = "/orders/user/{user_id}",
        .summary = "List a user's orders, oldest first", .service = SERVICE_ORDERS,
        .rpc_method = "ListOrdersByUser", .success_status = 200, .response_field = "orders"},
    {.kind = ROUTE_HEALTHZ, .method = "GET", .path = "/healthz", .summary = "The gateway process is up",
        .success_status = 200},
    {.kind = ROUTE_READYZ, .method = "GET", .path = "/readyz",
        .summary = "Every service answers and reaches its dependencies", .success_status = 200},
    {.kind = ROUTE_OPENAPI, .method = "GET", .path = "/openapi.json", .summary = "This API's OpenAPI document",
        .success_status = 200},
    {.kind = ROUTE_METRICS, .method = "GET", .path = "/metrics",
        .summary = "Metrics in Prometheus text format: the gateway's and each service's", .success_status = 200},
};
const size_t routes_count = sizeof(routes) / sizeof(routes[0]);

const ProtobufCServiceDescriptor *
routes_service_descriptor(route_service s)
{
	return s == SERVICE_USERS ? &users__user_service__descriptor : &orders__order_service__descriptor;
}

const char *
routes_service_name(route_service s)
{
	return s == SERVICE_USERS ? "user-svc" : "order-svc";
}

/* Matches one template against a path, filling m's parameters. */
static bool
match_template(const char *tmpl, const char *path, size_t path_len, route_match *m)
{
	const char *t = tmpl, *p = path, *end = path + path_len;
	m->n_params   = 0;
	while (*t != '\0') {
		if (*t == '{') {
			const char *close = strchr(t, '}');
			const char *seg   = p;
			while (p < end && *p != '/')
				p++;
			size_t len = (size_t) (p - seg);
			if (len == 0 || len >= ROUTE_PARAM_MAX || m->n_params == ROUTE_MAX_PARAMS)
				return false; /* an empty segment never binds */
			m->params[m->n_params].name     = t + 1;
			m->params[m->n_params].name_len = (size_t) (close - t - 1);
			memcpy(m->params[m->n_params].value, seg, len);
			m->params[m->n_params].value[len] = '\0';
			m->n_params++;
			t = close + 1;
		} else {
			if (p >= end || *p != *t)
				return false;
			p++;
			t++;
		}
	}
	return p == end;
}

route_result
routes_match(const char *method, const char *path, route_match *m, char *allow, size_t allow_len)
{
	size_t len = strlen(path);
	if (len > 1 && path[len - 1] == '/')
		len--; /* one trailing slash is tolerated */
	if (allow_len > 0)
		allow[0] = '\0';
	bool path_known = false;
	for (size_t i = 0; i < routes_count; i++) {
		route_match candidate;
		if (!match_template(routes[i].path, path, len, &candidate))
			continue;
		if (method == NULL || strcmp(routes[i].method, method) == 0) {
			*m       = candidate;
			m->route = &routes[i];
			return ROUTE_FOUND;
		}
		/* Collect the methods this path allows, each once. */
		if (strstr(allow, routes[i].method) == NULL) {
			size_t used = strlen(allow);
			snprintf(allow + used, allow_len - used, "%s%s", used ? ", " : "", routes[i].method);
		}
		path_known = true;
	}
	return path_known ? ROUTE_METHOD_NOT_ALLOWED : ROUTE_NOT_FOUND;
}
