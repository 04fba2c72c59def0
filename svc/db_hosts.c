/* db_hosts.h: which hosts of a multi-host URL are taken, and the order in
 * which they are tried. */
#include "svc/db_hosts.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svc/db_service.h"

/* The host that last took a connection, for one URL of this process:
 * url_hash << 32 | (index + 1); 0 when none yet. A process has one
 * database URL (its workers, relay and consumer share it); another URL's
 * success only makes the next connect start elsewhere, which libpq then
 * goes on from. */
static _Atomic uint64_t preferred;

static uint32_t
fnv1a(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t) *s) * 16777619u;
	return h;
}

int
db_hosts_count(const char *list)
{
	if (list == NULL || list[0] == '\0')
		return 0;
	int n = 1;
	for (const char *p = list; *p != '\0'; p++)
		n += *p == ',';
	return n;
}

/* Element i of list (n = db_hosts_count(list) elements, or none: ""). */
static char *
element(const char *list, int i)
{
	if (list == NULL)
		return strdup("");
	for (; i > 0; i--) {
		const char *comma = strchr(list, ',');
		if (comma == NULL)
			return strdup("");
		list = comma + 1;
	}
	return strndup(list, strcspn(list, ","));
}

/* Appends key='value' (libpq's quoting: backslash before ' and \) to
 * *out, a malloc'd string, growing it; false when out of memory. */
static bool
append_setting(char **out, size_t *used, const char *key, const char *value)
{
	size_t need = *used + strlen(key) + 2 * strlen(value) + 5;
	char *grown = realloc(*out, need);
	if (grown == NULL)
		return false;
	*out    = grown;
	char *p = grown + *used;
	p += sprintf(p, "%s%s='", *used > 0 ? " " : "", key);
	for (const char *v = value; *v != '\0'; v++) {
		if (*v == '\'' || *v == '\\')
			*p++ = '\\';
		*p++ = *v;
	}
	*p++  = '\'';
	*p    = '\0';
	*used = (size_t) (p - grown);
	return true;
}

/* The value libpq 15 takes for keyword when url does not set it: its
 * service's (conninfo_add_defaults reads the service file first), else the
 * environment variable's. source names where it came from. */
static const char *
default_of(const char *service, const char *keyword, const char *envvar, char *value, size_t len, char *source,
    size_t source_len)
{
	if (service != NULL && db_service_lookup(service, keyword, value, len) && value[0] != '\0') {
		snprintf(source, source_len, "service %.64s", service);
		return value;
	}
	const char *env = getenv(envvar);
	if (env != NULL && env[0] != '\0') {
		snprintf(source, source_len, "%s", envvar);
		return env;
	}
	return NULL;
}

