/* db.h: USER_DB_URL / ORDER_DB_URL checked before the first connect.
 * PQconninfoParse checks the syntax; the values it passes through unread
 * (ports, addresses, modes) libpq checks only when connecting, where a bad
 * one became a wait for a server that could never answer. */
#include "svc/db.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/env.h"
#include "base/log.h"
#include "base/net_check.h"
#include "svc/db_hosts.h"

/* True when a pg_service.conf that libpq would read defines [name]: the
 * file PGSERVICEFILE names, else ~/.pg_service.conf, then
 * PGSYSCONFDIR/pg_service.conf (libpq's default directory when unset). */
static bool
service_defined(const char *name)
{
	char paths[3][512];
	int n              = 0;
	const char *file   = getenv("PGSERVICEFILE");
	const char *home   = getenv("HOME");
	const char *sysdir = getenv("PGSYSCONFDIR");
	if (file != NULL)
		snprintf(paths[n++], sizeof(paths[0]), "%s", file);
	else if (home != NULL)
		snprintf(paths[n++], sizeof(paths[0]), "%s/.pg_service.conf", home);
	snprintf(paths[n++], sizeof(paths[0]), "%s/pg_service.conf", sysdir != NULL ? sysdir : PG_SYSCONFDIR);
	for (int i = 0; i < n; i++) {
		FILE *f = fopen(paths[i], "r");
		char line[512];
		while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
			char *p  = line + strspn(line, " \t");
			size_t k = strlen(name);
			if (p[0] == '[' && strncmp(p + 1, name, k) == 0 && p[k + 1] == ']') {
				fclose(f);
				return true;
			}
		}
		if (f != NULL)
			fclose(f);
	}
	return false;
}

