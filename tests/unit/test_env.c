/* Strict configuration from the environment. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/env.h"

static const char *url;
static long workers;
static int format;
static env_port_list ports;
static const char *const formats[] = {"text", "json", NULL};

static const env_var vars[] = {
    {.name             = "T_URL",
        .default_value = "postgresql://svc:secret@127.0.0.1/db",
        .help          = "database",
        .kind          = ENV_STRING,
        .out           = &url,
        .secret_url    = 1},
    {.name             = "T_WORKERS",
        .default_value = "4",
        .help          = "threads",
        .kind          = ENV_INT,
        .out           = &workers,
        .min           = 1,
        .max           = 64},
    {.name             = "T_FORMAT",
        .default_value = "text",
        .help          = "log format",
        .kind          = ENV_CHOICE,
        .out           = &format,
        .choices       = formats},
    {.name             = "T_PORTS",
        .default_value = "3000,3001,3002",
        .help          = "ports",
        .kind          = ENV_CUSTOM,
        .out           = &ports,
        .parse         = env_parse_port_list},
};
#define N (sizeof(vars) / sizeof(vars[0]))

Test(env, defaults_apply_when_nothing_is_set)
{
	char err[256];
	cr_assert_eq(env_load(vars, N, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(workers, 4);
	cr_assert_eq(format, 0);
	cr_assert_eq(ports.n, 3);
	cr_assert_eq(ports.ports[2], 3002);
}

Test(env, values_come_from_the_environment)
{
	setenv("T_WORKERS", "16", 1);
	setenv("T_FORMAT", "json", 1);
	setenv("T_PORTS", "8080", 1);
	char err[256];
	cr_assert_eq(env_load(vars, N, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(workers, 16);
	cr_assert_eq(format, 1);
	cr_assert_eq(ports.n, 1);
	cr_assert_eq(ports.ports[0], 8080);
}

struct bad_case {
	const char *name, *value, *error;
};

static void
assert_rejected(const char *name, const char *value, const char *error)
{
	setenv(name, value, 1);
	char err[256];
	cr_assert_eq(env_load(vars, N, err, sizeof(err)), -1, "%s=%s was accepted", name, value);
	cr_assert_str_eq(err, error);
}

Test(env, bad_values_are_refused_naming_the_variable)
{
	assert_rejected("T_WORKERS", "0", "T_WORKERS: 0 is out of range [1, 64]");
	assert_rejected("T_WORKERS", "4x", "T_WORKERS: '4x' is not an integer");
	assert_rejected("T_WORKERS", "", "T_WORKERS: '' is not an integer");
	assert_rejected("T_WORKERS", " 4", "T_WORKERS: ' 4' is not an integer");
	assert_rejected("T_WORKERS", "+4", "T_WORKERS: '+4' is not an integer");
	assert_rejected("T_WORKERS", "99999999999999999999", "T_WORKERS: '99999999999999999999' is not an integer");
	setenv("T_WORKERS", "2", 1);
	assert_rejected("T_FORMAT", "xml", "T_FORMAT: 'xml' is not one of text, json");
	setenv("T_FORMAT", "text", 1);
	assert_rejected("T_PORTS", "3000,,3001", "T_PORTS: '3000,,3001' is not a comma-separated list of ports");
	assert_rejected(
	    "T_PORTS", "3000,70000", "T_PORTS: '3000,70000' is not a list of ports: 70000 is out of range [1, 65535]");
	assert_rejected("T_PORTS", "3000,3000", "T_PORTS: '3000,3000' is not a list of ports: 3000 is listed twice");
	assert_rejected("T_PORTS", "3000,x", "T_PORTS: '3000,x' is not a list of ports: 'x' is not an integer");
	assert_rejected(
	    "T_PORTS", "1,2,3,4,5,6,7,8,9", "T_PORTS: '1,2,3,4,5,6,7,8,9' is not a list of ports: it has more than 8");
	setenv("T_PORTS", "3000", 1);
	assert_rejected("T_URL", "", "T_URL: must not be empty");
}

Test(env, passwords_are_masked)
{
	char out[128];
	env_mask_url("amqp://guest:guest@127.0.0.1:5672/", out, sizeof(out));
	cr_assert_str_eq(out, "amqp://guest:***@127.0.0.1:5672/");
	env_mask_url("redis://127.0.0.1:6379/0", out, sizeof(out));
	cr_assert_str_eq(out, "redis://127.0.0.1:6379/0");
	env_mask_url("postgresql://user@host/db", out, sizeof(out));
	cr_assert_str_eq(out, "postgresql://user@host/db");
	env_mask_url("amqp://u:p@ss@h:5672/", out, sizeof(out));
	cr_assert_str_eq(out, "amqp://u:***@h:5672/");
	env_mask_url("hunter2", out, sizeof(out)); /* a password alone: no shape to find it by */
	cr_assert_str_eq(out, "***");
	env_mask_url("u:hunter2@h/db", out, sizeof(out)); /* no scheme: the same */
	cr_assert_str_eq(out, "***");
	env_mask_url("host=db user=u password=s3cret dbname=x", out, sizeof(out));
	cr_assert_str_eq(out, "host=db user=u password=*** dbname=x");
	env_mask_url("postgresql://u@h/d?sslmode=off&password=s3cret", out, sizeof(out));
	cr_assert_str_eq(out, "postgresql://u@h/d?sslmode=off&password=***");
	/* libpq skips any isspace() byte around '=' (fuzz_config: a \v among
	 * tabs left the password shown). */
	env_mask_url("host=db password\f=\v\ts3cret dbname=x", out, sizeof(out));
	cr_assert_str_eq(out, "host=db password\f=\v\t*** dbname=x");
	env_mask_url("host=db password=\r\ns3cret", out, sizeof(out));
	cr_assert_str_eq(out, "host=db password=\r\n***");
}

