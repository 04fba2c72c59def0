/* The URL parsers behind REDIS_URL and AMQP_URL, with the inputs fuzz_config
 * found (tests/fuzz/corpus/fuzz_config/regression-*): what the Redis parser
 * takes as a password is what --help masks, and numbers are strict. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/env.h"
#include "svc/broker.h"
#include "svc/cache.h"
#include "svc/db.h"

static int
parse(const char *url, char *password, char *err)
{
	char host[256];
	int port, db;
	return cache_parse_url(url, host, sizeof(host), &port, &db, password, 256, err, 256);
}

Test(config_urls, a_redis_user_name_without_a_password_is_refused_not_sent_unmasked)
{
	/* fuzz_config: taken as the password, while --help left it showing. */
	char password[256], err[256];
	cr_assert_eq(parse("redis://s3cret@cache:6379/0", password, err), -1);
	cr_assert_str_eq(err, "has a user name but no password: use redis://:password@host");
	/* A user of Redis 6 ACLs was dropped without a word: refused. */
	cr_assert_eq(parse("redis://user:s3cret@cache", password, err), -1);
	cr_assert(strstr(err, "ACL users are not supported") != NULL, "%s", err);
	/* The password is %-decoded, as libpq and librabbitmq decode theirs. */
	cr_assert_eq(parse("redis://:p%40w@cache", password, err), 0, "%s", err);
	cr_assert_str_eq(password, "p@w");
	cr_assert_eq(parse("redis://:p%zzw@cache", password, err), -1);
	cr_assert(strstr(err, "not %XX") != NULL, "%s", err);
}

Test(config_urls, the_redis_password_ends_where_the_mask_says_it_does)
{
	/* fuzz_config: '#' and '?' end the authority for env_mask_url, so a
	 * password running past them was printed; and the first '@' made a
	 * host out of "ss@cache". */
	char password[256], err[256], masked[256];
	cr_assert_eq(parse("redis://:pa#ss@cache", password, err), -1);
	cr_assert_eq(parse("redis://cache?x@y", password, err), -1);
	cr_assert_eq(parse("redis://:p@ss@cache/1", password, err), 0, "%s", err);
	cr_assert_str_eq(password, "p@ss");
	env_mask_url("redis://:p@ss@cache/1", masked, sizeof(masked));
	cr_assert_str_eq(masked, "redis://:***@cache/1");
}

Test(config_urls, redis_numbers_are_digits_only)
{
	const char *bad[] = {"redis://h:+80", "redis://h: 80", "redis://h:-1", "redis://h/+1", "redis://h/ 1",
	    "redis://h:99999999999999999999", "redis://h/16"};
	char password[256], err[256];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(parse(bad[i], password, err), -1, "%s was accepted", bad[i]);
	cr_assert_eq(parse("redis://h:65535/15", password, err), 0, "%s", err);
}

Test(config_urls, errors_never_repeat_the_url)
{
	char password[256], err[256];
	cr_assert_eq(parse("redis://:s3cret@/0", password, err), -1);
	cr_assert_null(strstr(err, "s3cret"), "%s", err);
}

