/* pbjson.h: the descriptor walk in both directions. */
#include "json/pbjson.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json/number_text.h"

#define PATH_MAX_LEN 96
#define TIMESTAMP_NAME "google.protobuf.Timestamp"
#define DECIMAL_NAME "google.type.Decimal"
/* Digits of a Decimal's plain text (integer and fractional parts): wide
 * enough for any amount, small enough that "1e-400" is no 401-byte string. */
#define DECIMAL_DIGITS_MAX 60
/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, as protobuf's JSON mapping bounds them. */
#define TIMESTAMP_MIN_SECONDS (-62135596800LL)
#define TIMESTAMP_MAX_SECONDS 253402300799LL

/* ------------------------------------------------------------------ names */

void
pbjson_json_name(const char *proto_name, char *out, size_t len)
{
	size_t j   = 0;
	bool upper = false;
	for (const char *p = proto_name; *p != '\0' && j + 1 < len; p++) {
		if (*p == '_') {
			upper = true;
			continue;
		}
		out[j++] = upper && *p >= 'a' && *p <= 'z' ? (char) (*p - 'a' + 'A') : *p;
		upper    = false;
	}
	out[j] = '\0';
}

const ProtobufCFieldDescriptor *
pbjson_find_field(const ProtobufCMessageDescriptor *desc, const char *name)
{
	const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(desc, name);
	if (f != NULL)
		return f;
	char json_name[128];
	for (unsigned i = 0; i < desc->n_fields; i++) {
		pbjson_json_name(desc->fields[i].name, json_name, sizeof(json_name));
		if (strcmp(json_name, name) == 0)
			return &desc->fields[i];
	}
	return NULL;
}

/* ----------------------------------------------------------------- base64 */

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Decodes standard or URL-safe base64, padded or not. Returns the length,
 * or -1 for text that is not base64. out must hold len * 3 / 4 + 3 bytes. */
static long
b64_decode(const char *in, size_t len, uint8_t *out)
{
	while (len > 0 && in[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return -1;
	long n       = 0;
	uint32_t acc = 0;
	int bits     = 0;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value(in[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t) v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (uint8_t) (acc >> bits);
		}
	}
	return n;
}

/* ------------------------------------------------------------- timestamps */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil), which avoids the non-standard timegm. */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era  = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned) (y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t) doe - 719468;
}

static bool
digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* Parses RFC 3339 ("2026-11-25T10:15:00.123Z", "...+01:00"). */
static bool
parse_rfc3339(const char *s, int64_t *seconds, int32_t *nanos)
{
	int Y, M, D, h, m, sec;
	if (strlen(s) < 20 || !digits(s, 4, &Y) || s[4] != '-' || !digits(s + 5, 2, &M) || s[7] != '-' ||
	    !digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) || s[13] != ':' ||
	    !digits(s + 14, 2, &m) || s[16] != ':' || !digits(s + 17, 2, &sec))
		return false;
	static const int month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap                     = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
	if (Y < 1 || M < 1 || M > 12 || D < 1 || D > month_days[M - 1] || (M == 2 && D == 29 && !leap) || h > 23 ||
	    m > 59 || sec > 59)
		return false;
	const char *p = s + 19;
	int32_t ns    = 0;
	if (*p == '.') {
		int n = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, n++) {
			if (n < 9)
				ns = ns * 10 + (*p - '0');
		}
		if (n == 0)
			return false;
		for (; n < 9; n++)
			ns *= 10;
	}
	int offset = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om;
		if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 || om > 59)
			return false;
		offset = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return false;
	}
	if (*p != '\0')
		return false;
	*seconds = days_from_civil(Y, (unsigned) M, (unsigned) D) * 86400 + h * 3600 + m * 60 + sec - offset;
	*nanos   = ns;
	/* An offset may carry the instant out of the years UTC text can hold. */
	return *seconds >= TIMESTAMP_MIN_SECONDS && *seconds <= TIMESTAMP_MAX_SECONDS;
}

/* ---------------------------------------------------------------- numbers */

/* Writes x as the shortest decimal text that reads back as x, in plain
 * notation when its decimal exponent is within [min_exp, max_exp] ("19.99",
 * "15000000", "0.001") and in exponent notation otherwise ("1e+300").
 * Returns true for plain notation. len must hold max_exp + 24 bytes. */
