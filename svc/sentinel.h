/* The Redis Sentinel client protocol ("Sentinel client spec", redis.io
 * docs/reference/sentinel-clients) over hiredis 0.14, which has none: the
 * master's address is asked of the sentinels with SENTINEL
 * get-master-addr-by-name (step 1 of the spec; asked all at once rather
 * than in turn, so the lookup fits in one timeout however many are
 * silent); the caller connects to each address named and confirms it with
 * sentinel_role_is_master (ROLE, step 2) until one is the master, and asks
 * again after any disconnect, timeout or READONLY (step 3: never reuse the
 * old address).
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
	char host[SENTINEL_MAX][256]; /* IPv4 or IPv6 address (no brackets) or DNS name */
	int port[SENTINEL_MAX];
	char master[64];    /* the master's name (after '#'): [A-Za-z0-9._-], 1..63 bytes */
	char password[256]; /* AUTH for the master, %-decoded; "" none. Sentinels are asked without */
	int db;             /* 0..15 */
} sentinel_url;

/* True when url starts with redis-sentinel:// in any case (RFC 3986 3.1;
 * then sentinel_parse_url, not cache_parse_url, reads it). */
bool sentinel_is_url(const char *url);

/* Parses redis-sentinel://[:password@]host[:port],host[:port]...[/db]#master
 * (Lettuce's form) strictly: each host:port as cache_parse_url reads one
 * (an IPv6 address in brackets, [::1]:26379; port digits, default 26379), db 0..15, no query, a master name. The
 * user information ends at the first '@' and comes only before the first
 * sentinel (one password, the master's): an '@' in a later sentinel, or
 * after the authority (a '/', '?' or '#' in the password cut it short), is
 * refused; such characters of a password are %-encoded (%40 %2F %3F %23,
 * decoded here). Returns 0, or -1 with a reason in err that names the part
 * at fault (sentinel N, 1-based; the database; the master name) and never
 * repeats the password. */
int sentinel_parse_url(const char *url, sentinel_url *out, char *err, size_t errlen);

/* One sentinel being asked (sentinel_lookup's, not the caller's). */
typedef struct sentinel_asking {
	redisContext *ctx; /* non-blocking; NULL once it answered or failed */
	bool sent;         /* the whole command is written */
	char why[160];     /* what it did, for the error */
} sentinel_asking;

/* One lookup of the master: every sentinel asked at once
 * (SENTINEL get-master-addr-by-name), the answers read as they arrive,
 * each distinct address handed to the caller to confirm (connect, ROLE)
 * until one is the master. A sentinel that names a replica, a dead host or
 * itself (stale, or lying) thus costs one failed confirmation, not the
 * lookup: the others' answers are tried next, all before deadline_ms
 * (rpc_clock_ms's clock; one budget for the lookup and the confirmations,
 * not one per sentinel). The caller owns the struct (on its stack is
 * fine); its fields are this file's. Not thread safe. */
typedef struct sentinel_lookup {
	sentinel_url *s;
	int64_t deadline_ms;
	sentinel_asking a[SENTINEL_MAX]; /* by index in s at the start */
	struct {
		char host[256];
		int port;
		unsigned by; /* bit i: sentinel i named it */
		bool tried;
	} named[SENTINEL_MAX]; /* distinct addresses, in order of arrival */
	int n_named, current;  /* current: index in named of the last handed out, -1 none */
	unsigned confirmed_by, refuted_by;
} sentinel_lookup;

/* Starts asking every sentinel of s (non-blocking connects). Host names are
 * resolved here, before the budget can be looked at (getaddrinfo has no
 * timeout): give addresses where the resolver may be slow. */
void sentinel_lookup_start(sentinel_lookup *l, sentinel_url *s, int64_t deadline_ms);

/* The next address to confirm: among those named and not yet handed out,
 * the one most sentinels named, on a tie the one named by the sentinel
 * earliest in s's list; if none is in yet, waits (until the deadline) for
 * one. Returns 0 with host (NUL-terminated) and port, and in by the
 * sentinel(s) that named it ("sentinel H:P" or "sentinels H:P, H:P");
 * -1 when every sentinel has answered or failed, or the budget is spent. */
int sentinel_lookup_next(sentinel_lookup *l, char *host, size_t host_len, int *port, char *by, size_t by_len);

/* True while another address may still come: one named and not handed
 * out, or a sentinel not yet answered (the caller may then keep part of
 * the budget for it). */
bool sentinel_lookup_may_name_more(const sentinel_lookup *l);

/* The address last handed out is (not) the master: its sentinels move to
 * the front (confirmed) or the back (refuted) of s's list at the end, so
 * on a tie the next lookup prefers a sentinel that was right. */
void sentinel_lookup_confirmed(sentinel_lookup *l);
void sentinel_lookup_refuted(sentinel_lookup *l);

/* Ends the lookup: closes every connection, reorders s (spec step 1:
 * a sentinel that was right first; one whose answer failed confirmation
 * last), and writes in err what each sentinel that named no address did
 * (refused, silent until the deadline, master unknown), "" if all named
 * one. */
void sentinel_lookup_end(sentinel_lookup *l, char *err, size_t errlen);

/* "host:port", or "[host]:port" for an IPv6 address (RFC 3986 3.2.2). */
void sentinel_addr_text(const char *host, int port, char *out, size_t len);

/* ROLE on ctx: 1 when the server says it is a master; 0 when it is a
 * replica or a sentinel (a stale address: ask again), its role copied to
 * role ("slave", "sentinel"); -1 when it did not answer (ctx is then dead,
 * as after any failed hiredis command). */
int sentinel_role_is_master(redisContext *ctx, char *role, size_t role_len);

#endif
