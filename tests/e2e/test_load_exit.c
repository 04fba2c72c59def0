/* A bounded mixed load on the whole system, then SIGTERM to each process:
 * every request answered as it should be and every process exits 0. In the
 * sanitized build (scripts/test runs it with detect_leaks=1) a leak, or any
 * error ASan or UBSan reports, makes that exit status non-zero. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "order_helpers.h"
#include "procs.h"

enum { THREADS = 4, ROUNDS = 200 }; /* 4 requests a round: 3200 in all */

typedef struct client {
	int rounds, wrong;
	long last_status;
	char last_request[80];
} client;

static const char *const json_headers[] = {"Content-Type: application/json", NULL};

/* One request; counts an answer other than want. */
static void
call(client *c, const char *method, const char *path, const char *body, long want, http_response *r)
{
	stack_http(method, path, body != NULL ? json_headers : NULL, body, r);
	if (r->status != want) {
		c->wrong++;
		c->last_status = r->status;
		snprintf(c->last_request, sizeof(c->last_request), "%s %s", method, path);
	}
}

/* Each round: POST /users, GET /users/{id}, POST /orders, GET
 * /orders/user/{id}. No Criterion assertion off the main thread. */
static void *
client_loop(void *arg)
{
	client *c = arg;
	for (c->rounds = 0; c->rounds < ROUNDS; c->rounds++) {
		char email[96], body[256], path[64];
		stack_unique(email, sizeof(email), "load-");
		snprintf(body, sizeof(body), "{\"name\":\"Load\",\"email\":\"%s@example.com\"}", email);
		http_response r;
		call(c, "POST", "/users", body, 201, &r);
		long long id = r.json != NULL ? json_integer_value(json_object_get(r.json, "id")) : 0;
		http_response_free(&r);
		snprintf(path, sizeof(path), "/users/%lld", id);
		call(c, "GET", path, NULL, 200, &r);
		http_response_free(&r);
		snprintf(body, sizeof(body), "{\"userId\":%lld,\"product\":\"Load\",\"price\":12.5}", id);
		call(c, "POST", "/orders", body, 201, &r);
		http_response_free(&r);
		snprintf(path, sizeof(path), "/orders/user/%lld", id);
		call(c, "GET", path, NULL, 200, &r);
		http_response_free(&r);
	}
	return NULL;
}

/* order-svc's log, whole (the others log to this test's stderr); empty
 * when it cannot be read. */
static const char *
order_log(void)
{
	static char text[1 << 20];
	FILE *f  = fopen(stack_order_log(), "r");
	size_t n = f != NULL ? fread(text, 1, sizeof(text) - 1, f) : 0;
	if (f != NULL)
		fclose(f);
	text[n] = '\0';
	return text;
}

/* Every process exits 0 on SIGTERM: a sanitizer's report (a leak at exit
 * included) fails, whoever's objects it names. */
static void
assert_exits_0(const char *name)
{
	int status = stack_stop(name);
	char why[96];
	procs_describe_status(status, why, sizeof(why));
	if (status != 0 && strcmp(name, "order-svc") == 0) {
		/* Its sanitizer's report, into the test's output. */
		const char *text = order_log();
		size_t n         = strlen(text);
		fprintf(stderr, "---- the end of order-svc's log:\n%s\n----\n", n > 8000 ? text + n - 8000 : text);
	}
	cr_assert_eq(status, 0, "%s on SIGTERM after the load: %s", name, why);
}

Test(load, a_mixed_load_then_sigterm_every_process_exits_0, .timeout = 240)
{
	client clients[THREADS] = {0};
	pthread_t threads[THREADS];
	for (int i = 0; i < THREADS; i++)
		pthread_create(&threads[i], NULL, client_loop, &clients[i]);
	int wrong = 0;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(threads[i], NULL);
		wrong += clients[i].wrong;
		if (clients[i].wrong > 0)
			cr_log_info("%s answered %ld", clients[i].last_request, clients[i].last_status);
	}
	cr_log_info("%d requests, %d answered otherwise", THREADS * ROUNDS * 4, wrong);
	cr_assert_eq(wrong, 0, "every request of the load answered as expected");

	/* In the order of a shutdown: the gateway, then the services. */
	assert_exits_0("gateway");
	assert_exits_0("order-svc");
	assert_exits_0("user-svc");
	cr_assert_eq(helpers_log_count("LeakSanitizer"), 0, "order-svc's log has no leak report");
	/* Running again for the suite's own check at its end (stack.c). */
	stack_start("user-svc");
	stack_start("order-svc");
	stack_start("gateway");
}
