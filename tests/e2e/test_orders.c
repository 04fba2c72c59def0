/* POST /orders, GET /orders/{id}, GET /orders/user/{user_id} end to end, and the
 * user_created consumer: HTTP → gateway → RPC → order-svc (→ RPC →
 * user-svc) → real PostgreSQL, Redis and RabbitMQ. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "events.pb-c.h"
#include "order_helpers.h"
#include "procs.h"
#include "svc/broker.h"
#include "svc/topology.h"

Test(orders, the_seed_requests_give_the_documented_shapes)
{
	long long user = helpers_create_user(NULL, 0);
	char body[256], path[64], location[64];
	snprintf(body, sizeof(body), "{\"userId\":%lld,\"product\":\"Laptop\",\"price\":15000000}", user);
	http_response r;
	helpers_post_order(body, NULL, &r);
	cr_assert_eq(r.status, 201, "%s", r.body);
	long long id = json_integer_value(json_object_get(r.json, "id"));
	snprintf(path, sizeof(path), "/orders/%lld", id);
	cr_assert_str_eq(http_header(&r, "Location", location, sizeof(location)), path);
	char expected[256];
	snprintf(expected, sizeof(expected),
	    "{\"id\":%lld,\"userId\":%lld,\"product\":\"Laptop\",\"price\":15000000,"
	    "\"status\":\"pending\",\"createdAt\":\"",
	    id, user);
	cr_assert_eq(strncmp(r.body, expected, strlen(expected)), 0, "%s", r.body);

	http_response g, l;
	stack_http("GET", path, NULL, NULL, &g);
	cr_assert_eq(g.status, 200);
	cr_assert_str_eq(g.body, r.body);
	snprintf(path, sizeof(path), "/orders/user/%lld", user);
	stack_http("GET", path, NULL, NULL, &l);
	cr_assert_eq(l.status, 200);
	char list[1024];
	snprintf(list, sizeof(list), "[%s]", r.body);
	cr_assert_str_eq(l.body, list);
	http_response_free(&r);
	http_response_free(&g);
	http_response_free(&l);
}

Test(orders, prices_keep_their_exact_value_and_status_is_kept)
{
	long long user         = helpers_create_user(NULL, 0);
	const char *cases[][2] = {{"19.99", "19.99"}, {"0.01", "0.01"}, {"9999999999999.99", "9999999999999.99"},
	    {"12.5", "12.5"}, {"\"7.10\"", "7.1"}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char body[256], expect[64];
		snprintf(body, sizeof(body), "{\"userId\":%lld,\"product\":\"P\",\"price\":%s,\"status\":\"shipped\"}",
		    user, cases[i][0]);
		http_response r;
		helpers_post_order(body, NULL, &r);
		cr_assert_eq(r.status, 201, "%s → %s", body, r.body);
		snprintf(expect, sizeof(expect), "\"price\":%s,\"status\":\"shipped\"", cases[i][1]);
		cr_assert_not_null(strstr(r.body, expect), "%s", r.body);
		http_response_free(&r);
	}
}

/* Issue 15 section 5: limits are judged by the exact value of the number
 * as written, never by the double nearest to it. */