static bool
format_double(double x, char *out, size_t len, int min_exp, int max_exp)
{
	char buf[40];
	for (int p = 1; p <= 17; p++) {
		snprintf(buf, sizeof(buf), "%.*e", p - 1, x);
		if (strtod(buf, NULL) == x)
			break;
	}
	/* buf: [-]d[.ddd]e±XX */
	char mant[24];
	size_t nm     = 0;
	const char *p = buf;
	bool negative = *p == '-';
	if (negative)
		p++;
	for (; *p != 'e'; p++) {
		if (*p != '.')
			mant[nm++] = *p;
	}
	mant[nm] = '\0';
	int exp  = atoi(p + 1);
	if (exp < min_exp || exp > max_exp) {
		snprintf(out, len, "%s", buf);
		return false;
	}
	size_t j = 0;
	if (negative)
		out[j++] = '-';
	int point = exp + 1; /* digits before the decimal point */
	if (point <= 0) {
		j += (size_t) snprintf(out + j, len - j, "0.");
		for (int i = 0; i < -point; i++)
			out[j++] = '0';
		snprintf(out + j, len - j, "%s", mant);
	} else if ((size_t) point >= nm) {
		j += (size_t) snprintf(out + j, len - j, "%s", mant);
		for (size_t i = nm; i < (size_t) point; i++)
			out[j++] = '0';
		out[j] = '\0';
	} else {
		snprintf(out + j, len - j, "%.*s.%s", point, mant, mant + point);
	}
	return true;
}

