/* The pure request checks (request_checks.c) and path decoding
 * (routes_decode_path), without a socket. The same kinds over real sockets
 * are in tests/conformance/. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "request_checks.h"
#include "routes.h"

/* A request head from "Name: value" strings (NULL-terminated). */
static int
check(const char *method, const char *version, const char *target, const char *const *lines, request_violation *v)
{
	static char names[16][64];
	request_field fields[16];
	int n = 0;
	for (; lines != NULL && lines[n] != NULL; n++) {
		const char *colon = strchr(lines[n], ':');
		snprintf(names[n], sizeof(names[n]), "%.*s", (int) (colon - lines[n]), lines[n]);
		fields[n] = (request_field){names[n], colon + 1 + strspn(colon + 1, " ")};
	}
	request_head h = {.method = method,
	    .version              = version,
	    .target               = target,
	    .fields               = fields,
	    .n_fields             = n,
	    .layout_field         = -1};
	memset(v, 0, sizeof(*v));
	return request_check(&h, v) ? v->status : 0;
}

#define HOST "Host: api.example"

Test(request_checks, a_plain_request_passes)
{
	request_violation v;
	const char *const get[]     = {HOST, "Accept: */*", NULL};
	const char *const post[]    = {HOST, "Content-Length: 2", NULL};
	const char *const chunked[] = {HOST, "Transfer-Encoding: Chunked", NULL};
	cr_assert_eq(check("GET", "1.1", "/users/1", get, &v), 0, "%s", v.message);
	cr_assert_eq(check("POST", "1.1", "/users", post, &v), 0, "%s", v.message);
	cr_assert_eq(check("POST", "1.1", "/users", chunked, &v), 0, "%s", v.message);
	cr_assert_eq(check("GET", "1.0", "/healthz", NULL, &v), 0, "HTTP/1.0 needs no Host: %s", v.message);
	cr_assert_eq(check("GET", "1.1", "http://api.example:8080/healthz", get, &v), 0, "%s", v.message);
}

