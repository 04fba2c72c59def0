/* Dead-link detection on a TCP connection of the RPC hop (issue 19). A
 * link cut between two hosts (a cable, a partition, a node gone without a
 * FIN) leaves the connection looking healthy for minutes: Linux retransmits
 * for about 15 minutes (tcp_retries2) and sends keepalives after 2 hours,
 * so a call on such a connection would wait out its deadline and the
 * connection would take calls until then. With a short TCP_USER_TIMEOUT
 * (RFC 5482) and keepalive the kernel closes the connection within a few
 * seconds of losing the link, whatever the process is doing (the peer's
 * kernel answers, not its threads, so a busy service is not taken for a
 * dead one); its call fails UNAVAILABLE, and the pool drops it. */
#ifndef RPC_TCP_LIVENESS_H
#define RPC_TCP_LIVENESS_H

/* The bound, in ms: unacknowledged data or an unanswered keepalive for this
 * long closes the connection. Keepalives start after 1 s of silence, every
 * 1 s. */
#define RPC_TCP_USER_TIMEOUT_MS 3000

/* Sets the options on the TCP socket fd: 0, or -1 when the system refused
 * one (the connection works as before, without the bound). */
int rpc_tcp_liveness_set(int fd);

#endif
