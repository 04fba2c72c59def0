/* The Redis Sentinel client protocol ("Sentinel client spec", redis.io
 * docs/reference/sentinel-clients) over hiredis 0.14, which has none: the
 * master's address is asked of the sentinels with SENTINEL
 * get-master-addr-by-name, the first that answers moving to the front of
 * the list (step 1 of the spec; asked all at once rather than in turn, so
 * the lookup fits in one timeout however many are silent); the caller connects and confirms with
 * sentinel_role_is_master (ROLE, step 2), and asks again after any
 * disconnect, timeout or READONLY (step 3: never reuse the old address).
 * Not thread safe: one sentinel_url per connection's owner (cache.h: one
 * cache per thread). */
#ifndef SVC_SENTINEL_H
#define SVC_SENTINEL_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
 * (port digits, default 26379), db 0..15, no query, a master name. The
 * user information ends at the first '@' and comes only before the first
 * sentinel (one password, the master's): an '@' in a later sentinel, or
 * after the authority (a '/', '?' or '#' in the password cut it short), is
 * refused; such characters of a password are %-encoded (%40 %2F %3F %23,
 * decoded here). Returns 0, or -1 with a reason in err that names the part
 * at fault (sentinel N, 1-based; the database; the master name) and never
 * repeats the password. */
int sentinel_parse_url(const char *url, sentinel_url *out, char *err, size_t errlen);

/* Asks every sentinel at once for the master's address and takes the first
 * that names one (a silent or unreachable sentinel costs nothing while
 * another answers), all before deadline_ms (rpc_clock_ms's clock): one
 * budget for the whole lookup, not one per sentinel. The one that answered
 * moves to the front of s's list. Returns 0 with host (a NUL-terminated
 * copy) and port, or -1 with err saying what each sentinel did (refused,
 * silent until the deadline, master unknown). Host names are resolved
 * before the budget starts to count (getaddrinfo has no timeout): give
 * addresses where the resolver may be slow. */
int sentinel_master_addr(
    sentinel_url *s, int64_t deadline_ms, char *host, size_t host_len, int *port, char *err, size_t errlen);

/* ROLE on ctx: 1 when the server says it is a master; 0 when it is a
 * replica or a sentinel (a stale address: ask again), its role copied to
 * role ("slave", "sentinel"); -1 when it did not answer (ctx is then dead,
 * as after any failed hiredis command). */
int sentinel_role_is_master(redisContext *ctx, char *role, size_t role_len);

#endif
