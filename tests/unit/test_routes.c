/* Route matching, the status mapping and request ids. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "http_error.h"
#include "metrics.h"
#include "openapi.h"
#include "request_id.h"
#include "routes.h"

static route_result
match(const char *method, const char *path, route_match *m, char *allow)
{
	return routes_match(method, path, m, allow, 64);
}

/* The i-th parameter m bound is exactly text. */
static void
param_is(const route_match *m, int i, const char *text)
{
	cr_assert_eq(m->params[i].value_len, strlen(text), "'%.*s' is not '%s'", (int) m->params[i].value_len,
	    m->params[i].value, text);
	cr_assert_eq(memcmp(m->params[i].value, text, strlen(text)), 0, "'%.*s' is not '%s'",
	    (int) m->params[i].value_len, m->params[i].value, text);
}

/* A value of any length binds (a buffer of 256 bytes made it "no route"):
 * the field's rules judge it, naming it. */
Test(routes, a_long_segment_binds_whatever_its_length)
{
	char path[4200] = "/users/", want[4100];
	memset(want, '7', 4000);
	want[4000] = '\0';
	strcat(path, want);
	route_match m;
	char allow[64];
	cr_assert_eq(match("GET", path, &m, allow), ROUTE_FOUND);
	param_is(&m, 0, want);
}

Test(routes, paths_bind_their_parameters)
{
	route_match m;
	char allow[64];
	cr_assert_eq(match("GET", "/users/12", &m, allow), ROUTE_FOUND);
	cr_assert_str_eq(m.route->rpc_method, "GetUser");
	cr_assert_eq(m.n_params, 1);
	cr_assert_eq(strncmp(m.params[0].name, "id", m.params[0].name_len), 0);
	param_is(&m, 0, "12");

	cr_assert_eq(match("GET", "/orders/user/5", &m, allow), ROUTE_FOUND);
	cr_assert_str_eq(m.route->rpc_method, "ListOrdersByUser");
	cr_assert_eq(strncmp(m.params[0].name, "user_id", m.params[0].name_len), 0);
	param_is(&m, 0, "5");

	cr_assert_eq(match("POST", "/orders", &m, allow), ROUTE_FOUND);
	cr_assert_str_eq(m.route->rpc_method, "CreateOrder");
	cr_assert_eq(m.n_params, 0);
}

Test(routes, one_trailing_slash_is_tolerated)
{
	route_match m;
	char allow[64];
	cr_assert_eq(match("GET", "/users/12/", &m, allow), ROUTE_FOUND);
	param_is(&m, 0, "12");
	cr_assert_eq(match("POST", "/users/", &m, allow), ROUTE_FOUND);
	cr_assert_eq(match("GET", "/users/12//", &m, allow), ROUTE_NOT_FOUND);
}

Test(routes, an_empty_segment_never_binds)
{
	route_match m;
	char allow[64];
	cr_assert_eq(match("GET", "/users//", &m, allow), ROUTE_NOT_FOUND);
	cr_assert_eq(match("GET", "/orders/user/", &m, allow), ROUTE_FOUND, "that is GET /orders/{id} with id 'user'");
	cr_assert_str_eq(m.route->rpc_method, "GetOrder");
	cr_assert_eq(match("GET", "/orders/user//", &m, allow), ROUTE_NOT_FOUND);
}

Test(routes, unknown_paths_are_not_found)
{
	route_match m;
	char allow[64];
	cr_assert_eq(match("GET", "/", &m, allow), ROUTE_NOT_FOUND);
	cr_assert_eq(match("GET", "/user/1", &m, allow), ROUTE_NOT_FOUND);
	cr_assert_eq(match("GET", "/users/1/orders", &m, allow), ROUTE_NOT_FOUND);
	cr_assert_eq(match("GET", "/usersx", &m, allow), ROUTE_NOT_FOUND);
	cr_assert_eq(match("GET", "", &m, allow), ROUTE_NOT_FOUND);
}

Test(routes, a_known_path_with_another_method_lists_the_allowed_ones)
{
	route_match m;
	char allow[64];
	cr_assert_eq(match("DELETE", "/users/1", &m, allow), ROUTE_METHOD_NOT_ALLOWED);
	cr_assert_str_eq(allow, "GET, HEAD");
	cr_assert_eq(match("GET", "/users", &m, allow), ROUTE_METHOD_NOT_ALLOWED);
	cr_assert_str_eq(allow, "POST");
	cr_assert_eq(match("PUT", "/healthz", &m, allow), ROUTE_METHOD_NOT_ALLOWED);
	cr_assert_str_eq(allow, "GET, HEAD");
}

