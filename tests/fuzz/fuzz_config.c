/* libFuzzer: configuration parsing, as each binary meets its environment.
 * The first byte picks the parser, the rest is the variable's text. Besides
 * not crashing, what a parser accepts must be what it promises, and a
 * password the Redis parser finds must be one --help masks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "cache.h"
#include "env.h"

static void
check_ports(const char *text)
{
	env_port_list list;
	char err[256] = "";
	if (env_parse_port_list(text, &list, err, sizeof(err)) != 0) {
		if (err[0] == '\0')
			abort();
		return;
	}
	if (list.n < 1 || list.n > ENV_MAX_PORTS)
		abort();
	for (int i = 0; i < list.n; i++) {
		if (list.ports[i] < 1 || list.ports[i] > 65535)
			abort();
		for (int j = 0; j < i; j++)
			if (list.ports[i] == list.ports[j])
				abort();
	}
}

static void
check_redis_url(const char *text)
{
	char host[256], password[256], err[256] = "", masked[4096];
	int port, db;
	if (cache_parse_url(text, host, sizeof(host), &port, &db, password, sizeof(password), err, sizeof(err)) != 0) {
		if (err[0] == '\0')
			abort();
		return;
	}
	if (host[0] == '\0' || strpbrk(host, ":/@") != NULL || port < 1 || port > 65535 || db < 0 || db > 15)
		abort();
	/* Strict numbers: the text ends with the host, then only digits, ':'
	 * and '/'. */
	int strict = 0;
	for (const char *at = strstr(text, host); at != NULL && !strict; at = strstr(at + 1, host)) {
		const char *rest = at + strlen(host);
		strict           = rest[strspn(rest, "0123456789:/")] == '\0';
	}
	if (!strict)
		abort();
	env_mask_url(text, masked, sizeof(masked));
	if (password[0] != '\0' && strlen(text) < sizeof(masked) && strstr(masked, "***") == NULL)
		abort();
}

static void
check_amqp_url(const char *text)
{
	const char *out = NULL;
	char err[256]   = "";
	if (broker_env_parse_url(text, &out, err, sizeof(err)) == 0 ? out != text : err[0] == '\0')
		abort();
}

static void
check_mask(const char *text)
{
	/* Every size, including ones that cut the text inside what is masked. */
	char out[64];
	for (size_t len = 1; len <= sizeof(out); len *= 2) {
		memset(out, 'x', sizeof(out));
		env_mask_url(text, out, len);
		if (memchr(out, '\0', len) == NULL)
			abort();
	}
}

/* ENV_INT and ENV_CHOICE through env_load, the text as the default (the
 * variables are never set). */
static void
check_table(const char *text)
{
	static const char *const choices[] = {"text", "json", NULL};
	long n      = 0;
	int choice  = -1;
	env_var int_var = {.name = "FUZZ_CONFIG_INT", .default_value = text, .kind = ENV_INT, .out = &n,
	    .min = -5, .max = 100000};
	env_var choice_var = {.name = "FUZZ_CONFIG_CHOICE", .default_value = text, .kind = ENV_CHOICE,
	    .out = &choice, .choices = choices};
	char err[512] = "";
	if (env_load(&int_var, 1, err, sizeof(err)) == 0 ? n < -5 || n > 100000 : err[0] == '\0')
		abort();
	err[0] = '\0';
	if (env_load(&choice_var, 1, err, sizeof(err)) == 0 ? strcmp(choices[choice], text) != 0 : err[0] == '\0')
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static void (*const parsers[])(const char *) = {check_ports, check_redis_url, check_amqp_url, check_mask,
	    check_table};
	if (size == 0)
		return 0;
	char *text = malloc(size);
	if (text == NULL)
		abort();
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	parsers[data[0] % (sizeof(parsers) / sizeof(parsers[0]))](text);
	free(text);
	return 0;
}
