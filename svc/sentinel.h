/* The Redis Sentinel client protocol ("Sentinel client spec", redis.io
 * docs/reference/sentinel-clients) over hiredis 0.14, which has none: the
 * master's address is asked of each sentinel in turn with SENTINEL
 * get-master-addr-by-name, the first that answers moving to the front of
 * the list (step 1 of the spec); the caller connects and confirms with
 * sentinel_role_is_master (ROLE, step 2), and asks again after any
 * disconnect, timeout or READONLY (step 3: never reuse the old address).
 * Not thread safe: one sentinel_url per connection's owner (cache.h: one
 * cache per thread). */
#ifndef SVC_SENTINEL_H
#define SVC_SENTINEL_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#define SENTINEL_MAX 8              /* sentinels one URL may list */
#define SENTINEL_DEFAULT_PORT 26379 /* a sentinel's port when the URL gives none */

typedef struct sentinel_url {
	int n;                        /* sentinels listed, 1..SENTINEL_MAX; asked in this order */
	char host[SENTINEL_MAX][256]; /* IPv4 address or DNS name */
	int port[SENTINEL_MAX];
	char master[64];    /* the master's name (after '#'): [A-Za-z0-9._-], 1..63 bytes */
	char password[256]; /* AUTH for the master, %-decoded; "" none. Sentinels are asked without */
	int db;             /* 0..15 */
} sentinel_url;

/* True when url starts with redis-sentinel:// (then sentinel_parse_url, not
 * cache_parse_url, reads it). */
bool sentinel_is_url(const char *url);

/* Parses redis-sentinel://[:password@]host[:port],host[:port]...[/db]#master
 * (Lettuce's form) strictly: each host:port as cache_parse_url reads one
 * (port digits, default 26379), db 0..15, no query, a master name. Returns
 * 0, or -1 with a reason in err that names the sentinel (1-based) when one
 * is at fault and never repeats the URL (it may hold the password). */
int sentinel_parse_url(const char *url, sentinel_url *out, char *err, size_t errlen);

/* Asks the sentinels in turn for the master's address, each connect and
 * reply bounded by timeout_ms; the first that names one moves to the front
 * of s's list. Returns 0 with host (a NUL-terminated copy) and port, or -1
 * with err saying what each sentinel answered (none reachable, master
 * unknown). */
int sentinel_master_addr(
    sentinel_url *s, int timeout_ms, char *host, size_t host_len, int *port, char *err, size_t errlen);

/* ROLE on ctx: 1 when the server says it is a master, 0 when it is a
 * replica or a sentinel (a stale address: ask again), -1 when it did not
 * answer (ctx is then dead, as after any failed hiredis command). */
int sentinel_role_is_master(redisContext *ctx);

#endif