/* True for -?digits(.digits)? — a decimal the API writes as a JSON number. */
static bool
is_plain_decimal(const char *s)
{
	if (*s == '-')
		s++;
	if (*s < '0' || *s > '9')
		return false;
	while (*s >= '0' && *s <= '9')
		s++;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

/* Writes a plain decimal in canonical form: no leading zeros, no trailing
 * fractional zeros, no "-0" ("007.50" → "7.5", "15000000.00" → "15000000"),
 * so equal numbers have equal text. s must satisfy is_plain_decimal. */
static void
canonical_decimal(const char *s, char *out, size_t len)
{
	bool negative = *s == '-';
	if (negative)
		s++;
	while (*s == '0' && s[1] >= '0' && s[1] <= '9')
		s++;
	size_t int_len   = strcspn(s, ".");
	const char *frac = s[int_len] == '.' ? s + int_len + 1 : "";
	size_t frac_len  = strlen(frac);
	while (frac_len > 0 && frac[frac_len - 1] == '0')
		frac_len--;
	bool zero = int_len == 1 && s[0] == '0' && frac_len == 0;
	snprintf(out, len, "%s%.*s%s%.*s", negative && !zero ? "-" : "", (int) int_len, s, frac_len ? "." : "",
	    (int) frac_len, frac);
}

/* ----------------------------------------------------------------- decode */

typedef struct decoder {
	rpc_status *st;
	int problems;
} decoder;

static void problem(decoder *d, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
problem(decoder *d, const char *path, const char *fmt, ...)
{
	char text[RPC_DESCRIPTION_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	rpc_status_add_violation(d->st, path, "%s %s", path, text);
	d->problems++;
}

/* pbjson_parse hands each JSON number to jansson as a string that starts
 * with a NUL byte and goes on with the number's text (see there): such a
 * string is a number token. No other string can start with NUL, since
 * "\u0000" is refused in the body and C strings cannot hold one. */
static const char *
number_token(const json_t *v, size_t *len)
{
	if (!json_is_string(v) || json_string_length(v) < 2 || json_string_value(v)[0] != '\0')
		return NULL;
	*len = json_string_length(v) - 1;
	return json_string_value(v) + 1;
}

static bool
is_number(const json_t *v)
{
	size_t len;
	return json_is_number(v) || number_token(v, &len) != NULL;
}

static const char *
json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return is_number(v) ? "a number" : "a string";
	case JSON_INTEGER:
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

/* The exact value of a number: a number token's text; a string holding a
 * JSON number (leading zeros allowed: "007.50"), as proto3 JSON reads
 * 64-bit integers and this API reads Decimals; or a jansson number (a tree
 * built by a program), by its integer or its shortest exact text. Returns
 * false when v is none of these; *from_string tells which. */
static bool
number_value(const json_t *v, number_text *n, bool *from_string)
{
	size_t len;
	const char *text = number_token(v, &len);
	*from_string     = false;
	if (text != NULL)
		return number_text_parse(text, len, n);
	char buf[48];
	if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return number_text_parse(buf, strlen(buf), n);
	}
	if (json_is_real(v)) {
		if (!isfinite(json_real_value(v)))
			return false;
		format_double(json_real_value(v), buf, sizeof(buf), 0, -1); /* exponent form */
		return number_text_parse(buf, strlen(buf), n);
	}
	if (!json_is_string(v))
		return false;
	*from_string = true;
	text         = json_string_value(v);
	len          = json_string_length(v);
	size_t sign  = text[0] == '-' ? 1 : 0;
	size_t zeros = 0; /* leading zeros before another digit */
	while (sign + zeros + 1 < len && text[sign + zeros] == '0' && text[sign + zeros + 1] >= '0' &&
	       text[sign + zeros + 1] <= '9')
		zeros++;
	if (zeros == 0)
		return number_text_parse(text, len, n);
	char *copy = malloc(len);
	if (copy == NULL)
		return false;
	memcpy(copy, text, sign);
	memcpy(copy + sign, text + sign + zeros, len - sign - zeros);
	bool ok = number_text_parse(copy, len - zeros, n);
	free(copy);
	return ok;
}

/* Reads an integer, judged by its exact decimal value (a number, in any
 * form proto3 JSON takes when integral: 1.5e1 is 15, 1.0000000000000001 is
 * no integer; or a string of digits), within [min, max] (signed) or
 * [0, umax] (unsigned). */
static bool
read_integer(decoder *d, const char *path, const json_t *v, bool is_signed, int64_t min, int64_t max, uint64_t umax,
    int64_t *out_s, uint64_t *out_u)
{
	const char *kind = is_signed ? "an integer" : "a non-negative integer";
	number_text n;
	bool from_string;
	/* A string holds digits only (as path parameters do): proto3 JSON's
	 * quoted 64-bit integers, not "1e2" or " 1". */
	bool digits_only = json_is_string(v) && !is_number(v) && json_string_length(v) > 0 &&
	                   strspn(json_string_value(v) + (json_string_value(v)[0] == '-'), "0123456789") ==
	                       json_string_length(v) - (json_string_value(v)[0] == '-');
	if ((json_is_string(v) && !is_number(v) && !digits_only) || !number_value(v, &n, &from_string)) {
		if (json_is_string(v))
			problem(d, path, "must be %s", kind);
		else
			problem(d, path, "must be %s, not %s", kind, json_type_name(v));
		return false;
	}
	number_text_fit fit;
	if (is_signed) {
		fit    = number_text_to_int64(&n, min, max, out_s);
		*out_u = (uint64_t) *out_s;
	} else if (from_string && n.negative && n.n_digits != 0) {
		fit = NUMBER_TEXT_NOT_INTEGER; /* "-1": not of the type, as it reads */
	} else {
		fit    = number_text_to_uint64(&n, umax, out_u);
		*out_s = (int64_t) *out_u;
	}
	if (fit == NUMBER_TEXT_NOT_INTEGER) {
		problem(d, path, "must be %s", kind);
		return false;
	}
	if (fit == NUMBER_TEXT_OUT_OF_RANGE) {
		if (is_signed)
			problem(d, path, "must be between %" PRId64 " and %" PRId64, min, max);
		else
			problem(d, path, "must be between 0 and %" PRIu64, umax);
		return false;
	}
	return true;
}

/* A double (or float) is the nearest to the exact value of the text
 * (glibc's strtod rounds correctly); a value past the type's range is
 * refused rather than made infinite. */
static bool
read_double(decoder *d, const char *path, const json_t *v, double *out)
{
	size_t len;
	const char *text = number_token(v, &len);
	if (text != NULL) {
		*out = strtod(text, NULL); /* NUL-terminated after the number */
		if (isinf(*out)) {
			problem(d, path, "is out of range for a double");
			return false;
		}
		return true;
	}
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return true;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		if (strcmp(s, "NaN") == 0) {
			*out = NAN;
			return true;
		}
		if (strcmp(s, "Infinity") == 0 || strcmp(s, "-Infinity") == 0) {
			*out = s[0] == '-' ? -INFINITY : INFINITY;
			return true;
		}
	}
	problem(d, path, "must be a number, not %s", json_type_name(v));
	return false;
}

static bool decode_message(
    decoder *d, const char *path, const ProtobufCMessageDescriptor *desc, const json_t *v, ProtobufCMessage **out);

/* Decodes one value of field f into the memory at dst (a struct member or a
 * repeated element). Returns false after reporting a problem. */
static bool
decode_value(decoder *d, const char *path, const ProtobufCFieldDescriptor *f, const json_t *v, void *dst)
{
	int64_t s  = 0;
	uint64_t u = 0;
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		if (!read_integer(d, path, v, true, INT32_MIN, INT32_MAX, 0, &s, &u))
			return false;
		*(int32_t *) dst = (int32_t) s;
		return true;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		if (!read_integer(d, path, v, false, 0, 0, UINT32_MAX, &s, &u))
			return false;
		*(uint32_t *) dst = (uint32_t) u;
		return true;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		if (!read_integer(d, path, v, true, INT64_MIN, INT64_MAX, 0, &s, &u))
			return false;
		*(int64_t *) dst = s;
		return true;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		if (!read_integer(d, path, v, false, 0, 0, UINT64_MAX, &s, &u))
			return false;
		*(uint64_t *) dst = u;
		return true;
	case PROTOBUF_C_TYPE_FLOAT: {
		double x;
		if (!read_double(d, path, v, &x))
			return false;
		if (isfinite(x) && fabs(x) > FLT_MAX) {
			problem(d, path, "is out of range for a float");
			return false;
		}
		*(float *) dst = (float) x;
		return true;
	}
	case PROTOBUF_C_TYPE_DOUBLE: return read_double(d, path, v, (double *) dst);
	case PROTOBUF_C_TYPE_BOOL:
		if (!json_is_boolean(v)) {
			problem(d, path, "must be true or false, not %s", json_type_name(v));
			return false;
		}
		*(protobuf_c_boolean *) dst = json_is_true(v);
		return true;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumDescriptor *e = f->descriptor;
		const ProtobufCEnumValue *ev     = NULL;
		number_text n;
		bool from_string;
		int64_t number;
		if (is_number(v)) {
			if (number_value(v, &n, &from_string) &&
			    number_text_to_int64(&n, INT32_MIN, INT32_MAX, &number) == NUMBER_TEXT_OK)
				ev = protobuf_c_enum_descriptor_get_value(e, (int) number);
		} else if (json_is_string(v)) {
			ev = protobuf_c_enum_descriptor_get_value_by_name(e, json_string_value(v));
		}
		if (ev == NULL) {
			char names[160] = "";
			for (unsigned i = 0; i < e->n_values && strlen(names) + 40 < sizeof(names); i++) {
				size_t used = strlen(names);
				snprintf(names + used, sizeof(names) - used, "%s%s", i ? ", " : "", e->values[i].name);
			}
			problem(d, path, "must be one of %s", names);
			return false;
		}
		*(int *) dst = ev->value;
		return true;
	}
	case PROTOBUF_C_TYPE_STRING: {
		if (!json_is_string(v) || is_number(v)) {
			problem(d, path, "must be a string, not %s", json_type_name(v));
			return false;
		}
		char *copy = strdup(json_string_value(v));
		if (copy == NULL) {
			problem(d, path, "is too large");
			return false;
		}
		*(char **) dst = copy;
		return true;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		if (!json_is_string(v) || is_number(v)) {
			problem(d, path, "must be a base64 string, not %s", json_type_name(v));
			return false;
		}
		size_t len   = json_string_length(v);
		uint8_t *buf = malloc(len * 3 / 4 + 3);
		long n       = buf != NULL ? b64_decode(json_string_value(v), len, buf) : -1;
		if (n < 0) {
			free(buf);
			problem(d, path, "must be base64");
			return false;
		}
		ProtobufCBinaryData *bd = dst;
		bd->data                = buf;
		bd->len                 = (size_t) n;
		return true;
	}
	case PROTOBUF_C_TYPE_MESSAGE: return decode_message(d, path, f->descriptor, v, (ProtobufCMessage **) dst);
	}
	problem(d, path, "has an unsupported type");
	return false;
}

