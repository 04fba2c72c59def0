/* The cache through Redis Sentinel (issue 20) on real servers: a replica
 * and three sentinels of scripts/servers (SERVERS_REDIS_SENTINEL=1) in an
 * instance of this test's own, beside the suite's (ports: the suite's Redis
 * port + 360 - 379 as base). A planned failover is followed without a new
 * cache; an invalidation the promoted replica never received (replication
 * is asynchronous) is not served as a stale value, and is sent again.
 * Sentinels that never answer (silent listeners, blackholed connects) cost
 * one REDIS_TIMEOUT_MS for the whole lookup, not one each, and a sentinel
 * naming a replica is said to (the outsider attack on issue 20). */
#define _DEFAULT_SOURCE /* usleep */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fake_sentinel.h"
#include "rpc/envelope.h"
#include "svc/cache.h"
#include "svc/sentinel.h"

static char inst[96];
static int base;

static double
now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

/* scripts/servers COMMAND... for this test's instance; asserts success. */
static void
servers(const char *fmt, ...)
{
	char what[128], cmd[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd),
	    "cd '%s' && SERVERS_REDIS_SENTINEL=1 PORT_BASE=%d SERVERS_ADDRESS=127.0.0.1 scripts/servers %s %s "
	    ">>'%s/sentinel-test.log' 2>&1",
	    SOURCE_DIR, base, what, inst, BINARY_DIR);
	cr_assert_eq(system(cmd), 0, "failed: %s (see %s/sentinel-test.log)", cmd, BINARY_DIR);
}

/* One command on a new connection to 127.0.0.1:port; NULL if no answer. */
static redisReply *
raw(int port, const char *fmt, ...)
{
	struct timeval tv = {1, 0};
	redisContext *ctx = redisConnectWithTimeout("127.0.0.1", port, tv);
	if (ctx == NULL || ctx->err) {
		redisFree(ctx);
		return NULL;
	}
	redisSetTimeout(ctx, tv);
	va_list ap;
	va_start(ap, fmt);
	redisReply *r = redisvCommand(ctx, fmt, ap);
	va_end(ap);
	redisFree(ctx);
	return r;
}

static int
sentinel_port(int i)
{
	return base + 380 + i;
}

/* The master's port as sentinel 1 names it; 0 if it does not answer. */
static int
master_port(void)
{
	redisReply *r = raw(sentinel_port(1), "SENTINEL get-master-addr-by-name cache");
	int port      = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? atoi(r->element[1]->str) : 0;
	freeReplyObject(r);
	return port;
}

