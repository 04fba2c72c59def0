/* Strict configuration from the environment. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdlib.h>

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
	env_mask_url("host=db user=u password=s3cret dbname=x", out, sizeof(out));
	cr_assert_str_eq(out, "host=db user=u password=*** dbname=x");
	env_mask_url("postgresql://u@h/d?sslmode=off&password=s3cret", out, sizeof(out));
	cr_assert_str_eq(out, "postgresql://u@h/d?sslmode=off&password=***");
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
