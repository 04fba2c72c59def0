/* echo-svc, the test-only service built on the skeleton (svc/service.h),
 * over real nng and the real PostgreSQL scripts/test started (ECHO_DB_URL
 * from scripts/servers env, provisioned from the registry): its methods,
 * its Health from the skeleton's builder (PostgreSQL only, as declared),
 * its configuration block (only what it declared), its refusals, a start
 * that fails and says why, and the drain on SIGTERM. No gateway involved. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "echo.pb-c.h"
#include "procs.h"
#include "rpc/client.h"

static void
sleep_ms(long ms)
{
	struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	nanosleep(&t, NULL);
}

static char url[128], log_path[128];
static pid_t pid = -1;
static rpc_client *client;

static const char *
db_url(void)
{
	const char *v = getenv("ECHO_DB_URL");
	cr_assert_not_null(v, "ECHO_DB_URL is not set: run through scripts/test (scripts/servers env provides it)");
	return v;
}

/* The whole log of the process, for assertions and failure messages. */
static void
read_log(char *out, size_t len)
{
	out[0]  = '\0';
	FILE *f = fopen(log_path, "r");
	if (f == NULL)
		return;
	size_t n = fread(out, 1, len - 1, f);
	out[n]   = '\0';
	fclose(f);
}

/* Waits for pid to exit (up to timeout_ms); its exit status, or -1. */
static int
wait_exit(pid_t p, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 20) {
		int status;
		if (waitpid(p, &status, WNOHANG) == p)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		sleep_ms(20);
	}
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
	return -1;
}

static rpc_code
call(const char *method, const ProtobufCMessage *in, ProtobufCMessage **out, rpc_status *st)
{
	rpc_call_options opt = {.request_id = "echo-test", .timeout_ms = 3000};
	return rpc_client_call(client, &echo__echo_service__descriptor, method, in, out, &opt, st);
}

static void
start(void)
{
	snprintf(url, sizeof(url), "ipc:///tmp/echo-svc-test-%d.ipc", (int) getpid());
	snprintf(log_path, sizeof(log_path), "/tmp/echo-svc-test-%d.log", (int) getpid());
	unlink(log_path);
	char url_var[200], db_var[1200];
	snprintf(url_var, sizeof(url_var), "ECHO_SVC_URL=%s", url);
	snprintf(db_var, sizeof(db_var), "ECHO_DB_URL=%s", db_url());
	const char *env[] = {url_var, db_var, "WORKERS=2", "DB_WAIT_S=20", NULL};
	pid               = procs_start(ECHO_SVC_BIN, env, log_path);
	cr_assert(pid > 0);
	rpc_status st;
	cr_assert_eq(rpc_client_open(&client, url, NULL, &st), RPC_OK, "%s", st.message);
	/* Ready when Health answers (migrations done, server listening). */
	for (int i = 0; i < 200; i++) {
		Health__HealthRequest req = HEALTH__HEALTH_REQUEST__INIT;
		ProtobufCMessage *reply   = NULL;
		if (call("Health", &req.base, &reply, &st) == RPC_OK) {
			protobuf_c_message_free_unpacked(reply, NULL);
			return;
		}
		cr_assert_eq(waitpid(pid, NULL, WNOHANG), 0, "echo-svc exited at start");
		sleep_ms(100);
	}
	char log[4096];
	read_log(log, sizeof(log));
	cr_assert_fail("echo-svc did not answer Health within 20 s: %s", log);
}

static void
stop(void)
{
	rpc_client_close(client);
	client = NULL;
	if (pid > 0) {
		procs_stop(pid, 10000);
		pid = -1;
	}
	unlink(log_path);
}

TestSuite(echo_svc, .init = start, .fini = stop, .timeout = 60);

Test(echo_svc, create_stores_the_text_and_get_returns_it)
{
	const char *texts[]  = {"hello", "  trimmed  ", "ünïcödé ✓", "a"};
	const char *stored[] = {"hello", "trimmed", "ünïcödé ✓", "a"};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		Echo__CreateEchoRequest in = ECHO__CREATE_ECHO_REQUEST__INIT;
		in.text                    = (char *) texts[i];
		ProtobufCMessage *out;
		rpc_status st;
		cr_assert_eq(call("CreateEcho", &in.base, &out, &st), RPC_OK, "%s", st.message);
		Echo__Echo *created = (Echo__Echo *) out;
		cr_assert_gt(created->id, 0);
		cr_assert_str_eq(created->text, stored[i]);

		Echo__GetEchoRequest get = ECHO__GET_ECHO_REQUEST__INIT;
		get.id                   = created->id;
		ProtobufCMessage *got;
		cr_assert_eq(call("GetEcho", &get.base, &got, &st), RPC_OK, "%s", st.message);
		cr_assert_eq(((Echo__Echo *) got)->id, created->id);
		cr_assert_str_eq(((Echo__Echo *) got)->text, stored[i]);
		protobuf_c_message_free_unpacked(got, NULL);
		protobuf_c_message_free_unpacked(out, NULL);
	}
}

