/* The services' validation tables for text (issue 15 section 6): every
 * trimmed field trims the same white space, lengths count code points, and
 * emails refuse white space and controls of any kind. */
#include <criterion/criterion.h>
#include <string.h>

#include "order_validate.h"
#include "user_validate.h"

static const char *
user_problem(const char *name, const char *email, char *name_out, size_t len)
{
	static rpc_status st;
	rpc_status_clear(&st);
	if (user_validate_create(name, email, name_out, len, &st))
		return NULL;
	return st.violations[0].description;
}

static const char *
order_problem(const char *product, const char *price, char *product_out, size_t len)
{
	static rpc_status st;
	char status[32];
	rpc_status_clear(&st);
	if (order_validate_create(1, product, price, "", product_out, len, status, sizeof(status), &st))
		return NULL;
	return st.violations[0].description;
}

Test(validate, names_and_products_trim_the_same_white_space)
{
	const char *blank[] = {"\xc2\xa0\xe3\x80\x80\xc2\xa0", "\xe2\x80\xa8", "\xef\xbb\xbf", " \t\r\n\v\f",
	    "\xe1\x9a\x80\xe2\x80\xaf\xe2\x81\x9f"};
	for (size_t i = 0; i < sizeof(blank) / sizeof(blank[0]); i++) {
		char out[512];
		cr_assert_str_eq(
		    user_problem(blank[i], "a@b.co", out, sizeof(out)), "name must not be empty", "%zu", i);
		cr_assert_str_eq(order_problem(blank[i], "1", out, sizeof(out)), "product must not be empty", "%zu", i);
	}
	char out[512];
	cr_assert_null(user_problem("\xe3\x80\x80"
	                            "Ada\xc2\xa0"
	                            "B\xef\xbb\xbf",
	    "a@b.co", out, sizeof(out)));
	cr_assert_str_eq(out, "Ada\xc2\xa0"
	                      "B");
	cr_assert_null(order_problem("\xe2\x80\xa9"
	                             "Pen\xe2\x80\x80",
	    "1", out, sizeof(out)));
	cr_assert_str_eq(out, "Pen");
}

Test(validate, lengths_count_code_points_after_trimming)
{
	char name[1024] = "\xc2\xa0", out[1024];
	for (int i = 0; i < USER_NAME_MAX; i++)
		strcat(name, "\xe3\x81\x82"); /* 3 bytes each */
	strcat(name, "\xe3\x80\x80");
	cr_assert_null(user_problem(name, "a@b.co", out, sizeof(out)));
	strcat(name, "x");
	cr_assert_str_eq(user_problem(name, "a@b.co", out, sizeof(out)), "name must be at most 100 characters");
}

Test(validate, emails_refuse_white_space_and_controls_of_any_kind)
{
	const char *bad[] = {"a\xc2\xa0"
	                     "b@c.co",
	    "a@b\xe3\x80\x80.co",
	    "\xef\xbb\xbf"
	    "a@b.co",
	    "a\xc2\x85"
	    "b@c.co",
	    "a\xe2\x80\xa8@b.co", "a\x7f@b.co", "a\tb@c.co"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char out[64];
		cr_assert_str_eq(
		    user_problem("A", bad[i], out, sizeof(out)), "email must be a valid email address", "%zu", i);
	}
	char out[64];
	cr_assert_null(user_problem("A",
	    "\xc3\x84"
	    "bc@b\xc3\xbc"
	    "cher.de",
	    out, sizeof(out)));
	cr_assert_str_eq(user_problem("A", "a\xff@b.co", out, sizeof(out)), "email must be valid UTF-8");
	cr_assert_str_eq(user_problem("\xc3", "a@b.co", out, sizeof(out)), "name must be valid UTF-8");
	cr_assert_str_eq(order_problem("\xed\xa0\x80", "1", out, sizeof(out)), "product must be valid UTF-8");
}

/* An outsider's second round: characters that are there but not seen made
 * a second account of one address, and names of nothing visible. */
Test(validate, invisible_characters_make_no_second_address_and_no_name)
{
	const char *emails[] = {"m\xc2\xad@example.com", "x@example.com\xe2\x80\x8b", "m\xe2\x81\xa0n@example.com",
	    "m\xe2\x80\x8en@example.com", "m\xe1\xa0\x8en@example.com", "m\xe2\x80\x8dn@example.com"};
	for (size_t i = 0; i < sizeof(emails) / sizeof(emails[0]); i++) {
		char out[64];
		const char *p = user_problem("A", emails[i], out, sizeof(out));
		cr_assert_not_null(p, "%zu was accepted", i);
		cr_assert(strstr(p, "invisible") != NULL, "%zu: %s", i, p);
	}
	const char *empty[] = {"\xe2\x80\x8b", "\xcc\x81", "\xe2\x80\x8b\xe2\x80\x8c \xe2\x81\xa0", "\xc2\xad"};
	for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		char out[64];
		cr_assert_str_eq(
		    user_problem(empty[i], "a@b.co", out, sizeof(out)), "name must not be empty", "%zu", i);
		cr_assert_str_eq(order_problem(empty[i], "1", out, sizeof(out)), "product must not be empty", "%zu", i);
	}
	const char *controls[] = {"\x1f", "\x1b[31mred", "John\nDoe",
	    ("a\xc2\x85" /* a hex escape ends at the next literal */
	     "b"),
	    "a\x7f"};
	for (size_t i = 0; i < sizeof(controls) / sizeof(controls[0]); i++) {
		char out[64];
		cr_assert_str_eq(user_problem(controls[i], "a@b.co", out, sizeof(out)),
		    "name must not contain control characters", "%zu", i);
		cr_assert_str_eq(order_problem(controls[i], "1", out, sizeof(out)),
		    "product must not contain control characters", "%zu", i);
	}
	/* Visible text with marks and joiners inside stays as it is. */
	char out[64];
	cr_assert_null(user_problem("Jos\x65\xcc\x81", "a@b.co", out, sizeof(out)));
	cr_assert_null(user_problem("\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb", "a@b.co", out, sizeof(out)));
}

Test(validate, prices_are_judged_on_their_exact_text)
{
	const char *cases[][2] = {{"19.999999999999999", "price must have at most 2 decimal places"},
	    {"0.1000000000000000055511151231257827", "price must have at most 2 decimal places"},
	    {"9007199254740993", "price must be less than 10000000000000"}, {"0", "price must be greater than 0"},
	    {"-1", "price must be greater than 0"}, {"19.99", NULL}, {"9999999999999.99", NULL}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[16];
		const char *p = order_problem("P", cases[i][0], out, sizeof(out));
		if (cases[i][1] == NULL)
			cr_assert_null(p, "%s: %s", cases[i][0], p);
		else
			cr_assert_str_eq(p, cases[i][1], "%s", cases[i][0]);
	}
}