Test(config_urls, an_amqp_url_is_checked_and_kept)
{
	const char *out = NULL;
	char err[256];
	const char *url = "amqp://guest:guest@127.0.0.1:5672/";
	cr_assert_eq(broker_env_parse_url(url, &out, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(out, url);
	cr_assert_eq(broker_env_parse_url("http://x", &out, err, sizeof(err)), -1);
}

/* Issue 23, part 3: USER_DB_URL / ORDER_DB_URL, REDIS_URL and AMQP_URL
 * values that cannot work are refused at start, never waited on. */

static void
conninfo_refused(const char *text, const char *why)
{
	char err[512] = "";
	cr_assert_eq(db_check_conninfo(text, err, sizeof(err)), -1, "'%s' was accepted", text);
	cr_assert_not_null(strstr(err, why), "'%s': %s", text, err);
}

Test(config_urls, libpq_strings_are_parsed_by_libpq_then_checked_for_what_it_reads_on_connect)
{
	const char *good[] = {"postgresql://user_svc:user_svc@127.0.0.1:5432/user_db", "postgres://h/db",
	    "postgresql://", "host=db port=5432 dbname=x user=u password=p", "host=/var/run/postgresql dbname=x",
	    "postgresql://u@[::1]:5432/d", "host=a,b port=5432,5433", "host=a,b port=5432", "host=a,b port=,5433",
	    "postgresql://h/d?sslmode=require&connect_timeout=3", "hostaddr=10.0.0.1 port=5432",
	    "postgresql://u:p@postgres:5432/order_db?target_session_attrs=read-write",
	    /* A primary and its standby (issue 20), as scripts/servers prints them. */
	    "postgresql://user_svc:user_svc@127.0.0.1:23432,127.0.0.1:23433/user_db?target_session_attrs=read-write",
	    "postgresql://u:p@pg-a,pg-b:5433/d?target_session_attrs=primary&connect_timeout=2",
	    "host=pg-a,pg-b port=5432,5433 dbname=d target_session_attrs=read-write"};
	char err[512];
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_assert_eq(db_check_conninfo(good[i], err, sizeof(err)), 0, "%s: %s", good[i], err);
	/* The example: it waited forever on the default socket. */
	/* Neither a URL nor key=value: maybe a password alone, scrubbed from libpq's words. */
	conninfo_refused("notaurl", "is not a libpq URL or connection string: missing \"=\" after \"***\"");
	conninfo_refused("", "is empty");
	conninfo_refused("postgresql://x:y@h:notaport/db", "has port 'notaport', which is not a number in [1, 65535]");
	conninfo_refused("host=x port=99999", "has port '99999'");
	conninfo_refused("host=x port=0", "has port '0'");
	conninfo_refused("host=x port=-1", "has port '-1'");
	conninfo_refused("postgres://h?port=x", "has port 'x'");
	conninfo_refused("host=a,b port=1,2,3", "has 3 ports for 2 hosts");
	conninfo_refused("postgresql://u:s3cret@a:5432,b:99999/d?target_session_attrs=read-write", "has port '99999'");
	conninfo_refused("postgresql://u:s3cret@a:5432,999.1.1.1:5433/d", "not an IPv4 address");
	conninfo_refused(
	    "postgresql://u:s3cret@a,b/d?target_session_attrs=readwrite", "has target_session_attrs 'readwrite'");
	conninfo_refused("host=a port=1,2", "has 2 ports for 1 hosts");
	conninfo_refused("host=999.1.1.1", "host '999.1.1.1', which is not an IPv4 address");
	conninfo_refused("postgresql://u:p@1.2.3/d", "not an IPv4 address");
	conninfo_refused("host=ho_st! dbname=x", "not a host name");
	conninfo_refused("hostaddr=db.example.com", "has hostaddr 'db.example.com', which is not an IP address");
	conninfo_refused("host=a,b hostaddr=1.2.3.4", "has 2 hosts but 1 hostaddr values");
	conninfo_refused("sslmode=bogus", "has sslmode 'bogus', which libpq does not know");
	conninfo_refused("postgresql://h/d?target_session_attrs=x", "has target_session_attrs 'x'");
	conninfo_refused("connect_timeout=soon", "has connect_timeout 'soon'");
	conninfo_refused("postgresql://h/d?bogus=1", "invalid URI query parameter");
	conninfo_refused("redis://h", "is not a libpq URL or connection string");
}

Test(config_urls, libpq_messages_lose_their_passwords)
{
	/* libpq quotes the token it could not decode, or the whole URI. */
	const char *cases[] = {"postgresql://u:p%zzsecret@h/d", "postgresql://u:s3cret@[::1/d",
	    "postgresql://u@h/d?password=s3cret%zz", "postgresql://u:s3cret@h:99999/d"};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[512] = "";
		cr_assert_eq(db_check_conninfo(cases[i], err, sizeof(err)), -1, "%s", cases[i]);
		cr_assert_null(strstr(err, "s3cret"), "%s", err);
		cr_assert_null(strstr(err, "secret"), "%s", err);
	}
	/* And through env_load, the value is masked as --help masks it. */
	const char *url = NULL;
	env_var v       = {.name = "T_DB_URL",
	          .default_value = "postgresql://u:s3cret@h:notaport/db",
	          .kind          = ENV_CUSTOM,
	          .parse         = db_env_parse_conninfo,
	          .out           = &url,
	          .secret_url    = 1};
	char err[512];
	cr_assert_eq(env_load(&v, 1, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "T_DB_URL: 'postgresql://u:***@h:notaport/db' is not a libpq URL or connection string "
	                      "that can work: it has port 'notaport', which is not a number in [1, 65535]");
}

/* An outsider's inputs after the first round: wherever any of the
 * libraries could read a password, the mask and the message hide it. */
Test(config_urls, passwords_are_hidden_wherever_a_library_could_read_one)
{
	static const struct {
		const char *value, *masked;
	} masks[] = {
	    {"postgresql://u:pa?ss@127.0.0.1/db", "postgresql://u:***@127.0.0.1/db"},
	    {"postgresql://u:pa#ss@127.0.0.1/db", "postgresql://u:***@127.0.0.1/db"},
	    {"postgresql://u:pa/ss@127.0.0.1/db", "postgresql://u:***@127.0.0.1/db"},
	    {"postgresql://u:topsecret@part2@127.0.0.1/db", "postgresql://u:***@127.0.0.1/db"},
	    {"host=127.0.0.1 port=0 password = hunter2", "host=127.0.0.1 port=0 password = ***"},
	    {"host=h password='hunter two' dbname=d", "host=h password=*** dbname=d"},
	    {"postgresql://u@h:0/db?pass%77ord=hunter2", "postgresql://u@h:0/db?pass%77ord=***"},
	    {"redis://:hunt?er2@cache:6379/0", "redis://:***@cache:6379/0"},
	    {"amqp://guest:hun?ter@h:5672/", "amqp://guest:***@h:5672/"},
	};
	for (size_t i = 0; i < sizeof(masks) / sizeof(masks[0]); i++) {
		char out[256];
		env_mask_url(masks[i].value, out, sizeof(out));
		cr_assert_str_eq(out, masks[i].masked);
	}
	/* Refused values: the message names neither the password nor a part
	 * of it a parser split off and quoted. */
	static const struct {
		const char *value, *secret;
	} refused[] = {
	    {"postgresql://u:pa/ss@127.0.0.1/db", "pa"},
	    {"postgresql://u:topsecret@part2@127.0.0.1/db", "part2"},
	    {"postgresql://u:topsecret@part2@127.0.0.1/db", "topsecret"},
	    {"host=127.0.0.1 port=0 password = hunter2", "hunter2"},
	    {"host=h port=0 password='hunter two'", "hunter"},
	    {"postgresql://u@h:0/db?pass%77ord=hunter2", "hunter2"},
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		const char *url = NULL;
		env_var v       = {.name = "T_DB_URL",
		          .default_value = refused[i].value,
		          .kind          = ENV_CUSTOM,
		          .parse         = db_env_parse_conninfo,
		          .out           = &url,
		          .secret_url    = 1};
		char err[512];
		cr_assert_eq(env_load(&v, 1, err, sizeof(err)), -1, "%s was accepted", refused[i].value);
		cr_assert_null(strstr(err, refused[i].secret), "%s", err);
	}
}

Test(config_urls, libpq_options_read_only_when_connecting_are_checked_at_start)
{
	conninfo_refused("postgresql://h/d?keepalives=x", "has keepalives 'x', which is not 0 or 1");
	conninfo_refused("postgresql://h/d?tcp_user_timeout=abc", "has tcp_user_timeout 'abc'");
	conninfo_refused("host=h keepalives_idle=-1", "has keepalives_idle '-1'");
	conninfo_refused("host=h keepalives_count=many", "has keepalives_count 'many'");
	conninfo_refused("postgresql://h/d?channel_binding=bogus", "has channel_binding 'bogus'");
	conninfo_refused("host=h ssl_min_protocol_version=SSLv3", "has ssl_min_protocol_version 'SSLv3'");
	conninfo_refused("service=nosuch-service-here", "has service 'nosuch-service-here', which no service file");
	char err[512];
	cr_assert_eq(db_check_conninfo("postgresql://h/d?keepalives=1&keepalives_idle=30&tcp_user_timeout=5000"
	                               "&channel_binding=prefer&ssl_min_protocol_version=TLSv1.2",
	                 err, sizeof(err)),
	    0, "%s", err);
	/* A service a file defines is accepted. */
	char path[] = "/tmp/pg-service-XXXXXX";
	int fd      = mkstemp(path);
	cr_assert(fd >= 0);
	cr_assert_gt(write(fd, "[mydb]\nhost=h\n", 14), 0);
	close(fd);
	setenv("PGSERVICEFILE", path, 1);
	cr_assert_eq(db_check_conninfo("service=mydb", err, sizeof(err)), 0, "%s", err);
	unsetenv("PGSERVICEFILE");
	unlink(path);
}

static void
capture_stderr(void)
{
	cr_redirect_stderr();
}

/* The start-up lines db_log_url wrote (stderr, captured), one per variable. */
static const char *
captured(char *out, size_t len)
{
	fflush(stderr);
	size_t n = fread(out, 1, len - 1, cr_get_redirected_stderr());
	out[n]   = '\0';
	return out;
}

/* The line of out naming "variable=NAME ", copied to text; NULL when none. */
static const char *
line_of(const char *out, const char *name, char *text, size_t len)
{
	char key[64];
	snprintf(key, sizeof(key), "variable=%s ", name);
	const char *line = strstr(out, key);
	if (line == NULL)
		return NULL;
	const char *start = line;
	while (start > out && start[-1] != '\n')
		start--;
	const char *end = strchr(line, '\n');
	snprintf(text, len, "%.*s", (int) (end != NULL ? end - start : (long) strlen(start)), start);
	return text;
}

/* A service file holding section (with its "[name]" line); its path. */
static void
service_file(char path[32], const char *section)
{
	snprintf(path, 32, "/tmp/pg-service-XXXXXX");
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, section, strlen(section)), (ssize_t) strlen(section));
	close(fd);
}