/* Issue 20: a list of URLs (AMQP_URL) is masked element by element, so a
 * message about one element shows which it is; a list of hosts in one URL
 * (a Sentinel or libpq list) keeps its one password masked; a password
 * holding ',' or ",amqp://" stays hidden. */
Test(env, a_list_of_urls_is_masked_element_by_element)
{
	static const struct {
		const char *value, *masked;
	} cases[] = {
	    {"amqp://u:p1@h1:5672/,amqp://u:p2@h2:5672/", "amqp://u:***@h1:5672/,amqp://u:***@h2:5672/"},
	    {"amqp://u:p1@h1/,amqp://u:p2@h2:0/,amqp://u:p3@h3/",
	        "amqp://u:***@h1/,amqp://u:***@h2:0/,amqp://u:***@h3/"},
	    {"amqp://guest@h1/,amqp://u:p@h2/", "amqp://guest@h1/,amqp://u:***@h2/"},
	    {"amqp://u:p@ss@h1/,amqp://u:q@h2/", "amqp://u:***@h1/,amqp://u:***@h2/"},
	    {"amqp://u:p%2Cq@h1/,amqp://u:p%2Cq@h2/", "amqp://u:***@h1/,amqp://u:***@h2/"},
	    /* A password with a raw ',': one URL as far as the mask goes. */
	    {"amqp://u:pa,ss@h1/,amqp://u:q@h2/", "amqp://u:***@h1/,amqp://u:***@h2/"},
	    /* An element left open by a ':' with no '@' is read with the next:
	     * more is masked, never less. */
	    {"amqp://u:x,amqp://y@h/", "amqp://u:***@h/"},
	    {"amqp://h1:5672/,amqp://u:p@h2/", "amqp://h1:***@h2/"},
	    {"redis-sentinel://:pw@h1:26379,h2:26380/0#master", "redis-sentinel://:***@h1:26379,h2:26380/0#master"},
	    {"redis-sentinel://:p@ss,w@h1,h2/1#m", "redis-sentinel://:***@h1,h2/1#m"},
	    /* The Sentinel parser's reading (issue 20's outsider attack: sentinel 1
	     * vanished): a password ends at its sentinel's '@', the others stay
	     * shown, an '@' in a later sentinel is masked as its own. */
	    {"redis-sentinel://:pw@h1,:pw@h2#m", "redis-sentinel://:***@h1,:***@h2#m"},
	    {"REDIS-SENTINEL://:pw@h1,h2#m", "REDIS-SENTINEL://:***@h1,h2#m"},
	    {"redis-sentinel://h1:26379,:pw@h2:26380#m", "redis-sentinel://h1:26379,:***@h2:26380#m"},
	    {"redis-sentinel://:pw@[::1]:26379,[::2]#m", "redis-sentinel://:***@[::1]:26379,[::2]#m"},
	    {"redis-sentinel://[::1]:26379,:pw@h2#m", "redis-sentinel://[::1]:26379,:***@h2#m"},
	    /* A raw ',' or '@' in the password: all of it masked. */
	    {"redis-sentinel://:p,w@h1,h2#m", "redis-sentinel://:***@h1,h2#m"},
	    {"redis-sentinel://:p@ss@h1,h2#m", "redis-sentinel://:***@h1,h2#m"},
	    {"redis-sentinel://:s3#cret@h1,h2#m", "redis-sentinel://:***@h1,h2#m"},
	    {"postgresql://u:pw@h1:5432,h2:5432/db?target_session_attrs=read-write",
	        "postgresql://u:***@h1:5432,h2:5432/db?target_session_attrs=read-write"},
	    {"tcp://127.0.0.1:5001,tcp://127.0.0.1:5002", "tcp://127.0.0.1:5001,tcp://127.0.0.1:5002"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[256];
		env_mask_url(cases[i].value, out, sizeof(out));
		cr_assert_str_eq(out, cases[i].masked, "%s", cases[i].value);
	}
	/* The longest list AMQP_URL takes (16), every element masked. */
	char list[2048] = "", want[2048] = "", out[2048];
	for (int i = 0; i < 16; i++) {
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%samqp://u:s3cret%d@h%d/", i > 0 ? "," : "",
		    i, i);
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "%samqp://u:***@h%d/", i > 0 ? "," : "", i);
	}
	env_mask_url(list, out, sizeof(out));
	cr_assert_str_eq(out, want);
	/* More spans than a caller's room: the last runs to the end. */
	env_span spans[4];
	cr_assert_eq(env_secret_spans(list, spans, 4), 4);
	cr_assert_eq(spans[3].at + spans[3].len, strlen(list));
}

