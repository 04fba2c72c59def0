/* POST /users and GET /users/{id} end to end: HTTP → gateway → nng →
 * user-svc → real PostgreSQL, Redis and RabbitMQ. */
#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event_consumer.h"
#include "rpc/envelope.h"
#include "stack.h"
#include "svc/topology.h"

static const char *const json_headers[] = {"Content-Type: application/json", NULL};

static long long
create_user(const char *name, const char *email, http_response *r)
{
	char body[1024];
	snprintf(body, sizeof(body), "{\"name\":\"%s\",\"email\":\"%s\"}", name, email);
	stack_http("POST", "/users", json_headers, body, r);
	return r->json != NULL ? json_integer_value(json_object_get(r->json, "id")) : 0;
}

Test(users, the_seed_requests_give_the_documented_shapes)
{
	char email[96], location[64], path[64];
	stack_unique(email, sizeof(email), "john-");
	strcat(email, "@example.com");
	http_response r;
	long long id = create_user("John Doe", email, &r);
	cr_assert_eq(r.status, 201, "%s", r.body);
	cr_assert(id > 0);
	snprintf(path, sizeof(path), "/users/%lld", id);
	cr_assert_str_eq(http_header(&r, "Location", location, sizeof(location)), path);
	cr_assert_eq(json_object_size(r.json), 4, "%s", r.body);
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "name")), "John Doe");
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "email")), email);
	const char *created = json_string_value(json_object_get(r.json, "createdAt"));
	cr_assert(
	    created != NULL && strlen(created) == 24 && created[10] == 'T' && created[19] == '.' && created[23] == 'Z',
	    "createdAt %s", created);

	http_response g;
	stack_http("GET", path, NULL, NULL, &g);
	cr_assert_eq(g.status, 200);
	cr_assert_str_eq(g.body, r.body, "GET returns what POST did");
	http_response_free(&g);
	http_response_free(&r);
}

Test(users, names_are_trimmed_and_emails_kept_as_given)
{
	char email[96];
	stack_unique(email, sizeof(email), "Mixed.Case-");
	strcat(email, "@Example.COM");
	http_response r;
	create_user("  Ada Lovelace\\t ", email, &r);
	cr_assert_eq(r.status, 201, "%s", r.body);
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "name")), "Ada Lovelace");
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "email")), email);
	http_response_free(&r);
}

Test(users, each_validation_rule_names_its_field)
{
	char long_name[120], long_email[300];
	memset(long_name, 'n', 101);
	long_name[101] = '\0';
	memset(long_email, 'e', 250);
	strcpy(long_email + 250, "@x.io");
	const struct {
		const char *body;
		const char *message;
	} cases[] = {
	    {"{\"name\":\"\",\"email\":\"a@b.co\"}", "name must not be empty"},
	    {"{\"name\":\"   \",\"email\":\"a@b.co\"}", "name must not be empty"},
	    {"{\"email\":\"a@b.co\"}", "name must not be empty"},
	    {"{\"name\":\"A\",\"email\":\"\"}", "email must not be empty"},
	    {"{\"name\":\"A\",\"email\":\"no-at-sign\"}", "email must be a valid email address"},
	    {"{\"name\":\"A\",\"email\":\"@b.co\"}", "email must be a valid email address"},
	    {"{\"name\":\"A\",\"email\":\"a@nodot\"}", "email must be a valid email address"},
	    {"{\"name\":\"A\",\"email\":\"a b@c.co\"}", "email must be a valid email address"},
	    {"{\"name\":\"A\",\"email\":\"a@b@c.co\"}", "email must be a valid email address"},
	    {"{\"name\":\"A\",\"email\":\"a@b.co.\"}", "email must be a valid email address"},
	    {"{\"name\":\"A\",\"email\":7}", "email must be a string, not a number"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		http_response r;
		stack_http("POST", "/users", json_headers, cases[i].body, &r);
		stack_assert_messages(&r, 400, 1, (const char *const[]){cases[i].message});
		http_response_free(&r);
	}
	char body[512];
	http_response r;
	snprintf(body, sizeof(body), "{\"name\":\"%s\",\"email\":\"a@b.co\"}", long_name);
	stack_http("POST", "/users", json_headers, body, &r);
	stack_assert_messages(&r, 400, 1, (const char *const[]){"name must be at most 100 characters"});
	http_response_free(&r);
	snprintf(body, sizeof(body), "{\"name\":\"A\",\"email\":\"%s\"}", long_email);
	stack_http("POST", "/users", json_headers, body, &r);
	stack_assert_messages(&r, 400, 1, (const char *const[]){"email must be at most 254 characters"});
	http_response_free(&r);
	/* 100 characters of two bytes each is within the limit. */
	char wide[256] = "";
	for (int i = 0; i < 100; i++)
		strcat(wide, "\xc3\xa9");
	char email[96];
	stack_unique(email, sizeof(email), "wide-");
	strcat(email, "@example.com");
	create_user(wide, email, &r);
	cr_assert_eq(r.status, 201, "%s", r.body);
	http_response_free(&r);
	/* Every problem at once. */
	stack_http("POST", "/users", json_headers, "{\"name\":\"\",\"email\":\"bad\"}", &r);
	stack_assert_messages(
	    &r, 400, 2, (const char *const[]){"name must not be empty", "email must be a valid email address"});
	http_response_free(&r);
}

Test(users, a_registered_email_in_any_case_is_409)
{
	char email[96], upper[96];
	stack_unique(email, sizeof(email), "dup-");
	strcat(email, "@example.com");
	http_response r;
	create_user("First", email, &r);
	cr_assert_eq(r.status, 201);
	http_response_free(&r);
	for (size_t i = 0; i <= strlen(email); i++)
		upper[i] = (char) (email[i] >= 'a' && email[i] <= 'z' ? email[i] - 32 : email[i]);
	create_user("Second", upper, &r);
	cr_assert_eq(r.status, 409, "%s", r.body);
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "code")), "ALREADY_EXISTS");
	http_response_free(&r);
}

