/* rpc-call against the stand-in services on real nng sockets. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procs.h"
#include "rpc_envelope.h"

ReportHook(PRE_ALL)(struct criterion_test_set *tests)
{
	(void) tests;
	static char users[128], orders[128];
	snprintf(users, sizeof(users), "USER_SVC_URL=ipc:///tmp/rpc-call-%d-users.ipc", (int) getpid());
	snprintf(orders, sizeof(orders), "ORDER_SVC_URL=ipc:///tmp/rpc-call-%d-orders.ipc", (int) getpid());
	setenv("RPC_CALL_USERS", users + strlen("USER_SVC_URL="), 1);
	const char *env[] = {users, orders, NULL};
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", (int) procs_start_detached(FAKE_SERVICES_BIN, env, NULL, NULL));
	setenv("RPC_CALL_FAKE_PID", pid, 1);
	nanosleep(&(struct timespec) {.tv_nsec = 300 * 1000000L}, NULL);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	(void) stats;
	kill(atoi(getenv("RPC_CALL_FAKE_PID")), SIGTERM);
}

typedef struct result {
	int exit;
	char out[8192];
	char err[2048];
	int64_t ms;
} result;

static void
slurp(const char *path, char *buf, size_t len)
{
	FILE *f  = fopen(path, "r");
	size_t n = f != NULL ? fread(buf, 1, len - 1, f) : 0;
	buf[n]   = '\0';
	if (f != NULL)
		fclose(f);
	unlink(path);
}

/* Runs rpc-call with args (shell words) and captures both streams. */
static void
run(const char *args, result *r)
{
	char out[64], err[64], cmd[2048];
	snprintf(out, sizeof(out), "/tmp/rpc-call-out-%d", (int) getpid());
	snprintf(err, sizeof(err), "/tmp/rpc-call-err-%d", (int) getpid());
	snprintf(cmd, sizeof(cmd), "%s %s >%s 2>%s", RPC_CALL_BIN, args, out, err);
	int64_t t0 = rpc_clock_ms();
	int status = system(cmd);
	r->ms      = rpc_clock_ms() - t0;
	r->exit    = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	slurp(out, r->out, sizeof(r->out));
	slurp(err, r->err, sizeof(r->err));
}

static void
call(const char *method, const char *json, const char *options, result *r)
{
	char args[1024];
	snprintf(args, sizeof(args), "%s %s %s '%s'", options, getenv("RPC_CALL_USERS"), method, json);
	run(args, r);
}

Test(rpc_call, a_successful_call_prints_the_reply_as_json)
{
	result r;
	call("users.UserService/GetUser", "{\"id\":1}", "", &r);
	cr_assert_eq(r.exit, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "{\"id\":1,\"name\":\"Ada Lovelace\",\"email\":\"ada@example.com\","
	                        "\"createdAt\":\"2026-11-25T10:15:00.123Z\"}\n");
}

Test(rpc_call, the_request_can_come_from_standard_input_and_print_pretty)
{
	result r;
	char args[512];
	/* Feed stdin through a file: system() runs sh. */
	FILE *f = fopen("/tmp/rpc-call-in", "w");
	fputs("{\"id\": 1}", f);
	fclose(f);
	snprintf(args, sizeof(args), "--pretty %s users.UserService/GetUser < /tmp/rpc-call-in", getenv("RPC_CALL_USERS"));
	run(args, &r);
	cr_assert_eq(r.exit, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "{\n  \"id\": 1,\n  \"name\": \"Ada Lovelace\",\n  \"email\": \"ada@example.com\",\n"
	                        "  \"createdAt\": \"2026-11-25T10:15:00.123Z\"\n}\n");
}

