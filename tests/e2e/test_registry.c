/* The registry and the contracts drive the running system: every registry
 * service (echo-svc too in a test build, with no gateway, rpc-call or test
 * code of its own) is in /readyz, in /metrics' service_up, in rpc-call's
 * list, and every route its contract declares is in /openapi.json and is
 * routed to it (a 405 names the methods a path allows). Written as loops over
 * lib/contract's tables, so each new service is covered as it is declared. */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract/tables.h"
#include "stack.h"

Test(registry, a_test_build_declares_a_third_service)
{
	cr_assert_not_null(contract_service_named("echo-svc"), "tests/services.conf's echo-svc");
	size_t echo_routes = 0;
	for (size_t i = 0; i < contract_routes_count; i++)
		echo_routes += strcmp(contract_services[contract_routes[i].service].name, "echo-svc") == 0;
	cr_assert_eq(echo_routes, 2, "echo.proto's two annotated methods");
}

Test(registry, readyz_asks_every_service)
{
	cr_assert_eq(stack_wait_ready(20000), 0, "the stack is ready");
	http_response r;
	cr_assert_eq(stack_http("GET", "/readyz", NULL, NULL, &r), 200, "%s", r.body);
	json_t *services = json_object_get(r.json, "services");
	cr_assert_eq(json_object_size(services), contract_services_count, "%s", r.body);
	for (size_t s = 0; s < contract_services_count; s++) {
		json_t *entry = json_object_get(services, contract_services[s].name);
		cr_assert_not_null(entry, "%s missing from %s", contract_services[s].name, r.body);
		cr_assert(json_is_true(json_object_get(entry, "ok")), "%s: %s", contract_services[s].name, r.body);
	}
	http_response_free(&r);
}

Test(registry, metrics_report_every_service_up)
{
	cr_assert_eq(stack_wait_ready(20000), 0, "the stack is ready");
	http_response r;
	cr_assert_eq(stack_http("GET", "/metrics", NULL, NULL, &r), 200);
	for (size_t s = 0; s < contract_services_count; s++) {
		char line[128];
		snprintf(line, sizeof(line), "\nservice_up{service=\"%s\"} 1\n", contract_services[s].name);
		cr_assert_not_null(strstr(r.body, line), "%s missing from\n%s", line + 1, r.body);
	}
	http_response_free(&r);
}

/* A method no route of this template takes. */
static const char *
other_method(const char *path)
{
	static const char *const methods[] = {"DELETE", "PUT", "PATCH", "POST"};
	for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
		bool taken = false;
		for (size_t i = 0; i < contract_routes_count; i++)
			taken = taken || (strcmp(contract_routes[i].path, path) == 0 &&
			                     strcmp(contract_routes[i].method, methods[m]) == 0);
		if (!taken)
			return methods[m];
	}
	return NULL;
}

/* Each route in /openapi.json under its template, and a request to the
 * template's path with another method answered 405 with that route's
 * method in Allow: the gateway routes it. */
Test(registry, every_contract_route_is_documented_and_routed)
{
	http_response doc;
	cr_assert_eq(stack_http("GET", "/openapi.json", NULL, NULL, &doc), 200);
	json_t *paths = json_object_get(doc.json, "paths");
	for (size_t i = 0; i < contract_routes_count; i++) {
		const contract_route *c = &contract_routes[i];
		char method[8]          = "";
		for (size_t k = 0; c->method[k] != '\0' && k + 1 < sizeof(method); k++)
			method[k] = (char) (c->method[k] - 'A' + 'a');
		json_t *op = json_object_get(json_object_get(paths, c->path), method);
		cr_assert_not_null(op, "%s %s missing from /openapi.json", c->method, c->path);
		char op_id[160];
		snprintf(op_id, sizeof(op_id), "%s/%s", contract_services[c->service].contract, c->rpc_method);
		cr_assert_str_eq(json_string_value(json_object_get(op, "operationId")), op_id);

		char path[160];
		size_t j = 0;
		for (const char *p = c->path; *p != '\0' && j + 2 < sizeof(path);) {
			if (*p == '{') {
				path[j++] = '1'; /* every path variable of these contracts is an id */
				p         = strchr(p, '}') + 1;
			} else {
				path[j++] = *p++;
			}
		}
		path[j]           = '\0';
		const char *other = other_method(c->path);
		cr_assert_not_null(other, "%s takes every method", c->path);
		http_response r;
		cr_assert_eq(stack_http(other, path, NULL, NULL, &r), 405, "%s %s: %s", other, path, r.body);
		char allow[64];
		cr_assert_not_null(http_header(&r, "Allow", allow, sizeof(allow)));
		cr_assert_not_null(strstr(allow, c->method), "%s %s: Allow: %s", other, path, allow);
		http_response_free(&r);
	}
	http_response_free(&doc);
}

Test(registry, rpc_call_lists_every_service)
{
	char cmd[512], out[16384];
	snprintf(cmd, sizeof(cmd), "'%s' list", RPC_CALL_BIN);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	out[n]   = '\0';
	cr_assert_eq(pclose(p), 0);
	for (size_t s = 0; s < contract_services_count; s++) {
		char line[160];
		snprintf(line, sizeof(line), "%s\n", contract_services[s].contract);
		cr_assert_not_null(strstr(out, line), "%s missing from\n%s", contract_services[s].contract, out);
		snprintf(line, sizeof(line), "  %s/Health(", contract_services[s].contract);
		cr_assert_not_null(strstr(out, line), "%s missing from\n%s", line, out);
	}
}

/* echo-svc served through the gateway with no code of the gateway's for it:
 * its annotated create answers 201 with the Location its rest.route names,
 * that location reads the stored text back, and a missing id is a 404. */
Test(registry, a_declared_service_is_served_end_to_end)
{
	static const char *const json_headers[] = {"Content-Type: application/json", NULL};
	cr_assert_eq(stack_wait_ready(20000), 0, "the stack is ready");
	http_response r;
	cr_assert_eq(
	    stack_http("POST", "/echoes", json_headers, "{\"text\":\" hello, echo \"}", &r), 201, "%s", r.body);
	json_int_t id = json_integer_value(json_object_get(r.json, "id"));
	cr_assert_gt(id, 0, "%s", r.body);
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "text")), "hello, echo", "%s", r.body);
	char location[64], want[64];
	cr_assert_not_null(http_header(&r, "Location", location, sizeof(location)));
	snprintf(want, sizeof(want), "/echoes/%" JSON_INTEGER_FORMAT, id);
	cr_assert_str_eq(location, want);
	http_response_free(&r);

	cr_assert_eq(stack_http("GET", location, NULL, NULL, &r), 200, "%s", r.body);
	cr_assert_eq(json_integer_value(json_object_get(r.json, "id")), id, "%s", r.body);
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "text")), "hello, echo", "%s", r.body);
	http_response_free(&r);

	cr_assert_eq(stack_http("GET", "/echoes/999999999", NULL, NULL, &r), 404, "%s", r.body);
	http_response_free(&r);
	cr_assert_eq(stack_http("POST", "/echoes", json_headers, "{\"text\":\"\"}", &r), 400, "%s", r.body);
	cr_assert_not_null(strstr(r.body, "text"), "the message names the field: %s", r.body);
	http_response_free(&r);
}