/* Issue 20: every *_DB_URL is connected with target_session_attrs=read-write
 * unless a value was chosen (in the URL, its service, or
 * PGTARGETSESSIONATTRS), whatever the number of hosts and wherever they
 * come from; one that accepts a server without writes is warned about; the
 * start-up line names the variable and where the value came from. Each
 * case is logged under a variable of its own (Vn). */
Test(config_urls, a_database_url_says_at_start_what_its_connects_take, .init = capture_stderr)
{
	static const struct {
		const char *url;
		const char *event;
		const char *detail;
	} cases[] = {
	    {"postgresql://u@a:5432,b:5432/d", "db_url_session_attrs_added", "hosts=2 target_session_attrs=read-write"},
	    {"host=a,b,c dbname=d", "db_url_session_attrs_added", "hosts=3 target_session_attrs=read-write"},
	    {"hostaddr=10.0.0.1,10.0.0.2 dbname=d", "db_url_session_attrs_added", "hosts=2"},
	    {"postgresql://u@a,b/d?target_session_attrs=any", "db_url_accepts_read_only_servers",
	        "target_session_attrs=any from=V3 reason=\"a connect may take a standby"},
	    {"postgresql://u@a,b/d?target_session_attrs=read-only", "db_url_accepts_read_only_servers",
	        "target_session_attrs=read-only"},
	    {"postgresql://u@a,b/d?target_session_attrs=standby", "db_url_accepts_read_only_servers", "standby"},
	    {"postgresql://u@a,b/d?target_session_attrs=prefer-standby", "db_url_accepts_read_only_servers",
	        "prefer-standby"},
	    {"postgresql://u@a,b/d?target_session_attrs=read-write", "db_url_session_attrs ",
	        "hosts=2 target_session_attrs=read-write from=V7"},
	    {"postgresql://u@a,b/d?target_session_attrs=primary", "db_url_session_attrs ", "primary from=V8"},
	    /* One host too: a standby behind it is refused at connect. */
	    {"postgresql://u@a:5432/d", "db_url_session_attrs_added", "hosts=1 target_session_attrs=read-write"},
	    {"postgresql://u@a/d?target_session_attrs=any", "db_url_accepts_read_only_servers", "hosts=1"},
	    {"postgresql://u:s3cret@a,b/d", "db_url_session_attrs_added", "hosts=2"},
	    {"dbname=d", "db_url_session_attrs_added", "hosts=1 target_session_attrs=read-write"},
	};
	size_t n = sizeof(cases) / sizeof(cases[0]);
	char name[16];
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "V%zu", i);
		db_log_url(name, cases[i].url);
	}
	static char out[16384];
	captured(out, sizeof(out));
	for (size_t i = 0; i < n; i++) {
		char text[1024];
		snprintf(name, sizeof(name), "V%zu", i);
		cr_assert_not_null(line_of(out, name, text, sizeof(text)), "%s: no line in %s", cases[i].url, out);
		cr_assert_not_null(strstr(text, cases[i].event), "%s: %s", cases[i].url, text);
		cr_assert_not_null(strstr(text, cases[i].detail), "%s: %s", cases[i].url, text);
		cr_assert_null(strstr(text, "s3cret"), "%s", text);
	}
}

