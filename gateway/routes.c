/* The route table and the path matcher. */
#include "routes.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The gateway's own routes, after the contracts'. */
static const route own_routes[ROUTES_OWN] = {
    {.kind              = ROUTE_HEALTHZ,
        .method         = "GET",
        .path           = "/healthz",
        .summary        = "The gateway process is up",
        .success_status = 200},
    {.kind              = ROUTE_READYZ,
        .method         = "GET",
        .path           = "/readyz",
        .summary        = "Every service answers and reaches its dependencies",
        .success_status = 200},
    {.kind              = ROUTE_OPENAPI,
        .method         = "GET",
        .path           = "/openapi.json",
        .summary        = "This API's OpenAPI document",
        .success_status = 200},
    {.kind              = ROUTE_METRICS,
        .method         = "GET",
        .path           = "/metrics",
        .summary        = "Metrics in Prometheus text format: the gateway's and each service's",
        .success_status = 200},
};

static route table[ROUTES_MAX];
static size_t table_count;
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void
build_table(void)
{
	/* contract-gen bounds the routes by CONTRACT_ROUTES_MAX and accepts
	 * only body "*" (lib/contract/tables.h). */
	for (size_t i = 0; i < contract_routes_count; i++) {
		const contract_route *c = &contract_routes[i];
		route *r                = &table[table_count++];
		*r                      = (route){.kind  = ROUTE_RPC,
		                         .method         = c->method,
		                         .path           = c->path,
		                         .summary        = c->summary,
		                         .service        = c->service,
		                         .rpc_method     = c->rpc_method,
		                         .takes_body     = c->body != NULL,
		                         .success_status = c->success_status,
		                         .location       = c->location,
		                         .response_field = c->response_body};
		memcpy(r->statuses, c->error_statuses, sizeof(r->statuses));
	}
	for (size_t i = 0; i < ROUTES_OWN; i++)
		table[table_count++] = own_routes[i];
}

const route *
routes_table(size_t *count)
{
	pthread_once(&table_once, build_table);
	*count = table_count;
	return table;
}

const ProtobufCServiceDescriptor *
routes_service_descriptor(size_t service)
{
	return contract_services[service].descriptor;
}

const char *
routes_service_name(size_t service)
{
	return contract_services[service].name;
}

/* Matches one template against a path, filling m's parameters. */
static bool
match_template(const char *tmpl, const char *path, size_t path_len, route_match *m)
{
	const char *t = tmpl, *p = path, *end = path + path_len;
	m->n_params = 0;
	while (*t != '\0') {
		if (*t == '{') {
			const char *close = strchr(t, '}');
			const char *seg   = p;
			while (p < end && *p != '/')
				p++;
			size_t len = (size_t) (p - seg);
			if (len == 0 || m->n_params == ROUTE_MAX_PARAMS)
				return false; /* an empty segment never binds */
			m->params[m->n_params].name      = t + 1;
			m->params[m->n_params].name_len  = (size_t) (close - t - 1);
			m->params[m->n_params].value     = seg;
			m->params[m->n_params].value_len = len;
			m->n_params++;
			t = close + 1;
		} else {
			if (p >= end || *p != *t)
				return false;
			p++;
			t++;
		}
	}
	return p == end;
}

