/* The stop signals of every binary: SIGINT and SIGTERM are blocked in all
 * threads (main waits for them with sigwait), SIGPIPE is ignored (a peer
 * that goes away is an error return, not a death). */
#ifndef BASE_SIGNALS_H
#define BASE_SIGNALS_H

#include <signal.h>

/* Call in main before any thread starts; fills stop with SIGINT and SIGTERM. */
void signals_block_stop(sigset_t *stop);

#endif
