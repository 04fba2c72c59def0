/* db_hosts.h: which hosts of a multi-host URL are taken, and the order in
 * which they are tried. */
#include "svc/db_hosts.h"

#include <stdatomic.h>
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

/* list split at commas into n strings (n = db_hosts_count(list)). */
static char **
split(const char *list, int n)
{
	char **out = calloc((size_t) n, sizeof(*out));
	for (int i = 0; out != NULL && i < n; i++) {
		size_t len = strcspn(list, ",");
		if ((out[i] = strndup(list, len)) == NULL) {
			for (int j = 0; j < i; j++)
				free(out[j]);
			free(out);
			return NULL;
		}
		list += len + (list[len] == ',');
	}
	return out;
}

/* Whether every element of list (n of them, or NULL) is given: libpq
 * ignores an empty value passed on its own, and would take the whole list
 * of the URL instead. */
static bool
every_given(char **list, int n)
{
	for (int i = 0; list != NULL && i < n; i++)
		if (list[i][0] == '\0')
			return false;
	return true;
}

static void
free_list(char **list, int n)
{
	for (int i = 0; list != NULL && i < n; i++)
		free(list[i]);
	free(list);
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
	PQconninfoOption *opts = PQconninfoParse(url, NULL);
	if (opts == NULL)
		return 0;
	const char *host = NULL, *hostaddr = NULL, *port = NULL, *attrs = NULL, *service = NULL;
	for (const PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		const char *v = o->val != NULL && o->val[0] != '\0' ? o->val : NULL;
		if (strcmp(o->keyword, "host") == 0)
			host = v;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = v;
		else if (strcmp(o->keyword, "port") == 0)
			port = v;
		else if (strcmp(o->keyword, "target_session_attrs") == 0)
			attrs = v;
		else if (strcmp(o->keyword, "service") == 0)
			service = v;
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
	/* How many hosts libpq will try, for the start-up line. */
	char hosts_default[1024];
	const char *hosts_seen = host != NULL ? host : hostaddr;
	if (hosts_seen == NULL)
		hosts_seen = default_of(
		    service, "host", "PGHOST", hosts_default, sizeof(hosts_default), ignored, sizeof(ignored));
	if (hosts_seen == NULL)
		hosts_seen = default_of(
		    service, "hostaddr", "PGHOSTADDR", hosts_default, sizeof(hosts_default), ignored, sizeof(ignored));
	h->hosts = db_hosts_count(hosts_seen) > 1 ? db_hosts_count(hosts_seen) : 1;
	/* The lists libpq will take, each on its own (libpq's
	 * conninfo_add_defaults): the URL's, else its service's, else the
	 * environment's, so hosts given another way are tried one at a time
	 * too. */
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
	int n_host = db_hosts_count(host), n_addr = db_hosts_count(hostaddr);
	int n  = n_addr > n_host ? n_addr : n_host;
	int rc = 0;
	if (n >= 2) {
		h->n = n;
		h->prefer =
		    h->session_attrs != NULL || strcmp(h->given, "read-write") == 0 || strcmp(h->given, "primary") == 0;
		h->url_hash = fnv1a(url);
		/* db_check_conninfo made sure the counts agree (or one port). */
		if ((n_host == n && (h->host = split(host, n)) == NULL) ||
		    (n_addr == n && (h->hostaddr = split(hostaddr, n)) == NULL) ||
		    (db_hosts_count(port) == n && (h->port = split(port, n)) == NULL)) {
			db_hosts_free(h);
			rc = -1;
		} else {
			h->one_by_one =
			    every_given(h->host, n) && every_given(h->hostaddr, n) && every_given(h->port, n);
		}
	}
	PQconninfoFree(opts);
	return rc;
}

void
db_hosts_free(db_hosts *h)
{
	free_list(h->host, h->n);
	free_list(h->hostaddr, h->n);
	free_list(h->port, h->n);
	memset(h, 0, sizeof(*h));
}

static int
first(const db_hosts *h)
{
	uint64_t p = atomic_load(&preferred);
	int i      = (int) (p & 0xffffffffu) - 1;
	return p >> 32 == h->url_hash && i >= 0 && i < h->n ? i : 0;
}

/* list's elements from start on, wrapping, joined with commas into out. */
static const char *
join_from(char **list, int n, int start, char *out, size_t len)
{
	if (list == NULL)
		return NULL;
	size_t used = 0;
	out[0]      = '\0';
	for (int k = 0; k < n && used < len; k++)
		used += (size_t) snprintf(out + used, len - used, "%s%s", k > 0 ? "," : "", list[(start + k) % n]);
	return used < len ? out : NULL; /* too long to reorder: the URL's order */
}

void
db_hosts_order(db_hosts *h, const char **host, const char **hostaddr, const char **port)
{
	*host = *hostaddr = *port = NULL;
	int start                 = h->prefer ? first(h) : 0;
	if (start == 0)
		return;
	const char *hs = join_from(h->host, h->n, start, h->lists[0], sizeof(h->lists[0]));
	const char *as = join_from(h->hostaddr, h->n, start, h->lists[1], sizeof(h->lists[1]));
	const char *ps = join_from(h->port, h->n, start, h->lists[2], sizeof(h->lists[2]));
	/* All reordered, or none: the lists must stay in step. */
	if ((h->host != NULL && hs == NULL) || (h->hostaddr != NULL && as == NULL) || (h->port != NULL && ps == NULL))
		return;
	*host     = hs;
	*hostaddr = as;
	*port     = ps;
}

int
db_hosts_entries(const db_hosts *h)
{
	return h->one_by_one ? h->n : 1;
}

int
db_hosts_start(const db_hosts *h)
{
	return h->prefer ? first(h) : 0;
}

void
db_hosts_entry(db_hosts *h, int start, int i, const char **host, const char **hostaddr, const char **port)
{
	if (!h->one_by_one) {
		db_hosts_order(h, host, hostaddr, port);
		return;
	}
	int j     = (start + i) % h->n;
	*host     = h->host != NULL ? h->host[j] : NULL;
	*hostaddr = h->hostaddr != NULL ? h->hostaddr[j] : NULL;
	*port     = h->port != NULL ? h->port[j] : NULL;
}

void
db_hosts_connected(db_hosts *h, PGconn *pg)
{
	if (!h->prefer)
		return;
	/* PQhost is the host name given, else the hostaddr; PQport the port
	 * given, else the default. */
	const char *host = PQhost(pg), *port = PQport(pg);
	if (host == NULL || port == NULL)
		return;
	int start = first(h);
	for (int k = 0; k < h->n; k++) {
		int i            = (start + k) % h->n;
		const char *name = h->host != NULL && h->host[i][0] != '\0' ? h->host[i]
		                   : h->hostaddr != NULL                    ? h->hostaddr[i]
		                                                            : "";
		if (strcmp(name, host) != 0 ||
		    (h->port != NULL && h->port[i][0] != '\0' && strcmp(h->port[i], port) != 0))
			continue;
		atomic_store(&preferred, (uint64_t) h->url_hash << 32 | (uint64_t) (i + 1));
		return;
	}
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
