/* Route matching, the status mapping and request ids. */
#include <criterion/criterion.h>
#include <string.h>

#include "http_error.h"
#include "request_id.h"
#include "routes.h"

static route_result
match(const char *method, const char *path, route_match *m, char *allow)
{
	return routes_match(method, path, m, allow, 64);
}

Test(routes, paths_bind_their_parameters)
{
	route_match m;
	char allow[64];
	cr_assert_eq(match("GET", "/users/12", &m, allow), ROUTE_FOUND);
	cr_assert_str_eq(m.route->rpc_method, "GetUser");
	cr_assert_eq(m.n_params, 1);
	cr_assert_eq(strncmp(m.params[0].name, "id", m.params[0].name_len), 0);
	cr_assert_str_eq(m.params[0].value, "12");

	cr_assert_eq(match("GET", "/orders/user/5", &m, allow), ROUTE_FOUND);
	cr_assert_str_eq(m.route->rpc_method, "ListOrdersByUser");
	cr_assert_eq(strncmp(m.params[0].name, "user_id", m.params[0].name_len), 0);
	cr_assert_str_eq(m.params[0].value, "5");

	cr_assert_eq(match("POST", "/orders", &m, allow), ROUTE_FOUND);
	cr_assert_str_eq(m.route->rpc_method, "CreateOrder");
	cr_assert_eq(m.n_params, 0);
}

Test(routes, one_trailing_slash_is_tolerated)
{
	route_match m;
	char allow[64];
	cr_assert_eq(match("GET", "/users/12/", &m, allow), ROUTE_FOUND);
	cr_assert_str_eq(m.params[0].value, "12");
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
		const ProtobufCMethodDescriptor *m =
		    protobuf_c_service_descriptor_get_method_by_name(routes_service_descriptor(r->service), r->rpc_method);
		cr_assert_not_null(m, "%s %s → %s", r->method, r->path, r->rpc_method);
		for (const char *p = strchr(r->path, '{'); p != NULL; p = strchr(p + 1, '{')) {
			char name[64];
			snprintf(name, sizeof(name), "%.*s", (int) (strchr(p, '}') - p - 1), p + 1);
			cr_assert_not_null(protobuf_c_message_descriptor_get_field_by_name(m->input, name),
			    "%s binds {%s}, which %s lacks", r->path, name, m->input->name);
		}
	}
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
