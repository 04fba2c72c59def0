/* cache.h over hiredis 0.14. */
#include "svc/cache.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/time.h>

#include "base/log.h"
#include "base/net_check.h"
#include "svc/backoff.h"
#include "svc/sentinel.h"

#define LEASE_MS 10000 /* longer than any fill takes; then the lease lapses by itself */

struct cache {
	int max_ttl_s;
	char host[256];
	char password[256];
	int port, db;
	int timeout_ms;
	redisContext *ctx;
	backoff retry;
	sentinel_url *sentinels; /* NULL: host and port are fixed; else asked of Sentinel at each connect */
	char last_error[1024];   /* why the connection is down (cache_status); "" while up */
};

static _Atomic uint64_t errors, hits, misses;

/* Invalidations that failed (Redis down or slow) and must land before any
 * cached value is trusted again: every command of every cache flushes them
 * first. Past PENDING_MAX, the cache is distrusted for a whole TTL. The
 * lock guards the list only, never a network call: a flush takes the keys
 * out (n_sending), sends them unlocked and puts back those not landed;
 * pending_count counts both, so no read trusts the cache meanwhile. */
#define PENDING_MAX 1024
static pthread_mutex_t pending_mu = PTHREAD_MUTEX_INITIALIZER;
static char *pending[PENDING_MAX];
static int n_pending, n_sending;
static _Atomic int pending_count;
static _Atomic int64_t distrust_until_ms;

/* With Sentinel, replication is asynchronous: a DEL the master acknowledged
 * may be missing on the replica Sentinel promotes, which would then serve
 * the value it deleted. So an invalidation counts as landed only once a
 * replica acknowledged it (WAIT 1); until then its key stays pending, reads
 * of this process bypass the cache, and the DEL is sent again (to the new
 * master after a failover). A replica that holds a DEL holds all before it
 * (one replication stream), and Sentinel promotes the replica with the
 * largest offset. Flushes that fail wait UNCONFIRMED_RETRY_MS between
 * tries, so a missing replica costs reads a database query, not a WAIT. */
#define UNCONFIRMED_RETRY_MS 1000
static _Atomic int64_t pending_retry_at_ms;

uint64_t
cache_error_count(void)
{
	return atomic_load(&errors);
}

uint64_t
cache_hit_count(void)
{
	return atomic_load(&hits);
}

uint64_t
cache_miss_count(void)
{
	return atomic_load(&misses);
}

/* Digits only (no sign, no white space, as env.c's integers), at most
 * max; *end is set past them. -1 when there are none or too many. */
static long
parse_digits(const char *s, long max, const char **end)
{
	size_t n = strspn(s, "0123456789");
	long v   = 0;
	for (size_t i = 0; i < n && v <= max; i++)
		v = v * 10 + (s[i] - '0');
	*end = s + n;
	return n == 0 || v > max ? -1 : v;
}

