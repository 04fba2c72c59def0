/* The cache through Redis Sentinel (issue 20) on real servers: a replica
 * and three sentinels of scripts/servers (SERVERS_REDIS_SENTINEL=1) in an
 * instance of this test's own, beside the suite's (ports: the suite's Redis
 * port + 360 - 379 as base). A planned failover is followed without a new
 * cache; an invalidation the promoted replica never received (replication
 * is asynchronous) is not served as a stale value, and is sent again. */
#define _DEFAULT_SOURCE /* usleep */
#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "svc/cache.h"

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
	cr_assert_eq(cache_fill(c, "k:lost", "fresh", 5, 60, &lease), CACHE_HIT);
	cr_assert_eq(cache_get(c, "k:lost", &v, &len, &lease), CACHE_HIT);
	cr_assert_str_eq(v, "fresh");
	free(v);
	cache_free(c);
}