/* The attack's cases: the hosts given another way than the URL (PGHOST, a
 * service file) got libpq's default any; and the value from
 * PGTARGETSESSIONATTRS or a service file is the one libpq takes (a service
 * file's before the environment's, the URL's before both). */
Test(config_urls, hosts_and_session_attrs_from_the_environment_or_a_service_file_are_seen, .init = capture_stderr)
{
	setenv("PGHOST", "127.0.0.1,127.0.0.1", 1);
	setenv("PGPORT", "5432,5433", 1);
	db_log_url("PGHOST_LIST", "postgresql://user_svc:user_svc@/user_db");
	unsetenv("PGHOST");
	unsetenv("PGPORT");
	char path[32];
	service_file(path,
	    "# users\n[atkusers]\nhost=a,b\nport=5432,5433\ndbname=user_db\n\n"
	    "[anyusers]\nhost=a,b\ntarget_session_attrs=any\n[rwusers]\nhost=a,b\ntarget_session_attrs=read-write\n");
	setenv("PGSERVICEFILE", path, 1);
	db_log_url("SERVICE_HOSTS", "service=atkusers");
	db_log_url("SERVICE_ANY", "service=anyusers");
	setenv("PGTARGETSESSIONATTRS", "any", 1);
	db_log_url("SERVICE_OVER_ENV", "service=rwusers");
	db_log_url("URL_OVER_SERVICE", "service=anyusers target_session_attrs=primary");
	db_log_url("ENV_ANY", "postgresql://u@a,b/d");
	setenv("PGTARGETSESSIONATTRS", "read-write", 1);
	db_log_url("ENV_RW", "postgresql://u@a/d");
	unsetenv("PGTARGETSESSIONATTRS");
	setenv("PGSERVICE", "atkusers", 1);
	db_log_url("PGSERVICE_HOSTS", "dbname=user_db");
	unsetenv("PGSERVICE");
	unsetenv("PGSERVICEFILE");
	unlink(path);
	static const struct {
		const char *name, *event, *detail;
	} want[] = {
	    {"PGHOST_LIST", "db_url_session_attrs_added", "hosts=2 target_session_attrs=read-write"},
	    {"SERVICE_HOSTS", "db_url_session_attrs_added", "hosts=2 target_session_attrs=read-write"},
	    {"SERVICE_ANY", "db_url_accepts_read_only_servers",
	        "hosts=2 target_session_attrs=any from=service anyusers"},
	    {"SERVICE_OVER_ENV", "db_url_session_attrs ", "target_session_attrs=read-write from=service rwusers"},
	    {"URL_OVER_SERVICE", "db_url_session_attrs ", "target_session_attrs=primary from=URL_OVER_SERVICE"},
	    {"ENV_ANY", "db_url_accepts_read_only_servers", "target_session_attrs=any from=PGTARGETSESSIONATTRS"},
	    {"ENV_RW", "db_url_session_attrs ", "hosts=1 target_session_attrs=read-write from=PGTARGETSESSIONATTRS"},
	    {"PGSERVICE_HOSTS", "db_url_session_attrs_added", "hosts=2"},
	};
	static char out[16384];
	captured(out, sizeof(out));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char text[1024];
		cr_assert_not_null(
		    line_of(out, want[i].name, text, sizeof(text)), "%s: no line in %s", want[i].name, out);
		cr_assert_not_null(strstr(text, want[i].event), "%s: %s", want[i].name, text);
		cr_assert_not_null(strstr(text, want[i].detail), "%s: %s", want[i].name, text);
	}
}

