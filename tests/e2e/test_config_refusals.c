/* Each binary, run as a user would with one bad setting (issue 23, part 3):
 * it exits at once with status 2 and one message naming the variable, its
 * value (passwords masked) and what is wrong, and never waits for a server
 * or listens somewhere else. Every other setting is left at its default, so
 * a value let through would make the binary wait for PostgreSQL or serve:
 * the 5 s bound would catch it. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rpc/envelope.h"

#define BOUND_MS 5000

typedef struct run_result {
	int status; /* exit status, or -1 when it had to be killed */
	int64_t ms;
	char err[4096];
} run_result;

/* Runs path with only PATH and settings ("NAME=value", NULL-terminated) in
 * its environment (and args), capturing stdout and stderr, for at most
 * BOUND_MS. */
static void
run_env(const char *path, char *const *settings, char *const *args, run_result *r)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	char *env[8] = {"PATH=/usr/bin:/bin"};
	for (int i = 0; settings != NULL && settings[i] != NULL && i < 6; i++)
		env[i + 1] = settings[i];
	int64_t t0 = rpc_clock_ms();
	pid_t pid  = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 2);
		dup2(fds[1], 1);
		int devnull = open("/dev/null", O_RDWR);
		dup2(devnull, 0);
		close(fds[0]);
		char *argv[8] = {(char *) path};
		for (int i = 0; args != NULL && args[i] != NULL && i < 6; i++)
			argv[i + 1] = args[i];
		execve(path, argv, env);
		_exit(127);
	}
	close(fds[1]);
	size_t n = 0;
	int status;
	r->status = -1;
	for (;;) {
		struct pollfd p = {.fd = fds[0], .events = POLLIN};
		int64_t left    = BOUND_MS - (rpc_clock_ms() - t0);
		if (left <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		if (poll(&p, 1, (int) left) > 0) {
			ssize_t got = read(fds[0], r->err + n, sizeof(r->err) - 1 - n);
			if (got > 0) {
				n += (size_t) got;
				continue;
			}
			/* End of stream: the process is gone or going. */
			waitpid(pid, &status, 0);
			r->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
			break;
		}
	}
	r->err[n] = '\0';
	r->ms     = rpc_clock_ms() - t0;
	close(fds[0]);
}

static void
run(const char *path, const char *name, const char *value, char *const *args, run_result *r)
{
	char setting[1024];
	snprintf(setting, sizeof(setting), "%s=%s", name != NULL ? name : "UNUSED", value != NULL ? value : "");
	char *settings[] = {setting, NULL};
	run_env(path, settings, args, r);
}

/* The binary refuses NAME=VALUE with exit 2 within the bound, its message
 * saying "NAME: 'shown' ..." and containing why. */
static void
refused(const char *path, const char *name, const char *value, const char *shown, const char *why)
{
	run_result r;
	run(path, name, value, NULL, &r);
	cr_assert_eq(r.status, 2, "%s with %s=%s: status %d after %lld ms: %s", path, name, value, r.status,
	    (long long) r.ms, r.err);
	cr_assert_lt(r.ms, BOUND_MS);
	char head[1200];
	snprintf(head, sizeof(head), "invalid configuration: %s: '%s' ", name, shown);
	cr_assert_not_null(strstr(r.err, head), "%s with %s=%s said: %s", path, name, value, r.err);
	cr_assert_not_null(strstr(r.err, why), "%s with %s=%s said: %s", path, name, value, r.err);
	cr_assert_null(strstr(r.err, "s3cret"), "a password was printed: %s", r.err);
	/* One line, no log of anything having started. */
	cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "more than one line: %s", r.err);
}

