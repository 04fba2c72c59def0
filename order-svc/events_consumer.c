/* events_consumer.h over librabbitmq 0.11. */
#include "events_consumer.h"

#include "svc/rabbitmq.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "base/log.h"
#include "events.pb-c.h"
#include "order_repo.h"
#include "svc/backoff.h"
#include "svc/broker.h"
#include "svc/db.h"
#include "svc/topology.h"

#define QUEUE TOPOLOGY_USER_CREATED_QUEUE
#define DLX TOPOLOGY_DEAD_LETTER_EXCHANGE
#define DLQ TOPOLOGY_USER_CREATED_DLQ
#define WAIT_MS 200  /* how often the stop flag is looked at */
#define BATCH_MAX 64 /* deliveries recorded in one transaction */
/* After a queue found with other arguments than ours: a fault only a
 * person can fix, looked at again this often (quietly: logged once). */
#define MISMATCH_RETRY_MS 30000

const char *const events_queue_type_names[] = {"classic", "quorum", NULL};

/* consumer state, for the status */
enum { DISCONNECTED, CONSUMING, MISMATCH };

struct events_consumer {
	char *amqp_url;
	broker_rotation brokers;
	int prefetch;
	events_queue_type queue_type;
	db *db;
	amqp_connection_state_t amqp;
	broker_cut cut; /* a stop's way to end a read or an ack blocked on the broker */
	backoff retry;
	int64_t mismatch_retry_at_ms; /* with state MISMATCH: the next look */
	bool mismatch;                /* in a connect: a node refused a queue.declare with 406 */
	char mismatch_why[300];       /* its reason */
	pthread_t thread;
	_Atomic bool stop;
	_Atomic int state;
	_Atomic uint64_t consumed, duplicates, dead_lettered;
	/* Event ids whose line was written in a transaction that then failed
	 * (the database lost or failed over before the commit): their
	 * redelivery records them without a second line. The consumer thread's
	 * alone; a ring, since a redelivery comes within seconds. */
	char uncommitted[256][37];
	int uncommitted_next;
};

/* True, and forgotten, when id's line was written already. */
static bool
take_uncommitted(events_consumer *c, const char *id)
{
	for (size_t i = 0; i < sizeof(c->uncommitted) / sizeof(c->uncommitted[0]); i++) {
		if (c->uncommitted[i][0] != '\0' && strcmp(c->uncommitted[i], id) == 0) {
			c->uncommitted[i][0] = '\0';
			return true;
		}
	}
	return false;
}

static void
keep_uncommitted(events_consumer *c, const char *id)
{
	snprintf(c->uncommitted[c->uncommitted_next], sizeof(c->uncommitted[0]), "%s", id);
	c->uncommitted_next = (c->uncommitted_next + 1) % (int) (sizeof(c->uncommitted) / sizeof(c->uncommitted[0]));
}

void
events_consumer_counts(const events_consumer *c, uint64_t *consumed, uint64_t *duplicates, uint64_t *dead_lettered)
{
	*consumed      = atomic_load(&c->consumed);
	*duplicates    = atomic_load(&c->duplicates);
	*dead_lettered = atomic_load(&c->dead_lettered);
}

bool
events_consumer_status(const events_consumer *c, char *detail, size_t len)
{
	int state = atomic_load(&c->state);
	if (state == MISMATCH)
		snprintf(detail, len,
		    "a queue exists with other arguments than EVENTS_QUEUE_TYPE=%s declares (consumer_queue_mismatch "
		    "in the log); events wait in it",
		    events_queue_type_names[c->queue_type]);
	else
		snprintf(
		    detail, len, "%s", state == CONSUMING ? "consuming" : "disconnected; events wait in the queue");
	return state == CONSUMING;
}

static void
drop(events_consumer *c, const char *why)
{
	broker_cut_close(&c->cut, c->amqp);
	c->amqp = NULL;
	atomic_store(&c->state, DISCONNECTED);
	backoff_failed(&c->retry);
	log_warn(NULL, "consumer_broker_down reason=\"%s\" retry_ms=%d", why, c->retry.current_ms);
}

/* Declares queue name with dead-lettering to dlx (NULL: none) and the
 * queue type. A queue that exists with other arguments (another type,
 * typically: one made before EVENTS_QUEUE_TYPE changed) is refused by the
 * broker with 406 PRECONDITION_FAILED (AMQP 0-9-1 queue.declare: a
 * redeclare must be equivalent); c->mismatch tells that case apart. */