Test(routes, every_rpc_route_names_a_real_method)
{
	size_t routes_count;
	const route *routes = routes_table(&routes_count);
	for (size_t i = 0; i < routes_count; i++) {
		const route *r = &routes[i];
		if (r->kind != ROUTE_RPC)
			continue;
		const ProtobufCMethodDescriptor *m = protobuf_c_service_descriptor_get_method_by_name(
		    routes_service_descriptor(r->service), r->rpc_method);
		cr_assert_not_null(m, "%s %s → %s", r->method, r->path, r->rpc_method);
		for (const char *p = strchr(r->path, '{'); p != NULL; p = strchr(p + 1, '{')) {
			char name[64];
			snprintf(name, sizeof(name), "%.*s", (int) (strchr(p, '}') - p - 1), p + 1);
			cr_assert_not_null(protobuf_c_message_descriptor_get_field_by_name(m->input, name),
			    "%s binds {%s}, which %s lacks", r->path, name, m->input->name);
		}
	}
}

/* The contracts' annotations carry exactly what the hand-written table of
 * gateway/routes.c carried before them. */
Test(routes, the_contracts_give_the_routes_the_hand_table_had)
{
	const struct {
		const char *method, *path, *service, *rpc_method;
		bool takes_body;
		int status;
		const char *location, *response_field;
		int statuses[3];
	} want[] = {
	    {"POST", "/users", "user-svc", "CreateUser", true, 201, "/users/{id}", NULL, {409}},
	    {"GET", "/users/{id}", "user-svc", "GetUser", false, 200, NULL, NULL, {404}},
	    {"POST", "/orders", "order-svc", "CreateOrder", true, 201, "/orders/{id}", NULL, {404, 409}},
	    {"GET", "/orders/{id}", "order-svc", "GetOrder", false, 200, NULL, NULL, {404}},
	    {"GET", "/orders/user/{user_id}", "order-svc", "ListOrdersByUser", false, 200, NULL, "orders", {0}},
	};
	size_t n;
	const route *routes = routes_table(&n);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const route *r = &routes[i];
		cr_assert_eq(r->kind, ROUTE_RPC);
		cr_assert_str_eq(r->method, want[i].method);
		cr_assert_str_eq(r->path, want[i].path);
		cr_assert_str_eq(routes_service_name(r->service), want[i].service, "%s", r->path);
		cr_assert_str_eq(r->rpc_method, want[i].rpc_method);
		cr_assert_eq(r->takes_body, want[i].takes_body, "%s", r->path);
		cr_assert_eq(r->success_status, want[i].status, "%s", r->path);
		cr_assert_eq(r->location == NULL, want[i].location == NULL, "%s", r->path);
		if (want[i].location != NULL)
			cr_assert_str_eq(r->location, want[i].location);
		cr_assert_eq(r->response_field == NULL, want[i].response_field == NULL, "%s", r->path);
		if (want[i].response_field != NULL)
			cr_assert_str_eq(r->response_field, want[i].response_field);
		for (int k = 0; k < 3; k++)
			cr_assert_eq(r->statuses[k], want[i].statuses[k], "%s status %d", r->path, k);
	}
	/* The gateway's own four close the table: the paths contract-gen keeps
	 * contracts off. */
	const char *own[] = {CONTRACT_GATEWAY_PATHS};
	cr_assert_eq(sizeof(own) / sizeof(own[0]), ROUTES_OWN);
	for (size_t k = 0; k < ROUTES_OWN; k++)
		cr_assert_str_eq(routes[n - ROUTES_OWN + k].path, own[k]);
}

/* A test build's registry adds echo-svc (tests/services.conf) with its
 * annotated contract: the gateway serves, documents and measures its routes
 * with no code of its own for it. */