static void
environment_refused(const char *url, const char *head, const char *why)
{
	char err[512] = "";
	cr_assert_eq(db_check_environment("T_DB_URL", url, err, sizeof(err)), -1, "%s was accepted", head);
	cr_assert_not_null(strstr(err, head), "%s", err);
	cr_assert_not_null(strstr(err, why), "%s", err);
}

/* Issue 20's second fault: PGTARGETSESSIONATTRS=readwrite was taken, and
 * every connect then failed with libpq's "invalid target_session_attrs
 * value", the service waiting forever without naming the variable. Every
 * PG* variable libpq fills in from, and a service file's values, are
 * checked with the URL's rules, naming where the bad value is. */
Test(config_urls, pg_environment_variables_that_would_fail_every_connect_are_refused_naming_them)
{
	static const struct {
		const char *var, *value, *why;
	} cases[] = {
	    {"PGTARGETSESSIONATTRS", "readwrite",
	        "has target_session_attrs 'readwrite', which libpq does not know (any, read-write, read-only, primary, "
	        "standby, prefer-standby)"},
	    {"PGTARGETSESSIONATTRS", "Read-Write", "has target_session_attrs 'Read-Write'"},
	    {"PGSSLMODE", "on", "has sslmode 'on', which libpq does not know (disable, allow, prefer"},
	    {"PGGSSENCMODE", "yes", "has gssencmode 'yes'"},
	    {"PGCONNECT_TIMEOUT", "2s", "has connect_timeout '2s', which is not a number of seconds"},
	    {"PGCHANNELBINDING", "bogus", "has channel_binding 'bogus'"},
	    {"PGSSLMINPROTOCOLVERSION", "SSLv3", "has ssl_min_protocol_version 'SSLv3'"},
	    {"PGPORT", "5432,5433,5434", "has 3 ports for 2 hosts"},
	    {"PGPORT", "99999", "has port '99999'"},
	    {"PGHOSTADDR", "not-an-ip", "has hostaddr 'not-an-ip', which is not an IP address"},
	    {"PGSERVICE", "nosuch-service-here", "has service 'nosuch-service-here', which no service file defines"},
	};
	char err[512], head[128];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setenv(cases[i].var, cases[i].value, 1);
		snprintf(head, sizeof(head), "%s: '%s' cannot work: libpq would connect with it for T_DB_URL",
		    cases[i].var, cases[i].value);
		/* Key=value: a multi-host URI gives each host its port (","),
		 * and libpq then reads no PGPORT. */
		environment_refused("host=a,b dbname=d", head, cases[i].why);
		unsetenv(cases[i].var);
	}
	/* The URL's own value is what libpq uses: the variable is not read. */
	setenv("PGTARGETSESSIONATTRS", "readwrite", 1);
	cr_assert_eq(db_check_environment("T_DB_URL", "postgresql://u@a/d?target_session_attrs=any", err, sizeof(err)),
	    0, "%s", err);
	unsetenv("PGTARGETSESSIONATTRS");
	/* Good values pass. */
	setenv("PGTARGETSESSIONATTRS", "prefer-standby", 1);
	setenv("PGSSLMODE", "verify-full", 1);
	setenv("PGCONNECT_TIMEOUT", "10", 1);
	setenv("PGHOST", "a,b", 1);
	setenv("PGPORT", "5432,5433", 1);
	cr_assert_eq(db_check_environment("T_DB_URL", "postgresql://u@/d", err, sizeof(err)), 0, "%s", err);
	unsetenv("PGTARGETSESSIONATTRS");
	unsetenv("PGSSLMODE");
	unsetenv("PGCONNECT_TIMEOUT");
	unsetenv("PGHOST");
	unsetenv("PGPORT");
	/* A service file's bad value: named with the service, before the
	 * environment's (libpq reads the file first). */
	char path[32];
	service_file(path, "[badattrs]\nhost=a,b\ntarget_session_attrs=readwrite\n");
	setenv("PGSERVICEFILE", path, 1);
	setenv("PGTARGETSESSIONATTRS", "read-write", 1);
	environment_refused("service=badattrs", "T_DB_URL: its service 'badattrs' cannot work",
	    "has target_session_attrs 'readwrite', which libpq does not know");
	unsetenv("PGTARGETSESSIONATTRS");
	unsetenv("PGSERVICEFILE");
	unlink(path);
}