int
cache_parse_url(const char *url, char *host, size_t host_len, int *port, int *db, char *password, size_t password_len,
    char *err, size_t errlen)
{
	static const char scheme[] = "redis://";
	if (strncasecmp(url, scheme, sizeof(scheme) - 1) != 0) { /* any case: RFC 3986 3.1 */
		snprintf(err, errlen, "does not start with redis:// or redis-sentinel://");
		return -1;
	}
	const char *p = url + sizeof(scheme) - 1;
	password[0]   = '\0';
	/* No message quotes the URL: it may hold the password. The user
	 * information ends at the last '@' of the authority (which
	 * ends at '/', '?' or '#'), the rule
	 * env_mask_url follows, so --help masks exactly this password. */
	const char *at = NULL;
	for (const char *q = p; *q != '\0' && strchr("/?#", *q) == NULL; q++)
		if (*q == '@')
			at = q;
	/* '/', '?' and '#' end the authority (RFC 3986 3.2): a password
	 * holding one is cut there and its '@' follows. */
	if (strchr(p + strcspn(p, "/?#"), '@') != NULL) {
		snprintf(err, errlen,
		    "has an @ after a /, ? or #: a password holding /, ?, # or @ must write them %%2F, %%3F, "
		    "%%23, %%40 (RFC 3986 2.1)");
		return -1;
	}
	if (at != NULL) {
		const char *colon = memchr(p, ':', (size_t) (at - p));
		/* A user name alone would need Redis 6 ACLs (AUTH user pw),
		 * which hiredis 0.14 does not speak. */
		if (colon == NULL) {
			snprintf(err, errlen, "has a user name but no password: use redis://:password@host");
			return -1;
		}
		if (colon != p) {
			snprintf(err, errlen,
			    "has a user name, and Redis ACL users are not supported (hiredis 0.14 "
			    "sends AUTH with the password alone): use redis://:password@host");
			return -1;
		}
		if ((size_t) (at - colon - 1) >= password_len) {
			snprintf(err, errlen, "has a password longer than %zu bytes", password_len - 1);
			return -1;
		}
		/* User information is %-encoded (RFC 3986 3.2.1), as libpq and
		 * librabbitmq read it: "%40" is '@'. */
		size_t o = 0;
		for (const char *q = colon + 1; q < at; q++) {
			if (*q == '%') {
				if (q + 2 >= at || !isxdigit((unsigned char) q[1]) || !isxdigit((unsigned char) q[2])) {
					snprintf(
					    err, errlen, "has a password with a '%%' that is not %%XX (RFC 3986 2.1)");
					return -1;
				}
				char hex[3]   = {q[1], q[2], '\0'};
				password[o++] = (char) strtol(hex, NULL, 16);
				q += 2;
			} else {
				password[o++] = *q;
			}
		}
		password[o] = '\0';
		p           = at + 1;
	}
	/* An IPv6 address is written in brackets (RFC 3986 3.2.2: "[::1]:6379"),
	 * as the database and AMQP settings take it; hiredis 0.14 connects to it
	 * (getaddrinfo, IPv4 first, then IPv6). */
	size_t alen = strcspn(p, "/?#");
	char text[64];
	if (*p != '[' && alen < sizeof(text)) {
		unsigned char addr[16];
		snprintf(text, sizeof(text), "%.*s", (int) alen, p);
		if (inet_pton(AF_INET6, text, addr) == 1) {
			snprintf(err, errlen, "has an IPv6 address without brackets: write it redis://[%s]:port", text);
			return -1;
		}
	}
	const char *h = p;
	size_t hlen   = strcspn(p, ":/?#");
	if (*p == '[') {
		const char *close = memchr(p, ']', alen);
		if (close == NULL) {
			snprintf(err, errlen, "has a '[' without its ']' (an IPv6 address is written [::1])");
			return -1;
		}
		h    = p + 1;
		hlen = (size_t) (close - h);
		if (hlen == 0 || memchr(h, ':', hlen) == NULL) {
			snprintf(err, errlen,
			    "has host '%.*s', which is not an IPv6 address (only those are written in "
			    "brackets)",
			    (int) (hlen + 2 > 64 ? 64 : hlen + 2), p);
			return -1;
		}
		if (net_check_host(h, hlen, 1, err, errlen) != 0)
			return -1;
		p = close + 1;
	} else {
		if (hlen == 0 || hlen >= host_len) {
			snprintf(err, errlen, "has no host");
			return -1;
		}
		if (net_check_host(p, hlen, 0, err, errlen) != 0)
			return -1;
		p += hlen;
	}
	if (hlen >= host_len) {
		snprintf(err, errlen, "has no host");
		return -1;
	}
	snprintf(host, host_len, "%.*s", (int) hlen, h);
	*port = 6379;
	*db   = 0;
	const char *end;
	if (*p == ':') {
		long v = parse_digits(p + 1, 65535, &end);
		if (v < 1 || (*end != '\0' && *end != '/')) {
			snprintf(err, errlen, "has a bad port (1-65535)");
			return -1;
		}
		*port = (int) v;
		p     = end;
	}
	if (*p == '/' && p[1] != '\0') {
		long v = parse_digits(p + 1, 15, &end);
		if (v < 0 || *end != '\0') {
			snprintf(err, errlen, "has a bad database number (0-15)");
			return -1;
		}
		*db = (int) v;
	} else if (*p != '\0' && strcmp(p, "/") != 0) {
		snprintf(err, errlen, "is not redis://[:password@]host[:port][/db]");
		return -1;
	}
	return 0;
}