Test(orders, numbers_are_judged_by_their_exact_text)
{
	long long user = helpers_create_user(NULL, 0);
	const struct {
		const char *field; /* "price": the price's text; "userId": the text after the user's id */
		const char *text;
		const char *message; /* NULL: created, with price (or userId) written as `echo` */
		const char *echo;
	} cases[] = {
	    {"price", "19.999999999999999", "price must have at most 2 decimal places", NULL},
	    {"price", "\"19.999999999999999\"", "price must have at most 2 decimal places", NULL},
	    {"price", "0.1000000000000000055511151231257827", "price must have at most 2 decimal places", NULL},
	    {"price", "9999999999999.999999", "price must have at most 2 decimal places", NULL},
	    {"price", "0.001", "price must have at most 2 decimal places", NULL},
	    {"price", "9007199254740993.0", "price must be less than 10000000000000", NULL},
	    {"price", "1e13", "price must be less than 10000000000000", NULL},
	    {"price", "-0", "price must be greater than 0", NULL},
	    {"price", "-0.0e5", "price must be greater than 0", NULL},
	    {"price", "1e400", "price must have at most 60 digits", NULL},
	    {"price", "1e-400", "price must have at most 60 digits", NULL}, {"price", "1.5e1", NULL, "15"},
	    {"price", "1e2", NULL, "100"}, {"price", "1999e-2", NULL, "19.99"}, {"price", "0.001e1", NULL, "0.01"},
	    {"price", "15000000.00", NULL, "15000000"}, {"price", "9999999999999.99", NULL, "9999999999999.99"},
	    {"userId", ".0000000000000001", "userId must be an integer", NULL},
	    {"userId", "e400", "userId must be between -9223372036854775808 and 9223372036854775807", NULL},
	    {"userId", "1e-1", "userId must be an integer",
	        NULL}, /* the id + 0.1 ("e-1" alone is whole for ids ending in 0) */
	    {"userId", ".000", NULL, ""}, {"userId", "e0", NULL, ""},
	    {"userId", "0e-1", NULL, "0"}, /* 10 × the id ÷ 10 */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char body[512], expect[160];
		bool price = strcmp(cases[i].field, "price") == 0;
		if (price)
			snprintf(body, sizeof(body), "{\"userId\":%lld,\"product\":\"P\",\"price\":%s}", user,
			    cases[i].text);
		else
			snprintf(body, sizeof(body), "{\"userId\":%lld%s,\"product\":\"P\",\"price\":1}", user,
			    cases[i].text);
		http_response r;
		helpers_post_order(body, NULL, &r);
		if (cases[i].message != NULL) {
			stack_assert_messages(&r, 400, 1, (const char *const[]){cases[i].message});
		} else {
			cr_assert_eq(r.status, 201, "%s → %s", body, r.body);
			if (price)
				snprintf(expect, sizeof(expect), "\"price\":%s,", cases[i].echo);
			else
				snprintf(expect, sizeof(expect), "\"userId\":%lld,", user);
			cr_assert_not_null(strstr(r.body, expect), "%s → %s", body, r.body);
		}
		http_response_free(&r);
	}
	/* An integer only a double would round: exact, so no such user (404),
	 * not the user 9007199254740992. */
	http_response r;
	helpers_post_order("{\"userId\":9007199254740993.0,\"product\":\"P\",\"price\":1}", NULL, &r);
	cr_assert_eq(r.status, 404, "%s", r.body);
	cr_assert_not_null(strstr(r.body, "9007199254740993"), "%s", r.body);
	http_response_free(&r);
}

/* Issue 15 section 6: products are trimmed of the same white space as
 * names (ECMAScript's trim() set: Zs, line terminators, U+FEFF). */
Test(orders, products_are_trimmed_of_unicode_white_space)
{
	long long user      = helpers_create_user(NULL, 0);
	const char *empty[] = {"\\u00a0\\u3000\\u00a0", "\\u2028\\u2029", "\\ufeff", "\\u1680\\u200a\\u202f\\u205f\\t"};
	for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		char body[256];
		snprintf(body, sizeof(body), "{\"userId\":%lld,\"product\":\"%s\",\"price\":1}", user, empty[i]);
		http_response r;
		helpers_post_order(body, NULL, &r);
		stack_assert_messages(&r, 400, 1, (const char *const[]){"product must not be empty"});
		http_response_free(&r);
	}
	char body[256];
	snprintf(body, sizeof(body),
	    "{\"userId\":%lld,\"product\":\"\\ufeff\\u3000Book\\u00a0Two\\u2029\",\"price\":1}", user);
	http_response r;
	helpers_post_order(body, NULL, &r);
	cr_assert_eq(r.status, 201, "%s", r.body);
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "product")), "Book\xc2\xa0Two");
	http_response_free(&r);
}

