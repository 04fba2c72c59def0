/* Secrets from files (NAME_FILE, lib/base/env.h) with the real servers
 * scripts/test started: user-svc given its PostgreSQL, Redis and RabbitMQ
 * URLs only as files, as Docker or Kubernetes secrets would hand them over,
 * connects to all three. The refusals are in test_config_refusals.c; the
 * RPC_TLS_* files are test_rpc_tls.c's. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procs.h"

static char dir[64];
static pid_t pid = -1;

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/secret-files-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void
teardown(void)
{
	if (pid > 0)
		procs_stop(pid, 5000);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

/* Writes the test servers' VAR (scripts/servers env) to dir/VAR, with a
 * trailing newline or not, then unsets VAR: user-svc must find it only in
 * the file (with both set it refuses to start). Returns "VAR_FILE=path". */
static char *
to_file(const char *var, int newline, char *setting, size_t len)
{
	const char *value = getenv(var);
	cr_assert_not_null(value, "%s is not set: run through scripts/test (scripts/servers env provides it)", var);
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, var);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, "%s%s", value, newline ? "\n" : "");
	cr_assert_eq(fclose(f), 0);
	unsetenv(var);
	snprintf(setting, len, "%s_FILE=%s", var, path);
	return setting;
}

/* The Health reply of the service at url, by rpc-call; "" when none. */
static void
health(const char *url, char *out, size_t len)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "'%s' --timeout 2000 '%s' users.UserService/Health '{}' 2>&1", RPC_CALL_BIN, url);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t n = fread(out, 1, len - 1, p);
	out[n]   = '\0';
	pclose(p);
}

Test(secret_files, user_svc_connects_with_every_secret_read_from_a_file, .init = setup, .fini = teardown, .timeout = 60)
{
	/* The servers listen on scripts/servers' ports, not the defaults:
	 * a service that ignored the files would not reach them. */
	cr_assert_null(strstr(getenv("USER_DB_URL"), ":5432/"), "the test servers use the default ports");
	cr_assert_null(strstr(getenv("REDIS_URL"), ":6379"), "the test servers use the default ports");
	cr_assert_null(strstr(getenv("AMQP_URL"), ":5672/"), "the test servers use the default ports");
	char db[160], redis[160], amqp[160], url[128], listen[160], log_path[128];
	snprintf(url, sizeof(url), "ipc://%s/users.ipc", dir);
	snprintf(listen, sizeof(listen), "USER_SVC_URL=%s", url);
	snprintf(log_path, sizeof(log_path), "%s/user-svc.log", dir);
	const char *env[] = {listen, to_file("USER_DB_URL", 1, db, sizeof(db)),
	    to_file("REDIS_URL", 0, redis, sizeof(redis)), to_file("AMQP_URL", 1, amqp, sizeof(amqp)), NULL};
	pid               = procs_start(USER_SVC_BIN, env, log_path);
	cr_assert(pid > 0);
	/* Healthy: PostgreSQL, Redis and RabbitMQ each connected. */
	char reply[4096] = "";
	for (int i = 0; i < 150; i++) {
		health(url, reply, sizeof(reply));
		if (strstr(reply, "{\"ok\":true,") == reply)
			break;
		nanosleep(&(struct timespec){.tv_nsec = 100 * 1000000L}, NULL);
	}
	cr_assert_eq(strstr(reply, "{\"ok\":true,"), reply, "not healthy: %s", reply);
	cr_assert_not_null(strstr(reply, "{\"name\":\"postgres\",\"ok\":true,\"detail\":\"connected\"}"), "%s", reply);
	cr_assert_not_null(strstr(reply, "{\"name\":\"redis\",\"ok\":true,\"detail\":\"connected\"}"), "%s", reply);
	cr_assert_not_null(strstr(reply, "{\"name\":\"rabbitmq\",\"ok\":true,\"detail\":\"connected\"}"), "%s", reply);
	int status = procs_stop(pid, 5000);
	pid        = -1;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "user-svc ended with status %d", status);
}
