/* The gateway binary over real HTTP, in front of stand-in services on real
 * nng (tests/support/fake_services.c says which id does what). A second
 * gateway has no service behind it. Both are started once for the whole
 * suite: CivetWeb takes ~2 s to stop. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http_client.h"
#include "procs.h"
#include "service_urls.h"
#include "test_tls.h"

static pid_t services_pid, gateway_pid, lonely_gateway_pid, crowded_gateway_pid;
static char lonely_env[48];

ReportHook(PRE_ALL)(struct criterion_test_set *tests)
{
	(void) tests;
	static char user_url[96], order_url[96], nobody_users[96], nobody_orders[96], port_env[32];
	static char gw_user[128], gw_order[128], lonely_user[128], lonely_order[128];
	int pid = (int) getpid();
	static char crowded_env[32];
	int port = procs_free_port(), lonely = procs_free_port(), lonely2 = procs_free_port();
	int crowded = procs_free_port();
	/* Every service's stand-in, over TLS when the run has a PKI (test_tls.h). */
	service_urls_set_all("gw-e2e");
	snprintf(user_url, sizeof(user_url), "USER_SVC_URL=%s", getenv("USER_SVC_URL"));
	snprintf(order_url, sizeof(order_url), "ORDER_SVC_URL=%s", getenv("ORDER_SVC_URL"));
	service_urls_nobody(nobody_users, sizeof(nobody_users), "gw-e2e", "users");
	service_urls_nobody(nobody_orders, sizeof(nobody_orders), "gw-e2e", "orders");
	(void) pid;
	snprintf(port_env, sizeof(port_env), "GATEWAY_PORTS=%d", port);
	snprintf(lonely_env, sizeof(lonely_env), "GATEWAY_PORTS=%d,%d", lonely, lonely2);
	snprintf(crowded_env, sizeof(crowded_env), "GATEWAY_PORTS=%d", crowded);
	snprintf(gw_user, sizeof(gw_user), "%s", user_url);
	snprintf(gw_order, sizeof(gw_order), "%s", order_url);
	snprintf(lonely_user, sizeof(lonely_user), "USER_SVC_URL=%s", nobody_users);
	snprintf(lonely_order, sizeof(lonely_order), "ORDER_SVC_URL=%s", nobody_orders);

	static char tls[4][320];
	size_t n_tls                  = test_tls_role_env("gateway", 0, tls);
	const char *services_env[]    = {user_url, order_url, NULL};
	const char *gateway_env[]     = {port_env, gw_user, gw_order, "GATEWAY_BIND=127.0.0.1", "RPC_TIMEOUT_MS=1500",
	        "MAX_BODY_BYTES=1024", "CORS_ORIGINS=http://allowed.example,http://also.example", "LOG_LEVEL=warn",
            n_tls ? tls[0] : NULL, tls[1], tls[2], NULL};
	const char *lonely_env_list[] = {lonely_env, lonely_user, lonely_order, "GATEWAY_BIND=127.0.0.1",
	    "LOG_LEVEL=error", n_tls ? tls[0] : NULL, tls[1], tls[2], NULL};
	/* The fewest workers there may be, for the test of more clients than workers. */
	const char *crowded_env_list[] = {crowded_env, gw_user, gw_order, "GATEWAY_BIND=127.0.0.1", "WORKERS=2",
	    "LOG_LEVEL=warn", n_tls ? tls[0] : NULL, tls[1], tls[2], NULL};
	services_pid                   = procs_start(FAKE_SERVICES_BIN, services_env, NULL);
	gateway_pid                    = procs_start(GATEWAY_BIN, gateway_env, NULL);
	lonely_gateway_pid             = procs_start(GATEWAY_BIN, lonely_env_list, NULL);
	crowded_gateway_pid            = procs_start(GATEWAY_BIN, crowded_env_list, NULL);

	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	setenv("GW", url, 1);
	char healthz[96];
	snprintf(healthz, sizeof(healthz), "%s/healthz", url);
	if (procs_wait_http(healthz, 10000) != 0)
		fprintf(stderr, "e2e_gateway: the gateway did not answer %s\n", healthz);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", lonely);
	setenv("LONELY_GW", url, 1);
	snprintf(healthz, sizeof(healthz), "%s/healthz", url);
	if (procs_wait_http(healthz, 10000) != 0)
		fprintf(stderr, "e2e_gateway: the lonely gateway did not answer %s\n", healthz);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", lonely2);
	setenv("LONELY_GW_2", url, 1);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", crowded);
	setenv("CROWDED_GW", url, 1);
	snprintf(healthz, sizeof(healthz), "%s/healthz", url);
	if (procs_wait_http(healthz, 10000) != 0)
		fprintf(stderr, "e2e_gateway: the crowded gateway did not answer %s\n", healthz);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	(void) stats;
	/* Each must exit 0 soon after SIGTERM: a clean shutdown, and under
	 * the sanitizers no leak report. Otherwise the suite fails. */
	const struct {
		const char *name;
		pid_t pid;
	} children[] = {{"gateway", gateway_pid}, {"lonely gateway", lonely_gateway_pid},
	    {"crowded gateway", crowded_gateway_pid}, {"fake-services", services_pid}};
	int failed   = 0;
	for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++) {
		int status = procs_stop(children[i].pid, 10000);
		if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "e2e_gateway: %s did not exit cleanly after SIGTERM (wait status %d)\n",
			    children[i].name, status);
			failed = 1;
		}
	}
	if (failed)
		exit(1);
}

