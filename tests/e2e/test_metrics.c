/* GET /metrics end to end: the gateway's request counters and histogram,
 * its RPC error counters, and each real service's stats (cache, outbox,
 * consumer) in Prometheus text format. */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stack.h"

static const char *const json_headers[] = {"Content-Type: application/json", NULL};

/* The value of the sample line whose series (name and labels) is `series`
 * exactly, or, when series leaves its label list open ("name{a=\"b\""),
 * the first one with those labels first; -1 when there is none. */
static double
sample(const char *text, const char *series)
{
	size_t n  = strlen(series);
	bool open = n > 0 && series[n - 1] != '}';
	for (const char *line = text; line != NULL && *line != '\0';) {
		if (strncmp(line, series, n) == 0) {
			const char *rest = line + n;
			if (open && *rest == ',')
				rest = strchr(rest, '}') != NULL ? strchr(rest, '}') + 1 : rest;
			else if (open && *rest == '}')
				rest++;
			if (*rest == ' ')
				return strtod(rest + 1, NULL);
		}
		line = strchr(line, '\n');
		line = line != NULL ? line + 1 : NULL;
	}
	return -1;
}

static void
scrape(http_response *r)
{
	stack_http("GET", "/metrics", NULL, NULL, r);
	cr_assert_eq(r->status, 200, "%s", r->body);
	char type[96];
	cr_assert_str_eq(
	    http_header(r, "Content-Type", type, sizeof(type)), "text/plain; version=0.0.4; charset=utf-8");
}

/* Every family's TYPE is given once, before its samples: what Prometheus's
 * parser insists on. */
static void
assert_families_well_formed(const char *text)
{
	char seen[64][96];
	int n_seen = 0;
	for (const char *line = text; *line != '\0';) {
		const char *end = strchr(line, '\n');
		cr_assert(end != NULL, "every line ends with a newline");
		char name[96];
		if (sscanf(line, "# TYPE %95s", name) == 1) {
			for (int i = 0; i < n_seen; i++)
				cr_assert_str_neq(seen[i], name, "TYPE %s given twice", name);
			cr_assert_lt(n_seen, 64);
			snprintf(seen[n_seen++], sizeof(seen[0]), "%s", name);
		} else if (line[0] != '#') {
			size_t len = strcspn(line, "{ ");
			bool known = false;
			for (int i = 0; i < n_seen && !known; i++) {
				size_t k = strlen(seen[i]);
				known    = strncmp(line, seen[i], k) == 0 &&
				        (len == k || strncmp(line + k, "_bucket", 7) == 0 ||
				            strncmp(line + k, "_sum", 4) == 0 || strncmp(line + k, "_count", 6) == 0);
			}
			cr_assert(known, "sample before its TYPE: %.*s", (int) (end - line), line);
		}
		line = end + 1;
	}
}

