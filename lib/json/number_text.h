/* The exact value of a decimal number's text, so that limits are judged on
 * the number the client wrote and never on a double that rounded it
 * ("19.999999999999999" has 15 decimal places, though the nearest double
 * prints as 20).
 *
 * Grammar: RFC 8259 section 6 (a JSON number):
 *   -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
 * The value is ±digits × 10^exponent, with digits the significant digits
 * (no leading or trailing zeros). Every function is pure and thread-safe. */
#ifndef JSON_NUMBER_TEXT_H
#define JSON_NUMBER_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Significant digits kept. A number with more is still parsed (too_long is
 * set and digits is empty): it is no integer of 64 bits and no Decimal the
 * API takes, and a double is read from its text. */
#define NUMBER_TEXT_DIGITS_MAX 80

typedef struct number_text {
	bool negative;                           /* a leading '-', also for "-0" */
	bool too_long;                           /* more than NUMBER_TEXT_DIGITS_MAX significant digits */
	size_t n_digits;                         /* significant digits; 0 for zero */
	char digits[NUMBER_TEXT_DIGITS_MAX + 1]; /* NUL-terminated, "" for zero */
	int64_t exponent;                        /* value = digits × 10^exponent, saturated at ±10^15 */
} number_text;

/* Length of the longest prefix of s[0..len) that is a JSON number, or 0. */
size_t number_text_span(const char *s, size_t len);

/* Parses s[0..len), which must be exactly one JSON number. Returns false
 * (and leaves *out unspecified) otherwise. */
bool number_text_parse(const char *s, size_t len, number_text *out);

typedef enum number_text_fit {
	NUMBER_TEXT_OK,
	NUMBER_TEXT_NOT_INTEGER, /* has a non-zero fractional part */
	NUMBER_TEXT_OUT_OF_RANGE,
} number_text_fit;

/* The value as an integer within [min, max]. -0 is 0. */
number_text_fit number_text_to_int64(const number_text *n, int64_t min, int64_t max, int64_t *out);
/* The value as an integer within [0, max]. */
number_text_fit number_text_to_uint64(const number_text *n, uint64_t max, uint64_t *out);

/* Writes the value in canonical plain decimal text: no exponent, no
 * leading zeros, no trailing fractional zeros, no "-0" ("1.50e1" → "15",
 * "0.10" → "0.1", "-0" → "0"), so equal values have equal text. Returns
 * false when that text (with its NUL) would not fit in len bytes. */
bool number_text_plain(const number_text *n, char *out, size_t len);

/* Digits after the decimal point of the canonical plain text (0 for an
 * integer); meaningful when !too_long. */
int64_t number_text_fraction_digits(const number_text *n);

#endif
