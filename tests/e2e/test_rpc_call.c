/* rpc-call against the stand-in services over the RPC hop's real sockets. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procs.h"
#include "rpc/envelope.h"

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
	/* The same stand-ins over TCP, for the deadline runs: a connection over
	 * TCP takes a handshake a short deadline can end in the middle of. */
	static char tcp_users[128], tcp_orders[128];
	snprintf(tcp_users, sizeof(tcp_users), "USER_SVC_URL=tcp://127.0.0.1:%d", procs_free_port());
	snprintf(tcp_orders, sizeof(tcp_orders), "ORDER_SVC_URL=ipc:///tmp/rpc-call-%d-tcp-orders.ipc", (int) getpid());
	setenv("RPC_CALL_USERS_TCP", tcp_users + strlen("USER_SVC_URL="), 1);
	const char *tcp_env[] = {tcp_users, tcp_orders, NULL};
	snprintf(pid, sizeof(pid), "%d", (int) procs_start_detached(FAKE_SERVICES_BIN, tcp_env, NULL, NULL));
	setenv("RPC_CALL_FAKE_TCP_PID", pid, 1);
	nanosleep(&(struct timespec){.tv_nsec = 300 * 1000000L}, NULL);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	(void) stats;
	kill(atoi(getenv("RPC_CALL_FAKE_PID")), SIGTERM);
	kill(atoi(getenv("RPC_CALL_FAKE_TCP_PID")), SIGTERM);
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
	snprintf(
	    args, sizeof(args), "--pretty %s users.UserService/GetUser < /tmp/rpc-call-in", getenv("RPC_CALL_USERS"));
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

/* Nothing listening may be a mutual-TLS service called plainly: the hint
 * says how to call it. A name that does not resolve (RFC 6761: .invalid
 * never does) or a service's own UNAVAILABLE is not: one line names the
 * reason, without the hint and without the RPC library's log line. */
Test(rpc_call, unavailable_says_why_once_and_hints_at_tls_only_when_nothing_connected, .timeout = 20)
{
	result r;
	run("--timeout 500 ipc:///tmp/nobody-listens-here.ipc users.UserService/GetUser '{\"id\":1}'", &r);
	cr_assert_eq(r.exit, 24, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "call tls+tcp:// with --cert, --key and --ca"), "%s", r.err);
	run("--timeout 500 tcp://no-such-host.invalid:5001 users.UserService/GetUser '{\"id\":1}'", &r);
	cr_assert_eq(r.exit, 24, "%s", r.err);
	static const char why[] = "UNAVAILABLE: service unreachable: nothing to dial, no-such-host.invalid: ";
	cr_assert_eq(strncmp(r.err, why, sizeof(why) - 1), 0, "%s", r.err);
	cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "one line: %s", r.err); /* getaddrinfo's words */
	/* Another URL of the list has a dialer: not "nothing to dial". */
	run("--timeout 500 tcp://127.0.0.1:1,tcp://no-such-host.invalid:5001 users.UserService/GetUser '{\"id\":1}'",
	    &r);
	cr_assert_eq(r.exit, 24, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "service unreachable: not connected; no-such-host.invalid: "), "%s", r.err);
	cr_assert_not_null(strstr(r.err, "call tls+tcp:// with --cert, --key and --ca"), "%s", r.err);
	call("users.UserService/GetUser", "{\"id\":503}", "", &r);
	cr_assert_eq(r.exit, 24, "%s", r.err);
	cr_assert_null(strstr(r.err, "tls+tcp://"), "%s", r.err);
}

Test(rpc_call, request_id_and_headers_travel_in_the_envelope)
{
	result r;
	call("users.UserService/GetUser", "{\"id\":77}", "--request-id rc-123 --header idempotency-key=k-9", &r);
	cr_assert_eq(r.exit, 0, "%s", r.err);
	cr_assert_not_null(strstr(r.out, "\"name\":\"rc-123\",\"email\":\"k-9\""), "%s", r.out);
}

Test(rpc_call, a_request_id_or_header_the_envelope_cannot_carry_is_refused_before_sending)
{
	result r;
	/* Nobody listens: the answer is about the text, at once. */
	run("--request-id \"$(printf 'r\\377')\" ipc:///tmp/nobody-listens-here.ipc users.UserService/GetUser "
	    "'{\"id\":1}'",
	    &r);
	cr_assert_eq(r.exit, 1, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "request_id must be"), "%s", r.err);
	run("--header \"$(printf 'idempotency-key=k\\376')\" ipc:///tmp/nobody-listens-here.ipc "
	    "users.UserService/GetUser "
	    "'{\"id\":1}'",
	    &r);
	cr_assert_eq(r.exit, 1, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "idempotency-key must be"), "%s", r.err);
	run("--header 'Idempotency-Key=k' ipc:///tmp/nobody-listens-here.ipc users.UserService/GetUser '{\"id\":1}'",
	    &r);
	cr_assert_eq(r.exit, 1, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "metadata keys"), "%s", r.err);
}

Test(rpc_call, list_and_describe_read_the_descriptors)
{
	result r;
	run("list", &r);
	cr_assert_eq(r.exit, 0);
	cr_assert_not_null(strstr(r.out, "  users.UserService/GetUser(users.GetUserRequest) returns (users.User)\n"));
	cr_assert_not_null(
	    strstr(r.out, "  orders.OrderService/ListOrdersByUser(orders.ListOrdersByUserRequest) returns "
	                  "(orders.OrderList)\n"));
	run("describe users.UserService/CreateUser", &r);
	cr_assert_eq(r.exit, 0);
	cr_assert_not_null(
	    strstr(r.out, "message users.CreateUserRequest {\n  string name = 1;  // JSON: name\n"), "%s", r.out);
	cr_assert_not_null(
	    strstr(r.out, "  google.protobuf.Timestamp created_at = 4;  // JSON: createdAt\n"), "%s", r.out);
	run("describe users.UserService/Nope", &r);
	cr_assert_eq(r.exit, 2);
}