Test(echo_svc, an_unknown_id_is_not_found_and_a_bad_id_is_named)
{
	Echo__GetEchoRequest get = ECHO__GET_ECHO_REQUEST__INIT;
	ProtobufCMessage *out;
	rpc_status st;
	get.id = INT64_MAX;
	cr_assert_eq(call("GetEcho", &get.base, &out, &st), RPC_NOT_FOUND, "%s", st.message);
	cr_assert_not_null(strstr(st.message, "9223372036854775807"), "%s", st.message);
	const int64_t bad[] = {0, -1, INT64_MIN};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		get.id = bad[i];
		cr_assert_eq(call("GetEcho", &get.base, &out, &st), RPC_INVALID_ARGUMENT, "%s", st.message);
		cr_assert_eq(st.n_violations, 1);
		cr_assert_str_eq(st.violations[0].field, "id");
		cr_assert_str_eq(st.violations[0].description, "id must be a positive integer");
	}
}

Test(echo_svc, a_text_that_is_empty_invisible_or_too_long_is_refused_naming_text)
{
	static char too_long[1002];
	memset(too_long, 'x', 1001);
	const char *bad[] = {"", "   ", "\xe2\x80\x8b" /* zero-width space */, "a\nb", "\xff", too_long};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		Echo__CreateEchoRequest in = ECHO__CREATE_ECHO_REQUEST__INIT;
		in.text                    = (char *) bad[i];
		ProtobufCMessage *out;
		rpc_status st;
		cr_assert_eq(
		    call("CreateEcho", &in.base, &out, &st), RPC_INVALID_ARGUMENT, "case %zu: %s", i, st.message);
		cr_assert_eq(st.n_violations, 1, "case %zu", i);
		cr_assert_str_eq(st.violations[0].field, "text", "case %zu", i);
	}
}

Test(echo_svc, health_checks_only_the_declared_postgres)
{
	Health__HealthRequest req = HEALTH__HEALTH_REQUEST__INIT;
	ProtobufCMessage *out;
	rpc_status st;
	cr_assert_eq(call("Health", &req.base, &out, &st), RPC_OK, "%s", st.message);
	Health__HealthReply *h = (Health__HealthReply *) out;
	cr_assert(h->ok);
	cr_assert_eq(h->n_dependencies, 1);
	cr_assert_str_eq(h->dependencies[0]->name, "postgres");
	cr_assert(h->dependencies[0]->ok);
	cr_assert_str_eq(h->dependencies[0]->detail, "connected");
	/* No cache declared, so no cache counters: the RPC server's only. */
	cr_assert_eq(h->n_stats, 3);
	cr_assert_str_eq(h->stats[0]->name, "rpc_callers_refused_total");
	cr_assert_str_eq(h->stats[1]->name, "rpc_bad_requests_total");
	cr_assert_str_eq(h->stats[2]->name, "rpc_tls_sessions_resumed_total");
	cr_assert_not_null(strchr(h->instance, ':'), "%s", h->instance);
	protobuf_c_message_free_unpacked(out, NULL);
}

Test(echo_svc, sigterm_drains_and_exits_0)
{
	pid_t p = pid;
	pid     = -1;
	kill(p, SIGTERM);
	cr_assert_eq(wait_exit(p, 15000), 0);
	char log[8192];
	read_log(log, sizeof(log));
	cr_assert_not_null(strstr(log, "echo_svc_started url=ipc://"), "%s", log);
	cr_assert_not_null(strstr(log, "echo_svc_stopping signal=15"), "%s", log);
	cr_assert_not_null(strstr(log, "echo_svc_stopped"), "%s", log);
}

