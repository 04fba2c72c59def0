/* The API's white space and caseless keys (issue 15 section 6), and the
 * UTF-8 helpers. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"

Test(utf8, white_space_is_ecmascripts_trim_set_exactly)
{
	/* ECMA-262 WhiteSpace + LineTerminator, with Zs of Unicode 15. */
	static const uint32_t expected[] = {0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002,
	    0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
	    0xfeff};
	size_t found                     = 0;
	for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
		if (!utf8_is_space(cp))
			continue;
		cr_assert(found < sizeof(expected) / sizeof(expected[0]) && expected[found] == cp, "U+%04X", cp);
		found++;
	}
	cr_assert_eq(found, sizeof(expected) / sizeof(expected[0]));
	/* Where Unicode's White_Space differs: NEL is not trimmed; and U+180E
	 * (Zs until Unicode 6.3) and ZERO WIDTH SPACE (Cf) are not space. */
	cr_assert_not(utf8_is_space(0x85));
	cr_assert_not(utf8_is_space(0x180e));
	cr_assert_not(utf8_is_space(0x200b));
	cr_assert_not(utf8_is_space(0x110000));
}

Test(utf8, trim_removes_white_space_of_any_kind_at_both_ends_only)
{
	const char *cases[][2] = {
	    {"\xc2\xa0\xe3\x80\x80\xc2\xa0", ""}, /* the name */
	    {" \t\n\r\v\f", ""},
	    {"\xef\xbb\xbf"
	     "a b\xe2\x80\xa8",
	        "a b"}, /* BOM, LS */
	    {"\xe2\x80\x80"
	     "a\xc2\xa0"
	     "b\xe2\x80\x8a",
	        "a\xc2\xa0"
	        "b"}, /* inner space stays */
	    {"\xc2\x85"
	     "a\xc2\x85",
	        "\xc2\x85"
	        "a\xc2\x85"}, /* NEL stays */
	    {"a", "a"},
	    {"", ""},
	    {" \xff ", "\xff"}, /* invalid byte: not space */
	    {"\xc2", "\xc2"},   /* cut sequence: not space */
	    {" \xe3\x80", "\xe3\x80"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		const char *t = utf8_trim(cases[i][0], &len);
		cr_assert_eq(len, strlen(cases[i][1]), "case %zu: %zu", i, len);
		cr_assert_arr_eq(t, cases[i][1], len, "case %zu", i);
	}
}

Test(utf8, caseless_keys_are_nfc_of_full_case_folding)
{
	const char *cases[][2] = {
	    {"\xc3\x84"
	     "BC.x@example.com",
	        "\xc3\xa4"
	        "bc.x@example.com"}, /* ÄBC */
	    {"\xc3\xa4"
	     "bc.x@example.com",
	        "\xc3\xa4"
	        "bc.x@example.com"},
	    {"A\xcc\x88"
	     "bc",
	        "\xc3\xa4"
	        "bc"}, /* A + U+0308 → ä */
	    {"stra\xc3\x9f"
	     "e",
	        "strasse"}, /* ß → ss */
	    {"STRASSE", "strasse"},
	    {"\xe1\xba\x9e", "ss"},           /* ẞ → ss */
	    {"\xe2\x84\xaa", "k"},            /* KELVIN SIGN */
	    {"\xcf\x82", "\xcf\x83"},         /* final sigma → σ */
	    {"\xef\xac\x81", "fi"},           /* ﬁ ligature */
	    {"\xef\xbd\x81", "\xef\xbd\x81"}, /* fullwidth a: no NFKC */
	    {"I", "i"},                       /* no Turkish rule */
	    {"", ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *k = utf8_caseless_key(cases[i][0]);
		cr_assert_not_null(k, "case %zu", i);
		cr_assert_str_eq(k, cases[i][1], "case %zu", i);
		free(k);
	}
	cr_assert_null(utf8_caseless_key("\xff"));
	cr_assert_null(utf8_caseless_key("\xed\xa0\x80")); /* a surrogate */
}

Test(utf8, validity)
{
	cr_assert(utf8_valid("h\xc3\xa9llo \xf0\x9f\x98\x80"));
	cr_assert(utf8_valid(""));
	cr_assert_not(utf8_valid("\xc0\xaf"));         /* overlong */
	cr_assert_not(utf8_valid("\xed\xa0\x80"));     /* surrogate */
	cr_assert_not(utf8_valid("\xf4\x90\x80\x80")); /* past U+10FFFF */
	cr_assert_not(utf8_valid("\xe3\x80"));         /* cut */
}
