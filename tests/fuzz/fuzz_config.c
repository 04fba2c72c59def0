/* libFuzzer: configuration parsing, as each binary meets its environment.
 * The first byte picks the parser, the rest is the variable's text. Besides
 * not crashing, what a parser accepts must be what it promises, and a
 * password the Redis parser finds must be one --help masks (in both
 * REDIS_URL forms: redis:// and redis-sentinel://). First bytes
 * from 0xf0 pick the network checks (net_check.h, db_check_conninfo), added
 * later: below that the corpus keeps the meaning it had. What these accept
 * nng_url_parse and PQconninfoParse must accept too, and a libpq error
 * never shows a password. */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <nng/nng.h>

#include "base/env.h"
#include "base/net_check.h"
#include "svc/broker.h"
#include "svc/cache.h"
#include "svc/db.h"
#include "svc/sentinel.h"

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

/* A host as the Redis parsers keep it: no ':' unless an IPv6 address
 * (given in brackets, kept without). */
static int
host_or_ipv6(const char *host)
{
	unsigned char addr[16];
	return strchr(host, ':') == NULL || inet_pton(AF_INET6, host, addr) == 1;
}

/* REDIS_URL in Sentinel form: every sentinel a host as redis:// takes
 * one, ports and database in range, a master name of the promised
 * characters, the password one --help masks and only before the first
 * sentinel. */