int
db_hosts_init(db_hosts *h, const char *url)
{
	memset(h, 0, sizeof(*h));
	h->hosts               = 1;
	PQconninfoOption *opts = PQconninfoParse(url, NULL);
	if (opts == NULL)
		return 0; /* no entry: every connect fails (db_check_conninfo refused it before) */
	const char *host = NULL, *hostaddr = NULL, *port = NULL, *attrs = NULL, *service = NULL, *options = NULL;
	size_t used = 0;
	int rc      = 0;
	for (const PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		const char *v = o->val != NULL && o->val[0] != '\0' ? o->val : NULL;
		bool listed   = true;
		if (strcmp(o->keyword, "host") == 0)
			host = v;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = v;
		else if (strcmp(o->keyword, "port") == 0)
			port = v;
		else if (strcmp(o->keyword, "target_session_attrs") == 0)
			attrs = v;
		else if (strcmp(o->keyword, "options") == 0)
			options = o->val; /* given even when empty: then no PGOPTIONS */
		else
			listed = false;
		if (strcmp(o->keyword, "service") == 0)
			service = v;
		/* The rest as the URL gives it; the lists, the session
		 * attributes and the options are given per entry (db.c). */
		if (!listed && o->val != NULL && !append_setting(&h->conninfo, &used, o->keyword, o->val))
			rc = -1;
	}
	if (service == NULL && getenv("PGSERVICE") != NULL && getenv("PGSERVICE")[0] != '\0')
		service = getenv("PGSERVICE");
	/* What libpq will take (PQconninfoParse reads neither the service
	 * file nor the environment): the URL's value, else the service's,
	 * else PGTARGETSESSIONATTRS. */
	char from_service[64], ignored[96];
	if (attrs != NULL)
		snprintf(h->source, sizeof(h->source), "url");
	else
		attrs = default_of(service, "target_session_attrs", "PGTARGETSESSIONATTRS", from_service,
		    sizeof(from_service), h->source, sizeof(h->source));
	/* Longer than any value libpq knows: kept cut (start-up refuses it). */
	snprintf(h->given, sizeof(h->given), "%.*s", (int) sizeof(h->given) - 1, attrs != NULL ? attrs : "");
	/* Only a server that takes writes may be taken, unless a value was
	 * chosen (db_hosts.h). */
	if (h->given[0] == '\0')
		h->session_attrs = "read-write";
	/* The lists libpq will take, each on its own (libpq's
	 * conninfo_add_defaults): the URL's, else its service's, else the
	 * environment's. */
	char host_default[1024], addr_default[1024], port_default[1024];
	if (host == NULL)
		host =
		    default_of(service, "host", "PGHOST", host_default, sizeof(host_default), ignored, sizeof(ignored));
	if (hostaddr == NULL)
		hostaddr = default_of(
		    service, "hostaddr", "PGHOSTADDR", addr_default, sizeof(addr_default), ignored, sizeof(ignored));
	if (port == NULL)
		port =
		    default_of(service, "port", "PGPORT", port_default, sizeof(port_default), ignored, sizeof(ignored));
	/* db.c gives options of its own, which would replace the user's
	 * (libpq fills in the service's and PGOPTIONS only when none is
	 * given): theirs are kept, to go after db.c's. */
	char options_default[1024];
	if (options == NULL)
		options = default_of(service, "options", "PGOPTIONS", options_default, sizeof(options_default), ignored,
		    sizeof(ignored));
	h->options = strdup(options != NULL ? options : "");
	if (h->options == NULL)
		rc = -1;
	/* libpq 15 connectOptions2: hostaddr's elements count the hosts, else
	 * host's, else one (its default); db_check_conninfo made sure the
	 * counts agree, and that the ports are one or as many. */
	int n_host = db_hosts_count(host), n_addr = db_hosts_count(hostaddr), n_port = db_hosts_count(port);
	int n    = n_addr > 0 ? n_addr : n_host > 0 ? n_host : 1;
	h->entry = calloc((size_t) n, sizeof(*h->entry));
	if (h->entry == NULL)
		rc = -1;
	for (int i = 0; rc == 0 && i < n; i++) {
		db_host *e  = &h->entry[i];
		h->n        = i + 1;
		e->host     = element(n_host == n ? host : NULL, i);
		e->hostaddr = element(n_addr == n ? hostaddr : NULL, i);
		e->port     = element(port, n_port == 1 ? 0 : i);
		if (e->host == NULL || e->hostaddr == NULL || e->port == NULL)
			rc = -1;
	}
	h->hosts    = n;
	h->prefer   = n >= 2 && (h->session_attrs != NULL || strcmp(h->given, "read-write") == 0 ||
                                  strcmp(h->given, "primary") == 0);
	h->url_hash = fnv1a(url);
	if (h->conninfo == NULL && rc == 0)
		h->conninfo = strdup("");
	if (h->conninfo == NULL)
		rc = -1;
	PQconninfoFree(opts);
	if (rc != 0)
		db_hosts_free(h);
	return rc;
}

char *
db_hosts_conninfo(const db_hosts *h, int i, const char *hostaddr)
{
	const db_host *e = &h->entry[i];
	char *out        = strdup(h->conninfo);
	size_t used      = out != NULL ? strlen(out) : 0;
	/* Each given even when empty: libpq then takes its default for it,
	 * not the environment's (conninfo_add_defaults fills only what is
	 * missing), as for an empty element of a list. */
	if (out == NULL || !append_setting(&out, &used, "host", e->host) ||
	    !append_setting(&out, &used, "hostaddr", hostaddr) || !append_setting(&out, &used, "port", e->port)) {
		free(out);
		return NULL;
	}
	return out;
}

void
db_hosts_free(db_hosts *h)
{
	for (int i = 0; h->entry != NULL && i < h->n; i++) {
		free(h->entry[i].host);
		free(h->entry[i].hostaddr);
		free(h->entry[i].port);
	}
	free(h->entry);
	free(h->conninfo);
	free(h->options);
	memset(h, 0, sizeof(*h));
}

static int
first(const db_hosts *h)
{
	uint64_t p = atomic_load(&preferred);
	int i      = (int) (p & 0xffffffffu) - 1;
	return p >> 32 == h->url_hash && i >= 0 && i < h->n ? i : 0;
}

int
db_hosts_start(const db_hosts *h)
{
	return h->prefer ? first(h) : 0;
}

void
db_hosts_connected(db_hosts *h, int i)
{
	if (h->prefer && i >= 0 && i < h->n)
		atomic_store(&preferred, (uint64_t) h->url_hash << 32 | (uint64_t) (i + 1));
}

void
db_hosts_forget(const db_hosts *h)
{
	if (h->n < 2)
		return;
	/* Only this URL's preference: another URL's is another server's. */
	uint64_t p = atomic_load(&preferred);
	while (p >> 32 == h->url_hash && !atomic_compare_exchange_weak(&preferred, &p, 0))
		;
}
