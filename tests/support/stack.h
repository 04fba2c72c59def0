/* The real system for end-to-end tests: every registry service (user-svc,
 * order-svc, and echo-svc in a test build; lib/contract) behind a gateway,
 * started once per test binary by Criterion report hooks against the
 * servers scripts/test started (USER_DB_URL, REDIS_URL, AMQP_URL...). The
 * gateway's base URL is in the environment as GW, each service's as
 * STACK_<its url_variable> (STACK_USER_SVC_URL). A service whose binary
 * is not built has fake-services stand in for it, said on stderr. With
 * RPC_TLS_DIR (scripts/servers env), every process runs with its role's
 * TLS files and tls+tcp:// URLs (test_tls.h). */
#ifndef TESTS_SUPPORT_STACK_H
#define TESTS_SUPPORT_STACK_H

#include <sys/types.h>

#include "http_client.h"

/* GET/POST... to the gateway: path like "/users/1". */
long stack_http(const char *method, const char *path, const char *const *headers, const char *body, http_response *r);

/* Asserts an error response: the status, and `message` as exactly these n
 * texts, in order. */
void stack_assert_messages(const http_response *r, long status, size_t n, const char *const *texts);

/* Runs scripts/servers ACTION NAME on the test instance ("stop-one",
 * "redis"); returns its exit status. */
int stack_servers(const char *action, const char *server);

/* Stops one process of the system (a registry service's name, "gateway")
 * with SIGTERM and returns its wait status: 0 when it exited 0 within 15 s
 * (it is killed after), -1 when it was not running or did not stop. */
int stack_stop(const char *name);

/* The same with another signal (SIGKILL for a crash). */
int stack_kill(const char *name, int sig);

/* Starts it again. */
void stack_start(const char *name);

/* Waits, at most ms milliseconds, until the gateway's /readyz says ready
 * (every service up, each reaching its dependencies). Returns 0, or -1 at
 * the bound. For a test's fini after restarts: a service that handles
 * SIGTERM may still be connecting to PostgreSQL. */
int stack_wait_ready(int ms);

/* Its pid (0 when unknown), for /proc. */
pid_t stack_pid(const char *name);

/* How many TCP connections process `from` ("gateway", a service's name)
 * has established to the port service `to` listens on (its STACK_ URL), read
 * from /proc: the caller's RPC connections to it. -1 when `to` is not
 * reached over TCP (plain RPC is ipc://) or /proc cannot be read. */
int stack_rpc_connections(const char *from, const char *to);

/* The file order-svc logs to. */
const char *stack_order_log(void);

/* The file user-svc logs to. */
const char *stack_user_log(void);

/* A string unique to this test process and call, for emails and keys. */
const char *stack_unique(char *buf, size_t len, const char *prefix);

#endif
