/* The test service of rpctest.proto, served by the RPC runtime for tests
 * and benchmarks. */
#ifndef TESTS_SUPPORT_TEST_SERVICE_H
#define TESTS_SUPPORT_TEST_SERVICE_H

#include "rpc/server.h"
#include "rpctest.pb-c.h"

/* Starts the test service on url with the given number of workers. */
rpc_code test_service_open(rpc_server **out, const char *url, int workers, rpc_status *st);

/* The same over mutual TLS when tls is configured (rpc_tls_configured; url
 * then tls+tcp://, every caller's certificate chaining to tls->caller_ca:
 * rpc/server.h); tls NULL is test_service_open. For the TLS tests and
 * rpc-bench's TLS run. */
rpc_code test_service_open_tls(
    rpc_server **out, const char *url, int workers, const rpc_tls_files *tls, rpc_status *st);

#endif