/* Issue 15 section 6: names are trimmed of Unicode white space, as the
 * NestJS original's trim() did (ECMAScript's set: every Zs character, the
 * line terminators and U+FEFF; U+0085 is a control, not space, there),
 * and must hold a visible character and no control. */
Test(users, names_are_trimmed_of_unicode_white_space)
{
	const char *empty[] = {"\\u00a0\\u3000\\u00a0", "\\u2028", "\\u2029\\r\\n", "\\ufeff",
	    "\\u1680\\u2000\\u2001\\u2002\\u2003\\u2004\\u2005\\u2006\\u2007\\u2008\\u2009\\u200a",
	    "\\u202f\\u205f\\u000b\\f"};
	for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		char body[256];
		snprintf(body, sizeof(body), "{\"name\":\"%s\",\"email\":\"a@b.co\"}", empty[i]);
		http_response r;
		stack_http("POST", "/users", json_headers, body, &r);
		stack_assert_messages(&r, 400, 1, (const char *const[]){"name must not be empty"});
		http_response_free(&r);
	}
	const struct {
		const char *name;     /* JSON text */
		const char *expected; /* UTF-8 */
	} kept[] = {
	    {"\\u00a0\\u3000Ada\\u00a0Lovelace\\ufeff\\u2028", "Ada\xc2\xa0Lovelace"}, /* inner space stays */
	    {"\\u200bAda", "\xe2\x80\x8b"
	                   "Ada"}, /* ZERO WIDTH SPACE is Cf, not space */
	};
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		char email[96];
		stack_unique(email, sizeof(email), "trim-");
		strcat(email, "@example.com");
		http_response r;
		create_user(kept[i].name, email, &r);
		cr_assert_eq(r.status, 201, "%s", r.body);
		cr_assert_str_eq(json_string_value(json_object_get(r.json, "name")), kept[i].expected);
		http_response_free(&r);
	}
	/* NEL (U+0085) is no space to trim but a control: refused, as are the
	 * other controls, and a name of nothing visible is empty. */
	const struct {
		const char *name, *message;
	} refused[] = {
	    {"\\u0085Ada\\u0085", "name must not contain control characters"},
	    {"\\u001b[31mAda", "name must not contain control characters"},
	    {"\\u200b\\u2060", "name must not be empty"},
	    {"\\u0301", "name must not be empty"},
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		char body[256];
		snprintf(body, sizeof(body), "{\"name\":\"%s\",\"email\":\"a@b.co\"}", refused[i].name);
		http_response r;
		stack_http("POST", "/users", json_headers, body, &r);
		stack_assert_messages(&r, 400, 1, (const char *const[]){refused[i].message});
		http_response_free(&r);
	}
	/* 100 characters between white space of any kind is within the limit. */
	char name[1024] = "\\u3000";
	for (int i = 0; i < 100; i++)
		strcat(name, "\\u00e9");
	strcat(name, "\\u00a0");
	char email[96];
	stack_unique(email, sizeof(email), "trim-long-");
	strcat(email, "@example.com");
	http_response r;
	create_user(name, email, &r);
	cr_assert_eq(r.status, 201, "%s", r.body);
	http_response_free(&r);
	/* White space inside an email is refused, whatever its kind. */
	const char *spaced[] = {"a\\u00a0b@c.co", "a@b\\u3000.co", "\\ufeffa@b.co", "a\\u0085b@c.co", "a\\u2028@b.co"};
	for (size_t i = 0; i < sizeof(spaced) / sizeof(spaced[0]); i++) {
		create_user("A", spaced[i], &r);
		stack_assert_messages(&r, 400, 1, (const char *const[]){"email must be a valid email address"});
		http_response_free(&r);
	}
	/* Characters there but not seen (soft hyphen, zero-width, bidi marks)
	 * made a second account of an address that looks the same. */
	const char *invisible[] = {
	    "m\\u00ad@example.com", "x@example.com\\u200b", "m\\u2060n@example.com", "m\\u200en@example.com"};
	for (size_t i = 0; i < sizeof(invisible) / sizeof(invisible[0]); i++) {
		create_user("A", invisible[i], &r);
		stack_assert_messages(&r, 400, 1,
		    (const char *const[]){
		        "email must not contain invisible characters (zero-width, format or soft hyphen)"});
		http_response_free(&r);
	}
}