/* A request to the gateway (or the lonely one). */
static long
req_at(const char *base_env, const char *method, const char *path, const char *const *headers, const char *body,
    http_response *r)
{
	const char *base = getenv(base_env);
	cr_assert_not_null(base, "the suite's gateway did not start");
	char url[512];
	snprintf(url, sizeof(url), "%s%s", base, path);
	return http_request(method, url, headers, body, r);
}

static long
req(const char *method, const char *path, const char *const *headers, const char *body, http_response *r)
{
	return req_at("GW", method, path, headers, body, r);
}

static const char *const json_headers[] = {"Content-Type: application/json", NULL};

/* Checks the error envelope and returns its message member. */
static json_t *
assert_error(const http_response *r, long status, const char *code)
{
	cr_assert_eq(r->status, status, "status %ld, body %s", r->status, r->body);
	cr_assert_not_null(r->json, "error body is JSON: %s", r->body);
	cr_assert_eq(json_integer_value(json_object_get(r->json, "statusCode")), status);
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "code")), code, "%s", r->body);
	cr_assert(json_is_string(json_object_get(r->json, "error")));
	char rid[160], type[64];
	cr_assert_not_null(http_header(r, "X-Request-Id", rid, sizeof(rid)));
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "requestId")), rid);
	cr_assert_not_null(http_header(r, "Content-Type", type, sizeof(type)));
	cr_assert_str_eq(type, "application/json");
	return json_object_get(r->json, "message");
}

static void
assert_messages(json_t *message, size_t n, const char *const *texts)
{
	cr_assert(json_is_array(message), "message is a list");
	cr_assert_eq(json_array_size(message), n, "%zu messages", json_array_size(message));
	for (size_t i = 0; i < n; i++)
		cr_assert_str_eq(json_string_value(json_array_get(message, i)), texts[i]);
}

Test(gateway, post_users_creates_with_201_location_and_the_user)
{
	http_response r;
	req("POST", "/users", json_headers, "{\"name\":\"Ada\",\"email\":\"ada@example.com\"}", &r);
	cr_assert_eq(r.status, 201, "%s", r.body);
	char location[64];
	cr_assert_str_eq(http_header(&r, "Location", location, sizeof(location)), "/users/42");
	cr_assert_str_eq(r.body,
	    "{\"id\":42,\"name\":\"Ada\",\"email\":\"ada@example.com\",\"createdAt\":\"2026-11-25T10:15:00.123Z\"}");
	http_response_free(&r);
}

Test(gateway, get_user_returns_200_and_one_trailing_slash_is_the_same)
{
	http_response a, b;
	req("GET", "/users/1", NULL, NULL, &a);
	req("GET", "/users/1/", NULL, NULL, &b);
	cr_assert_eq(a.status, 200);
	cr_assert_str_eq(a.body, "{\"id\":1,\"name\":\"Ada Lovelace\",\"email\":\"ada@example.com\","
	                         "\"createdAt\":\"2026-11-25T10:15:00.123Z\"}");
	cr_assert_eq(b.status, 200);
	cr_assert_str_eq(a.body, b.body);
	http_response_free(&a);
	http_response_free(&b);
}

Test(gateway, service_validation_errors_list_every_violation)
{
	http_response r;
	req("POST", "/users", json_headers, "{\"name\":\"\",\"email\":\"\"}", &r);
	assert_messages(assert_error(&r, 400, "INVALID_ARGUMENT"), 2,
	    (const char *const[]){"name must not be empty", "email must be a valid email address"});
	http_response_free(&r);
}

Test(gateway, transcoding_errors_list_every_problem_by_field)
{
	http_response r;
	req("POST", "/users", json_headers, "{\"name\":5,\"bogus\":true,\"email\":[]}", &r);
	assert_messages(assert_error(&r, 400, "INVALID_ARGUMENT"), 3,
	    (const char *const[]){"name must be a string, not a number", "bogus is not a known field",
	        "email must be a string, not an array"});
	http_response_free(&r);
}