Test(orders, each_validation_rule_names_its_field)
{
	char long_product[300];
	memset(long_product, 'p', 201);
	long_product[201] = '\0';
	char body[512];
	const struct {
		const char *body;
		const char *message;
	} cases[] = {
	    {"{\"userId\":0,\"product\":\"P\",\"price\":1}", "userId must be a positive integer"},
	    {"{\"userId\":-3,\"product\":\"P\",\"price\":1}", "userId must be a positive integer"},
	    {"{\"product\":\"P\",\"price\":1}", "userId must be a positive integer"},
	    {"{\"userId\":1,\"product\":\"  \",\"price\":1}", "product must not be empty"},
	    {"{\"userId\":1,\"price\":1}", "product must not be empty"},
	    {"{\"userId\":1,\"product\":\"P\",\"price\":0}", "price must be greater than 0"},
	    {"{\"userId\":1,\"product\":\"P\",\"price\":-5}", "price must be greater than 0"},
	    {"{\"userId\":1,\"product\":\"P\",\"price\":1.999}", "price must have at most 2 decimal places"},
	    {"{\"userId\":1,\"product\":\"P\",\"price\":10000000000000}", "price must be less than 10000000000000"},
	    {"{\"userId\":1,\"product\":\"P\"}", "price must be a number"},
	    {"{\"userId\":1,\"product\":\"P\",\"price\":\"cheap\"}", "price must be a number, not a string"},
	    {"{\"userId\":1,\"product\":\"P\",\"price\":1,\"status\":\"lost\"}",
	        "status must be one of pending, paid, shipped, completed, cancelled"},
	    {"{\"userId\":\"x\",\"product\":\"P\",\"price\":1}", "userId must be an integer"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		http_response r;
		helpers_post_order(cases[i].body, NULL, &r);
		stack_assert_messages(&r, 400, 1, (const char *const[]){cases[i].message});
		http_response_free(&r);
	}
	http_response r;
	snprintf(body, sizeof(body), "{\"userId\":1,\"product\":\"%s\",\"price\":1}", long_product);
	helpers_post_order(body, NULL, &r);
	stack_assert_messages(&r, 400, 1, (const char *const[]){"product must be at most 200 characters"});
	http_response_free(&r);
	helpers_post_order("{\"userId\":0,\"product\":\"\",\"price\":0,\"status\":\"x\"}", NULL, &r);
	stack_assert_messages(&r, 400, 4,
	    (const char *const[]){"userId must be a positive integer", "product must not be empty",
	        "price must be greater than 0", "status must be one of pending, paid, shipped, completed, cancelled"});
	http_response_free(&r);
}

Test(orders, an_unknown_user_is_404_and_nothing_is_written)
{
	long long nobody = 8000000000000LL + (long long) (getpid() % 100000);
	char body[256], path[64];
	snprintf(body, sizeof(body), "{\"userId\":%lld,\"product\":\"P\",\"price\":1}", nobody);
	http_response r;
	helpers_post_order(body, NULL, &r);
	cr_assert_eq(r.status, 404, "%s", r.body);
	char message[96];
	snprintf(message, sizeof(message), "user %lld not found", nobody);
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "message")), message);
	http_response_free(&r);
	snprintf(path, sizeof(path), "/orders/user/%lld", nobody);
	stack_http("GET", path, NULL, NULL, &r);
	cr_assert_str_eq(r.body, "[]");
	http_response_free(&r);
}

Test(orders, unknown_and_invalid_order_ids)
{
	http_response r;
	stack_http("GET", "/orders/9223372036854775807", NULL, NULL, &r);
	cr_assert_eq(r.status, 404, "%s", r.body);
	http_response_free(&r);
	stack_http("GET", "/orders/0", NULL, NULL, &r);
	stack_assert_messages(&r, 400, 1, (const char *const[]){"id must be a positive integer"});
	http_response_free(&r);
	stack_http("GET", "/orders/user/-1", NULL, NULL, &r);
	stack_assert_messages(&r, 400, 1, (const char *const[]){"user_id must be a positive integer"});
	http_response_free(&r);
}

