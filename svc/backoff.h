/* Reconnect pacing shared by every dependency connection: after a failure,
 * wait, doubling from min_ms up to max_ms; success resets it. */
#ifndef BACKOFF_H
#define BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

#include "rpc_envelope.h" /* rpc_clock_ms */

typedef struct backoff {
	int min_ms, max_ms;
	int current_ms;     /* 0 until the first failure */
	int64_t next_at_ms; /* no attempt before this */
} backoff;

static inline void
backoff_init(backoff *b, int min_ms, int max_ms)
{
	b->min_ms     = min_ms;
	b->max_ms     = max_ms;
	b->current_ms = 0;
	b->next_at_ms = 0;
}

/* May a new attempt be made now? */
static inline bool
backoff_ready(const backoff *b)
{
	return rpc_clock_ms() >= b->next_at_ms;
}

static inline void
backoff_failed(backoff *b)
{
	b->current_ms = b->current_ms == 0 ? b->min_ms : b->current_ms * 2;
	if (b->current_ms > b->max_ms)
		b->current_ms = b->max_ms;
	b->next_at_ms = rpc_clock_ms() + b->current_ms;
}

static inline void
backoff_succeeded(backoff *b)
{
	b->current_ms = 0;
	b->next_at_ms = 0;
}

#endif
