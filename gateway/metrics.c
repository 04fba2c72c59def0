/* metrics.h: atomic counters, rendered on demand. */
#include "metrics.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buffer.h"

#define MAX_ROUTES (ROUTES_MAX + 1) /* the table's routes, and one slot for "no route" */
#define STATUS_MIN 100
#define STATUS_COUNT 500 /* 100..599 */
#define RPC_CODES 17

/* Upper bounds of the latency buckets, in milliseconds (le, +Inf last). */
static const int64_t bucket_ms[] = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000};
#define BUCKETS (sizeof(bucket_ms) / sizeof(bucket_ms[0]))

static _Atomic uint64_t requests[MAX_ROUTES][STATUS_COUNT];
static _Atomic uint64_t latency[MAX_ROUTES][BUCKETS + 1]; /* per bucket, not cumulative */
static _Atomic uint64_t latency_sum_ms[MAX_ROUTES];
static _Atomic uint64_t rpc_errors[CONTRACT_SERVICES_MAX][RPC_CODES];
static _Atomic uint64_t connection_turns;

static size_t
route_slot(const route *r)
{
	size_t routes_count;
	const route *routes = routes_table(&routes_count);
	size_t i            = r != NULL ? (size_t) (r - routes) : routes_count;
	return i < MAX_ROUTES ? i : MAX_ROUTES - 1;
}