cache *
cache_new(const char *url, int timeout_ms, int max_ttl_s)
{
	cache *c = calloc(1, sizeof(*c));
	char err[256];
	if (c != NULL && sentinel_is_url(url)) {
		c->sentinels = malloc(sizeof(*c->sentinels));
		if (c->sentinels == NULL || sentinel_parse_url(url, c->sentinels, err, sizeof(err)) != 0) {
			free(c->sentinels);
			free(c);
			return NULL;
		}
		snprintf(c->password, sizeof(c->password), "%s", c->sentinels->password);
		c->db = c->sentinels->db;
	} else if (c == NULL || cache_parse_url(url, c->host, sizeof(c->host), &c->port, &c->db, c->password,
	                            sizeof(c->password), err, sizeof(err)) != 0) {
		free(c);
		return NULL;
	}
	c->timeout_ms = timeout_ms;
	c->max_ttl_s  = max_ttl_s;
	backoff_init(&c->retry, 200, 5000);
	/* Not shared with the other connections (backoff_share): a frozen Redis
	 * still accepts connections, so one getting through proves nothing. */
	return c;
}

void
cache_free(cache *c)
{
	if (c == NULL)
		return;
	if (c->ctx != NULL)
		redisFree(c->ctx);
	free(c->sentinels);
	free(c);
}

/* Drops the connection (if any) and backs off. The whole reason is kept
 * and logged: a Sentinel lookup's names what each sentinel did, and its
 * end is often the useful part. */
static cache_result
failed(cache *c, const char *op, const char *reason)
{
	if (reason != c->last_error) /* reason may live in the context freed below */
		snprintf(c->last_error, sizeof(c->last_error), "%s", reason);
	atomic_fetch_add(&errors, 1);
	if (c->ctx != NULL) {
		redisFree(c->ctx);
		c->ctx = NULL;
		backoff_failed(&c->retry);
	}
	log_warn(NULL, "cache_error op=%s reason=\"%s\" retry_ms=%d", op, c->last_error, c->retry.current_ms);
	return CACHE_ERROR;
}

/* Queues key (owned: taken over, or freed when already queued); the
 * caller holds pending_mu. Too many to track: trust nothing cached until
 * every value that may be stale has expired. */
static void
queue_locked(const cache *c, char *key)
{
	for (int i = 0; i < n_pending; i++)
		if (strcmp(pending[i], key) == 0) { /* already to be sent */
			free(key);
			return;
		}
	if (n_pending < PENDING_MAX) {
		pending[n_pending++] = key;
		return;
	}
	free(key);
	atomic_store(&distrust_until_ms, rpc_clock_ms() + (int64_t) c->max_ttl_s * 1000);
	log_warn(NULL, "cache_distrusted seconds=%d reason=\"too many failed invalidations\"", c->max_ttl_s);
}

/* Remembers a key whose invalidation failed. */
static void
remember_pending(const cache *c, const char *key)
{
	char *copy = strdup(key);
	pthread_mutex_lock(&pending_mu);
	if (copy != NULL)
		queue_locked(c, copy);
	else /* out of memory: as when too many */
		atomic_store(&distrust_until_ms, rpc_clock_ms() + (int64_t) c->max_ttl_s * 1000);
	atomic_store(&pending_count, n_pending + n_sending);
	pthread_mutex_unlock(&pending_mu);
}

/* Takes every queued key out for sending (keys has room for PENDING_MAX);
 * returns how many. They still count in pending_count. */
static int
take_pending(char **keys)
{
	pthread_mutex_lock(&pending_mu);
	int n = n_pending;
	memcpy(keys, pending, sizeof(*keys) * (size_t) n);
	n_pending = 0;
	n_sending += n;
	pthread_mutex_unlock(&pending_mu);
	return n;
}

/* Ends a send of n taken keys: the first landed are forgotten, the rest
 * queued again (unless queued again meanwhile). */