/* Issue 15 section 6: one email, whatever its case or composition, is
 * registered once; PostgreSQL's locale plays no part (NFC of the full
 * Unicode case folding, computed by user-svc). Each is stored as given. */
Test(users, emails_equal_under_unicode_case_folding_and_nfc_are_409)
{
	const struct {
		const char *first, *second; /* the local part, UTF-8; a unique suffix follows */
	} pairs[] = {
	    {"\xc3\x84"
	     "BC.x",
	        "\xc3\xa4"
	        "bc.x"}, /* ÄBC.x then äbc.x: the example */
	    {"stra\xc3\x9f"
	     "e",
	        "STRASSE"}, /* ß folds to ss (full folding) */
	    {"\xc3\xa9"
	     "cole",
	        "e\xcc\x81"
	        "cole"}, /* é composed, then e + U+0301 */
	    {"E\xcc\x81"
	     "COLE",
	        "\xc3\xa9"
	        "cole"}, /* decomposed capital, then composed */
	    {"\xe2\x84\xaa"
	     "elvin",
	        "kelvin"},                                            /* KELVIN SIGN folds to k */
	    {"\xce\xa3\xce\x99\xce\xa3", "\xcf\x83\xce\xb9\xcf\x82"}, /* ΣΙΣ then σις (final sigma) */
	};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		char suffix[64], first[160], second[160];
		stack_unique(suffix, sizeof(suffix), "-fold-");
		snprintf(first, sizeof(first), "%s%s@example.com", pairs[i].first, suffix);
		snprintf(second, sizeof(second), "%s%s@example.com", pairs[i].second, suffix);
		http_response r;
		create_user("First", first, &r);
		cr_assert_eq(r.status, 201, "%s: %s", first, r.body);
		cr_assert_str_eq(json_string_value(json_object_get(r.json, "email")), first, "stored as given");
		http_response_free(&r);
		create_user("Second", second, &r);
		cr_assert_eq(r.status, 409, "%s after %s: %s", second, first, r.body);
		cr_assert_str_eq(json_string_value(json_object_get(r.json, "code")), "ALREADY_EXISTS");
		http_response_free(&r);
	}
	/* Different letters stay different: no accent stripping, no NFKC. */
	const char *distinct[][2] = {{"\xc3\xa4"
	                              "bc",
	                                 "abc"},
	    {"\xef\xbd\x81"
	     "bc",
	        "abc"} /* fullwidth a */};
	for (size_t i = 0; i < sizeof(distinct) / sizeof(distinct[0]); i++) {
		char suffix[64], first[160], second[160];
		stack_unique(suffix, sizeof(suffix), "-distinct-");
		snprintf(first, sizeof(first), "%s%s@example.com", distinct[i][0], suffix);
		snprintf(second, sizeof(second), "%s%s@example.com", distinct[i][1], suffix);
		http_response r;
		create_user("One", first, &r);
		cr_assert_eq(r.status, 201, "%s", r.body);
		http_response_free(&r);
		create_user("Two", second, &r);
		cr_assert_eq(r.status, 201, "%s after %s: %s", second, first, r.body);
		http_response_free(&r);
	}
}

