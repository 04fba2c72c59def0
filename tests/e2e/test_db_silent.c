/* gateway -> user-svc whose USER_DB_URL names a silent host first (it
 * accepts connections and never answers, as a hung machine) and the real
 * PostgreSQL second (issue 20, last finding): a reconnect waited 2 s on the
 * silent host whatever the request's deadline, so the gateway answered 504.
 * Now each request ends by its deadline with the service's 503 "database
 * unavailable" while the connect goes on, and once the silent host had its
 * 2 s the next request reaches the real server. target_session_attrs=any
 * keeps the written order (with read-write, connects would start at the
 * host start-up reached: db_hosts.h), so the worker's first connect meets
 * the silent host as after a failover. */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http_client.h"
#include "procs.h"
#include "service_urls.h"
#include "tcp_proxy.h"
#include "test_tls.h"

#define DEADLINE_MS 1000

static pid_t user_pid = -1, gateway_pid = -1;
static char log_path[128];
static bool passed; /* user-svc's log is kept when not */

static void
teardown(void)
{
	if (gateway_pid > 0)
		procs_stop(gateway_pid, 5000);
	if (user_pid > 0)
		procs_stop(user_pid, 5000);
	if (passed)
		unlink(log_path);
}

static void
sleep_ms(long ms)
{
	nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L}, NULL);
}

/* USER_DB_URL with 127.0.0.1:port inserted as its first host. */
static void
silent_first(char *out, size_t len, int port)
{
	const char *url = getenv("USER_DB_URL");
	cr_assert_not_null(url, "USER_DB_URL is not set: run the tests with scripts/test");
	const char *at = strchr(url, '@');
	cr_assert_not_null(at, "USER_DB_URL=%s: expected postgresql://USER@HOSTS/DB", url);
	cr_assert_null(strstr(url, "target_session_attrs"), "USER_DB_URL=%s chooses target_session_attrs", url);
	snprintf(out, len, "USER_DB_URL=%.*s127.0.0.1:%d,%s%ctarget_session_attrs=any", (int) (at + 1 - url), url, port,
	    at + 1, strchr(url, '?') != NULL ? '&' : '?');
}

/* Issue 20, the outsider attack: USER_DB_URL as separate lists with an
 * empty element, host=localhost,localhost&hostaddr=127.0.0.1,&port=SILENT,REAL
 * (the second host's name looked up). Handed to libpq whole, its silent
 * first host took every connect's whole bound: user-svc never started. */
static void
silent_first_with_an_empty_element(char *out, size_t len, int port)
{
	const char *url = getenv("USER_DB_URL");
	cr_assert_not_null(url, "USER_DB_URL is not set: run the tests with scripts/test");
	const char *at = strchr(url, '@'), *slash = at != NULL ? strchr(at, '/') : NULL;
	const char *colon = at != NULL ? strchr(at, ':') : NULL;
	cr_assert(at != NULL && slash != NULL && colon != NULL && colon < slash && strchr(url, '?') == NULL,
	    "USER_DB_URL=%s: expected postgresql://USER@HOST:PORT/DB", url);
	snprintf(out, len,
	    "USER_DB_URL=%.*s%s?host=localhost,localhost&hostaddr=127.0.0.1,&port=%d,%.*s&target_session_attrs=any",
	    (int) (at + 1 - url), url, slash, port, (int) (slash - colon - 1), colon + 1);
}

