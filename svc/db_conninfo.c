/* db.h: USER_DB_URL / ORDER_DB_URL checked before the first connect.
 * PQconninfoParse checks the syntax; the values it passes through unread
 * (ports, addresses, modes) libpq checks only when connecting, where a bad
 * one became a wait for a server that could never answer. */
#include "db.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "env.h"
#include "net_check.h"

/* Replaces each copy of secret (len bytes) in msg by "***". */
static void
hide(char *msg, size_t msglen, const char *secret, size_t len)
{
	if (len == 0)
		return;
	char out[512];
	size_t o = 0;
	for (const char *p = msg; *p != '\0' && o + 4 < sizeof(out);) {
		if (strncmp(p, secret, len) == 0) {
			memcpy(out + o, "***", 3);
			o += 3;
			p += len;
		} else {
			out[o++] = *p++;
		}
	}
	if (o >= msglen)
		o = msglen - 1;
	memcpy(msg, out, o);
	msg[o] = '\0';
}

/* libpq's messages may quote the whole URI or the token it failed to
 * decode: hide every password the text holds, where env_mask_url finds
 * them (the user information of a URI, and password=... values). */
static void
hide_passwords(char *msg, size_t msglen, const char *text)
{
	const char *scheme = strstr(text, "://");
	if (scheme != NULL) {
		const char *auth = scheme + 3;
		size_t auth_len  = strcspn(auth, "/?#");
		const char *at   = NULL;
		for (const char *p = auth; p < auth + auth_len; p++)
			if (*p == '@')
				at = p;
		const char *colon = at != NULL ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		if (colon != NULL)
			hide(msg, msglen, colon + 1, (size_t)(at - colon - 1));
	}
	for (const char *p = strstr(text, "password="); p != NULL; p = strstr(p + 1, "password=")) {
		const char *value = p + strlen("password=");
		hide(msg, msglen, value, strcspn(value, " &"));
	}
}

static bool
one_of(const char *value, const char *const *choices)
{
	for (size_t i = 0; choices[i] != NULL; i++)
		if (strcmp(value, choices[i]) == 0)
			return true;
	return false;
}

/* Elements of a comma-separated libpq list (host, hostaddr, port). */
static int
count_elements(const char *list)
{
	if (list == NULL || list[0] == '\0')
		return 0;
	int n = 1;
	for (const char *p = list; *p != '\0'; p++)
		n += *p == ',';
	return n;
}

static int
check_hosts(const char *hosts, char *why, size_t len)
{
	for (const char *p = hosts; p != NULL && *p != '\0';) {
		size_t n = strcspn(p, ",");
		/* Empty: the default; '/' or '@': a Unix socket directory. */
		if (n > 0 && p[0] != '/' && p[0] != '@' && net_check_host(p, n, 1, why, len) != 0)
			return -1;
		p += n + (p[n] == ',');
	}
	return 0;
}

static int
check_hostaddrs(const char *addrs, char *why, size_t len)
{
	for (const char *p = addrs; p != NULL && *p != '\0';) {
		size_t n = strcspn(p, ",");
		char addr[64];
		unsigned char bin[16];
		snprintf(addr, sizeof(addr), "%.*s", (int)(n < sizeof(addr) ? n : sizeof(addr) - 1),
		         p);
		if (n > 0 && (n >= sizeof(addr) || (inet_pton(AF_INET, addr, bin) != 1 &&
		                                    inet_pton(AF_INET6, addr, bin) != 1))) {
			snprintf(why, len, "has hostaddr '%s', which is not an IP address", addr);
			return -1;
		}
		p += n + (p[n] == ',');
	}
	return 0;
}

static int
check_ports(const char *ports, char *why, size_t len)
{
	for (const char *p = ports; p != NULL && *p != '\0';) {
		size_t n = strcspn(p, ",");
		char port[16];
		snprintf(port, sizeof(port), "%.*s", (int)(n < sizeof(port) ? n : sizeof(port) - 1),
		         p);
		long v;
		char reason[128];
		if (n > 0 && (n >= sizeof(port) ||
		              env_parse_int(port, 1, 65535, &v, reason, sizeof(reason)) != 0)) {
			snprintf(why, len, "has port '%s', which is not a number in [1, 65535]",
			         port);
			return -1;
		}
		p += n + (p[n] == ',');
	}
	return 0;
}