Test(env, help_lists_every_variable_with_default_and_masked_current_value, .init = cr_redirect_stdout)
{
	setenv("T_URL", "postgresql://svc:hunter2@db/x", 1);
	char *argv[] = {"prog", "--help", NULL};
	cr_assert_eq(env_cli(2, argv, "Test program.", vars, N), ENV_EXIT_OK);
	fflush(stdout);
	cr_assert_stdout_eq_str("Usage: prog [--help]\n\nTest program.\n\nConfiguration (environment variables):\n"
	                        "  T_URL            database\n"
	                        "                     default: postgresql://svc:***@127.0.0.1/db\n"
	                        "                     current: postgresql://svc:***@db/x\n"
	                        "  T_URL_FILE       file holding T_URL's value instead (Docker/Kubernetes secrets); "
	                        "one trailing newline is removed\n"
	                        "                     current: (unset)\n"
	                        "  T_WORKERS        threads\n"
	                        "                     default: 4\n"
	                        "                     current: 4\n"
	                        "  T_FORMAT         log format\n"
	                        "                     default: text\n"
	                        "                     current: text\n"
	                        "  T_PORTS          ports\n"
	                        "                     default: 3000,3001,3002\n"
	                        "                     current: 3000,3001,3002\n");
}

Test(env, unknown_arguments_and_bad_values_stop_startup, .init = cr_redirect_stderr)
{
	char *argv[] = {"prog", "--port=3", NULL};
	cr_assert_eq(env_cli(2, argv, "x", vars, N), ENV_EXIT_USAGE);
	setenv("T_WORKERS", "-1", 1);
	cr_assert_eq(env_cli(1, argv, "x", vars, N), ENV_EXIT_USAGE);
	fflush(stderr);
	cr_assert_stderr_eq_str(
	    "prog: unknown argument '--port=3' (configuration comes from the environment; see --help)\n"
	    "prog: invalid configuration: T_WORKERS: -1 is out of range [1, 64]\n");
}

