/* The floor of one hop over mutual TLS: tcp_floor.h's blocking echo (its
 * connections, threads and frames) with mbedTLS used directly on each
 * socket, no nng. The caller's own thread runs mbedtls_ssl_write/read on
 * its own fd, the server a thread per connection; TLS 1.2 (as nng 1.5.2
 * negotiates), each side requiring and verifying the other's certificate,
 * the caller also checking the server's name. What TLS adds to the floor
 * (rpc-bench). Benchmarks only: loopback, PEM files. */
#ifndef BENCH_TLS_FLOOR_H
#define BENCH_TLS_FLOOR_H

#include <stddef.h>
#include <stdint.h>

/* One side's identity and whom it trusts: PEM files. */
typedef struct tls_floor_files {
	const char *cert, *key, *ca;
} tls_floor_files;

typedef struct tls_floor_server tls_floor_server;
typedef struct tls_floor_client tls_floor_client;
typedef struct tls_floor_conn tls_floor_conn;

/* Serves on 127.0.0.1 at a port the system picks (*port gets it),
 * presenting f->cert/key and requiring callers' certificates to chain to
 * f->ca. NULL on failure (stderr says why). */
tls_floor_server *tls_floor_start(const tls_floor_files *f, int *port);
/* As tcp_floor_stop. Accepts NULL. */
void tls_floor_stop(tls_floor_server *s);

/* A caller's configuration, shared by its connections: presents
 * f->cert/key, requires the server's certificate to chain to f->ca and to
 * name server_name. NULL on failure (stderr says why). */
tls_floor_client *tls_floor_client_new(const tls_floor_files *f, const char *server_name);
void tls_floor_client_free(tls_floor_client *c);

/* A connection to 127.0.0.1:port, its handshake done; NULL on failure.
 * The name of the cipher suite it negotiated, for the table. */
tls_floor_conn *tls_floor_connect(tls_floor_client *c, int port);
const char *tls_floor_ciphersuite(const tls_floor_conn *c);
void tls_floor_close(tls_floor_conn *c);

/* One round trip, as tcp_floor_call. */
int tls_floor_call(tls_floor_conn *c, const uint8_t *request, size_t len, uint8_t *reply);

#endif
