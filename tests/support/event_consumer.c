/* event_consumer.h over librabbitmq and svc/broker. */
#include "event_consumer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "svc/broker.h"
#include "svc/topology.h"

amqp_connection_state_t
event_consumer_open(const char *queue, bool durable)
{
	char err[256];
	const char *url              = getenv("AMQP_URL");
	amqp_connection_state_t conn = url != NULL ? broker_connect(url, 5000, 0, err, sizeof(err)) : NULL;
	if (conn == NULL) {
		fprintf(stderr, "event_consumer: %s\n", url != NULL ? err : "AMQP_URL is not set");
		return NULL;
	}
	amqp_bytes_t q = amqp_cstring_bytes(queue);
	if (!topology_declare_events(conn, err, sizeof(err))) {
		fprintf(stderr, "event_consumer: %s\n", err);
		broker_close(conn);
		return NULL;
	}
	amqp_queue_declare(conn, 1, q, 0, durable, !durable, !durable, amqp_empty_table);
	amqp_queue_bind(conn, 1, q, amqp_cstring_bytes(TOPOLOGY_EVENTS_EXCHANGE),
	    amqp_cstring_bytes(TOPOLOGY_USER_CREATED_KEY), amqp_empty_table);
	amqp_basic_consume(conn, 1, q, amqp_empty_bytes, 0, 1, 0, amqp_empty_table);
	if (!broker_reply_ok(conn, "consume", err, sizeof(err))) {
		fprintf(stderr, "event_consumer: %s\n", err);
		broker_close(conn);
		return NULL;
	}
	return conn;
}

static void
copy_bytes(char *out, size_t len, amqp_bytes_t b)
{
	snprintf(out, len, "%.*s", (int) b.len, (const char *) b.bytes);
}

bool
event_consumer_next(amqp_connection_state_t conn, int timeout_ms, received_event *out)
{
	memset(out, 0, sizeof(*out));
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	amqp_envelope_t env;
	amqp_maybe_release_buffers(conn);
	if (amqp_consume_message(conn, &env, &tv, 0).reply_type != AMQP_RESPONSE_NORMAL)
		return false;
	amqp_basic_properties_t *p = &env.message.properties;
	if (p->_flags & AMQP_BASIC_CONTENT_TYPE_FLAG)
		copy_bytes(out->content_type, sizeof(out->content_type), p->content_type);
	if (p->_flags & AMQP_BASIC_TYPE_FLAG)
		copy_bytes(out->type, sizeof(out->type), p->type);
	if (p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG)
		copy_bytes(out->message_id, sizeof(out->message_id), p->message_id);
	if (p->_flags & AMQP_BASIC_APP_ID_FLAG)
		copy_bytes(out->app_id, sizeof(out->app_id), p->app_id);
	if (p->_flags & AMQP_BASIC_DELIVERY_MODE_FLAG)
		out->delivery_mode = p->delivery_mode;
	if (p->_flags & AMQP_BASIC_HEADERS_FLAG) {
		for (int i = 0; i < p->headers.num_entries; i++) {
			amqp_table_entry_t *e = &p->headers.entries[i];
			if (e->key.len == 12 && memcmp(e->key.bytes, "x-request-id", 12) == 0 &&
			    (e->value.kind == AMQP_FIELD_KIND_UTF8 || e->value.kind == AMQP_FIELD_KIND_BYTES))
				copy_bytes(out->request_id, sizeof(out->request_id), e->value.value.bytes);
		}
	}
	out->event = events__user_created__unpack(NULL, env.message.body.len, env.message.body.bytes);
	amqp_destroy_envelope(&env);
	return true;
}

void
event_consumer_close(amqp_connection_state_t conn, const char *queue, bool delete_queue)
{
	if (conn == NULL)
		return;
	if (delete_queue)
		amqp_queue_delete(conn, 1, amqp_cstring_bytes(queue), 0, 0);
	broker_close(conn);
}
