/* request_checks.h: what is refused in a request's head, and why. */
#include "request_checks.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The request-target the route table can take: longer is 414 (RFC 9112 3). */
#define TARGET_MAX 4096

static bool
refuse(request_violation *v, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->message, sizeof(v->message), fmt, ap);
	va_end(ap);
	v->status = status;
	return true;
}

/* tchar (RFC 9110 5.6.2). */
static bool
is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

bool
request_is_token(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (!is_tchar((unsigned char) *s))
			return false;
	}
	return true;
}

bool
request_method_known(const char *s)
{
	static const char *const known[] = {"GET", "HEAD", "POST", "OPTIONS", "PUT", "DELETE", "PATCH"};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (strcmp(s, known[i]) == 0)
			return true;
	}
	return false;
}

static bool
is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* unreserved / sub-delims / ":" / "@" (RFC 3986 3.3 pchar, without
 * pct-encoded), plus the extra characters `extra` allows. */
static bool
is_uri_char(unsigned char c, const char *extra)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && (strchr("-._~!$&'()*+,;=:@", c) != NULL || strchr(extra, c) != NULL));
}

/* Returns the offset of the first byte that cannot be in this part of a
 * URI (a '%' must start a %XX escape), or -1 when every byte can. */
static long
first_bad_uri_byte(const char *s, const char *extra)
{
	for (const char *p = s; *p != '\0'; p++) {
		unsigned char c = (unsigned char) *p;
		if (c == '%') {
			if (!is_hex((unsigned char) p[1]) || !is_hex((unsigned char) p[2]))
				return p - s;
			p += 2;
		} else if (!is_uri_char(c, extra)) {
			return p - s;
		}
	}
	return -1;
}

/* The request-target (RFC 9112 3.2): origin-form, or absolute-form with an
 * http(s) scheme, which a server MUST accept (3.2.2). Asterisk-form never
 * gets here (civetweb_head.h). */
static bool
check_target(const request_head *h, request_violation *v)
{
	const char *t = h->target;
	if (strlen(t) + (h->query != NULL ? strlen(h->query) + 1 : 0) > TARGET_MAX)
		return refuse(v, 414, "the request-target is longer than %d bytes", TARGET_MAX);
	if (t[0] != '/') {
		size_t scheme = strncasecmp(t, "http://", 7) == 0 ? 7 : strncasecmp(t, "https://", 8) == 0 ? 8 : 0;
		if (scheme == 0)
			return refuse(
			    v, 400, "the request-target must be a path starting with '/' or an absolute http URI");
		const char *authority = t + scheme;
		size_t len            = strcspn(authority, "/");
		if (len == 0 || authority[len] != '/')
			return refuse(v, 400, "the absolute request-target must have a host and a path");
		for (size_t i = 0; i < len; i++) {
			if (!is_uri_char((unsigned char) authority[i], "[]") || authority[i] == '@')
				return refuse(v, 400, "the request-target's host has a character that cannot be there");
		}
		/* port = *DIGIT (RFC 3986 3.2.3): CivetWeb reads it with atoi, which
		 * takes "+38300" for 38300. */
		const char *close = memchr(authority, ']', len);
		const char *colon = memchr(close != NULL ? close : authority, ':',
		    len - (size_t) ((close != NULL ? close : authority) - authority));
		for (const char *p = colon != NULL ? colon + 1 : authority + len; p < authority + len; p++) {
			if (*p < '0' || *p > '9')
				return refuse(v, 400, "the request-target's port must be digits (RFC 3986 3.2.3)");
		}
		t = authority + len;
	}
	long bad = first_bad_uri_byte(t, "/");
	if (bad >= 0)
		return refuse(v, 400,
		    "the request-target's path has byte 0x%02x at offset %ld, which must be "
		    "percent-encoded (RFC 3986)",
		    (unsigned char) t[bad], bad);
	if (h->query != NULL && (bad = first_bad_uri_byte(h->query, "/?")) >= 0)
		return refuse(v, 400,
		    "the query has byte 0x%02x at offset %ld, which must be percent-encoded (RFC 3986)",
		    (unsigned char) h->query[bad], bad);
	return false;
}

/* Without leading and trailing OWS, as a length. */
static size_t
trimmed(const char *s, const char **start)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	*start = s;
	return n;
}

/* Fields the gateway reads one value of (mg_get_header takes the first):
 * sent twice, a proxy in front may have acted on the other one. None is a
 * list (RFC 9110 5.3). */