/* The Idempotency-Key compares the request as sent: the same key with the
 * email in another case is another request (409), not a replay. */
Test(users, an_idempotency_key_with_the_email_in_another_case_is_another_request)
{
	char suffix[64], key[96], header[160], body[256];
	stack_unique(suffix, sizeof(suffix), "-idem-fold-");
	snprintf(header, sizeof(header), "Idempotency-Key: %s", stack_unique(key, sizeof(key), "key-"));
	const char *headers[] = {"Content-Type: application/json", header, NULL};
	http_response a, b;
	snprintf(body, sizeof(body),
	    "{\"name\":\"Once\",\"email\":\"\xc3\x84"
	    "bc%s@example.com\"}",
	    suffix);
	stack_http("POST", "/users", headers, body, &a);
	cr_assert_eq(a.status, 201, "%s", a.body);
	snprintf(body, sizeof(body),
	    "{\"name\":\"Once\",\"email\":\"\xc3\xa4"
	    "bc%s@example.com\"}",
	    suffix);
	stack_http("POST", "/users", headers, body, &b);
	cr_assert_eq(b.status, 409, "%s", b.body);
	cr_assert_str_eq(json_string_value(json_object_get(b.json, "message")),
	    "Idempotency-Key was already used with a different request");
	http_response_free(&a);
	http_response_free(&b);
}

#define RACERS 8
static char race_email[96];

static void *
race_create(void *arg)
{
	http_response r;
	create_user("Racer", race_email, &r);
	*(long *) arg = r.status;
	http_response_free(&r);
	return NULL;
}

Test(users, concurrent_creates_with_one_email_give_one_201_and_the_rest_409, .timeout = 30)
{
	stack_unique(race_email, sizeof(race_email), "race-");
	strcat(race_email, "@example.com");
	pthread_t threads[RACERS];
	long statuses[RACERS];
	for (int i = 0; i < RACERS; i++)
		pthread_create(&threads[i], NULL, race_create, &statuses[i]);
	int created = 0, conflicts = 0;
	for (int i = 0; i < RACERS; i++) {
		pthread_join(threads[i], NULL);
		created += statuses[i] == 201;
		conflicts += statuses[i] == 409;
	}
	cr_assert_eq(created, 1, "%d creates succeeded", created);
	cr_assert_eq(conflicts, RACERS - 1);
}

Test(users, unknown_and_invalid_ids)
{
	http_response r;
	stack_http("GET", "/users/9223372036854775807", NULL, NULL, &r);
	cr_assert_eq(r.status, 404, "%s", r.body);
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "message")), "user 9223372036854775807 not found");
	http_response_free(&r);
	const char *bad[] = {"/users/0", "/users/-4"};
	for (size_t i = 0; i < 2; i++) {
		stack_http("GET", bad[i], NULL, NULL, &r);
		stack_assert_messages(&r, 400, 1, (const char *const[]){"id must be a positive integer"});
		http_response_free(&r);
	}
	stack_http("GET", "/users/99999999999999999999", NULL, NULL, &r);
	cr_assert_eq(r.status, 400);
	http_response_free(&r);
}

static redisContext *
redis(void)
{
	int port = 0;
	cr_assert_eq(sscanf(getenv("REDIS_URL"), "redis://127.0.0.1:%d", &port), 1);
	redisContext *c = redisConnect("127.0.0.1", port);
	cr_assert(c != NULL && c->err == 0);
	return c;
}

Test(users, a_get_after_a_create_is_cached_and_equals_the_uncached_answer)
{
	char email[96], path[64], key[64];
	stack_unique(email, sizeof(email), "cached-");
	strcat(email, "@example.com");
	http_response r, first, second, third;
	long long id = create_user("Cached", email, &r);
	cr_assert_eq(r.status, 201);
	snprintf(path, sizeof(path), "/users/%lld", id);
	snprintf(key, sizeof(key), "user:%lld", id);
	redisContext *c = redis();
	redisReply *rep = redisCommand(c, "EXISTS %s", key);
	cr_assert_eq(rep->integer, 0, "not cached before a read");
	freeReplyObject(rep);

	stack_http("GET", path, NULL, NULL, &first); /* miss: fills */
	rep = redisCommand(c, "TTL %s", key);
	cr_assert(rep->integer > 0 && rep->integer <= 300, "cached with the configured TTL: %lld", rep->integer);
	freeReplyObject(rep);
	stack_http("GET", path, NULL, NULL, &second); /* hit */
	freeReplyObject(redisCommand(c, "DEL %s", key));
	stack_http("GET", path, NULL, NULL, &third); /* miss again */
	cr_assert_eq(first.status, 200);
	cr_assert_str_eq(second.body, first.body);
	cr_assert_str_eq(third.body, first.body);
	cr_assert_str_eq(first.body, r.body);
	redisFree(c);
	http_response_free(&r);
	http_response_free(&first);
	http_response_free(&second);
	http_response_free(&third);
}