Test(orders, a_read_right_after_each_create_shows_the_new_order, .timeout = 60)
{
	long long user = helpers_create_user(NULL, 0);
	char path[64];
	snprintf(path, sizeof(path), "/orders/user/%lld", user);
	for (int i = 1; i <= 20; i++) {
		char body[256];
		snprintf(body, sizeof(body), "{\"userId\":%lld,\"product\":\"Item %d\",\"price\":%d}", user, i, i);
		http_response c, l;
		helpers_post_order(body, NULL, &c);
		cr_assert_eq(c.status, 201);
		stack_http("GET", path, NULL, NULL, &l); /* cached after the first round */
		cr_assert_eq(l.status, 200);
		cr_assert_eq(json_array_size(l.json), (size_t) i, "after create %d the list has %zu", i,
		    json_array_size(l.json));
		cr_assert_eq(json_integer_value(json_object_get(json_array_get(l.json, (size_t) i - 1), "id")),
		    json_integer_value(json_object_get(c.json, "id")), "newest last");
		http_response_free(&c);
		http_response_free(&l);
	}
}

#define RACERS 8
static long long race_user;

static void *
race_order(void *arg)
{
	char body[256];
	snprintf(body, sizeof(body), "{\"userId\":%lld,\"product\":\"Concurrent\",\"price\":3}", race_user);
	http_response r;
	helpers_post_order(body, NULL, &r);
	*(long *) arg = r.status;
	http_response_free(&r);
	return NULL;
}

Test(orders, concurrent_creates_for_one_user_are_all_listed, .timeout = 60)
{
	race_user = helpers_create_user(NULL, 0);
	char path[64];
	snprintf(path, sizeof(path), "/orders/user/%lld", race_user);
	http_response warm;
	stack_http("GET", path, NULL, NULL, &warm); /* an empty list in the cache */
	http_response_free(&warm);
	pthread_t threads[RACERS];
	long statuses[RACERS];
	for (int i = 0; i < RACERS; i++)
		pthread_create(&threads[i], NULL, race_order, &statuses[i]);
	for (int i = 0; i < RACERS; i++) {
		pthread_join(threads[i], NULL);
		cr_assert_eq(statuses[i], 201);
	}
	http_response l;
	stack_http("GET", path, NULL, NULL, &l);
	cr_assert_eq(json_array_size(l.json), RACERS, "%s", l.body);
	http_response_free(&l);
}

Test(orders, an_idempotency_key_replays_the_first_order)
{
	long long user = helpers_create_user(NULL, 0);
	char key[96], header[160], body[256], path[64];
	snprintf(header, sizeof(header), "Idempotency-Key: %s", stack_unique(key, sizeof(key), "order-key-"));
	snprintf(body, sizeof(body), "{\"userId\":%lld,\"product\":\"Once\",\"price\":5}", user);
	http_response a, b, c, l;
	helpers_post_order(body, (const char *const[]){header, NULL}, &a);
	helpers_post_order(body, (const char *const[]){header, NULL}, &b);
	cr_assert_eq(a.status, 201);
	cr_assert_eq(b.status, 201);
	cr_assert_str_eq(a.body, b.body);
	snprintf(body, sizeof(body), "{\"userId\":%lld,\"product\":\"Twice\",\"price\":5}", user);
	helpers_post_order(body, (const char *const[]){header, NULL}, &c);
	cr_assert_eq(c.status, 409, "%s", c.body);
	snprintf(path, sizeof(path), "/orders/user/%lld", user);
	stack_http("GET", path, NULL, NULL, &l);
	cr_assert_eq(json_array_size(l.json), 1, "one order, not two: %s", l.body);
	http_response_free(&a);
	http_response_free(&b);
	http_response_free(&c);
	http_response_free(&l);
}

