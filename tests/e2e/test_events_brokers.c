/* The services' RabbitMQ connections against a real broker (issue 20):
 * AMQP_URL as a list tried in turn (dead brokers first: both services reach
 * the live one), the consumer's queue type (EVENTS_QUEUE_TYPE: a quorum
 * queue really is one; a queue of the other type is a clear error naming
 * the setting, said once, not a loop), and the relay's publishes the broker
 * never confirmed (a frozen broker): their outbox rows stay, and each event
 * arrives once after; brokers that accept TCP and never answer (paused
 * ones) cost each connect pass its bound per element; a SIGTERM during
 * such a pass, or with a publish in flight to a frozen broker, is served
 * within the stop's grace (BROKER_STOP_GRACE_MS), the event kept in the
 * outbox and sent at the next start. The failover across a
 * cluster's nodes is the drill's (tests/failover/rmq_drill.py). Stops and
 * restarts shared processes and servers: one test at a time. */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "order_helpers.h"
#include "procs.h"
#include "rpc/envelope.h"
#include "stack.h"
#include "svc/broker.h"
#include "svc/topology.h"

/* The stack's own AMQP_URL, restored before the processes start again. */
static char original_url[512];

static void
remember_url(void)
{
	snprintf(original_url, sizeof(original_url), "%s", getenv("AMQP_URL"));
}

static void
restart_services(void)
{
	stack_stop("order-svc");
	stack_stop("user-svc");
	stack_start("user-svc");
	stack_start("order-svc");
}

/* "host:port" of the stack's (single) broker, as the services log it. */
static void
live_broker(char *out, size_t len)
{
	char *copy = strdup(original_url);
	struct amqp_connection_info info;
	cr_assert_eq(amqp_parse_url(copy, &info), AMQP_STATUS_OK, "the test servers' AMQP_URL is one URL");
	snprintf(out, len, "%s:%d", info.host, info.port);
	free(copy);
}

/* queue.declare of the consumer's queue from here, as order-svc declares it
 * with type (NULL: no x-queue-type). Returns the broker's reply code, 0 when
 * it took it: a redeclare succeeds only with the queue's own arguments. */
static int
declare_like_order_svc(const char *type)
{
	char err[300];
	amqp_connection_state_t conn = broker_connect(original_url, 5000, 0, err, sizeof(err));
	cr_assert_not_null(conn, "%s", err);
	amqp_table_entry_t args[2] = {
	    {.key      = amqp_cstring_bytes("x-dead-letter-exchange"),
	        .value = {.kind  = AMQP_FIELD_KIND_UTF8,
	            .value.bytes = amqp_cstring_bytes(TOPOLOGY_DEAD_LETTER_EXCHANGE)}},
	    {.key      = amqp_cstring_bytes("x-queue-type"),
	        .value = {.kind = AMQP_FIELD_KIND_UTF8, .value.bytes = amqp_cstring_bytes(type != NULL ? type : "")}},
	};
	amqp_queue_declare(conn, 1, amqp_cstring_bytes(TOPOLOGY_USER_CREATED_QUEUE), 0, 1, 0, 0,
	    (amqp_table_t){type != NULL ? 2 : 1, args});
	int code;
	broker_reply_code(conn, "queue.declare", &code, err, sizeof(err));
	amqp_destroy_connection(conn); /* its channel may be closed by the broker */
	return code;
}

/* Deletes the consumer's queue and its dead-letter queue (order-svc
 * stopped: events for it wait in user-svc's outbox meanwhile, unroutable). */
static void
delete_queues(void)
{
	char err[300];
	amqp_connection_state_t conn = broker_connect(original_url, 5000, 0, err, sizeof(err));
	cr_assert_not_null(conn, "%s", err);
	amqp_queue_delete(conn, 1, amqp_cstring_bytes(TOPOLOGY_USER_CREATED_QUEUE), 0, 0);
	cr_assert(broker_reply_ok(conn, "queue.delete", err, sizeof(err)), "%s", err);
	amqp_queue_delete(conn, 1, amqp_cstring_bytes(TOPOLOGY_USER_CREATED_DLQ), 0, 0);
	cr_assert(broker_reply_ok(conn, "queue.delete", err, sizeof(err)), "%s", err);
	broker_close(conn);
}