Test(gateway, malformed_json_and_non_objects_are_400)
{
	http_response r;
	req("POST", "/users", json_headers, "{\"name\": ", &r);
	assert_messages(assert_error(&r, 400, "INVALID_ARGUMENT"), 1,
	    (const char *const[]){"body is not valid JSON (line 1, column 9)"});
	http_response_free(&r);
	req("POST", "/users", json_headers, "[1]", &r);
	assert_messages(assert_error(&r, 400, "INVALID_ARGUMENT"), 1,
	    (const char *const[]){"body must be a JSON object, not an array"});
	http_response_free(&r);
	req("POST", "/users", json_headers, "", &r);
	assert_error(&r, 400, "INVALID_ARGUMENT");
	http_response_free(&r);
}

Test(gateway, a_path_id_that_is_not_an_integer_is_400_naming_it)
{
	http_response r;
	req("GET", "/users/abc", NULL, NULL, &r);
	assert_messages(assert_error(&r, 400, "INVALID_ARGUMENT"), 1, (const char *const[]){"id must be an integer"});
	http_response_free(&r);
	req("GET", "/orders/user/x1", NULL, NULL, &r);
	assert_messages(
	    assert_error(&r, 400, "INVALID_ARGUMENT"), 1, (const char *const[]){"user_id must be an integer"});
	http_response_free(&r);
}

/* A value's length is the field's business, not a buffer's: 256 bytes and
 * more answered 404 "no route" before. Long digits are out of int64's range
 * and long letters are not digits: 400, naming the field. */
Test(gateway, a_long_path_value_is_judged_by_its_field_not_404)
{
	static const size_t lengths[] = {255, 256, 300, 2000};
	for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		for (int digits = 0; digits < 2; digits++) {
			char path[2100] = "/orders/user/";
			size_t at       = strlen(path);
			memset(path + at, digits ? '9' : 'x', lengths[i]);
			path[at + lengths[i]] = '\0';
			http_response r;
			req("GET", path, NULL, NULL, &r);
			json_t *msg     = assert_error(&r, 400, "INVALID_ARGUMENT");
			const char *one = json_string_value(json_array_get(msg, 0));
			cr_assert(json_array_size(msg) == 1 && one != NULL && strncmp(one, "user_id ", 8) == 0,
			    "%zu %s: %s", lengths[i], digits ? "digits" : "letters", r.body);
			http_response_free(&r);
		}
	}
}

Test(gateway, unknown_paths_are_404_in_the_error_envelope)
{
	http_response r;
	req("GET", "/nothing/here", NULL, NULL, &r);
	cr_assert_str_eq(json_string_value(assert_error(&r, 404, "NOT_FOUND")), "no route for GET /nothing/here");
	http_response_free(&r);
	/* An empty segment never binds {id}: "//" is refused, naming it. */
	req("GET", "/users//", NULL, NULL, &r);
	cr_assert(strstr(json_string_value(assert_error(&r, 400, "INVALID_ARGUMENT")), "empty segment") != NULL);
	http_response_free(&r);
}

Test(gateway, not_found_from_the_service_is_404_with_its_message)
{
	http_response r;
	req("GET", "/users/99", NULL, NULL, &r);
	cr_assert_str_eq(json_string_value(assert_error(&r, 404, "NOT_FOUND")), "user 99 not found");
	http_response_free(&r);
}

Test(gateway, a_known_path_with_the_wrong_method_is_405_with_allow)
{
	http_response r;
	char allow[64];
	req("DELETE", "/users/1", NULL, NULL, &r);
	assert_error(&r, 405, "UNIMPLEMENTED");
	cr_assert_str_eq(http_header(&r, "Allow", allow, sizeof(allow)), "GET, HEAD");
	http_response_free(&r);
	req("GET", "/orders", NULL, NULL, &r);
	assert_error(&r, 405, "UNIMPLEMENTED");
	cr_assert_str_eq(http_header(&r, "Allow", allow, sizeof(allow)), "POST");
	http_response_free(&r);
}

Test(gateway, unknown_query_parameters_are_400_naming_them)
{
	http_response r;
	req("GET", "/users/1?verbose=1&x", NULL, NULL, &r);
	assert_messages(assert_error(&r, 400, "INVALID_ARGUMENT"), 2,
	    (const char *const[]){"unknown query parameter 'verbose'", "unknown query parameter 'x'"});
	http_response_free(&r);
}

