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
 * libpq applies no connect_timeout, so it gives libpq one host per connect
 * and bounds each itself (db_hosts_entry). */
#ifndef SVC_DB_HOSTS_H
#define SVC_DB_HOSTS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct db_hosts {
	int n;                     /* hosts libpq takes (the URL's, else its service's, else
	                            * PGHOST's or PGHOSTADDR's) when 2 or more, else 0 */
	int hosts;                 /* hosts libpq will try: the URL's, else its service's,
	                            * else PGHOST's (or PGHOSTADDR's); at least 1 */
	const char *session_attrs; /* "read-write" to give libpq when no value was chosen,
	                            * else NULL (static) */
	bool prefer;               /* n >= 2 and only a server that takes writes is taken:
	                            * start at the host that last worked */
	bool one_by_one;           /* n >= 2 and each host can be given to libpq on its own
	                            * (no empty element in host, hostaddr or a port list) */
	char **host;               /* n elements each ("" when not given), or NULL */
	char **hostaddr;           /* likewise */
	char **port;               /* n elements, or NULL when one port (or none) serves all */
	uint32_t url_hash;         /* which URL the process-wide preference is about */
	char lists[3][1024];       /* the reordered host, hostaddr and port lists */
	char given[32];            /* the value chosen, "" when none */
	char source[96];           /* where given comes from: "url", "service NAME" or
	                            * "PGTARGETSESSIONATTRS"; "" when none */
} db_hosts;

/* Reads url's host, hostaddr and port lists and the target_session_attrs
 * libpq would use: the URL's, else its service's (the URL's service=, else
 * PGSERVICE), else PGTARGETSESSIONATTRS's. Returns 0, or -1 when out of
 * memory (h is then empty; a URL libpq cannot parse leaves it empty too:
 * db_check_conninfo refused it before). */
int db_hosts_init(db_hosts *h, const char *url);

void db_hosts_free(db_hosts *h);

/* Elements of a comma-separated libpq list (host, hostaddr, port): 0 for
 * NULL or "". Also db_conninfo.c's, which checks that the counts agree. */
int db_hosts_count(const char *list);

/* The host, hostaddr and port values to give libpq after the URL (NULL:
 * keep the URL's), starting at the preferred host. Borrowed from h until the
 * next call. One thread per h; the preference is shared atomically. */
void db_hosts_order(db_hosts *h, const char **host, const char **hostaddr, const char **port);

/* The entries a connect goes through, each a connect of its own: n when
 * one_by_one, else 1 (the whole list, libpq trying its hosts in turn). */
int db_hosts_entries(const db_hosts *h);

/* The entry a connect starts at: the host that last took a connection
 * (when prefer), else 0. Read once per connect, so its entries stay in
 * step while another thread records a success. */
int db_hosts_start(const db_hosts *h);

/* The host, hostaddr and port values to give libpq after the URL for entry
 * i (0 .. db_hosts_entries - 1) of a connect that started at start: the
 * (start + i) % n-th host alone, or, when not one_by_one, db_hosts_order's
 * lists. NULL: keep the URL's. Borrowed from h until the next call. */
void db_hosts_entry(db_hosts *h, int start, int i, const char **host, const char **hostaddr, const char **port);

/* Records which host pg (connected with db_hosts_entry's values) reached, as
 * the one to start at next time (only when h->prefer). */
void db_hosts_connected(db_hosts *h, PGconn *pg);

/* Forgets the host that last worked, for h's URL: its server refused a
 * write (25006), so the next connect goes through the list from the start. */
void db_hosts_forget(const db_hosts *h);

#endif
