/* A fake Redis sentinel for tests (issue 20): a listener on 127.0.0.1 whose
 * thread answers every command on each connection it accepts with one
 * address, 127.0.0.1:names, delay_ms after the command came, and closes
 * the connection. A liar names a replica, a dead port or itself (names 0);
 * to the ROLE a client sends when confirming, it answers the same array,
 * which is no master's. Not a real sentinel: one connection at a time. */
#ifndef TESTS_FAKE_SENTINEL_H
#define TESTS_FAKE_SENTINEL_H

#include <pthread.h>
#include <stdbool.h>

typedef struct fake_sentinel {
	int fd, port, names, delay_ms;
	pthread_t thread;
} fake_sentinel;

/* Starts f; names 0 names its own port. Returns 0, or -1 (errno). */
int fake_sentinel_start(fake_sentinel *f, int names, int delay_ms);

/* The same on ::1 when ipv6 (it still names 127.0.0.1:names). */
int fake_sentinel_start_at(fake_sentinel *f, bool ipv6, int names, int delay_ms);

/* Stops the thread and closes the listener. */
void fake_sentinel_stop(fake_sentinel *f);

/* A port on 127.0.0.1 nothing listens on (bound once, then closed), or -1. */
int fake_sentinel_dead_port(void);

#endif
