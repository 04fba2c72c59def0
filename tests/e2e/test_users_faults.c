/* user-svc when a dependency goes away and comes back: RabbitMQ stopped
 * (creates still succeed; every event arrives after it returns), RabbitMQ
 * restarted while users are created (each event arrives once) and Redis
 * stopped (reads and writes keep working; the cache is used again after).
 * Runs its tests one at a time: they stop shared servers. */
#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event_consumer.h"
#include "order_helpers.h"
#include "procs.h"
#include "rpc/envelope.h"
#include "stack.h"
#include "svc/broker.h"
#include "svc/topology.h"

static const char *const json_headers[] = {"Content-Type: application/json", NULL};

/* Whatever a test stopped runs again afterwards, even when it failed. */
static void
restart_servers(void)
{
	stack_servers("start-one", "redis");
	stack_servers("start-one", "rabbitmq");
}

static long long
create_user(const char *prefix, long *status)
{
	char email[96], body[256];
	stack_unique(email, sizeof(email), prefix);
	strcat(email, "@example.com");
	snprintf(body, sizeof(body), "{\"name\":\"Fault test\",\"email\":\"%s\"}", email);
	http_response r;
	stack_http("POST", "/users", json_headers, body, &r);
	*status      = r.status;
	long long id = r.json != NULL ? json_integer_value(json_object_get(r.json, "id")) : 0;
	http_response_free(&r);
	return id;
}

/* n creates, each of which must answer 201 (`while` says in what state). */
static void
create_users(const char *prefix, long long *ids, int n, const char *while_)
{
	for (int i = 0; i < n; i++) {
		long status;
		ids[i] = create_user(prefix, &status);
		cr_assert_eq(status, 201, "create %d %s got %ld", i, while_, status);
	}
}

Test(faults, creates_succeed_with_rabbitmq_stopped_and_every_event_arrives_after, .timeout = 180,
    .fini = restart_servers)
{
	/* A durable queue, so it and the events routed to it outlive the
	 * broker's restart. */
	char queue[96];
	stack_unique(queue, sizeof(queue), "test.outage.");
	amqp_connection_state_t conn = event_consumer_open(queue, true);
	cr_assert_not_null(conn);
	event_consumer_close(conn, queue, false);

	cr_assert_eq(stack_servers("stop-one", "rabbitmq"), 0);
	enum { N = 100 };
	long long ids[N];
	create_users("outage-", ids, N, "with the broker down");
	cr_assert_eq(stack_servers("start-one", "rabbitmq"), 0);

	conn = event_consumer_open(queue, true);
	cr_assert_not_null(conn);
	int seen[N] = {0}, total = 0;
	for (int64_t deadline = rpc_clock_ms() + 90000; rpc_clock_ms() < deadline;) {
		received_event ev;
		if (!event_consumer_next(conn, total < N ? (int) (deadline - rpc_clock_ms()) : 1000, &ev))
			break;
		for (int i = 0; ev.event != NULL && i < N; i++) {
			if (ev.event->user->id == ids[i]) {
				seen[i]++;
				total++;
			}
		}
		events__user_created__free_unpacked(ev.event, NULL);
	}
	event_consumer_close(conn, queue, true);
	for (int i = 0; i < N; i++)
		cr_assert_eq(seen[i], 1, "user %lld: %d events after the outage", ids[i], seen[i]);
}

static long long
redis_exists(const char *key)
{
	int port = 0;
	sscanf(getenv("REDIS_URL"), "redis://127.0.0.1:%d", &port);
	redisContext *c = redisConnect("127.0.0.1", port);
	cr_assert(c != NULL && c->err == 0, "Redis is back");
	redisReply *r = redisCommand(c, "EXISTS %s", key);
	long long n   = r != NULL ? r->integer : -1;
	freeReplyObject(r);
	redisFree(c);
	return n;
}

