/* RPC_TLS_CERT, RPC_TLS_KEY, RPC_TLS_CA and, for a binary that listens,
 * RPC_TLS_CALLER_CA: the PEM files of mutual TLS on the RPC connections
 * (rpc/tls_config.h builds mbedTLS's configurations from them), checked at
 * start so that a bad file stops a binary with a message naming its
 * variable instead of failing every handshake later.
 *
 * Who is who: each role (gateway, operator, and every registry service) has
 * a CA of its own, and a service trusts as callers its own role's CA and
 * those of the roles its registry line lets call it (RPC_TLS_CALLER_CA); it
 * also checks the caller certificate's common name (rpc/server.h). A
 * dialer trusts the services' CAs (RPC_TLS_CA) and checks that the server
 * certificate names the service (its registry name).
 *
 * The checks are mbedTLS's (2.28 on Debian 12, 3.6 on 13): validity dates
 * and that the key belongs to its certificate, then the files built into
 * configurations as the hop will build them. */
#ifndef RPC_TLS_FILES_H
#define RPC_TLS_FILES_H

#include <stdbool.h>
#include <stddef.h>

#include "base/env.h"

/* The paths; "" when not set. Point into the environment, argv or a
 * default (never freed). */
typedef struct rpc_tls_files {
	const char *cert;      /* RPC_TLS_CERT: this binary's certificate (PEM) */
	const char *key;       /* RPC_TLS_KEY: its private key (PEM, unencrypted) */
	const char *ca;        /* RPC_TLS_CA: the CA certificate(s) of the services it dials (PEM) */
	const char *caller_ca; /* RPC_TLS_CALLER_CA: the CAs of the callers a listener accepts (PEM) */
} rpc_tls_files;

/* The names messages use, in the order cert, key, CA, caller CA: the
 * variables, or rpc-call's options. */
#define RPC_TLS_N_VARS 4
extern const char *const rpc_tls_variable_names[RPC_TLS_N_VARS];

/* Whether the binary listens (a service: it reads RPC_TLS_CALLER_CA) or
 * only dials (the gateway, rpc-call). */
typedef enum rpc_tls_side {
	RPC_TLS_DIALS,
	RPC_TLS_LISTENS,
} rpc_tls_side;

/* The env_var entries (ENV_CUSTOM, default "", each file checked by the
 * parsers below) writing into files: three for RPC_TLS_DIALS, four for
 * RPC_TLS_LISTENS, in vars[0..]. Sets files->caller_ca to "" and returns
 * how many it wrote. */
size_t rpc_tls_env_vars(rpc_tls_files *files, rpc_tls_side side, env_var vars[RPC_TLS_N_VARS]);

/* env_parser for each file alone: "" (unset) is accepted. Refused with a
 * reason that follows the quoted path (env.h): it cannot be read, is over
 * 1 MiB, holds no PEM block of the right kind or mbedTLS cannot parse it,
 * or a certificate (any in RPC_TLS_CA) has expired or is not yet valid. */
int rpc_tls_parse_cert(const char *text, void *out, char *err, size_t errlen);
int rpc_tls_parse_key(const char *text, void *out, char *err, size_t errlen);
int rpc_tls_parse_ca(const char *text, void *out, char *err, size_t errlen);

/* The whole PEM file at path (at most 1 MiB, a regular file),
 * NUL-terminated (mbedTLS parses PEM only with its NUL counted), in *out
 * (free it); its length without the NUL in *len. Returns 0, or -1 with a
 * reason in err that reads after the quoted path. */
int rpc_tls_read_pem(const char *path, char **out, size_t *len, char *err, size_t errlen);

/* True when TLS is configured (RPC_TLS_CERT is set; after
 * rpc_tls_files_check, so are the others the side needs). */
bool rpc_tls_configured(const rpc_tls_files *files);

/* After each file passed its parser: the side's files all set or none
 * (else the missing ones are named), the key is the certificate's, and nng
 * accepts them. names: what to call them (rpc_tls_variable_names, or
 * rpc-call's options). Returns 0, or -1 with a message naming the
 * variable(s) and path(s) in err. Not thread-safe (start-up only). */
int rpc_tls_files_check(
    const rpc_tls_files *files, rpc_tls_side side, const char *const names[RPC_TLS_N_VARS], char *err, size_t errlen);

/* Every URL of urls (one, or a comma-separated list to dial) is tls+tcp://
 * (tls+tcp4, tls+tcp6) when TLS is configured, and none is when it is not:
 * a plain URL must not bypass the callers' check, and a tls+tcp:// one
 * without files would dial with no identity. Returns 0, or -1 with a
 * reason in err naming variable and the URL. */
int rpc_tls_check_urls(const rpc_tls_files *files, const char *variable, const char *urls, char *err, size_t errlen);

/* With TLS configured, a service's own certificate (RPC_TLS_CERT) must
 * name it as its callers check (subjectAltName DNS:name, or the CN when it
 * has no DNS name): else every caller would refuse it. Returns 0, or -1
 * with a reason naming the variable and path. */
int rpc_tls_check_own_name(const rpc_tls_files *files, const char *name, char *err, size_t errlen);

/* True when url's scheme is tls+tcp, tls+tcp4 or tls+tcp6. */
bool rpc_tls_url(const char *url);

#endif
