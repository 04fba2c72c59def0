/* The outbox relay: a thread that publishes the outbox rows to RabbitMQ
 * (the events exchange and user_created key of svc/topology.h, protobuf
 * events.UserCreated) with publisher confirms and the mandatory flag, and
 * deletes a row (outbox_repo.h) only once the broker confirmed it was
 * routed to a queue. It wakes when this process
 * commits a user (outbox_wake) and on a timer (rows of another replica or
 * of a crashed run), waits out a broker that is down (rows stay), and
 * reconnects by itself. Rows are claimed with FOR UPDATE SKIP LOCKED, so
 * several relays never publish the same row at the same time. Delivery is
 * at least once (a crash between publish and delete republishes); the
 * consumer handles each event id once. */
#ifndef USER_SVC_OUTBOX_H
#define USER_SVC_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct outbox outbox;

/* Starts the relay thread. Returns 0, or -1 with a reason in err. */
int outbox_start(outbox **out, const char *db_url, const char *amqp_url, int poll_ms, char *err, size_t errlen);

/* Stops the thread after its current batch; undelivered rows stay for the
 * next start. Accepts NULL. */
void outbox_stop(outbox *o);

/* Whether the broker connection is up, with a one-line detail. Any thread. */
bool outbox_status(const outbox *o, char *detail, size_t len);

/* Wakes the relay now: called after a commit that wrote an outbox row.
 * (Not NOTIFY: a notifying transaction holds a database-wide lock through
 * its commit, which serialised every create; see migration 002.) */
void outbox_wake(outbox *o);

/* Events confirmed since start. */
uint64_t outbox_published(const outbox *o);

#endif
