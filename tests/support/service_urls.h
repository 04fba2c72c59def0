/* Addresses for every service of the registry (lib/contract), for the tests
 * that start the stand-ins (fake_services.c) and a gateway themselves. */
#ifndef TESTS_SUPPORT_SERVICE_URLS_H
#define TESTS_SUPPORT_SERVICE_URLS_H

/* Sets, in this process's environment (so in every process it starts
 * after), each registry service's url_variable to an ipc address of its
 * own: ipc:///tmp/<tag>-<pid>-<service>.ipc. A URL a test passes in a
 * process's env list still wins; the services a test does not name (echo-svc
 * in a test build) get an address the stand-ins serve and the gateway dials,
 * whatever the caller's environment held. Not thread-safe (setenv). */
void service_urls_set_all(const char *tag);

#endif