/* After a test that changed the queues' type: classic queues again (as
 * every other test expects), the stack's own settings. */
static void
restore_classic_queues(void)
{
	unsetenv("EVENTS_QUEUE_TYPE");
	setenv("AMQP_URL", original_url, 1);
	stack_stop("order-svc");
	delete_queues();
	stack_start("order-svc"); /* declares them classic */
	cr_assert_eq(stack_wait_ready(30000), 0, "order-svc ready again with classic queues");
	cr_assert_eq(declare_like_order_svc(NULL), 0);
}

static int
times_logged(long long id)
{
	char needle[96];
	snprintf(needle, sizeof(needle), "user_created id=%lld email=", id);
	return helpers_log_count(needle);
}

static void
assert_logged_once(long long id, int timeout_ms)
{
	char needle[96];
	snprintf(needle, sizeof(needle), "user_created id=%lld email=", id);
	cr_assert_eq(helpers_wait_log(needle, 1, timeout_ms), 1, "user %lld: its event reached order-svc", id);
}

static void
restore_url(void)
{
	setenv("AMQP_URL", original_url, 1);
	restart_services();
	stack_wait_ready(30000);
}

Test(brokers, a_list_whose_first_brokers_refuse_reaches_the_live_one_for_both_services, .timeout = 120,
    .fini = restore_url)
{
	remember_url();
	char list[1024], live[128];
	live_broker(live, sizeof(live));
	/* Two ports nothing listens on, then the live broker. */
	snprintf(list, sizeof(list), "amqp://guest:guest@127.0.0.1:%d/,amqp://guest:guest@127.0.0.1:%d/,%s",
	    procs_free_port(), procs_free_port(), original_url);
	setenv("AMQP_URL", list, 1);
	int started_before = helpers_log_count("consumer_started");
	restart_services();
	cr_assert_eq(stack_wait_ready(30000), 0, "both services ready with the list");
	char needle[256];
	snprintf(needle, sizeof(needle),
	    "consumer_started queue=" TOPOLOGY_USER_CREATED_QUEUE " type=classic broker=%s", live);
	cr_assert_geq(helpers_wait_log(needle, 1, 10000), 1, "order-svc consumes from the third element, %s", live);
	cr_assert_eq(helpers_log_count("consumer_started"), started_before + 1, "one start, no failed attempt");
	/* user-svc's relay got through too: its events arrive. */
	for (int i = 0; i < 3; i++)
		assert_logged_once(helpers_create_user(NULL, 0), 20000);
}

/* AMQP_URL: three brokers that accept TCP and never answer (paused ones),
 * then the live one. */
static void
silent_brokers_then_live(char *list, size_t len)
{
	int p[3];
	for (int i = 0; i < 3; i++)
		cr_assert_gt(p[i] = procs_silent_port(), 0);
	snprintf(list, len,
	    "amqp://guest:guest@127.0.0.1:%d/,amqp://guest:guest@127.0.0.1:%d/,amqp://guest:guest@127.0.0.1:%d/,%s",
	    p[0], p[1], p[2], original_url);
}

/* The bound of one pass over three silent brokers: BROKER_CONNECT_TIMEOUT_MS
 * each (librabbitmq's own handshake bound, 12 s each, made it 36 s). */
#define SILENT_PASS_MS (3 * BROKER_CONNECT_TIMEOUT_MS)

