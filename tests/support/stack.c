/* stack.h: the report hooks that start and stop the system under test. */
#include "stack.h"

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procs.h"

/* The processes of the system under test, each with its environment. */
typedef struct stack_proc {
	const char *name;
	const char *path;
	const char *env[8];
	pid_t pid;
} stack_proc;

static char user_url[96], order_url[96], gw_user[128], gw_order[128], port_env[32], order_log[160];
static stack_proc procs[] = {
    /* A short outbox poll, so a test waiting for events after an outage is
     * quick; a generous Redis timeout: on a loaded 2-core machine 100 ms can
     * pass, and a test must not read a timeout as a cache miss. */
    {"user-svc", USER_SVC_BIN, {user_url, "LOG_LEVEL=warn", "OUTBOX_POLL_MS=200", "REDIS_TIMEOUT_MS=3000", NULL}, 0},
    {"order-svc", ORDER_SVC_BIN, {order_url, gw_user, "LOG_LEVEL=info", "REDIS_TIMEOUT_MS=3000", NULL}, 0},
    {"gateway", GATEWAY_BIN, {port_env, gw_user, gw_order, "GATEWAY_BIND=127.0.0.1", "LOG_LEVEL=warn", NULL}, 0},
};
#define N_PROCS (sizeof(procs) / sizeof(procs[0]))

static stack_proc *
find_proc(const char *name)
{
	for (size_t i = 0; i < N_PROCS; i++) {
		if (strcmp(procs[i].name, name) == 0)
			return &procs[i];
	}
	return NULL;
}

/* order-svc's log goes to a file the consumer tests read. */
static void
start_proc(stack_proc *p)
{
	p->pid = procs_start(p->path, p->env, strcmp(p->name, "order-svc") == 0 ? order_log : NULL);
}

int
stack_stop(const char *name)
{
	stack_proc *p = find_proc(name);
	int status    = procs_stop(p->pid, 15000);
	p->pid        = 0;
	return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

void
stack_start(const char *name)
{
	start_proc(find_proc(name));
}

const char *
stack_order_log(void)
{
	return getenv("ORDER_SVC_LOG");
}

ReportHook(PRE_ALL)(struct criterion_test_set *tests)
{
	(void) tests;
	int pid = (int) getpid();
	snprintf(user_url, sizeof(user_url), "USER_SVC_URL=ipc:///tmp/stack-%d-users.ipc", pid);
	snprintf(order_url, sizeof(order_url), "ORDER_SVC_URL=ipc:///tmp/stack-%d-orders.ipc", pid);
	snprintf(gw_user, sizeof(gw_user), "%s", user_url);
	snprintf(gw_order, sizeof(gw_order), "%s", order_url);
	snprintf(order_log, sizeof(order_log), "/tmp/stack-%d-order-svc.log", pid);
	unlink(order_log);
	setenv("ORDER_SVC_LOG", order_log, 1);
	int port = procs_free_port();
	snprintf(port_env, sizeof(port_env), "GATEWAY_PORTS=%d", port);
	if (getenv("USER_DB_URL") == NULL)
		fprintf(stderr, "stack: USER_DB_URL is not set: run the tests with scripts/test\n");
	for (size_t i = 0; i < N_PROCS; i++)
		start_proc(&procs[i]);
	char url[64], ready[96];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	setenv("GW", url, 1);
	snprintf(ready, sizeof(ready), "%s/healthz", url);
	if (procs_wait_http(ready, 15000) != 0)
		fprintf(stderr, "stack: the gateway did not answer %s\n", ready);
	/* Ready when both services answer a request (they migrate first). */
	const char *probes[] = {"/users/1", "/orders/1"};
	for (size_t k = 0; k < 2; k++) {
		for (int i = 0; i < 300; i++) {
			http_response r;
			char path[160];
			snprintf(path, sizeof(path), "%s%s", url, probes[k]);
			long status = http_request("GET", path, NULL, NULL, &r);
			http_response_free(&r);
			if (status == 200 || status == 404)
				break;
			nanosleep(&(struct timespec) {.tv_nsec = 50 * 1000000L}, NULL);
		}
	}
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	(void) stats;
	int failed = 0;
	for (size_t i = N_PROCS; i-- > 0;) {
		if (procs[i].pid <= 0)
			continue;
		if (stack_stop(procs[i].name) != 0) {
			fprintf(stderr, "stack: %s did not exit cleanly after SIGTERM\n", procs[i].name);
			failed = 1;
		}
	}
	if (failed)
		exit(1);
}

long
stack_http(const char *method, const char *path, const char *const *headers, const char *body, http_response *r)
{
	const char *base = getenv("GW");
	cr_assert_not_null(base, "the gateway did not start");
	char url[512];
	snprintf(url, sizeof(url), "%s%s", base, path);
	return http_request(method, url, headers, body, r);
}

int
stack_servers(const char *action, const char *server)
{
	char cmd[512];
	const char *instance = getenv("SERVERS_INSTANCE");
	snprintf(cmd, sizeof(cmd), "%s/scripts/servers %s %s %s >&2", SOURCE_DIR, action, server,
	    instance != NULL ? instance : "test");
	int status = system(cmd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

const char *
stack_unique(char *buf, size_t len, const char *prefix)
{
	static int n;
	unsigned int r = 0;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (unsigned int) getpid();
	snprintf(buf, len, "%s%d-%d-%08x", prefix, (int) getpid(), n++, r);
	return buf;
}