static void
settle_pending(const cache *c, char **keys, int n, int landed)
{
	pthread_mutex_lock(&pending_mu);
	n_sending -= n;
	for (int i = 0; i < n; i++) {
		if (i < landed)
			free(keys[i]);
		else
			queue_locked(c, keys[i]);
	}
	atomic_store(&pending_count, n_pending + n_sending);
	pthread_mutex_unlock(&pending_mu);
}

/* WAIT 1: true when a replica acknowledged every write of this connection
 * so far. Bounded by half the command timeout, so the connection's own
 * timeout does not fire first. */
static bool
replicated(cache *c, const char *op)
{
	redisReply *r = redisCommand(c->ctx, "WAIT 1 %d", c->timeout_ms > 1 ? c->timeout_ms / 2 : 1);
	bool ok       = r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer >= 1;
	if (r == NULL)
		failed(c, op, c->ctx->errstr);
	else if (!ok)
		log_warn(NULL, "cache_invalidation_unconfirmed op=%s reason=\"no replica acknowledged it\"", op);
	freeReplyObject(r);
	return ok;
}

/* Lands the failed invalidations on c's live connection: takes them out
 * of the list, sends each DEL, puts back those not landed. With Sentinel
 * they land only once a replica acknowledged them all (WAIT 1), and after
 * a WAIT that failed the next try waits UNCONFIRMED_RETRY_MS. True when
 * none is left (queued or being sent by another thread): only then may a
 * cached value be read. False when Redis failed again (the connection is
 * dropped) or others are still pending; the caller serves from the
 * database then. */
static bool
flush_pending(cache *c)
{
	if (c->sentinels != NULL && rpc_clock_ms() < atomic_load(&pending_retry_at_ms))
		return false; /* a replica was missing a moment ago: the database serves */
	char *keys[PENDING_MAX];
	int n      = take_pending(keys);
	int landed = 0;
	bool ok    = true;
	for (int i = 0; i < n && ok; i++) {
		redisReply *r = redisCommand(c->ctx, "DEL %s %s:lease", keys[i], keys[i]);
		ok            = r != NULL && r->type != REDIS_REPLY_ERROR;
		freeReplyObject(r);
		if (ok && c->sentinels == NULL) {
			log_info(NULL, "cache_invalidation_landed key=%s", keys[i]);
			landed++;
		}
	}
	if (!ok) {
		char why[160];
		snprintf(why, sizeof(why), "%s", c->ctx->err ? c->ctx->errstr : "DEL refused");
		settle_pending(c, keys, n, landed);
		failed(c, "flush_pending", why);
		return false;
	}
	if (c->sentinels != NULL && n > 0) {
		if (replicated(c, "flush_pending")) {
			log_info(NULL, "cache_invalidations_landed count=%d", n);
			landed = n;
		} else {
			atomic_store(&pending_retry_at_ms, rpc_clock_ms() + UNCONFIRMED_RETRY_MS);
		}
	}
	settle_pending(c, keys, n, landed);
	return c->ctx != NULL && landed == n && atomic_load(&pending_count) == 0;
}

/* Drops c's connection, if any, without a word: a set-up step failed,
 * and its caller says why (once, for the whole attempt). */
static void
drop(cache *c)
{
	if (c->ctx != NULL)
		redisFree(c->ctx);
	c->ctx = NULL;
}

/* Gives c's next set-up step what is left of its budget (until until_ms);
 * false, with why, when nothing is. hiredis reads a zero timeout as none
 * at all, so at least 1 ms is left. */
static bool
within(cache *c, int64_t until_ms, const char *step, char *why, size_t why_len)
{
	int64_t left = until_ms - rpc_clock_ms();
	if (left < 1) {
		snprintf(why, why_len, "REDIS_TIMEOUT_MS (%d ms) spent before %s", c->timeout_ms, step);
		drop(c);
		return false;
	}
	if (c->ctx != NULL) {
		struct timeval tv = {.tv_sec = (time_t) (left / 1000), .tv_usec = (suseconds_t) (left % 1000) * 1000};
		redisSetTimeout(c->ctx, tv);
	}
	return true;
}

/* A command of the connection's set-up (AUTH, SELECT) that must be
 * accepted within the budget; false (why said, the connection dropped)
 * when it is not. */