Test(gateway, duplicate_email_is_409)
{
	http_response r;
	req("POST", "/users", json_headers, "{\"name\":\"T\",\"email\":\"taken@example.com\"}", &r);
	cr_assert_str_eq(json_string_value(assert_error(&r, 409, "ALREADY_EXISTS")),
	    "email taken@example.com is already registered");
	http_response_free(&r);
}

Test(gateway, a_body_that_is_not_json_is_415)
{
	http_response r;
	req("POST", "/users", (const char *const[]){"Content-Type: text/plain", NULL}, "{}", &r);
	assert_error(&r, 415, "INVALID_ARGUMENT");
	http_response_free(&r);
	req("POST", "/users", NULL, "name=x", &r); /* curl's default form type */
	assert_error(&r, 415, "INVALID_ARGUMENT");
	http_response_free(&r);
	req("POST", "/users", (const char *const[]){"Content-Type: application/json; charset=utf-8", NULL},
	    "{\"name\":\"A\",\"email\":\"a@b.co\"}", &r);
	cr_assert_eq(r.status, 201, "a charset parameter is fine");
	http_response_free(&r);
}

Test(gateway, an_oversized_body_is_413_whole_or_chunked)
{
	char big[2048];
	memset(big, ' ', sizeof(big) - 3);
	big[0]               = '{';
	big[sizeof(big) - 3] = '}';
	big[sizeof(big) - 2] = '\0';
	http_response r;
	req("POST", "/users", json_headers, big, &r);
	assert_error(&r, 413, "RESOURCE_EXHAUSTED");
	http_response_free(&r);
	req("POST", "/users",
	    (const char *const[]){"Content-Type: application/json", "Transfer-Encoding: chunked", NULL}, big, &r);
	assert_error(&r, 413, "RESOURCE_EXHAUSTED");
	http_response_free(&r);
}

Test(gateway, an_oversized_body_is_refused_before_it_is_sent, .timeout = 15)
{
	/* Announce 100 MB and send none of it: only an answer given before
	 * reading the body can arrive. */
	int fd                 = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	sin.sin_port           = htons((uint16_t) atoi(strrchr(getenv("GW"), ':') + 1));
	cr_assert_eq(connect(fd, (struct sockaddr *) &sin, sizeof(sin)), 0);
	const char head[] = "POST /users HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
	                    "Content-Length: 104857600\r\n\r\n";
	cr_assert_eq(write(fd, head, sizeof(head) - 1), (ssize_t) sizeof(head) - 1);
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	char buf[2048] = "";
	size_t n       = 0;
	while (n < sizeof(buf) - 1 && strstr(buf, "\r\n\r\n") == NULL) {
		ssize_t got = read(fd, buf + n, sizeof(buf) - 1 - n);
		cr_assert(got > 0, "an answer came without the body being sent");
		n += (size_t) got;
		buf[n] = '\0';
	}
	cr_assert_eq(strncmp(buf, "HTTP/1.1 413", 12), 0, "%s", buf);
	cr_assert_not_null(strstr(buf, "Connection: close"), "%s", buf);
	close(fd);
}

Test(gateway, internal_errors_are_500_without_internal_text)
{
	http_response r;
	req("GET", "/users/500", NULL, NULL, &r);
	cr_assert_str_eq(json_string_value(assert_error(&r, 500, "INTERNAL")), "internal error");
	cr_assert_null(strstr(r.body, "SECRET"));
	http_response_free(&r);
	/* A 503 the service itself replied with keeps the service's words
	 * (services write their messages for clients; only 500s are hidden). */
	req("GET", "/users/503", NULL, NULL, &r);
	cr_assert_str_eq(json_string_value(assert_error(&r, 503, "UNAVAILABLE")), "the user database is unavailable");
	http_response_free(&r);
}

Test(gateway, an_unreachable_service_is_503_quickly, .timeout = 15)
{
	http_response r;
	req_at("LONELY_GW", "GET", "/users/1", NULL, NULL, &r);
	cr_assert_str_eq(json_string_value(assert_error(&r, 503, "UNAVAILABLE")), "user-svc is unavailable");
	cr_assert(r.seconds < 1.5, "took %.2f s", r.seconds);
	http_response_free(&r);
	req_at("LONELY_GW", "POST", "/orders", json_headers, "{\"userId\":1,\"product\":\"p\",\"price\":1}", &r);
	assert_error(&r, 503, "UNAVAILABLE");
	http_response_free(&r);
}

Test(gateway, every_route_is_served_on_every_configured_port)
{
	http_response a, b;
	req_at("LONELY_GW", "GET", "/users/1", NULL, NULL, &a);
	req_at("LONELY_GW_2", "GET", "/users/1", NULL, NULL, &b);
	assert_error(&a, 503, "UNAVAILABLE");
	assert_error(&b, 503, "UNAVAILABLE");
	http_response_free(&a);
	http_response_free(&b);
}

