/* Addresses for every service of the registry (lib/contract), for the tests
 * that start the stand-ins (fake_services.c) and a gateway themselves. With
 * TLS (RPC_TLS_DIR, test_tls.h) each is tls+tcp://127.0.0.1:<a free port>,
 * which the stand-ins serve with that service's files; else ipc. */
#ifndef TESTS_SUPPORT_SERVICE_URLS_H
#define TESTS_SUPPORT_SERVICE_URLS_H

#include <stddef.h>

/* Sets, in this process's environment (so in every process it starts
 * after), each registry service's url_variable to an address of its own:
 * ipc:///tmp/<tag>-<pid>-<service>.ipc, or with TLS a tls+tcp:// one. A URL
 * a test passes in a process's env list still wins; the services a test
 * does not name (echo-svc in a test build) get an address the stand-ins
 * serve and the gateway dials, whatever the caller's environment held. Not
 * thread-safe (setenv). */
void service_urls_set_all(const char *tag);

/* An address nobody serves, of the kind the others are (ipc:///tmp/<tag>-
 * <pid>-nobody-<what>.ipc, or tls+tcp://127.0.0.1:<a free port>). */
void service_urls_nobody(char *out, size_t len, const char *tag, const char *what);

#endif