Test(consumer, each_created_user_is_logged_once_with_its_request_id, .timeout = 30)
{
	char rid[96], header[160], email[96], body[256], needle[256];
	snprintf(header, sizeof(header), "X-Request-Id: %s", stack_unique(rid, sizeof(rid), "consumer-"));
	stack_unique(email, sizeof(email), "logged-");
	strcat(email, "@example.com");
	snprintf(body, sizeof(body), "{\"name\":\"Logged\",\"email\":\"%s\"}", email);
	http_response r;
	stack_http("POST", "/users", (const char *const[]){"Content-Type: application/json", header, NULL}, body, &r);
	cr_assert_eq(r.status, 201);
	long long id = json_integer_value(json_object_get(r.json, "id"));
	http_response_free(&r);
	snprintf(needle, sizeof(needle), "user_created id=%lld email=%s event=", id, email);
	cr_assert_eq(helpers_wait_log(needle, 1, 15000), 1, "logged once: %s", needle);
	char with_request[160];
	snprintf(with_request, sizeof(with_request), "request=%s", rid);
	cr_assert_eq(helpers_log_count(with_request), 1, "the line carries the request id");
	nanosleep(&(struct timespec){.tv_nsec = 500 * 1000000L}, NULL);
	cr_assert_eq(helpers_log_count(needle), 1, "and only once");
}