Test(gateway, a_slow_service_is_504_at_the_deadline, .timeout = 15)
{
	http_response r;
	req("GET", "/users/5000", NULL, NULL, &r);
	cr_assert_str_eq(
	    json_string_value(assert_error(&r, 504, "DEADLINE_EXCEEDED")), "user-svc did not answer within 1500 ms");
	cr_assert(r.seconds >= 1.45 && r.seconds < 2.5, "took %.2f s for a 1500 ms deadline", r.seconds);
	http_response_free(&r);
}

Test(gateway, x_request_timeout_shortens_the_deadline_but_never_lengthens_it, .timeout = 15)
{
	http_response r;
	req("GET", "/users/5000", (const char *const[]){"X-Request-Timeout: 300", NULL}, NULL, &r);
	assert_error(&r, 504, "DEADLINE_EXCEEDED");
	cr_assert(r.seconds >= 0.28 && r.seconds < 1.0, "took %.2f s for a 300 ms deadline", r.seconds);
	http_response_free(&r);

	req("GET", "/users/77", (const char *const[]){"X-Request-Timeout: 800", NULL}, NULL, &r);
	cr_assert_eq(r.status, 200);
	json_int_t left = json_integer_value(json_object_get(r.json, "id"));
	cr_assert(left > 0 && left <= 800, "the service saw %lld ms left", (long long) left);
	http_response_free(&r);

	req("GET", "/users/77", (const char *const[]){"X-Request-Timeout: 999999", NULL}, NULL, &r);
	left = json_integer_value(json_object_get(r.json, "id"));
	cr_assert(left > 0 && left <= 1500, "capped at RPC_TIMEOUT_MS: %lld", (long long) left);
	http_response_free(&r);

	req("GET", "/users/1", (const char *const[]){"X-Request-Timeout: soon", NULL}, NULL, &r);
	assert_messages(assert_error(&r, 400, "INVALID_ARGUMENT"), 1,
	    (const char *const[]){"X-Request-Timeout must be a positive number of milliseconds"});
	http_response_free(&r);
}

Test(gateway, the_request_id_and_idempotency_key_reach_the_service_and_come_back)
{
	http_response r;
	char rid[160];
	req("GET", "/users/77", (const char *const[]){"X-Request-Id: trace-abc-123", "Idempotency-Key: key-9", NULL},
	    NULL, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(http_header(&r, "X-Request-Id", rid, sizeof(rid)), "trace-abc-123");
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "name")), "trace-abc-123");
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "email")), "key-9");
	http_response_free(&r);

	req("GET", "/users/77", (const char *const[]){"X-Request-Id: not valid", NULL}, NULL, &r);
	http_header(&r, "X-Request-Id", rid, sizeof(rid));
	cr_assert_eq(strlen(rid), 36, "a new id replaces an invalid one: %s", rid);
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "name")), rid);
	http_response_free(&r);
}

Test(gateway, orders_keep_exact_prices_and_lists_are_arrays)
{
	http_response r;
	char location[64];
	req("POST", "/orders", json_headers, "{\"userId\":1,\"product\":\"Laptop\",\"price\":15000000}", &r);
	cr_assert_eq(r.status, 201, "%s", r.body);
	cr_assert_str_eq(http_header(&r, "Location", location, sizeof(location)), "/orders/7");
	cr_assert_str_eq(r.body,
	    "{\"id\":7,\"userId\":1,\"product\":\"Laptop\",\"price\":15000000,\"status\":\"pending\","
	    "\"createdAt\":\"2026-11-25T10:15:00.123Z\"}");
	http_response_free(&r);
	req("POST", "/orders", json_headers,
	    "{\"user_id\":1,\"product\":\"Mouse\",\"price\":19.99,\"status\":\"paid\"}", &r);
	cr_assert_eq(r.status, 201, "%s", r.body);
	cr_assert_not_null(strstr(r.body, "\"price\":19.99,\"status\":\"paid\""), "%s", r.body);
	http_response_free(&r);

	req("GET", "/orders/user/1", NULL, NULL, &r);
	cr_assert_eq(r.status, 200);
	cr_assert(json_is_array(r.json), "%s", r.body);
	cr_assert_eq(json_array_size(r.json), 2);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(r.json, 1), "product")), "Mouse");
	http_response_free(&r);
	req("GET", "/orders/user/2", NULL, NULL, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "[]");
	http_response_free(&r);
}

