/* sentinel.h over hiredis 0.14. */
#include "svc/sentinel.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "rpc/envelope.h"
#include "svc/cache.h"

static const char scheme[] = "redis-sentinel://";

bool
sentinel_is_url(const char *url)
{
	return strncasecmp(url, scheme, sizeof(scheme) - 1) == 0; /* RFC 3986 3.1 */
}

/* A master name as Sentinel configurations write them, and nothing that
 * could need quoting in a log line. */
static bool
good_master_name(const char *s)
{
	size_t n = strlen(s);
	return n >= 1 && n < sizeof(((sentinel_url *) 0)->master) &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* The database part of the path ("", "/" or "/DB", DB 0..15, digits only);
 * -1 when it is anything else. */
static int
parse_db(const char *path, size_t len)
{
	if (len <= 1)
		return len == 0 || path[0] == '/' ? 0 : -1;
	if (path[0] != '/' || len > 3 || strspn(path + 1, "0123456789") < len - 1)
		return -1;
	int v = 0;
	for (size_t i = 1; i < len; i++)
		v = v * 10 + (path[i] - '0');
	return v <= 15 ? v : -1;
}

/* The refusal of user information (at, an '@') in sentinel k, whose text
 * ends at end. Only what follows the '@' is shown: before it may be a
 * password. No '@' is quoted: env_scrub would mask it as part of one. */
static int
at_in_later_sentinel(const char *at, const char *end, int k, char *err, size_t errlen)
{
	const char *comma = memchr(at, ',', (size_t) (end - at));
	size_t n          = (size_t) ((comma != NULL ? comma : end) - at - 1);
	snprintf(err, errlen,
	    "has user information (...@) in sentinel %d (the one at '%.*s'): only the first sentinel may follow "
	    ":password@ (one password, the master's), and an @ or a comma in a password is written %%40, %%2C",
	    k, n > 64 ? 64 : (int) n, at + 1);
	return -1;
}

int
sentinel_parse_url(const char *url, sentinel_url *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (!sentinel_is_url(url)) {
		snprintf(err, errlen, "does not start with redis-sentinel://");
		return -1;
	}
	const char *p = url + sizeof(scheme) - 1;
	/* The authority ends at '/', '?' or '#' (RFC 3986 3.2): a password
	 * holding one of them is cut there, and its '@' lands in the path or
	 * the master's name. No '@' belongs there: say what happened. */
	size_t alen = strcspn(p, "/?#");
	if (strchr(p + alen, '@') != NULL) {
		snprintf(err, errlen,
		    "has an @ after a /, ? or #: a password holding /, ?, # or @ must write them %%2F, %%3F, "
		    "%%23, %%40 (RFC 3986 2.1)");
		return -1;
	}
	/* One password, the master's, before the first sentinel: the user
	 * information ends at the first '@', and an '@' in a later sentinel
	 * is refused (else ":pw@h1,:pw@h2" would read as password "pw@h1,:pw"
	 * and one sentinel). So a ',' in the password is %2C, as in AMQP_URL. */
	const char *at    = memchr(p, '@', alen);
	const char *hosts = at != NULL ? at + 1 : p;
	const char *comma = memchr(p, ',', alen);
	if (at != NULL && comma != NULL && comma < at) {
		int k = 1;
		for (const char *q = p; q < at; q++)
			k += *q == ',';
		return at_in_later_sentinel(at, p + alen, k, err, errlen);
	}
	const char *path = p + alen;
	const char *hash = strchr(path, '#');
	if (strchr(path, '?') != NULL && (hash == NULL || strchr(path, '?') < hash)) {
		snprintf(err, errlen, "has a query ('?'): none is read");
		return -1;
	}
	if (hash == NULL || !good_master_name(hash + 1)) {
		snprintf(err, errlen,
		    "has no master name: end it with #NAME (letters, digits, '.', '_', '-'; at most %zu bytes)",
		    sizeof(out->master) - 1);
		return -1;
	}
	snprintf(out->master, sizeof(out->master), "%s", hash + 1);
	size_t plen = (size_t) (hash - path); /* "", "/" or "/DB" */
	if ((out->db = parse_db(path, plen)) < 0) {
		snprintf(err, errlen, "has a bad database number (0-15) after the sentinels: '%.*s'",
		    plen > 16 ? 16 : (int) plen, path);
		return -1;
	}

	/* The password and each sentinel are read as cache_parse_url reads
	 * redis://[:pw@]HOST:PORT (one checker of hosts, ports and
	 * passwords). */
	char one[1024], why[256], host[256];
	int port, db;
	if (at != NULL) {
		int n = snprintf(one, sizeof(one), "redis://%.*s@h", (int) (at - p), p);
		if (n < 0 || (size_t) n >= sizeof(one)) {
			snprintf(err, errlen, "has a password longer than %zu bytes", sizeof(out->password) - 1);
			return -1;
		}
		if (cache_parse_url(one, host, sizeof(host), &port, &db, out->password, sizeof(out->password), why,
		        sizeof(why)) != 0) {
			snprintf(err, errlen, "%s", why);
			return -1;
		}
	}
	for (const char *h = hosts;; out->n++) {
		size_t hlen       = (size_t) (p + alen - h);
		const char *comma = memchr(h, ',', hlen);
		if (comma != NULL)
			hlen = (size_t) (comma - h);
		if (out->n == SENTINEL_MAX) {
			snprintf(err, errlen, "lists more than %d sentinels", SENTINEL_MAX);
			return -1;
		}
		if (hlen == 0) {
			snprintf(err, errlen, "has an empty sentinel address (sentinel %d)", out->n + 1);
			return -1;
		}
		const char *at2 = memchr(h, '@', hlen);
		if (at2 != NULL && out->n == 0) {
			/* A second '@' in the first: the password's own, not encoded. */
			snprintf(err, errlen, "has a second @ before sentinel 1: an @ in the password is written %%40");
			return -1;
		}
		if (at2 != NULL)
			return at_in_later_sentinel(at2, h + hlen, out->n + 1, err, errlen);
		char pw[2];
		int n = snprintf(one, sizeof(one), "redis://%.*s", (int) hlen, h);
		if (n < 0 || (size_t) n >= sizeof(one)) {
			snprintf(err, errlen, "is too long (sentinel %d)", out->n + 1);
			return -1;
		}
		if (cache_parse_url(one, out->host[out->n], sizeof(out->host[0]), &out->port[out->n], &db, pw,
		        sizeof(pw), why, sizeof(why)) != 0) {
			snprintf(err, errlen, "has a sentinel (%d) that %s", out->n + 1, why);
			return -1;
		}
		/* No port: after the host, or after an IPv6 address's ']'. */
		const char *after = h[0] == '[' ? memchr(h, ']', hlen) : h;
		if (memchr(after, ':', hlen - (size_t) (after - h)) == NULL)
			out->port[out->n] = SENTINEL_DEFAULT_PORT;
		if (comma == NULL) {
			out->n++;
			return 0;
		}
		h = comma + 1;
	}
}

/* A sentinel's reply: 0 and the address, or -1 and why in err. */
static int
read_answer(const redisReply *r, const char *master, char *host, size_t host_len, int *port, char *err, size_t errlen)
{
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "%s", r->str);
		return -1;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
		snprintf(err, errlen, "does not know master %s", master); /* a nil reply */
		return -1;
	}
	if (r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING ||
	    r->element[0]->len == 0 || r->element[0]->len >= host_len) {
		snprintf(err, errlen, "answered a bad address");
		return -1;
	}
	char *end;
	long v = strtol(r->element[1]->str, &end, 10);
	if (*end != '\0' || v < 1 || v > 65535) {
		snprintf(err, errlen, "answered a bad port");
		return -1;
	}
	memcpy(host, r->element[0]->str, r->element[0]->len + 1);
	*port = (int) v;
	return 0;
}

