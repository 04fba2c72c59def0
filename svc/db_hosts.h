/* The order in which a connection string's hosts are tried (issue 20).
 * libpq tries the hosts of a multi-host URL in their written order, each up
 * to connect_timeout; after a failover the first may be a dead machine that
 * answers nothing, so every reconnect would wait out its timeout before
 * reaching the new primary. db_hosts starts the list at the host that last
 * took a connection from any handle of this process with the same URL, and
 * goes on in the written order from there (wrapping), so libpq still tries
 * them all. Private to svc/ (db.c, db_conninfo.c). */
#ifndef SVC_DB_HOSTS_H
#define SVC_DB_HOSTS_H

#include <libpq-fe.h>
#include <stdint.h>

typedef struct db_hosts {
	int n;               /* hosts in the URL; below 2, nothing is reordered */
	char **host;         /* n elements each ("" when not given), or NULL */
	char **hostaddr;     /* likewise */
	char **port;         /* n elements, or NULL when one port (or none) serves all */
	uint32_t url_hash;   /* which URL the process-wide preference is about */
	char lists[3][1024]; /* the reordered host, hostaddr and port lists */
} db_hosts;

/* Reads url's host, hostaddr and port lists. Returns 0, or -1 when out of
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

/* Records which host pg (connected with db_hosts_order's lists) reached, as
 * the one to start at next time. */
void db_hosts_connected(db_hosts *h, PGconn *pg);

#endif