static bool
setup_command(cache *c, int64_t until_ms, char *why, size_t why_len, const char *name, const char *fmt, ...)
{
	if (!within(c, until_ms, name, why, why_len))
		return false;
	va_list ap;
	va_start(ap, fmt);
	redisReply *r = redisvCommand(c->ctx, fmt, ap);
	va_end(ap);
	bool ok = r != NULL && r->type != REDIS_REPLY_ERROR;
	if (!ok)
		snprintf(why, why_len, "%s %s: %s", name, r == NULL ? "not answered" : "refused",
		    r == NULL ? c->ctx->errstr : r->str);
	freeReplyObject(r);
	if (!ok)
		drop(c);
	return ok;
}

/* Connects to c->host:c->port and logs in (AUTH), all before until_ms;
 * with Sentinel, also confirms it is the master (ROLE: the spec's step 2;
 * the address may be stale, or the sentinel wrong). False with why (the
 * connection dropped) when any step fails. */
static bool
handshake(cache *c, int64_t until_ms, const char *named_by, char *why, size_t why_len)
{
	char addr[300];
	sentinel_addr_text(c->host, c->port, addr, sizeof(addr));
	if (!within(c, until_ms, "the connect", why, why_len))
		return false;
	int64_t left      = until_ms - rpc_clock_ms();
	struct timeval tv = {.tv_sec = (time_t) (left / 1000), .tv_usec = (suseconds_t) (left % 1000) * 1000};
	if (left < 1)
		tv = (struct timeval){.tv_usec = 1000}; /* the clock moved on since within() */
	c->ctx = redisConnectWithTimeout(c->host, c->port, tv);
	if (c->ctx == NULL || c->ctx->err) {
		const char *e = c->ctx != NULL ? c->ctx->errstr : "out of memory";
		if (named_by == NULL)
			snprintf(why, why_len, "connect %s: %s", addr, e);
		else
			snprintf(why, why_len, "%s names %s as master %s, which cannot be connected to: %s", named_by,
			    addr, c->sentinels->master, e);
		drop(c);
		return false;
	}
	if (c->password[0] != '\0' && !setup_command(c, until_ms, why, why_len, "AUTH", "AUTH %s", c->password))
		return false;
	if (c->sentinels == NULL)
		return true;
	if (!within(c, until_ms, "ROLE", why, why_len))
		return false;
	char role[64] = "";
	int rc        = sentinel_role_is_master(c->ctx, role, sizeof(role));
	if (rc == 1)
		return true;
	/* ROLE says "slave" for a replica. */
	if (rc == 0)
		snprintf(why, why_len, "%s names %s as master %s, which is %s (ROLE)", named_by, addr,
		    c->sentinels->master, strcmp(role, "slave") == 0 ? "a replica" : role);
	else
		snprintf(why, why_len, "%s names %s as master %s, which did not answer ROLE: %s", named_by, addr,
		    c->sentinels->master, c->ctx->errstr);
	drop(c);
	return false;
}

/* With Sentinel: the master's address, asked again at every connect (the
 * spec's step 3: after a disconnect the old address may be a replica),
 * each address the sentinels name tried in turn until one is confirmed as
 * the master (a sentinel naming a replica, a dead host or itself costs one
 * try, not the connect). While others may still name another address, one
 * try takes half of what is left, so a blackholed address leaves time for
 * the next. False with why when none is confirmed by until_ms. */