static void
give_up(sentinel_asking *a, const char *why)
{
	if (a->why[0] == '\0')
		snprintf(a->why, sizeof(a->why), "%s", why);
	redisFree(a->ctx);
	a->ctx = NULL;
}

void
sentinel_addr_text(const char *host, int port, char *out, size_t len)
{
	snprintf(out, len, strchr(host, ':') != NULL ? "[%s]:%d" : "%s:%d", host, port);
}

void
sentinel_lookup_start(sentinel_lookup *l, sentinel_url *s, int64_t deadline_ms)
{
	memset(l, 0, sizeof(*l));
	l->s           = s;
	l->deadline_ms = deadline_ms;
	l->current     = -1;
	for (int i = 0; i < s->n; i++) {
		sentinel_asking *a = &l->a[i];
		a->ctx             = redisConnectNonBlock(s->host[i], s->port[i]);
		if (a->ctx == NULL || a->ctx->err)
			give_up(a, a->ctx != NULL ? a->ctx->errstr : "out of memory");
		else if (redisAppendCommand(a->ctx, "SENTINEL get-master-addr-by-name %s", s->master) != REDIS_OK)
			give_up(a, "out of memory");
	}
}

/* Sentinel i named host:port: a new distinct address, or one more namer. */
static void
add_named(sentinel_lookup *l, int i, const char *host, int port)
{
	int k = 0;
	while (k < l->n_named && !(l->named[k].port == port && strcmp(l->named[k].host, host) == 0))
		k++;
	if (k == l->n_named) { /* at most one per sentinel: room for all */
		snprintf(l->named[k].host, sizeof(l->named[k].host), "%s", host);
		l->named[k].port = port;
		l->n_named++;
	}
	l->named[k].by |= 1u << i;
	snprintf(l->a[i].why, sizeof(l->a[i].why), "named"); /* the caller says what came of it */
}