static void
requests_end_503_by_their_deadline(void (*url_of)(char *, size_t, int))
{
	int silent = procs_silent_port();
	cr_assert_gt(silent, 0);
	static char db_url[700], user_url[200], gw_user[200], port_env[48], timeout_env[48];
	url_of(db_url, sizeof(db_url), silent);
	passed = false;
	cr_log_info("%s", db_url);
	service_urls_set_all("db-silent");
	snprintf(user_url, sizeof(user_url), "USER_SVC_URL=%s", getenv("USER_SVC_URL"));
	snprintf(gw_user, sizeof(gw_user), "%s", user_url);
	int port = procs_free_port();
	snprintf(port_env, sizeof(port_env), "GATEWAY_PORTS=%d", port);
	snprintf(timeout_env, sizeof(timeout_env), "RPC_TIMEOUT_MS=%d", DEADLINE_MS);
	snprintf(log_path, sizeof(log_path), "/tmp/db-silent-%d-user-svc.log", (int) getpid());
	static char user_tls[4][320], gw_tls[4][320];
	size_t n_user          = test_tls_role_env("user-svc", 1, user_tls);
	size_t n_gw            = test_tls_role_env("gateway", 0, gw_tls);
	const char *user_env[] = {
	    user_url, db_url, "WORKERS=1", n_user ? user_tls[0] : NULL, user_tls[1], user_tls[2], user_tls[3], NULL};
	const char *gw_env[] = {port_env, gw_user, timeout_env, "GATEWAY_BIND=127.0.0.1", "LOG_LEVEL=warn",
	    n_gw ? gw_tls[0] : NULL, gw_tls[1], gw_tls[2], NULL};
	user_pid             = procs_start(USER_SVC_BIN, user_env, log_path);
	gateway_pid          = procs_start(GATEWAY_BIN, gw_env, NULL);
	cr_assert(user_pid > 0 && gateway_pid > 0);
	char base[64], healthz[96];
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
	snprintf(healthz, sizeof(healthz), "%s/healthz", base);
	cr_assert_eq(procs_wait_http(healthz, 10000), 0, "the gateway did not answer %s", healthz);

	/* GET /users/ID (an id no one has, nor the cache: each read asks
	 * PostgreSQL) until the database answers (404): before
	 * user-svc listens the gateway answers 503 itself; then each request
	 * the worker's connect is not done for, 503 from the service, by the
	 * deadline. Never 504. */
	char path[128];
	snprintf(path, sizeof(path), "%s/users/%d", base, 2000000000 - (int) getpid());
	int unavailable = 0, requests = 0;
	double slowest = 0;
	long status    = 0;
	for (int i = 0; i < 300 && status != 404; i++) {
		http_response r;
		status = http_request("GET", path, NULL, NULL, &r);
		cr_assert(
		    status == 503 || status == 404, "request %d: %ld %s", i, status, r.body != NULL ? r.body : "");
		if (status == 503 && strstr(r.body, "database unavailable") != NULL) {
			unavailable++;
			slowest = r.seconds > slowest ? r.seconds : slowest;
		}
		cr_assert_lt(r.seconds, DEADLINE_MS / 1000.0 + 0.5, "request %d took %.3f s", i, r.seconds);
		requests++;
		cr_log_info("request %d: %ld after %.3f s: %s", i, status, r.seconds, r.body != NULL ? r.body : "");
		http_response_free(&r);
		sleep_ms(100);
	}
	cr_assert_eq(status, 404, "the database was never reached (%ld)", status);
	cr_assert_geq(unavailable, 1, "no request met the connect under way: the test proves nothing");
	cr_log_info("%d requests, %d answered 503 by user-svc (slowest %.3f s), then %ld", requests, unavailable,
	    slowest, status);

	/* Connected: a user created is read back. */
	char body[256], email[96];
	snprintf(email, sizeof(email), "db-silent-%ld-%d@example.com", (long) time(NULL), (int) getpid());
	snprintf(body, sizeof(body), "{\"name\":\"Silent host\",\"email\":\"%s\"}", email);
	static const char *const json_headers[] = {"Content-Type: application/json", NULL};
	char users[96];
	snprintf(users, sizeof(users), "%s/users", base);
	http_response r;
	cr_assert_eq(http_request("POST", users, json_headers, body, &r), 201, "%s", r.body);
	long long id = json_integer_value(json_object_get(r.json, "id"));
	http_response_free(&r);
	snprintf(path, sizeof(path), "%s/users/%lld", base, id);
	cr_assert_eq(http_request("GET", path, NULL, NULL, &r), 200, "%s", r.body);
	http_response_free(&r);

	int st      = procs_stop(gateway_pid, 5000);
	gateway_pid = -1;
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the gateway ended with status %d", st);
	st       = procs_stop(user_pid, 5000);
	user_pid = -1;
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "user-svc ended with status %d (see %s)", st, log_path);
	passed = true;
	unlink(log_path);
}

/* Both forms one after the other, not in parallel (two stacks at once on
 * a loaded 2-core box could make a 503 miss the deadline's bound). */
Test(db_silent, requests_end_503_by_their_deadline_while_a_connect_waits_on_a_silent_host, .fini = teardown,
    .timeout = 180)
{
	requests_end_503_by_their_deadline(silent_first);
	/* Issue 20's attack: a host list with an empty element. */
	requests_end_503_by_their_deadline(silent_first_with_an_empty_element);
}

