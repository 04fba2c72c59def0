/* The floor of one hop on this machine: a request and its reply over a
 * plain TCP connection, written and read by the calling thread itself with
 * blocking calls, and served by a thread of the server's that owns that
 * connection. No library, no hand-off between threads: what a hop costs
 * here before any RPC runtime adds to it (rpc-bench prints it beside bare
 * nng and the runtime). Frames are a 4-byte length in host order, then the
 * bytes; the server echoes each frame. For benchmarks only: no deadlines,
 * loopback; no TLS here (bench/tls_floor.h wraps these connections and
 * frames in mbedTLS). */
#ifndef BENCH_TCP_FLOOR_H
#define BENCH_TCP_FLOOR_H

#include <stddef.h>
#include <stdint.h>

typedef struct tcp_floor_server tcp_floor_server;

/* Listens on 127.0.0.1 at a port the system picks (*port gets it) and
 * serves every connection from a thread of its own. NULL on failure
 * (errno says why). */
tcp_floor_server *tcp_floor_start(int *port);

/* The same, with serve(fd, ctx) run on each connection's thread (with
 * TCP_NODELAY set) instead of the plain echo; it returns when the
 * connection ends. The server closes fd after it; tcp_floor_stop shuts fd
 * down to end it. */
typedef void tcp_floor_serve_fn(int fd, void *ctx);
tcp_floor_server *tcp_floor_start_serving(int *port, tcp_floor_serve_fn *serve, void *ctx);

/* Stops accepting, ends every connection and frees the server; callers
 * must have closed their connections, or see them end. Accepts NULL. */
void tcp_floor_stop(tcp_floor_server *s);

/* A connection to 127.0.0.1:port with TCP_NODELAY (as nng sets it), or -1. */
int tcp_floor_connect(int port);

/* One round trip on fd: sends len bytes (at most TCP_FLOOR_MAX_BYTES) and
 * reads the echo into reply (len bytes). 0, or -1 when the connection
 * failed. */
#define TCP_FLOOR_MAX_BYTES 4096
int tcp_floor_call(int fd, const uint8_t *request, size_t len, uint8_t *reply);

/* The frames over any byte stream: read and write move exactly len bytes
 * of ctx's stream (0, or -1 when it failed). tcp_floor_call and the
 * server's echo are these over a socket. */
typedef struct tcp_floor_io {
	int (*read)(void *ctx, void *buf, size_t len);
	int (*write)(void *ctx, const void *buf, size_t len);
	void *ctx;
} tcp_floor_io;
int tcp_floor_io_call(const tcp_floor_io *io, const uint8_t *request, size_t len, uint8_t *reply);
/* Echoes frames until the stream fails or ends. */
void tcp_floor_io_echo(const tcp_floor_io *io);

#endif