static bool
declare_queue(
    events_consumer *c, amqp_connection_state_t a, const char *name, const char *dlx, char *err, size_t errlen)
{
	amqp_table_entry_t args[2];
	int n = 0;
	if (dlx != NULL)
		args[n++] = (amqp_table_entry_t){
		    .key   = amqp_cstring_bytes("x-dead-letter-exchange"),
		    .value = {.kind = AMQP_FIELD_KIND_UTF8, .value.bytes = amqp_cstring_bytes(dlx)},
		};
	/* classic declares no x-queue-type, as before the setting existed, so
	 * the queues of an existing deployment stay equivalent. */
	if (c->queue_type == EVENTS_QUEUE_QUORUM)
		args[n++] = (amqp_table_entry_t){
		    .key   = amqp_cstring_bytes("x-queue-type"),
		    .value = {.kind = AMQP_FIELD_KIND_UTF8, .value.bytes = amqp_cstring_bytes("quorum")},
		};
	/* durable, not exclusive, not auto-delete: what quorum queues require */
	amqp_queue_declare(a, 1, amqp_cstring_bytes(name), 0, 1, 0, 0, (amqp_table_t){n, args});
	char what[96];
	int code;
	snprintf(what, sizeof(what), "queue.declare %s", name);
	if (broker_reply_code(a, what, &code, err, errlen))
		return true;
	if (code == AMQP_PRECONDITION_FAILED) {
		c->mismatch = true;
		snprintf(c->mismatch_why, sizeof(c->mismatch_why), "%s", err);
	}
	return false;
}

/* A queue the broker has with other arguments: said once (until a
 * successful start), looked at again every MISMATCH_RETRY_MS. */
static void
queue_mismatch(events_consumer *c, const char *why)
{
	if (atomic_load(&c->state) != MISMATCH)
		log_error(NULL,
		    "consumer_queue_mismatch setting=EVENTS_QUEUE_TYPE value=%s reason=\"%s\" fix=\"set "
		    "EVENTS_QUEUE_TYPE to the existing queue's type, or move its events and delete it\" retry_ms=%d",
		    events_queue_type_names[c->queue_type], why, MISMATCH_RETRY_MS);
	atomic_store(&c->state, MISMATCH);
	c->mismatch_retry_at_ms = rpc_clock_ms() + MISMATCH_RETRY_MS;
}

/* A new connection's setup, within its attempt's deadline (broker.h):
 * the topology (idempotently), then consuming. */
