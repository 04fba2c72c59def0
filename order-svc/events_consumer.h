/* The user_created consumer: durable queue order-svc.user_created bound to
 * events/user.created, with a dead-letter exchange for messages it cannot
 * decode; manual acks only after the event id is recorded in order_db, so a
 * redelivered event is handled (and logged) once; bounded prefetch;
 * reconnects with backoff. Logs one line per new user:
 *   user_created id=… email=… event=… request=… */
#ifndef ORDER_SVC_EVENTS_CONSUMER_H
#define ORDER_SVC_EVENTS_CONSUMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct events_consumer events_consumer;

/* EVENTS_QUEUE_TYPE: the type of the queue and of its dead-letter queue.
 * classic (the default) works on one broker; quorum (x-queue-type=quorum)
 * is replicated over a cluster's nodes and outlives the loss of a minority.
 * A queue that exists with the other type is not changed: the consumer
 * logs consumer_queue_mismatch once, naming the setting, reports itself
 * not ready, and looks again every 30 s. */
typedef enum events_queue_type { EVENTS_QUEUE_CLASSIC, EVENTS_QUEUE_QUORUM } events_queue_type;
extern const char *const events_queue_type_names[]; /* by events_queue_type, NULL-terminated */

/* amqp_url: AMQP_URL, one broker or one cluster's (svc/broker.h); a new
 * connection goes to the next node after the one that failed. */
int events_consumer_start(events_consumer **out, const char *db_url, const char *amqp_url, int prefetch,
    events_queue_type queue_type, char *err, size_t errlen);

/* Stops after the message in hand; unacked ones are redelivered later. */
void events_consumer_stop(events_consumer *c);

/* Whether the broker connection is up, with a one-line detail. */
bool events_consumer_status(const events_consumer *c, char *detail, size_t len);

/* Events handled for the first time, redeliveries recognised, and
 * undecodable messages dead-lettered, since start. Any thread. */
void events_consumer_counts(
    const events_consumer *c, uint64_t *consumed, uint64_t *duplicates, uint64_t *dead_lettered);

#endif
