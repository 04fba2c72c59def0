/* REDIS_URL in Sentinel form (issue 20): redis-sentinel://[:password@]
 * host[:port],...[/db]#master, read as strictly as a redis:// URL, each
 * error naming the sentinel at fault and never showing the password. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/env.h"
#include "svc/cache.h"
#include "svc/sentinel.h"

Test(sentinel_url, the_issue_form_is_read)
{
	sentinel_url s;
	char err[256] = "";
	cr_assert_eq(
	    sentinel_parse_url("redis-sentinel://127.0.0.1:26379,127.0.0.1:26380/0#cache", &s, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(s.n, 2);
	cr_assert_str_eq(s.host[0], "127.0.0.1");
	cr_assert_eq(s.port[0], 26379);
	cr_assert_eq(s.port[1], 26380);
	cr_assert_str_eq(s.master, "cache");
	cr_assert_eq(s.db, 0);
	cr_assert_str_eq(s.password, "");
}

Test(sentinel_url, defaults_password_and_database)
{
	sentinel_url s;
	char err[256] = "";
	/* No port: Sentinel's own 26379. The password is %-decoded as in
	 * redis:// and may hold '@' and ',' (%40, %2C); the database applies to
	 * the master. */
	cr_assert_eq(
	    sentinel_parse_url("redis-sentinel://:p%40w%2Cx@s1,s2:5000,s3/7#my_master-1.a", &s, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(s.n, 3);
	cr_assert_str_eq(s.password, "p@w,x");
	cr_assert_str_eq(s.host[0], "s1");
	cr_assert_eq(s.port[0], SENTINEL_DEFAULT_PORT);
	cr_assert_str_eq(s.host[1], "s2");
	cr_assert_eq(s.port[1], 5000);
	cr_assert_eq(s.port[2], SENTINEL_DEFAULT_PORT);
	cr_assert_eq(s.db, 7);
	cr_assert_str_eq(s.master, "my_master-1.a");
	cr_assert_eq(sentinel_parse_url("redis-sentinel://s1/#m", &s, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(s.db, 0);
	cr_assert_eq(sentinel_parse_url("redis-sentinel://s1#m", &s, err, sizeof(err)), 0, "%s", err);
	cr_assert(sentinel_is_url("redis-sentinel://s1#m"));
	cr_assert_not(sentinel_is_url("redis://s1"));
}

static void
refused(const char *url, const char *why)
{
	sentinel_url s;
	char err[256] = "";
	cr_assert_eq(sentinel_parse_url(url, &s, err, sizeof(err)), -1, "%s was accepted", url);
	cr_assert_not_null(strstr(err, why), "%s: '%s' does not say '%s'", url, err, why);
	cr_assert_null(strstr(err, "s3cret"), "%s: %s", url, err);
}

Test(sentinel_url, each_kind_of_bad_url_is_refused_with_its_reason)
{
	refused("redis://h#m", "does not start with redis-sentinel://");
	/* the master's name */
	refused("redis-sentinel://h:26379", "has no master name");
	refused("redis-sentinel://h:26379/0", "has no master name");
	refused("redis-sentinel://h:26379#", "has no master name");
	refused("redis-sentinel://h#ca che", "has no master name");
	refused("redis-sentinel://h#ca#che", "has no master name");
	refused("redis-sentinel://h#0123456789012345678901234567890123456789012345678901234567890123", "at most 63");
	/* the list */
	refused("redis-sentinel://#m", "has an empty sentinel address (sentinel 1)");
	refused("redis-sentinel://,h#m", "has an empty sentinel address (sentinel 1)");
	refused("redis-sentinel://h1,,h2#m", "has an empty sentinel address (sentinel 2)");
	refused("redis-sentinel://h1,#m", "has an empty sentinel address (sentinel 2)");
	refused("redis-sentinel://a,b,c,d,e,f,g,h,i#m", "lists more than 8 sentinels");
	/* each element's host and port, strict as redis:// */
	refused("redis-sentinel://h1:0#m", "sentinel (1) that has a bad port");
	refused("redis-sentinel://h1,h2:99999#m", "sentinel (2) that has a bad port");
	refused("redis-sentinel://h1,h2:+1#m", "sentinel (2) that has a bad port");
	refused("redis-sentinel://h1,h2: 1#m", "sentinel (2) that has a bad port");
	refused("redis-sentinel://h1,999.1.1.1#m", "sentinel (2) that has host '999.1.1.1'");
	refused("redis-sentinel://h1,ho st#m", "sentinel (2)");
	refused("redis-sentinel://h1:1:2#m", "sentinel (1) that has a bad port");
	/* the database */
	refused("redis-sentinel://h/16#m", "has a bad database number (0-15) after the sentinels: '/16'");
	refused("redis-sentinel://h/+1#m", "bad database number");
	refused("redis-sentinel://h/0/1#m", "bad database number");
	refused("redis-sentinel://h1,h2/123#m", "has a bad database number (0-15) after the sentinels: '/123'");
	refused("redis-sentinel://h?db=1#m", "has a query");
	/* the password, as redis:// reads it */
	refused("redis-sentinel://s3cret@h#m", "has a user name but no password");
	refused("redis-sentinel://user:s3cret@h#m", "ACL users are not supported");
	refused("redis-sentinel://:s3%zzcret@h#m", "not %XX");
}

/* The outsider attack's: a password before each sentinel read as one
 * password running to the last '@' and one sentinel. The user information
 * comes only before the first sentinel and ends at the first '@'. */
Test(sentinel_url, an_at_sign_after_the_first_sentinel_is_refused_naming_it)
{
	static const char why[] = "only the first sentinel may follow :password@ (one password, the master's), and an "
	                          "@ or a comma in a password is written %40, %2C";
	char want[256];
	snprintf(want, sizeof(want), "has user information (...@) in sentinel 2 (the one at 'h2:26380'): %s", why);
	refused("redis-sentinel://:s3cret@h1:26379,:s3cret@h2:26380#m", want);
	refused("redis-sentinel://h1:26379,:s3cret@h2:26380#m", want);
	refused("redis-sentinel://:s3cret@h1:26379,s3cret@h2:26380/1#m", want);
	refused("redis-sentinel://h1,h2,:s3cret@h3#m", "in sentinel 3 (the one at 'h3')");
	refused("redis-sentinel://h1,h2,:s3cret@h3,h4#m", "in sentinel 3 (the one at 'h3')");
	/* An '@' or ',' of the password itself, not encoded. */
	refused("redis-sentinel://:s3@cret@h1,h2#m",
	    "has a second @ before sentinel 1: an @ in the password is written %40");
	refused("redis-sentinel://:s3,cret@h1,h2#m", "in sentinel 2 (the one at 'h1')");
	/* Encoded, it is read (cache_parse_url decodes %XX in the password). */
	sentinel_url s;
	char err[256] = "";
	cr_assert_eq(
	    sentinel_parse_url("redis-sentinel://:s3%40cret@h1:26379,h2:26380#m", &s, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(s.n, 2);
	cr_assert_str_eq(s.password, "s3@cret");
	cr_assert_str_eq(s.host[0], "h1");
	cr_assert_str_eq(s.host[1], "h2");
}

/* '/', '?' and '#' end the authority (RFC 3986 3.2): in a password they cut
 * it, and the refusal says so rather than blaming a host or the master's
 * name; %-encoded they are read. */
Test(sentinel_url, a_password_holding_slash_query_or_hash_is_told_to_encode_them)
{
	static const char why[] = "has an @ after a /, ? or #: a password holding /, ?, # or @ must write them %2F, "
	                          "%3F, %23, %40";
	refused("redis-sentinel://:s3#cret@h1,h2#m", why);
	refused("redis-sentinel://:s3/cret@h1,h2#m", why);
	refused("redis-sentinel://:s3?cret@h1,h2#m", why);
	refused("redis-sentinel://h1,h2#m@x", why);
	sentinel_url s;
	char err[256] = "";
	cr_assert_eq(
	    sentinel_parse_url("redis-sentinel://:s%23c%2Fr%3Fe%40t@h1,h2/3#m", &s, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(s.password, "s#c/r?e@t");
	cr_assert_eq(s.n, 2);
	cr_assert_eq(s.db, 3);
	/* The same for redis:// (one parser of passwords). */
	char host[256], password[256];
	int port, db;
	cr_assert_eq(cache_parse_url("redis://:s3#cret@h", host, sizeof(host), &port, &db, password, sizeof(password),
	                 err, sizeof(err)),
	    -1);
	cr_assert_not_null(strstr(err, "must write them %2F, %3F, %23, %40"), "%s", err);
}

Test(sentinel_url, redis_url_errors_name_the_variable_and_mask_the_password)
{
	/* The values below, not scripts/test's (each test is a process of its own). */
	unsetenv("REDIS_URL");
	unsetenv("REDIS_URL_FILE");
	const char *out = NULL;
	char msg[512];
	env_var v = {.name = "REDIS_URL",
	    .default_value = "redis-sentinel://:s3cret@h1:26379,h2:0/0#cache",
	    .kind          = ENV_CUSTOM,
	    .parse         = cache_env_parse_url,
	    .out           = &out,
	    .secret_url    = 1};
	cr_assert_eq(env_load(&v, 1, msg, sizeof(msg)), -1);
	cr_assert_str_eq(msg,
	    "REDIS_URL: 'redis-sentinel://:***@h1:26379,h2:0/0#cache' is not a Redis Sentinel URL "
	    "(redis-sentinel://[:password@]host:port,...[/db]#master): it has a sentinel (2) that has "
	    "a bad port (1-65535)");
	v.default_value = "redis-sentinel://:s3cret@h1:26379,h2:26380/0#cache";
	cr_assert_eq(env_load(&v, 1, msg, sizeof(msg)), 0, "%s", msg);
	cr_assert_str_eq(out, v.default_value);
	/* The attack's URL: refused naming REDIS_URL and the sentinel. */
	v.default_value = "redis-sentinel://:s3cret@h1:26379,:s3cret@h2:26380#cache";
	cr_assert_eq(env_load(&v, 1, msg, sizeof(msg)), -1);
	cr_assert_eq(strncmp(msg, "REDIS_URL: ", 11), 0, "%s", msg);
	cr_assert_not_null(strstr(msg, "user information (...@) in sentinel 2 (the one at 'h2:26380')"), "%s", msg);
	cr_assert_null(strstr(msg, "s3cret"), "%s", msg);
	/* The value shown keeps sentinel 1, as the parser reads it (it showed
	 * 'redis-sentinel://:***@h2:26380#cache'). */
	cr_assert_not_null(strstr(msg, "'redis-sentinel://:***@h1:26379,:***@h2:26380#cache'"), "%s", msg);
	/* A scheme is read in any case (RFC 3986 3.1); refused, both forms. */
	v.default_value = "REDIS-SENTINEL://:s3cret@h1:26379,h2:26380/0#cache";
	cr_assert_eq(env_load(&v, 1, msg, sizeof(msg)), 0, "%s", msg);
	v.default_value = "redis-sentinels://h1#cache";
	cr_assert_eq(env_load(&v, 1, msg, sizeof(msg)), -1);
	cr_assert_str_eq(msg, "REDIS_URL: 'redis-sentinels://h1#cache' is not a Redis URL: it does not start with "
	                      "redis:// or redis-sentinel://");
	char masked[256];
	env_mask_url("redis-sentinel://:p@ss,w@h1,h2/1#m", masked, sizeof(masked));
	cr_assert_str_eq(masked, "redis-sentinel://:***@h1,h2/1#m");
	/* fuzz_config's finds: refused URLs whose sentinels mask nothing of
	 * the password a reader of URIs takes (first ':' to last '@'), which
	 * showed it whole; it is masked as such. */
	env_mask_url("redis-sentinel://V:,,st'u:@[o", masked, sizeof(masked));
	cr_assert_str_eq(masked, "redis-sentinel://V:***@[o");
	env_mask_url("redis-sentinel://V[st:@ii:,ii'u:@[o", masked, sizeof(masked));
	cr_assert_str_eq(masked, "redis-sentinel://V[st:***@[o");
	env_mask_url("redis-sentinel://Vu2@@ii:,ii'u:@[o", masked, sizeof(masked));
	cr_assert_str_eq(masked, "redis-sentinel://***@ii:***@[o");
}

Test(sentinel_url, a_cache_takes_a_sentinel_url)
{
	/* Lazily connected: made without any server. */
	cache *c = cache_new("redis-sentinel://127.0.0.1:1/0#cache", 100, 60);
	cr_assert_not_null(c);
	/* No sentinel answers: an error, never a hang, never a failed caller. */
	char *value;
	size_t len;
	cache_lease lease;
	cr_assert_eq(cache_get(c, "k", &value, &len, &lease), CACHE_ERROR);
	cache_free(c);
	cr_assert_null(cache_new("redis-sentinel://127.0.0.1:1/0", 100, 60));
}

/* The outsider attack's IPv6 and scheme cases: [::1] is read (the database
 * and AMQP settings take it), a bare IPv6 address or a '[' alone is refused
 * saying so, and the scheme is read in any case. */
Test(sentinel_url, ipv6_hosts_in_brackets_and_schemes_in_any_case)
{
	sentinel_url s;
	char err[256] = "", host[256], password[256];
	int port, db;
	cr_assert_eq(sentinel_parse_url("redis-sentinel://[::1]:26380,h2,[fe80::1%25]#m", &s, err, sizeof(err)), -1);
	cr_assert_eq(sentinel_parse_url("redis-sentinel://:pw@[::1]:26380,h2,[2001:db8::7]/2#m", &s, err, sizeof(err)),
	    0, "%s", err);
	cr_assert_eq(s.n, 3);
	cr_assert_str_eq(s.host[0], "::1");
	cr_assert_eq(s.port[0], 26380);
	cr_assert_str_eq(s.host[2], "2001:db8::7");
	cr_assert_eq(s.port[2], SENTINEL_DEFAULT_PORT, "no port after ']': the default");
	cr_assert_str_eq(s.password, "pw");
	cr_assert_eq(s.db, 2);
	cr_assert_eq(sentinel_parse_url("Redis-Sentinel://h1#m", &s, err, sizeof(err)), 0, "%s", err);
	cr_assert(sentinel_is_url("REDIS-SENTINEL://h1#m"));
	char text[64];
	sentinel_addr_text("::1", 6379, text, sizeof(text));
	cr_assert_str_eq(text, "[::1]:6379");
	sentinel_addr_text("h", 1, text, sizeof(text));
	cr_assert_str_eq(text, "h:1");

	cr_assert_eq(cache_parse_url("redis://[::1]:6379/0", host, sizeof(host), &port, &db, password, sizeof(password),
	                 err, sizeof(err)),
	    0, "%s", err);
	cr_assert_str_eq(host, "::1");
	cr_assert_eq(port, 6379);
	cr_assert_eq(cache_parse_url("REDIS://:pw@[::1]/3", host, sizeof(host), &port, &db, password, sizeof(password),
	                 err, sizeof(err)),
	    0, "%s", err);
	cr_assert_eq(port, 6379);
	cr_assert_eq(db, 3);
	cr_assert_str_eq(password, "pw");
	static const struct {
		const char *url, *why;
	} bad[] = {
	    {"redis://::1/0", "has an IPv6 address without brackets: write it redis://[::1]:port"},
	    {"redis://:pw@::1:6379/0", "has an IPv6 address without brackets"},
	    {"redis://[::1/0", "has a '[' without its ']' (an IPv6 address is written [::1])"},
	    {"redis://[127.0.0.1]:6379", "has host '[127.0.0.1]', which is not an IPv6 address"},
	    {"redis://[]:6379", "which is not an IPv6 address"},
	    {"redis://[::g]:6379", "has host '::g', which is not an IPv6 address"},
	    {"redis://[::1]x/0", "is not redis://[:password@]host[:port][/db]"},
	    {"redis://[::1]:0/0", "has a bad port"},
	    {"http://h", "does not start with redis:// or redis-sentinel://"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(cache_parse_url(bad[i].url, host, sizeof(host), &port, &db, password, sizeof(password),
		                 err, sizeof(err)),
		    -1, "%s was accepted", bad[i].url);
		cr_assert_not_null(strstr(err, bad[i].why), "%s: '%s' does not say '%s'", bad[i].url, err, bad[i].why);
	}
	refused("redis-sentinel://[::1]:26379,[::2#m", "has a sentinel (2) that has a '[' without its ']'");
	refused("redis-sentinel://h1,::1#m", "has a sentinel (2) that has an IPv6 address without brackets");
}