static int64_t
now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t) t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Issue 20's second attack: a stop (SIGTERM) while start-up connects
 * through silent hosts waited for each of them (2 s an address: 7 s with
 * four), and user-svc even logged user_svc_started after the signal. The
 * connect without a deadline now looks at the stop every 100 ms: the
 * process exits 0 promptly, having started nothing. The same check serves
 * the outbox relay's and the event consumer's connects. */
static void
stop_is_prompt_in_a_connect(bool after_start)
{
	int silent[4];
	for (int i = 0; i < 4; i++)
		cr_assert_gt(silent[i] = procs_silent_port(), 0);
	const char *url = getenv("USER_DB_URL");
	cr_assert_not_null(url, "USER_DB_URL is not set: run the tests with scripts/test");
	const char *at = strchr(url, '@');
	cr_assert_not_null(at);
	static char db_url[700], user_url[200];
	/* After start: two silent hosts, the real one, and any (the written
	 * order for every connect), so start-up gets through in 4 s and the
	 * outbox relay's own connect is then on the silent hosts. */
	if (after_start)
		snprintf(db_url, sizeof(db_url),
		    "USER_DB_URL=%.*s127.0.0.1:%d,127.0.0.1:%d,%s%ctarget_session_attrs=any", (int) (at + 1 - url), url,
		    silent[0], silent[1], at + 1, strchr(url, '?') != NULL ? '&' : '?');
	else
		snprintf(db_url, sizeof(db_url),
		    "USER_DB_URL=%.*s127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d,%s", (int) (at + 1 - url), url,
		    silent[0], silent[1], silent[2], silent[3], at + 1);
	service_urls_set_all("db-stop");
	snprintf(user_url, sizeof(user_url), "USER_SVC_URL=%s", getenv("USER_SVC_URL"));
	snprintf(log_path, sizeof(log_path), "/tmp/db-stop-%d-user-svc.log", (int) getpid());
	static char user_tls[4][320];
	size_t n_user          = test_tls_role_env("user-svc", 1, user_tls);
	const char *user_env[] = {
	    user_url, db_url, "WORKERS=1", n_user ? user_tls[0] : NULL, user_tls[1], user_tls[2], user_tls[3], NULL};
	passed   = false;
	user_pid = procs_start(USER_SVC_BIN, user_env, log_path);
	cr_assert_gt(user_pid, 0);
	if (after_start) {
		for (int i = 0; i < 200 && procs_log_count(log_path, "user_svc_started") <= 0; i++)
			sleep_ms(50);
		cr_assert_eq(
		    procs_log_count(log_path, "user_svc_started"), 1, "user-svc did not start (see %s)", log_path);
	}
	sleep_ms(1000); /* inside a silent host's 2 s */
	int64_t t0   = now_ms();
	int st       = procs_stop(user_pid, 10000);
	int64_t took = now_ms() - t0;
	user_pid     = -1;
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "user-svc ended with status %d (see %s)", st, log_path);
	cr_assert_lt(took, 1500, "user-svc took %lld ms to stop (see %s)", (long long) took, log_path);
	cr_assert_eq(procs_log_count(log_path, "user_svc_started"), after_start ? 1 : 0,
	    "it started serving after the stop (see %s)", log_path);
	cr_assert_eq(procs_log_count(log_path, "outbox_stop_cut"), 0, "the relay's stop was cut (see %s)", log_path);
	cr_log_info("stopped %lld ms after SIGTERM, %s", (long long) took,
	    after_start ? "the relay in a connect through silent hosts" : "in a connect through 4 silent hosts");
	passed = true;
	unlink(log_path);
}

Test(db_silent, a_stop_during_the_start_up_connect_through_silent_hosts_is_prompt, .fini = teardown, .timeout = 60)
{
	stop_is_prompt_in_a_connect(false);
}

Test(db_silent, a_stop_while_the_outbox_relay_connects_through_silent_hosts_is_prompt, .fini = teardown, .timeout = 60)
{
	stop_is_prompt_in_a_connect(true);
}

/* ---- Issue 20's second attack: a frozen server, a lost answer ---- */

static tcp_proxy *proxy;

static void
teardown_proxy(void)
{
	teardown();
	tcp_proxy_stop(proxy);
	proxy = NULL;
}

/* user-svc (WORKERS=1) whose USER_DB_URL reaches PostgreSQL through
 * proxy, and, when gateway_port is not NULL, a gateway in front of it. */
