/* utf8.h */
#include "base/utf8.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when invalid. */
static size_t
sequence_length(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	size_t n;
	unsigned int cp;
	if ((s[0] & 0xe0) == 0xc0) {
		n  = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n  = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n  = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* No overlong forms, surrogates or values past U+10FFFF. */
	static const unsigned int min_for_length[] = {0, 0, 0x80, 0x800, 0x10000};
	if (cp < min_for_length[n] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

void
utf8_trim_partial(char *s)
{
	size_t len = strlen(s);
	size_t i   = len;
	/* Step back over at most 3 continuation bytes to the lead byte. */
	while (i > 0 && len - i < 4 && ((unsigned char) s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i > 0 && (unsigned char) s[i - 1] >= 0xc0) {
		i--;
		if (i + sequence_length((const unsigned char *) s + i) != len)
			s[i] = '\0';
	}
}

void
utf8_sanitize(const char *in, char *out, size_t outlen)
{
	size_t j = 0;
	for (const unsigned char *p = (const unsigned char *) in; *p != '\0';) {
		size_t n = sequence_length(p);
		if (n == 0) {
			if (j + 1 >= outlen)
				break;
			out[j++] = '?';
			p++;
			continue;
		}
		if (j + n >= outlen)
			break;
		if (n == 1 && (*p < 0x20 || *p == 0x7f))
			out[j++] = ' ';
		else
			memcpy(out + j, p, n), j += n;
		p += n;
	}
	out[j] = '\0';
}

size_t
utf8_chars(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += ((unsigned char) s[i] & 0xc0) != 0x80; /* lead bytes only */
	return n;
}

bool
utf8_valid(const char *s)
{
	for (const unsigned char *p = (const unsigned char *) s; *p != '\0';) {
		size_t n = sequence_length(p);
		if (n == 0)
			return false;
		p += n;
	}
	return true;
}

bool
utf8_is_space(uint32_t cp)
{
	switch (cp) {
	case 0x09:
	case 0x0a:
	case 0x0b:
	case 0x0c:
	case 0x0d:   /* TAB, LF, VT, FF, CR */
	case 0xfeff: /* ZWNBSP */
	case 0x2028:
	case 0x2029: /* LS, PS */ return true;
	default: return cp <= 0x10ffff && utf8proc_category((utf8proc_int32_t) cp) == UTF8PROC_CATEGORY_ZS;
	}
}

/* The code point at s[0..n), or -1 when it is not valid UTF-8. */
static int32_t
decode(const unsigned char *s, size_t n)
{
	utf8proc_int32_t cp;
	return utf8proc_iterate(s, (utf8proc_ssize_t) n, &cp) > 0 ? cp : -1;
}

/* True when some code point of s[0..len) is in the class `want` picks. */
static bool
any_code_point(const char *s, size_t len, bool (*want)(utf8proc_int32_t))
{
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *) s;
	for (size_t i = 0; i < len;) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t n = utf8proc_iterate(p + i, (utf8proc_ssize_t) (len - i), &cp);
		if (n <= 0)
			return false;
		if (want(cp))
			return true;
		i += (size_t) n;
	}
	return false;
}

static bool
is_control(utf8proc_int32_t cp)
{
	return utf8proc_category(cp) == UTF8PROC_CATEGORY_CC;
}

static bool
is_invisible(utf8proc_int32_t cp)
{
	return utf8proc_category(cp) == UTF8PROC_CATEGORY_CF || utf8proc_get_property(cp)->ignorable;
}

static bool
is_visible(utf8proc_int32_t cp)
{
	switch (utf8proc_category(cp)) {
	case UTF8PROC_CATEGORY_LU:
	case UTF8PROC_CATEGORY_LL:
	case UTF8PROC_CATEGORY_LT:
	case UTF8PROC_CATEGORY_LM:
	case UTF8PROC_CATEGORY_LO:
	case UTF8PROC_CATEGORY_MC:
	case UTF8PROC_CATEGORY_ND:
	case UTF8PROC_CATEGORY_NL:
	case UTF8PROC_CATEGORY_NO:
	case UTF8PROC_CATEGORY_PC:
	case UTF8PROC_CATEGORY_PD:
	case UTF8PROC_CATEGORY_PS:
	case UTF8PROC_CATEGORY_PE:
	case UTF8PROC_CATEGORY_PI:
	case UTF8PROC_CATEGORY_PF:
	case UTF8PROC_CATEGORY_PO:
	case UTF8PROC_CATEGORY_SM:
	case UTF8PROC_CATEGORY_SC:
	case UTF8PROC_CATEGORY_SK:
	case UTF8PROC_CATEGORY_SO: return !utf8proc_get_property(cp)->ignorable;
	default: return false;
	}
}

bool
utf8_has_control(const char *s, size_t len)
{
	return any_code_point(s, len, is_control);
}

bool
utf8_has_invisible(const char *s, size_t len)
{
	return any_code_point(s, len, is_invisible);
}

bool
utf8_has_visible(const char *s, size_t len)
{
	return any_code_point(s, len, is_visible);
}

const char *
utf8_trim(const char *s, size_t *len)
{
	const unsigned char *p   = (const unsigned char *) s;
	const unsigned char *end = p + strlen(s);
	while (p < end) {
		size_t n   = sequence_length(p);
		int32_t cp = n ? decode(p, n) : -1;
		if (cp < 0 || !utf8_is_space((uint32_t) cp))
			break;
		p += n;
	}
	while (end > p) {
		const unsigned char *q = end - 1; /* back to the lead byte */
		while (q > p && end - q < 4 && (*q & 0xc0) == 0x80)
			q--;
		size_t n   = sequence_length(q);
		int32_t cp = n == (size_t) (end - q) ? decode(q, n) : -1;
		if (cp < 0 || !utf8_is_space((uint32_t) cp))
			break;
		end = q;
	}
	*len = (size_t) (end - p);
	return (const char *) p;
}

char *
utf8_caseless_key(const char *s)
{
	utf8proc_uint8_t *out = NULL;
	utf8proc_ssize_t n    = utf8proc_map((const utf8proc_uint8_t *) s, 0, &out,
	       UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD);
	return n < 0 ? NULL : (char *) out;
}
