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

static pid_t user_svc_pid, gateway_pid;

ReportHook(PRE_ALL)(struct criterion_test_set *tests)
{
	(void) tests;
	static char user_url[96], gw_user[128], port_env[32];
	snprintf(user_url, sizeof(user_url), "USER_SVC_URL=ipc:///tmp/stack-%d-users.ipc", (int) getpid());
	snprintf(gw_user, sizeof(gw_user), "%s", user_url);
	int port = procs_free_port();
	snprintf(port_env, sizeof(port_env), "GATEWAY_PORTS=%d", port);
	/* A short poll, so a test waiting for events after an outage is quick. */
	/* A generous Redis timeout: on a loaded 2-core machine 100 ms can pass,
	 * and a test must not read a timeout as a cache miss. */
	const char *user_env[] = {user_url, "LOG_LEVEL=warn", "OUTBOX_POLL_MS=200", "CACHE_TTL_S=300",
	    "REDIS_TIMEOUT_MS=3000", NULL};
	const char *gw_env[]   = {port_env, gw_user, "GATEWAY_BIND=127.0.0.1", "LOG_LEVEL=warn", NULL};
	if (getenv("USER_DB_URL") == NULL)
		fprintf(stderr, "stack: USER_DB_URL is not set: run the tests with scripts/test\n");
	user_svc_pid = procs_start(USER_SVC_BIN, user_env, NULL);
	gateway_pid  = procs_start(GATEWAY_BIN, gw_env, NULL);
	char url[64], ready[96];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	setenv("GW", url, 1);
	snprintf(ready, sizeof(ready), "%s/healthz", url);
	if (procs_wait_http(ready, 15000) != 0)
		fprintf(stderr, "stack: the gateway did not answer %s\n", ready);
	/* Ready when user-svc answers a request (it migrates first). */
	for (int i = 0; i < 300; i++) {
		http_response r;
		char path[160];
		snprintf(path, sizeof(path), "%s/users/1", url);
		long status = http_request("GET", path, NULL, NULL, &r);
		http_response_free(&r);
		if (status == 200 || status == 404)
			break;
		nanosleep(&(struct timespec) {.tv_nsec = 50 * 1000000L}, NULL);
	}
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	(void) stats;
	const struct {
		const char *name;
		pid_t pid;
	} children[] = {{"gateway", gateway_pid}, {"user-svc", user_svc_pid}};
	int failed = 0;
	for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++) {
		int status = procs_stop(children[i].pid, 15000);
		if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "stack: %s did not exit cleanly after SIGTERM (wait status %d)\n", children[i].name,
			    status);
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