static size_t
element_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32: return 4;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64: return 8;
	case PROTOBUF_C_TYPE_FLOAT: return sizeof(float);
	case PROTOBUF_C_TYPE_DOUBLE: return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_ENUM: return sizeof(int);
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE: return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
	}
	return 0;
}

/* The well-known types the API writes as scalars. */
static bool
decode_special(decoder *d, const char *path, const ProtobufCMessageDescriptor *desc, const json_t *v,
    ProtobufCMessage *msg, bool *handled)
{
	*handled = true;
	if (strcmp(desc->name, TIMESTAMP_NAME) == 0) {
		int64_t secs;
		int32_t nanos;
		if (!json_is_string(v) || is_number(v) || !parse_rfc3339(json_string_value(v), &secs, &nanos)) {
			problem(d, path, "must be an RFC 3339 timestamp such as \"2026-11-25T10:15:00.123Z\"");
			return false;
		}
		/* seconds (int64) and nanos (int32) are fields 1 and 2. */
		*(int64_t *) ((char *) msg + desc->fields[0].offset) = secs;
		*(int32_t *) ((char *) msg + desc->fields[1].offset) = nanos;
		return true;
	}
	if (strcmp(desc->name, DECIMAL_NAME) == 0) {
		/* The exact value in canonical plain text ("1.50e1" → "15"),
		 * from a number or a decimal string alike. */
		char text[DECIMAL_DIGITS_MAX + 4]; /* sign, point, NUL and one too many */
		number_text n;
		bool from_string;
		if (!number_value(v, &n, &from_string)) {
			problem(d, path, "must be a number, not %s", json_type_name(v));
			return false;
		}
		/* A string holds a plain decimal, as a 64-bit integer's string
		 * holds digits only: "1e2" is no price. */
		if (from_string && !is_plain_decimal(json_string_value(v))) {
			problem(d, path, "must be a decimal number such as 19.99");
			return false;
		}
		/* Digits of the text: all of it but a sign and a point. */
		if (!number_text_plain(&n, text, sizeof(text)) ||
		    strlen(text) - (text[0] == '-') - (strchr(text, '.') != NULL) > DECIMAL_DIGITS_MAX) {
			problem(d, path, "must have at most %d digits", DECIMAL_DIGITS_MAX);
			return false;
		}
		char *copy = strdup(text);
		if (copy == NULL) {
			problem(d, path, "is too large");
			return false;
		}
		*(char **) ((char *) msg + desc->fields[0].offset) = copy;
		return true;
	}
	*handled = false;
	return true;
}

