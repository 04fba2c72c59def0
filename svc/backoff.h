/* Reconnect pacing shared by every dependency connection: after a failure,
 * wait, doubling from min_ms up to max_ms; success resets it. Connections
 * to the same server may share a count of successes (backoff_share): once
 * another one got through after this one's failure, the server is back and
 * this one tries at once, instead of answering "unavailable" for the rest
 * of its wait (up to max_ms after an outage). */
#ifndef SVC_BACKOFF_H
#define SVC_BACKOFF_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "rpc/envelope.h" /* rpc_clock_ms */

typedef struct backoff {
	int min_ms, max_ms;
	int current_ms;              /* 0 until the first failure */
	int64_t next_at_ms;          /* no attempt before this */
	_Atomic uint64_t *successes; /* shared with the other connections, or NULL */
	uint64_t successes_at_failure;
	uint64_t successes_at_attempt; /* taken by backoff_attempt */
	bool attempting;
} backoff;

static inline void
backoff_init(backoff *b, int min_ms, int max_ms)
{
	b->min_ms               = min_ms;
	b->max_ms               = max_ms;
	b->current_ms           = 0;
	b->next_at_ms           = 0;
	b->successes            = NULL;
	b->successes_at_failure = 0;
	b->attempting           = false;
}

/* Counts this connection's successes in *successes, and lets it retry at
 * once when the count moved since its last failure. */
static inline void
backoff_share(backoff *b, _Atomic uint64_t *successes)
{
	b->successes = successes;
}

/* Call just before a connection attempt: a peer's success during a failing
 * attempt then still counts (the server may have come back meanwhile). */
static inline void
backoff_attempt(backoff *b)
{
	if (b->successes != NULL)
		b->successes_at_attempt = atomic_load(b->successes);
	b->attempting = true;
}

/* May a new attempt be made now? */
static inline bool
backoff_ready(const backoff *b)
{
	if (b->successes != NULL && atomic_load(b->successes) != b->successes_at_failure)
		return true;
	return rpc_clock_ms() >= b->next_at_ms;
}

static inline void
backoff_failed(backoff *b)
{
	b->current_ms = b->current_ms == 0 ? b->min_ms : b->current_ms * 2;
	if (b->current_ms > b->max_ms)
		b->current_ms = b->max_ms;
	b->next_at_ms = rpc_clock_ms() + b->current_ms;
	if (b->successes != NULL)
		b->successes_at_failure = b->attempting ? b->successes_at_attempt : atomic_load(b->successes);
	b->attempting = false;
}

static inline void
backoff_succeeded(backoff *b)
{
	b->current_ms = 0;
	b->next_at_ms = 0;
	b->attempting = false;
	if (b->successes != NULL)
		atomic_fetch_add(b->successes, 1);
}

#endif
