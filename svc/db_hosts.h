/* Which of a connection string's hosts are taken, and in which order they
 * are tried (issue 20). Private to svc/ (db.c, db_conninfo.c).
 *
 * Taken: every service writes on each of its connections, and libpq's
 * default target_session_attrs=any takes the first server that answers,
 * which while the primary is down is a standby (every write then fails with
 * SQLSTATE 25006), wherever the hosts come from (the URL, PGHOST, a service
 * file). So unless the operator chose a value (in the URL, the service file
 * its service names, or PGTARGETSESSIONATTRS: libpq's order), every connect
 * asks for read-write, one host too: a server that cannot take writes is
 * then refused at connect, with libpq's reason, instead of taken. A value
 * given is kept (the start-up log warns about one that accepts a server
 * without writes: db_log_url).
 *
 * Order: libpq tries the hosts in their written order, each up to
 * connect_timeout; after a failover the first may be a dead machine that
 * answers nothing, so every reconnect would wait out its timeout before
 * reaching the new primary. When only a server that takes writes is taken
 * (read-write or primary), db_hosts starts the list at the host that last
 * took a connection from any handle of this process with the same URL, and
 * goes on in the written order from there (wrapping), so libpq still tries
 * them all. With any other value the host that last worked may be the one
 * that cannot take writes (a standby taken while the primary was down), and
 * starting there would keep the service on it after the primary is back:
 * then the written order is kept.
 *
 * One at a time: db.c connects asynchronously (PQconnectStartParams), where
 * libpq applies no connect_timeout, so db_hosts expands the lists into
 * concrete entries, as libpq 15's connectOptions2 does (docs "Connection
 * Strings", 34.1.1.3 "Specifying Multiple Hosts"): entry i takes element i
 * of host and of hostaddr; one port serves every host, else port i; an
 * empty element is libpq's default for it (an empty port 5432; an empty
 * host with an empty hostaddr the default Unix socket directory; an empty
 * hostaddr with a host name: the name is looked up). db.c gives libpq one
 * entry, and for a host name one address of it (hostaddr), at a time, and
 * bounds each itself. */
#ifndef SVC_DB_HOSTS_H
#define SVC_DB_HOSTS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

/* One host to connect to: strings, "" for libpq's default (never NULL). */
typedef struct db_host {
	char *host;     /* a name, a Unix socket directory (/...) or an IP address; "" */
	char *hostaddr; /* an IP address, "" */
	char *port;     /* "" */
} db_host;

typedef struct db_hosts {
	int n;                     /* entries (n >= 1 once db_hosts_init succeeded) */
	int hosts;                 /* n, at least 1 (for the start-up line) */
	db_host *entry;            /* n entries, in the written order */
	char *conninfo;            /* the URL's other settings as a key='value' string
	                            * (service= included: libpq reads it at connect) */
	const char *session_attrs; /* "read-write" to give libpq when no value was chosen,
	                            * else NULL (static) */
	bool prefer;               /* n >= 2 and only a server that takes writes is taken:
	                            * start at the host that last worked */
	uint32_t url_hash;         /* which URL the process-wide preference is about */
	char *options;             /* the user's options (-c settings): the URL's, else its
	                            * service's, else PGOPTIONS; "" when none. db.c gives
	                            * them after its own, so theirs win */
	char given[32];            /* the value chosen, "" when none */
	char source[96];           /* where given comes from: "url", "service NAME" or
	                            * "PGTARGETSESSIONATTRS"; "" when none */
} db_hosts;

/* Reads url's host, hostaddr and port lists (the URL's, else its service's,
 * else PGHOST, PGHOSTADDR, PGPORT: libpq's conninfo_add_defaults) into
 * entries, and the target_session_attrs libpq would use: the URL's, else its
 * service's (the URL's service=, else PGSERVICE), else PGTARGETSESSIONATTRS's;
 * and options the same way (else PGOPTIONS).
 * Returns 0, or -1 when out of memory or when url cannot be parsed
 * (db_check_conninfo refuses it before; h is then empty). */
int db_hosts_init(db_hosts *h, const char *url);

void db_hosts_free(db_hosts *h);

/* Elements of a comma-separated libpq list (host, hostaddr, port): 0 for
 * NULL or "". Also db_conninfo.c's, which checks that the counts agree. */
int db_hosts_count(const char *list);

/* The entry a connect starts at: the host that last took a connection
 * (when prefer), else 0. Read once per connect, so its entries stay in
 * step while another thread records a success. Entry i of that connect is
 * h->entry[(start + i) % h->n]. */
int db_hosts_start(const db_hosts *h);

/* Entry i as a libpq connection string: the URL's other settings, then
 * host, hostaddr (the one given, e.g. an address of the entry's host name)
 * and port, each given even when empty (libpq's default then, never the
 * environment's). The caller's to free; NULL when out of memory. */
char *db_hosts_conninfo(const db_hosts *h, int i, const char *hostaddr);

/* Records entry i as the one that took a connection, to start at next time
 * (only when h->prefer). */
void db_hosts_connected(db_hosts *h, int i);

/* Forgets the host that last worked, for h's URL: its server refused a
 * write (25006), so the next connect goes through the list from the start. */
void db_hosts_forget(const db_hosts *h);

#endif