Test(config_refusals, the_gateway_refuses_a_bind_address_that_is_not_ipv4)
{
	/* 999.1.1.1 listened on 231.1.1.1:3990; ::1 and abc stopped CivetWeb
	 * with "invalid port spec", naming no variable. */
	refused(GATEWAY_BIN, "GATEWAY_BIND", "999.1.1.1", "999.1.1.1", "is not an IPv4 address");
	refused(GATEWAY_BIN, "GATEWAY_BIND", "::1", "::1", "CivetWeb 1.15 as Debian builds it has no IPv6");
	refused(GATEWAY_BIN, "GATEWAY_BIND", "abc", "abc", "is not an IPv4 address");
	refused(GATEWAY_BIN, "GATEWAY_BIND", "1.2.3", "1.2.3", "is not an IPv4 address");
	refused(GATEWAY_BIN, "GATEWAY_BIND", "01.2.3.4", "01.2.3.4", "is not an IPv4 address");
}

Test(config_refusals, the_gateway_refuses_service_urls_it_could_never_dial)
{
	refused(GATEWAY_BIN, "USER_SVC_URL", "http://x", "http://x", "has scheme 'http'");
	refused(GATEWAY_BIN, "USER_SVC_URL", "tcp://:5001", "tcp://:5001", "has no host");
	refused(GATEWAY_BIN, "ORDER_SVC_URL", "tcp://127.0.0.1:5002,tcp://host:99999",
	    "tcp://127.0.0.1:5002,tcp://host:99999", "element 2 'tcp://host:99999' has port 99999");
	refused(GATEWAY_BIN, "GATEWAY_PORTS", "3000,0", "3000,0", "0 is out of range [1, 65535]");
}

Test(config_refusals, user_svc_refuses_urls_before_waiting_for_anything)
{
	/* http://x waited for PostgreSQL, then "cannot listen on http://x";
	 * notaurl waited forever on the default socket. */
	refused(USER_SVC_BIN, "USER_SVC_URL", "http://x", "http://x", "is not an nng URL to listen on");
	refused(USER_SVC_BIN, "USER_SVC_URL", "ipc://", "ipc://", "has an empty path");
	/* Where callers find every replica cannot say where this one listens
	 * (issue 19: it failed with "cannot listen on ...: Address invalid"). */
	refused(USER_SVC_BIN, "USER_SVC_URL", "tcp://127.0.0.1:5001,tcp://127.0.0.1:5011",
	    "tcp://127.0.0.1:5001,tcp://127.0.0.1:5011", "set RPC_LISTEN_URL");
	refused(USER_SVC_BIN, "RPC_LISTEN_URL", "http://x", "http://x", "is not an nng URL to listen on");
	refused(USER_SVC_BIN, "RPC_LISTEN_URL", "tcp://127.0.0.1:5001,tcp://127.0.0.1:5011",
	    "tcp://127.0.0.1:5001,tcp://127.0.0.1:5011", "a service listens on one");
	refused(USER_SVC_BIN, "USER_DB_URL", "notaurl", "***", "is not a libpq URL or connection string");
	refused(USER_SVC_BIN, "USER_DB_URL", "postgresql://x:s3cret@h:notaport/db", "postgresql://x:***@h:notaport/db",
	    "has port 'notaport'");
	refused(USER_SVC_BIN, "USER_DB_URL", "host=x port=99999", "host=x port=99999", "has port '99999'");
	refused(USER_SVC_BIN, "REDIS_URL", "redis://:s3cret@host:0", "redis://:***@host:0", "has a bad port");
	refused(USER_SVC_BIN, "AMQP_URL", "amqp://g:s3cret@h:99999/", "amqp://g:***@h:99999/",
	    "librabbitmq cannot parse it");
	/* A list: each element's password masked on its own (issue 20), and a
	 * comma in a password named with its %-encoding. */
	refused(USER_SVC_BIN, "AMQP_URL", "amqp://g:s3cret@h1/,amqp://g:s3cret@h2:0/",
	    "amqp://g:***@h1/,amqp://g:***@h2:0/", "element 2 of 2 is not an AMQP URL to use: it has port 0");
	refused(USER_SVC_BIN, "AMQP_URL", "amqp://g:s3cret,x@h1:5672/,amqp://g:s3cret@h2/",
	    "amqp://g:***@h1:5672/,amqp://g:***@h2/",
	    "element 1 of 3 is not an amqp://user:password@host:port/vhost URL (librabbitmq cannot parse it); it "
	    "looks like a password cut at a comma (the list's separator): write a comma in a password as %2C");
	/* A broker named twice: both positions. */
	refused(ORDER_SVC_BIN, "AMQP_URL", "amqp://g:s3cret@h1:5672/,amqp://g:s3cret@h2/,amqp://g:s3cret@h1/",
	    "amqp://g:***@h1:5672/,amqp://g:***@h2/,amqp://g:***@h1/",
	    "element 3 of 3 names the same broker (h1:5672) as element 1: list each node once");
}

