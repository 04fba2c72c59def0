/* The test service of rpctest.proto, served by the RPC runtime for tests
 * and benchmarks. */
#ifndef TESTS_SUPPORT_TEST_SERVICE_H
#define TESTS_SUPPORT_TEST_SERVICE_H

#include "rpc/server.h"
#include "rpctest.pb-c.h"

/* Starts the test service on url with the given number of workers. */
rpc_code test_service_open(rpc_server **out, const char *url, int workers, rpc_status *st);

/* The same with TLS (rpc_server_options.tls; NULL: plain). */
rpc_code test_service_open_tls(
    rpc_server **out, const char *url, int workers, const rpc_tls_files *tls, rpc_status *st);

/* Its options, for a test to change some before rpc_server_open. */
rpc_server_options test_service_options(const char *url, int workers);

#endif
