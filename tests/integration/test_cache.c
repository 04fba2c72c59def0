/* The lease-guarded cache against the real Redis: the stale-set race of
 * cache-aside, step by step, and the URL parser. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "svc/cache.h"

static cache *
open_cache(void)
{
	const char *url = getenv("REDIS_URL");
	cr_assert_not_null(url, "REDIS_URL is not set: run the tests with scripts/test");
	cache *c = cache_new(url, 2000, 60);
	cr_assert_not_null(c);
	return c;
}

static void
unique_key(char *out, size_t len, const char *what)
{
	static int n;
	snprintf(out, len, "test:cache:%d:%d:%s", (int) getpid(), n++, what);
}

Test(cache, a_miss_takes_a_lease_and_the_fill_is_then_a_hit)
{
	cache *c = open_cache();
	char key[96];
	unique_key(key, sizeof(key), "plain");
	char *v;
	size_t len;
	cache_lease lease;
	cr_assert_eq(cache_get(c, key, &v, &len, &lease), CACHE_MISS);
	cr_assert_neq(lease.token[0], '\0', "the first miss gets the lease");
	cr_assert_eq(cache_fill(c, key, "fresh", 5, 60, &lease), CACHE_HIT);
	cache_lease none;
	cr_assert_eq(cache_get(c, key, &v, &len, &none), CACHE_HIT);
	cr_assert_eq(len, 5);
	cr_assert_arr_eq(v, "fresh", 5);
	free(v);
	cache_invalidate(c, key);
	cache_free(c);
}

Test(cache, a_slow_fill_that_read_before_an_invalidation_never_lands)
{
	/* 1. Reader A misses and takes the lease, then reads the database:
	 *    the old list. 2. Writer B commits a change and invalidates.
	 *    3. A, late, tries to fill the old list: it must lose. */
	cache *a = open_cache(), *b = open_cache();
	char key[96];
	unique_key(key, sizeof(key), "race");
	char *v;
	size_t len;
	cache_lease lease_a;
	cr_assert_eq(cache_get(a, key, &v, &len, &lease_a), CACHE_MISS);
	cr_assert_neq(lease_a.token[0], '\0');
	cr_assert_eq(cache_invalidate(b, key), CACHE_HIT);
	cr_assert_eq(cache_fill(a, key, "stale", 5, 60, &lease_a), CACHE_MISS, "the stale fill is refused");
	cache_lease lease_c;
	cr_assert_eq(cache_get(b, key, &v, &len, &lease_c), CACHE_MISS, "nothing stale was stored");
	/* 4. The next reader reads the new data and fills it. */
	cr_assert_eq(cache_fill(b, key, "new", 3, 60, &lease_c), CACHE_HIT);
	cache_lease none;
	cr_assert_eq(cache_get(a, key, &v, &len, &none), CACHE_HIT);
	cr_assert_arr_eq(v, "new", 3);
	free(v);
	cache_invalidate(a, key);
	cache_free(a);
	cache_free(b);
}

Test(cache, concurrent_misses_leave_one_filler)
{
	cache *a = open_cache(), *b = open_cache();
	char key[96];
	unique_key(key, sizeof(key), "herd");
	char *v;
	size_t len;
	cache_lease first, second;
	cr_assert_eq(cache_get(a, key, &v, &len, &first), CACHE_MISS);
	cr_assert_eq(cache_get(b, key, &v, &len, &second), CACHE_MISS);
	cr_assert_neq(first.token[0], '\0');
	cr_assert_eq(second.token[0], '\0', "the second miss reads the database but does not fill");
	cr_assert_eq(cache_fill(b, key, "x", 1, 60, &second), CACHE_MISS);
	cr_assert_eq(cache_fill(a, key, "x", 1, 60, &first), CACHE_HIT);
	cache_invalidate(a, key);
	cache_free(a);
	cache_free(b);
}

Test(cache, a_released_lease_lets_the_next_miss_fill_at_once)
{
	/* Found in CI: a GET of a user not created yet kept its lease for
	 * 10 s, so the user created right after was not cached. */
	cache *c = open_cache();
	char key[96];
	unique_key(key, sizeof(key), "release");
	char *v;
	size_t len;
	cache_lease first, second;
	cr_assert_eq(cache_get(c, key, &v, &len, &first), CACHE_MISS);
	cache_release(c, key, &first); /* the value did not exist */
	cr_assert_eq(cache_get(c, key, &v, &len, &second), CACHE_MISS);
	cr_assert_neq(second.token[0], '\0', "the next miss gets a lease again");
	cr_assert_eq(cache_fill(c, key, "v", 1, 60, &second), CACHE_HIT);
	cache_release(c, key, &first); /* a stale release removes nothing */
	cache_lease none;
	cr_assert_eq(cache_get(c, key, &v, &len, &none), CACHE_HIT);
	free(v);
	cache_invalidate(c, key);
	cache_free(c);
}