/* The options libpq reads only when connecting. */
static int
check_options(const PQconninfoOption *opts, char *why, size_t len)
{
	static const char *const sslmodes[]      = {"disable",   "allow",       "prefer", "require",
	                                            "verify-ca", "verify-full", NULL};
	static const char *const gssencmodes[]   = {"disable", "prefer", "require", NULL};
	static const char *const session_attrs[] = {
	    "any", "read-write", "read-only", "primary", "standby", "prefer-standby", NULL};
	const char *host = NULL, *hostaddr = NULL, *port = NULL;
	for (const PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		const char *v = o->val;
		if (v == NULL)
			continue;
		const char *const *choices = strcmp(o->keyword, "sslmode") == 0      ? sslmodes
		                             : strcmp(o->keyword, "gssencmode") == 0 ? gssencmodes
		                             : strcmp(o->keyword, "target_session_attrs") == 0
		                                 ? session_attrs
		                                 : NULL;
		long n;
		char reason[128];
		if (choices != NULL && !one_of(v, choices)) {
			snprintf(why, len, "has %s '%.64s', which libpq does not know", o->keyword,
			         v);
			return -1;
		}
		if (strcmp(o->keyword, "connect_timeout") == 0 &&
		    env_parse_int(v, 0, 86400, &n, reason, sizeof(reason)) != 0) {
			snprintf(why, len,
			         "has connect_timeout '%.64s', which is not a number of seconds",
			         v);
			return -1;
		}
		if (strcmp(o->keyword, "host") == 0)
			host = v;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = v;
		else if (strcmp(o->keyword, "port") == 0)
			port = v;
	}
	if (check_hosts(host, why, len) != 0 || check_hostaddrs(hostaddr, why, len) != 0 ||
	    check_ports(port, why, len) != 0)
		return -1;
	int hosts = count_elements(hostaddr) > 0 ? count_elements(hostaddr) : count_elements(host);
	if (count_elements(host) > 0 && count_elements(hostaddr) > 0 &&
	    count_elements(host) != count_elements(hostaddr)) {
		snprintf(why, len, "has %d hosts but %d hostaddr values", count_elements(host),
		         count_elements(hostaddr));
		return -1;
	}
	int ports = count_elements(port);
	if (ports > 1 && ports != (hosts > 0 ? hosts : 1)) {
		snprintf(why, len, "has %d ports for %d hosts", ports, hosts > 0 ? hosts : 1);
		return -1;
	}
	return 0;
}

int
db_check_conninfo(const char *text, char *err, size_t errlen)
{
	if (text[0] == '\0') {
		snprintf(err, errlen, "is empty: give a postgresql:// URL or key=value pairs");
		return -1;
	}
	char *msg              = NULL;
	PQconninfoOption *opts = PQconninfoParse(text, &msg);
	if (opts == NULL) {
		char why[256];
		snprintf(why, sizeof(why), "%s", msg != NULL ? msg : "out of memory");
		PQfreemem(msg);
		why[strcspn(why, "\n")] = '\0';
		hide_passwords(why, sizeof(why), text);
		snprintf(err, errlen, "is not a libpq URL or connection string: %s", why);
		return -1;
	}
	char why[256];
	int rc = check_options(opts, why, sizeof(why));
	PQconninfoFree(opts);
	if (rc != 0) {
		hide_passwords(why, sizeof(why), text);
		snprintf(err, errlen,
		         "is not a libpq URL or connection string that can work: it %s", why);
		return -1;
	}
	return 0;
}

int
db_env_parse_conninfo(const char *text, void *out, char *err, size_t errlen)
{
	if (db_check_conninfo(text, err, errlen) != 0)
		return -1;
	*(const char **)out = text;
	return 0;
}