/* A field of SENTINEL MASTER cache (a flat list of names and values). */
static long
master_field(int sentinel, const char *name)
{
	redisReply *r = raw(sentinel_port(sentinel), "SENTINEL MASTER cache");
	long v        = -1;
	for (size_t i = 0; r != NULL && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
		if (strcmp(r->element[i]->str, name) == 0)
			v = atol(r->element[i + 1]->str);
	freeReplyObject(r);
	return v;
}

/* Every sentinel knows the other two and a replica: a failover can run. */
static void
wait_quorum(void)
{
	double end = now_s() + 40;
	for (int i = 1; i <= 3; i++)
		while (master_field(i, "num-other-sentinels") < 2 || master_field(i, "num-slaves") < 1) {
			cr_assert_lt(now_s(), end, "sentinel %d: no quorum with a replica in 40 s", i);
			usleep(100000);
		}
}

static void
setup(void)
{
	const char *redis_port = getenv("REDIS_PORT"), *instance = getenv("SERVERS_INSTANCE");
	cr_assert_not_null(redis_port, "REDIS_PORT is not set: run the tests with scripts/test");
	base = atoi(redis_port) - 379 + 360;
	snprintf(inst, sizeof(inst), "%s-sentinel", instance != NULL ? instance : "test");
	servers("destroy");
	servers("start-one redis");
	servers("start-one redis-replica");
	for (int i = 1; i <= 3; i++)
		servers("start-one redis-sentinel%d", i);
	wait_quorum();
}

static void
teardown(void)
{
	servers("destroy");
}

static cache *
open_cache(void)
{
	char url[256];
	snprintf(url, sizeof(url), "redis-sentinel://127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d/0#cache", sentinel_port(1),
	    sentinel_port(2), sentinel_port(3));
	cache *c = cache_new(url, 500, 60);
	cr_assert_not_null(c);
	return c;
}

/* Caches value under key through the lease protocol; asserts it landed. */
static void
put(cache *c, const char *key, const char *value)
{
	char *v = NULL;
	size_t len;
	cache_lease lease;
	cr_assert_eq(cache_get(c, key, &v, &len, &lease), CACHE_MISS, "%s is cached already", key);
	cr_assert_eq(cache_fill(c, key, value, strlen(value), 60, &lease), CACHE_HIT);
}

/* What key holds on the server at port: a malloc'd string, or NULL. */
static char *
raw_get(int port, const char *key)
{
	redisReply *r = raw(port, "GET %s", key);
	char *v       = r != NULL && r->type == REDIS_REPLY_STRING ? strdup(r->str) : NULL;
	freeReplyObject(r);
	return v;
}

static int
wait_new_master(int old)
{
	double end = now_s() + 40;
	int port;
	while ((port = master_port()) == old || port == 0) {
		cr_assert_lt(now_s(), end, "no new master 40 s after the failover began");
		usleep(100000);
	}
	return port;
}

TestSuite(sentinel, .init = setup, .fini = teardown, .timeout = 150);

Test(sentinel, the_cache_follows_a_failover_without_being_made_again)
{
	cache *c = open_cache();
	put(c, "k:follow", "one");
	int old = master_port();
	cr_assert_eq(old, base + 379, "the primary is the first master");
	/* A planned failover: the replica is promoted, the old master made a
	 * replica of it; Redis drops the old master's clients. */
	freeReplyObject(raw(sentinel_port(1), "SENTINEL FAILOVER cache"));
	double t0   = now_s();
	int current = wait_new_master(old);
	cr_assert_eq(current, base + 380);
	/* The cache finds the new master through the sentinels (it never
	 * fails its caller meanwhile: errors are misses) and the value, which
	 * was replicated, is read there. */
	char *v = NULL;
	size_t len;
	cache_lease lease;
	cache_result r;
	while ((r = cache_get(c, "k:follow", &v, &len, &lease)) != CACHE_HIT) {
		cr_assert_neq(r, CACHE_MISS, "the replicated value was lost");
		cr_assert_lt(now_s(), t0 + 30, "the cache did not follow the new master in 30 s");
		usleep(50000);
	}
	cr_assert_str_eq(v, "one");
	free(v);
	cr_log_info("cache back on the new master %.1f s after the switch", now_s() - t0);
	/* An invalidation is confirmed once the old master, now a replica of
	 * the new one, acknowledged it. */
	while (cache_invalidate(c, "k:follow") != CACHE_HIT) {
		cr_assert_lt(now_s(), t0 + 60, "no replica acknowledged an invalidation in 60 s");
		usleep(100000);
	}
	cr_assert_null(raw_get(current, "k:follow"));
	cr_assert_null(raw_get(old, "k:follow"));
	cache_free(c);
}

Test(sentinel, an_invalidation_the_promoted_replica_lost_is_never_served)
{
	cache *c = open_cache();
	put(c, "k:lost", "stale");
	int primary = base + 379, replica = base + 380;
	/* The value reaches the replica, which then stops taking the stream:
	 * the invalidation below stays on the master only. */
	freeReplyObject(raw(primary, "WAIT 1 2000"));
	char *on_replica = raw_get(replica, "k:lost");
	cr_assert_str_eq(on_replica, "stale");
	free(on_replica);
	servers("pause-one redis-replica");
	/* Cut off too: a frozen process's kernel still takes the stream. */
	freeReplyObject(raw(primary, "CLIENT KILL TYPE replica"));
	cr_assert_eq(cache_invalidate(c, "k:lost"), CACHE_ERROR, "no replica could acknowledge the invalidation");
	cr_assert_null(raw_get(primary, "k:lost"), "the DEL ran on the master");
	char *v = NULL;
	size_t len;
	cache_lease lease;
	cr_assert_eq(
	    cache_get(c, "k:lost", &v, &len, &lease), CACHE_ERROR, "an unconfirmed invalidation: no cached read");
	cr_assert_gt(cache_pending_invalidations(), 0, "Health can say the cache is bypassed");
	/* The master dies before the replica got the DEL (SHUTDOWN NOW: no
	 * wait for replicas), and Sentinel promotes the replica. */
	freeReplyObject(raw(primary, "SHUTDOWN NOSAVE NOW"));
	servers("resume-one redis-replica");
	double t0 = now_s();
	/* Still a replica (promotion takes a second or more): the loss. */
	on_replica = raw_get(replica, "k:lost");
	cr_assert_str_eq(on_replica, "stale", "the replica got the DEL: nothing was lost");
	free(on_replica);
	cr_assert_eq(wait_new_master(primary), replica);
	cr_log_info("replica promoted %.1f s after the master died", now_s() - t0);
	/* The cache finds the new master and sends the DEL again; it never
	 * serves the stale value, which the new master held (the loss). */
	bool resent = false;
	while (!resent) {
		cr_assert_lt(now_s(), t0 + 30, "the invalidation was not sent again in 30 s");
		cache_result r = cache_get(c, "k:lost", &v, &len, &lease);
		cr_assert_neq(r, CACHE_HIT, "served '%s', invalidated before the failover", r == CACHE_HIT ? v : "");
		cache_release(c, "k:lost", &lease);
		char *now = raw_get(replica, "k:lost");
		resent    = now == NULL;
		free(now);
		usleep(50000);
	}
	cr_log_info("invalidation sent again to the new master %.1f s after the promotion", now_s() - t0);
	/* With no replica it stays unconfirmed: reads keep bypassing the
	 * cache. The old master comes back, Sentinel makes it a replica, the
	 * invalidation is acknowledged, and the cache serves again. */
	servers("start-one redis");
	cache_result r;
	double t1 = now_s();
	while ((r = cache_get(c, "k:lost", &v, &len, &lease)) != CACHE_MISS) {
		cr_assert_neq(r, CACHE_HIT, "served a stale value");
		cr_assert_lt(now_s(), t1 + 60, "the cache did not serve again in 60 s after the old master returned");
		usleep(100000);
	}
	cr_log_info("cache serving again %.1f s after the old master returned", now_s() - t1);
	cr_assert_eq(cache_pending_invalidations(), 0, "nothing left unacknowledged once the cache serves");
	cr_assert_eq(cache_fill(c, "k:lost", "fresh", 5, 60, &lease), CACHE_HIT);
	cr_assert_eq(cache_get(c, "k:lost", &v, &len, &lease), CACHE_HIT);
	cr_assert_str_eq(v, "fresh");
	free(v);
	cache_free(c);
}

/* A listener on 127.0.0.1 that never accepts: the kernel completes each
 * connect, then nothing is ever said (a hung sentinel). */
static int
listener(int backlog, int *port)
{
	int fd               = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len        = sizeof(a);
	cr_assert(fd >= 0 && bind(fd, (struct sockaddr *) &a, sizeof(a)) == 0 && listen(fd, backlog) == 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *) &a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* A blackholed address: a listener whose one-place queue (backlog 0) is
 * full, so Linux drops every further SYN and a connect hangs as it does
 * towards a host that is gone. fds[0] the listener, fds[1] the filler. */
static int
blackholed(int fds[2])
{
	int port;
	fds[0]               = listener(0, &port);
	fds[1]               = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {
	    .sin_family = AF_INET, .sin_port = htons((uint16_t) port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	cr_assert_eq(connect(fds[1], (struct sockaddr *) &a, sizeof(a)), 0);
	return port;
}

static void
fake_start(fake_sentinel *f, int names)
{
	cr_assert_eq(fake_sentinel_start(f, names, 0), 0);
}

static void
fake_stop(fake_sentinel *f)
{
	fake_sentinel_stop(f);
}

#define BUDGET_MS 200
/* Generous (a noisy 2-core box), yet below what one timeout per silent
 * sentinel cost before: 5 of them, 1 s. */
#define BOUND_S (2.0 * BUDGET_MS / 1000 + 0.3)

/* One cache_get on a new cache for url: its result, and how long it took. */
static cache_result
first_get(cache **c, const char *url, double *took)
{
	*c = cache_new(url, BUDGET_MS, 60);
	cr_assert_not_null(*c);
	char *v = NULL;
	size_t len;
	cache_lease lease;
	double t0        = now_s();
	cache_result res = cache_get(*c, "k:silent", &v, &len, &lease);
	*took            = now_s() - t0;
	free(v);
	return res;
}

Test(sentinel, silent_and_blackholed_sentinels_cost_one_timeout_and_a_live_one_is_found_at_once)
{
	int silent[3], black[2][2], sp[3], bp[2];
	for (int i = 0; i < 3; i++)
		silent[i] = listener(16, &sp[i]);
	for (int i = 0; i < 2; i++)
		bp[i] = blackholed(black[i]);
	char url[512];
	/* None answers: the read is an error (callers read PostgreSQL) within
	 * the budget, and the reason says what each did. */
	snprintf(url, sizeof(url),
	    "redis-sentinel://127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d/0#cache", sp[0], sp[1],
	    sp[2], bp[0], bp[1]);
	cache *c;
	double took;
	cr_assert_eq(first_get(&c, url, &took), CACHE_ERROR);
	cr_log_info("5 dead sentinels: the read failed after %.3f s (budget %d ms)", took, BUDGET_MS);
	cr_assert_lt(took, BOUND_S, "5 dead sentinels delayed a read %.3f s (budget %d ms)", took, BUDGET_MS);
	const char *why = cache_last_error(c);
	cr_assert_not_null(strstr(why, "no sentinel named master cache within 200 ms: "), "%s", why);
	cr_assert_not_null(strstr(why, "no answer in time"), "%s", why);
	cr_assert_not_null(strstr(why, "no connection in time"), "%s", why);
	cache_free(c);

	/* The live sentinel last: found on the first attempt, within the
	 * budget (all are asked at once), and the read served from Redis. */
	snprintf(url, sizeof(url),
	    "redis-sentinel://127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d/0#cache",
	    sp[0], sp[1], sp[2], bp[0], bp[1], sentinel_port(3));
	cr_assert_eq(first_get(&c, url, &took), CACHE_MISS, "%s", cache_last_error(c));
	cr_log_info("5 dead sentinels and a live one last: master found in %.3f s", took);
	cr_assert_lt(took, BOUND_S, "the live sentinel was found after %.3f s (budget %d ms)", took, BUDGET_MS);
	cr_assert_str_eq(cache_last_error(c), "");
	cache_free(c);
	for (int i = 0; i < 3; i++)
		close(silent[i]);
	for (int i = 0; i < 2; i++)
		close(black[i][0]), close(black[i][1]);
}

Test(sentinel, a_master_that_is_a_replica_or_silent_is_said_so_within_the_budget)
{
	/* A sentinel naming the replica (stale, or lying): not "unreachable"
	 * but what is true, as /readyz then shows it. */
	fake_sentinel f;
	fake_start(&f, base + 380);
	char url[512], want[256];
	snprintf(url, sizeof(url), "redis-sentinel://127.0.0.1:%d/0#cache", f.port);
	cache *c;
	double took;
	cr_assert_eq(first_get(&c, url, &took), CACHE_ERROR);
	snprintf(want, sizeof(want),
	    "sentinel 127.0.0.1:%d names 127.0.0.1:%d as master cache, which is a replica (ROLE)", f.port, base + 380);
	cr_assert_str_eq(cache_last_error(c), want);
	cr_assert_eq(cache_ping(c), CACHE_ERROR);
	cr_assert_str_eq(cache_last_error(c), want, "a health check in the backoff says the same");
	cache_free(c);
	fake_stop(&f);

	/* A named master that never answers ROLE, behind silent sentinels:
	 * the ROLE confirmation shares the lookup's budget. */
	int sp[4], silent[4], master;
	for (int i = 0; i < 4; i++)
		silent[i] = listener(16, &sp[i]);
	int mfd = listener(16, &master);
	fake_start(&f, master);
	snprintf(url, sizeof(url),
	    "redis-sentinel://127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d/0#cache", sp[0], sp[1],
	    sp[2], sp[3], f.port);
	cr_assert_eq(first_get(&c, url, &took), CACHE_ERROR);
	cr_log_info("4 silent sentinels and a silent master: the read failed after %.3f s", took);
	cr_assert_lt(took, BOUND_S, "%.3f s (budget %d ms)", took, BUDGET_MS);
	cr_assert_not_null(strstr(cache_last_error(c), "which did not answer ROLE"), "%s", cache_last_error(c));
	cache_free(c);
	fake_stop(&f);
	close(mfd);
	for (int i = 0; i < 4; i++)
		close(silent[i]);
}

static int
dead_port(void)
{
	int port = fake_sentinel_dead_port();
	cr_assert_gt(port, 0);
	return port;
}

/* The outsider attack on issue 20: one fast sentinel naming the wrong
 * server (the replica, a dead port, a sentinel, a host that never answers
 * a connect) kept the cache off for good, the first answer winning. Each kind of liar, answering at once,
 * beside truthful sentinels that answer 20 ms later (fakes naming the real
 * master) or the real ones: the cache reaches the master on the first
 * attempt, within the one budget. */
Test(sentinel, a_fast_sentinel_naming_the_wrong_server_is_passed_over_within_the_budget)
{
	struct {
		const char *kind;
		int names;
	} liars[] = {
	    {"the replica", base + 380}, {"a dead port", dead_port()}, {"a sentinel", sentinel_port(3)},
	    {"a blackholed host", 0}, /* below: a connect to it hangs */
	};
	int black[2];
	liars[3].names = blackholed(black);
	for (size_t i = 0; i < sizeof(liars) / sizeof(liars[0]); i++) {
		fake_sentinel liar, truth[2];
		fake_start(&liar, liars[i].names);
		for (int k = 0; k < 2; k++) {
			fake_start(&truth[k], base + 379);
			truth[k].delay_ms = 20;
		}
		char url[512];
		/* The repro: truth1,truth2,liar. */
		snprintf(url, sizeof(url), "redis-sentinel://127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d/0#cache",
		    truth[0].port, truth[1].port, liar.port);
		cache *c;
		double took;
		cr_assert_eq(
		    first_get(&c, url, &took), CACHE_MISS, "liar naming %s: %s", liars[i].kind, cache_last_error(c));
		cr_log_info("a liar naming %s and two truthful sentinels 20 ms later: master reached in %.3f s",
		    liars[i].kind, took);
		cr_assert_lt(took, BOUND_S, "%.3f s (budget %d ms)", took, BUDGET_MS);
		cr_assert_str_eq(cache_last_error(c), "");
		cache_free(c);
		/* The real sentinels and the liar, first in the list. */
		snprintf(url, sizeof(url), "redis-sentinel://127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d/0#cache", liar.port,
		    sentinel_port(1), sentinel_port(2));
		cr_assert_eq(first_get(&c, url, &took), CACHE_MISS, "liar naming %s, real sentinels: %s", liars[i].kind,
		    cache_last_error(c));
		cr_assert_lt(took, BOUND_S, "%.3f s (budget %d ms)", took, BUDGET_MS);
		cache_free(c);
		fake_stop(&liar);
		for (int k = 0; k < 2; k++)
			fake_stop(&truth[k]);
	}
	close(black[0]), close(black[1]);
}

/* The same one step down: the lookup hands out the liar's address first
 * (it came first), then the one the truthful two named, and a liar whose
 * answer failed confirmation goes to the back of the list, so on a tie the
 * next lookup prefers the others. Only a liar, refuted: the error says
 * what it named and that no other address came. */
Test(sentinel, the_lookup_hands_out_each_named_address_and_demotes_a_refuted_sentinel)
{
	fake_sentinel liar, truth[2];
	fake_start(&liar, base + 380);
	for (int k = 0; k < 2; k++) {
		fake_start(&truth[k], base + 379);
		truth[k].delay_ms = 300; /* well after the liar's, on a noisy box */
	}
	char url[512], err[512], host[256], by[256], want[128];
	snprintf(url, sizeof(url), "redis-sentinel://127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d/0#cache", liar.port,
	    truth[0].port, truth[1].port);
	sentinel_url s;
	cr_assert_eq(sentinel_parse_url(url, &s, err, sizeof(err)), 0, "%s", err);
	sentinel_lookup l;
	int port;
	sentinel_lookup_start(&l, &s, rpc_clock_ms() + 2000);
	cr_assert_eq(sentinel_lookup_next(&l, host, sizeof(host), &port, by, sizeof(by)), 0);
	cr_assert_eq(port, base + 380, "the first answer (the liar's) comes first");
	snprintf(want, sizeof(want), "sentinel 127.0.0.1:%d", liar.port);
	cr_assert_str_eq(by, want);
	cr_assert(sentinel_lookup_may_name_more(&l));
	sentinel_lookup_refuted(&l);
	usleep(600000); /* both truthful answers are in: the next comes from both */
	cr_assert_eq(sentinel_lookup_next(&l, host, sizeof(host), &port, by, sizeof(by)), 0);
	cr_assert_str_eq(host, "127.0.0.1");
	cr_assert_eq(port, base + 379);
	snprintf(want, sizeof(want), "sentinels 127.0.0.1:%d, 127.0.0.1:%d", truth[0].port, truth[1].port);
	cr_assert_str_eq(by, want);
	sentinel_lookup_confirmed(&l);
	cr_assert_eq(sentinel_lookup_next(&l, host, sizeof(host), &port, by, sizeof(by)), -1, "no third address");
	sentinel_lookup_end(&l, err, sizeof(err));
	cr_assert_str_eq(err, "", "every sentinel named an address");
	cr_assert_eq(s.port[0], truth[0].port);
	cr_assert_eq(s.port[1], truth[1].port);
	cr_assert_eq(s.port[2], liar.port, "the liar is asked last next time");
	fake_stop(&liar);
	for (int k = 0; k < 2; k++)
		fake_stop(&truth[k]);

	/* A liar and a silent sentinel: refused within the budget, saying both. */
	int silent_port, silent = listener(16, &silent_port);
	fake_start(&liar, dead_port());
	snprintf(url, sizeof(url), "redis-sentinel://127.0.0.1:%d,127.0.0.1:%d/0#cache", liar.port, silent_port);
	cache *c;
	double took;
	cr_assert_eq(first_get(&c, url, &took), CACHE_ERROR);
	cr_assert_lt(took, BOUND_S, "%.3f s (budget %d ms)", took, BUDGET_MS);
	snprintf(want, sizeof(want),
	    "sentinel 127.0.0.1:%d names 127.0.0.1:%d as master cache, which cannot be connected to", liar.port,
	    liar.names);
	cr_assert_not_null(strstr(cache_last_error(c), want), "%s", cache_last_error(c));
	snprintf(
	    want, sizeof(want), "; no other address named within 200 ms: 127.0.0.1:%d no answer in time", silent_port);
	cr_assert_not_null(strstr(cache_last_error(c), want), "%s", cache_last_error(c));
	cache_free(c);
	fake_stop(&liar);
	close(silent);
}

/* IPv6 hosts (the outsider attack: refused as "has host '['"): a sentinel
 * on [::1] is asked and names the real master, and redis://[::1]:PORT
 * connects (hiredis 0.14 resolves "::1" with getaddrinfo), here to a
 * listener on ::1 that answers each command with an array. */
Test(sentinel, bracketed_ipv6_hosts_are_connected_to)
{
	fake_sentinel f;
	cr_assert_eq(fake_sentinel_start_at(&f, true, base + 379, 0), 0, "no ::1 here");
	char url[256];
	snprintf(url, sizeof(url), "REDIS-SENTINEL://[::1]:%d/0#cache", f.port);
	cache *c;
	double took;
	cr_assert_eq(first_get(&c, url, &took), CACHE_MISS, "%s", cache_last_error(c));
	cache_free(c);
	snprintf(url, sizeof(url), "redis://[::1]:%d/0", f.port);
	c = cache_new(url, BUDGET_MS, 60);
	cr_assert_not_null(c);
	cr_assert_eq(cache_ping(c), CACHE_HIT, "%s", cache_last_error(c));
	cache_free(c);
	fake_sentinel_stop(&f);
}