/* Issue 20: libpq fills in from PG* variables (and a service file) what
 * the URL leaves out. PGTARGETSESSIONATTRS=readwrite was taken at start,
 * then every connect failed with libpq's "invalid target_session_attrs
 * value", the service waiting forever (DB_WAIT_S=0) without naming the
 * variable; likewise any PG* value libpq cannot use. */
Test(config_refusals, services_refuse_pg_variables_that_would_fail_every_connect)
{
	const char *bins[] = {USER_SVC_BIN, ORDER_SVC_BIN};
	for (int b = 0; b < 2; b++) {
		refused(bins[b], "PGTARGETSESSIONATTRS", "readwrite", "readwrite",
		    "cannot work: libpq would connect with it for");
		refused(bins[b], "PGTARGETSESSIONATTRS", "readwrite", "readwrite",
		    "has target_session_attrs 'readwrite', which libpq does not know (any, read-write, read-only, "
		    "primary, standby, prefer-standby)");
		refused(bins[b], "PGSSLMODE", "on", "on", "has sslmode 'on', which libpq does not know");
		refused(bins[b], "PGCONNECT_TIMEOUT", "2s", "2s", "has connect_timeout '2s', which is not a number");
		refused(bins[b], "PGGSSENCMODE", "yes", "yes", "has gssencmode 'yes'");
	}
	/* The same value in the URL is refused as the URL's. */
	refused(USER_SVC_BIN, "USER_DB_URL", "postgresql://u:s3cret@h/d?target_session_attrs=readwrite",
	    "postgresql://u:***@h/d?target_session_attrs=readwrite", "has target_session_attrs 'readwrite'");
	/* A service file's, naming the URL's variable and the service. */
	char path[] = "/tmp/pg-service-XXXXXX";
	int fd      = mkstemp(path);
	cr_assert(fd >= 0);
	static const char section[] = "[atkusers]\nhost=127.0.0.1,127.0.0.1\ntarget_session_attrs=readwrite\n";
	cr_assert_eq(write(fd, section, sizeof(section) - 1), (ssize_t) sizeof(section) - 1);
	close(fd);
	char file_setting[64];
	snprintf(file_setting, sizeof(file_setting), "PGSERVICEFILE=%s", path);
	char *settings[] = {file_setting, "USER_DB_URL=service=atkusers", NULL};
	run_result r;
	run_env(USER_SVC_BIN, settings, NULL, &r);
	unlink(path);
	cr_assert_eq(r.status, 2, "status %d after %lld ms: %s", r.status, (long long) r.ms, r.err);
	cr_assert_not_null(
	    strstr(r.err, "invalid configuration: USER_DB_URL: its service 'atkusers' cannot work"), "%s", r.err);
	cr_assert_not_null(strstr(r.err, "has target_session_attrs 'readwrite'"), "%s", r.err);
}