static void
join_path(char *out, size_t len, const char *path, const char *name)
{
	if (path[0] == '\0')
		snprintf(out, len, "%s", name);
	else
		snprintf(out, len, "%s.%s", path, name);
}

static bool
decode_message(
    decoder *d, const char *path, const ProtobufCMessageDescriptor *desc, const json_t *v, ProtobufCMessage **out)
{
	*out                  = NULL;
	ProtobufCMessage *msg = malloc(desc->sizeof_message);
	if (msg == NULL) {
		problem(d, path[0] ? path : "body", "is too large");
		return false;
	}
	desc->message_init(msg);
	*out = msg; /* from here on, the caller frees it, partial or not */

	bool handled;
	bool ok = decode_special(d, path, desc, v, msg, &handled);
	if (handled)
		return ok;
	if (!json_is_object(v)) {
		problem(d, path[0] ? path : "body", "must be a JSON object, not %s", json_type_name(v));
		return false;
	}

	int before = d->problems;
	const char *key;
	json_t *value;
	/* Both spellings of one name can appear: each field is taken once. */
	bool seen[256] = {false};
	json_object_foreach((json_t *) v, key, value)
	{
		char fpath[PATH_MAX_LEN];
		const ProtobufCFieldDescriptor *f = pbjson_find_field(desc, key);
		if (f == NULL) {
			join_path(fpath, sizeof(fpath), path, key);
			problem(d, fpath, "is not a known field");
			continue;
		}
		char json_name[64];
		pbjson_json_name(f->name, json_name, sizeof(json_name));
		join_path(fpath, sizeof(fpath), path, json_name);
		size_t index = (size_t) (f - desc->fields);
		if (index < sizeof(seen)) {
			if (seen[index]) {
				problem(d, fpath, "is given twice");
				continue;
			}
			seen[index] = true;
		}
		if (json_is_null(value))
			continue; /* null means the default */
		char *member = (char *) msg + f->offset;

		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			if (!json_is_array(value)) {
				problem(d, fpath, "must be an array, not %s", json_type_name(value));
				continue;
			}
			size_t n      = json_array_size(value);
			size_t *count = (size_t *) ((char *) msg + f->quantifier_offset);
			void *arr     = n > 0 ? calloc(n, element_size(f)) : NULL;
			if (n > 0 && arr == NULL) {
				problem(d, fpath, "is too large");
				continue;
			}
			*(void **) member = arr;
			for (size_t i = 0; i < n; i++) {
				char epath[PATH_MAX_LEN + 24];
				snprintf(epath, sizeof(epath), "%s[%zu]", fpath, i);
				/* Count each element as it lands, so free_unpacked frees
				 * exactly what was filled. */
				json_t *item = json_array_get(value, i);
				if (json_is_null(item)) {
					problem(d, epath, "must not be null");
					break;
				}
				bool item_ok = decode_value(d, epath, f, item, (char *) arr + i * element_size(f));
				if (f->type == PROTOBUF_C_TYPE_MESSAGE || item_ok)
					*count = i + 1;
				if (!item_ok && f->type != PROTOBUF_C_TYPE_MESSAGE)
					break;
			}
			continue;
		}

		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			uint32_t *which = (uint32_t *) ((char *) msg + f->quantifier_offset);
			if (*which != 0) {
				problem(d, fpath, "conflicts with another field of its oneof");
				continue;
			}
			*which = f->id;
		} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0 &&
		           f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING) {
			*(protobuf_c_boolean *) ((char *) msg + f->quantifier_offset) = 1;
		}
		/* A string member holds the shared default until set: it is
		 * replaced without freeing, and set at most once (seen[]). */
		decode_value(d, fpath, f, value, member);
	}
	return d->problems == before;
}