Test(request_checks, every_ambiguous_length_is_400)
{
	static const char *const cases[][4] = {
	    {HOST, "Content-Length: 4", "Transfer-Encoding: chunked", NULL},
	    {HOST, "Content-Length: 2", "Content-Length: 60", NULL},
	    {HOST, "Content-Length: 2", "Content-Length: 2", NULL},
	    {HOST, "Content-Length: 2, 2", NULL},
	    {HOST, "Content-Length: +2", NULL},
	    {HOST, "Content-Length: -1", NULL},
	    {HOST, "Content-Length: 0x10", NULL},
	    {HOST, "Content-Length: 1 2", NULL},
	    {HOST, "Content-Length: 99999999999999999999", NULL},
	    {HOST, "Transfer-Encoding: chunked", "Transfer-Encoding: chunked", NULL},
	    {HOST, "Transfer-Encoding: chunked, identity", NULL},
	    {HOST, "Transfer-Encoding: identity", NULL},
	    {HOST, "Transfer-Encoding: chunked, chunked", NULL},
	    {HOST, "Transfer-Encoding: xchunked", NULL},
	    {HOST, "Transfer-Encoding: chunked;x=1", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		request_violation v;
		cr_assert_eq(check("POST", "1.1", "/users", cases[i], &v), 400, "case %zu (%s): %d %s", i, cases[i][1],
		    v.status, v.message);
		cr_assert(v.message[0] != '\0');
	}
	request_violation v;
	const char *const old[] = {"Transfer-Encoding: chunked", NULL};
	cr_assert_eq(check("POST", "1.0", "/users", old, &v), 400);
	cr_assert(strstr(v.message, "HTTP/1.0") != NULL, "%s", v.message);
	const char *const gzip[] = {HOST, "Transfer-Encoding: gzip, chunked", NULL};
	cr_assert_eq(check("POST", "1.1", "/users", gzip, &v), 501, "a coding we do not implement: %s", v.message);
}

Test(request_checks, framing_names_with_underscores_are_400)
{
	request_violation v;
	static const char *const names[] = {
	    "Content_Length: 2", "transfer_encoding: chunked", "Transfer_Encoding: x", "HOST_: x"};
	for (size_t i = 0; i < 3; i++) {
		const char *const lines[] = {HOST, names[i], NULL};
		cr_assert_eq(check("POST", "1.1", "/users", lines, &v), 400, "%s", names[i]);
		cr_assert(strstr(v.message, "'_'") != NULL, "%s", v.message);
	}
	const char *const other[] = {HOST, names[3], "X_Thing: 1", NULL};
	cr_assert_eq(check("POST", "1.1", "/users", other, &v), 0, "other names may have '_': %s", v.message);
}

Test(request_checks, host_must_be_there_once)
{
	request_violation v;
	const char *const none[]     = {"Accept: */*", NULL};
	const char *const two[]      = {HOST, "host: other", NULL};
	const char *const bad[]      = {"Host: a b", NULL};
	const char *const userinfo[] = {"Host: user@host", NULL};
	cr_assert_eq(check("GET", "1.1", "/healthz", none, &v), 400);
	cr_assert(strstr(v.message, "Host is missing") != NULL, "%s", v.message);
	cr_assert_eq(check("GET", "1.1", "/healthz", two, &v), 400);
	cr_assert(strstr(v.message, "Host is repeated") != NULL, "%s", v.message);
	cr_assert_eq(check("GET", "1.0", "/healthz", two, &v), 400, "also in HTTP/1.0");
	cr_assert_eq(check("GET", "1.1", "/healthz", bad, &v), 400);
	cr_assert_eq(check("GET", "1.1", "/healthz", userinfo, &v), 400);
}

Test(request_checks, field_names_are_tokens_and_values_have_no_controls)
{
	request_violation v;
	const char *const name[]  = {HOST, "Bad(Name): x", NULL};
	const char *const value[] = {HOST, "X-Thing: a\x01z", NULL};
	const char *const del[]   = {HOST, "X-Thing: a\x7f", NULL};
	cr_assert_eq(check("GET", "1.1", "/healthz", name, &v), 400);
	cr_assert(strstr(v.message, "Bad(Name)") != NULL, "the message names the field: %s", v.message);
	cr_assert_eq(check("GET", "1.1", "/healthz", value, &v), 400);
	cr_assert(strstr(v.message, "X-Thing") != NULL, "%s", v.message);
	cr_assert_eq(check("GET", "1.1", "/healthz", del, &v), 400);
}

Test(request_checks, methods_versions_and_targets)
{
	request_violation v;
	const char *const h[] = {HOST, NULL};
	cr_assert_eq(check("PROPFIND", "1.1", "/healthz", h, &v), 501);
	cr_assert(strstr(v.message, "PROPFIND") != NULL);
	cr_assert_eq(check("get", "1.1", "/healthz", h, &v), 501, "methods are case-sensitive (RFC 9110 9.1)");
	cr_assert_eq(check("G@T", "1.1", "/healthz", h, &v), 400);
	cr_assert_eq(check("PUT", "1.1", "/healthz", h, &v), 0, "known: the route answers 405");
	cr_assert_eq(check("GET", "2.0", "/healthz", h, &v), 505);
	cr_assert_eq(check("GET", "1.2", "/healthz", h, &v), 505);
	cr_assert_eq(check("GET", "1.1", "healthz", h, &v), 400);
	cr_assert_eq(check("GET", "1.1", "ftp://x/healthz", h, &v), 400);
	cr_assert_eq(check("GET", "1.1", "http:///healthz", h, &v), 400, "absolute-form needs a host");
	cr_assert_eq(check("GET", "1.1", "/he\"althz", h, &v), 400);
	cr_assert_eq(check("GET", "1.1", "/users/1#frag", h, &v), 400, "no fragment in a request-target");
	cr_assert_eq(check("GET", "1.1", "/users/%zz", h, &v), 400);
	cr_assert_eq(check("GET", "1.1", "/users/\xc3\xa9", h, &v), 400, "non-ASCII must be percent-encoded");
	char longer[5000];
	memset(longer, 'a', sizeof(longer) - 1);
	longer[0]                  = '/';
	longer[sizeof(longer) - 1] = '\0';
	cr_assert_eq(check("GET", "1.1", longer, h, &v), 414);
}

Test(request_checks, what_the_parser_normalised_is_refused)
{
	static const unsigned bits[] = {REQUEST_LAYOUT_LINE_WS, REQUEST_LAYOUT_WS_BEFORE_COLON, REQUEST_LAYOUT_OBS_FOLD,
	    REQUEST_LAYOUT_BARE_LF, REQUEST_LAYOUT_UNPARSED};
	request_field f[]            = {{"Host", "x"}};
	request_head lead            = {.method = "GET",
	               .version                 = "1.1",
	               .target                  = "/healthz",
	               .fields                  = f,
	               .n_fields                = 1,
	               .layout                  = REQUEST_LAYOUT_LEADING_WS,
	               .layout_field            = -1};
	request_violation lv;
	cr_assert(request_check(&lead, &lv));
	cr_assert_eq(lv.status, 400);
	cr_assert(strstr(lv.message, "begins with white space") != NULL, "%s", lv.message);
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		request_head h = {.method = "GET",
		    .version              = "1.1",
		    .target               = "/healthz",
		    .fields               = f,
		    .n_fields             = 1,
		    .layout               = bits[i],
		    .layout_field         = 0};
		request_violation v;
		cr_assert(request_check(&h, &v), "bit %u", bits[i]);
		cr_assert_eq(v.status, 400);
		cr_assert(strstr(v.message, "Host") != NULL, "names the field: %s", v.message);
	}
}

