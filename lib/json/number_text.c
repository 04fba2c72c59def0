/* number_text.h */
#include "json/number_text.h"

#include <string.h>

#define EXPONENT_LIMIT 1000000000000000LL /* 10^15: far past any limit, no overflow */

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

size_t
number_text_span(const char *s, size_t len)
{
	size_t i = 0;
	if (i < len && s[i] == '-')
		i++;
	if (i >= len || !is_digit(s[i]))
		return 0;
	if (s[i] == '0') {
		i++;
	} else {
		while (i < len && is_digit(s[i]))
			i++;
	}
	if (i + 1 < len && s[i] == '.' && is_digit(s[i + 1])) {
		i += 2;
		while (i < len && is_digit(s[i]))
			i++;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		size_t j = i + 1;
		if (j < len && (s[j] == '+' || s[j] == '-'))
			j++;
		if (j < len && is_digit(s[j])) {
			while (j < len && is_digit(s[j]))
				j++;
			i = j;
		}
	}
	return i;
}

bool
number_text_parse(const char *s, size_t len, number_text *out)
{
	if (len == 0 || number_text_span(s, len) != len)
		return false;
	memset(out, 0, sizeof(*out));
	size_t i      = 0;
	out->negative = s[0] == '-';
	if (out->negative)
		i++;
	/* The integer and fractional digits as one run: value = run ×
	 * 10^(-fraction digits) × 10^e. Leading zeros are skipped and
	 * trailing ones folded into the exponent. */
	bool in_fraction    = false;
	int64_t frac_digits = 0; /* digits after the point */
	size_t total        = 0; /* significant digits, including zeros kept so far */
	int64_t after_last  = 0; /* zeros since the last non-zero digit, not yet kept */
	for (; i < len && (is_digit(s[i]) || s[i] == '.'); i++) {
		if (s[i] == '.') {
			in_fraction = true;
			continue;
		}
		if (in_fraction)
			frac_digits++;
		if (total == 0 && s[i] == '0')
			continue; /* a leading zero */
		if (s[i] == '0') {
			after_last++;
			continue;
		}
		/* The zeros before this digit are significant after all. */
		for (; after_last > 0; after_last--) {
			if (total < NUMBER_TEXT_DIGITS_MAX)
				out->digits[total] = '0';
			total++;
		}
		if (total < NUMBER_TEXT_DIGITS_MAX)
			out->digits[total] = s[i];
		total++;
	}
	int64_t e = 0;
	if (i < len) { /* 'e' or 'E' */
		i++;
		bool e_negative = s[i] == '-';
		if (s[i] == '+' || s[i] == '-')
			i++;
		for (; i < len; i++) {
			if (e < EXPONENT_LIMIT)
				e = e * 10 + (s[i] - '0');
		}
		if (e_negative)
			e = -e;
	}
	out->n_digits = total;
	out->too_long = total > NUMBER_TEXT_DIGITS_MAX;
	if (out->too_long)
		out->digits[0] = '\0';
	else
		out->digits[total] = '\0';
	/* value = digits × 10^(trailing zeros dropped - fraction digits + e) */
	int64_t exponent = after_last - frac_digits + e;
	if (exponent > EXPONENT_LIMIT)
		exponent = EXPONENT_LIMIT;
	if (exponent < -EXPONENT_LIMIT)
		exponent = -EXPONENT_LIMIT;
	out->exponent = total == 0 ? 0 : exponent;
	return true;
}

/* The magnitude as an integer, when the value is one and below 2^64. */
static number_text_fit
magnitude(const number_text *n, uint64_t *out)
{
	if (n->n_digits == 0) {
		*out = 0;
		return NUMBER_TEXT_OK;
	}
	if (n->exponent < 0)
		return NUMBER_TEXT_NOT_INTEGER;
	if (n->too_long || (int64_t) n->n_digits + n->exponent > 20)
		return NUMBER_TEXT_OUT_OF_RANGE;
	uint64_t v = 0;
	for (int64_t i = 0; i < (int64_t) n->n_digits + n->exponent; i++) {
		unsigned d = i < (int64_t) n->n_digits ? (unsigned) (n->digits[i] - '0') : 0;
		if (v > (UINT64_MAX - d) / 10)
			return NUMBER_TEXT_OUT_OF_RANGE;
		v = v * 10 + d;
	}
	*out = v;
	return NUMBER_TEXT_OK;
}

number_text_fit
number_text_to_int64(const number_text *n, int64_t min, int64_t max, int64_t *out)
{
	uint64_t m;
	number_text_fit fit = magnitude(n, &m);
	if (fit != NUMBER_TEXT_OK)
		return fit;
	if (n->negative && m != 0) {
		if (m > (uint64_t) INT64_MAX + 1)
			return NUMBER_TEXT_OUT_OF_RANGE;
		int64_t v = m == (uint64_t) INT64_MAX + 1 ? INT64_MIN : -(int64_t) m;
		if (v < min || v > max)
			return NUMBER_TEXT_OUT_OF_RANGE;
		*out = v;
		return NUMBER_TEXT_OK;
	}
	if (m > (uint64_t) INT64_MAX || (int64_t) m < min || (int64_t) m > max)
		return NUMBER_TEXT_OUT_OF_RANGE;
	*out = (int64_t) m;
	return NUMBER_TEXT_OK;
}

number_text_fit
number_text_to_uint64(const number_text *n, uint64_t max, uint64_t *out)
{
	uint64_t m;
	number_text_fit fit = magnitude(n, &m);
	if (fit != NUMBER_TEXT_OK)
		return fit;
	if ((n->negative && m != 0) || m > max)
		return NUMBER_TEXT_OUT_OF_RANGE;
	*out = m;
	return NUMBER_TEXT_OK;
}

int64_t
number_text_fraction_digits(const number_text *n)
{
	return n->exponent < 0 ? -n->exponent : 0;
}

bool
number_text_plain(const number_text *n, char *out, size_t len)
{
	if (n->too_long)
		return false;
	if (n->n_digits == 0) {
		if (len < 2)
			return false;
		memcpy(out, "0", 2);
		return true;
	}
	int64_t nd    = (int64_t) n->n_digits;
	int64_t point = nd + n->exponent; /* digits before the decimal point */
	/* sign, digits, zeros, '.' and NUL */
	int64_t need = n->negative ? 1 : 0;
	if (n->exponent >= 0)
		need += nd + n->exponent + 1;
	else if (point > 0)
		need += nd + 2;
	else
		need += 2 - point + nd + 1;
	if (need > (int64_t) len)
		return false;
	size_t j = 0;
	if (n->negative)
		out[j++] = '-';
	if (n->exponent >= 0) {
		memcpy(out + j, n->digits, (size_t) nd);
		j += (size_t) nd;
		memset(out + j, '0', (size_t) n->exponent);
		j += (size_t) n->exponent;
	} else if (point > 0) {
		memcpy(out + j, n->digits, (size_t) point);
		j += (size_t) point;
		out[j++] = '.';
		memcpy(out + j, n->digits + point, (size_t) (nd - point));
		j += (size_t) (nd - point);
	} else {
		out[j++] = '0';
		out[j++] = '.';
		memset(out + j, '0', (size_t) -point);
		j += (size_t) -point;
		memcpy(out + j, n->digits, (size_t) nd);
		j += (size_t) nd;
	}
	out[j] = '\0';
	return true;
}