Test(gateway, healthz_and_readyz_report_the_services)
{
	http_response r;
	req("GET", "/healthz", NULL, NULL, &r);
	cr_assert_eq(r.status, 200);
	http_response_free(&r);

	req("GET", "/users/900", NULL, NULL, &r); /* order-svc healthy */
	http_response_free(&r);
	req("GET", "/readyz", NULL, NULL, &r);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "status")), "ready");
	http_response_free(&r);

	req("GET", "/users/901", NULL, NULL, &r); /* order-svc reports postgres down */
	http_response_free(&r);
	req("GET", "/readyz", NULL, NULL, &r);
	cr_assert_eq(r.status, 503, "%s", r.body);
	json_t *orders = json_object_get(json_object_get(r.json, "services"), "order-svc");
	cr_assert(json_is_false(json_object_get(orders, "ok")), "%s", r.body);
	json_t *dep = json_array_get(json_object_get(orders, "dependencies"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(dep, "detail")), "connection refused");
	http_response_free(&r);
	req("GET", "/users/900", NULL, NULL, &r);
	http_response_free(&r);

	req_at("LONELY_GW", "GET", "/readyz", NULL, NULL, &r);
	cr_assert_eq(r.status, 503);
	cr_assert_str_eq(json_string_value(json_object_get(
	                     json_object_get(json_object_get(r.json, "services"), "user-svc"), "error")),
	    "UNAVAILABLE");
	http_response_free(&r);
}

Test(gateway, openapi_lists_every_route_with_its_statuses)
{
	http_response r;
	req("GET", "/openapi.json", NULL, NULL, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_not_null(r.json, "valid JSON");
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "openapi")), "3.1.0");
	json_t *paths             = json_object_get(r.json, "paths");
	const char *expected[][2] = {{"/users", "post"}, {"/users/{id}", "get"}, {"/orders", "post"},
	    {"/orders/{id}", "get"}, {"/orders/user/{user_id}", "get"}, {"/healthz", "get"}, {"/readyz", "get"},
	    {"/openapi.json", "get"}, {"/metrics", "get"}};
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
		cr_assert_not_null(json_object_get(json_object_get(paths, expected[i][0]), expected[i][1]), "%s %s",
		    expected[i][1], expected[i][0]);
	/* One spelling of a path variable: the template's field name, as in
	 * /metrics' route label and the access log (AIP-127). */
	json_t *list = json_object_get(json_object_get(paths, "/orders/user/{user_id}"), "get");
	cr_assert_str_eq(
	    json_string_value(json_object_get(json_array_get(json_object_get(list, "parameters"), 0), "name")),
	    "user_id");
	json_t *responses = json_object_get(json_object_get(json_object_get(paths, "/users"), "post"), "responses");
	const char *statuses[] = {"201", "400", "409", "413", "415", "500", "503", "504"};
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		cr_assert_not_null(json_object_get(responses, statuses[i]), "POST /users documents %s", statuses[i]);
	cr_assert_not_null(json_object_get(json_object_get(json_object_get(r.json, "components"), "schemas"), "Error"));
	http_response_free(&r);
}

Test(gateway, cors_answers_allowed_origins_only)
{
	http_response r;
	char value[128];
	req("OPTIONS", "/users",
	    (const char *const[]){"Origin: http://allowed.example", "Access-Control-Request-Method: POST", NULL}, NULL,
	    &r);
	cr_assert_eq(r.status, 204);
	cr_assert_str_eq(
	    http_header(&r, "Access-Control-Allow-Origin", value, sizeof(value)), "http://allowed.example");
	cr_assert_str_eq(http_header(&r, "Access-Control-Allow-Methods", value, sizeof(value)), "POST");
	http_response_free(&r);

	req("OPTIONS", "/users",
	    (const char *const[]){"Origin: http://evil.example", "Access-Control-Request-Method: POST", NULL}, NULL,
	    &r);
	cr_assert_null(http_header(&r, "Access-Control-Allow-Origin", value, sizeof(value)));
	http_response_free(&r);

	req("GET", "/users/1", (const char *const[]){"Origin: http://also.example", NULL}, NULL, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(http_header(&r, "Access-Control-Allow-Origin", value, sizeof(value)), "http://also.example");
	http_response_free(&r);
}

/* A client that sends request after request on one connection, as long as
 * it is allowed to (libcurl reuses the connection while the server lets it). */
typedef struct {
	const char *url;
	atomic_bool *stop;
	atomic_int answered, failed, connections_closed;
} busy_client;

static size_t
discard(char *data, size_t size, size_t n, void *arg)
{
	(void) data, (void) arg;
	return size * n;
}

static size_t
count_close(char *line, size_t size, size_t n, void *arg)
{
	busy_client *b = arg;
	if (strncasecmp(line, "Connection: close", 17) == 0)
		b->connections_closed++;
	return size * n;
}

static void *
keep_busy(void *arg)
{
	busy_client *b = arg;
	CURL *curl     = curl_easy_init();
	curl_easy_setopt(curl, CURLOPT_URL, b->url);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, count_close);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, b);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	while (!atomic_load(b->stop)) {
		long status = 0;
		if (curl_easy_perform(curl) == CURLE_OK &&
		    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status == 200)
			b->answered++;
		else
			b->failed++;
	}
	curl_easy_cleanup(curl);
	return NULL;
}

