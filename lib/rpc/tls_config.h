/* The TLS of the RPC hop, mbedTLS's, built from RPC_TLS_* files that passed
 * rpc_tls_files_check (rpc/tls_files.h says who is who): a dialer's, which
 * checks the server, and a listener's, which asks every caller for a
 * certificate. The files are read when a configuration is built, so a
 * process keeps the identity it started with until it restarts. TLS 1.2
 * (what nng ran; one version on mbedTLS 2.28 and 3.6 alike).
 *
 * A configuration is immutable once built and shared by every connection
 * of its side (mbedTLS is built thread-safe on Debian: MBEDTLS_THREADING_C),
 * counted: rpc_tls_hold for each holder, rpc_tls_free by each. Each builder
 * returns RPC_OK with *out the caller's reference, or an error code with st
 * naming the file and mbedTLS's reason. */
#ifndef RPC_TLS_CONFIG_H
#define RPC_TLS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc/status.h"
#include "rpc/tls_files.h"

typedef struct rpc_tls rpc_tls;

/* A dialer's: presents RPC_TLS_CERT/KEY and requires the server's
 * certificate to chain to RPC_TLS_CA and to carry server_name (a DNS name;
 * mbedTLS matches no IP address), whatever host the URL names. */
rpc_code rpc_tls_dialer_config(rpc_tls **out, const rpc_tls_files *files, const char *server_name, rpc_status *st);

/* A listener's: presents RPC_TLS_CERT/KEY and asks each caller for a
 * certificate, verified against RPC_TLS_CALLER_CA in mbedTLS's OPTIONAL
 * mode: a caller whose certificate is missing or does not verify still
 * completes the handshake, and the connection says so (rpc_conn_verified)
 * for the server to refuse, log and count. */
rpc_code rpc_tls_listener_config(rpc_tls **out, const rpc_tls_files *files, rpc_status *st);

/* mbedTLS's random source (f_rng) for this project's TLS: the kernel's
 * generator (getrandom), thread-safe, nothing to seed; ctx is unused.
 * Returns 0, or MBEDTLS_ERR_SSL_INTERNAL_ERROR when the kernel fails. */
int rpc_tls_random(void *ctx, unsigned char *buf, size_t len);

/* TLS handshakes the listeners of this process resumed from a session
 * ticket (RFC 5077) since it started, skipping the certificate exchange
 * (a counter for /metrics; a caller refused after it counts too: the
 * check comes after the handshake). A dialer keeps the last
 * session of each server it dials (rpc_connector_dial), and a listener
 * issues tickets valid for an hour. Thread-safe. */
uint64_t rpc_tls_sessions_resumed(void);

void rpc_tls_hold(rpc_tls *t);
/* Accepts NULL. */
void rpc_tls_free(rpc_tls *t);

/* For rpc/transport.c: the mbedtls_ssl_config (a const mbedtls_ssl_config
 * *), whether it is a server's, and the name a dialer checks. */
const void *rpc_tls_ssl_config(const rpc_tls *t);
bool rpc_tls_is_server(const rpc_tls *t);
const char *rpc_tls_server_name(const rpc_tls *t);

#endif