static void
start_through_proxy(int *gateway_port)
{
	const char *url = getenv("USER_DB_URL");
	cr_assert_not_null(url, "USER_DB_URL is not set: run the tests with scripts/test");
	const char *at = strchr(url, '@'), *slash = at != NULL ? strchr(at, '/') : NULL;
	const char *colon = at != NULL ? strchr(at, ':') : NULL;
	cr_assert(at != NULL && slash != NULL && colon != NULL && colon < slash,
	    "USER_DB_URL=%s: expected postgresql://USER@HOST:PORT/DB", url);
	proxy = tcp_proxy_start(atoi(colon + 1));
	cr_assert_not_null(proxy);
	static char db_url[700], user_url[200], port_env[48];
	snprintf(db_url, sizeof(db_url), "USER_DB_URL=%.*s127.0.0.1:%d%s", (int) (at + 1 - url), url,
	    tcp_proxy_port(proxy), slash);
	service_urls_set_all("db-frozen");
	snprintf(user_url, sizeof(user_url), "USER_SVC_URL=%s", getenv("USER_SVC_URL"));
	snprintf(log_path, sizeof(log_path), "/tmp/db-frozen-%d-user-svc.log", (int) getpid());
	static char user_tls[4][320], gw_tls[4][320];
	size_t n_user          = test_tls_role_env("user-svc", 1, user_tls);
	const char *user_env[] = {
	    user_url, db_url, "WORKERS=1", n_user ? user_tls[0] : NULL, user_tls[1], user_tls[2], user_tls[3], NULL};
	passed   = false;
	user_pid = procs_start(USER_SVC_BIN, user_env, log_path);
	cr_assert_gt(user_pid, 0);
	if (gateway_port == NULL)
		return;
	*gateway_port = procs_free_port();
	snprintf(port_env, sizeof(port_env), "GATEWAY_PORTS=%d", *gateway_port);
	size_t n_gw          = test_tls_role_env("gateway", 0, gw_tls);
	const char *gw_env[] = {port_env, user_url, "GATEWAY_BIND=127.0.0.1", "LOG_LEVEL=warn", n_gw ? gw_tls[0] : NULL,
	    gw_tls[1], gw_tls[2], NULL};
	gateway_pid          = procs_start(GATEWAY_BIN, gw_env, NULL);
	cr_assert_gt(gateway_pid, 0);
}

/* SIGTERM to user-svc once the proxy froze the statement holding text:
 * it exits 0 promptly. */
static void
stop_is_prompt_with_a_frozen_statement(const char *text, const char *where)
{
	for (int i = 0; i < 100 && !tcp_proxy_met(proxy); i++)
		sleep_ms(50);
	cr_assert(tcp_proxy_met(proxy), "no statement holding %s was sent (see %s)", text, log_path);
	sleep_ms(300);
	int64_t t0   = now_ms();
	int st       = procs_stop(user_pid, 10000);
	int64_t took = now_ms() - t0;
	user_pid     = -1;
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "user-svc ended with status %d (see %s)", st, log_path);
	cr_assert_lt(took, 1500, "user-svc took %lld ms to stop (see %s)", (long long) took, log_path);
	cr_log_info("stopped %lld ms after SIGTERM, %s", (long long) took, where);
	passed = true;
}

/* Issue 20's second attack, (2): a statement without a deadline waited
 * for a frozen or cut-off server (not a down one) forever, and SIGTERM
 * with it: start-up's migrations (blocking PQexec) and the outbox relay.
 * Now such a statement looks at the stop every 100 ms. Before: killed
 * after 10 s. */
Test(db_silent, a_stop_while_start_up_migrates_on_a_frozen_server_is_prompt, .fini = teardown_proxy, .timeout = 60)
{
	start_through_proxy(NULL);
	tcp_proxy_arm(proxy, TCP_PROXY_FREEZE, "pg_advisory_xact_lock");
	stop_is_prompt_with_a_frozen_statement("pg_advisory_xact_lock", "start-up's migration frozen");
	cr_assert_eq(procs_log_count(log_path, "user_svc_started"), 0, "it started serving (see %s)", log_path);
}

/* The third attack, F2: start-up's fill of the email keys (after the
 * migrations, on a handle of its own) had no stop: it waited for a frozen
 * server until killed. */
