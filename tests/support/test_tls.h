/* Mutual TLS for the tests that run the system: the development PKI
 * (scripts/lib/dev_pki.sh) whose folder scripts/servers env prints as
 * RPC_TLS_DIR (scripts/test evals it; RPC_TLS=off leaves it empty). With
 * it, every process of the stack runs with its role's files and a
 * tls+tcp://127.0.0.1:<port> URL (the hop has no TLS over ipc), and a test that
 * dials a service itself is the operator (rpc-call's role, among every
 * service's callers). Without it, the stack stays on ipc, in plain. */
#ifndef TESTS_SUPPORT_TEST_TLS_H
#define TESTS_SUPPORT_TEST_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc/tls_files.h"
#include "rpc/transport.h"

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

/* A raw connection to the service at url (as the tests have it: a name is
 * looked up, rpc_url_for_nng), made before deadline_ms (rpc_clock_ms's
 * clock): plain for tcp:// and ipc://, and for tls+tcp:// with TLS as the
 * operator, checking that the server is server_name (a registry name).
 * Returns 0 with *out the caller's (rpc_conn_close), or the transport's
 * error (rpc/transport.h); NNG_EINVAL for tls+tcp:// without RPC_TLS_DIR
 * or operator files mbedTLS refuses, NNG_EADDRINVAL for a URL it cannot
 * use. */
int test_tls_connect(const char *url, const char *server_name, int64_t deadline_ms, rpc_conn **out);

/* A byte stream to the service at url below the hop's frames, for tests
 * that send what no client would (a frame header claiming 2 GiB, half a
 * frame): a socket, and for tls+tcp:// when tls is true the TLS session
 * of test_tls_connect (the operator, the server checked as server_name)
 * with the bytes inside it; tls false leaves a tls+tcp:// port's bytes
 * plain. */
typedef struct test_raw test_raw;

/* Connects (and runs the handshake) before deadline_ms: 0 and *out the
 * caller's, or -1. */
int test_raw_open(const char *url, const char *server_name, bool tls, int64_t deadline_ms, test_raw **out);

/* Sends all of bytes before deadline_ms: 0, or -1 when the peer closed
 * first or the deadline passed. */
int test_raw_send(test_raw *r, const void *bytes, size_t len, int64_t deadline_ms);

/* Waits until the peer closes the stream (end of stream or a reset; what
 * it sends meanwhile is read and dropped): true, or false at deadline_ms
 * with the stream still open. */
bool test_raw_closed_by(test_raw *r, int64_t deadline_ms);

/* Accepts NULL. */
void test_raw_close(test_raw *r);

#endif
