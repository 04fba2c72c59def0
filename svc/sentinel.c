/* sentinel.h over hiredis 0.14. */
#include "svc/sentinel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "svc/cache.h"

static const char scheme[] = "redis-sentinel://";

bool
sentinel_is_url(const char *url)
{
	return strncmp(url, scheme, sizeof(scheme) - 1) == 0;
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

int
sentinel_parse_url(const char *url, sentinel_url *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (!sentinel_is_url(url)) {
		snprintf(err, errlen, "does not start with redis-sentinel://");
		return -1;
	}
	const char *p = url + sizeof(scheme) - 1;
	/* The authority ends at '/', '?' or '#' (RFC 3986 3.2), and the user
	 * information at its last '@': the rules of cache_parse_url and
	 * env_mask_url, so --help masks exactly the password read here. */
	size_t alen    = strcspn(p, "/?#");
	const char *at = NULL;
	for (const char *q = p; q < p + alen; q++)
		if (*q == '@')
			at = q;
	const char *hosts = at != NULL ? at + 1 : p;
	const char *path  = p + alen;
	const char *hash  = strchr(path, '#');
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

	/* Each sentinel is read as cache_parse_url reads redis://[:pw@]HOST:PORT/DB
	 * (one checker of hosts, ports, passwords and database numbers). */
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
		char one[1024], why[256];
		int n = snprintf(one, sizeof(one), "redis://%.*s%.*s%.*s", at != NULL ? (int) (at + 1 - p) : 0, p,
		    (int) hlen, h, (int) plen, path);
		if (n < 0 || (size_t) n >= sizeof(one)) {
			snprintf(err, errlen, "is too long (sentinel %d)", out->n + 1);
			return -1;
		}
		if (cache_parse_url(one, out->host[out->n], sizeof(out->host[0]), &out->port[out->n], &out->db,
		        out->password, sizeof(out->password), why, sizeof(why)) != 0) {
			/* The password is the same in every element: say so once. */
			if (strstr(why, "password") != NULL || strstr(why, "user") != NULL)
				snprintf(err, errlen, "%s", why);
			else
				snprintf(err, errlen, "has a sentinel (%d) that %s", out->n + 1, why);
			return -1;
		}
		if (memchr(h, ':', hlen) == NULL)
			out->port[out->n] = SENTINEL_DEFAULT_PORT;
		if (comma == NULL) {
			out->n++;
			return 0;
		}
		h = comma + 1;
	}
}

/* One sentinel's answer: 0 and the address, or -1 and why in err. */
static int
ask_one(const char *shost, int sport, const char *master, struct timeval tv, char *host, size_t host_len, int *port,
    char *err, size_t errlen)
{
	redisContext *ctx = redisConnectWithTimeout(shost, sport, tv);
	if (ctx == NULL || ctx->err) {
		snprintf(err, errlen, "%s", ctx != NULL ? ctx->errstr : "out of memory");
		redisFree(ctx);
		return -1;
	}
	redisSetTimeout(ctx, tv);
	redisReply *r = redisCommand(ctx, "SENTINEL get-master-addr-by-name %s", master);
	int rc        = -1;
	if (r == NULL) {
		snprintf(err, errlen, "%s", ctx->errstr);
	} else if (r->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "%s", r->str);
	} else if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
		snprintf(err, errlen, "does not know master %s", master); /* a nil reply */
	} else if (r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING &&
	           r->element[0]->len > 0 && r->element[0]->len < host_len) {
		char *end;
		long v = strtol(r->element[1]->str, &end, 10);
		if (*end == '\0' && v >= 1 && v <= 65535) {
			memcpy(host, r->element[0]->str, r->element[0]->len + 1);
			*port = (int) v;
			rc    = 0;
		} else {
			snprintf(err, errlen, "answered a bad port");
		}
	} else {
		snprintf(err, errlen, "answered a bad address");
	}
	freeReplyObject(r);
	redisFree(ctx);
	return rc;
}

int
sentinel_master_addr(sentinel_url *s, int timeout_ms, char *host, size_t host_len, int *port, char *err, size_t errlen)
{
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	size_t o          = 0;
	err[0]            = '\0';
	for (int i = 0; i < s->n; i++) {
		char why[160];
		if (ask_one(s->host[i], s->port[i], s->master, tv, host, host_len, port, why, sizeof(why)) == 0) {
			if (i > 0) { /* the spec's step 1: this one is asked first next time */
				char h[sizeof(s->host[0])];
				int p = s->port[i];
				memcpy(h, s->host[i], sizeof(h));
				memmove(s->host[1], s->host[0], sizeof(s->host[0]) * (size_t) i);
				memmove(&s->port[1], &s->port[0], sizeof(s->port[0]) * (size_t) i);
				memcpy(s->host[0], h, sizeof(h));
				s->port[0] = p;
			}
			return 0;
		}
		if (o < errlen) {
			int n = snprintf(err + o, errlen - o, "%ssentinel %s:%d: %s", i > 0 ? "; " : "", s->host[i],
			    s->port[i], why);
			o += n > 0 ? (size_t) n : 0;
		}
	}
	return -1;
}

int
sentinel_role_is_master(redisContext *ctx)
{
	redisReply *r = redisCommand(ctx, "ROLE");
	if (r == NULL)
		return -1;
	int rc = r->type == REDIS_REPLY_ARRAY && r->elements > 0 && r->element[0]->type == REDIS_REPLY_STRING &&
	         strcmp(r->element[0]->str, "master") == 0;
	freeReplyObject(r);
	return rc;
}