Test(rpc_call, error_statuses_have_their_own_exit_codes_and_messages, .timeout = 20)
{
	result r;
	call("users.UserService/GetUser", "{\"id\":99}", "", &r);
	cr_assert_eq(r.exit, 15, "NOT_FOUND is 10 + 5");
	cr_assert_str_eq(r.err, "NOT_FOUND: user 99 not found\n");
	call("users.UserService/GetUser", "{\"id\":503}", "", &r);
	cr_assert_eq(r.exit, 24, "UNAVAILABLE is 10 + 14");
	call("users.UserService/CreateUser", "{\"name\":\"\",\"email\":\"\"}", "", &r);
	cr_assert_eq(r.exit, 13, "INVALID_ARGUMENT is 10 + 3");
	cr_assert_str_eq(r.err, "INVALID_ARGUMENT: invalid argument\n  name: name must not be empty\n"
	                        "  email: email must be a valid email address\n");
	call("users.UserService/GetUser", "{\"id\":5000}", "--timeout 300", &r);
	cr_assert_eq(r.exit, 14, "DEADLINE_EXCEEDED is 10 + 4");
	cr_assert(r.ms < 2000, "took %lld ms for a 300 ms deadline", (long long) r.ms);
}

Test(rpc_call, malformed_json_names_the_problem_and_sends_nothing)
{
	result r;
	/* At an address nobody listens on: the answer is about the JSON, at
	 * once, not UNAVAILABLE after a wait. */
	run("ipc:///tmp/nobody-listens-here.ipc users.UserService/GetUser '{\"id\":'", &r);
	cr_assert_eq(r.exit, 2);
	cr_assert_str_eq(r.err, "rpc-call: the request is not a valid users.GetUserRequest; nothing was sent:\n"
	                        "  body is not valid JSON (line 1, column 6)\n");
	run("ipc:///tmp/nobody-listens-here.ipc users.UserService/GetUser '{\"id\":\"x\",\"extra\":1}'", &r);
	cr_assert_eq(r.exit, 2);
	cr_assert_not_null(strstr(r.err, "  id must be an integer\n  extra is not a known field\n"), "%s", r.err);
	run("ipc:///tmp/nobody-listens-here.ipc users.UserService/Nope '{}'", &r);
	cr_assert_eq(r.exit, 2);
}

Test(rpc_call, an_unreachable_url_fails_within_the_timeout, .timeout = 20)
{
	result r;
	run("--timeout 500 ipc:///tmp/nobody-listens-here.ipc users.UserService/GetUser '{\"id\":1}'", &r);
	cr_assert_eq(r.exit, 24, "%s", r.err);
	cr_assert(r.ms < 1500, "took %lld ms", (long long) r.ms);
}

Test(rpc_call, request_id_and_headers_travel_in_the_envelope)
{
	result r;
	call("users.UserService/GetUser", "{\"id\":77}", "--request-id rc-123 --header idempotency-key=k-9", &r);
	cr_assert_eq(r.exit, 0, "%s", r.err);
	cr_assert_not_null(strstr(r.out, "\"name\":\"rc-123\",\"email\":\"k-9\""), "%s", r.out);
}

Test(rpc_call, list_and_describe_read_the_descriptors)
{
	result r;
	run("list", &r);
	cr_assert_eq(r.exit, 0);
	cr_assert_not_null(strstr(r.out, "  users.UserService/GetUser(users.GetUserRequest) returns (users.User)\n"));
	cr_assert_not_null(strstr(r.out, "  orders.OrderService/ListOrdersByUser(orders.ListOrdersByUserRequest) returns "
	                                 "(orders.OrderList)\n"));
	run("describe users.UserService/CreateUser", &r);
	cr_assert_eq(r.exit, 0);
	cr_assert_not_null(strstr(r.out, "message users.CreateUserRequest {\n  string name = 1;  // JSON: name\n"), "%s",
	    r.out);
	cr_assert_not_null(strstr(r.out, "  google.protobuf.Timestamp created_at = 4;  // JSON: createdAt\n"), "%s", r.out);
	run("describe users.UserService/Nope", &r);
	cr_assert_eq(r.exit, 2);
}
