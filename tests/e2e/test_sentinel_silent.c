/* user-svc with REDIS_URL naming only sentinels that never answer (issue
 * 20's outsider attack): listeners in this process that the kernel
 * connects to and that then say nothing. Each read is answered from
 * PostgreSQL (cache-aside), delayed by one REDIS_TIMEOUT_MS at most for
 * the whole lookup (it was one per sentinel), and /readyz's redis detail
 * says what the sentinels did. And with one sentinel that lies fast (names
 * itself) beside two truthful ones that answer 20 ms later, the service
 * reaches the master and Health says redis is ok (the first answer no
 * longer wins). integration_sentinel holds the cache-level cases
 * (blackholed sentinels, a live one last, a replica named). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fake_sentinel.h"
#include "procs.h"

#define SILENT 7
#define BUDGET_MS 200
/* Generous for a noisy box and the rpc-call process; one timeout per
 * sentinel would be 7 x 200 ms. */
#define BOUND_S (2.0 * BUDGET_MS / 1000 + 0.5)

static char dir[64], url[128], log_path[128];
static pid_t pid = -1;
static int silent[SILENT];

static double
now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

/* A listener that never accepts: connects complete, nothing is said. */
static int
listener(int *port)
{
	int fd               = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len        = sizeof(a);
	cr_assert(fd >= 0 && bind(fd, (struct sockaddr *) &a, sizeof(a)) == 0 && listen(fd, 64) == 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *) &a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/sentinel-silent-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void
teardown(void)
{
	if (pid > 0)
		procs_stop(pid, 5000);
	for (int i = 0; i < SILENT; i++)
		if (silent[i] > 0)
			close(silent[i]);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

/* rpc-call METHOD BODY on user-svc: its output, and how long it took. */
static double
call(const char *method, const char *body, char *out, size_t len)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "'%s' --timeout 5000 '%s' users.UserService/%s '%s' 2>&1", RPC_CALL_BIN, url, method,
	    body);
	double t0 = now_s();
	FILE *p   = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t n = fread(out, 1, len - 1, p);
	out[n]   = '\0';
	pclose(p);
	return now_s() - t0;
}

/* Starts user-svc with redis ("REDIS_URL=...") on an ipc URL of dir, its
 * log at log_path. */
static void
start_user_svc(const char *redis)
{
	char listen_url[160];
	snprintf(url, sizeof(url), "ipc://%s/users.ipc", dir);
	snprintf(listen_url, sizeof(listen_url), "USER_SVC_URL=%s", url);
	snprintf(log_path, sizeof(log_path), "%s/user-svc.log", dir);
	unsetenv("REDIS_URL_FILE");
	const char *env[] = {listen_url, redis, "REDIS_TIMEOUT_MS=200", "WORKERS=1", NULL};
	pid               = procs_start(USER_SVC_BIN, env, log_path);
	cr_assert(pid > 0);
}

/* Calls Health until it says PostgreSQL is connected (15 s at most); reply
 * gets the last answer. */
static void
wait_for_postgres(char *reply, size_t len)
{
	reply[0] = '\0';
	for (int i = 0; i < 150 && strstr(reply, "\"name\":\"postgres\",\"ok\":true") == NULL; i++) {
		call("Health", "{}", reply, len);
		nanosleep(&(struct timespec){.tv_nsec = 100 * 1000000L}, NULL);
	}
}

