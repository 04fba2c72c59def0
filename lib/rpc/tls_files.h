/* RPC_TLS_CERT, RPC_TLS_KEY, RPC_TLS_CA: the PEM files mutual TLS on the
 * nng connections will use (issue 18), checked at start so that a bad file
 * stops a binary with a message naming its variable instead of failing
 * every handshake later. They are checked, not yet used: no URL is switched
 * to tls+tcp:// and no dialer or listener is given a TLS configuration.
 *
 * The checks are mbedTLS 2.28's, the library Debian's libnng1 1.5.2 does
 * TLS with (nng only parses what it is given: it checks neither validity
 * dates nor that a key belongs to its certificate), then nng's own
 * (nng_tls_config_own_cert, nng_tls_config_ca_file) on the same files. */
#ifndef RPC_TLS_FILES_H
#define RPC_TLS_FILES_H

#include <stdbool.h>
#include <stddef.h>

#include "base/env.h"

/* The three paths; "" when not set. Point into the environment, argv or a
 * default (never freed). */
typedef struct rpc_tls_files {
	const char *cert; /* RPC_TLS_CERT: this binary's certificate (PEM) */
	const char *key;  /* RPC_TLS_KEY: its private key (PEM, unencrypted) */
	const char *ca;   /* RPC_TLS_CA: the CA certificate(s) its peers' must chain to (PEM) */
} rpc_tls_files;

/* The names messages use for the three, in the order cert, key, CA:
 * the variables, or rpc-call's options. */
extern const char *const rpc_tls_variable_names[3];

/* The three env_var entries (ENV_CUSTOM, default "", each file checked by
 * the parsers below) writing into files, in vars[0..2]. */
#define RPC_TLS_N_VARS 3
void rpc_tls_env_vars(rpc_tls_files *files, env_var vars[RPC_TLS_N_VARS]);

/* env_parser for each file alone: "" (unset) is accepted. Refused with a
 * reason that follows the quoted path (env.h): it cannot be read, is over
 * 1 MiB, holds no PEM block of the right kind or mbedTLS cannot parse it,
 * or a certificate (any in RPC_TLS_CA) has expired or is not yet valid. */
int rpc_tls_parse_cert(const char *text, void *out, char *err, size_t errlen);
int rpc_tls_parse_key(const char *text, void *out, char *err, size_t errlen);
int rpc_tls_parse_ca(const char *text, void *out, char *err, size_t errlen);

/* True when all three are set: TLS is configured. */
bool rpc_tls_configured(const rpc_tls_files *files);

/* After each file passed its parser: all three set or none (else the
 * missing ones are named), the key is the certificate's, and nng accepts
 * the three. names: what to call them (rpc_tls_variable_names, or
 * rpc-call's options). Returns 0, or -1 with a message naming the
 * variable(s) and path(s) in err. Not thread-safe (start-up only). */
int rpc_tls_files_check(const rpc_tls_files *files, const char *const names[3], char *err, size_t errlen);

#endif