/* A raw connection to one of the suite's gateways ("GW", "CROWDED_GW"). */
static int
raw_connect(const char *base_env)
{
	const char *base = getenv(base_env);
	cr_assert_not_null(base, "the suite's gateway %s did not start", base_env);
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t) atoi(strrchr(base, ':') + 1))};
	addr.sin_addr.s_addr    = htonl(INADDR_LOOPBACK);
	int fd                  = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *) &addr, sizeof(addr)), 0);
	struct timeval three_s = {.tv_sec = 3};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &three_s, sizeof(three_s));
	return fd;
}

/* One request on a raw connection that the client never closes: the whole
 * answer, and whether the server closed the connection after an answer
 * that says close (waiting up to 3 s for it). */
static void
raw_exchange(const char *base_env, const char *request, char *out, size_t len, bool *says_close, bool *server_closed)
{
	int fd = raw_connect(base_env);
	cr_assert_eq(send(fd, request, strlen(request), MSG_NOSIGNAL), (ssize_t) strlen(request));
	size_t used = 0;
	ssize_t got = 1;
	char *body  = NULL;
	while (used + 1 < len && (got = recv(fd, out + used, len - 1 - used, 0)) > 0) {
		used += (size_t) got;
		out[used]          = '\0';
		const char *length = strstr(out, "Content-Length: ");
		if ((body = strstr(out, "\r\n\r\n")) != NULL && length != NULL &&
		    used >= (size_t) (body + 4 - out) + strtoul(length + 16, NULL, 10))
			break; /* the whole answer */
	}
	out[used]      = '\0';
	*says_close    = strstr(out, "\r\nConnection: close\r\n") != NULL;
	*server_closed = false;
	if (*says_close) {
		char more[64];
		*server_closed = got == 0 || recv(fd, more, sizeof(more), 0) == 0;
	}
	close(fd);
}

/* Each keep-alive connection holds one of CivetWeb's workers between its
 * requests. Two clients that never pause hold both of the crowded gateway's
 * two; a third client must still be answered, soon. */