Test(brokers, silent_brokers_cost_the_attempt_bound_each_and_both_services_reach_the_live_one, .timeout = 180,
    .fini = restore_url)
{
	remember_url();
	char list[1024], live[128], needle[256];
	live_broker(live, sizeof(live));
	silent_brokers_then_live(list, sizeof(list));
	setenv("AMQP_URL", list, 1);
	int warned_before = helpers_log_count("events_queue_classic_on_cluster");
	snprintf(needle, sizeof(needle),
	    "consumer_started queue=" TOPOLOGY_USER_CREATED_QUEUE " type=classic broker=%s", live);
	int started_before = helpers_log_count(needle);
	stack_stop("order-svc");
	stack_stop("user-svc");
	int64_t t0 = rpc_clock_ms();
	stack_start("user-svc");
	stack_start("order-svc");
	/* The consumer's pass, in order-svc's log. */
	cr_assert_geq(helpers_wait_log(needle, started_before + 1, 4 * SILENT_PASS_MS), started_before + 1,
	    "order-svc consumes from %s", live);
	int64_t consumer_ms = rpc_clock_ms() - t0;
	/* The relay's pass: an event of a user created at once arrives. */
	long long id = helpers_create_user(NULL, 0);
	assert_logged_once(id, 4 * SILENT_PASS_MS);
	int64_t relay_ms = rpc_clock_ms() - t0;
	cr_log_info("3 silent brokers then the live one: order-svc consuming after %.1f s, user-svc's event arrived "
	            "after %.1f s (bound %.0f s)",
	    consumer_ms / 1000.0, relay_ms / 1000.0, SILENT_PASS_MS / 1000.0);
	cr_assert_lt(consumer_ms, 2 * SILENT_PASS_MS, "the consumer's pass within its bound (2x): %lld ms",
	    (long long) consumer_ms);
	cr_assert_lt(
	    relay_ms, 2 * SILENT_PASS_MS, "the relay's pass within its bound (2x): %lld ms", (long long) relay_ms);
	/* A list with classic queues: said once, at start. */
	cr_assert_eq(helpers_log_count("events_queue_classic_on_cluster setting=EVENTS_QUEUE_TYPE value=classic"),
	    warned_before + 1, "a classic queue on a list of brokers is warned of once");
}

/* The bound of a stop while a broker answers nothing: the grace left to
 * the broker's thread (BROKER_STOP_GRACE_MS: confirms in flight, the polite
 * close), then its connection is cut; generously, for a noisy 2-core box,
 * 3 s. Before: a publish in flight 6.5-8 s (a 5 s confirm wait, then a 3 s
 * close), a handshake in progress up to its 3 s attempt. */
#define STOP_BOUND_MS 3000

/* SIGTERM to name (a service of the stack): it exits 0 within
 * STOP_BOUND_MS; when says what the broker was doing, for the messages. */
static void
stop_within_bound(const char *name, const char *when)
{
	int64_t t0 = rpc_clock_ms();
	int status = stack_stop(name);
	int64_t ms = rpc_clock_ms() - t0;
	char why[96];
	procs_describe_status(status, why, sizeof(why));
	cr_log_info("%s: SIGTERM %s: %s after %.2f s", name, when, why, ms / 1000.0);
	cr_assert_eq(status, 0, "%s exits 0 on SIGTERM %s: %s", name, when, why);
	cr_assert_lt(ms, STOP_BOUND_MS, "%s stopped within the bound: %lld ms", name, (long long) ms);
}

Test(brokers, a_sigterm_during_a_pass_over_silent_brokers_exits_0_within_the_stop_bound, .timeout = 180,
    .fini = restore_url)
{
	remember_url();
	char list[1024];
	silent_brokers_then_live(list, sizeof(list));
	setenv("AMQP_URL", list, 1);
	int started_before = helpers_log_count("consumer_started");
	restart_services();
	/* Both are in the pass's second element (of 3 s each). */
	nanosleep(&(struct timespec){.tv_sec = 4}, NULL);
	cr_assert_eq(helpers_log_count("consumer_started"), started_before, "the pass is still under way");
	/* A handshake in progress is cut after the grace. */
	stop_within_bound("order-svc", "during a pass");
	stop_within_bound("user-svc", "during a pass");
}

