/* outbox.h: claim a batch, publish with confirms, delete what was routed. */
#include "outbox.h"

#include "svc/rabbitmq.h"
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "base/log.h"
#include "base/monotonic.h"
#include "events.pb-c.h"
#include "outbox_repo.h"
#include "svc/backoff.h"
#include "svc/broker.h"
#include "svc/db.h"
#include "svc/topology.h"

#define BATCH OUTBOX_REPO_BATCH_MAX
#define CONFIRM_TIMEOUT_MS 5000
/* How often a wait for confirms looks at the stop flag. */
#define STOP_LOOK_MS 100
/* Once stopping, what the confirms in flight are still given (a live
 * broker's come within milliseconds): with the polite close after it,
 * well within the stop's grace (broker.h), so a frozen broker's connection
 * is closed by the relay, not cut. */
#define STOP_CONFIRM_MS (BROKER_STOP_GRACE_MS - BROKER_CLOSE_TIMEOUT_MS - 200)

struct outbox {
	char *amqp_url;
	broker_rotation brokers; /* a new connection goes to the node after the one that failed */
	int poll_ms;
	db *db;
	amqp_connection_state_t amqp;
	broker_cut cut; /* a stop's way to end a publish blocked on a broker that reads nothing */
	backoff amqp_retry;
	uint64_t next_tag; /* delivery tag of the next publish on channel 1 */
	int64_t unroutable_logged_ms;
	bool refused; /* the last batch was nacked: the backoff goes on growing until one is taken */
	pthread_t thread;
	_Atomic bool stop;
	_Atomic bool connected;
	_Atomic uint64_t published;
	pthread_mutex_t mu; /* guards detail and woken */
	pthread_cond_t wake;
	bool woken;
	char detail[160];
};