Test(config_refusals, order_svc_refuses_urls_before_waiting_for_anything)
{
	refused(ORDER_SVC_BIN, "ORDER_SVC_URL", "tcp://h", "tcp://h", "has no port");
	refused(ORDER_SVC_BIN, "RPC_LISTEN_URL", "tcp://h", "tcp://h", "has no port");
	refused(ORDER_SVC_BIN, "USER_SVC_URL", "tcp://:5001", "tcp://:5001", "a dialer needs one");
	refused(ORDER_SVC_BIN, "ORDER_DB_URL", "notaurl", "***", "missing \"=\" after \"***\"");
	refused(ORDER_SVC_BIN, "AMQP_URL", "amqps://g:s3cret@h/", "amqps://g:***@h/", "amqps (TLS) is not supported");
}

Test(config_refusals, rpc_call_refuses_a_url_it_could_never_dial)
{
	char *args[] = {"http://x", "users.UserService/GetUser", "{}", NULL};
	run_result r;
	run(RPC_CALL_BIN, NULL, NULL, args, &r);
	cr_assert_eq(r.status, 1, "status %d: %s", r.status, r.err);
	cr_assert_lt(r.ms, BOUND_MS);
	cr_assert_str_eq(r.err, "rpc-call: URL: 'http://x' is not an nng URL to dial: it has scheme 'http', not one of "
	                        "tcp, tcp4, tcp6, tls+tcp, tls+tcp4, tls+tcp6, ipc, unix, abstract\n");
	char *timeout_args[] = {"--timeout", "5s", "tcp://127.0.0.1:1", "users.UserService/GetUser", "{}", NULL};
	run(RPC_CALL_BIN, NULL, NULL, timeout_args, &r);
	cr_assert_eq(r.status, 1, "status %d: %s", r.status, r.err);
	cr_assert_str_eq(r.err, "rpc-call: --timeout: '5s' is not an integer (milliseconds)\n");
}

/* A valid URL whose server is down is waited for, and the wait says so:
 * one line naming what it waits for (password masked) and why, and with
 * DB_WAIT_S, an end. Port 1 on loopback: nobody listens there. */
static void
waits_visibly_then_gives_up(const char *path, const char *db_var)
{
	char db[128];
	snprintf(db, sizeof(db), "%s=postgresql://svc:s3cret@127.0.0.1:1/db", db_var);
	char *settings[] = {db, "DB_WAIT_S=2", NULL};
	run_result r;
	run_env(path, settings, NULL, &r);
	cr_assert_eq(r.status, 1, "%s: status %d after %lld ms: %s", path, r.status, (long long) r.ms, r.err);
	cr_assert_geq(r.ms, 1900, "%s gave up after %lld ms, before DB_WAIT_S", path, (long long) r.ms);
	cr_assert_not_null(
	    strstr(r.err, "db_waiting_for_postgres url=\"postgresql://svc:***@127.0.0.1:1/db\""), "%s", r.err);
	cr_assert_not_null(strstr(r.err, "max_wait_s=2 reason=\"connection to server at"), "%s", r.err);
	cr_assert_not_null(
	    strstr(r.err, "db_wait_gave_up url=\"postgresql://svc:***@127.0.0.1:1/db\" waited_s=2"), "%s", r.err);
	cr_assert_null(strstr(r.err, "s3cret"), "a password was printed: %s", r.err);
	const char *first = strstr(r.err, "db_waiting_for_postgres");
	cr_assert_null(strstr(first + 1, "db_waiting_for_postgres"), "the wait was announced twice: %s", r.err);
}

Test(config_refusals, a_database_that_is_down_is_waited_for_visibly_and_within_db_wait_s)
{
	waits_visibly_then_gives_up(USER_SVC_BIN, "USER_DB_URL");
	waits_visibly_then_gives_up(ORDER_SVC_BIN, "ORDER_DB_URL");
}

/* Secrets from files (NAME_FILE, lib/base/env.h): each bad case refused at
 * once with exit 2 and one line naming the variable and the path, never the
 * file's content; a bad value read from a file refused as NAME's would be,
 * password masked. */
static char secret_dir[64];