/* Reads what the sentinels said, waiting until until_ms at most for the
 * first event (0 waits for none). */
static void
pump(sentinel_lookup *l, int64_t until_ms)
{
	struct pollfd fds[SENTINEL_MAX];
	int idx[SENTINEL_MAX], n = 0;
	for (int i = 0; i < l->s->n; i++)
		if (l->a[i].ctx != NULL) {
			/* Writable: the connect is done (or failed, which the write
			 * then reports). */
			fds[n]   = (struct pollfd){.fd = l->a[i].ctx->fd, .events = l->a[i].sent ? POLLIN : POLLOUT};
			idx[n++] = i;
		}
	int64_t left = until_ms - rpc_clock_ms();
	if (n == 0 || poll(fds, (nfds_t) n, left > 0 ? (int) left : 0) <= 0)
		return; /* EINTR included: the caller looks at the clock again */
	for (int k = 0; k < n; k++) {
		sentinel_asking *x = &l->a[idx[k]];
		if (fds[k].revents == 0)
			continue;
		if (!x->sent) {
			int done = 0;
			if (redisBufferWrite(x->ctx, &done) != REDIS_OK)
				give_up(x, x->ctx->errstr);
			else
				x->sent = done != 0;
			continue;
		}
		void *reply = NULL;
		if (redisBufferRead(x->ctx) != REDIS_OK || redisGetReplyFromReader(x->ctx, &reply) != REDIS_OK) {
			give_up(x, x->ctx->errstr);
			continue;
		}
		if (reply == NULL)
			continue; /* part of the reply so far */
		char named[256];
		int named_port;
		if (read_answer(reply, l->s->master, named, sizeof(named), &named_port, x->why, sizeof(x->why)) == 0)
			add_named(l, idx[k], named, named_port);
		freeReplyObject(reply);
		give_up(x, "answered");
	}
}

static bool
asking_any(const sentinel_lookup *l)
{
	for (int i = 0; i < l->s->n; i++)
		if (l->a[i].ctx != NULL)
			return true;
	return false;
}

/* The untried address most sentinels named; on a tie, the one named by the
 * sentinel earliest in the list (the lowest bit). -1 if none. */
static int
pick(const sentinel_lookup *l)
{
	int best = -1;
	for (int k = 0; k < l->n_named; k++) {
		if (l->named[k].tried)
			continue;
		if (best < 0)
			best = k;
		else {
			int votes      = __builtin_popcount(l->named[k].by),
			    best_votes = __builtin_popcount(l->named[best].by);
			if (votes > best_votes ||
			    (votes == best_votes && __builtin_ctz(l->named[k].by) < __builtin_ctz(l->named[best].by)))
				best = k;
		}
	}
	return best;
}

