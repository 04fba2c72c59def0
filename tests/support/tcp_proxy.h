/* A TCP proxy in front of a real server, for tests of what a client does
 * when the network fails at a chosen message: it forwards every connection
 * (each on a thread of its own) until one of the client's messages holds a
 * chosen text, then, once:
 *   - TCP_PROXY_LOSE_REPLY: that message reaches the server, and the
 *     server's next bytes (its answer) are thrown away with both
 *     connections closed: the statement ran, its answer never came;
 *   - TCP_PROXY_FREEZE: that message and everything after it, both ways,
 *     are held and never delivered, connections left open: a server frozen
 *     or cut off by the network, not a down one.
 * The text is looked for in each read of the client's bytes (a message of
 * a few hundred bytes arrives in one read on loopback). At most 64
 * connections in a proxy's life; later ones are closed at once.
 * Thread safety: tcp_proxy_arm may be called while connections run; the
 * rest from the test's thread. Errors: tcp_proxy_start returns NULL when it
 * cannot listen. */
#ifndef TESTS_TCP_PROXY_H
#define TESTS_TCP_PROXY_H

#include <stdbool.h>

typedef struct tcp_proxy tcp_proxy;

typedef enum tcp_proxy_fault {
	TCP_PROXY_LOSE_REPLY,
	TCP_PROXY_FREEZE,
	/* That message reaches the server but its last tail_bytes (a
	 * PostgreSQL Sync: 5) are held until tcp_proxy_release (bytes the
	 * client sends meanwhile would overtake them). */
	TCP_PROXY_HOLD_TAIL,
} tcp_proxy_fault;

/* Listens on 127.0.0.1 (an ephemeral port: tcp_proxy_port) and forwards
 * to 127.0.0.1:upstream_port. */
tcp_proxy *tcp_proxy_start(int upstream_port);

int tcp_proxy_port(const tcp_proxy *p);

/* The next client message holding text (copied) meets fault; replaces an
 * armed one not yet met. */
void tcp_proxy_arm(tcp_proxy *p, tcp_proxy_fault fault, const char *text);

/* With TCP_PROXY_HOLD_TAIL, how many bytes are held (default 5). */
void tcp_proxy_hold_tail(tcp_proxy *p, int tail_bytes);

/* Delivers what TCP_PROXY_HOLD_TAIL held. */
void tcp_proxy_release(tcp_proxy *p);

/* While on, a connection the server closed stays open to its client,
 * which reads what the server sent last and no end: the client's next
 * bytes then close it, undelivered (a server gone between two
 * statements, its goodbye read, its close not yet). */
void tcp_proxy_hold_close(tcp_proxy *p, bool on);

/* Closes each connection TCP_PROXY_FREEZE holds now with a reset to its
 * client (SO_LINGER 0): the client's socket then reports an error, as one
 * whose path failed during a network cut does. The proxy goes on
 * forwarding new connections; one frozen later is held until the next
 * call. */
void tcp_proxy_reset_frozen(tcp_proxy *p);

/* Whether the armed fault was met. */
bool tcp_proxy_met(tcp_proxy *p);

/* Closes every connection and the listener, and frees p; accepts NULL. */
void tcp_proxy_stop(tcp_proxy *p);

#endif
