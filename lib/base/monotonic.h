/* Timed waits on the monotonic clock, so a wall-clock step (NTP, a VM
 * resumed) never stretches or cuts a wait. */
#ifndef BASE_MONOTONIC_H
#define BASE_MONOTONIC_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Initialises cv so that pthread_cond_timedwait reads CLOCK_MONOTONIC. */
void monotonic_cond_init(pthread_cond_t *cv);

/* The CLOCK_MONOTONIC time ms milliseconds from now, for such a wait. */
struct timespec monotonic_deadline(int64_t ms);

#endif