rpc_code
pbjson_decode_object(const ProtobufCMessageDescriptor *desc, json_t *obj, ProtobufCMessage **out, rpc_status *st)
{
	rpc_status local;
	if (st == NULL)
		st = &local;
	rpc_status_clear(st);
	decoder d = {.st = st};
	ProtobufCMessage *msg;
	if (!decode_message(&d, "", desc, obj, &msg)) {
		protobuf_c_message_free_unpacked(msg, NULL);
		*out = NULL;
		if (st->code == RPC_OK)
			rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "out of memory");
		return st->code;
	}
	*out = msg;
	return RPC_OK;
}

/* --------------------------------------------------------------- parsing */

/* jansson reads every real as a double and refuses integers past 64 bits,
 * and has no mode that keeps a number's text (2.14). So before jansson sees
 * the body, each number token is rewritten as a string whose first byte is
 * NUL followed by the token's text (19.99 → "\u000019.99"): jansson keeps
 * it byte for byte (JSON_ALLOW_NUL), number_token() recognises it, and each
 * field judges the exact text. A string of the body that holds \u0000 is
 * refused as before, so no string of the client's can pass for a number.
 *
 * A token is the longest prefix that is an RFC 8259 number; what follows it
 * is left for jansson, so text that was not valid JSON stays invalid (a
 * string cannot be followed by "1" or "." where a number could not). */

typedef struct token_shift {
	size_t start; /* where the token starts in the rewritten text */
	size_t at;    /* where it ends there */
	size_t added; /* bytes added up to and including this token */
} token_shift;

typedef struct rewritten {
	buffer text;
	token_shift *shifts;
	size_t n_shifts;
	bool has_nul_escape; /* a string holds \u0000 */
} rewritten;

static bool
rewrite_numbers(const char *json, size_t len, rewritten *r)
{
	size_t shift_cap = 0, i = 0, run = 0, added = 0;
	memset(r, 0, sizeof(*r));
	if (!buffer_append(&r->text, "", 0))
		return false;
	while (i < len) {
		char c = json[i];
		if (c == '"') { /* skip the string, escapes and all */
			for (i++; i < len && json[i] != '"'; i++) {
				if (json[i] == '\\' && i + 1 < len) {
					if (i + 5 < len && json[i + 1] == 'u' && memcmp(json + i + 2, "0000", 4) == 0)
						r->has_nul_escape = true;
					i++;
				}
			}
			i++;
			continue;
		}
		size_t n = (c == '-' || (c >= '0' && c <= '9')) ? number_text_span(json + i, len - i) : 0;
		if (n == 0) {
			i++;
			continue;
		}
		buffer *t = &r->text;
		if (!buffer_append(t, json + run, i - run))
			return false;
		size_t start = t->len;
		if (!buffer_append(t, "\"\\u0000", 7) || !buffer_append(t, json + i, n) || !buffer_append(t, "\"", 1))
			return false;
		added += 8;
		if (r->n_shifts == shift_cap) {
			shift_cap      = shift_cap ? shift_cap * 2 : 16;
			token_shift *t = realloc(r->shifts, shift_cap * sizeof(*t));
			if (t == NULL)
				return false;
			r->shifts = t;
		}
		r->shifts[r->n_shifts++] = (token_shift){start, t->len, added};
		i += n;
		run = i;
	}
	return buffer_append(&r->text, json + run, len - run);
}

/* The offset in the body of an offset in the rewritten text; inside a
 * rewritten token (not expected), the token's start. */
static size_t
original_offset(const rewritten *r, size_t pos)
{
	size_t added = 0;
	for (size_t i = 0; i < r->n_shifts; i++) {
		if (pos < r->shifts[i].at) {
			if (pos > r->shifts[i].start)
				pos = r->shifts[i].start;
			break;
		}
		added = r->shifts[i].added;
	}
	return pos - added;
}

/* Line and column as jansson counts them: columns in characters (UTF-8
 * lead bytes), both from 1, at the byte offset pos. */
static void
line_column(const char *json, size_t len, size_t pos, int *line, int *column)
{
	*line   = 1;
	*column = 0;
	for (size_t i = 0; i < pos && i < len; i++) {
		if (json[i] == '\n') {
			(*line)++;
			*column = 0;
		} else if (((unsigned char) json[i] & 0xc0) != 0x80) {
			(*column)++;
		}
	}
}

