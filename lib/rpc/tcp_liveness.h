/* Dead-link detection on a dialed TCP connection (issue 19). A link cut
 * between two hosts (a cable, a partition, a node gone without a FIN) leaves
 * the connection looking healthy for minutes: Linux retransmits for about
 * 15 minutes (tcp_retries2) and sends keepalives after 2 hours. nng's REQ
 * keeps sending to such a pipe, so a share of the calls would time out
 * until then. With a short TCP_USER_TIMEOUT (RFC 5482) and keepalive the
 * kernel closes the connection within a few seconds of losing the link,
 * whatever the process is doing (the peer's kernel answers, not its
 * threads, so a busy service is not taken for a dead one); nng then drops
 * the pipe, its calls in flight fail UNAVAILABLE, and REQ sends new ones to
 * the other replicas.
 *
 * nng 1.5.2 exposes neither the descriptor nor these options (only
 * NNG_OPT_TCP_KEEPALIVE, which keeps the 2-hour default), so the pipe's
 * socket is found by its two addresses among the process's descriptors. */
#ifndef RPC_TCP_LIVENESS_H
#define RPC_TCP_LIVENESS_H

#include <nng/nng.h>

/* The bound, in ms: unacknowledged data or an unanswered keepalive for this
 * long closes the connection. Keepalives start after 1 s of silence, every
 * 1 s. */
#define RPC_TCP_USER_TIMEOUT_MS 3000

/* Sets the options on pipe's TCP socket (tcp or tls+tcp). Returns 0, 1 when
 * the pipe is not TCP (nothing to do), or -1 when its socket was not found
 * or refused an option (the connection works as before, without the
 * bound). Call it from a pipe event callback (NNG_PIPE_EV_ADD_PRE), while
 * the pipe exists. Thread-safe; costs a scan of /proc/self/fd. */
int rpc_tcp_liveness_set(nng_pipe pipe);

/* The same for the socket whose local and peer addresses these are (a
 * connection of nng's byte streams, rpc/transport.h). */
int rpc_tcp_liveness_set_addresses(const nng_sockaddr *local, const nng_sockaddr *peer);

#endif