route_result
routes_match(const char *method, const char *path, route_match *m, char *allow, size_t allow_len)
{
	size_t len = strlen(path);
	if (len > 1 && path[len - 1] == '/')
		len--; /* one trailing slash is tolerated */
	if (allow_len > 0)
		allow[0] = '\0';
	bool path_known = false;
	size_t routes_count;
	const route *routes = routes_table(&routes_count);
	for (size_t i = 0; i < routes_count; i++) {
		route_match candidate;
		if (!match_template(routes[i].path, path, len, &candidate))
			continue;
		bool head_of_get =
		    method != NULL && strcmp(method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0;
		if (method == NULL || head_of_get || strcmp(routes[i].method, method) == 0) {
			*m       = candidate;
			m->route = &routes[i];
			return ROUTE_FOUND;
		}
		/* Collect the methods this path allows, each once. */
		if (strstr(allow, routes[i].method) == NULL) {
			size_t used = strlen(allow);
			snprintf(allow + used, allow_len - used, "%s%s%s", used ? ", " : "", routes[i].method,
			    strcmp(routes[i].method, "GET") == 0 ? ", HEAD" : "");
		}
		path_known = true;
	}
	return path_known ? ROUTE_METHOD_NOT_ALLOWED : ROUTE_NOT_FOUND;
}

static int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Length of the valid UTF-8 sequence at s[0..n) (RFC 3629: no overlongs,
 * no surrogates, at most U+10FFFF), or 0. */
static size_t
utf8_sequence(const unsigned char *s, size_t n)
{
	if (s[0] < 0x80)
		return 1;
	size_t len = s[0] >= 0xC2 && s[0] <= 0xDF   ? 2
	             : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
	             : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4
	                                            : 0;
	if (len == 0 || len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	}
	if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] > 0x9F) || (s[0] == 0xF0 && s[1] < 0x90) ||
	    (s[0] == 0xF4 && s[1] > 0x8F))
		return 0;
	return len;
}

int
routes_decode_path(const char *raw, char *out, size_t out_len, char *why, size_t why_len)
{
	if (raw[0] != '/') {
		snprintf(why, why_len, "the path must start with '/'");
		return 400;
	}
	size_t j    = 0;
	int segment = 0;
	for (const char *p = raw; *p == '/';) {
		const char *seg = ++p;
		size_t seg_len  = strcspn(seg, "/");
		p               = seg + seg_len;
		segment++;
		if (seg_len == 0) {
			if (*p == '\0' && segment > 1)
				break; /* one trailing slash: "/users/1/" is "/users/1" */
			if (*p == '\0' && segment == 1) {
				if (j + 2 > out_len)
					break;
				out[j++] = '/'; /* the root, "/" */
				break;
			}
			snprintf(why, why_len, "the path has an empty segment (\"//\") at segment %d", segment);
			return 400;
		}
		if (j + 1 + seg_len + 1 > out_len) {
			snprintf(why, why_len, "the path is longer than %zu bytes", out_len - 1);
			return 414;
		}
		out[j++]     = '/';
		size_t start = j;
		for (size_t i = 0; i < seg_len; i++) {
			unsigned char c = (unsigned char) seg[i];
			if (c == '%') {
				int hi = i + 2 < seg_len ? hex_value((unsigned char) seg[i + 1]) : -1;
				int lo = hi >= 0 ? hex_value((unsigned char) seg[i + 2]) : -1;
				if (hi < 0 || lo < 0) {
					snprintf(why, why_len,
					    "path segment %d has a '%%' not followed by two hex digits", segment);
					return 400;
				}
				c = (unsigned char) (hi * 16 + lo);
				i += 2;
			}
			/* What a segment cannot hold (RFC 3986 3.3): its separator, and
			 * bytes no route's value can be (NUL ends a C string: /users/1%00.json
			 * would be /users/1). */
			if (c == '\0' || c == '/' || c < 0x20 || c == 0x7f) {
				snprintf(why, why_len,
				    "path segment %d decodes to byte 0x%02x, which a segment cannot hold", segment, c);
				return 400;
			}
			out[j++] = (char) c;
		}
		size_t n = j - start;
		for (size_t k = 0; k < n;) {
			size_t len = utf8_sequence((const unsigned char *) out + start + k, n - k);
			if (len == 0) {
				snprintf(why, why_len, "path segment %d is not valid UTF-8 once decoded", segment);
				return 400;
			}
			k += len;
		}
		if ((n == 1 && out[start] == '.') || (n == 2 && out[start] == '.' && out[start + 1] == '.')) {
			snprintf(why, why_len, "path segment %d is a dot-segment (\".\" or \"..\"), which is not taken",
			    segment);
			return 400;
		}
	}
	out[j] = '\0';
	return 0;
}
