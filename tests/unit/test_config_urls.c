/* The URL parsers behind REDIS_URL and AMQP_URL, with the inputs fuzz_config
 * found (tests/fuzz/corpus/fuzz_config/regression-*): what the Redis parser
 * takes as a password is what --help masks, and numbers are strict. */
#include <criterion/criterion.h>
#include <string.h>

#include "broker.h"
#include "cache.h"
#include "env.h"

static int
parse(const char *url, char *password, char *err)
{
	char host[256];
	int port, db;
	return cache_parse_url(url, host, sizeof(host), &port, &db, password, 256, err, 256);
}

Test(config_urls, a_redis_user_name_without_a_password_is_refused_not_sent_unmasked)
{
	/* fuzz_config: taken as the password, while --help left it showing. */
	char password[256], err[256];
	cr_assert_eq(parse("redis://s3cret@cache:6379/0", password, err), -1);
	cr_assert_str_eq(err, "has a user name but no password: use redis://:password@host");
	cr_assert_eq(parse("redis://user:s3cret@cache", password, err), 0, "%s", err);
	cr_assert_str_eq(password, "s3cret");
}

Test(config_urls, the_redis_password_ends_where_the_mask_says_it_does)
{
	/* fuzz_config: '#' and '?' end the authority for env_mask_url, so a
	 * password running past them was printed; and the first '@' made a
	 * host out of "ss@cache". */
	char password[256], err[256], masked[256];
	cr_assert_eq(parse("redis://:pa#ss@cache", password, err), -1);
	cr_assert_eq(parse("redis://cache?x@y", password, err), -1);
	cr_assert_eq(parse("redis://:p@ss@cache/1", password, err), 0, "%s", err);
	cr_assert_str_eq(password, "p@ss");
	env_mask_url("redis://:p@ss@cache/1", masked, sizeof(masked));
	cr_assert_str_eq(masked, "redis://:***@cache/1");
}

Test(config_urls, redis_numbers_are_digits_only)
{
	const char *bad[] = {"redis://h:+80", "redis://h: 80", "redis://h:-1", "redis://h/+1", "redis://h/ 1",
	    "redis://h:99999999999999999999", "redis://h/16"};
	char password[256], err[256];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(parse(bad[i], password, err), -1, "%s was accepted", bad[i]);
	cr_assert_eq(parse("redis://h:65535/15", password, err), 0, "%s", err);
}

Test(config_urls, errors_never_repeat_the_url)
{
	char password[256], err[256];
	cr_assert_eq(parse("redis://:s3cret@/0", password, err), -1);
	cr_assert_null(strstr(err, "s3cret"), "%s", err);
}

Test(config_urls, an_amqp_url_is_checked_and_kept)
{
	const char *out = NULL;
	char err[256];
	const char *url = "amqp://guest:guest@127.0.0.1:5672/";
	cr_assert_eq(broker_env_parse_url(url, &out, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(out, url);
	cr_assert_eq(broker_env_parse_url("http://x", &out, err, sizeof(err)), -1);
}
