/* A watchdog for a server's nng listener. nng 1.5.2 (Debian 12's) stops
 * accepting on a listener for good after one connection fails or hangs up
 * during the SP handshake (nanomsg/nng#1518, fixed in 1.6.0): a port scan,
 * a TCP health probe or a garbage frame would leave the service serving its
 * existing connections but unreachable for every new client (a restarted
 * gateway, rpc-call, another replica). Such a listener still completes the
 * handshake, but the socket never takes the connection, so the watchdog
 * makes a real call: every second, on a new connection, it asks the
 * server's reserved method LISTENER_WATCH_METHOD, which the server answers
 * OK at once. When two calls in a row get no answer, it re-opens the
 * listener. Re-opening closes the connections the old
 * listener had, so their clients reconnect (and requests in flight on them
 * are lost to their deadline); that is the price of a listener that came
 * back. */
#ifndef LISTENER_WATCH_H
#define LISTENER_WATCH_H

#include <nng/nng.h>

typedef struct listener_watch listener_watch;

/* The method the server answers itself (OK, no payload, not logged). */
#define LISTENER_WATCH_METHOD "rpc.ListenerWatch/Probe"

/* Starts watching *listener, which listens on url for sock; on a re-open
 * *listener is replaced. NULL when out of memory (then nothing watches). */
listener_watch *listener_watch_start(nng_socket sock, nng_listener *listener, const char *url);

/* Stops the watchdog (before the socket closes). Accepts NULL. */
void listener_watch_stop(listener_watch *w);

/* Times the listener was re-opened since start. */
int listener_watch_reopened(const listener_watch *w);

#endif