rpc_code
pbjson_parse(const char *json, size_t len, json_t **out, rpc_status *st)
{
	json_error_t err;
	rpc_status_clear(st);
	*out = NULL;
	rewritten r;
	if (!rewrite_numbers(json, len, &r)) {
		buffer_free(&r.text);
		free(r.shifts);
		rpc_status_add_violation(st, "body", "body is too large");
		return RPC_INVALID_ARGUMENT;
	}
	int line, column;
	if (r.has_nul_escape) {
		/* Refused as jansson refuses it in the body as sent. */
		*out = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
		if (*out != NULL) { /* cannot happen: keep the promise anyway */
			json_decref(*out);
			*out = NULL;
		}
		line   = err.line;
		column = err.column;
	} else {
		*out = json_loadb(
		    r.text.data, r.text.len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
		if (*out == NULL && err.position >= 0)
			line_column(json, len, original_offset(&r, (size_t) err.position), &line, &column);
		else
			line = err.line, column = err.column;
	}
	buffer_free(&r.text);
	free(r.shifts);
	if (*out != NULL)
		return RPC_OK;
	if (json_error_code(&err) == json_error_duplicate_key)
		rpc_status_add_violation(st, "body", "body has a duplicate key (line %d, column %d)", line, column);
	else
		rpc_status_add_violation(st, "body", "body is not valid JSON (line %d, column %d)", line, column);
	return RPC_INVALID_ARGUMENT;
}

rpc_code
pbjson_decode(
    const ProtobufCMessageDescriptor *desc, const char *json, size_t len, ProtobufCMessage **out, rpc_status *st)
{
	*out = NULL;
	json_t *root;
	rpc_code code = pbjson_parse(json, len, &root, st);
	if (code != RPC_OK)
		return code;
	code = pbjson_decode_object(desc, root, out, st);
	json_decref(root);
	return code;
}

/* ----------------------------------------------------------------- encode */

/* Appends go on without a check each: the buffer's failure sticks, and
 * pbjson_encode reports it once at the end (buffer.h). */

static void
put_string(buffer *b, const char *s)
{
	buffer_append(b, "\"", 1);
	const char *run = s;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char) *s;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		buffer_append(b, run, (size_t) (s - run));
		char esc[8];
		switch (c) {
		case '"': buffer_append_str(b, "\\\""); break;
		case '\\': buffer_append_str(b, "\\\\"); break;
		case '\n': buffer_append_str(b, "\\n"); break;
		case '\r': buffer_append_str(b, "\\r"); break;
		case '\t': buffer_append_str(b, "\\t"); break;
		default: snprintf(esc, sizeof(esc), "\\u%04x", c); buffer_append_str(b, esc);
		}
		run = s + 1;
	}
	buffer_append(b, run, (size_t) (s - run));
	buffer_append(b, "\"", 1);
}

static void
put_base64(buffer *b, const ProtobufCBinaryData *bd)
{
	buffer_append(b, "\"", 1);
	char quad[4];
	for (size_t i = 0; i < bd->len; i += 3) {
		uint32_t n = (uint32_t) bd->data[i] << 16;
		if (i + 1 < bd->len)
			n |= (uint32_t) bd->data[i + 1] << 8;
		if (i + 2 < bd->len)
			n |= bd->data[i + 2];
		quad[0] = b64_alphabet[(n >> 18) & 63];
		quad[1] = b64_alphabet[(n >> 12) & 63];
		quad[2] = i + 1 < bd->len ? b64_alphabet[(n >> 6) & 63] : '=';
		quad[3] = i + 2 < bd->len ? b64_alphabet[n & 63] : '=';
		buffer_append(b, quad, 4);
	}
	buffer_append(b, "\"", 1);
}

static void
put_double(buffer *b, double x)
{
	if (isnan(x)) {
		buffer_append_str(b, "\"NaN\"");
	} else if (isinf(x)) {
		buffer_append_str(b, x > 0 ? "\"Infinity\"" : "\"-Infinity\"");
	} else {
		char text[48];
		format_double(x, text, sizeof(text), -7, 20); /* JavaScript's choice */
		buffer_append_str(b, text);
	}
}

static void encode_message(buffer *b, const ProtobufCMessage *msg);