static void
make_secret_dir(void)
{
	snprintf(secret_dir, sizeof(secret_dir), "/tmp/config-refusals-XXXXXX");
	cr_assert_not_null(mkdtemp(secret_dir));
}

static void
remove_secret_dir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", secret_dir);
	cr_assert_eq(system(cmd), 0);
}

/* secret_dir/name holding content; its path in path. */
static void
secret_file(const char *name, const char *content, char *path, size_t len)
{
	snprintf(path, len, "%s/%s", secret_dir, name);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(content, f);
	cr_assert_eq(fclose(f), 0);
}

/* path run with settings exits 2 within the bound, its one line saying
 * "invalid configuration: " + message exactly. */
static void
refused_exactly(const char *path, char *const *settings, const char *message)
{
	run_result r;
	run_env(path, settings, NULL, &r);
	cr_assert_eq(r.status, 2, "%s: status %d after %lld ms: %s", path, r.status, (long long) r.ms, r.err);
	cr_assert_lt(r.ms, BOUND_MS);
	char expected[1400];
	snprintf(expected, sizeof(expected), "%s: invalid configuration: %s\n", path, message);
	cr_assert_str_eq(r.err, expected);
	cr_assert_null(strstr(r.err, "s3cret"), "a password was printed: %s", r.err);
}

Test(config_refusals, a_secret_file_that_cannot_be_used_is_refused_naming_the_variable_and_path,
    .init = make_secret_dir, .fini = remove_secret_dir)
{
	char file[128], setting[256], message[512];
	secret_file("db", "postgresql://u:s3cret@127.0.0.1:1/db\n", file, sizeof(file));
	snprintf(setting, sizeof(setting), "USER_DB_URL_FILE=%s", file);
	char *both[] = {setting, "USER_DB_URL=postgresql://u:s3cret@127.0.0.1:1/db", NULL};
	refused_exactly(USER_SVC_BIN, both, "USER_DB_URL and USER_DB_URL_FILE are both set: set only one of them");

	snprintf(setting, sizeof(setting), "REDIS_URL_FILE=%s/missing", secret_dir);
	char *missing[] = {setting, NULL};
	snprintf(message, sizeof(message), "REDIS_URL_FILE: cannot open '%s/missing': No such file or directory",
	    secret_dir);
	refused_exactly(USER_SVC_BIN, missing, message);

	secret_file("empty", "", file, sizeof(file));
	snprintf(setting, sizeof(setting), "AMQP_URL_FILE=%s", file);
	char *empty[] = {setting, NULL};
	snprintf(message, sizeof(message), "AMQP_URL_FILE: '%s' is empty", file);
	refused_exactly(ORDER_SVC_BIN, empty, message);

	secret_file("lines", "postgresql://u:s3cret@h/db\n\n", file, sizeof(file));
	snprintf(setting, sizeof(setting), "ORDER_DB_URL_FILE=%s", file);
	char *lines[] = {setting, NULL};
	snprintf(message, sizeof(message),
	    "ORDER_DB_URL_FILE: '%s' holds more than one line (only one trailing newline is removed)", file);
	refused_exactly(ORDER_SVC_BIN, lines, message);

	snprintf(setting, sizeof(setting), "USER_DB_URL_FILE=%s", secret_dir);
	char *dir[] = {setting, NULL};
	snprintf(message, sizeof(message), "USER_DB_URL_FILE: '%s' is not a regular file", secret_dir);
	refused_exactly(USER_SVC_BIN, dir, message);
}