static const char *const singletons[] = {"Content-Type", "Expect", "Idempotency-Key", "X-Request-Id",
    "X-Request-Timeout", "Origin", "Access-Control-Request-Method"};
#define SINGLETONS (sizeof(singletons) / sizeof(singletons[0]))

/* Idempotency-Key travels to the services as text: an sf-string (RFC 8941
 * 3.3.3, as draft-ietf-httpapi-idempotency-key-header defines it), so
 * printable ASCII only. */
static bool
printable_ascii(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char) *s < 0x20 || (unsigned char) *s > 0x7e)
			return false;
	}
	return true;
}

/* Host = uri-host [ ":" port ] (RFC 9110 7.2), possibly empty. */
static bool
valid_host(const char *value)
{
	const char *s;
	size_t n = trimmed(value, &s);
	for (size_t i = 0; i < n; i++) {
		if (!is_uri_char((unsigned char) s[i], "[]%") || s[i] == '@' || s[i] == ',')
			return false;
	}
	return true;
}

/* Content-Length = 1*DIGIT (RFC 9110 8.6), no sign, no list, no overflow. */
static bool
valid_content_length(const char *value)
{
	const char *s;
	size_t n = trimmed(value, &s);
	if (n == 0 || n > 18)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return true;
}

/* Transfer-Encoding: only "chunked" alone is taken. The final coding must
 * be chunked or the length is unknowable (RFC 9112 6.3 item 4: 400 and
 * close); another coding before it is one we do not implement (6.1: 501). */
static bool
check_transfer_encoding(const char *value, request_violation *v)
{
	const char *s;
	size_t n         = trimmed(value, &s);
	const char *last = s + n;
	while (last > s && last[-1] != ',')
		last--;
	const char *lc;
	size_t lc_n = n - (size_t) (last - s);
	char copy[64];
	snprintf(copy, sizeof(copy), "%.*s", (int) lc_n, last);
	lc_n = trimmed(copy, &lc);
	if (!(lc_n == 7 && strncasecmp(lc, "chunked", 7) == 0))
		return refuse(v, 400, "Transfer-Encoding must end with chunked (RFC 9112 6.3)");
	if (last != s) {
		/* chunked twice is as ambiguous as chunked not last (RFC 9112 7) */
		for (const char *p = s; p < last;) {
			size_t k = strcspn(p, ",");
			char element[64];
			const char *e;
			snprintf(element, sizeof(element), "%.*s", (int) (k < 63 ? k : 63), p);
			size_t en = trimmed(element, &e);
			if (en == 7 && strncasecmp(e, "chunked", 7) == 0)
				return refuse(v, 400, "Transfer-Encoding lists chunked more than once (RFC 9112 7)");
			p += k + (p[k] == ',');
		}
		return refuse(v, 501, "Transfer-Encoding: only chunked is implemented");
	}
	return false;
}

/* True when name is framing, with '_' for some '-': "Content_Length".
 * Some servers and gateways read '_' as '-' (CGI-style variable names), so a
 * proxy that forwards the field unread and one that takes it as the length
 * would frame the message two ways. */
static bool
framing_lookalike(const char *name)
{
	static const char *const framing[] = {"Content-Length", "Transfer-Encoding", "Host"};
	if (strchr(name, '_') == NULL)
		return false;
	for (size_t i = 0; i < sizeof(framing) / sizeof(framing[0]); i++) {
		const char *a = name, *b = framing[i];
		while (
		    *a != '\0' && *b != '\0' && ((*a == '_' && *b == '-') || ((*a | 0x20) == (*b | 0x20) && *a != '_')))
			a++, b++;
		if (*a == '\0' && *b == '\0')
			return true;
	}
	return false;
}