Test(routes, a_third_service_needs_no_gateway_code)
{
	const contract_service *echo = contract_service_named("echo-svc");
	cr_assert_not_null(echo);
	cr_assert_str_eq(echo->contract, "echo.EchoService");
	cr_assert_str_eq(echo->descriptor->name, "echo.EchoService");
	cr_assert_str_eq(echo->url_variable, "ECHO_SVC_URL");
	cr_assert_eq(contract_services_count, 3);

	route_match m;
	char allow[64];
	cr_assert_eq(match("GET", "/echoes/5", &m, allow), ROUTE_FOUND);
	cr_assert_str_eq(m.route->rpc_method, "GetEcho");
	cr_assert_str_eq(routes_service_name(m.route->service), "echo-svc");
	param_is(&m, 0, "5");
	cr_assert_eq(match("PUT", "/echoes", &m, allow), ROUTE_METHOD_NOT_ALLOWED);
	cr_assert_str_eq(allow, "POST");

	char why[256] = "";
	char *doc     = openapi_document(why, sizeof(why));
	cr_assert_not_null(doc, "%s", why);
	cr_assert_not_null(strstr(doc, "\"/echoes/{id}\""), "%s", doc);
	cr_assert_not_null(strstr(doc, "\"echo.EchoService/CreateEcho\""));
	/* Every route of the contracts is an operation: none lost on the way. */
	for (size_t i = 0; i < contract_routes_count; i++) {
		char id[160];
		snprintf(id, sizeof(id), "\"operationId\": \"%s/%s\"",
		    contract_services[contract_routes[i].service].contract, contract_routes[i].rpc_method);
		cr_expect_not_null(strstr(doc, id), "%s missing from /openapi.json", id);
	}
	free(doc);

	cr_assert_eq(match("GET", "/echoes/5", &m, allow), ROUTE_FOUND);
	metrics_observe_request(m.route, 200, 3);
	Health__HealthReply *health[CONTRACT_SERVICES_MAX] = {0};
	char *text                                         = metrics_render(health, 0, 2);
	cr_assert_not_null(text);
	cr_assert_not_null(
	    strstr(text, "gateway_http_requests_total{route=\"GET /echoes/{id}\",status=\"200\"} 1\n"), "%s", text);
	cr_assert_not_null(strstr(text, "service_up{service=\"echo-svc\"} 0\n"), "%s", text);
	free(text);
}

Test(http_error, rpc_codes_map_to_the_contract_statuses)
{
	const struct {
		rpc_code code;
		int status;
	} table[] = {{RPC_OK, 200}, {RPC_INVALID_ARGUMENT, 400}, {RPC_NOT_FOUND, 404}, {RPC_ALREADY_EXISTS, 409},
	    {RPC_FAILED_PRECONDITION, 400}, {RPC_RESOURCE_EXHAUSTED, 429}, {RPC_UNAVAILABLE, 503},
	    {RPC_DEADLINE_EXCEEDED, 504}, {RPC_INTERNAL, 500}, {RPC_UNIMPLEMENTED, 500}, {RPC_UNKNOWN, 500},
	    {RPC_DATA_LOSS, 500}, {RPC_PERMISSION_DENIED, 500}};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		cr_assert_eq(http_status_from_rpc(table[i].code), table[i].status, "%s", rpc_code_name(table[i].code));
}

Test(request_id, a_valid_client_id_is_kept)
{
	char out[REQUEST_ID_MAX + 1];
	request_id_take_or_make("abc-123_XYZ", out);
	cr_assert_str_eq(out, "abc-123_XYZ");
	char longest[REQUEST_ID_MAX + 1];
	memset(longest, 'a', REQUEST_ID_MAX);
	longest[REQUEST_ID_MAX] = '\0';
	request_id_take_or_make(longest, out);
	cr_assert_str_eq(out, longest);
}

Test(request_id, an_unacceptable_id_is_replaced_by_a_uuid)
{
	char too_long[REQUEST_ID_MAX + 2];
	memset(too_long, 'a', REQUEST_ID_MAX + 1);
	too_long[REQUEST_ID_MAX + 1] = '\0';
	const char *bad[]            = {NULL, "", "has space", "tab\there", "caf\xc3\xa9", too_long};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char out[REQUEST_ID_MAX + 1];
		request_id_take_or_make(bad[i], out);
		cr_assert_eq(strlen(out), 36, "%s", out);
		cr_assert_eq(out[14], '4', "version 4: %s", out);
		cr_assert(bad[i] == NULL || strcmp(out, bad[i]) != 0);
	}
	char a[REQUEST_ID_MAX + 1], b[REQUEST_ID_MAX + 1];
	request_id_take_or_make(NULL, a);
	request_id_take_or_make(NULL, b);
	cr_assert_str_neq(a, b);
}
