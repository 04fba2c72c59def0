/* utf8.h */
#include "utf8.h"

#include <string.h>

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

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

const char *
utf8_trim(const char *s, size_t *len)
{
	const char *end = s + strlen(s);
	while (s < end && is_space(*s))
		s++;
	while (end > s && is_space(end[-1]))
		end--;
	*len = (size_t) (end - s);
	return s;
}