Test(cache, an_unreachable_redis_is_an_error_not_a_failure_or_a_hang, .timeout = 10)
{
	cache *c = cache_new("redis://127.0.0.1:1/0", 200, 60);
	char *v;
	size_t len;
	cache_lease lease;
	cr_assert_eq(cache_get(c, "k", &v, &len, &lease), CACHE_ERROR);
	cr_assert_eq(lease.token[0], '\0');
	cr_assert_eq(cache_ping(c), CACHE_ERROR);
	cr_assert(cache_error_count() >= 1);
	cache_free(c);
}

/* REDIS_URL's server, with another user part and database. */
static cache *
open_cache_as(const char *userinfo, int db)
{
	char host[256], pw[256], err[160], url[400];
	int port, url_db;
	cr_assert_eq(
	    cache_parse_url(getenv("REDIS_URL"), host, sizeof(host), &port, &url_db, pw, sizeof(pw), err, sizeof(err)),
	    0, "%s", err);
	snprintf(url, sizeof(url), "redis://%s%s:%d/%d", userinfo, host, port, db);
	cache *c = cache_new(url, 2000, 60);
	cr_assert_not_null(c);
	return c;
}

/* The connection's set-up selects the URL's database: a value filled there
 * is not seen from database 0, and is from another cache on the same one. */
Test(cache, the_urls_database_is_selected_on_connect)
{
	cache *on5 = open_cache_as("", 5), *on5_too = open_cache_as("", 5), *on0 = open_cache_as("", 0);
	char key[96];
	unique_key(key, sizeof(key), "db5");
	char *v;
	size_t len;
	cache_lease lease, none;
	cr_assert_eq(cache_get(on5, key, &v, &len, &lease), CACHE_MISS);
	cr_assert_eq(cache_fill(on5, key, "five", 4, 60, &lease), CACHE_HIT);
	cr_assert_eq(cache_get(on0, key, &v, &len, &none), CACHE_MISS, "database 0 must not hold it");
	cache_release(on0, key, &none);
	cr_assert_eq(cache_get(on5_too, key, &v, &len, &none), CACHE_HIT);
	cr_assert_arr_eq(v, "five", 4);
	free(v);
	cache_invalidate(on5, key);
	cache_free(on5);
	cache_free(on5_too);
	cache_free(on0);
}

/* A password the server refuses (this one has none set) fails the
 * connection's set-up: an error, read as a miss by callers, never a hang
 * or a command sent unauthenticated. */
Test(cache, a_refused_auth_is_an_error, .timeout = 10)
{
	uint64_t before = cache_error_count();
	cache *c        = open_cache_as(":not-the-password@", 0);
	char *v;
	size_t len;
	cache_lease lease;
	cr_assert_eq(cache_get(c, "test:cache:auth", &v, &len, &lease), CACHE_ERROR);
	cr_assert_eq(lease.token[0], '\0');
	cr_assert_gt(cache_error_count(), before);
	cache_free(c);
}

Test(cache, urls_parse_strictly)
{
	char host[64], pw[64], err[160];
	int port, db;
	cr_assert_eq(cache_parse_url(
	                 "redis://127.0.0.1:6380/2", host, sizeof(host), &port, &db, pw, sizeof(pw), err, sizeof(err)),
	    0);
	cr_assert_str_eq(host, "127.0.0.1");
	cr_assert_eq(port, 6380);
	cr_assert_eq(db, 2);
	cr_assert_eq(
	    cache_parse_url("redis://:s3cret@cache", host, sizeof(host), &port, &db, pw, sizeof(pw), err, sizeof(err)),
	    0);
	cr_assert_str_eq(pw, "s3cret");
	cr_assert_eq(port, 6379);
	const char *bad[] = {
	    "http://x", "redis://", "redis://h:0", "redis://h:99999", "redis://h/99", "redis://h:6379x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(cache_parse_url(bad[i], host, sizeof(host), &port, &db, pw, sizeof(pw), err, sizeof(err)),
		    -1, "%s", bad[i]);
}