static void
encode_value(buffer *b, const ProtobufCFieldDescriptor *f, const void *src)
{
	char num[32];
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		snprintf(num, sizeof(num), "%" PRId32, *(const int32_t *) src);
		buffer_append_str(b, num);
		return;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		snprintf(num, sizeof(num), "%" PRIu32, *(const uint32_t *) src);
		buffer_append_str(b, num);
		return;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		snprintf(num, sizeof(num), "%" PRId64, *(const int64_t *) src);
		buffer_append_str(b, num);
		return;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64: {
		/* Past 2^63 as a string: jansson, like many parsers, cannot
		 * read such a number back. */
		uint64_t x = *(const uint64_t *) src;
		snprintf(num, sizeof(num), x > INT64_MAX ? "\"%" PRIu64 "\"" : "%" PRIu64, x);
		buffer_append_str(b, num);
		return;
	}
	case PROTOBUF_C_TYPE_FLOAT: put_double(b, *(const float *) src); return;
	case PROTOBUF_C_TYPE_DOUBLE: put_double(b, *(const double *) src); return;
	case PROTOBUF_C_TYPE_BOOL: buffer_append_str(b, *(const protobuf_c_boolean *) src ? "true" : "false"); return;
	case PROTOBUF_C_TYPE_ENUM: {
		int value                    = *(const int *) src;
		const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, value);
		if (ev != NULL) {
			put_string(b, ev->name);
		} else {
			snprintf(num, sizeof(num), "%d", value);
			buffer_append_str(b, num);
		}
		return;
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *) src;
		put_string(b, s != NULL ? s : "");
		return;
	}
	case PROTOBUF_C_TYPE_BYTES: put_base64(b, src); return;
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *m = *(ProtobufCMessage *const *) src;
		if (m == NULL)
			buffer_append_str(b, "null");
		else
			encode_message(b, m);
		return;
	}
	}
	buffer_append_str(b, "null");
}

static bool
encode_special(buffer *b, const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *desc = msg->descriptor;
	if (strcmp(desc->name, TIMESTAMP_NAME) == 0) {
		int64_t secs  = *(const int64_t *) ((const char *) msg + desc->fields[0].offset);
		int32_t nanos = *(const int32_t *) ((const char *) msg + desc->fields[1].offset);
		time_t t      = (time_t) secs;
		struct tm tm;
		if (secs < TIMESTAMP_MIN_SECONDS || secs > TIMESTAMP_MAX_SECONDS || nanos < 0 || nanos > 999999999 ||
		    gmtime_r(&t, &tm) == NULL) {
			buffer_append_str(b, "null"); /* not representable as RFC 3339 */
			return true;
		}
		char text[48]; /* %Y would not pad years before 1000 to four digits */
		snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, nanos / 1000000);
		put_string(b, text);
		return true;
	}
	if (strcmp(desc->name, DECIMAL_NAME) == 0) {
		const char *value = *(char *const *) ((const char *) msg + desc->fields[0].offset);
		char text[128];
		if (value != NULL && strlen(value) < sizeof(text) && is_plain_decimal(value)) {
			canonical_decimal(value, text, sizeof(text));
			buffer_append_str(b, text);
		} else {
			put_string(b, value != NULL ? value : ""); /* never invalid JSON */
		}
		return true;
	}
	return false;
}

static void
encode_field(buffer *b, const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
	const char *member = (const char *) msg + f->offset;
	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		size_t n          = *(const size_t *) ((const char *) msg + f->quantifier_offset);
		const char *items = *(char *const *) member;
		buffer_append(b, "[", 1);
		for (size_t i = 0; i < n; i++) {
			if (i)
				buffer_append(b, ",", 1);
			encode_value(b, f, items + i * element_size(f));
		}
		buffer_append(b, "]", 1);
		return;
	}
	if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
	    *(const uint32_t *) ((const char *) msg + f->quantifier_offset) != f->id) {
		buffer_append_str(b, "null");
		return;
	}
	encode_value(b, f, member);
}

static void
encode_message(buffer *b, const ProtobufCMessage *msg)
{
	if (encode_special(b, msg))
		return;
	const ProtobufCMessageDescriptor *desc = msg->descriptor;
	buffer_append(b, "{", 1);
	for (unsigned i = 0; i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &desc->fields[i];
		char name[64];
		pbjson_json_name(f->name, name, sizeof(name));
		if (i)
			buffer_append(b, ",", 1);
		put_string(b, name);
		buffer_append(b, ":", 1);
		encode_field(b, msg, f);
	}
	buffer_append(b, "}", 1);
}

int
pbjson_encode(const ProtobufCMessage *msg, buffer *b)
{
	encode_message(b, msg);
	return b->failed ? -1 : 0;
}

int
pbjson_encode_field(const ProtobufCMessage *msg, const char *field, buffer *b)
{
	const ProtobufCFieldDescriptor *f = pbjson_find_field(msg->descriptor, field);
	if (f == NULL)
		return -1;
	encode_field(b, msg, f);
	return b->failed ? -1 : 0;
}
