/* nng TLS configurations built from RPC_TLS_* files that passed
 * rpc_tls_files_check (rpc/tls_files.h says who is who): a dialer's, which
 * checks the server, and a listener's, which asks every caller for a
 * certificate. nng reads the files when a configuration is built, so a
 * process keeps the identity it started with until it restarts.
 *
 * Each function returns RPC_OK with *out the caller's (nng counts its
 * references: nng_tls_config_free it once it is attached, or when done), or
 * an error code with st naming the file and nng's reason. Thread-safe. */
#ifndef RPC_TLS_CONFIG_H
#define RPC_TLS_CONFIG_H

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include "rpc/status.h"
#include "rpc/tls_files.h"

/* A dialer's: presents RPC_TLS_CERT/KEY and requires the server's
 * certificate to chain to RPC_TLS_CA and to carry server_name (a DNS name;
 * mbedTLS 2.28 matches no IP address), whatever host the URL names. */
rpc_code rpc_tls_dialer_config(
    nng_tls_config **out, const rpc_tls_files *files, const char *server_name, rpc_status *st);

/* A listener's: presents RPC_TLS_CERT/KEY and asks each caller for a
 * certificate, verified against RPC_TLS_CALLER_CA and extra_trusted_pem
 * (NULL: none), in NNG_TLS_AUTH_MODE_OPTIONAL: a caller whose certificate
 * is missing or does not verify still completes the handshake, and its
 * pipe says so (NNG_OPT_TLS_VERIFIED false) for the server to refuse, log
 * and count. Under REQUIRED nng 1.5.2 drops such a connection inside the
 * transport, where nothing can see it. */
rpc_code rpc_tls_listener_config(
    nng_tls_config **out, const rpc_tls_files *files, const char *extra_trusted_pem, rpc_status *st);

/* A key and a self-signed certificate made in memory at each call (EC
 * P-256, CN=rpc-self), for a process to prove itself to its own listener:
 * the private key exists nowhere else, so trusting the certificate lets in
 * only this process. PEM, NUL-terminated. */
typedef struct rpc_tls_self {
	char cert_pem[2048];
	char key_pem[1024];
} rpc_tls_self;
rpc_code rpc_tls_self_make(rpc_tls_self *self, rpc_status *st);

/* A dialer's configuration presenting self, checking nothing of the server
 * (for a probe of the process's own listener). */
rpc_code rpc_tls_self_dialer_config(nng_tls_config **out, const rpc_tls_self *self, rpc_status *st);

#endif
