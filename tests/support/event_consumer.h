/* A test consumer of user_created events on the real RabbitMQ. */
#ifndef TESTS_SUPPORT_EVENT_CONSUMER_H
#define TESTS_SUPPORT_EVENT_CONSUMER_H

#include "svc/rabbitmq.h"
#include <stdbool.h>

#include "events.pb-c.h"

typedef struct received_event {
	Events__UserCreated *event; /* free with events__user_created__free_unpacked */
	char content_type[64], type[64], message_id[64], app_id[64], request_id[160];
	int delivery_mode;
} received_event;

/* Connects to AMQP_URL and consumes from queue, declared (durable or
 * exclusive) and bound to the user_created key of the events exchange
 * (svc/topology.h). NULL on failure. */
amqp_connection_state_t event_consumer_open(const char *queue, bool durable);

/* Next event within timeout_ms; false when none came. */
bool event_consumer_next(amqp_connection_state_t conn, int timeout_ms, received_event *out);

/* Deletes the queue (when it was durable) and closes. */
void event_consumer_close(amqp_connection_state_t conn, const char *queue, bool delete_queue);

#endif