Test(config_refusals, a_bad_value_from_a_secret_file_is_refused_as_the_variable_would_be, .init = make_secret_dir,
    .fini = remove_secret_dir)
{
	static const struct {
		const char *bin, *name, *content, *shown, *why;
	} cases[] = {
	    {USER_SVC_BIN, "USER_DB_URL", "postgresql://x:s3cret@h:notaport/db\n", "postgresql://x:***@h:notaport/db",
	        "has port 'notaport'"},
	    {USER_SVC_BIN, "REDIS_URL", "redis://:s3cret@host:0", "redis://:***@host:0", "has a bad port"},
	    {USER_SVC_BIN, "AMQP_URL", "amqp://g:s3cret@h:99999/\n", "amqp://g:***@h:99999/",
	        "librabbitmq cannot parse it"},
	    /* Neither a URL nor key=value: maybe a password alone (the Docker habit), never shown. */
	    {ORDER_SVC_BIN, "ORDER_DB_URL", "notaurl\n", "***", "missing \"=\" after \"***\""},
	    {USER_SVC_BIN, "USER_DB_URL", "s3cret\n", "***", "missing \"=\" after \"***\""},
	    {USER_SVC_BIN, "REDIS_URL", "s3cret\n", "***", "it does not start with redis://"},
	    {USER_SVC_BIN, "USER_DB_URL", "u:s3cret@h/db\n", "***", "missing \"=\" after \"***\""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char file[128], setting[256], head[512];
		secret_file(cases[i].name, cases[i].content, file, sizeof(file));
		snprintf(setting, sizeof(setting), "%s_FILE=%s", cases[i].name, file);
		char *settings[] = {setting, NULL};
		run_result r;
		run_env(cases[i].bin, settings, NULL, &r);
		cr_assert_eq(r.status, 2, "%s: status %d: %s", setting, r.status, r.err);
		cr_assert_lt(r.ms, BOUND_MS);
		/* Exactly NAME's words, after a label naming the file. */
		snprintf(head, sizeof(head), "invalid configuration: %s (from %s_FILE='%s'): '%s' ", cases[i].name,
		    cases[i].name, file, cases[i].shown);
		cr_assert_not_null(strstr(r.err, head), "%s said: %s", setting, r.err);
		cr_assert_not_null(strstr(r.err, cases[i].why), "%s said: %s", setting, r.err);
		cr_assert_null(strstr(r.err, "s3cret"), "a password was printed: %s", r.err);
		cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "more than one line: %s", r.err);
	}
}

/* RPC_TLS_CERT, RPC_TLS_KEY, RPC_TLS_CA (lib/rpc/tls_files.h), with files
 * openssl makes for the test: every binary refuses a bad set at start,
 * naming the variable (rpc-call: the option) and the path. */
static void
make_tls_files(void)
{
	make_secret_dir();
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "'%s' '%s'", MAKE_TLS_FILES, secret_dir);
	cr_assert_eq(system(cmd), 0, "%s failed", cmd);
}

Test(
    config_refusals, every_binary_refuses_tls_files_it_could_not_use, .init = make_tls_files, .fini = remove_secret_dir)
{
	char cert[160], key[160], ca[160], callers[160], message[1024];
	const char *d = secret_dir;
	snprintf(cert, sizeof(cert), "RPC_TLS_CERT=%s/good.pem", d);
	snprintf(callers, sizeof(callers), "RPC_TLS_CALLER_CA=%s/ca.pem", d);
	char *only_cert[] = {cert, NULL};
	refused_exactly(USER_SVC_BIN, only_cert,
	    "RPC_TLS_CERT, RPC_TLS_KEY, RPC_TLS_CA and RPC_TLS_CALLER_CA go together (TLS needs all four): "
	    "RPC_TLS_KEY, RPC_TLS_CA and RPC_TLS_CALLER_CA are not set");
	refused_exactly(GATEWAY_BIN, only_cert,
	    "RPC_TLS_CERT, RPC_TLS_KEY and RPC_TLS_CA go together (TLS needs all three): RPC_TLS_KEY and RPC_TLS_CA "
	    "are not set");

	snprintf(cert, sizeof(cert), "RPC_TLS_CERT=%s/expired.pem", d);
	snprintf(key, sizeof(key), "RPC_TLS_KEY=%s/good.key", d);
	snprintf(ca, sizeof(ca), "RPC_TLS_CA=%s/ca.pem", d);
	char *expired[] = {cert, key, ca, NULL};
	snprintf(message, sizeof(message), "RPC_TLS_CERT: '%s/expired.pem' expired on 2020-01-02 00:00:00 UTC", d);
	refused_exactly(GATEWAY_BIN, expired, message);

	snprintf(cert, sizeof(cert), "RPC_TLS_CERT=%s/good.pem", d);
	snprintf(key, sizeof(key), "RPC_TLS_KEY=%s/other.key", d);
	char *mismatch[] = {cert, key, ca, callers, NULL};
	snprintf(message, sizeof(message),
	    "RPC_TLS_KEY: '%s/other.key' is not the private key of RPC_TLS_CERT '%s/good.pem'", d, d);
	refused_exactly(ORDER_SVC_BIN, mismatch, message);

	snprintf(key, sizeof(key), "RPC_TLS_KEY=%s/good.key", d);
	snprintf(ca, sizeof(ca), "RPC_TLS_CA=%s/notpem.txt", d);
	char *not_pem[] = {cert, key, ca, callers, NULL};
	snprintf(message, sizeof(message),
	    "RPC_TLS_CA: '%s/notpem.txt' holds no PEM certificate (-----BEGIN CERTIFICATE-----)", d);
	refused_exactly(USER_SVC_BIN, not_pem, message);
}