/* ---- path decoding ---- */

static int
decode(const char *raw, char *out)
{
	char why[128] = "";
	int status    = routes_decode_path(raw, out, 64, why, sizeof(why));
	cr_assert(status == 0 || why[0] != '\0', "a refusal says why");
	return status;
}

Test(path_decode, each_segment_is_decoded_once)
{
	char out[64];
	cr_assert_eq(decode("/users/1", out), 0);
	cr_assert_str_eq(out, "/users/1");
	cr_assert_eq(decode("/users/%31", out), 0);
	cr_assert_str_eq(out, "/users/1");
	cr_assert_eq(decode("/users/%2531", out), 0, "decoded once: %%25 is '%%'");
	cr_assert_str_eq(out, "/users/%31");
	cr_assert_eq(decode("/users/caf%C3%A9", out), 0);
	cr_assert_str_eq(out, "/users/caf\xc3\xa9");
	cr_assert_eq(decode("/", out), 0);
	cr_assert_str_eq(out, "/");
}

Test(path_decode, one_trailing_slash_and_no_other_empty_segment)
{
	char out[64];
	cr_assert_eq(decode("/users/1/", out), 0);
	cr_assert_str_eq(out, "/users/1");
	cr_assert_eq(decode("/users/1//", out), 400);
	cr_assert_eq(decode("/users/1///", out), 400);
	cr_assert_eq(decode("//users/1", out), 400);
	cr_assert_eq(decode("/users//1", out), 400);
	cr_assert_eq(decode("//", out), 400);
}

Test(path_decode, bytes_a_segment_cannot_hold_are_400)
{
	static const char *const bad[] = {"/users/1%00.json", "/orders/user/1%00x", "/users/1%2F2", "/users/1%2f",
	    "/users/%0a1", "/users/1%7F", "/users/%C3", "/users/%C0%AF", "/users/%ED%A0%80", "/users/%F5%80%80%80",
	    "/users/%", "/users/%4", "/users/%G1", "users/1", ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char out[64];
		cr_assert_eq(decode(bad[i], out), 400, "%s", bad[i]);
	}
}

Test(path_decode, dot_segments_are_400_raw_or_encoded)
{
	static const char *const bad[] = {
	    "/users/.", "/users/..", "/users/../users/1", "/./users/1", "/users/%2e", "/users/%2E%2e", "/users/.%2e/1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char out[64];
		cr_assert_eq(decode(bad[i], out), 400, "%s", bad[i]);
	}
	char out[64];
	cr_assert_eq(decode("/users/...", out), 0, "three dots are a name");
}

Test(path_decode, a_path_longer_than_the_buffer_is_414)
{
	char raw[200], out[64], why[128];
	memset(raw, 'a', sizeof(raw) - 1);
	raw[0]               = '/';
	raw[sizeof(raw) - 1] = '\0';
	cr_assert_eq(routes_decode_path(raw, out, sizeof(out), why, sizeof(why)), 414);
}