void
metrics_observe_request(const route *r, int status, int64_t ms)
{
	size_t slot = route_slot(r);
	if (status >= STATUS_MIN && status < STATUS_MIN + STATUS_COUNT)
		atomic_fetch_add_explicit(&requests[slot][status - STATUS_MIN], 1, memory_order_relaxed);
	size_t b = 0;
	while (b < BUCKETS && ms > bucket_ms[b])
		b++;
	atomic_fetch_add_explicit(&latency[slot][b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&latency_sum_ms[slot], (uint64_t) (ms > 0 ? ms : 0), memory_order_relaxed);
}

void
metrics_count_rpc_error(size_t s, rpc_code code)
{
	if (s < contract_services_count && (int) code > 0 && (int) code < RPC_CODES)
		atomic_fetch_add_explicit(&rpc_errors[s][code], 1, memory_order_relaxed);
}

void
metrics_count_connection_turn(void)
{
	atomic_fetch_add_explicit(&connection_turns, 1, memory_order_relaxed);
}

/* The route label: "GET /users/{id}", or "none" for unmatched paths. */
static void
route_label(size_t slot, char *out, size_t len)
{
	size_t routes_count;
	const route *routes = routes_table(&routes_count);
	if (slot < routes_count)
		snprintf(out, len, "%s %s", routes[slot].method, routes[slot].path);
	else
		snprintf(out, len, "none");
}

static void
render_requests(buffer *t)
{
	char label[128];
	size_t routes_count;
	routes_table(&routes_count);
	buffer_printf(t, "# HELP gateway_http_requests_total HTTP requests answered, by route and status.\n"
	                 "# TYPE gateway_http_requests_total counter\n");
	for (size_t slot = 0; slot <= routes_count && slot < MAX_ROUTES; slot++) {
		route_label(slot, label, sizeof(label));
		for (int s = 0; s < STATUS_COUNT; s++) {
			uint64_t n = atomic_load_explicit(&requests[slot][s], memory_order_relaxed);
			if (n > 0)
				buffer_printf(t, "gateway_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
				    label, s + STATUS_MIN, (unsigned long long) n);
		}
	}
	buffer_printf(t, "# HELP gateway_http_request_duration_seconds Time from request to response, by route.\n"
	                 "# TYPE gateway_http_request_duration_seconds histogram\n");
	for (size_t slot = 0; slot <= routes_count && slot < MAX_ROUTES; slot++) {
		uint64_t count = 0;
		for (size_t b = 0; b <= BUCKETS; b++)
			count += atomic_load_explicit(&latency[slot][b], memory_order_relaxed);
		if (count == 0)
			continue;
		route_label(slot, label, sizeof(label));
		uint64_t cumulative = 0;
		for (size_t b = 0; b <= BUCKETS; b++) {
			cumulative += atomic_load_explicit(&latency[slot][b], memory_order_relaxed);
			if (b < BUCKETS)
				buffer_printf(t,
				    "gateway_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
				    label, (double) bucket_ms[b] / 1000.0, (unsigned long long) cumulative);
			else
				buffer_printf(t,
				    "gateway_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
				    label, (unsigned long long) cumulative);
		}
		buffer_printf(t, "gateway_http_request_duration_seconds_sum{route=\"%s\"} %.3f\n", label,
		    (double) atomic_load_explicit(&latency_sum_ms[slot], memory_order_relaxed) / 1000.0);
		buffer_printf(t, "gateway_http_request_duration_seconds_count{route=\"%s\"} %llu\n", label,
		    (unsigned long long) cumulative);
	}
	buffer_printf(t, "# HELP gateway_rpc_errors_total RPCs to a service that did not end OK, by gRPC code.\n"
	                 "# TYPE gateway_rpc_errors_total counter\n");
	for (int s = 0; (size_t) s < contract_services_count; s++) {
		for (int c = 1; c < RPC_CODES; c++) {
			uint64_t n = atomic_load_explicit(&rpc_errors[s][c], memory_order_relaxed);
			if (n > 0)
				buffer_printf(t, "gateway_rpc_errors_total{service=\"%s\",code=\"%s\"} %llu\n",
				    routes_service_name((size_t) s), rpc_code_name((rpc_code) c),
				    (unsigned long long) n);
		}
	}
}

/* A stat name is a Prometheus name: [a-zA-Z_][a-zA-Z0-9_]*. */
static bool
valid_name(const char *name)
{
	if (name == NULL || name[0] == '\0' || (name[0] >= '0' && name[0] <= '9'))
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == strlen(name);
}

/* The replica that answered: with several, each scrape may reach another,
 * and a counter without it would seem to reset. Label-safe characters only. */
static const char *
instance_label(const Health__HealthReply *h)
{
	static _Thread_local char label[128];
	const char *in = h->instance != NULL ? h->instance : "";
	size_t j       = 0;
	for (; in[j] != '\0' && j + 1 < sizeof(label); j++)
		label[j] = (in[j] == '"' || in[j] == '\\' || (unsigned char) in[j] < 0x20) ? '_' : in[j];
	label[j] = '\0';
	return label;
}

/* Services' stats, grouped by name as the format requires: each family's
 * HELP and TYPE once, then its samples from every service. */
static void
render_services(buffer *t, Health__HealthReply *const health[CONTRACT_SERVICES_MAX])
{
	buffer_printf(
	    t, "# HELP service_up Whether the service answered its Health method.\n# TYPE service_up gauge\n");
	for (int s = 0; (size_t) s < contract_services_count; s++)
		buffer_printf(t, "service_up{service=\"%s\"} %d\n", routes_service_name((size_t) s), health[s] != NULL);
	for (int s = 0; (size_t) s < contract_services_count; s++) {
		for (size_t i = 0; health[s] != NULL && i < health[s]->n_stats; i++) {
			const Health__Stat *first = health[s]->stats[i];
			if (!valid_name(first->name) || strcmp(first->name, "up") == 0)
				continue; /* "up" is the gateway's own service_up */
			/* Printed already, with an earlier service or stat? */
			bool seen = false;
			for (int ps = 0; ps <= s && !seen; ps++)
				for (size_t pi = 0;
				     health[ps] != NULL && pi < (ps == s ? i : health[ps]->n_stats) && !seen; pi++)
					seen = strcmp(health[ps]->stats[pi]->name, first->name) == 0;
			if (seen)
				continue;
			const char *help = first->help != NULL ? first->help : "";
			buffer_printf(t, "# HELP service_%s %.*s\n# TYPE service_%s %s\n", first->name,
			    (int) strcspn(help, "\\\n"), help, first->name, first->gauge ? "gauge" : "counter");
			for (int os = s; (size_t) os < contract_services_count; os++)
				for (size_t oi = 0; health[os] != NULL && oi < health[os]->n_stats; oi++)
					if (strcmp(health[os]->stats[oi]->name, first->name) == 0) {
						buffer_printf(t, "service_%s{service=\"%s\",instance=\"%s\"} %llu\n",
						    first->name, routes_service_name((size_t) os),
						    instance_label(health[os]),
						    (unsigned long long) health[os]->stats[oi]->value);
						break; /* a name twice in one reply: the first only */
					}
		}
	}
}

static void
render_connections(buffer *t, long open_connections, long workers)
{
	buffer_printf(t,
	    "# HELP gateway_http_connections HTTP connections held by a worker thread (at most WORKERS; "
	    "connections waiting for one are not counted).\n"
	    "# TYPE gateway_http_connections gauge\n"
	    "gateway_http_connections %ld\n"
	    "# HELP gateway_http_workers HTTP worker threads (WORKERS).\n"
	    "# TYPE gateway_http_workers gauge\n"
	    "gateway_http_workers %ld\n"
	    "# HELP gateway_http_connection_turns_total Answers that closed their connection because every "
	    "worker was held, so that waiting clients got a turn.\n"
	    "# TYPE gateway_http_connection_turns_total counter\n"
	    "gateway_http_connection_turns_total %llu\n",
	    open_connections, workers,
	    (unsigned long long) atomic_load_explicit(&connection_turns, memory_order_relaxed));
}

char *
metrics_render(Health__HealthReply *const health[CONTRACT_SERVICES_MAX], long open_connections, long workers)
{
	/* Appends unchecked: a failed one sticks, and steal then says NULL. */
	buffer t = BUFFER_INIT;
	render_requests(&t);
	render_connections(&t, open_connections, workers);
	render_services(&t, health);
	return buffer_steal(&t, NULL);
}