bool
sentinel_lookup_may_name_more(const sentinel_lookup *l)
{
	return pick(l) >= 0 || asking_any(l);
}

int
sentinel_lookup_next(sentinel_lookup *l, char *host, size_t host_len, int *port, char *by, size_t by_len)
{
	pump(l, 0); /* what came in while the last address was tried */
	int k;
	while ((k = pick(l)) < 0) {
		if (!asking_any(l) || rpc_clock_ms() >= l->deadline_ms)
			return -1;
		pump(l, l->deadline_ms);
	}
	/* Before the first confirmation, wait no longer: the spec takes the
	 * first answer, and a majority that comes later is looked at only
	 * if that one fails. */
	l->named[k].tried = true;
	l->current        = k;
	if (strlen(l->named[k].host) >= host_len)
		return sentinel_lookup_next(l, host, host_len, port, by, by_len); /* cannot be held: skipped */
	memcpy(host, l->named[k].host, strlen(l->named[k].host) + 1);
	*port    = l->named[k].port;
	size_t o = 0;
	by[0]    = '\0';
	for (int i = 0; i < l->s->n && o < by_len; i++)
		if (l->named[k].by & (1u << i)) {
			char text[300];
			sentinel_addr_text(l->s->host[i], l->s->port[i], text, sizeof(text));
			int w = snprintf(by + o, by_len - o, "%s%s",
			    o == 0 ? (__builtin_popcount(l->named[k].by) > 1 ? "sentinels " : "sentinel ") : ", ",
			    text);
			o += w > 0 ? (size_t) w : 0;
		}
	return 0;
}

void
sentinel_lookup_confirmed(sentinel_lookup *l)
{
	if (l->current >= 0)
		l->confirmed_by |= l->named[l->current].by;
}

void
sentinel_lookup_refuted(sentinel_lookup *l)
{
	if (l->current >= 0)
		l->refuted_by |= l->named[l->current].by;
}

/* Reorders s stably: sentinels that were right first, those whose answer
 * failed confirmation (and none right) last. */
static void
reorder(sentinel_lookup *l)
{
	sentinel_url *s = l->s;
	char host[SENTINEL_MAX][sizeof(s->host[0])];
	int port[SENTINEL_MAX], o = 0;
	for (int rank = 0; rank < 3; rank++)
		for (int i = 0; i < s->n; i++) {
			bool right = (l->confirmed_by >> i) & 1u, wrong = !right && ((l->refuted_by >> i) & 1u);
			if ((right ? 0 : wrong ? 2 : 1) != rank)
				continue;
			memcpy(host[o], s->host[i], sizeof(host[0]));
			port[o++] = s->port[i];
		}
	memcpy(s->host, host, sizeof(host[0]) * (size_t) s->n);
	memcpy(s->port, port, sizeof(port[0]) * (size_t) s->n);
}

void
sentinel_lookup_end(sentinel_lookup *l, char *err, size_t errlen)
{
	size_t o = 0;
	err[0]   = '\0';
	for (int i = 0; i < l->s->n; i++) {
		sentinel_asking *a = &l->a[i];
		if (a->ctx != NULL)
			give_up(a, a->sent ? "no answer in time" : "no connection in time");
		if (strcmp(a->why, "named") == 0 || o >= errlen)
			continue;
		char text[300];
		sentinel_addr_text(l->s->host[i], l->s->port[i], text, sizeof(text));
		int w = snprintf(err + o, errlen - o, "%s%s %s", o > 0 ? "; " : "", text, a->why);
		o += w > 0 ? (size_t) w : 0;
	}
	reorder(l);
}

int
sentinel_role_is_master(redisContext *ctx, char *role, size_t role_len)
{
	redisReply *r = redisCommand(ctx, "ROLE");
	if (r == NULL)
		return -1;
	int rc = 0;
	if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 && r->element[0]->type == REDIS_REPLY_STRING) {
		rc = strcmp(r->element[0]->str, "master") == 0;
		snprintf(role, role_len, "%s", r->element[0]->str);
	} else {
		snprintf(role, role_len, "%s", r->type == REDIS_REPLY_ERROR ? r->str : "unknown");
	}
	freeReplyObject(r);
	return rc;
}