static bool
connect_master(cache *c, const char *op, int64_t until_ms, char *why, size_t why_len)
{
	sentinel_lookup l;
	sentinel_lookup_start(&l, c->sentinels, until_ms);
	char by[600], tried[sizeof(c->last_error)] = "", one[sizeof(c->last_error)];
	size_t o = 0;
	bool ok  = false;
	while (!ok && sentinel_lookup_next(&l, c->host, sizeof(c->host), &c->port, by, sizeof(by)) == 0) {
		int64_t now       = rpc_clock_ms();
		int64_t try_until = sentinel_lookup_may_name_more(&l) ? now + (until_ms - now) / 2 : until_ms;
		ok                = handshake(c, try_until > now ? try_until : until_ms, by, one, sizeof(one));
		if (ok) {
			sentinel_lookup_confirmed(&l);
			break;
		}
		sentinel_lookup_refuted(&l);
		log_warn(NULL, "cache_master_refuted op=%s reason=\"%s\"", op, one);
		if (o < sizeof(tried)) {
			int w = snprintf(tried + o, sizeof(tried) - o, "%s%s", o > 0 ? "; " : "", one);
			o += w > 0 ? (size_t) w : 0;
		}
	}
	char others[sizeof(c->last_error) - 256];
	sentinel_lookup_end(&l, others, sizeof(others));
	if (ok)
		return true;
	if (tried[0] == '\0')
		snprintf(why, why_len, "no sentinel named master %s within %d ms: %s", c->sentinels->master,
		    c->timeout_ms, others);
	else if (others[0] == '\0')
		snprintf(why, why_len, "%s", tried);
	else
		snprintf(why, why_len, "%s; no other address named within %d ms: %s", tried, c->timeout_ms, others);
	return false;
}

/* A live connection for c: as it is, or (at most every backoff step) a new
 * one, logged in (AUTH), confirmed as the master (ROLE, with Sentinel) and
 * on its database (SELECT). All of that, the Sentinel lookup included, has
 * one budget: REDIS_TIMEOUT_MS, each step getting what is left (it is the
 * longest a slow Redis may delay a request; N silent sentinels each given
 * the whole timeout cost N of them). The commands after it have the whole
 * timeout each, as ever. */
static bool
ensure_connected(cache *c, const char *op)
{
	if (c->ctx != NULL)
		return true;
	if (!backoff_ready(&c->retry))
		return false; /* still down: no connect attempt on every request */
	int64_t deadline = rpc_clock_ms() + c->timeout_ms;
	char why[sizeof(c->last_error)];
	bool ok = c->sentinels != NULL ? connect_master(c, op, deadline, why, sizeof(why))
	                               : handshake(c, deadline, NULL, why, sizeof(why));
	if (ok && c->db != 0)
		ok = setup_command(c, deadline, why, sizeof(why), "SELECT", "SELECT %d", c->db);
	if (!ok) {
		backoff_failed(&c->retry);
		failed(c, op, why);
		return false;
	}
	struct timeval tv = {.tv_sec = c->timeout_ms / 1000, .tv_usec = (c->timeout_ms % 1000) * 1000};
	redisSetTimeout(c->ctx, tv);
	if (c->retry.current_ms != 0)
		log_info(NULL, "cache_reconnected");
	backoff_succeeded(&c->retry);
	c->last_error[0] = '\0';
	return true;
}

/* Must op wait for the pending invalidations to land? Not a health check:
 * it asks whether Redis answers, not whether this process trusts it yet.
 * With Sentinel, not an invalidation either: its DEL goes to the master at
 * once, so other processes stop reading the value even while no replica
 * confirms it (it joins the pending ones then). */
static bool
gated(const cache *c, const char *op)
{
	return strcmp(op, "ping") != 0 && (c->sentinels == NULL || strcmp(op, "invalidate") != 0);
}

/* Runs a command on a live connection; NULL (and the connection dropped)
 * when Redis is unreachable, slow or answered with an error. Failed
 * invalidations land first, so no value they cover is read meanwhile. */