static void
random_uuid(char *out)
{
	unsigned char b[16];
	cr_assert_eq(getrandom(b, sizeof(b), 0), (ssize_t) sizeof(b));
	b[6] = (unsigned char) ((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char) ((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
	    b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static size_t
make_event(const char *event_id, long long user_id, uint8_t *buf)
{
	Users__User user       = USERS__USER__INIT;
	user.id                = user_id;
	user.name              = "Redelivered";
	user.email             = "redelivered@example.com";
	Events__UserCreated ev = EVENTS__USER_CREATED__INIT;
	ev.event_id            = (char *) event_id;
	ev.user                = &user;
	ev.request_id          = "test-redelivery";
	return events__user_created__pack(&ev, buf);
}

Test(consumer, the_same_event_delivered_twice_is_handled_once, .timeout = 30)
{
	char event_id[37], needle[128];
	random_uuid(event_id);
	uint8_t buf[256];
	size_t len = make_event(event_id, 777000000 + getpid() % 1000, buf);
	helpers_publish(buf, len, event_id);
	helpers_publish(buf, len, event_id);
	snprintf(needle, sizeof(needle), "event=%s", event_id);
	cr_assert_eq(helpers_wait_log(needle, 1, 15000), 1);
	/* The second copy has been handled when a later event is. */
	char later[37], later_needle[128];
	random_uuid(later);
	len = make_event(later, 777000001, buf);
	helpers_publish(buf, len, later);
	snprintf(later_needle, sizeof(later_needle), "event=%s", later);
	cr_assert_eq(helpers_wait_log(later_needle, 1, 15000), 1);
	cr_assert_eq(helpers_log_count(needle), 1, "logged once, not twice");
}

Test(consumer, an_undecodable_message_goes_to_the_dead_letter_queue_and_blocks_nothing, .timeout = 30)
{
	char garbage[64], good[37], needle[128];
	stack_unique(garbage, sizeof(garbage), "\xff\xff not protobuf ");
	helpers_publish(garbage, strlen(garbage), "garbage");
	random_uuid(good);
	uint8_t buf[256];
	size_t len = make_event(good, 777000002, buf);
	helpers_publish(buf, len, good);
	snprintf(needle, sizeof(needle), "event=%s", good);
	cr_assert_eq(helpers_wait_log(needle, 1, 15000), 1, "the event after the bad one is handled");

	/* The bad one waits in the dead-letter queue. */
	char err[256];
	amqp_connection_state_t conn = broker_connect(getenv("AMQP_URL"), 5000, 0, err, sizeof(err));
	cr_assert_not_null(conn);
	bool found = false;
	for (int i = 0; i < 1000 && !found; i++) {
		amqp_rpc_reply_t got = amqp_basic_get(conn, 1, amqp_cstring_bytes(TOPOLOGY_USER_CREATED_DLQ), 0);
		if (got.reply_type != AMQP_RESPONSE_NORMAL || got.reply.id != AMQP_BASIC_GET_OK_METHOD)
			break;
		uint64_t tag = ((amqp_basic_get_ok_t *) got.reply.decoded)->delivery_tag;
		amqp_message_t msg;
		cr_assert_eq(amqp_read_message(conn, 1, &msg, 0).reply_type, AMQP_RESPONSE_NORMAL);
		found = msg.body.len == strlen(garbage) && memcmp(msg.body.bytes, garbage, msg.body.len) == 0;
		amqp_destroy_message(&msg);
		amqp_basic_ack(conn, 1, tag, 0);
	}
	broker_close(conn);
	cr_assert(found, "the undecodable message is in " TOPOLOGY_USER_CREATED_DLQ);
}

/* A caller dials a connection when a call finds none idle and keeps it for
 * the next calls (rpc/endpoint.h): after a burst of concurrent requests
 * and a run of sequential ones, each caller still holds connections to
 * each service (one that hung up after each call would hold none), and no
 * more than it has threads that call (one that dialed per call and never
 * closed would hold one per call). Counted from the callers' own sockets
 * in /proc, not from what they say. Other tests may run beside this one,
 * so the counts are bounded, never exact. */
#define BURST 6
#define SEQUENTIAL 80

static void *
burst_order(void *arg)
{
	char body[128];
	snprintf(body, sizeof(body), "{\"userId\":%lld,\"product\":\"kept\",\"price\":1}", *(long long *) arg);
	http_response r;
	helpers_post_order(body, NULL, &r);
	long status = r.status;
	http_response_free(&r);
	return (void *) status;
}

Test(orders, each_caller_keeps_its_connections_for_the_next_calls, .timeout = 120)
{
	if (stack_rpc_connections("gateway", "user-svc") < 0)
		cr_skip_test("plain RPC (ipc://): connections are not TCP sockets to count");
	long long user = helpers_create_user(NULL, 0);
	pthread_t threads[BURST];
	for (int i = 0; i < BURST; i++)
		cr_assert_eq(pthread_create(&threads[i], NULL, burst_order, &user), 0);
	for (int i = 0; i < BURST; i++) {
		void *status;
		pthread_join(threads[i], &status);
		cr_assert_eq((long) status, 201);
	}
	char path[64];
	snprintf(path, sizeof(path), "/users/%lld", user);
	for (int i = 0; i < SEQUENTIAL; i++) {
		http_response r;
		cr_assert_eq(stack_http("GET", path, NULL, NULL, &r), 200, "%s", r.body);
		http_response_free(&r);
		cr_assert_eq((long) burst_order(&user), 201); /* gateway → order-svc → user-svc */
	}
	/* The callers' threads that call: the gateway's HTTP workers (WORKERS,
	 * 64 by default), order-svc's handlers (its WORKERS, 8 by default). */
	static const struct {
		const char *from, *to;
		int threads;
	} pairs[] = {{"gateway", "user-svc", 64}, {"gateway", "order-svc", 64}, {"order-svc", "user-svc", 8}};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		int n = stack_rpc_connections(pairs[i].from, pairs[i].to);
		cr_assert_geq(n, 1, "%s -> %s keeps no connection after its calls", pairs[i].from, pairs[i].to);
		cr_assert_leq(n, pairs[i].threads, "%s -> %s: %d connections after %d calls, more than its %d threads",
		    pairs[i].from, pairs[i].to, n, BURST + SEQUENTIAL, pairs[i].threads);
		cr_log_info("%s -> %s: %d connections", pairs[i].from, pairs[i].to, n);
	}
}