Test(sentinel_silent, reads_come_from_postgres_within_one_timeout_however_many_sentinels_are_silent, .init = setup,
    .fini = teardown, .timeout = 90)
{
	char redis[512] = "REDIS_URL=redis-sentinel://";
	for (int i = 0; i < SILENT; i++) {
		int port;
		silent[i] = listener(&port);
		size_t o  = strlen(redis);
		snprintf(redis + o, sizeof(redis) - o, "%s127.0.0.1:%d", i > 0 ? "," : "", port);
	}
	strcat(redis, "/0#cache");
	start_user_svc(redis);

	/* Up (its health answers), PostgreSQL connected, redis not, and why. */
	char reply[8192] = "";
	wait_for_postgres(reply, sizeof(reply));
	cr_assert_not_null(strstr(reply, "\"name\":\"postgres\",\"ok\":true"), "%s", reply);
	cr_assert_not_null(strstr(reply, "{\"name\":\"redis\",\"ok\":false,\"detail\":\"no sentinel named master cache "
	                                 "within 200 ms: 127.0.0.1:"),
	    "%s", reply);
	cr_assert_not_null(strstr(reply, "(requests are served from postgres)\"}"), "%s", reply);

	char body[256], out[4096];
	snprintf(body, sizeof(body), "{\"name\":\"Silent\",\"email\":\"silent-%ld-%d@example.com\"}", (long) time(NULL),
	    (int) getpid());
	call("CreateUser", body, out, sizeof(out));
	char *id_at = strstr(out, "\"id\":");
	cr_assert_not_null(id_at, "CreateUser: %s", out);
	long long id = atoll(id_at + 5 + (id_at[5] == '"'));
	cr_assert_gt(id, 0, "%s", out);

	/* Reads for 3 s: each from PostgreSQL, none delayed past the bound;
	 * some of them paid a lookup (the backoff paces the others). */
	char get[64], want[96];
	snprintf(get, sizeof(get), "{\"id\":%lld}", id);
	snprintf(want, sizeof(want), "\"name\":\"Silent\"");
	double slowest = 0, end = now_s() + 3;
	int reads = 0;
	while (now_s() < end) {
		double took = call("GetUser", get, out, sizeof(out));
		cr_assert_not_null(strstr(out, want), "GetUser with silent sentinels: %s", out);
		slowest = took > slowest ? took : slowest;
		reads++;
		nanosleep(&(struct timespec){.tv_nsec = 50 * 1000000L}, NULL);
	}
	int lookups =
	    procs_log_count(log_path, "cache_error op=get reason=\"no sentinel named master cache within 200 ms");
	cr_log_info(
	    "%d reads from PostgreSQL, %d of them after a failed lookup; slowest %.3f s", reads, lookups, slowest);
	cr_assert_geq(lookups, 1, "no read paid a lookup: the test proves nothing");
	cr_assert_lt(slowest, BOUND_S, "a read took %.3f s with %d silent sentinels (REDIS_TIMEOUT_MS=%d)", slowest,
	    SILENT, BUDGET_MS);
	int status = procs_stop(pid, 5000);
	pid        = -1;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "user-svc ended with status %d", status);
}

Test(sentinel_silent, a_fast_lying_sentinel_does_not_keep_redis_down, .init = setup, .fini = teardown, .timeout = 90)
{
	const char *redis_port = getenv("REDIS_PORT");
	cr_assert_not_null(redis_port, "REDIS_PORT is not set: run the tests with scripts/test");
	fake_sentinel liar, truth[2];
	cr_assert_eq(fake_sentinel_start(&liar, 0, 0), 0); /* names itself, at once */
	for (int k = 0; k < 2; k++)
		cr_assert_eq(fake_sentinel_start(&truth[k], atoi(redis_port), 20), 0);
	char redis[256];
	snprintf(redis, sizeof(redis), "REDIS_URL=redis-sentinel://127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d/0#cache",
	    truth[0].port, truth[1].port, liar.port);
	start_user_svc(redis);
	char reply[8192] = "";
	wait_for_postgres(reply, sizeof(reply));
	/* Every Health pings Redis; each after the first finds the connection
	 * made (the backoff would have kept a failed one down). */
	for (int i = 0; i < 5; i++) {
		call("Health", "{}", reply, sizeof(reply));
		cr_assert_not_null(strstr(reply, "{\"name\":\"redis\",\"ok\":true"), "%s", reply);
	}
	cr_assert_eq(procs_log_count(log_path, "cache_error"), 0, "a lookup failed (see %s)", log_path);
	int refuted = procs_log_count(log_path, "cache_master_refuted");
	cr_log_info("redis ok through a lying sentinel; %d answer(s) refuted by ROLE", refuted);
	int status = procs_stop(pid, 5000);
	pid        = -1;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "user-svc ended with status %d", status);
	fake_sentinel_stop(&liar);
	for (int k = 0; k < 2; k++)
		fake_sentinel_stop(&truth[k]);
}
