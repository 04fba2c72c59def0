/* The RPC hop's byte transport: connections that carry frames, each a
 * 4-byte big-endian length and that many bytes of an rpc.proto envelope
 * (an Rpc.Request one way, an Rpc.Reply the other), one request and its
 * reply at a time per connection. A connection belongs to one thread at a
 * time (a calling thread, or the server's thread for that connection), which
 * reads and writes it itself: no hand-off between threads per call, which
 * is what nng's req/rep cost (README, "The hop's floor": 3-8 times the CPU
 * of the bytes). Built on nng's byte streams (nng_stream: tcp://, ipc://,
 * tls+tcp:// with an nng_tls_config), so TLS and dialing stay nng's.
 *
 * Every blocking function takes a deadline in ms on rpc_clock_ms's clock
 * (RPC_NO_DEADLINE: none) and returns 0 or an nng error code: NNG_ETIMEDOUT
 * (the deadline passed), NNG_ECLOSED (rpc_conn_shutdown or the listener's
 * shutdown), NNG_ECONNRESET / NNG_ECONNSHUT (the peer went), NNG_EMSGSIZE
 * (a frame over the reader's limit), NNG_EPROTO (not a frame); after any
 * error but NNG_ETIMEDOUT before the first byte of a read, the connection
 * is not usable any more: close it. */
#ifndef RPC_TRANSPORT_H
#define RPC_TRANSPORT_H

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
 * caller's. *started (may be NULL) says whether any byte of a frame
 * arrived, so a caller can tell a peer that closed an idle connection from
 * one that went mid-frame. */
int rpc_conn_read_frame(rpc_conn *c, size_t max, int64_t first_deadline_ms, int64_t rest_ms, nng_msg **body,
    bool *started);

/* Watches an idle connection (a pooled one) for its peer closing it or
 * sending bytes nobody asked for, until rpc_conn_fit. */
void rpc_conn_park(rpc_conn *c);

/* Whether the connection is still fit to take a call: false once it has
 * failed, or when the peer has closed it or sent bytes nobody asked for
 * while it sat parked (a pooled connection to a server that restarted).
 * Ends the watch of rpc_conn_park; costs no wait. */
bool rpc_conn_fit(rpc_conn *c);

/* The peer's address ("192.0.2.1:40000", "[2001:db8::1]:40000"; "local"
 * for ipc://; "unknown" when the system no longer tells), and in ip the
 * address alone. */
void rpc_conn_peer(rpc_conn *c, char *buf, size_t len, char *ip, size_t ip_len);

/* TLS only: whether the peer's certificate verified (false without TLS,
 * before the handshake, which nng runs on a connection's first read or
 * write), and its common name where nng tells it (>= 1.6,
 * rpc_nng_tells_peer_name): 0 and *cn the caller's (nng_strfree), or an nng
 * error. */
bool rpc_conn_verified(rpc_conn *c);
int rpc_conn_peer_name(rpc_conn *c, char **cn);

/* Has a TCP connection notice a dead peer within RPC_TCP_USER_TIMEOUT_MS
 * (tcp_liveness.h): 0, 1 when not TCP, -1 when the system refused. */
int rpc_conn_set_liveness(rpc_conn *c);

/* Wakes whoever blocks on c with NNG_ECLOSED, from any thread; the owner
 * still calls rpc_conn_close. Thread-safe. */
void rpc_conn_shutdown(rpc_conn *c);

/* Closes c and frees it. Accepts NULL. */
void rpc_conn_close(rpc_conn *c);

/* ---- listening ---- */
typedef struct rpc_acceptor rpc_acceptor;

/* Listens on url (tcp://, tls+tcp:// with tls, ipc://; a numeric host, as
 * rpc_url_for_nng gives). tls (may be NULL) is held by the acceptor. url_out
 * gets the address bound (tcp port 0 resolved). */
int rpc_acceptor_open(rpc_acceptor **out, const char *url, nng_tls_config *tls, char *url_out, size_t url_len);

/* Waits for the next connection: 0 and *out the caller's, NNG_ECLOSED once
 * rpc_acceptor_shutdown ran, or another error for a connection that failed
 * on its way in (the acceptor goes on: call again). */
int rpc_acceptor_accept(rpc_acceptor *a, rpc_conn **out);

/* Stops listening and wakes rpc_acceptor_accept. Thread-safe. */
void rpc_acceptor_shutdown(rpc_acceptor *a);
void rpc_acceptor_free(rpc_acceptor *a);

/* ---- dialing ---- */
typedef struct rpc_connector rpc_connector;

/* Dials url (as rpc_acceptor_open's, a numeric host) with tls (may be
 * NULL; held), whose configuration names the server checked. */
int rpc_connector_open(rpc_connector **out, const char *url, nng_tls_config *tls);

/* Connects before deadline_ms: 0 and *out the caller's. Thread-safe:
 * several threads may dial through one connector at once. */
int rpc_connector_dial(rpc_connector *d, int64_t deadline_ms, rpc_conn **out);

void rpc_connector_free(rpc_connector *d);

#endif
