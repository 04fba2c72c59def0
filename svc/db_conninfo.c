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
#include "svc/db_service.h"

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

/* The options libpq reads only when connecting; bad gets the keyword of
 * the one that cannot work (NULL when none). */
static int
check_options(const PQconninfoOption *opts, const char **bad, char *why, size_t len)
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
	*bad = NULL;
	for (const PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		const char *v = o->val;
		if (v == NULL)
			continue;
		*bad = o->keyword;
		for (size_t r = 0; r < sizeof(rules) / sizeof(rules[0]); r++) {
			long n;
			char reason[128];
			if (strcmp(o->keyword, rules[r].keyword) != 0)
				continue;
			if (rules[r].choices != NULL && !one_of(v, rules[r].choices)) {
				char known[128] = "";
				for (size_t c = 0; rules[r].choices[c] != NULL; c++)
					snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s",
					    c > 0 ? ", " : "",
					    rules[r].choices[c][0] != '\0' ? rules[r].choices[c] : "''");
				snprintf(
				    why, len, "has %s '%.64s', which libpq does not know (%s)", o->keyword, v, known);
				return -1;
			}
			if (rules[r].choices == NULL &&
			    env_parse_int(v, 0, rules[r].max, &n, reason, sizeof(reason)) != 0) {
				snprintf(why, len, "has %s '%.64s', which is not %s", o->keyword, v, rules[r].unit);
				return -1;
			}
		}
		if (strcmp(o->keyword, "service") == 0 && !db_service_lookup(v, NULL, NULL, 0)) {
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
	if ((*bad = "host", check_hosts(host, why, len) != 0) ||
	    (*bad = "hostaddr", check_hostaddrs(hostaddr, why, len) != 0) ||
	    (*bad = "port", check_ports(port, why, len) != 0))
		return -1;
	*bad      = "hostaddr";
	int hosts = db_hosts_count(hostaddr) > 0 ? db_hosts_count(hostaddr) : db_hosts_count(host);
	if (db_hosts_count(host) > 0 && db_hosts_count(hostaddr) > 0 &&
	    db_hosts_count(host) != db_hosts_count(hostaddr)) {
		snprintf(
		    why, len, "has %d hosts but %d hostaddr values", db_hosts_count(host), db_hosts_count(hostaddr));
		return -1;
	}
	*bad      = "port";
	int ports = db_hosts_count(port);
	if (ports > 1 && ports != (hosts > 0 ? hosts : 1)) {
		snprintf(why, len, "has %d ports for %d hosts", ports, hosts > 0 ? hosts : 1);
		return -1;
	}
	*bad = NULL;
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
	const char *bad;
	int rc = check_options(opts, &bad, why, sizeof(why));
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

int
db_check_environment(const char *variable, const char *url, char *err, size_t errlen)
{
	PQconninfoOption *opts = PQconninfoParse(url, NULL);
	PQconninfoOption *defs = PQconndefaults(); /* each keyword's environment variable */
	if (opts == NULL || defs == NULL) {
		PQconninfoFree(opts);
		PQconninfoFree(defs);
		return 0; /* the URL was refused before; or out of memory, which connects will say */
	}
	/* What libpq 15 fills in for what the URL leaves out
	 * (conninfo_add_defaults): the service's values, then the
	 * environment's. Values only: kept in fill, pointed to from opts. */
	const char *service = NULL;
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "service") == 0 && o->val != NULL && o->val[0] != '\0')
			service = o->val;
	if (service == NULL && getenv("PGSERVICE") != NULL && getenv("PGSERVICE")[0] != '\0')
		service = getenv("PGSERVICE");
	size_t n = 0;
	while (opts[n].keyword != NULL)
		n++;
	char(*fill)[256]    = calloc(n, sizeof(*fill));
	const char **origin = calloc(n, sizeof(*origin)); /* NULL: the URL's */
	char **kept         = calloc(n, sizeof(*kept));
	int rc              = 0;
	if (fill == NULL || origin == NULL || kept == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		PQconninfoOption *o = &opts[i];
		kept[i]             = o->val;
		if (o->val != NULL && o->val[0] != '\0')
			continue;
		if (service != NULL && db_service_lookup(service, o->keyword, fill[i], sizeof(fill[i])) &&
		    fill[i][0] != '\0') {
			origin[i] = "service";
		} else {
			const char *envvar = NULL;
			for (const PQconninfoOption *d = defs; d->keyword != NULL && envvar == NULL; d++)
				if (strcmp(d->keyword, o->keyword) == 0)
					envvar = d->envvar;
			const char *v = envvar != NULL ? getenv(envvar) : NULL;
			if (v == NULL || v[0] == '\0')
				continue;
			snprintf(fill[i], sizeof(fill[i]), "%s", v);
			origin[i] = envvar;
		}
		o->val = fill[i];
	}
	char why[256];
	const char *bad;
	if (check_options(opts, &bad, why, sizeof(why)) != 0 && bad != NULL) {
		size_t i = 0;
		while (i < n && strcmp(opts[i].keyword, bad) != 0)
			i++;
		if (i < n && origin[i] != NULL && strcmp(origin[i], "service") == 0) {
			snprintf(err, errlen,
			    "%s: its service '%.64s' cannot work: libpq would connect with the service file's %s, and "
			    "it %s",
			    variable, service, bad, why);
			rc = -1;
		} else if (i < n && origin[i] != NULL) {
			snprintf(err, errlen,
			    "%s: '%.64s' cannot work: libpq would connect with it for %s, which then %s", origin[i],
			    fill[i], variable, why);
			rc = -1;
		}
	}
	for (size_t i = 0; i < n; i++)
		opts[i].val = kept[i]; /* libpq's own, to free */
out:
	free(fill);
	free(origin);
	free(kept);
	PQconninfoFree(opts);
	PQconninfoFree(defs);
	return rc;
}

void
db_log_url(const char *variable, const char *url)
{
	db_hosts h;
	if (db_hosts_init(&h, url) != 0) {
		db_hosts_free(&h);
		return;
	}
	/* One line at start, so that what connects do is not a surprise
	 * (db_hosts.h says why), naming where a value chosen came from. */
	const char *source = strcmp(h.source, "url") == 0 ? variable : h.source;
	if (h.session_attrs != NULL)
		log_info(NULL,
		    "db_url_session_attrs_added variable=%s hosts=%d target_session_attrs=%s reason=\"no "
		    "target_session_attrs in %s, its service or PGTARGETSESSIONATTRS: every connection writes, so "
		    "only a server that takes writes is connected to (a read-only one is refused at connect)\"",
		    variable, h.hosts, h.session_attrs, variable);
	else if (strcmp(h.given, "read-write") != 0 && strcmp(h.given, "primary") != 0)
		log_warn(NULL,
		    "db_url_accepts_read_only_servers variable=%s hosts=%d target_session_attrs=%s from=%s reason=\"a "
		    "connect may take a standby, where every write fails (503) until the connection is made "
		    "again: give target_session_attrs=read-write (or leave it out)\"",
		    variable, h.hosts, h.given, source);
	else
		log_info(NULL, "db_url_session_attrs variable=%s hosts=%d target_session_attrs=%s from=%s", variable,
		    h.hosts, h.given, source);
	db_hosts_free(&h);
}
