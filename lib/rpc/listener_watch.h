/* A watchdog for a server's nng listener. nng 1.5.2 (Debian 12's) stops
 * accepting on a listener for good after one connection fails or hangs up
 * during the SP handshake (nanomsg/nng#1518, fixed in 1.6.0): a port scan,
 * a TCP health probe or a garbage frame would leave the service serving its
 * existing connections but unreachable for every new client (a restarted
 * gateway, rpc-call, another replica). Such a listener still completes the
 * handshake, but the socket never takes the connection. So every second
 * the watchdog dials the listener and waits for the server socket to add
 * that connection (its pipe event), which needs no free worker, so a busy
 * service is never mistaken for a broken listener. After two dials in a row
 * that the socket did not take, it re-opens the listener. Re-opening closes
 * the connections the old listener had, so their callers reconnect (and
 * calls in flight on them fail with UNAVAILABLE): the price of a listener
 * that takes new clients again. A process out of file descriptors is not
 * re-opened (its listener would close and not open again); a re-open that
 * fails is tried again each second. rpc/server.c starts one only where
 * nng_fixes.h says the loaded libnng has the bug. */
#ifndef RPC_LISTENER_WATCH_H
#define RPC_LISTENER_WATCH_H

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

typedef struct listener_watch listener_watch;

/* Starts watching *listener, which listens on url for sock; on a re-open
 * *listener is replaced. Takes sock's NNG_PIPE_EV_ADD_POST notification.
 * With TLS, listen_tls is the listener's configuration (a re-open uses it
 * again) and probe_tls the probe dialer's, whose identity the listener
 * must let in (tls_config.h's rpc_tls_self); the watch holds a reference
 * to each until freed. Both NULL without TLS. NULL when out of memory
 * (then nothing watches). */
listener_watch *listener_watch_start(
    nng_socket sock, nng_listener *listener, const char *url, nng_tls_config *listen_tls, nng_tls_config *probe_tls);

/* Stops the watchdog thread; call before the socket closes. A probe in
 * flight first finishes its handshake (at most 2 s): see accepts(). Accepts
 * NULL. */
void listener_watch_stop(listener_watch *w);

/* Frees it; call after the socket closed (its pipe callback may run until
 * then). Accepts NULL. */
void listener_watch_free(listener_watch *w);

#endif