Test(faults, reads_and_writes_keep_working_with_redis_stopped, .timeout = 120, .fini = restart_servers)
{
	long status;
	long long cached = create_user("redis-a-", &status);
	cr_assert_eq(status, 201);
	char path[64], key[64];
	snprintf(path, sizeof(path), "/users/%lld", cached);
	http_response before;
	stack_http("GET", path, NULL, NULL, &before); /* now in the cache */
	cr_assert_eq(before.status, 200);

	cr_assert_eq(stack_servers("stop-one", "redis"), 0);
	for (int i = 0; i < 5; i++) {
		http_response r;
		stack_http("GET", path, NULL, NULL, &r);
		cr_assert_eq(r.status, 200, "GET with Redis down: %ld %s", r.status, r.body);
		cr_assert_str_eq(r.body, before.body);
		http_response_free(&r);
	}
	long long fresh = create_user("redis-b-", &status);
	cr_assert_eq(status, 201, "POST with Redis down");
	snprintf(path, sizeof(path), "/users/%lld", fresh);
	http_response r;
	stack_http("GET", path, NULL, NULL, &r);
	cr_assert_eq(r.status, 200);
	http_response_free(&r);

	cr_assert_eq(stack_servers("start-one", "redis"), 0);
	/* Used again without a restart, once the reconnect backoff allows. */
	snprintf(key, sizeof(key), "user:%lld", fresh);
	bool filled = false;
	for (int i = 0; i < 100 && !filled; i++) {
		stack_http("GET", path, NULL, NULL, &r);
		cr_assert_eq(r.status, 200);
		http_response_free(&r);
		filled = redis_exists(key) == 1;
		if (!filled)
			nanosleep(&(struct timespec){.tv_nsec = 100 * 1000000L}, NULL);
	}
	cr_assert(filled, "the cache is filled again after Redis returned");
	http_response_free(&before);
}

/* Users created at a steady rate by a thread of their own while RabbitMQ
 * restarts: every status and id, and when each create was answered. */
typedef struct steady_creates {
	volatile int stop;
	int n, failed;
	long long ids[2000];
} steady_creates;

static void *
create_steadily(void *arg)
{
	steady_creates *s = arg;
	while (!s->stop && s->n < (int) (sizeof(s->ids) / sizeof(s->ids[0]))) {
		long status;
		long long id = create_user("restart-", &status);
		if (status == 201)
			s->ids[s->n++] = id;
		else
			s->failed++;
		nanosleep(&(struct timespec){.tv_nsec = 50 * 1000000L}, NULL); /* about 20 a second */
	}
	return NULL;
}

static int
times_logged(long long id)
{
	char needle[96];
	snprintf(needle, sizeof(needle), "user_created id=%lld email=", id);
	return helpers_log_count(needle);
}

Test(faults, a_rabbitmq_restart_mid_stream_delivers_every_event_once, .timeout = 180, .fini = restart_servers)
{
	steady_creates s = {0};
	pthread_t creator;
	pthread_create(&creator, NULL, create_steadily, &s);
	nanosleep(&(struct timespec){.tv_sec = 1}, NULL);
	int stop_ok  = stack_servers("stop-one", "rabbitmq");
	int start_ok = stack_servers("start-one", "rabbitmq");
	int64_t back = rpc_clock_ms();
	nanosleep(&(struct timespec){.tv_sec = 1}, NULL);
	s.stop = 1;
	pthread_join(creator, NULL);
	cr_assert_eq(stop_ok, 0, "RabbitMQ stopped");
	cr_assert_eq(start_ok, 0, "RabbitMQ started again");

	/* Every event reaches order-svc (the outbox relay and the consumer
	 * reconnect by themselves), within a bound. */
	int received = 0;
	for (int64_t deadline = back + 60000; received < s.n && rpc_clock_ms() < deadline;) {
		received = 0;
		for (int i = 0; i < s.n; i++)
			received += times_logged(s.ids[i]) > 0;
		if (received < s.n)
			nanosleep(&(struct timespec){.tv_nsec = 200 * 1000000L}, NULL);
	}
	int64_t recovered = rpc_clock_ms() - back;
	/* Late duplicates (a redelivery, a republish) would show by now. */
	nanosleep(&(struct timespec){.tv_nsec = 500 * 1000000L}, NULL);
	int twice = 0;
	for (int i = 0; i < s.n; i++) {
		int n = times_logged(s.ids[i]);
		cr_assert_neq(n, 0, "user %lld: its event never reached order-svc", s.ids[i]);
		twice += n > 1;
	}
	cr_log_info("broker restart: %d users created, %d creates failed, %d events received, %d logged twice, "
	            "all in %.1f s after RabbitMQ was back",
	    s.n, s.failed, received, twice, recovered / 1000.0);
	cr_assert_eq(s.failed, 0, "every create succeeded through the restart");
	cr_assert_eq(twice, 0, "%d events were logged more than once", twice);
}