Test(brokers, a_quorum_queue_carries_the_events_and_a_classic_setting_then_is_a_clear_error_said_once, .timeout = 180,
    .fini = restore_classic_queues)
{
	remember_url();
	stack_stop("order-svc");
	delete_queues();
	setenv("EVENTS_QUEUE_TYPE", "quorum", 1);
	stack_start("order-svc");
	cr_assert_eq(stack_wait_ready(30000), 0, "order-svc ready with a quorum queue");
	cr_assert_geq(
	    helpers_wait_log("consumer_started queue=" TOPOLOGY_USER_CREATED_QUEUE " type=quorum", 1, 10000), 1);
	/* The broker's own word: equivalent only as a quorum queue. */
	cr_assert_eq(declare_like_order_svc("quorum"), 0, "the queue is a quorum queue");
	cr_assert_eq(declare_like_order_svc(NULL), AMQP_PRECONDITION_FAILED, "not a classic one");
	for (int i = 0; i < 3; i++)
		assert_logged_once(helpers_create_user(NULL, 0), 20000);

	/* The same queue, order-svc now configured for classic. */
	stack_stop("order-svc");
	int down_before = helpers_log_count("consumer_broker_down");
	setenv("EVENTS_QUEUE_TYPE", "classic", 1);
	stack_start("order-svc");
	const char *said = "consumer_queue_mismatch setting=EVENTS_QUEUE_TYPE value=classic";
	cr_assert_eq(helpers_wait_log(said, 1, 15000), 1, "the mismatch is logged, naming the setting");
	http_response r;
	stack_http("GET", "/readyz", NULL, NULL, &r);
	cr_assert_eq(r.status, 503, "not ready while it cannot consume: %s", r.body);
	cr_assert_not_null(strstr(r.body, "EVENTS_QUEUE_TYPE=classic"), "the detail names the setting: %s", r.body);
	http_response_free(&r);
	/* No loop: still said once a while later (it looks again every 30 s). */
	nanosleep(&(struct timespec){.tv_sec = 3}, NULL);
	cr_assert_eq(helpers_log_count(said), 1, "said once");
	cr_assert_eq(helpers_log_count("consumer_broker_down"), down_before, "not a reconnect loop");
}

Test(brokers, a_classic_queue_with_the_quorum_setting_is_the_same_clear_error, .timeout = 120,
    .fini = restore_classic_queues)
{
	remember_url();
	cr_assert_eq(declare_like_order_svc(NULL), 0, "the stack's queue is classic");
	stack_stop("order-svc");
	setenv("EVENTS_QUEUE_TYPE", "quorum", 1);
	stack_start("order-svc");
	const char *said = "consumer_queue_mismatch setting=EVENTS_QUEUE_TYPE value=quorum";
	cr_assert_eq(helpers_wait_log(said, 1, 15000), 1, "the mismatch is logged, naming the setting");
	cr_assert_eq(stack_wait_ready(2000), -1, "and order-svc is not ready");
	cr_assert_eq(declare_like_order_svc(NULL), 0, "the queue was left as it was");
}

static long
outbox_rows(PGconn *db, const char *ids)
{
	char sql[512];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE user_id IN (%s)", ids);
	PGresult *res = PQexec(db, sql);
	cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQerrorMessage(db));
	long n = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	return n;
}

static void
resume_rabbitmq(void)
{
	stack_servers("resume-one", "rabbitmq");
	stack_wait_ready(60000);
}

Test(brokers, publishes_a_frozen_broker_never_confirmed_stay_in_the_outbox_and_arrive_once_after, .timeout = 180,
    .fini = resume_rabbitmq)
{
	PGconn *db = PQconnectdb(getenv("USER_DB_URL"));
	cr_assert_eq(PQstatus(db), CONNECTION_OK, "%s", PQerrorMessage(db));
	cr_assert_eq(stack_servers("pause-one", "rabbitmq"), 0);
	enum { N = 5 };
	long long ids[N];
	char list[N * 24] = "";
	for (int i = 0; i < N; i++) {
		ids[i] = helpers_create_user(NULL, 0); /* 201: the event is in the outbox */
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%lld", i > 0 ? "," : "", ids[i]);
	}
	/* Published to a broker that answers nothing: past the relay's confirm
	 * timeout (5 s) the rows are still there. */
	nanosleep(&(struct timespec){.tv_sec = 7}, NULL);
	cr_assert_eq(outbox_rows(db, list), N, "every unconfirmed event's row stays in the outbox");
	for (int i = 0; i < N; i++)
		cr_assert_eq(times_logged(ids[i]), 0, "no event got through a frozen broker");

	cr_assert_eq(stack_servers("resume-one", "rabbitmq"), 0);
	int64_t back = rpc_clock_ms();
	for (int i = 0; i < N; i++)
		assert_logged_once(ids[i], 60000);
	cr_log_info(
	    "frozen broker: %d events arrived %.1f s after it was resumed", N, (rpc_clock_ms() - back) / 1000.0);
	/* Sent again after the reconnect (the first sends may arrive too when
	 * the broker wakes): order-svc logs each once. Late duplicates show by now. */
	int64_t until = rpc_clock_ms() + 20000;
	while (outbox_rows(db, list) > 0 && rpc_clock_ms() < until)
		nanosleep(&(struct timespec){.tv_nsec = 200 * 1000000L}, NULL);
	cr_assert_eq(outbox_rows(db, list), 0, "the rows go once confirmed");
	nanosleep(&(struct timespec){.tv_sec = 1}, NULL);
	for (int i = 0; i < N; i++)
		cr_assert_eq(times_logged(ids[i]), 1, "user %lld: its event logged once", ids[i]);
	PQfinish(db);
}