static bool
check_layout(const request_head *h, request_violation *v)
{
	const char *near = h->layout_field >= 0 && h->layout_field < h->n_fields ? h->fields[h->layout_field].name
	                                                                         : "the request line";
	if (h->layout & REQUEST_LAYOUT_LEADING_WS)
		return refuse(v, 400, "the request begins with white space other than one empty line (RFC 9112 2.2)");
	if (h->layout & REQUEST_LAYOUT_LINE_WS)
		return refuse(v, 400, "white space where one SP or CRLF belongs, after %s (RFC 9112 2.2, 3)", near);
	if (h->layout & REQUEST_LAYOUT_WS_BEFORE_COLON)
		return refuse(v, 400, "white space between header field name %s and its colon (RFC 9112 5.1)", near);
	if (h->layout & REQUEST_LAYOUT_OBS_FOLD)
		return refuse(v, 400, "header field %s is folded onto the next line (obs-fold, RFC 9112 5.2)", near);
	if (h->layout & REQUEST_LAYOUT_BARE_LF)
		return refuse(v, 400, "a line ends without CRLF, after %s (bare LF or CR, RFC 9112 2.2)", near);
	if (h->layout & REQUEST_LAYOUT_UNPARSED) {
		if (h->n_fields >= 64)
			return refuse(v, 431, "more than 64 header fields");
		return refuse(v, 400, "a header line after %s is not a field (name \":\" value)", near);
	}
	return false;
}

bool
request_check(const request_head *h, request_violation *v)
{
	if (check_layout(h, v))
		return true;
	/* The request line (RFC 9112 3). */
	if (strcmp(h->version, "1.1") != 0 && strcmp(h->version, "1.0") != 0)
		return refuse(v, 505, "HTTP/%.16s is not supported: use HTTP/1.1", h->version);
	if (!request_is_token(h->method))
		return refuse(v, 400, "the method is not a token (RFC 9110 9.1)");
	if (!request_method_known(h->method))
		return refuse(v, 501, "method %.32s is not implemented", h->method);
	if (check_target(h, v))
		return true;

	/* Field lines (RFC 9112 5, RFC 9110 5.5). */
	int hosts = 0, lengths = 0, codings = 0, seen[SINGLETONS] = {0};
	const char *length = NULL, *coding = NULL;
	for (int i = 0; i < h->n_fields; i++) {
		const request_field *f = &h->fields[i];
		if (!request_is_token(f->name))
			return refuse(v, 400, "header field name \"%.40s\" is not a token (RFC 9110 5.1)", f->name);
		if (framing_lookalike(f->name))
			return refuse(v, 400, "header field %.40s: '_' for '-' in a framing field's name", f->name);
		for (const unsigned char *p = (const unsigned char *) f->value; *p != '\0'; p++) {
			if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
				return refuse(
				    v, 400, "header field %.40s has a control character (RFC 9110 5.5)", f->name);
		}
		if (strcasecmp(f->name, "Host") == 0) {
			hosts++;
			if (!valid_host(f->value))
				return refuse(v, 400, "Host is not host[:port] (RFC 9110 7.2)");
		} else if (strcasecmp(f->name, "Content-Length") == 0) {
			lengths++;
			length = f->value;
		} else if (strcasecmp(f->name, "Transfer-Encoding") == 0) {
			codings++;
			coding = f->value;
		}
		for (size_t k = 0; k < SINGLETONS; k++) {
			if (strcasecmp(f->name, singletons[k]) == 0 && seen[k]++ > 0)
				return refuse(v, 400, "%s is repeated (the gateway reads one value; RFC 9110 5.3)",
				    singletons[k]);
		}
		if (strcasecmp(f->name, "Idempotency-Key") == 0 && !printable_ascii(f->value))
			return refuse(v, 400, "Idempotency-Key must be printable ASCII (RFC 8941 sf-string)");
	}
	/* Exactly one Host in HTTP/1.1, at most one before (RFC 9112 3.2). */
	if (hosts > 1)
		return refuse(v, 400, "Host is repeated (RFC 9112 3.2)");
	if (hosts == 0 && strcmp(h->version, "1.1") == 0)
		return refuse(v, 400, "Host is missing (RFC 9112 3.2)");

	/* Message body length (RFC 9112 6). */
	if (codings > 0 && strcmp(h->version, "1.1") != 0)
		return refuse(v, 400, "Transfer-Encoding in an HTTP/1.0 request (RFC 9112 6.1)");
	if (codings > 1)
		return refuse(v, 400, "Transfer-Encoding is repeated");
	if (codings == 1 && lengths > 0)
		return refuse(v, 400, "both Transfer-Encoding and Content-Length (RFC 9112 6.1, 6.3)");
	if (lengths > 1)
		return refuse(v, 400, "Content-Length is repeated (RFC 9112 6.3)");
	if (lengths == 1 && !valid_content_length(length))
		return refuse(v, 400, "Content-Length must be a decimal number of bytes (RFC 9110 8.6)");
	if (codings == 1 && check_transfer_encoding(coding, v))
		return true;
	return false;
}
