/* Mutual TLS for the tests that run the system: the development PKI
 * (scripts/lib/dev_pki.sh) whose folder scripts/servers env prints as
 * RPC_TLS_DIR (scripts/test evals it; RPC_TLS=off leaves it empty). With
 * it, every process of the stack runs with its role's files and a
 * tls+tcp://127.0.0.1:<port> URL (nng has no TLS over ipc), and a test that
 * dials a service itself is the operator (rpc-call's role, among every
 * service's callers). Without it, the stack stays on ipc, in plain. */
#ifndef TESTS_SUPPORT_TEST_TLS_H
#define TESTS_SUPPORT_TEST_TLS_H

#include <nng/nng.h>
#include <stddef.h>

#include "rpc/tls_files.h"

/* The PKI's folder, or NULL when RPC_TLS_DIR is unset or empty (TLS off). */
const char *test_tls_dir(void);

/* A service's listening URL: tls+tcp://127.0.0.1:<a free port> with TLS,
 * else ipc://<ipc_dir>/<name>.ipc. */
void test_tls_service_url(char *out, size_t len, const char *ipc_dir, const char *name);

/* The settings of role's binary ("RPC_TLS_CERT=<dir>/<role>.pem",
 * RPC_TLS_KEY, RPC_TLS_CA and, when listens, RPC_TLS_CALLER_CA) into out;
 * returns how many (0 without TLS). */
size_t test_tls_role_env(const char *role, int listens, char out[4][320]);

/* The operator's files, for a client this process opens
 * (rpc_client_options.tls); NULL without TLS. Static storage. */
const rpc_tls_files *test_tls_operator(void);

/* nng_dial(s, url, NULL, flags), except that a tls+tcp:// URL is dialed as
 * the operator, checking that the server is server_name (a registry
 * name). Returns nng's error, 0 on success. */
int test_tls_dial(nng_socket s, const char *url, const char *server_name, int flags);

#endif