/* Files that would pass a handshake's parsing but fail every handshake:
 * a service certificate that does not name the service (its callers check
 * the name), and a leaf where CA certificates belong. */
Test(config_refusals, tls_files_that_would_fail_every_handshake_are_refused, .init = make_tls_files,
    .fini = remove_secret_dir)
{
	char cert[160], key[160], ca[160], callers[160], message[512];
	const char *d = secret_dir;
	snprintf(cert, sizeof(cert), "RPC_TLS_CERT=%s/good.pem", d); /* CN=user-svc, no DNS name */
	snprintf(key, sizeof(key), "RPC_TLS_KEY=%s/good.key", d);
	snprintf(ca, sizeof(ca), "RPC_TLS_CA=%s/ca.pem", d);
	snprintf(callers, sizeof(callers), "RPC_TLS_CALLER_CA=%s/ca.pem", d);
	char *not_named[] = {
	    cert, key, ca, callers, "ORDER_SVC_URL=tls+tcp://127.0.0.1:1", "USER_SVC_URL=tls+tcp://127.0.0.1:2", NULL};
	snprintf(message, sizeof(message),
	    "RPC_TLS_CERT: '%s/good.pem' does not name order-svc (subjectAltName DNS:order-svc): every caller checks "
	    "that name and would refuse it",
	    d);
	refused_exactly(ORDER_SVC_BIN, not_named, message);
	snprintf(callers, sizeof(callers), "RPC_TLS_CALLER_CA=%s/good.pem", d);
	char *leaf_as_ca[] = {cert, key, ca, callers, "USER_SVC_URL=tls+tcp://127.0.0.1:1", NULL};
	snprintf(message, sizeof(message),
	    "RPC_TLS_CALLER_CA: '%s/good.pem' is not a CA's (no basicConstraints CA:TRUE): give the CA certificates",
	    d);
	refused_exactly(USER_SVC_BIN, leaf_as_ca, message);
}

/* TLS configured <=> every RPC URL is tls+tcp://, where a binary listens
 * and every service it dials, each refusal naming the variable. */
