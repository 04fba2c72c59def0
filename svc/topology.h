/* The RabbitMQ topology of the events, declared here once: user-svc's relay
 * publishes to it, order-svc's consumer binds to it, the tests publish and
 * listen on it. A name changed here changes for all of them.
 *
 *   exchange "events" (topic, durable)
 *     └ key "user.created": a packed events.UserCreated (proto/events.proto),
 *       message type "user_created", message id = its event_id
 *         └ queue "order-svc.user_created" (durable), dead-lettering to
 *           exchange "order-svc.dlx" (fanout, durable)
 *             └ queue "order-svc.user_created.dlq" (durable)
 *
 * Names are macros so that they also join string literals ("queue.declare "
 * TOPOLOGY_USER_CREATED_QUEUE). */
#ifndef SVC_TOPOLOGY_H
#define SVC_TOPOLOGY_H

#include "svc/rabbitmq.h"
#include <stdbool.h>
#include <stddef.h>

#define TOPOLOGY_EVENTS_EXCHANGE "events"
#define TOPOLOGY_EVENTS_EXCHANGE_TYPE "topic"

#define TOPOLOGY_USER_CREATED_KEY "user.created"
#define TOPOLOGY_USER_CREATED_TYPE "user_created"

#define TOPOLOGY_USER_CREATED_QUEUE "order-svc.user_created"
#define TOPOLOGY_DEAD_LETTER_EXCHANGE "order-svc.dlx"
#define TOPOLOGY_USER_CREATED_DLQ "order-svc.user_created.dlq"

/* Declares the events exchange on channel 1 (idempotent: the same
 * arguments every time, which RabbitMQ requires of a redeclare). Returns
 * true, or false with the broker's reason in err. */
bool topology_declare_events(amqp_connection_state_t conn, char *err, size_t errlen);

#endif