Test(config_urls, redis_hosts_and_ports_are_checked)
{
	char password[256], err[256];
	cr_assert_eq(parse("redis://host:0", password, err), -1);
	cr_assert_str_eq(err, "has a bad port (1-65535)");
	cr_assert_eq(parse("redis://999.1.1.1:6379", password, err), -1);
	cr_assert_str_eq(err, "has host '999.1.1.1', which is not an IPv4 address (four numbers 0-255 without leading "
	                      "zeros)");
	cr_assert_eq(parse("redis://1.2.3", password, err), -1);
	cr_assert_eq(parse("redis://ho st", password, err), -1);
	cr_assert_eq(parse("redis://redis:6379/0", password, err), 0, "%s", err);
	const char *out = NULL;
	char msg[512];
	env_var v = {.name = "T_REDIS_URL",
	    .default_value = "redis://:s3cret@h:0",
	    .kind          = ENV_CUSTOM,
	    .parse         = cache_env_parse_url,
	    .out           = &out,
	    .secret_url    = 1};
	cr_assert_eq(env_load(&v, 1, msg, sizeof(msg)), -1);
	cr_assert_str_eq(msg, "T_REDIS_URL: 'redis://:***@h:0' is not a Redis URL: it has a bad port (1-65535)");
}

static void
amqp_refused(const char *url, const char *why)
{
	char err[256] = "";
	cr_assert_eq(broker_check_url(url, err, sizeof(err)), -1, "%s was accepted", url);
	cr_assert_not_null(strstr(err, why), "%s: %s", url, err);
	cr_assert_null(strstr(err, "s3cret"), "%s", err);
}