static void set_detail(outbox *o, bool connected, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
set_detail(outbox *o, bool connected, const char *fmt, ...)
{
	pthread_mutex_lock(&o->mu);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(o->detail, sizeof(o->detail), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&o->mu);
	atomic_store(&o->connected, connected);
}

bool
outbox_status(const outbox *o, char *detail, size_t len)
{
	pthread_mutex_lock((pthread_mutex_t *) &o->mu);
	snprintf(detail, len, "%s", o->detail);
	pthread_mutex_unlock((pthread_mutex_t *) &o->mu);
	return atomic_load(&o->connected);
}

uint64_t
outbox_published(const outbox *o)
{
	return atomic_load(&o->published);
}

static void
drop_broker(outbox *o, const char *why)
{
	broker_cut_close(&o->cut, o->amqp);
	o->amqp = NULL;
	backoff_failed(&o->amqp_retry);
	log_warn(NULL, "outbox_broker_down reason=\"%s\" retry_ms=%d", why, o->amqp_retry.current_ms);
	set_detail(o, false, "disconnected; events wait in the outbox"); /* the why is for the log */
}

/* A new connection's setup, within its attempt's deadline (broker.h):
 * the exchange, and publisher confirms. */
static bool
setup_publishing(amqp_connection_state_t conn, void *arg, char *err, size_t errlen)
{
	(void) arg;
	if (!topology_declare_events(conn, err, errlen))
		return false;
	amqp_confirm_select(conn, 1);
	return broker_reply_ok(conn, "confirm.select", err, errlen);
}

/* Connects, declares the exchange and turns on publisher confirms. */
static bool
ensure_broker(outbox *o)
{
	if (o->amqp != NULL)
		return true;
	if (!backoff_ready(&o->amqp_retry))
		return false;
	char err[600];
	broker_connect_options opts = {
	    .timeout_ms = BROKER_CONNECT_TIMEOUT_MS, .setup = setup_publishing, .stop = &o->stop, .cut = &o->cut};
	o->amqp = broker_rotation_connect(&o->brokers, &opts, err, sizeof(err));
	if (o->amqp == NULL) {
		backoff_failed(&o->amqp_retry);
		log_warn(NULL, "outbox_broker_down reason=\"%s\" retry_ms=%d", err, o->amqp_retry.current_ms);
		set_detail(o, false, "disconnected; events wait in the outbox");
		return false;
	}
	o->next_tag = 1;
	if (!o->refused)
		backoff_succeeded(&o->amqp_retry);
	log_info(NULL, "outbox_broker_connected broker=%s", o->brokers.where);
	set_detail(o, true, "connected");
	return true;
}

/* Encodes one claimed row as UserCreated. */
static size_t
encode_event(const outbox_event *row, uint8_t **out)
{
	Google__Protobuf__Timestamp created, occurred;
	google__protobuf__timestamp__init(&created);
	google__protobuf__timestamp__init(&occurred);
	occurred.seconds       = row->occurred_us / 1000000;
	occurred.nanos         = (int32_t) (row->occurred_us % 1000000) * 1000;
	created.seconds        = row->user_created_us / 1000000;
	created.nanos          = (int32_t) (row->user_created_us % 1000000) * 1000;
	Users__User user       = USERS__USER__INIT;
	user.id                = row->user_id;
	user.name              = (char *) row->name;
	user.email             = (char *) row->email;
	user.created_at        = &created;
	Events__UserCreated ev = EVENTS__USER_CREATED__INIT;
	ev.event_id            = (char *) row->event_id;
	ev.request_id          = (char *) row->request_id;
	ev.user                = &user;
	ev.occurred_at         = &occurred;
	size_t len             = events__user_created__get_packed_size(&ev);
	*out                   = malloc(len);
	if (*out == NULL)
		return 0;
	events__user_created__pack(&ev, *out);
	return len;
}

static bool
publish_one(outbox *o, const outbox_event *row)
{
	uint8_t *body;
	size_t len = encode_event(row, &body);
	if (len == 0)
		return false;
	amqp_table_entry_t header = {
	    .key   = amqp_cstring_bytes("x-request-id"),
	    .value = {.kind = AMQP_FIELD_KIND_UTF8, .value.bytes = amqp_cstring_bytes(row->request_id)},
	};
	amqp_basic_properties_t props = {
	    ._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
	              AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_APP_ID_FLAG | AMQP_BASIC_HEADERS_FLAG |
	              AMQP_BASIC_TIMESTAMP_FLAG,
	    .content_type  = amqp_cstring_bytes("application/x-protobuf"),
	    .delivery_mode = 2, /* persistent */
	    .message_id    = amqp_cstring_bytes(row->event_id),
	    .type          = amqp_cstring_bytes(TOPOLOGY_USER_CREATED_TYPE),
	    .app_id        = amqp_cstring_bytes("user-svc"),
	    .timestamp     = (uint64_t) (row->occurred_us / 1000000),
	    .headers       = {.num_entries = 1, .entries = &header},
	};
	/* mandatory: an event no queue takes comes back, and its row stays. */
	int rc = amqp_basic_publish(o->amqp, 1, amqp_cstring_bytes(TOPOLOGY_EVENTS_EXCHANGE),
	    amqp_cstring_bytes(TOPOLOGY_USER_CREATED_KEY), 1, 0, &props, (amqp_bytes_t){.len = len, .bytes = body});
	free(body);
	return rc == AMQP_STATUS_OK;
}

/* Settles delivery tag t (ack or nack) once. */
static void
settle(uint64_t t, bool ok, uint64_t first, int n, bool *settled, bool *acked, int *count)
{
	if (t < first || t >= first + (uint64_t) n || settled[t - first])
		return;
	settled[t - first] = true;
	acked[t - first]   = ok;
	(*count)++;
}

/* Reads the broker's confirms for tags first .. first+n-1 (rows[0..n))
 * until each is settled. Returned messages (routed to no queue) are marked
 * in returned. False on a broken connection or a timeout, or STOP_CONFIRM_MS
 * after a stop began (looked at every STOP_LOOK_MS): a stop must not wait
 * CONFIRM_TIMEOUT_MS for a frozen broker, and what is unconfirmed stays in
 * the outbox. */
static bool
await_confirms(outbox *o, uint64_t first, int n, const outbox_event *rows, bool *returned, bool *acked)
{
	bool settled[BATCH] = {false}, stopping = false;
	int count        = 0;
	int64_t deadline = rpc_clock_ms() + CONFIRM_TIMEOUT_MS;
	while (count < n) {
		if (!stopping && atomic_load(&o->stop)) {
			stopping = true;
			if (deadline > rpc_clock_ms() + STOP_CONFIRM_MS)
				deadline = rpc_clock_ms() + STOP_CONFIRM_MS;
		}
		int64_t left = deadline - rpc_clock_ms();
		if (left <= 0)
			return false;
		if (left > STOP_LOOK_MS && !stopping)
			left = STOP_LOOK_MS;
		struct timeval tv = {.tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000};
		amqp_frame_t frame;
		int rc = amqp_simple_wait_frame_noblock(o->amqp, &frame, &tv);
		if (rc == AMQP_STATUS_TIMEOUT)
			continue; /* librabbitmq keeps a frame read in part for the next call */
		if (rc != AMQP_STATUS_OK)
			return false;
		if (frame.frame_type != AMQP_FRAME_METHOD)
			continue;
		switch (frame.payload.method.id) {
		case AMQP_BASIC_ACK_METHOD:
		case AMQP_BASIC_NACK_METHOD: {
			bool ok       = frame.payload.method.id == AMQP_BASIC_ACK_METHOD;
			uint64_t tag  = ok ? ((amqp_basic_ack_t *) frame.payload.method.decoded)->delivery_tag
			                   : ((amqp_basic_nack_t *) frame.payload.method.decoded)->delivery_tag;
			bool multiple = ok ? ((amqp_basic_ack_t *) frame.payload.method.decoded)->multiple
			                   : ((amqp_basic_nack_t *) frame.payload.method.decoded)->multiple;
			if (!ok)
				log_warn(NULL, "outbox_nacked tag=%" PRIu64 " (kept for the next round)", tag);
			for (uint64_t t = multiple ? first : tag; t <= tag; t++)
				settle(t, ok, first, n, settled, acked, &count);
			break;
		}
		case AMQP_BASIC_RETURN_METHOD: {
			amqp_message_t msg;
			if (amqp_read_message(o->amqp, 1, &msg, 0).reply_type != AMQP_RESPONSE_NORMAL)
				return false;
			for (int i = 0; i < n; i++) {
				if ((msg.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) &&
				    msg.properties.message_id.len == strlen(rows[i].event_id) &&
				    memcmp(msg.properties.message_id.bytes, rows[i].event_id,
				        msg.properties.message_id.len) == 0)
					returned[i] = true;
			}
			amqp_destroy_message(&msg);
			break;
		}
		default: return false; /* channel or connection closed by the broker */
		}
	}
	return true;
}

/* Publishes rows[0..n) and waits for the broker's confirms: acked[i] when
 * it took row i, returned[i] when it could route it to no queue. False when
 * a publish or the confirms failed (the connection is then unusable). */
static bool
publish_batch(outbox *o, const outbox_event *rows, int n, bool *acked, bool *returned)
{
	uint64_t first = o->next_tag;
	bool ok        = true;
	for (int i = 0; i < n && ok; i++) {
		ok = publish_one(o, &rows[i]);
		o->next_tag++;
	}
	amqp_maybe_release_buffers(o->amqp);
	return ok && await_confirms(o, first, n, rows, returned, acked);
}

/* Events no queue took stay in the outbox and are retried every poll: say
 * so once a minute, not every time, and in the status detail. */
static void
note_unroutable(outbox *o, int n_returned)
{
	if (rpc_clock_ms() - o->unroutable_logged_ms > 60000) {
		log_warn(NULL,
		    "outbox_unroutable count=%d reason=\"no queue is bound to " TOPOLOGY_EVENTS_EXCHANGE
		    "/" TOPOLOGY_USER_CREATED_KEY "; kept and retried\"",
		    n_returned);
		o->unroutable_logged_ms = rpc_clock_ms();
	}
	set_detail(o, true,
	    "connected; %d events wait for a queue bound to " TOPOLOGY_EVENTS_EXCHANGE "/" TOPOLOGY_USER_CREATED_KEY,
	    n_returned);
}

/* Claims up to BATCH rows, publishes them and deletes the confirmed ones,
 * in one transaction. Returns the rows claimed, or -1 after a failure. */
static int
relay_batch(outbox *o)
{
	rpc_status st;
	outbox_batch rows;
	if (outbox_repo_claim(o->db, BATCH, &rows, &st) != RPC_OK)
		return -1;
	int n = rows.n;
	if (n == 0)
		return 0;
	bool acked[BATCH] = {false}, returned[BATCH] = {false};
	if (!publish_batch(o, rows.events, n, acked, returned)) {
		if (atomic_load(&o->stop)) {
			/* Stopping: no reconnect follows, so no broker_down. */
			int confirmed = 0;
			for (int i = 0; i < n; i++)
				confirmed += acked[i] && !returned[i];
			log_info(NULL,
			    "outbox_stop_unconfirmed events=%d of=%d reason=\"stopping; kept in the outbox, sent "
			    "again at the next start\"",
			    n - confirmed, n);
			outbox_repo_batch_free(&rows);
			outbox_repo_release(o->db);
			broker_cut_close(&o->cut, o->amqp);
			o->amqp = NULL;
			return -1;
		}
		/* The claim is rolled back: every row of the batch, confirmed or
		 * not, is published again after the reconnect (at least once; the
		 * consumer records each event id once). */
		int confirmed = 0;
		for (int i = 0; i < n; i++)
			confirmed += acked[i] && !returned[i];
		char why[160];
		snprintf(why, sizeof(why),
		    "publish or confirm failed; %d of %d events unconfirmed, kept to be sent again", n - confirmed, n);
		outbox_repo_batch_free(&rows);
		outbox_repo_release(o->db);
		drop_broker(o, why);
		return -1;
	}
	/* Delete exactly the rows the broker took and routed. */
	int64_t delivered[BATCH];
	int n_delivered = 0, n_returned = 0, n_nacked = 0;
	for (int i = 0; i < n; i++) {
		n_returned += returned[i];
		n_nacked += !acked[i];
		if (!acked[i] || returned[i])
			continue;
		delivered[n_delivered++] = rows.events[i].row_id;
		log_info(rows.events[i].request_id, "event_published type=user_created event=%s user=%" PRId64,
		    rows.events[i].event_id, rows.events[i].user_id);
	}
	outbox_repo_batch_free(&rows);
	if (n_returned > 0)
		note_unroutable(o, n_returned);
	rpc_code deleted = outbox_repo_delete(o->db, delivered, n_delivered, &st);
	if (deleted == RPC_OK)
		atomic_fetch_add(&o->published, (uint64_t) n_delivered);
	if (n_nacked > 0) {
		/* A nack is the queue refusing the event, and the channel that got
		 * it may go on refusing: RabbitMQ 3.10's quorum queue client (Debian
		 * 12's 3.10.8, rabbit_fifo_client:enqueue) asks the node the queue's
		 * record names as leader at a channel's first publish, and when that
		 * node is down refuses the publish and keeps its state, so every
		 * later publish on the channel is refused too (the failover drill
		 * saw 30 s of nacks on a channel opened while the queue elected a
		 * new leader). A new connection, after the backoff, gets a new
		 * client, which finds the leader. */
		char why[160];
		snprintf(why, sizeof(why), "the broker refused (nacked) %d of %d events; kept to be sent again",
		    n_nacked, n);
		o->refused = true; /* a queue that goes on refusing: at most a reconnect per 5 s */
		drop_broker(o, why);
		return -1;
	}
	if (o->refused) {
		o->refused = false;
		backoff_succeeded(&o->amqp_retry);
	}
	if (deleted != RPC_OK)
		return -1; /* the rows stay and are published again: at least once */
	/* Unroutable rows stay: pace the retry by the timer, not a busy loop. */
	return n_returned > 0 ? 0 : n;
}

void
outbox_wake(outbox *o)
{
	pthread_mutex_lock(&o->mu);
	o->woken = true;
	pthread_cond_signal(&o->wake);
	pthread_mutex_unlock(&o->mu);
}

/* Waits for outbox_wake, the timer or stop. */
static void
wait_for_work(outbox *o)
{
	struct timespec until = monotonic_deadline(o->poll_ms);
	pthread_mutex_lock(&o->mu);
	while (!o->woken && !atomic_load(&o->stop)) {
		if (pthread_cond_timedwait(&o->wake, &o->mu, &until) != 0)
			break;
	}
	o->woken = false;
	pthread_mutex_unlock(&o->mu);
}

static void *
relay_main(void *arg)
{
	outbox *o = arg;
	while (!atomic_load(&o->stop)) {
		rpc_status st;
		PGconn *pg  = db_conn(o->db, &st);
		bool broker = ensure_broker(o);
		int claimed = pg != NULL && broker ? relay_batch(o) : -1;
		if (claimed == BATCH)
			continue; /* maybe more waiting */
		wait_for_work(o);
	}
	broker_cut_close(&o->cut, o->amqp); /* BROKER_CLOSE_TIMEOUT_MS at most */
	o->amqp = NULL;
	broker_cut_exited(&o->cut);
	return NULL;
}

int
outbox_start(outbox **out, const char *db_url, const char *amqp_url, int poll_ms, char *err, size_t errlen)
{
	outbox *o = calloc(1, sizeof(*o));
	if (o == NULL || (o->amqp_url = strdup(amqp_url)) == NULL || (o->db = db_new(db_url)) == NULL) {
		if (o != NULL)
			free(o->amqp_url);
		free(o);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	o->poll_ms = poll_ms;
	db_set_stop(o->db, db_stop_flag_set, &o->stop);
	broker_rotation_init(&o->brokers, o->amqp_url);
	o->unroutable_logged_ms = -60000;
	backoff_init(&o->amqp_retry, 250, 5000);
	pthread_mutex_init(&o->mu, NULL);
	monotonic_cond_init(&o->wake);
	broker_cut_init(&o->cut);
	snprintf(o->detail, sizeof(o->detail), "connecting");
	if (pthread_create(&o->thread, NULL, relay_main, o) != 0) {
		broker_cut_destroy(&o->cut);
		db_free(o->db);
		free(o->amqp_url);
		free(o);
		snprintf(err, errlen, "cannot start the relay thread");
		return -1;
	}
	*out = o;
	return 0;
}

void
outbox_stop(outbox *o)
{
	if (o == NULL)
		return;
	atomic_store(&o->stop, true);
	outbox_wake(o);
	/* Bounded whatever the broker does: the relay's waits look at the stop
	 * flag, and past the grace a write blocked on a broker that reads
	 * nothing is cut (broker.h). */
	if (broker_cut_stop(&o->cut, BROKER_STOP_GRACE_MS))
		log_warn(NULL,
		    "outbox_stop_cut grace_ms=%d reason=\"the relay was still on the broker; its "
		    "connection was cut, unconfirmed events stay in the outbox\"",
		    BROKER_STOP_GRACE_MS);
	pthread_join(o->thread, NULL);
	broker_cut_destroy(&o->cut);
	db_free(o->db);
	pthread_cond_destroy(&o->wake);
	pthread_mutex_destroy(&o->mu);
	free(o->amqp_url);
	free(o);
}