static redisReply *
command(cache *c, const char *op, const char *fmt, ...)
{
	if (!ensure_connected(c, op))
		return NULL;
	if (gated(c, op) && atomic_load(&pending_count) > 0 && !flush_pending(c))
		return NULL;
	va_list ap;
	va_start(ap, fmt);
	redisReply *r = redisvCommand(c->ctx, fmt, ap);
	va_end(ap);
	if (r == NULL) { /* the context is dead (hiredis) */
		failed(c, op, c->ctx->errstr);
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR && c->sentinels != NULL &&
	    (strncmp(r->str, "READONLY", 8) == 0 || strncmp(r->str, "MASTERDOWN", 10) == 0)) {
		/* A replica now (a failover demoted it): drop the connection,
		 * and the next one asks Sentinel where the master is. */
		char why[160];
		snprintf(why, sizeof(why), "%s", r->str);
		freeReplyObject(r);
		failed(c, op, why);
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		/* Redis said no (e.g. out of memory): keep the connection. */
		atomic_fetch_add(&errors, 1);
		log_warn(NULL, "cache_error op=%s reason=\"%s\"", op, r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

static void
new_token(char *out, size_t len)
{
	unsigned char b[16];
	if (getrandom(b, sizeof(b), 0) != (ssize_t) sizeof(b))
		memset(b, 0, sizeof(b)); /* then fills just lose more often */
	size_t j = 0;
	for (size_t i = 0; i < sizeof(b) && j + 2 < len; i++)
		j += (size_t) snprintf(out + j, len - j, "%02x", b[i]);
}

/* GET the value; on a miss, SET the lease NX in the same round trip. */
static const char get_or_lease[] = "local v = redis.call('GET', KEYS[1]) "
                                   "if v then return {1, v} end "
                                   "if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then "
                                   "return {0, ARGV[1]} end "
                                   "return {0, false}";

/* Store only while our token is still the lease, then drop the lease. */
static const char fill_if_leased[] = "if redis.call('GET', KEYS[2]) == ARGV[1] then "
                                     "redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) "
                                     "redis.call('DEL', KEYS[2]) return 1 end "
                                     "return 0";

/* Delete the lease only if it is still ours. */
static const char release_if_leased[] = "if redis.call('GET', KEYS[1]) == ARGV[1] then "
                                        "return redis.call('DEL', KEYS[1]) end return 0";

static void
lease_key(const char *key, char *out, size_t len)
{
	snprintf(out, len, "%s:lease", key);
}

/* Copies a string reply into a new NUL-terminated value; false if out of memory. */
static bool
take_value(const redisReply *v, char **value, size_t *len)
{
	if ((*value = malloc(v->len + 1)) == NULL)
		return false;
	memcpy(*value, v->str, v->len);
	(*value)[v->len] = '\0';
	*len             = v->len;
	return true;
}

static cache_result
read_or_lease(cache *c, const char *key, char **value, size_t *len, cache_lease *lease)
{
	*value          = NULL;
	*len            = 0;
	lease->token[0] = '\0';
	if (rpc_clock_ms() < atomic_load(&distrust_until_ms))
		return CACHE_ERROR; /* served from the database, and not filled */

	/* A hit is a plain GET: Redis runs it several times faster than the
	 * script, and hits are the common case. Only a miss takes a lease. */
	redisReply *r = command(c, "get", "GET %s", key);
	if (r == NULL)
		return CACHE_ERROR;
	cache_result result = CACHE_MISS;
	if (r->type == REDIS_REPLY_STRING)
		result = take_value(r, value, len) ? CACHE_HIT : CACHE_ERROR;
	freeReplyObject(r);
	if (result != CACHE_MISS)
		return result;

	/* The script looks again: a fill may have landed since the GET. */
	char lk[256], token[40];
	lease_key(key, lk, sizeof(lk));
	new_token(token, sizeof(token));
	r = command(c, "get", "EVAL %s 2 %s %s %s %d", get_or_lease, key, lk, token, LEASE_MS);
	if (r == NULL)
		return CACHE_ERROR;
	result = CACHE_ERROR;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_INTEGER) {
		redisReply *v = r->element[1];
		if (r->element[0]->integer == 1 && v->type == REDIS_REPLY_STRING) {
			result = take_value(v, value, len) ? CACHE_HIT : CACHE_ERROR;
		} else {
			if (v->type == REDIS_REPLY_STRING)
				snprintf(lease->token, sizeof(lease->token), "%s", v->str);
			result = CACHE_MISS;
		}
	}
	freeReplyObject(r);
	return result;
}

cache_result
cache_get(cache *c, const char *key, char **value, size_t *len, cache_lease *lease)
{
	cache_result r = read_or_lease(c, key, value, len, lease);
	atomic_fetch_add(r == CACHE_HIT ? &hits : &misses, 1);
	return r;
}

cache_result
cache_fill(cache *c, const char *key, const void *value, size_t len, int ttl_s, const cache_lease *lease)
{
	if (lease->token[0] == '\0')
		return CACHE_MISS;
	char lk[256];
	lease_key(key, lk, sizeof(lk));
	redisReply *r =
	    command(c, "fill", "EVAL %s 2 %s %s %s %b %d", fill_if_leased, key, lk, lease->token, value, len, ttl_s);
	if (r == NULL)
		return CACHE_ERROR;
	cache_result result = r->type == REDIS_REPLY_INTEGER && r->integer == 1 ? CACHE_HIT : CACHE_MISS;
	freeReplyObject(r);
	return result;
}

void
cache_release(cache *c, const char *key, const cache_lease *lease)
{
	if (lease->token[0] == '\0')
		return;
	char lk[256];
	lease_key(key, lk, sizeof(lk));
	freeReplyObject(command(c, "release", "EVAL %s 1 %s %s", release_if_leased, lk, lease->token));
}

cache_result
cache_invalidate(cache *c, const char *key)
{
	char lk[256];
	lease_key(key, lk, sizeof(lk));
	redisReply *r = command(c, "invalidate", "DEL %s %s", key, lk);
	if (r == NULL) {
		remember_pending(c, key); /* lands before the next cached read */
		return CACHE_ERROR;
	}
	freeReplyObject(r);
	if (c->sentinels != NULL && rpc_clock_ms() < atomic_load(&pending_retry_at_ms)) {
		remember_pending(c, key); /* no replica a moment ago: no WAIT, confirmed later */
		return CACHE_ERROR;
	}
	if (c->sentinels != NULL && !replicated(c, "invalidate")) {
		remember_pending(c, key); /* sent again until a replica has it */
		atomic_store(&pending_retry_at_ms, rpc_clock_ms() + UNCONFIRMED_RETRY_MS);
		return CACHE_ERROR;
	}
	return CACHE_HIT;
}

cache_result
cache_ping(cache *c)
{
	redisReply *r = command(c, "ping", "PING");
	if (r == NULL)
		return CACHE_ERROR;
	freeReplyObject(r);
	return CACHE_HIT;
}

const char *
cache_last_error(const cache *c)
{
	return c->last_error;
}

int
cache_pending_invalidations(void)
{
	return atomic_load(&pending_count);
}

cache_result
cache_get_message(
    cache *c, const char *key, const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out, cache_lease *lease)
{
	char *value;
	size_t len;
	*out             = NULL;
	cache_result res = cache_get(c, key, &value, &len, lease);
	if (res != CACHE_HIT)
		return res;
	*out = protobuf_c_message_unpack(desc, NULL, len, (const uint8_t *) value);
	free(value);
	if (*out == NULL) {
		log_warn(NULL, "cache_undecodable key=%s", key);
		return CACHE_MISS;
	}
	return CACHE_HIT;
}

cache_result
cache_fill_message(cache *c, const char *key, const ProtobufCMessage *msg, int ttl_s, const cache_lease *lease)
{
	if (lease->token[0] == '\0')
		return CACHE_MISS; /* no lease: nothing to pack */
	size_t len   = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = malloc(len > 0 ? len : 1);
	if (buf == NULL)
		return CACHE_ERROR;
	protobuf_c_message_pack(msg, buf);
	cache_result res = cache_fill(c, key, buf, len, ttl_s, lease);
	free(buf);
	return res;
}

int
cache_env_parse_url(const char *text, void *out, char *err, size_t errlen)
{
	char host[256], password[256], why[256];
	int port, db;
	if (sentinel_is_url(text)) {
		sentinel_url s;
		if (sentinel_parse_url(text, &s, why, sizeof(why)) != 0) {
			snprintf(err, errlen,
			    "is not a Redis Sentinel URL (redis-sentinel://[:password@]host:port,...[/db]#master): it "
			    "%s",
			    why);
			return -1;
		}
	} else if (cache_parse_url(
	               text, host, sizeof(host), &port, &db, password, sizeof(password), why, sizeof(why)) != 0) {
		snprintf(err, errlen, "is not a Redis URL: it %s", why);
		return -1;
	}
	*(const char **) out = text;
	return 0;
}