/* Without the suite's running instance. */
static int
run_once(const char *const *env, char *log, size_t len)
{
	snprintf(log_path, sizeof(log_path), "/tmp/echo-svc-test-once-%d.log", (int) getpid());
	unlink(log_path);
	pid_t p = procs_start(ECHO_SVC_BIN, env, log_path);
	cr_assert(p > 0);
	int status = wait_exit(p, 15000);
	read_log(log, len);
	unlink(log_path);
	return status;
}

Test(echo_svc_alone, its_settings_are_the_common_block_without_redis_or_rabbitmq)
{
	char out[8192];
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "%s --help 2>&1", ECHO_SVC_BIN);
	FILE *f = popen(cmd, "r");
	cr_assert_not_null(f);
	size_t n = fread(out, 1, sizeof(out) - 1, f);
	out[n]   = '\0';
	cr_assert_eq(pclose(f), 0);
	const char *present[] = {"ECHO_SVC_URL", "ECHO_DB_URL", "DB_WAIT_S", "WORKERS", "LOG_LEVEL", "LOG_FORMAT",
	    "postgresql://echo_svc:***@127.0.0.1:5432/echo_db", "tcp://127.0.0.1:5003",
	    "nng URL this replica serves echo.EchoService on", "RPC_LISTEN_URL"};
	for (size_t i = 0; i < sizeof(present) / sizeof(present[0]); i++)
		cr_assert_not_null(strstr(out, present[i]), "%s missing: %s", present[i], out);
	const char *absent[] = {"REDIS_URL", "AMQP_URL", "CACHE_TTL_S", "REDIS_TIMEOUT_MS"};
	for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
		cr_assert_null(strstr(out, absent[i]), "%s listed: %s", absent[i], out);
}

Test(echo_svc_alone, a_bad_setting_exits_2_naming_it, .timeout = 60)
{
	struct {
		const char *setting, *needle;
	} cases[] = {
	    {"ECHO_SVC_URL=http://x", "ECHO_SVC_URL: 'http://x' is not an nng URL to listen on"},
	    {"ECHO_DB_URL=postgresql://x:s3cret@h:notaport/db", "ECHO_DB_URL: 'postgresql://x:***@h:notaport/db'"},
	    {"WORKERS=0", "WORKERS"},
	    {"DB_WAIT_S=-1", "DB_WAIT_S"},
	    {"LOG_LEVEL=loud", "LOG_LEVEL"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *env[] = {cases[i].setting, NULL};
		char log[4096];
		cr_assert_eq(run_once(env, log, sizeof(log)), 2, "%s: %s", cases[i].setting, log);
		cr_assert_not_null(strstr(log, cases[i].needle), "%s: %s", cases[i].setting, log);
		cr_assert_null(strstr(log, "s3cret"), "%s", log);
	}
}

Test(echo_svc_alone, a_server_that_cannot_listen_is_a_start_failure_that_says_why, .timeout = 60)
{
	/* An ipc path in a folder that does not exist: nng cannot bind it. */
	char db_var[1200];
	snprintf(db_var, sizeof(db_var), "ECHO_DB_URL=%s", db_url());
	const char *env[] = {"ECHO_SVC_URL=ipc:///nonexistent-folder/echo.ipc", db_var, "DB_WAIT_S=20", NULL};
	char log[8192];
	cr_assert_eq(run_once(env, log, sizeof(log)), 1, "%s", log);
	cr_assert_not_null(strstr(log, "echo_svc_start_failed reason=\"cannot listen on "
	                               "ipc:///nonexistent-folder/echo.ipc"),
	    "%s", log);
}

Test(echo_svc_alone, a_stop_while_waiting_for_postgres_is_a_clean_exit, .timeout = 60)
{
	snprintf(log_path, sizeof(log_path), "/tmp/echo-svc-test-wait-%d.log", (int) getpid());
	unlink(log_path);
	const char *env[] = {"ECHO_DB_URL=postgresql://echo_svc:x@127.0.0.1:1/echo_db", NULL};
	pid_t p           = procs_start(ECHO_SVC_BIN, env, log_path);
	cr_assert(p > 0);
	char log[8192] = "";
	for (int i = 0; i < 100 && strstr(log, "db_waiting_for_postgres") == NULL; i++) {
		sleep_ms(100);
		read_log(log, sizeof(log));
	}
	cr_assert_not_null(strstr(log, "db_waiting_for_postgres"), "%s", log);
	kill(p, SIGTERM);
	cr_assert_eq(wait_exit(p, 15000), 0);
	unlink(log_path);
}
