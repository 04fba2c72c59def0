/* libFuzzer: number text (issue 15 section 5). The input is a candidate
 * JSON number. Whatever number_text makes of it must agree with itself and
 * with the C library, and the transcoder must give a field exactly that
 * value: a Decimal its canonical text, an int64 its integer, or refuse. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orders.pb-c.h"
#include "json/number_text.h"
#include "json/pbjson.h"

#define CHECK(cond)                                                                                                    \
	do {                                                                                                           \
		if (!(cond))                                                                                           \
			abort();                                                                                       \
	} while (0)

/* Decodes {"<field>":<text>} as a CreateOrderRequest. */
static Orders__CreateOrderRequest *
decode_field(const char *field, const uint8_t *data, size_t size)
{
	size_t n   = strlen(field) + size + 8;
	char *json = malloc(n);
	CHECK(json != NULL);
	int head = snprintf(json, n, "{\"%s\":", field);
	memcpy(json + head, data, size);
	json[head + size] = '}';
	ProtobufCMessage *msg;
	rpc_status st;
	rpc_code code =
	    pbjson_decode(&orders__create_order_request__descriptor, json, (size_t) head + size + 1, &msg, &st);
	free(json);
	CHECK(code == RPC_OK || st.n_violations > 0); /* a refusal says why */
	return (Orders__CreateOrderRequest *) msg;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *) data;
	size_t span   = number_text_span(s, size);
	CHECK(span <= size);
	number_text n;
	bool parsed = number_text_parse(s, size, &n);
	CHECK(parsed == (size > 0 && span == size));
	if (span > 0)
		CHECK(number_text_parse(s, span, &n)); /* the span is a number */

	Orders__CreateOrderRequest *price = decode_field("price", data, size);
	Orders__CreateOrderRequest *user  = decode_field("userId", data, size);
	if (!parsed)
		goto out; /* other JSON: fuzz_pbjson's part */
	CHECK(n.too_long == (n.n_digits > NUMBER_TEXT_DIGITS_MAX));
	CHECK(n.too_long || strlen(n.digits) == n.n_digits);
	CHECK(n.too_long || n.n_digits == 0 || (n.digits[0] != '0' && n.digits[n.n_digits - 1] != '0'));

	char *copy = malloc(size + 1);
	CHECK(copy != NULL);
	memcpy(copy, data, size);
	copy[size]     = '\0';
	double nearest = strtod(copy, NULL);

	char plain[256] = "";
	if (number_text_plain(&n, plain, sizeof(plain))) {
		/* Canonical: reads back to the same value and writes the same. */
		number_text again;
		CHECK(number_text_parse(plain, strlen(plain), &again));
		CHECK(again.n_digits == n.n_digits && again.exponent == n.exponent &&
		      strcmp(again.digits, n.digits) == 0 && (again.negative == n.negative || n.n_digits == 0));
		char twice[256];
		CHECK(number_text_plain(&again, twice, sizeof(twice)) && strcmp(plain, twice) == 0);
		/* The same exact value has the same nearest double. */
		double from_plain = strtod(plain, NULL);
		CHECK(from_plain == nearest);
		const char *point = strchr(plain, '.');
		CHECK(number_text_fraction_digits(&n) == (point ? (int64_t) strlen(point + 1) : 0));
		/* The transcoder keeps that very text for a Decimal. */
		size_t digits = strlen(plain) - (plain[0] == '-') - (point != NULL);
		CHECK((price != NULL) == (digits <= 60));
		if (price != NULL)
			CHECK(strcmp(price->price->value, plain) == 0);
	} else {
		CHECK(price == NULL);
	}

	int64_t x;
	number_text_fit fit = number_text_to_int64(&n, INT64_MIN, INT64_MAX, &x);
	CHECK((user != NULL) == (fit == NUMBER_TEXT_OK));
	if (fit == NUMBER_TEXT_OK) {
		CHECK(user->user_id == x);
		char text[32];
		snprintf(text, sizeof(text), "%" PRId64, x);
		CHECK(strcmp(text, plain) == 0);
	} else if (fit == NUMBER_TEXT_NOT_INTEGER) {
		CHECK(number_text_fraction_digits(&n) > 0);
	}
	free(copy);
out:
	if (price != NULL)
		orders__create_order_request__free_unpacked(price, NULL);
	if (user != NULL)
		orders__create_order_request__free_unpacked(user, NULL);
	return 0;
}