Test(gateway, a_client_beyond_the_workers_is_answered_while_others_keep_theirs_busy, .timeout = 30)
{
	const char *base = getenv("CROWDED_GW");
	cr_assert_not_null(base, "the crowded gateway did not start");
	char url[128];
	snprintf(url, sizeof(url), "%s/healthz", base);

	atomic_bool stop = false;
	busy_client busy[2];
	pthread_t threads[2];
	for (int i = 0; i < 2; i++) {
		busy[i] = (busy_client){.url = url, .stop = &stop};
		cr_assert_eq(pthread_create(&threads[i], NULL, keep_busy, &busy[i]), 0);
	}
	/* Until both have been answered a while, and both have been asked to
	 * reconnect (which needs both connected at once). */
	for (int waited = 0; waited < 10000; waited += 10) {
		bool settled = true;
		for (int i = 0; i < 2; i++)
			settled = settled && busy[i].answered >= 20 && busy[i].connections_closed > 0;
		if (settled)
			break;
		nanosleep(&(struct timespec){.tv_nsec = 10 * 1000000L}, NULL);
	}

	http_response r;
	http_request("GET", url, NULL, NULL, &r);
	atomic_store(&stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(threads[i], NULL);

	cr_assert_eq(r.status, 200, "the third client got status %ld after %.2f s", r.status, r.seconds);
	cr_assert_lt(r.seconds, 2.0, "the third client waited %.2f s for a worker", r.seconds);
	for (int i = 0; i < 2; i++) {
		cr_assert_geq(busy[i].answered, 20, "busy client %d: %d answered", i, busy[i].answered);
		cr_assert_eq(busy[i].failed, 0, "busy client %d: %d failed", i, busy[i].failed);
		/* Both workers were held, so answers ended their connections. */
		cr_assert_gt(busy[i].connections_closed, 0, "busy client %d was never asked to reconnect", i);
	}
	http_response_free(&r);

	/* Operators see it: each such answer is counted. */
	snprintf(url, sizeof(url), "%s/metrics", base);
	http_request("GET", url, NULL, NULL, &r);
	cr_assert_eq(r.status, 200, "%s", r.body);
	const char *turns = strstr(r.body, "\ngateway_http_connection_turns_total ");
	cr_assert_not_null(turns, "%s", r.body);
	cr_assert_geq(strtod(strchr(turns + 1, ' ') + 1, NULL), busy[0].connections_closed + busy[1].connections_closed,
	    "%s", r.body);
	cr_assert_not_null(strstr(r.body, "\ngateway_http_workers 2\n"), "%s", r.body);
	http_response_free(&r);
}

/* With workers to spare, a connection stays open for the next request. */
Test(gateway, connections_stay_open_while_workers_are_free)
{
	http_response r;
	req("GET", "/healthz", NULL, NULL, &r);
	char value[32];
	cr_assert_not_null(http_header(&r, "Connection", value, sizeof(value)));
	cr_assert_str_eq(value, "keep-alive");
	http_response_free(&r);
}

/* A client that connects and sends nothing must not take a worker: with
 * both of the crowded gateway's held by silent connections, nobody else
 * was served until REQUEST_TIMEOUT_MS (30 s) cut them off. */
Test(gateway, silent_connections_hold_no_worker, .timeout = 30)
{
	const char *base = getenv("CROWDED_GW");
	cr_assert_not_null(base, "the crowded gateway did not start");
	enum { SILENT = 3 };
	int silent[SILENT];
	for (int i = 0; i < SILENT; i++)
		silent[i] = raw_connect("CROWDED_GW");
	nanosleep(&(struct timespec){.tv_nsec = 300 * 1000000L}, NULL);

	char url[128];
	snprintf(url, sizeof(url), "%s/healthz", base);
	http_response r;
	http_request("GET", url, NULL, NULL, &r);
	cr_assert_eq(r.status, 200, "status %ld after %.2f s", r.status, r.seconds);
	cr_assert_lt(r.seconds, 2.0, "a request waited %.2f s behind silent connections", r.seconds);
	http_response_free(&r);

	/* One that speaks up later is served as usual. */
	const char *request = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	cr_assert_eq(send(silent[0], request, strlen(request), MSG_NOSIGNAL), (ssize_t) strlen(request));
	char reply[32] = "";
	cr_assert_gt(recv(silent[0], reply, sizeof(reply) - 1, 0), 0, "the late request got no answer");
	cr_assert(strncmp(reply, "HTTP/1.1 200", 12) == 0, "%s", reply);
	for (int i = 0; i < SILENT; i++)
		close(silent[i]);
}

/* A client that ignores "Connection: close" must not keep its worker: the
 * gateway closes after saying so. One worker of the crowded gateway is held
 * by a request that never finishes its headers, so the other's answers say
 * close. */
Test(gateway, an_answer_that_says_close_is_followed_by_the_server_closing, .timeout = 30)
{
	int holder       = raw_connect("CROWDED_GW");
	const char *half = "GET /healthz HTTP/1.1\r\nX-Unfinished: ";
	cr_assert_eq(send(holder, half, strlen(half), MSG_NOSIGNAL), (ssize_t) strlen(half));

	char raw[2048];
	bool says_close = false, server_closed = false;
	/* Until the holder has its worker (and while another test's clients
	 * come and go) an answer may still say keep-alive: try a few times. */
	for (int attempt = 0; attempt < 20 && !says_close; attempt++) {
		nanosleep(&(struct timespec){.tv_nsec = 100 * 1000000L}, NULL);
		raw_exchange("CROWDED_GW", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", raw, sizeof(raw), &says_close,
		    &server_closed);
		cr_assert(strncmp(raw, "HTTP/1.1 200", 12) == 0, "%s", raw);
	}
	close(holder);
	cr_assert(says_close, "no answer said close while a worker was held: %s", raw);
	cr_assert(server_closed, "the gateway said close but kept the connection open");
}

/* CivetWeb closes after the errors it answers itself (a request it cannot
 * frame); its answer must say so, not promise keep-alive. */
Test(gateway, civetweb_own_errors_say_close_and_close)
{
	const struct {
		const char *request, *status_line;
	} cases[] = {
	    /* CivetWeb's 411 for a length it cannot read is the 400 RFC 9110 8.6 means */
	    {"POST /users HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", "HTTP/1.1 400"},
	    {"GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", "HTTP/1.1 400"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char raw[2048];
		bool says_close, server_closed;
		raw_exchange("GW", cases[i].request, raw, sizeof(raw), &says_close, &server_closed);
		cr_assert(strncmp(raw, cases[i].status_line, strlen(cases[i].status_line)) == 0, "%s", raw);
		cr_assert(says_close, "the answer promises keep-alive: %s", raw);
		cr_assert(server_closed, "the connection stayed open: %s", raw);
	}
}
