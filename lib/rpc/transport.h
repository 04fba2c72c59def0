/* The RPC hop's byte transport: connections that carry frames, each a
 * 4-byte big-endian length and that many bytes of an rpc.proto envelope
 * (an Rpc.Request one way, an Rpc.Reply the other), one request and its
 * reply at a time per connection. A connection belongs to one thread at a
 * time (a calling thread, or the server's thread for that connection),
 * which reads and writes its socket itself, TLS included (mbedTLS on the
 * socket, rpc/tls_config.h): no hand-off between threads per call. That is
 * what nng's req/rep and its TLS layer cost (README, "The hop's floor":
 * 4-25 times the CPU of the same bytes this way).
 *
 * URLs as rpc_url_for_nng gives them (a numeric host): tcp://ADDR:PORT,
 * tls+tcp://ADDR:PORT (with a TLS configuration), ipc:///path or
 * unix:///path (a Unix socket), abstract://NAME (Linux's abstract Unix
 * sockets). A connection holds its TLS configuration.
 *
 * Every blocking function takes a deadline in ms on rpc_clock_ms's clock
 * (RPC_NO_DEADLINE: none) and returns 0 or an nng error code, the RPC
 * layer's vocabulary for transport faults: NNG_ETIMEDOUT (the deadline
 * passed), NNG_ECLOSED (rpc_conn_shutdown, the acceptor's shutdown),
 * NNG_ECONNREFUSED (nothing listens), NNG_ECONNRESET / NNG_ECONNSHUT (the
 * peer went), NNG_EPEERAUTH (the TLS handshake failed: the peer's
 * certificate, or ours to it), NNG_EMSGSIZE (a frame over the reader's
 * limit), NNG_ENOMEM, NNG_ENOFILES. After any error the connection is not
 * usable any more (a read that timed out may leave part of a TLS record
 * behind): close it. */
#ifndef RPC_TRANSPORT_H
#define RPC_TRANSPORT_H

#include <nng/nng.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc/tls_config.h"

#define RPC_NO_DEADLINE INT64_MAX
/* The frame header's size: the body's length, big-endian. */
#define RPC_FRAME_HEADER 4

typedef struct rpc_conn rpc_conn;

/* Writes one frame holding body (len bytes) before deadline_ms. */
int rpc_conn_write_frame(rpc_conn *c, const void *body, size_t len, int64_t deadline_ms);

/* Reads one frame: its first byte may take until first_deadline_ms (an
 * idle connection waits here), the rest must follow within rest_ms of it (a
 * peer that starts a frame and stalls is dropped). A frame over max bytes
 * is NNG_EMSGSIZE. On 0 *body is a new nng_msg holding the body, the
 * caller's. */
int rpc_conn_read_frame(rpc_conn *c, size_t max, int64_t first_deadline_ms, int64_t rest_ms, nng_msg **body);

/* Waits until a frame's first bytes are here, before deadline_ms: 0, or
 * NNG_ETIMEDOUT (or the socket's error), after which c is unusable. A
 * server's wait for its caller's next request, so that the frame then
 * read gets its own bound (rpc_conn_read_frame's first_deadline_ms) from
 * its first byte, not what was left of the wait. */
int rpc_conn_wait_readable(rpc_conn *c, int64_t deadline_ms);

/* Runs the TLS handshake of an accepted connection before deadline_ms (a
 * dialed one has run it in rpc_connector_dial); 0 at once without TLS. */
int rpc_conn_handshake(rpc_conn *c, int64_t deadline_ms);

/* Whether the connection is still fit to take a call: false once it has
 * failed, or when the peer has closed it or sent bytes nobody asked for
 * while it sat idle (a pooled connection to a server that restarted).
 * One poll(2) of the socket, no wait. */
bool rpc_conn_fit(rpc_conn *c);

/* The peer's address as accepted or dialed ("192.0.2.1:40000",
 * "[2001:db8::1]:40000", "local" for ipc://), and the address alone. */
const char *rpc_conn_peer(const rpc_conn *c);
const char *rpc_conn_peer_ip(const rpc_conn *c);

/* TLS, after the handshake: whether the peer's certificate verified
 * against the configuration's CAs (false without TLS), and its subject's
 * common name into cn: 0, or -1 when there is none. */
bool rpc_conn_verified(rpc_conn *c);
int rpc_conn_peer_name(rpc_conn *c, char *cn, size_t len);

/* Wakes whoever blocks on c with NNG_ECLOSED, from any thread; the owner
 * still calls rpc_conn_close. Thread-safe. */
void rpc_conn_shutdown(rpc_conn *c);

/* Closes c and frees it. Accepts NULL. */
void rpc_conn_close(rpc_conn *c);

/* ---- listening ---- */
typedef struct rpc_acceptor rpc_acceptor;

/* Listens on url; tls (NULL: plain) is held by the acceptor. url_out gets
 * the address bound (tcp port 0 resolved). */
int rpc_acceptor_open(rpc_acceptor **out, const char *url, rpc_tls *tls, char *url_out, size_t url_len);

/* Waits for the next connection: 0 and *out the caller's (its TLS
 * handshake not run yet: rpc_conn_handshake), NNG_ECLOSED once
 * rpc_acceptor_shutdown ran, or another error for a connection that
 * failed on its way in or a process out of descriptors (call again). */
int rpc_acceptor_accept(rpc_acceptor *a, rpc_conn **out);

/* Stops accepting and wakes rpc_acceptor_accept. Thread-safe. */
void rpc_acceptor_shutdown(rpc_acceptor *a);
/* Accepts NULL. */
void rpc_acceptor_free(rpc_acceptor *a);

/* ---- dialing ---- */
typedef struct rpc_connector rpc_connector;

/* Dials url with tls (NULL: plain; held), whose configuration names the
 * server checked. NNG_EADDRINVAL for a URL of another shape. */
int rpc_connector_open(rpc_connector **out, const char *url, rpc_tls *tls);

/* Connects before connect_by_ms, then runs the TLS handshake before
 * handshake_by_ms (a burst of new connections queues for the CPU their
 * handshakes take, so a caller gives it its call's deadline, not the
 * bound of a connect to a host that may be gone): 0 and *out the
 * caller's. Thread-safe. With TLS, why (may be NULL, len bytes) gets
 * mbedTLS's reason for a failed handshake. */
int rpc_connector_dial(
    rpc_connector *d, int64_t connect_by_ms, int64_t handshake_by_ms, rpc_conn **out, char *why, size_t len);

/* Accepts NULL. */
void rpc_connector_free(rpc_connector *d);

#endif