Test(config_urls, amqp_urls_that_cannot_work_are_refused)
{
	amqp_refused("amqp://g:s3cret@h:99999/", "librabbitmq cannot parse it");
	amqp_refused("amqp://g:s3cret@h:0/", "has port 0, out of range [1, 65535]");
	amqp_refused("amqps://g:s3cret@h/", "amqps (TLS) is not supported");
	amqp_refused("amqp://g:s3cret@999.1.1.1/", "has host '999.1.1.1', which is not an IPv4 address");
	amqp_refused("amqp://g:s3cret@ho st/", "not a host name");
	amqp_refused("http://x", "librabbitmq cannot parse it");
	amqp_refused("amqp://guest:guest@127.0.0.1: 5672/", "port must be digits");
	amqp_refused("amqp://guest:guest@127.0.0.1:+5672/", "port must be digits");
	char err[256];
	const char *good[] = {"amqp://guest:guest@127.0.0.1:5672/", "amqp://rabbitmq", "amqp://u:p@[::1]:5672/v"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_assert_eq(broker_check_url(good[i], err, sizeof(err)), 0, "%s: %s", good[i], err);
}

/* Issue 20: AMQP_URL as a list of one cluster's brokers. Each kind of bad
 * element, at each position, is named by its position. */
static void
amqp_list_refused(const char *list, const char *why)
{
	char err[512] = "";
	cr_assert_eq(broker_check_urls(list, err, sizeof(err)), -1, "%s was accepted", list);
	cr_assert_not_null(strstr(err, why), "%s: %s", list, err);
	cr_assert_null(strstr(err, "s3cret"), "%s", err);
}

Test(config_urls, amqp_lists_name_the_element_that_cannot_work)
{
	const char *good = "amqp://g:s3cret@h1:5672/";
	const struct {
		const char *url, *why;
	} bad[] = {
	    {"amqp://g:s3cret@h:99999/", "librabbitmq cannot parse it"},
	    {"amqp://g:s3cret@h:0/", "has port 0, out of range [1, 65535]"},
	    {"amqps://g:s3cret@h/", "amqps (TLS) is not supported"},
	    {"amqp://g:s3cret@999.1.1.1/", "which is not an IPv4 address"},
	    {"amqp://g:s3cret@127.0.0.1:+5672/", "port must be digits"},
	    {" amqp://g:s3cret@h2/", "librabbitmq cannot parse it"}, /* no spaces around commas */
	    {"", "is empty (two commas together, or one at an end)"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char list[512], why[256];
		for (int at = 1; at <= 3; at++) {
			snprintf(list, sizeof(list), "%s,%s,%s", at == 1 ? bad[i].url : good,
			    at == 2 ? bad[i].url : good, at == 3 ? bad[i].url : good);
			char err[512] = "";
			cr_assert_eq(broker_check_urls(list, err, sizeof(err)), -1, "%s was accepted", list);
			cr_assert_not_null(strstr(err, bad[i].why), "%s: %s", list, err);
			snprintf(why, sizeof(why), "element %d of 3 ", at);
			cr_assert_eq(
			    strncmp(err, why, strlen(why)), 0, "%s: '%s' does not name element %d", list, err, at);
			cr_assert_null(strstr(err, "s3cret"), "%s", err);
		}
	}
	amqp_list_refused("amqp://h1/,", "element 2 of 2 is empty");
	amqp_list_refused(",amqp://h1/", "element 1 of 2 is empty");
	amqp_list_refused(",", "element 1 of 2 is empty");
	amqp_list_refused("amqp://a/,amqp://b/,amqp://c/,amqp://d/,amqp://e/,amqp://f/,amqp://g/,amqp://h/,amqp://i/,"
	                  "amqp://j/,amqp://k/,amqp://l/,amqp://m/,amqp://n/,amqp://o/,amqp://p/,amqp://q/",
	    "lists 17 URLs, more than 16");
	/* One URL keeps its own words: no "element 1 of 1". */
	char err[512];
	cr_assert_eq(broker_check_urls("amqp://g:s3cret@h:0/", err, sizeof(err)), -1);
	cr_assert_str_eq(err, "is not an AMQP URL to use: it has port 0, out of range [1, 65535]");
	cr_assert_eq(broker_check_urls("", err, sizeof(err)), -1);
	cr_assert_str_eq(err, "is empty (two commas together, or one at an end)");

	const char *lists[] = {"amqp://guest:guest@127.0.0.1:5672/,amqp://guest:guest@127.0.0.1:5673/",
	    "amqp://u:p@rabbit-0:5672/v,amqp://u:p@rabbit-1:5672/v,amqp://u:p@[::1]:5672/v",
	    "amqp://u:p%2Cq@h1/,amqp://u:p%2Cq@h2/", /* a comma in a password is %2C */
	    ("amqp://a/,amqp://b/,amqp://c/,amqp://d/,amqp://e/,amqp://f/,amqp://g/,amqp://h/,amqp://i/,"
	     "amqp://j/,amqp://k/,amqp://l/,amqp://m/,amqp://n/,amqp://o/,amqp://p/")};
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		cr_assert_eq(broker_check_urls(lists[i], err, sizeof(err)), 0, "%s: %s", lists[i], err);

	/* Through env_load, as the services read AMQP_URL: neither password
	 * shows, and the element is named. */
	const char *out = NULL;
	char msg[1024];
	env_var v = {.name = "T_AMQP_URL",
	    .default_value = "amqp://g:s3cret@h1/,amqp://g:s3cret@h2:0/",
	    .kind          = ENV_CUSTOM,
	    .parse         = broker_env_parse_url,
	    .out           = &out,
	    .secret_url    = 1};
	cr_assert_eq(env_load(&v, 1, msg, sizeof(msg)), -1);
	cr_assert_null(strstr(msg, "s3cret"), "%s", msg);
	cr_assert_not_null(strstr(msg, "element 2 of 2 is not an AMQP URL to use: it has port 0"), "%s", msg);
	/* Each element's password masked on its own: the element complained
	 * of is there to see. */
	cr_assert_str_eq(msg, "T_AMQP_URL: 'amqp://g:***@h1/,amqp://g:***@h2:0/' element 2 of 2 is not an AMQP URL "
	                      "to use: it has port 0, out of range [1, 65535]");
	v.default_value = "amqp://g:s3cret@h1/,amqp://g:s3cret@h2/";
	cr_assert_eq(env_load(&v, 1, msg, sizeof(msg)), 0, "%s", msg);
	cr_assert_str_eq(out, v.default_value);
}

/* A broker named twice in AMQP_URL is refused, both positions named: never
 * meant (a node tried twice per pass, a silent one costing 3 s twice; often
 * a copied element whose port was not changed). The same host and port,
 * however written: other credentials or vhost, the default port spelled
 * out or not, the host's case. */
Test(config_urls, an_amqp_list_naming_a_broker_twice_is_refused_with_both_positions)
{
	const struct {
		const char *list, *why;
	} cases[] = {
	    {"amqp://g:s3cret@h1:5672/,amqp://g:s3cret@h1:5672/",
	        "element 2 of 2 names the same broker (h1:5672) as element 1"},
	    {"amqp://g:s3cret@h1:5672/,amqp://g:s3cret@h2:5672/,amqp://g:s3cret@h1:5672/",
	        "element 3 of 3 names the same broker (h1:5672) as element 1"},
	    {"amqp://g:s3cret@h0/,amqp://g:s3cret@h1/,amqp://u:other@H1:5672/v",
	        "element 3 of 3 names the same broker (h1:5672) as element 2"},
	    {"amqp://g:s3cret@[::1]:5673/,amqp://g:s3cret@[::1]:5673/x", "([::1]:5673) as element 1"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		amqp_list_refused(cases[i].list, cases[i].why);
	char err[512];
	cr_assert_eq(broker_check_urls("amqp://g:s3cret@h1:5672/,amqp://g:s3cret@h1:5672/", err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "list each node once"), "%s", err);
	/* Another port of the same host is another broker (scripts/servers' nodes). */
	cr_assert_eq(
	    broker_check_urls("amqp://g:p@127.0.0.1:5672/,amqp://g:p@127.0.0.1:5673/", err, sizeof(err)), 0, "%s", err);
}

/* Issue 20: a ',' in a password splits the list; the message says that it
 * looks so, hints %2C, and shows no part of the password. */
Test(config_urls, a_comma_in_an_amqp_password_is_named_with_its_percent_encoding)
{
	static const struct {
		const char *value, *shown;
	} cases[] = {
	    /* the head "amqp://g:s3" fails to parse (port "s3") */
	    {"amqp://g:s3,cret@h1:5672/", "'amqp://g:***@h1:5672/' element 1 of 2 is not an amqp://"},
	    /* the head parses (host g, port 123), the tail has no scheme */
	    {"amqp://g:123,s3cret@h1/", "'amqp://g:***@h1/' element 2 of 2 is not an amqp://"},
	    {"amqp://g:x9y@h0/,amqp://g:s3,cret@h1/,amqp://g:x9y@h2/", "element 2 of 4 is not an amqp://"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *out = NULL;
		char msg[1024];
		env_var v = {.name = "T_AMQP_URL",
		    .default_value = cases[i].value,
		    .kind          = ENV_CUSTOM,
		    .parse         = broker_env_parse_url,
		    .out           = &out,
		    .secret_url    = 1};
		cr_assert_eq(env_load(&v, 1, msg, sizeof(msg)), -1, "%s was accepted", cases[i].value);
		cr_assert_not_null(strstr(msg, cases[i].shown), "%s", msg);
		cr_assert_not_null(strstr(msg, "looks like a password cut at a comma"), "%s", msg);
		cr_assert_not_null(strstr(msg, "%2C"), "%s", msg);
		cr_assert_null(strstr(msg, "s3"), "%s", msg);
		cr_assert_null(strstr(msg, "cret"), "%s", msg);
	}
	/* Not said of an element that is bad otherwise. */
	char err[512];
	cr_assert_eq(broker_check_urls("amqp://g:p@h1/,amqp://g:p@h2:0/", err, sizeof(err)), -1);
	cr_assert_null(strstr(err, "%2C"), "%s", err);
	cr_assert_eq(broker_check_urls("amqp://h1:5672,amqp://g:p@h2/,amqps://h3/", err, sizeof(err)), -1);
	cr_assert_null(strstr(err, "%2C"), "%s", err);
}

/* Issue 20's outsider attack through env_load: REDIS_URL with an IPv6
 * host, a scheme in capitals, and a password before each sentinel. The
 * value shown is masked as the parser reads it (each sentinel kept), and
 * no password is shown. */
Test(config_urls, redis_url_ipv6_case_and_sentinel_masks)
{
	unsetenv("REDIS_URL");
	unsetenv("REDIS_URL_FILE");
	static const struct {
		const char *value, *msg;
	} cases[] = {
	    {"redis://[::1]:6379/0", NULL},
	    {"REDIS://:s3cret@[::1]/0", NULL},
	    {"redis-sentinel://[::1]:26379,h2#m", NULL},
	    {"REDIS-SENTINEL://:s3cret@h1,h2#m", NULL},
	    {"redis://:s3cret@[::1]:0/0", "REDIS_URL: 'redis://:***@[::1]:0/0' is not a Redis URL: it has a bad port "
	                                  "(1-65535)"},
	    {"redis://:s3cret@::1/0", "REDIS_URL: 'redis://:***@::1/0' is not a Redis URL: it has an IPv6 address "
	                              "without brackets: write it redis://[::1]:port"},
	    {"redis-sentinel://:s3cret@h1,:s3cret@h2#m",
	        "REDIS_URL: 'redis-sentinel://:***@h1,:***@h2#m' is not a Redis Sentinel URL "
	        "(redis-sentinel://[:password@]host:port,...[/db]#master): it has user information (...@) in sentinel "
	        "2 (the one at 'h2'): only the first sentinel may follow :password@ (one password, the master's), and "
	        "an @ or a comma in a password is written %40, %2C"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *out = NULL;
		env_var v       = {.name = "REDIS_URL",
		          .default_value = cases[i].value,
		          .kind          = ENV_CUSTOM,
		          .parse         = cache_env_parse_url,
		          .out           = &out,
		          .secret_url    = 1};
		char msg[512];
		int rc = env_load(&v, 1, msg, sizeof(msg));
		if (cases[i].msg == NULL) {
			cr_assert_eq(rc, 0, "%s: %s", cases[i].value, msg);
			continue;
		}
		cr_assert_eq(rc, -1, "%s was accepted", cases[i].value);
		cr_assert_str_eq(msg, cases[i].msg);
	}
}