Test(metrics, requests_latencies_rpc_errors_and_service_stats_are_exposed, .timeout = 60)
{
	http_response before;
	scrape(&before);
	double created_before =
	    sample(before.body, "gateway_http_requests_total{route=\"POST /users\",status=\"201\"}");
	double hits_before = sample(before.body, "service_cache_hits_total{service=\"user-svc\"");
	double not_found_before =
	    sample(before.body, "gateway_rpc_errors_total{service=\"user-svc\",code=\"NOT_FOUND\"}");
	cr_assert_geq(hits_before, 0, "user-svc reports its cache hits:\n%s", before.body);
	http_response_free(&before);

	char email[96], body[256], path[64];
	stack_unique(email, sizeof(email), "metrics-");
	strcat(email, "@example.com");
	snprintf(body, sizeof(body), "{\"name\":\"Metrics\",\"email\":\"%s\"}", email);
	http_response r;
	stack_http("POST", "/users", json_headers, body, &r);
	cr_assert_eq(r.status, 201, "%s", r.body);
	snprintf(path, sizeof(path), "/users/%lld", (long long) json_integer_value(json_object_get(r.json, "id")));
	http_response_free(&r);
	for (int i = 0; i < 3; i++) { /* a miss that fills, then hits */
		stack_http("GET", path, NULL, NULL, &r);
		cr_assert_eq(r.status, 200);
		http_response_free(&r);
	}
	stack_http("GET", "/users/999999999", NULL, NULL, &r);
	cr_assert_eq(r.status, 404);
	http_response_free(&r);

	/* The event is counted by user-svc once confirmed and by order-svc once
	 * consumed: both happen after the 201, so wait for them. */
	http_response after = {0};
	for (int tries = 0; tries < 100; tries++) {
		http_response_free(&after);
		scrape(&after);
		if (sample(after.body, "service_events_consumed_total{service=\"order-svc\"") >= 1 &&
		    sample(after.body, "service_outbox_backlog{service=\"user-svc\"") == 0)
			break;
		nanosleep(&(struct timespec){.tv_nsec = 100 * 1000000L}, NULL);
	}
	const char *t = after.body;
	cr_assert_eq(sample(t, "gateway_http_requests_total{route=\"POST /users\",status=\"201\"}"),
	    (created_before > 0 ? created_before : 0) + 1, "%s", t);
	cr_assert_geq(sample(t, "gateway_http_requests_total{route=\"GET /users/{id}\",status=\"404\"}"), 1);
	cr_assert_eq(sample(t, "gateway_rpc_errors_total{service=\"user-svc\",code=\"NOT_FOUND\"}"),
	    (not_found_before > 0 ? not_found_before : 0) + 1, "%s", t);
	cr_assert_geq(sample(t, "service_cache_hits_total{service=\"user-svc\""), hits_before + 2, "%s", t);
	cr_assert_geq(sample(t, "service_cache_misses_total{service=\"user-svc\""), 1);
	cr_assert_geq(sample(t, "service_events_published_total{service=\"user-svc\""), 1, "%s", t);
	cr_assert_geq(sample(t, "service_events_consumed_total{service=\"order-svc\""), 1, "%s", t);
	cr_assert_eq(sample(t, "service_outbox_backlog{service=\"user-svc\""), 0, "%s", t);
	cr_assert_eq(sample(t, "service_up{service=\"user-svc\""), 1);
	cr_assert_eq(sample(t, "service_up{service=\"order-svc\""), 1);
	/* Service counters name the replica that answered: host and pid. */
	char host[256] = "", series[512];
	gethostname(host, sizeof(host));
	snprintf(series, sizeof(series), "service_cache_hits_total{service=\"user-svc\",instance=\"%s:%d\"}", host,
	    (int) stack_pid("user-svc"));
	cr_assert_geq(sample(t, series), hits_before + 2, "%s in\n%s", series, t);
	/* The histogram: buckets are cumulative and +Inf equals the count. */
	double inf   = sample(t, "gateway_http_request_duration_seconds_bucket{route=\"GET /users/{id}\",le=\"+Inf\"}");
	double count = sample(t, "gateway_http_request_duration_seconds_count{route=\"GET /users/{id}\"}");
	double fast = sample(t, "gateway_http_request_duration_seconds_bucket{route=\"GET /users/{id}\",le=\"0.001\"}");
	cr_assert_geq(inf, 4);
	cr_assert_eq(inf, count);
	cr_assert(fast >= 0 && fast <= inf);
	assert_families_well_formed(t);
	http_response_free(&after);
}

Test(metrics, a_stopped_service_shows_as_down_and_its_errors_are_counted, .timeout = 60)
{
	cr_assert_eq(stack_stop("order-svc"), 0);
	http_response r;
	stack_http("GET", "/orders/user/1", NULL, NULL, &r);
	cr_assert_eq(r.status, 503, "%s", r.body);
	http_response_free(&r);
	scrape(&r);
	cr_assert_eq(sample(r.body, "service_up{service=\"order-svc\""), 0, "%s", r.body);
	cr_assert_eq(sample(r.body, "service_up{service=\"user-svc\""), 1);
	cr_assert_geq(
	    sample(r.body, "gateway_rpc_errors_total{service=\"order-svc\",code=\"UNAVAILABLE\"}"), 1, "%s", r.body);
	cr_assert_geq(sample(r.body, "service_cache_hits_total{service=\"user-svc\""), 0,
	    "the other service's stats are still there");
	assert_families_well_formed(r.body);
	http_response_free(&r);
	stack_start("order-svc");
}