static void
check_sentinel_url(const char *text)
{
	sentinel_url s;
	char err[256] = "", masked[4096];
	if (sentinel_parse_url(text, &s, err, sizeof(err)) != 0) {
		if (err[0] == '\0')
			abort();
		return;
	}
	if (s.n < 1 || s.n > SENTINEL_MAX || s.db < 0 || s.db > 15 || s.master[0] == '\0' ||
	    strspn(s.master, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != strlen(s.master))
		abort();
	for (int i = 0; i < s.n; i++)
		if (s.host[i][0] == '\0' || strpbrk(s.host[i], "/@,#?") != NULL || !host_or_ipv6(s.host[i]) ||
		    s.port[i] < 1 || s.port[i] > 65535)
			abort();
	/* One password, before the first sentinel: an accepted URL has at
	 * most one '@', with no ',' before it. */
	const char *at = strchr(text, '@');
	if (at != NULL && (strchr(at + 1, '@') != NULL || memchr(text, ',', (size_t) (at - text)) != NULL))
		abort();
	env_mask_url(text, masked, sizeof(masked));
	if (s.password[0] != '\0' && strlen(text) < sizeof(masked) && strstr(masked, "***") == NULL)
		abort();
}

static void
check_redis_url(const char *text)
{
	char host[256], password[256], err[256] = "", masked[4096];
	int port, db;
	if (sentinel_is_url(text)) {
		check_sentinel_url(text);
		return;
	}
	if (cache_parse_url(text, host, sizeof(host), &port, &db, password, sizeof(password), err, sizeof(err)) != 0) {
		if (err[0] == '\0')
			abort();
		return;
	}
	if (host[0] == '\0' || strpbrk(host, "/@") != NULL || !host_or_ipv6(host) || port < 1 || port > 65535 ||
	    db < 0 || db > 15)
		abort();
	/* Strict numbers: the text ends with the host (an IPv6 one in
	 * brackets), then only digits, ':' and '/'. */
	int strict = 0;
	for (const char *at = strstr(text, host); at != NULL && !strict; at = strstr(at + 1, host)) {
		const char *rest = at + strlen(host);
		if (strchr(host, ':') != NULL) {
			if (at == text || at[-1] != '[' || *rest != ']')
				continue;
			rest++;
		}
		strict = rest[strspn(rest, "0123456789:/")] == '\0';
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
	long n                             = 0;
	int choice                         = -1;
	env_var int_var                    = {
	                       .name = "FUZZ_CONFIG_INT", .default_value = text, .kind = ENV_INT, .out = &n, .min = -5, .max = 100000};
	env_var choice_var = {.name = "FUZZ_CONFIG_CHOICE",
	    .default_value          = text,
	    .kind                   = ENV_CHOICE,
	    .out                    = &choice,
	    .choices                = choices};
	char err[512]      = "";
	if (env_load(&int_var, 1, err, sizeof(err)) == 0 ? n < -5 || n > 100000 : err[0] == '\0')
		abort();
	err[0] = '\0';
	if (env_load(&choice_var, 1, err, sizeof(err)) == 0 ? strcmp(choices[choice], text) != 0 : err[0] == '\0')
		abort();
}

static void
check_ipv4(const char *text)
{
	char err[256] = "";
	unsigned char addr[4];
	if (net_check_ipv4(text, err, sizeof(err)) == 0 ? inet_pton(AF_INET, text, addr) != 1 : err[0] == '\0')
		abort();
}

static void
check_host(const char *text)
{
	char err[256] = "";
	if (net_check_host(text, strlen(text), 1, err, sizeof(err)) != 0) {
		if (err[0] == '\0')
			abort();
		return;
	}
	/* Accepted: an address, or a name without anything a resolver or a
	 * URL would read differently. */
	unsigned char addr[16];
	if (inet_pton(AF_INET6, text, addr) != 1 && strpbrk(text, " :/@?#%,[]\\") != NULL)
		abort();
}

/* What an accepted URL holds, as nng parses it: one of our schemes and,
 * for tcp and tls+tcp, a port in range with nothing but a host around it;
 * TLS only over TCP. (Creating
 * nng dialers here, as test_net_check does, would free asynchronously and
 * set off libFuzzer's leak check on every input.) */
static void
check_parsed(const char *url, net_url_role role)
{
	nng_url *u;
	if (nng_url_parse(&u, url) != 0)
		abort();
	const char *s = u->u_scheme;
	int tls       = strncmp(s, "tls+", 4) == 0;
	if (tls)
		s += 4;
	if (strcmp(s, "tcp") == 0 || strcmp(s, "tcp4") == 0 || strcmp(s, "tcp6") == 0) {
		long port = strtol(u->u_port, NULL, 10);
		if (u->u_userinfo != NULL || u->u_query != NULL || u->u_fragment != NULL ||
		    strspn(u->u_port, "0123456789") != strlen(u->u_port) || u->u_port[0] == '\0' || port > 65535 ||
		    port < (role == NET_URL_LISTEN ? 0 : 1) || (role == NET_URL_DIAL && u->u_hostname[0] == '\0'))
			abort();
	} else if (tls || (strcmp(s, "ipc") != 0 && strcmp(s, "unix") != 0 && strcmp(s, "abstract") != 0)) {
		abort();
	} else if (u->u_path[0] == '\0') {
		abort();
	}
	nng_url_free(u);
}

static void
check_nng_listen(const char *text)
{
	char err[256] = "";
	if (net_check_nng_url(text, NET_URL_LISTEN, err, sizeof(err)) != 0) {
		if (err[0] == '\0')
			abort();
		return;
	}
	check_parsed(text, NET_URL_LISTEN);
}

static void
check_nng_dial_list(const char *text)
{
	char err[512] = "";
	if (net_check_nng_dial_list(text, err, sizeof(err)) != 0) {
		if (err[0] == '\0')
			abort();
		return;
	}
	char copy[1024];
	snprintf(copy, sizeof(copy), "%s", text);
	char *save = NULL;
	for (char *u = strtok_r(copy, ",", &save); u != NULL; u = strtok_r(NULL, ",", &save))
		check_parsed(u, NET_URL_DIAL);
}

/* The password of a URI (as env_mask_url finds it) or of password=... */
static void
a_password(const char *text, char *out, size_t len)
{
	out[0]             = '\0';
	const char *scheme = strstr(text, "://");
	if (scheme != NULL) {
		const char *auth = scheme + 3, *at = NULL;
		size_t auth_len = strcspn(auth, "/?#");
		for (const char *p = auth; p < auth + auth_len; p++)
			if (*p == '@')
				at = p;
		const char *colon = at != NULL ? memchr(auth, ':', (size_t) (at - auth)) : NULL;
		if (colon != NULL)
			snprintf(out, len, "%.*s", (int) (at - colon - 1), colon + 1);
		/* A URI's keywords are in its query only, each value to '&'. */
		const char *query = strchr(auth, '?');
		for (const char *at = query; out[0] == '\0' && at != NULL && (at = strstr(at, "password=")) != NULL;
		     at++)
			if (at[-1] == '?' || at[-1] == '&')
				snprintf(out, len, "%.*s", (int) strcspn(at + 9, "&"), at + 9);
		return;
	}
	/* Keyword form: the keyword where a key starts (the text's start or
	 * after white space: "p=password='x'" is key p's value). libpq skips
	 * white space (isspace) around '=' and ends a value at the next
	 * ("password=<tabs>" has no password), or reads it between single
	 * quotes, a backslash escaping the next byte. */
	const char *kw = NULL, *v = NULL;
	for (const char *at = text; kw == NULL && (at = strstr(at, "password")) != NULL; at++) {
		if (at != text && strchr(" \t\n\v\f\r", at[-1]) == NULL)
			continue;
		v = at + 8;
		while (*v != '\0' && strchr(" \t\n\v\f\r", *v) != NULL)
			v++;
		if (*v == '=')
			kw = at;
	}
	if (kw != NULL) {
		for (v++; *v != '\0' && strchr(" \t\n\v\f\r", *v) != NULL;)
			v++;
		size_t n = 0;
		if (*v == '\'') {
			for (v++; v[n] != '\0' && v[n] != '\''; n++)
				if (v[n] == '\\' && v[n + 1] != '\0')
					n++;
		} else {
			n = strcspn(v, " \t\n\v\f\r");
		}
		snprintf(out, len, "%.*s", (int) n, v);
	}
}

static void
check_conninfo(const char *text)
{
	char err[512] = "";
	if (db_check_conninfo(text, err, sizeof(err)) == 0) {
		char *msg              = NULL;
		PQconninfoOption *opts = PQconninfoParse(text, &msg);
		if (opts == NULL)
			abort();
		PQconninfoFree(opts);
		return;
	}
	if (err[0] == '\0')
		abort();
	/* What follows the reason's fixed words came from libpq or from the
	 * value, and the password was taken out of it. */
	static const char *const fixed[] = {"can work: it ", "connection string: "};
	const char *said                 = err;
	for (size_t i = 0; i < 2; i++)
		if (strncmp(err, "is not a libpq URL or ", 22) == 0 && strstr(err, fixed[i]) != NULL) {
			said = strstr(err, fixed[i]) + strlen(fixed[i]);
			break;
		}
	if (said == err && strncmp(err, "is empty", 8) != 0)
		abort(); /* every reason starts with one of those */
	char password[256];
	a_password(text, password, sizeof(password));
	/* libpq echoes the text between double quotes (invalid connection
	 * option "...", missing "=" after "..."): the password must not be
	 * there. Its own words outside them ("connection info string") are
	 * not the text's. A short password is found there by chance (libpq's
	 * closing quote completed "\xffkp\"" once), and one the text holds
	 * elsewhere too (password='password=...') may be that other place,
	 * echoed rightly: passwords of 6 bytes or more, found once. (unit_env
	 * holds the short cases.) */
	size_t times = 0;
	for (const char *at = text; password[0] != '\0' && (at = strstr(at, password)) != NULL; at++)
		times++;
	const char *open = strchr(said, '"'), *close = strrchr(said, '"');
	if (strlen(password) >= 6 && times == 1 && strchr(password, '*') == NULL && open != NULL && close > open &&
	    memmem(open, (size_t) (close - open), password, strlen(password)) != NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static void (*const parsers[])(const char *) = {
	    check_ports, check_redis_url, check_amqp_url, check_mask, check_table};
	static void (*const network[])(const char *) = {
	    check_ipv4, check_host, check_nng_listen, check_nng_dial_list, check_conninfo};
	if (size == 0)
		return 0;
	char *text = malloc(size);
	if (text == NULL)
		abort();
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (data[0] >= 0xf0)
		network[(data[0] - 0xf0) % (sizeof(network) / sizeof(network[0]))](text);
	else
		parsers[data[0] % (sizeof(parsers) / sizeof(parsers[0]))](text);
	free(text);
	return 0;
}
