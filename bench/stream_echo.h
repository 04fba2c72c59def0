/* The same echo as tcp_floor.h, over nng's own byte streams (nng_stream:
 * nng's TCP, or with a TLS configuration nng's TLS over it, tls+tcp://)
 * instead of plain sockets: a connection per caller, a thread of the
 * server's per connection, each side waiting on its own aio. What nng
 * costs below its SP protocols (req/rep), for rpc-bench. Frames as in
 * tcp_floor.h. Benchmarks only. */
#ifndef BENCH_STREAM_ECHO_H
#define BENCH_STREAM_ECHO_H

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>
#include <stddef.h>
#include <stdint.h>

typedef struct stream_echo_server stream_echo_server;
typedef struct stream_echo_conn stream_echo_conn;

/* Listens on tcp://127.0.0.1 at a port the system picks, or with tls (a
 * server's configuration, NULL: none) on tls+tcp://; url (len bytes) gets
 * the address to dial. NULL on failure. */
stream_echo_server *stream_echo_start(char *url, size_t len, nng_tls_config *tls);

/* Stops accepting, ends every connection and frees the server. Accepts
 * NULL. */
void stream_echo_stop(stream_echo_server *s);

/* A connection to url, or NULL; close it with stream_echo_close. tls: a
 * client's configuration for a tls+tcp:// url (NULL otherwise); nng's TLS
 * handshakes on the first I/O, so one round trip here does it. */
stream_echo_conn *stream_echo_connect(const char *url, nng_tls_config *tls);
void stream_echo_close(stream_echo_conn *c);

/* One round trip, as tcp_floor_call: 0, or -1 when the connection failed. */
int stream_echo_call(stream_echo_conn *c, const uint8_t *request, size_t len, uint8_t *reply);

#endif