static int
refuse(const char *text, void *out, char *err, size_t errlen)
{
	(void) text;
	(void) out;
	snprintf(err, errlen, "is not what was wanted");
	return -1;
}

Test(env, a_custom_parsers_reason_follows_the_value_masked_as_help_masks_it)
{
	const char *value = NULL;
	env_var v         = {.name = "T_SECRET",
	            .default_value = "amqp://u:hunter2@h:1/",
	            .kind          = ENV_CUSTOM,
	            .parse         = refuse,
	            .out           = &value,
	            .secret_url    = 1};
	char err[256];
	cr_assert_eq(env_load(&v, 1, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "T_SECRET: 'amqp://u:***@h:1/' is not what was wanted");
	v.secret_url = 0;
	cr_assert_eq(env_load(&v, 1, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "T_SECRET: 'amqp://u:hunter2@h:1/' is not what was wanted");
}

Test(env, a_long_value_is_shortened_and_the_reason_kept)
{
	char value[700];
	memset(value, 'x', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	const char *out          = NULL;
	env_var v = {.name = "T_LONG", .default_value = value, .kind = ENV_CUSTOM, .parse = refuse, .out = &out};
	char err[512];
	cr_assert_eq(env_load(&v, 1, err, sizeof(err)), -1);
	cr_assert(strstr(err, "...' is not what was wanted") != NULL, "%s", err);
}

Test(env, ints_outside_the_environment_are_checked_the_same_way)
{
	long n = 0;
	char err[128];
	cr_assert_eq(env_parse_int("250", 1, 1000, &n, err, sizeof(err)), 0);
	cr_assert_eq(n, 250);
	cr_assert_eq(env_parse_int("+5", 1, 1000, &n, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "'+5' is not an integer");
	cr_assert_eq(env_parse_int("0", 1, 1000, &n, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "0 is out of range [1, 1000]");
}

/* Secrets from files (NAME_FILE, the Docker/Kubernetes convention). Each
 * test runs in its own process (Criterion), so setenv stays in it. */

static char secret_dir[64];

static void
make_secret_dir(void)
{
	snprintf(secret_dir, sizeof(secret_dir), "/tmp/test-env-XXXXXX");
	cr_assert_not_null(mkdtemp(secret_dir));
}

static void
remove_secret_dir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", secret_dir);
	cr_assert_eq(system(cmd), 0);
}

/* Writes len bytes to secret_dir/name; returns its path (static). */
static const char *
secret_file(const char *name, const char *content, size_t len)
{
	static char path[128];
	snprintf(path, sizeof(path), "%s/%s", secret_dir, name);
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(content, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
	return path;
}

/* A URL parser as the services' are: keeps the text, or says what is wrong
 * after it, quoting the part after "://" (a parser may quote a password). */
static int
needs_scheme(const char *text, void *out, char *err, size_t errlen)
{
	const char *rest = strstr(text, "://");
	if (rest == NULL) {
		snprintf(err, errlen, "has no scheme");
		return -1;
	}
	if (strstr(text, "bad") != NULL) {
		snprintf(err, errlen, "cannot be parsed after '%s'", rest + 3);
		return -1;
	}
	*(const char **) out = text;
	return 0;
}

static const char *secret_value;
static const env_var secret_var = {.name = "T_SECRET",
    .default_value                       = "amqp://guest:guest@127.0.0.1:5672/",
    .help                                = "broker",
    .kind                                = ENV_CUSTOM,
    .parse                               = needs_scheme,
    .out                                 = &secret_value,
    .secret_url                          = 1};

/* T_SECRET_FILE=path is refused with exactly message, which never holds
 * the file's content (every test file holds "hunter2" where it has any). */
static void
file_refused(const char *path, const char *message)
{
	setenv("T_SECRET_FILE", path, 1);
	char err[512];
	cr_assert_eq(env_load(&secret_var, 1, err, sizeof(err)), -1, "T_SECRET_FILE=%s was accepted", path);
	cr_assert_str_eq(err, message);
	cr_assert_null(strstr(err, "hunter2"), "the content was printed: %s", err);
}

/* The message for path, made with its real name. */
static const char *
message_for(const char *format, const char *path)
{
	static char m[512];
	snprintf(m, sizeof(m), format, path);
	return m;
}

Test(env_file, the_value_is_the_files_content_less_one_trailing_newline, .init = make_secret_dir,
    .fini = remove_secret_dir)
{
	char err[512];
	static const struct {
		const char *content, *value;
	} cases[] = {
	    {"amqp://u:hunter2@h:5672/\n", "amqp://u:hunter2@h:5672/"}, /* echo, editors */
	    {"amqp://u:hunter2@h:5672/", "amqp://u:hunter2@h:5672/"},   /* printf %s, kubectl --from-literal */
	    {"amqp://u:hunter2 @h/ \n", "amqp://u:hunter2 @h/ "},       /* nothing else trimmed */
	    {"\tamqp://u:p@h/", "\tamqp://u:p@h/"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setenv("T_SECRET_FILE", secret_file("s", cases[i].content, strlen(cases[i].content)), 1);
		secret_value = NULL;
		cr_assert_eq(env_load(&secret_var, 1, err, sizeof(err)), 0, "%s", err);
		cr_assert_str_eq(secret_value, cases[i].value);
	}
	/* A plain string secret too (vars[0], ENV_STRING), kept after the
	 * file is gone: the value lives as long as the process. */
	setenv("T_URL_FILE", secret_file("url", "postgresql://svc:hunter2@db/x\n", 30), 1);
	cr_assert_eq(env_load(vars, N, err, sizeof(err)), 0, "%s", err);
	remove_secret_dir();
	make_secret_dir();
	cr_assert_str_eq(url, "postgresql://svc:hunter2@db/x");
}

Test(env_file, name_and_name_file_together_are_refused_naming_both, .init = make_secret_dir, .fini = remove_secret_dir)
{
	const char *path = secret_file("s", "amqp://u:hunter2@h/\n", 20);
	setenv("T_SECRET", "amqp://u:other@h/", 1);
	file_refused(path, "T_SECRET and T_SECRET_FILE are both set: set only one of them");
	setenv("T_SECRET", "", 1); /* set, even empty */
	file_refused(path, "T_SECRET and T_SECRET_FILE are both set: set only one of them");
	file_refused("/nonexistent", "T_SECRET and T_SECRET_FILE are both set: set only one of them");
}

Test(env_file, a_file_that_cannot_be_read_is_refused_naming_the_variable_and_path, .init = make_secret_dir,
    .fini = remove_secret_dir)
{
	file_refused("", "T_SECRET_FILE: is empty: set it to the path of a file holding the value, or unset it");
	char path[128];
	snprintf(path, sizeof(path), "%s/missing", secret_dir);
	file_refused(path, message_for("T_SECRET_FILE: cannot open '%s': No such file or directory", path));
	snprintf(path, sizeof(path), "%s/dangling", secret_dir);
	cr_assert_eq(symlink("/nonexistent/secret", path), 0);
	file_refused(path, message_for("T_SECRET_FILE: cannot open '%s': No such file or directory", path));
	const char *file = secret_file("f", "hunter2", 7);
	snprintf(path, sizeof(path), "%s/x", file);
	file_refused(path, message_for("T_SECRET_FILE: cannot open '%s': Not a directory", path));
	/* Not a regular file: a directory, a device, and a FIFO, which would
	 * block start-up if it were opened for reading the ordinary way. */
	file_refused(secret_dir, message_for("T_SECRET_FILE: '%s' is not a regular file", secret_dir));
	file_refused("/dev/null", "T_SECRET_FILE: '/dev/null' is not a regular file");
	snprintf(path, sizeof(path), "%s/fifo", secret_dir);
	cr_assert_eq(mkfifo(path, 0600), 0);
	file_refused(path, message_for("T_SECRET_FILE: '%s' is not a regular file", path));
	/* Unreadable: root reads a mode 000 file anyway, so only checkable
	 * as another user. */
	if (geteuid() != 0) {
		const char *locked = secret_file("locked", "hunter2", 7);
		cr_assert_eq(chmod(locked, 0), 0);
		file_refused(locked, message_for("T_SECRET_FILE: cannot open '%s': Permission denied", locked));
	}
}

Test(env_file, an_empty_oversized_or_multi_line_file_is_refused, .init = make_secret_dir, .fini = remove_secret_dir)
{
	static const struct {
		const char *content;
		size_t len;
		const char *why;
	} cases[] = {
	    {"", 0, "is empty"},
	    {"\n", 1, "holds only a newline"},
	    {"amqp://u:hunter2@h/\0x", 21, "holds a NUL byte"},
	    {"\0", 1, "holds a NUL byte"},
	    {"amqp://u:hunter2@h/\n\n", 21, "holds more than one line (only one trailing newline is removed)"},
	    {"amqp://u:hunter2@h/\nx", 21, "holds more than one line (only one trailing newline is removed)"},
	    {"\nhunter2", 8, "holds more than one line (only one trailing newline is removed)"},
	    {"amqp://u:hunter2@h/\r\n", 21, "holds a carriage return (CRLF line ends?)"},
	    {"amqp://u:hunter2\r@h/", 20, "holds a carriage return (CRLF line ends?)"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *path = secret_file("s", cases[i].content, cases[i].len);
		char message[512];
		snprintf(message, sizeof(message), "T_SECRET_FILE: '%s' %s", path, cases[i].why);
		file_refused(path, message);
	}
	/* The bound: ENV_FILE_MAX bytes are read, one more is refused. */
	static char big[ENV_FILE_MAX + 2];
	memcpy(big, "amqp://u:hunter2@h/", 19);
	memset(big + 19, 'a', sizeof(big) - 19);
	const char *path = secret_file("big", big, ENV_FILE_MAX);
	setenv("T_SECRET_FILE", path, 1);
	char err[512];
	cr_assert_eq(env_load(&secret_var, 1, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(strlen(secret_value), ENV_FILE_MAX);
	path = secret_file("big", big, ENV_FILE_MAX + 1);
	file_refused(path, message_for("T_SECRET_FILE: '%s' is larger than 65536 bytes", path));
	big[ENV_FILE_MAX] = '\n'; /* the bound is the file's size, newline included */
	path              = secret_file("big", big, ENV_FILE_MAX + 1);
	file_refused(path, message_for("T_SECRET_FILE: '%s' is larger than 65536 bytes", path));
}

Test(
    env_file, the_value_read_is_checked_as_name_would_be_and_masked, .init = make_secret_dir, .fini = remove_secret_dir)
{
	/* The same parser and reason as T_SECRET=..., after a label naming
	 * both variables and the path; the password masked in the value and
	 * scrubbed from the reason, which quoted it. */
	const char *path = secret_file("s", "amqp://u:hunter2@h:bad/\n", 24);
	file_refused(path, message_for("T_SECRET (from T_SECRET_FILE='%s'): 'amqp://u:***@h:bad/' cannot be parsed "
	                               "after 'u:***@h:bad/'",
	                       path));
	/* Neither a URL nor key=value: it may be a password alone, shown as ***. */
	path = secret_file("s", "notaurl\n", 8);
	file_refused(path, message_for("T_SECRET (from T_SECRET_FILE='%s'): '***' has no scheme", path));
	/* The same value from the environment: the same words after the label. */
	unsetenv("T_SECRET_FILE");
	setenv("T_SECRET", "amqp://u:hunter2@h:bad/", 1);
	char err[512];
	cr_assert_eq(env_load(&secret_var, 1, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "T_SECRET: 'amqp://u:***@h:bad/' cannot be parsed after 'u:***@h:bad/'");
}

Test(env_file, only_secrets_have_a_file_variant)
{
	/* T_WORKERS is not a secret: T_WORKERS_FILE is nobody's variable. */
	setenv("T_WORKERS_FILE", "/nonexistent", 1);
	char err[256];
	cr_assert_eq(env_load(vars, N, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(workers, 4);
}

Test(env_file, help_lists_the_file_variant_and_masks_a_value_read_from_it, .init = make_secret_dir,
    .fini = remove_secret_dir)
{
	cr_redirect_stdout(); /* env_cli's --help, below */
	char *argv[]       = {"prog", "--help", NULL};
	const env_var *one = &secret_var;
	FILE *out          = tmpfile();
	cr_assert_not_null(out);
	env_print_help(out, "prog", "x", one, 1);
	const char *path = secret_file("s", "amqp://u:hunter2@h:5672/\n", 25);
	setenv("T_SECRET_FILE", path, 1);
	env_print_help(out, "prog", "x", one, 1);
	setenv("T_SECRET_FILE", "/nonexistent", 1);
	env_print_help(out, "prog", "x", one, 1);
	cr_assert_eq(env_cli(2, argv, "x", one, 1), ENV_EXIT_OK); /* --help even with a bad file */
	rewind(out);
	char text[4096];
	size_t n = fread(text, 1, sizeof(text) - 1, out);
	text[n]  = '\0';
	fclose(out);
	char expected[4096];
	snprintf(expected, sizeof(expected),
	    "Usage: prog [--help]\n\nx\n\nConfiguration (environment variables):\n"
	    "  T_SECRET         broker\n"
	    "                     default: amqp://guest:***@127.0.0.1:5672/\n"
	    "                     current: amqp://guest:***@127.0.0.1:5672/\n"
	    "  T_SECRET_FILE    file holding T_SECRET's value instead (Docker/Kubernetes secrets); one trailing "
	    "newline is removed\n"
	    "                     current: (unset)\n"
	    "Usage: prog [--help]\n\nx\n\nConfiguration (environment variables):\n"
	    "  T_SECRET         broker\n"
	    "                     default: amqp://guest:***@127.0.0.1:5672/\n"
	    "                     current: amqp://u:***@h:5672/ (from the file)\n"
	    "  T_SECRET_FILE    file holding T_SECRET's value instead (Docker/Kubernetes secrets); one trailing "
	    "newline is removed\n"
	    "                     current: '%s'\n"
	    "Usage: prog [--help]\n\nx\n\nConfiguration (environment variables):\n"
	    "  T_SECRET         broker\n"
	    "                     default: amqp://guest:***@127.0.0.1:5672/\n"
	    "                     current: (unusable: T_SECRET_FILE: cannot open '/nonexistent': No such file or "
	    "directory)\n"
	    "  T_SECRET_FILE    file holding T_SECRET's value instead (Docker/Kubernetes secrets); one trailing "
	    "newline is removed\n"
	    "                     current: '/nonexistent'\n",
	    path);
	cr_assert_str_eq(text, expected);
}
