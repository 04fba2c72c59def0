/* The stop signals of every binary, SIGINT and SIGTERM, and SIGPIPE.
 *
 * A stop signal is caught by a handler that only writes its number into a
 * pipe, and main waits on that pipe (signals_wait_stop). Not a mask that
 * blocks them in every thread with main in sigwait: that holds only while
 * every thread keeps them blocked, and a library's threads may set a mask
 * of their own. nng 1.10's block SIGPIPE only (Debian 13): the kernel can
 * hand a SIGTERM to one of them, whose default action ends the process at
 * once, nothing drained (seen as "killed by signal 15" on trixie). With a
 * handler, whichever thread takes the signal, the stop goes through main.
 *
 * Our own threads still start with SIGINT and SIGTERM blocked, so their
 * system calls are never interrupted (EINTR): signals_catch_stop blocks them
 * in main before any thread starts, and signals_wait_stop lets them in for
 * main alone while it waits. SIGPIPE is ignored: a peer that goes away is
 * an error return, not a death. Not thread-safe: main's only. */
#ifndef BASE_SIGNALS_H
#define BASE_SIGNALS_H

#include <stdbool.h>

/* Call in main before any thread starts. Returns 0, or -1 with errno when
 * the pipe or the handler cannot be set up (the caller reports and exits). */
int signals_catch_stop(void);

/* Waits up to timeout_ms (-1: for ever) for a stop signal, one that came
 * earlier included (the pipe keeps it). Returns its number, or 0 when the
 * time ran out (always, without signals_catch_stop: it only waits). */
int signals_wait_stop(int timeout_ms);

/* Whether a stop signal has come that signals_wait_stop has not taken yet:
 * in the pipe (a thread that lets it in took it), or pending while the
 * stop signals are blocked (ours, main's outside its wait). Takes nothing.
 * Safe from any thread; false without signals_catch_stop. */
bool signals_stop_pending(void);

#endif