/* The outbox rows of user id: all of them, and those no transaction holds
 * (the relay claims rows FOR UPDATE for as long as it waits for their
 * confirms: a row held is a publish in flight). */
static long
outbox_rows_free(PGconn *db, long long id, bool free_only)
{
	char sql[256];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM (SELECT 1 FROM outbox WHERE user_id = %lld%s) AS r", id,
	    free_only ? " FOR UPDATE SKIP LOCKED" : "");
	PGresult *res = PQexec(db, sql);
	cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQerrorMessage(db));
	long n = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	return n;
}

static void
resume_rabbitmq_and_start(void)
{
	stack_servers("resume-one", "rabbitmq");
	if (stack_pid("user-svc") == 0 || kill(stack_pid("user-svc"), 0) != 0)
		stack_start("user-svc");
	if (stack_pid("order-svc") == 0 || kill(stack_pid("order-svc"), 0) != 0)
		stack_start("order-svc");
	stack_wait_ready(60000);
}

/* SIGTERM while the broker is frozen (paused) with a publish in flight:
 * both services exit 0 within the bound, the unconfirmed event stays in
 * the outbox, and after the broker is back the next start sends it: logged
 * once (its first send, if the broker still had it, is a duplicate the
 * consumer recognises). */
Test(brokers, a_sigterm_with_a_publish_in_flight_to_a_frozen_broker_is_served_within_the_bound_and_nothing_is_lost,
    .timeout = 180, .fini = resume_rabbitmq_and_start)
{
	PGconn *db = PQconnectdb(getenv("USER_DB_URL"));
	cr_assert_eq(PQstatus(db), CONNECTION_OK, "%s", PQerrorMessage(db));
	assert_logged_once(helpers_create_user(NULL, 0), 20000); /* both connections are up */
	cr_assert_eq(stack_servers("pause-one", "rabbitmq"), 0);
	long long id = helpers_create_user(NULL, 0);
	/* The relay publishes at once and holds the row while it waits for the
	 * confirm (5 s): wait until it does. */
	int64_t until = rpc_clock_ms() + 3000;
	while (outbox_rows_free(db, id, true) != 0 && rpc_clock_ms() < until)
		nanosleep(&(struct timespec){.tv_nsec = 20 * 1000000L}, NULL);
	cr_assert_eq(outbox_rows_free(db, id, false), 1, "user %lld's event is in the outbox", id);
	cr_assert_eq(outbox_rows_free(db, id, true), 0, "the relay holds it: its publish waits for a confirm");

	stop_within_bound("user-svc", "with the broker frozen");
	stop_within_bound("order-svc", "with the broker frozen");
	cr_assert_eq(outbox_rows_free(db, id, true), 1, "the unconfirmed event stays in the outbox, released");
	cr_assert_eq(times_logged(id), 0, "nothing got through a frozen broker");

	cr_assert_eq(stack_servers("resume-one", "rabbitmq"), 0);
	stack_start("user-svc");
	stack_start("order-svc");
	cr_assert_eq(stack_wait_ready(60000), 0, "both ready again");
	assert_logged_once(id, 60000);
	until = rpc_clock_ms() + 20000;
	while (outbox_rows_free(db, id, false) > 0 && rpc_clock_ms() < until)
		nanosleep(&(struct timespec){.tv_nsec = 200 * 1000000L}, NULL);
	cr_assert_eq(outbox_rows_free(db, id, false), 0, "the row goes once confirmed");
	nanosleep(&(struct timespec){.tv_sec = 2}, NULL); /* a late duplicate shows by now */
	cr_assert_eq(times_logged(id), 1, "user %lld: its event logged once", id);
	PQfinish(db);
}