Test(users, an_idempotency_key_replays_the_first_result_and_refuses_another_body)
{
	char email[96], key[96], header[160], body[256];
	stack_unique(email, sizeof(email), "idem-");
	strcat(email, "@example.com");
	snprintf(header, sizeof(header), "Idempotency-Key: %s", stack_unique(key, sizeof(key), "key-"));
	const char *headers[] = {"Content-Type: application/json", header, NULL};
	snprintf(body, sizeof(body), "{\"name\":\"Once\",\"email\":\"%s\"}", email);
	http_response a, b, c;
	stack_http("POST", "/users", headers, body, &a);
	stack_http("POST", "/users", headers, body, &b);
	cr_assert_eq(a.status, 201, "%s", a.body);
	cr_assert_eq(b.status, 201, "the repeat gets the first result: %s", b.body);
	cr_assert_str_eq(b.body, a.body);
	snprintf(body, sizeof(body), "{\"name\":\"Other\",\"email\":\"%s\"}", email);
	stack_http("POST", "/users", headers, body, &c);
	cr_assert_eq(c.status, 409, "%s", c.body);
	cr_assert_str_eq(json_string_value(json_object_get(c.json, "message")),
	    "Idempotency-Key was already used with a different request");
	http_response_free(&a);
	http_response_free(&b);
	http_response_free(&c);
}

Test(users, each_create_publishes_exactly_one_user_created_event, .timeout = 60)
{
	char queue[96];
	stack_unique(queue, sizeof(queue), "test.events.");
	amqp_connection_state_t conn = event_consumer_open(queue, false);
	cr_assert_not_null(conn);
	enum { N = 3 };
	long long ids[N];
	char rids[N][96];
	for (int i = 0; i < N; i++) {
		char email[96], header[160];
		stack_unique(email, sizeof(email), "event-");
		strcat(email, "@example.com");
		snprintf(header, sizeof(header), "X-Request-Id: %s", stack_unique(rids[i], sizeof(rids[i]), "rid-"));
		char body[256];
		snprintf(body, sizeof(body), "{\"name\":\"Event %d\",\"email\":\"%s\"}", i, email);
		http_response r;
		stack_http(
		    "POST", "/users", (const char *const[]){"Content-Type: application/json", header, NULL}, body, &r);
		cr_assert_eq(r.status, 201);
		ids[i] = json_integer_value(json_object_get(r.json, "id"));
		http_response_free(&r);
	}
	int seen[N] = {0};
	int total   = 0;
	/* Other tests create users too: count only ours, and keep listening a
	 * little after the last to catch a duplicate. */
	for (int64_t deadline = rpc_clock_ms() + 20000; rpc_clock_ms() < deadline;) {
		received_event ev;
		if (!event_consumer_next(conn, total < N ? (int) (deadline - rpc_clock_ms()) : 700, &ev))
			break;
		cr_assert_not_null(ev.event, "the body decodes as events.UserCreated");
		for (int i = 0; i < N; i++) {
			if (ev.event->user->id != ids[i])
				continue;
			seen[i]++;
			total++;
			cr_assert_str_eq(ev.content_type, "application/x-protobuf");
			cr_assert_str_eq(ev.type, TOPOLOGY_USER_CREATED_TYPE);
			cr_assert_str_eq(ev.app_id, "user-svc");
			cr_assert_eq(ev.delivery_mode, 2);
			cr_assert_str_eq(ev.message_id, ev.event->event_id);
			cr_assert_str_eq(ev.request_id, rids[i]);
			cr_assert_str_eq(ev.event->request_id, rids[i]);
			char name[32];
			snprintf(name, sizeof(name), "Event %d", i);
			cr_assert_str_eq(ev.event->user->name, name);
			cr_assert(ev.event->occurred_at != NULL && ev.event->occurred_at->seconds > 0);
		}
		events__user_created__free_unpacked(ev.event, NULL);
	}
	for (int i = 0; i < N; i++)
		cr_assert_eq(seen[i], 1, "user %lld: %d events", ids[i], seen[i]);
	event_consumer_close(conn, queue, false);
}