/* Runs `rpc-call --timeout timeout_ms url users.UserService/GetUser
 * {"id":id}` `runs` times, one after another, each allowed bound_ms. Every
 * run must exit by itself within its bound with one of the allowed exit
 * codes (the list ends with -1); the first failure is shown with its
 * stderr. */
static void
deadline_runs(int runs, int bound_ms, const char *timeout_ms, const char *url, const char *id, const int *allowed)
{
	char err_path[64], json[32], first[2400] = "";
	snprintf(err_path, sizeof(err_path), "/tmp/rpc-call-deadline-%d.err", (int) getpid());
	snprintf(json, sizeof(json), "{\"id\":%s}", id);
	char *const argv[] = {
	    "rpc-call", "--timeout", (char *) timeout_ms, (char *) url, "users.UserService/GetUser", json, NULL};
	int hung = 0, wrong = 0, exits[256] = {0};
	for (int i = 0; i < runs; i++) {
		int64_t t0 = rpc_clock_ms();
		pid_t pid  = fork();
		if (pid == 0) {
			int out = open("/dev/null", O_WRONLY), err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
			dup2(out, STDOUT_FILENO);
			dup2(err, STDERR_FILENO);
			execv(RPC_CALL_BIN, argv);
			_exit(127);
		}
		cr_assert(pid > 0, "fork failed");
		int status  = 0;
		bool exited = false;
		while (!(exited = waitpid(pid, &status, WNOHANG) == pid) && rpc_clock_ms() - t0 < bound_ms)
			nanosleep(&(struct timespec){.tv_nsec = 2 * 1000000L}, NULL);
		if (!exited) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
		}
		int code = exited && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		bool ok  = false;
		for (const int *a = allowed; *a >= 0; a++)
			ok = ok || code == *a;
		if (ok) {
			exits[code]++;
			continue;
		}
		hung += !exited;
		wrong += exited;
		if (first[0] == '\0') {
			char err[2048];
			slurp(err_path, err, sizeof(err));
			snprintf(first, sizeof(first), "run %d: %s (wait status 0x%x): %s", i + 1,
			    exited ? "exited" : "killed at the bound", (unsigned) status, err);
		}
	}
	unlink(err_path);
	cr_assert(hung == 0 && wrong == 0,
	    "--timeout %s %s: of %d runs, %d did not exit within %d ms and %d gave a wrong answer; first %s",
	    timeout_ms, url, runs, hung, bound_ms, wrong, first);
	cr_log_info("--timeout %s %s: %d runs, exit 0: %d, 14: %d, 24: %d", timeout_ms, url, runs, exits[0], exits[14],
	    exits[24]);
}

/* Issue 23: `rpc-call --timeout 1` against a running service sometimes
 * never exited or answered UNAVAILABLE. A deadline that ends before a
 * connection exists is DEADLINE_EXCEEDED (14); the reply itself may win
 * the race (0); UNAVAILABLE (24) would be wrong, and so would a run that
 * does not exit within the bound. Over TCP, where the connect and the call
 * race the 1 ms deadline. */
Test(rpc_call_deadline, a_short_deadline_against_a_running_service_always_exits_with_its_answer, .timeout = 120)
{
	static const int ok_or_deadline[] = {0, 14, -1};
	deadline_runs(200, 5000, "1", getenv("RPC_CALL_USERS_TCP"), "1", ok_or_deadline);
}

/* Nothing listens: the connect is refused at once, and a refused replica
 * answers UNAVAILABLE at once (rpc/client.h), without waiting for the
 * deadline or the 300 ms connect wait; only a deadline that ends before
 * the connect is even tried is DEADLINE_EXCEEDED. */
Test(rpc_call_deadline, nothing_listening_is_unavailable_at_once_unless_the_deadline_ends_first, .timeout = 120)
{
	static const int either[] = {14, 24, -1}, unavailable[] = {24, -1};
	deadline_runs(40, 5000, "1", "tcp://127.0.0.1:1", "1", either);
	deadline_runs(5, 5000, "300", "tcp://127.0.0.1:1", "1", unavailable);
	deadline_runs(5, 5000, "2000", "tcp://127.0.0.1:1", "1", unavailable);
	deadline_runs(20, 5000, "1", "ipc:///tmp/nobody-listens-here.ipc", "1", either);
}

/* Listening but never answering (a socket that listens and never accepts:
 * the kernel completes each connection, nobody reads the request):
 * DEADLINE_EXCEEDED whether or not the connection came up within
 * the deadline, since the deadline (at most 300 ms) ends before the
 * connect wait could. */
Test(rpc_call_deadline, a_listening_server_that_does_not_answer_is_deadline_exceeded, .timeout = 120)
{
	static const int deadline[] = {14, -1};
	char url[64];
	int fd                 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len          = sizeof(sin);
	cr_assert(fd >= 0 && bind(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0 && listen(fd, 128) == 0 &&
	              getsockname(fd, (struct sockaddr *) &sin, &len) == 0,
	    "a listening socket");
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", (int) ntohs(sin.sin_port));
	deadline_runs(40, 5000, "1", url, "1", deadline);
	deadline_runs(5, 5000, "200", url, "1", deadline);
	close(fd);
}