Test(db_silent, a_stop_while_start_up_fills_the_email_keys_on_a_frozen_server_is_prompt, .fini = teardown_proxy,
    .timeout = 60)
{
	start_through_proxy(NULL);
	tcp_proxy_arm(proxy, TCP_PROXY_FREEZE, "email_key IS NULL");
	stop_is_prompt_with_a_frozen_statement("email_key IS NULL", "start-up's email-key fill frozen");
	cr_assert_eq(procs_log_count(log_path, "user_svc_started"), 0, "it started serving (see %s)", log_path);
	cr_assert_eq(procs_log_count(log_path, "user_email_keys_failed"), 0, "a stop is no failure (see %s)", log_path);
}

Test(db_silent, a_stop_while_the_outbox_relay_waits_on_a_frozen_server_is_prompt, .fini = teardown_proxy, .timeout = 60)
{
	start_through_proxy(NULL);
	for (int i = 0; i < 200 && procs_log_count(log_path, "user_svc_started") <= 0; i++)
		sleep_ms(50);
	cr_assert_eq(procs_log_count(log_path, "user_svc_started"), 1, "user-svc did not start (see %s)", log_path);
	/* The relay's claim begins with BEGIN, every OUTBOX_POLL_MS (1 s);
	 * nothing else here opens a transaction. */
	tcp_proxy_arm(proxy, TCP_PROXY_FREEZE, "BEGIN");
	stop_is_prompt_with_a_frozen_statement("BEGIN", "the outbox relay's statement frozen");
}

/* Issue 20's second attack, (1): a create whose connection broke after
 * its INSERT reached PostgreSQL answered 503 "database unavailable", yet
 * the user was created. Now the answer lost with its connection is 504
 * "the outcome is unknown", and the user is there. */
Test(db_silent, a_create_whose_answer_was_lost_is_504_and_was_done, .fini = teardown_proxy, .timeout = 60)
{
	int port;
	start_through_proxy(&port);
	char base[64], healthz[96], users[96];
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
	snprintf(healthz, sizeof(healthz), "%s/healthz", base);
	snprintf(users, sizeof(users), "%s/users", base);
	cr_assert_eq(procs_wait_http(healthz, 10000), 0, "the gateway did not answer %s", healthz);
	char email[96], body[256];
	snprintf(email, sizeof(email), "lost-%ld-%d@example.com", (long) time(NULL), (int) getpid());
	snprintf(body, sizeof(body), "{\"name\":\"Lost answer\",\"email\":\"%s\"}", email);
	static const char *const json_headers[] = {"Content-Type: application/json", NULL};
	char rid_header[80], rid[48];
	snprintf(rid, sizeof(rid), "lost-answer-%d", (int) getpid());
	snprintf(rid_header, sizeof(rid_header), "X-Request-Id: %s", rid);
	const char *const lost_headers[] = {"Content-Type: application/json", rid_header, NULL};
	/* The email is among the INSERT's parameters (Bind): what reaches
	 * the server is the statement itself, not only its Parse. */
	tcp_proxy_arm(proxy, TCP_PROXY_LOSE_REPLY, email);
	http_response r;
	long status = 0;
	for (int i = 0;
	     i < 100 && (status = http_request("POST", users, lost_headers, body, &r)) == 503 && !tcp_proxy_met(proxy);
	     i++) {
		http_response_free(&r); /* user-svc not connected yet */
		sleep_ms(100);
	}
	cr_assert(tcp_proxy_met(proxy), "the INSERT never reached the proxy (%ld)", status);
	cr_assert_eq(status, 504, "%s", r.body);
	cr_assert_not_null(strstr(r.body, "the outcome is unknown"), "%s", r.body);
	http_response_free(&r);
	/* The service's line about it names the request (the second attack's
	 * F6: db lines carried request=-). */
	char line[160];
	snprintf(line, sizeof(line), "request=%s", rid);
	cr_assert_eq(procs_log_count(log_path, "db_connection_lost during=create_user outcome=unknown reason="), 1,
	    "no db_connection_lost line in %s", log_path);
	cr_assert_eq(procs_log_count(log_path, line), 1, "the line has no '%s' (%s)", line, log_path);
	/* It was done: the same email is taken now. */
	for (int i = 0; i < 50 && (status = http_request("POST", users, json_headers, body, &r)) == 503; i++) {
		http_response_free(&r); /* reconnecting */
		sleep_ms(100);
	}
	cr_assert_eq(status, 409, "the create answered 504 was done: %s", r.body);
	http_response_free(&r);
	passed = true;
}