Test(config_refusals, tls_and_plain_urls_do_not_mix, .init = make_tls_files, .fini = remove_secret_dir)
{
	char cert[160], key[160], ca[160], callers[160];
	const char *d = secret_dir;
	snprintf(cert, sizeof(cert), "RPC_TLS_CERT=%s/good.pem", d);
	snprintf(key, sizeof(key), "RPC_TLS_KEY=%s/good.key", d);
	snprintf(ca, sizeof(ca), "RPC_TLS_CA=%s/ca.pem", d);
	snprintf(callers, sizeof(callers), "RPC_TLS_CALLER_CA=%s/ca.pem", d);
	static const char plain[] = "is not tls+tcp://: with RPC_TLS_CERT set every RPC connection is mutual TLS "
	                            "(unset RPC_TLS_* to choose plain TCP)";
	char message[512];
	/* The registry's default URLs are plain. */
	char *service_defaults[] = {cert, key, ca, callers, NULL};
	snprintf(message, sizeof(message), "USER_SVC_URL: 'tcp://127.0.0.1:5001' %s", plain);
	refused_exactly(USER_SVC_BIN, service_defaults, message);
	char *gateway_defaults[] = {cert, key, ca, NULL};
	refused_exactly(GATEWAY_BIN, gateway_defaults, message);
	/* order-svc listens with TLS but would dial user-svc in plain. */
	char *order_dials_plain[] = {
	    cert, key, ca, callers, "ORDER_SVC_URL=tls+tcp://127.0.0.1:1", "USER_SVC_URL=ipc:///tmp/u.ipc", NULL};
	snprintf(message, sizeof(message), "USER_SVC_URL: 'ipc:///tmp/u.ipc' %s", plain);
	refused_exactly(ORDER_SVC_BIN, order_dials_plain, message);
	/* One plain element of a list is enough. */
	char *list[] = {cert, key, ca, "USER_SVC_URL=tls+tcp://a:1,tcp://b:2", NULL};
	snprintf(message, sizeof(message), "USER_SVC_URL: 'tcp://b:2' %s", plain);
	refused_exactly(GATEWAY_BIN, list, message);
	/* And tls+tcp:// without the files. */
	char *no_files[] = {"USER_SVC_URL=tls+tcp://127.0.0.1:1", NULL};
	refused_exactly(USER_SVC_BIN, no_files,
	    "USER_SVC_URL: 'tls+tcp://127.0.0.1:1' is tls+tcp:// but RPC_TLS_CERT is not set (TLS needs the RPC_TLS_* "
	    "files)");
}

Test(config_refusals, rpc_call_refuses_tls_files_it_could_not_use, .init = make_tls_files, .fini = remove_secret_dir)
{
	char cert[160], key[160], ca[160], expected[1024];
	snprintf(cert, sizeof(cert), "%s/good.pem", secret_dir);
	snprintf(key, sizeof(key), "%s/other.key", secret_dir);
	snprintf(ca, sizeof(ca), "%s/ca.pem", secret_dir);
	/* run_env passes at most 6 arguments: two files come from variables. */
	char *call[] = {"--key", key, "tcp://127.0.0.1:1", "users.UserService/Health", "{}", NULL};
	char setting_cert[200], setting_ca[200];
	snprintf(setting_cert, sizeof(setting_cert), "RPC_TLS_CERT=%s", cert);
	snprintf(setting_ca, sizeof(setting_ca), "RPC_TLS_CA=%s", ca);
	char *settings[] = {setting_cert, setting_ca, NULL};
	run_result r;
	run_env(RPC_CALL_BIN, settings, call, &r);
	cr_assert_eq(r.status, 1, "status %d: %s", r.status, r.err);
	/* The option named where it gave the path, the variable elsewhere. */
	snprintf(expected, sizeof(expected), "rpc-call: --key: '%s' is not the private key of RPC_TLS_CERT '%s'\n", key,
	    cert);
	cr_assert_str_eq(r.err, expected);
	char *only_cert[] = {"--cert", cert, "tcp://127.0.0.1:1", "users.UserService/Health", "{}", NULL};
	run_env(RPC_CALL_BIN, NULL, only_cert, &r);
	cr_assert_eq(r.status, 1, "status %d: %s", r.status, r.err);
	cr_assert_str_eq(r.err, "rpc-call: --cert, RPC_TLS_KEY and RPC_TLS_CA go together (TLS needs all three): "
	                        "RPC_TLS_KEY and RPC_TLS_CA are not set\n");
}