static bool
one_of(const char *value, const char *const *choices)
{
	for (size_t i = 0; choices[i] != NULL; i++)
		if (strcmp(value, choices[i]) == 0)
			return true;
	return false;
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
		snprintf(addr, sizeof(addr), "%.*s", (int) (n < sizeof(addr) ? n : sizeof(addr) - 1), p);
		if (n > 0 && (n >= sizeof(addr) ||
		                 (inet_pton(AF_INET, addr, bin) != 1 && inet_pton(AF_INET6, addr, bin) != 1))) {
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
		snprintf(port, sizeof(port), "%.*s", (int) (n < sizeof(port) ? n : sizeof(port) - 1), p);
		long v;
		char reason[128];
		if (n > 0 && (n >= sizeof(port) || env_parse_int(port, 1, 65535, &v, reason, sizeof(reason)) != 0)) {
			snprintf(why, len, "has port '%s', which is not a number in [1, 65535]", port);
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
	/* The keywords libpq 15 reads only when it connects (connectOptions2,
	 * parse_int_param, pqConnectOptions): the choices it knows, and the
	 * integers it parses. */
	static const char *const sslmodes[] = {
	    "disable", "allow", "prefer", "require", "verify-ca", "verify-full", NULL};
	static const char *const gssencmodes[]   = {"disable", "prefer", "require", NULL};
	static const char *const session_attrs[] = {
	    "any", "read-write", "read-only", "primary", "standby", "prefer-standby", NULL};
	static const char *const bindings[]     = {"disable", "prefer", "require", NULL};
	static const char *const flags[]        = {"0", "1", NULL};
	static const char *const tls_versions[] = {"", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3", NULL};
	static const struct {
		const char *keyword;
		const char *const *choices; /* or NULL: an integer in [0, max] */
		long max;
		const char *unit;
	} rules[] = {
	    {"sslmode", sslmodes, 0, NULL},
	    {"gssencmode", gssencmodes, 0, NULL},
	    {"target_session_attrs", session_attrs, 0, NULL},
	    {"channel_binding", bindings, 0, NULL},
	    {"sslcompression", flags, 0, NULL},
	    {"sslsni", flags, 0, NULL},
	    {"ssl_min_protocol_version", tls_versions, 0, NULL},
	    {"ssl_max_protocol_version", tls_versions, 0, NULL},
	    {"connect_timeout", NULL, 86400, "a number of seconds"},
	    {"keepalives", NULL, 1, "0 or 1"},
	    {"keepalives_idle", NULL, 86400, "a number of seconds"},
	    {"keepalives_interval", NULL, 86400, "a number of seconds"},
	    {"keepalives_count", NULL, 1000, "a count"},
	    {"tcp_user_timeout", NULL, 86400000, "a number of milliseconds"},
	};
	const char *host = NULL, *hostaddr = NULL, *port = NULL;
	for (const PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		const char *v = o->val;
		if (v == NULL)
			continue;
		for (size_t r = 0; r < sizeof(rules) / sizeof(rules[0]); r++) {
			long n;
			char reason[128];
			if (strcmp(o->keyword, rules[r].keyword) != 0)
				continue;
			if (rules[r].choices != NULL && !one_of(v, rules[r].choices)) {
				snprintf(why, len, "has %s '%.64s', which libpq does not know", o->keyword, v);
				return -1;
			}
			if (rules[r].choices == NULL &&
			    env_parse_int(v, 0, rules[r].max, &n, reason, sizeof(reason)) != 0) {
				snprintf(why, len, "has %s '%.64s', which is not %s", o->keyword, v, rules[r].unit);
				return -1;
			}
		}
		if (strcmp(o->keyword, "service") == 0 && !service_defined(v)) {
			snprintf(why, len,
			    "has service '%.64s', which no service file defines (PGSERVICEFILE, ~/.pg_service.conf, "
			    "PGSYSCONFDIR/pg_service.conf)",
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
	int hosts = db_hosts_count(hostaddr) > 0 ? db_hosts_count(hostaddr) : db_hosts_count(host);
	if (db_hosts_count(host) > 0 && db_hosts_count(hostaddr) > 0 &&
	    db_hosts_count(host) != db_hosts_count(hostaddr)) {
		snprintf(
		    why, len, "has %d hosts but %d hostaddr values", db_hosts_count(host), db_hosts_count(hostaddr));
		return -1;
	}
	int ports = db_hosts_count(port);
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
		env_scrub(why, sizeof(why), text); /* libpq may quote the URI or a token of it */
		snprintf(err, errlen, "is not a libpq URL or connection string: %s", why);
		return -1;
	}
	char why[256];
	int rc = check_options(opts, why, sizeof(why));
	PQconninfoFree(opts);
	if (rc != 0) {
		env_scrub(why, sizeof(why), text); /* libpq may quote the URI or a token of it */
		snprintf(err, errlen, "is not a libpq URL or connection string that can work: it %s", why);
		return -1;
	}
	return 0;
}

int
db_env_parse_conninfo(const char *text, void *out, char *err, size_t errlen)
{
	if (db_check_conninfo(text, err, errlen) != 0)
		return -1;
	*(const char **) out = text;
	return 0;
}

void
db_log_url(const char *variable, const char *url)
{
	db_hosts h;
	if (db_hosts_init(&h, url) != 0 || h.n < 2) {
		db_hosts_free(&h);
		return;
	}
	/* One line at start, so that what connects do is not a surprise
	 * (db_hosts.h says why). */
	if (h.session_attrs != NULL)
		log_info(NULL,
		    "db_url_session_attrs_added variable=%s hosts=%d target_session_attrs=%s reason=\"several hosts "
		    "and no target_session_attrs: only a server that takes writes is connected to\"",
		    variable, h.n, h.session_attrs);
	else if (!h.prefer)
		log_warn(NULL,
		    "db_url_accepts_read_only_servers variable=%s hosts=%d target_session_attrs=%s reason=\"a "
		    "connect may take a standby, where every write fails (503) until the connection is made "
		    "again: give target_session_attrs=read-write (or leave it out)\"",
		    variable, h.n, h.given);
	db_hosts_free(&h);
}