/* A queue that refuses user_created events: RabbitMQ nacks each publish.
 * The relay keeps every refused event in the outbox and takes a new
 * connection, since the channel that got a nack may go on refusing every
 * publish (RabbitMQ 3.10's quorum queue client after the leader's node went
 * down: user-svc/outbox.c; the RabbitMQ failover drill); once the queue is
 * gone, each event reaches order-svc, once. The refusing queue is a classic
 * one with x-max-length 0 and x-overflow reject-publish (RabbitMQ's queue
 * length guide: a publish it refuses is nacked). */
Test(faults, events_a_queue_refuses_stay_in_the_outbox_and_the_relay_reconnects, .timeout = 120)
{
	char err[256], queue[96];
	stack_unique(queue, sizeof(queue), "test.refusing.");
	amqp_connection_state_t admin = broker_connect(getenv("AMQP_URL"), 5000, 0, err, sizeof(err));
	cr_assert_not_null(admin, "%s", err);
	amqp_table_entry_t args[] = {
	    {.key = amqp_cstring_bytes("x-max-length"), .value = {.kind = AMQP_FIELD_KIND_I32, .value.i32 = 0}},
	    {.key      = amqp_cstring_bytes("x-overflow"),
	        .value = {.kind = AMQP_FIELD_KIND_UTF8, .value.bytes = amqp_cstring_bytes("reject-publish")}},
	};
	/* Exclusive: it goes with this connection. */
	amqp_queue_declare(admin, 1, amqp_cstring_bytes(queue), 0, 0, 1, 1, (amqp_table_t){2, args});
	cr_assert(broker_reply_ok(admin, "queue.declare", err, sizeof(err)), "%s", err);
	amqp_queue_bind(admin, 1, amqp_cstring_bytes(queue), amqp_cstring_bytes(TOPOLOGY_EVENTS_EXCHANGE),
	    amqp_cstring_bytes(TOPOLOGY_USER_CREATED_KEY), amqp_empty_table);
	cr_assert(broker_reply_ok(admin, "queue.bind", err, sizeof(err)), "%s", err);

	const char *log = stack_user_log();
	enum { N = 3 };
	long long ids[N];
	create_users("refused-", ids, N, "with a refusing queue");
	/* Refused, kept, the connection dropped: a second refusal came on a
	 * new connection (the relay's backoff doubles from 250 ms while the
	 * queue refuses). */
	const char *said = "outbox_broker_down reason=\"the broker refused (nacked)";
	long refused     = 0;
	for (int64_t until = rpc_clock_ms() + 15000; refused < 2 && rpc_clock_ms() < until;) {
		nanosleep(&(struct timespec){.tv_nsec = 100 * 1000000L}, NULL);
		refused = procs_log_count(log, said);
	}
	cr_assert_geq(refused, 2, "%ld refusals, each ending its connection (log: %s)", refused, log);

	broker_close(admin); /* the refusing queue goes */
	for (int i = 0; i < N; i++) {
		char needle[96];
		snprintf(needle, sizeof(needle), "user_created id=%lld email=", ids[i]);
		cr_assert_geq(
		    helpers_wait_log(needle, 1, 30000), 1, "user %lld: its event never reached order-svc", ids[i]);
	}
	nanosleep(&(struct timespec){.tv_nsec = 500 * 1000000L}, NULL); /* a late duplicate would show */
	for (int i = 0; i < N; i++)
		cr_assert_eq(times_logged(ids[i]), 1, "user %lld: logged %d times", ids[i], times_logged(ids[i]));
	cr_log_info("refusing queue: %ld refusals, each on a connection of its own", procs_log_count(log, said));
}