static bool
setup_consuming(amqp_connection_state_t a, void *arg, char *err, size_t errlen)
{
	events_consumer *c = arg;
	if (!topology_declare_events(a, err, errlen))
		return false;
	amqp_exchange_declare(
	    a, 1, amqp_cstring_bytes(DLX), amqp_cstring_bytes("fanout"), 0, 1, 0, 0, amqp_empty_table);
	if (!broker_reply_ok(a, "exchange.declare " DLX, err, errlen))
		return false;
	if (!declare_queue(c, a, DLQ, NULL, err, errlen))
		return false;
	amqp_queue_bind(a, 1, amqp_cstring_bytes(DLQ), amqp_cstring_bytes(DLX), amqp_empty_bytes, amqp_empty_table);
	if (!broker_reply_ok(a, "queue.bind " DLQ, err, errlen))
		return false;
	if (!declare_queue(c, a, QUEUE, DLX, err, errlen))
		return false;
	amqp_queue_bind(a, 1, amqp_cstring_bytes(QUEUE), amqp_cstring_bytes(TOPOLOGY_EVENTS_EXCHANGE),
	    amqp_cstring_bytes(TOPOLOGY_USER_CREATED_KEY), amqp_empty_table);
	if (!broker_reply_ok(a, "queue.bind " QUEUE, err, errlen))
		return false;
	amqp_basic_qos(a, 1, 0, (uint16_t) c->prefetch, 0);
	if (!broker_reply_ok(a, "basic.qos", err, errlen))
		return false;
	amqp_basic_consume(a, 1, amqp_cstring_bytes(QUEUE), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
	return broker_reply_ok(a, "basic.consume", err, errlen);
}

/* Connects (each node of the list in turn) and starts consuming. */
static bool
connect_and_consume(events_consumer *c)
{
	char err[600];
	c->mismatch                 = false;
	broker_connect_options opts = {.timeout_ms = BROKER_CONNECT_TIMEOUT_MS,
	    .heartbeat_s                           = 30,
	    .setup                                 = setup_consuming,
	    .setup_arg                             = c,
	    .stop                                  = &c->stop,
	    .cut                                   = &c->cut};
	c->amqp                     = broker_rotation_connect(&c->brokers, &opts, err, sizeof(err));
	if (c->amqp == NULL && c->mismatch) {
		/* A node's own word about the queue, whatever the others said. */
		queue_mismatch(c, c->mismatch_why);
		return false;
	}
	if (c->amqp == NULL) {
		atomic_store(&c->state, DISCONNECTED); /* a mismatch seen before is said again when found again */
		backoff_failed(&c->retry);
		log_warn(NULL, "consumer_broker_down reason=\"%s\" retry_ms=%d", err, c->retry.current_ms);
		return false;
	}
	backoff_succeeded(&c->retry);
	atomic_store(&c->state, CONSUMING);
	log_info(NULL, "consumer_started queue=" QUEUE " type=%s broker=%s", events_queue_type_names[c->queue_type],
	    c->brokers.where);
	return true;
}

static bool
is_uuid(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-'
		         : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		               (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	}
	return true;
}

typedef struct batch {
	events_consumer *c;
	Events__UserCreated *evs[BATCH_MAX];
	bool new_here[BATCH_MAX]; /* first seen in this transaction */
	int first_seen;           /* how many were new */
} batch;

/* The one line per new user that the contract asks for, once: not again
 * for an event whose line an uncommitted transaction wrote. */
static void
log_new_user(void *arg, int i)
{
	batch *b                      = arg;
	const Events__UserCreated *ev = b->evs[i];
	b->first_seen++;
	b->new_here[i] = true;
	if (take_uncommitted(b->c, ev->event_id))
		return;
	log_info(ev->request_id, "user_created id=%lld email=%s event=%s", (long long) ev->user->id, ev->user->email,
	    ev->event_id);
}

/* Handles the deliveries taken together: undecodable ones are rejected to
 * the dead-letter queue; the rest are recorded in one transaction and
 * acknowledged with one ack, or, with the database down, given back after
 * a pause. Batches spare a commit (a WAL flush) per event. False when the
 * connection broke. */
static bool
handle_batch(events_consumer *c, const amqp_envelope_t *envs, int n)
{
	batch b                   = {.c = c, .first_seen = 0};
	Events__UserCreated **evs = b.evs;
	const char *ids[BATCH_MAX];
	uint64_t last_tag = 0;
	int m             = 0;
	bool ok           = true;
	for (int i = 0; i < n; i++) {
		const amqp_bytes_t *body = &envs[i].message.body;
		Events__UserCreated *ev  = events__user_created__unpack(NULL, body->len, body->bytes);
		if (ev == NULL || ev->user == NULL || !is_uuid(ev->event_id)) {
			log_warn(NULL, "consumer_dead_letter reason=\"not a user_created event\" bytes=%zu", body->len);
			events__user_created__free_unpacked(ev, NULL);
			atomic_fetch_add(&c->dead_lettered, 1);
			ok = ok && amqp_basic_reject(c->amqp, 1, envs[i].delivery_tag, 0) == AMQP_STATUS_OK;
			continue;
		}
		evs[m]   = ev;
		ids[m++] = ev->event_id;
		last_tag = envs[i].delivery_tag;
	}
	if (m == 0)
		return ok;
	rpc_status st;
	if (order_repo_handle_events(c->db, ids, m, log_new_user, &b, &st) == RPC_OK) {
		atomic_fetch_add(&c->consumed, (uint64_t) b.first_seen);
		atomic_fetch_add(&c->duplicates, (uint64_t) (m - b.first_seen));
		/* Everything up to last_tag is settled: these, and any rejected. */
		ok = ok && amqp_basic_ack(c->amqp, 1, last_tag, 1) == AMQP_STATUS_OK;
	} else {
		/* Not recorded: give them back, and pause so a database outage is
		 * not a redelivery storm. */
		log_warn(NULL, "consumer_requeued events=%d reason=\"%s\"", m, st.message);
		/* Their lines are written: the redelivery must not write them
		 * again (if this commit took effect after all, the redelivery
		 * finds the events recorded and writes nothing either). */
		for (int i = 0; i < m; i++) {
			if (b.new_here[i])
				keep_uncommitted(c, evs[i]->event_id);
		}
		ok                    = ok && amqp_basic_nack(c->amqp, 1, last_tag, 1, 1) == AMQP_STATUS_OK;
		struct timespec pause = {.tv_nsec = 500 * 1000000L};
		nanosleep(&pause, NULL);
	}
	for (int i = 0; i < m; i++)
		events__user_created__free_unpacked(evs[i], NULL);
	return ok;
}

/* Takes the next delivery, waiting up to wait_ms (0: only one already
 * here). 1 with one taken, 0 on none, -1 when the connection broke. */
static int
next_delivery(events_consumer *c, amqp_envelope_t *env, int wait_ms)
{
	struct timeval tv  = {.tv_sec = 0, .tv_usec = wait_ms * 1000};
	amqp_rpc_reply_t r = amqp_consume_message(c->amqp, env, &tv, 0);
	if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
		return 0;
	if (r.reply_type != AMQP_RESPONSE_NORMAL) {
		drop(c, r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION ? amqp_error_string2(r.library_error)
		                                                        : "closed by the broker");
		return -1;
	}
	return 1;
}

static void *
consumer_main(void *arg)
{
	events_consumer *c = arg;
	int batch_max      = c->prefetch < BATCH_MAX ? c->prefetch : BATCH_MAX;
	amqp_envelope_t envs[BATCH_MAX];
	while (!atomic_load(&c->stop)) {
		if (c->amqp == NULL) {
			bool waiting = atomic_load(&c->state) == MISMATCH ? rpc_clock_ms() < c->mismatch_retry_at_ms
			                                                  : !backoff_ready(&c->retry);
			if (waiting || !connect_and_consume(c)) {
				struct timespec pause = {.tv_nsec = WAIT_MS * 1000000L};
				nanosleep(&pause, NULL);
				continue;
			}
		}
		amqp_maybe_release_buffers(c->amqp);
		int n = 0, got;
		/* Wait for one delivery, then take those already here with it. */
		while (n < batch_max && (got = next_delivery(c, &envs[n], n == 0 ? WAIT_MS : 0)) == 1)
			n++;
		bool ok = c->amqp != NULL && (n == 0 || handle_batch(c, envs, n));
		for (int i = 0; i < n; i++)
			amqp_destroy_envelope(&envs[i]);
		if (!ok && c->amqp != NULL)
			drop(c, "ack failed");
	}
	/* Unacknowledged deliveries go back to the queue with the connection. */
	broker_cut_close(&c->cut, c->amqp); /* BROKER_CLOSE_TIMEOUT_MS at most */
	c->amqp = NULL;
	broker_cut_exited(&c->cut);
	return NULL;
}

int
events_consumer_start(events_consumer **out, const char *db_url, const char *amqp_url, int prefetch,
    events_queue_type queue_type, char *err, size_t errlen)
{
	events_consumer *c = calloc(1, sizeof(*c));
	if (c == NULL || (c->amqp_url = strdup(amqp_url)) == NULL || (c->db = db_new(db_url)) == NULL) {
		if (c != NULL)
			free(c->amqp_url);
		free(c);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	c->prefetch   = prefetch;
	c->queue_type = queue_type;
	db_set_stop(c->db, db_stop_flag_set, &c->stop);
	broker_rotation_init(&c->brokers, c->amqp_url);
	backoff_init(&c->retry, 250, 5000);
	broker_cut_init(&c->cut);
	/* Said once: with a list, the setting most likely forgotten. */
	if (queue_type == EVENTS_QUEUE_CLASSIC && c->brokers.count > 1)
		log_warn(NULL,
		    "events_queue_classic_on_cluster setting=EVENTS_QUEUE_TYPE value=classic brokers=%d "
		    "reason=\"AMQP_URL lists several brokers, but a classic queue lives on one node: no high "
		    "availability\" fix=\"set EVENTS_QUEUE_TYPE=quorum\"",
		    c->brokers.count);
	if (pthread_create(&c->thread, NULL, consumer_main, c) != 0) {
		broker_cut_destroy(&c->cut);
		db_free(c->db);
		free(c->amqp_url);
		free(c);
		snprintf(err, errlen, "cannot start the consumer thread");
		return -1;
	}
	*out = c;
	return 0;
}

void
events_consumer_stop(events_consumer *c)
{
	if (c == NULL)
		return;
	atomic_store(&c->stop, true);
	/* Its receive looks at the flag every WAIT_MS; past the grace, a read
	 * or an ack blocked on the broker is cut (broker.h). */
	if (broker_cut_stop(&c->cut, BROKER_STOP_GRACE_MS))
		log_warn(NULL,
		    "consumer_stop_cut grace_ms=%d reason=\"the consumer was still on the broker; its "
		    "connection was cut, unacknowledged events are delivered again\"",
		    BROKER_STOP_GRACE_MS);
	pthread_join(c->thread, NULL);
	broker_cut_destroy(&c->cut);
	db_free(c->db);
	free(c->amqp_url);
	free(c);
}
