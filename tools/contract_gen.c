/* contract-gen: the build step that turns the contracts into the tables of
 * lib/contract/tables.h. It reads protoc's descriptor set
 * (protoc-c --descriptor_set_out=F --include_imports) and the registry
 * files, and writes one C file with the service registry and the REST
 * routes.
 *
 * A method's HTTP rule is its google.api.http option (AIP-127; field
 * 72295728 of MethodOptions) and what the rule cannot say is its rest.route
 * option (proto/rest/route.proto; field 51000). protobuf-c's descriptor.proto
 * knows neither extension, so it keeps them as unknown fields of
 * MethodOptions: they are decoded here with the generated HttpRule and Route.
 *
 * Whatever the gateway cannot serve is refused, never skipped: the program
 * prints "file: Service.Method: reason" for each fault and exits 1, and the
 * build stops. Refused:
 *   - a template outside the grammar the gateway matches: it must start with
 *     '/', and each segment is a literal of URL-safe characters or {field};
 *     {field=sub/template}, '*' and '**' wildcards, a ":verb" suffix, empty
 *     segments, dot-segments ("." and "..", which the gateway refuses in any
 *     path) and nested field paths ({a.b}) are refused by name;
 *   - a path variable that is not a string or integer field of the request
 *     (the gateway binds it as a JSON string), a proto3 optional field, a
 *     oneof member, or one bound twice;
 *   - a streaming method of a registered service or with a route (nng
 *     req/rep carries one request and one reply); a nested request or reply
 *     message type;
 *   - a body that is not "*" (a field body is not served yet), a body on GET
 *     or DELETE (RFC 9110 9.3.1: no defined semantics);
 *   - a response_body that is not a field of the reply;
 *   - a status other than 200 or 201, 201 without location, a location
 *     without 201, a location variable not an integer field of the reply;
 *   - a summary over CONTRACT_SUMMARY_MAX bytes or with a control character;
 *   - error statuses outside 400-599, repeated, or more than
 *     CONTRACT_ERROR_STATUSES_MAX;
 *   - a custom pattern, additional_bindings, a selector, a rule without a
 *     path, rest.route without google.api.http, an option given twice;
 *   - two routes of one method that can match one path (the gateway takes
 *     the first; HEAD is served by the GET routes);
 *   - a path the gateway serves itself (CONTRACT_GATEWAY_PATHS: /healthz...);
 *   - an annotated service not in the registry, a registry service whose
 *     contract is not in the descriptor set, a registry line without its seven
 *     columns or with a value its users cannot take (a name that is not a
 *     binary's, a variable that is not an environment variable's, a default
 *     URL nng cannot dial), a name, contract, default URL or database
 *     declared twice, a variable name used twice across the url_variable and
 *     db_url_variable columns, a setting the gateway or the skeleton owns
 *     (CONTRACT_OWNED_SETTINGS), a url_variable ending in _FILE (a secret's
 *     file variant, CONTRACT_FILE_SUFFIX), the names "gateway" and "operator"
 *     (roles of their own), PostgreSQL's own databases, a db_url_variable
 *     without a database or the reverse, a line with a carriage return;
 *   - a callers list (the roles whose certificates the service accepts,
 *     docs: mutual TLS) with an empty element, a role that is neither
 *     gateway, operator nor a registry service, a role listed twice, or the
 *     service itself;
 *   - more services or routes than lib/contract/tables.h's bounds.
 *
 * Usage: contract-gen OUT.c DESCRIPTOR_SET REGISTRY...
 * Exit status: 0 written; 1 refused (nothing written); 2 usage or I/O. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/net_check.h"
#include "base/utf8.h"
#include "contract/tables.h"
#include "google/api/http.pb-c.h"
#include "google/protobuf/descriptor.pb-c.h"
#include "rest/route.pb-c.h"

#define HTTP_RULE_FIELD 72295728u /* google/api/annotations.proto */
#define REST_ROUTE_FIELD 51000u   /* proto/rest/route.proto */
#define REGISTRY_COLUMNS 7

typedef Google__Protobuf__FileDescriptorProto file_proto;
typedef Google__Protobuf__DescriptorProto message_proto;
typedef Google__Protobuf__FieldDescriptorProto field_proto;
typedef Google__Protobuf__ServiceDescriptorProto service_proto;
typedef Google__Protobuf__MethodDescriptorProto method_proto;

typedef struct registry_line {
	char *col[REGISTRY_COLUMNS]; /* name contract url_variable default_url db_url_variable
	                                database callers */
	char *path, where[32];       /* its file and "line N", for reports */
	const file_proto *file;      /* where its contract is declared */
	const service_proto *service;
} registry_line;

typedef struct gen_route {
	char *method, *path, *body, *response_body, *location, *summary;
	size_t service;
	const char *rpc_method;
	int status;
	int errors[CONTRACT_ERROR_STATUSES_MAX + 1];
	const char *file;
	char *where; /* for duplicate reports */
} gen_route;

static Google__Protobuf__FileDescriptorSet *set;
static registry_line registry[CONTRACT_SERVICES_MAX];
static size_t n_registry;
static gen_route routes[CONTRACT_ROUTES_MAX];
static size_t n_routes;
static int faults;

static void
refuse(const char *file, const char *where, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: %s: ", file, where);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	faults++;
}

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);
	if (d == NULL) {
		perror("contract-gen");
		exit(2);
	}
	return d;
}

/* ---- the descriptor set ---- */

/* ".users.GetUserRequest" → its message, searched in every file. Top-level
 * messages only: *nested is set when the name is a message nested in one
 * (".t.Outer.Inner"), which is not served. */
static const message_proto *
find_message(const char *type_name, bool *nested)
{
	*nested = false;
	for (size_t f = 0; f < set->n_file; f++) {
		const file_proto *fp = set->file[f];
		const char *pkg      = fp->package != NULL ? fp->package : "";
		size_t pl            = strlen(pkg);
		const char *n        = type_name[0] == '.' ? type_name + 1 : type_name;
		if (pl > 0 && (strncmp(n, pkg, pl) != 0 || n[pl] != '.'))
			continue;
		const char *short_name = pl > 0 ? n + pl + 1 : n;
		for (size_t m = 0; m < fp->n_message_type; m++) {
			const char *mn = fp->message_type[m]->name;
			size_t ml      = strlen(mn);
			if (strcmp(mn, short_name) == 0)
				return fp->message_type[m];
			if (strncmp(mn, short_name, ml) == 0 && short_name[ml] == '.')
				*nested = true;
		}
	}
	return NULL;
}

static const field_proto *
find_field(const message_proto *m, const char *name, size_t len)
{
	for (size_t i = 0; m != NULL && i < m->n_field; i++) {
		if (strlen(m->field[i]->name) == len && strncmp(m->field[i]->name, name, len) == 0)
			return m->field[i];
	}
	return NULL;
}

static bool
scalar(const field_proto *f)
{
	return f->label != GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED &&
	       f->type != GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_MESSAGE &&
	       f->type != GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_GROUP;
}

/* The integer types: the gateway writes a path's digits into them and
 * refuses leading zeros (gateway/http_server.c, integer_field). */
static bool
integer(const field_proto *f)
{
	switch (f->type) {
	case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_INT32:
	case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_INT64:
	case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_UINT32:
	case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_UINT64:
	case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SINT32:
	case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SINT64:
	case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FIXED32:
	case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FIXED64:
	case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SFIXED32:
	case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SFIXED64: return true;
	default: return false;
	}
}

/* The .proto spelling of a field's type, for reports. */
static const char *
type_name(const field_proto *f)
{
	static const char *const names[] = {"?", "double", "float", "int64", "uint64", "int32", "fixed64", "fixed32",
	    "bool", "string", "group", "message", "bytes", "uint32", "enum", "sfixed32", "sfixed64", "sint32",
	    "sint64"};
	return f->type > 0 && (size_t) f->type < sizeof(names) / sizeof(names[0]) ? names[f->type] : "?";
}

/* ---- the registry ---- */

/* True when every byte of s is in set and the first is in first. */
static bool
spelled(const char *s, const char *first, const char *set)
{
	return s[0] != '\0' && strchr(first, s[0]) != NULL && strspn(s, set) == strlen(s);
}

#define LOWER "abcdefghijklmnopqrstuvwxyz"
#define UPPER "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define DIGITS "0123456789"

/* Each column as its users need it: the name is a binary, a compose
 * service and a metric label; the variables are environment variable
 * names; the default URL is dialed by the gateway and listened on by the
 * service (net_check.h, as both check it at start); the database is an
 * SQL identifier. */
static bool
registry_values_ok(const char *path, const char *where, char *const col[REGISTRY_COLUMNS])
{
	int before = faults;
	char why[256];
	if (!spelled(col[0], LOWER, LOWER DIGITS "-"))
		refuse(path, where,
		    "name '%s' is not lower-case letters, digits and '-' (a binary, a compose "
		    "service)",
		    col[0]);
	if (strchr(col[1], '.') == NULL)
		refuse(path, where, "contract '%s' is not package.Service", col[1]);
	if (!spelled(col[2], UPPER, UPPER DIGITS "_"))
		refuse(path, where, "url_variable '%s' is not an environment variable name (A-Z, 0-9, _)", col[2]);
	if (strcmp(col[3], "-") != 0 && net_check_nng_url(col[3], NET_URL_DIAL, why, sizeof(why)) != 0)
		refuse(path, where, "default_url '%s' %s", col[3], why);
	if (strcmp(col[4], "-") != 0 && !spelled(col[4], UPPER, UPPER DIGITS "_"))
		refuse(path, where, "db_url_variable '%s' is not an environment variable name (A-Z, 0-9, _)", col[4]);
	if (strcmp(col[5], "-") != 0 && !spelled(col[5], LOWER "_", LOWER DIGITS "_"))
		refuse(path, where, "database '%s' is not a lower-case SQL identifier", col[5]);
	/* The skeleton builds its database URL from both, and compose's init
	 * script creates the database for the variable: one without the other
	 * is half a database. */
	if ((strcmp(col[4], "-") == 0) != (strcmp(col[5], "-") == 0))
		refuse(path, where,
		    "db_url_variable '%s' and database '%s': both are set or both are '-' (a service with a "
		    "database names both)",
		    col[4], col[5]);
	if (strcmp(col[0], "gateway") == 0)
		refuse(path, where, "name 'gateway' is the gateway's own (its binary, logs and compose service)");
	/* Every role has a CA and a certificate named after it (scripts/lib/dev_pki.sh):
	 * a service called operator would be rpc-call's identity. */
	if (strcmp(col[0], "operator") == 0)
		refuse(path, where, "name 'operator' is rpc-call's TLS role (its CA and certificate)");
	for (int c = 0; c <= 5; c += 5)
		if (strlen(col[c]) > CONTRACT_IDENTIFIER_MAX)
			refuse(path, where, "%s '%s' is %zu bytes, more than %d (PostgreSQL cuts longer names)",
			    c == 0 ? "name" : "database", col[c], strlen(col[c]), CONTRACT_IDENTIFIER_MAX);
	/* The service's PostgreSQL role is its name with '_' for '-'. */
	char role[128];
	snprintf(role, sizeof(role), "%s", col[0]);
	for (char *p = role; *p != '\0'; p++)
		if (*p == '-')
			*p = '_';
	static const char *const system_roles[] = {
	    "postgres", "public", "none", "current_user", "session_user", "current_role"};
	bool system_role = strncmp(role, "pg_", 3) == 0;
	for (size_t i = 0; i < sizeof(system_roles) / sizeof(system_roles[0]); i++)
		system_role = system_role || strcmp(role, system_roles[i]) == 0;
	if (system_role)
		refuse(path, where, "name '%s' gives the PostgreSQL role '%s', which PostgreSQL reserves or owns",
		    col[0], role);
	if (strcmp(col[4], "-") != 0 && (strlen(col[4]) < 5 || strcmp(col[4] + strlen(col[4]) - 4, "_URL") != 0))
		refuse(path, where,
		    "db_url_variable '%s' does not end in _URL (compose reads its password from <name>_PASSWORD, "
		    "USER_DB_URL -> USER_DB_PASSWORD)",
		    col[4]);
	static const char *const system_databases[] = {"postgres", "template0", "template1"};
	for (size_t i = 0; i < sizeof(system_databases) / sizeof(system_databases[0]); i++) {
		if (strcmp(col[5], system_databases[i]) == 0)
			refuse(path, where, "database '%s' is one PostgreSQL creates for itself", col[5]);
	}
	static const char *const owned[]    = {CONTRACT_OWNED_SETTINGS};
	static const char *const reserved[] = {CONTRACT_RESERVED_VARIABLES};
	static const char *const prefixes[] = {CONTRACT_RESERVED_PREFIXES};
	for (int c = 2; c <= 4; c += 2) {
		bool taken =
		    strncmp(col[c], CONTRACT_OWNED_SETTINGS_PREFIX, strlen(CONTRACT_OWNED_SETTINGS_PREFIX)) == 0;
		for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
			taken = taken || strcmp(col[c], owned[i]) == 0;
		if (taken)
			refuse(path, where,
			    "%s '%s' is a setting the gateway, the service skeleton or a service owns "
			    "(CONTRACT_OWNED_SETTINGS)",
			    c == 2 ? "url_variable" : "db_url_variable", col[c]);
		bool other = false;
		for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
			other = other || strcmp(col[c], reserved[i]) == 0;
		for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
			other = other || strncmp(col[c], prefixes[i], strlen(prefixes[i])) == 0;
		if (other)
			refuse(path, where,
			    "%s '%s' is a name the environment, libpq, scripts/servers or the database images read "
			    "(CONTRACT_RESERVED_VARIABLES, CONTRACT_RESERVED_PREFIXES)",
			    c == 2 ? "url_variable" : "db_url_variable", col[c]);
	}
	if (strcmp(col[2], col[4]) == 0)
		refuse(path, where, "url_variable and db_url_variable are both '%s'", col[2]);
	size_t url_len = strlen(col[2]), suffix = strlen(CONTRACT_FILE_SUFFIX);
	if (url_len > suffix && strcmp(col[2] + url_len - suffix, CONTRACT_FILE_SUFFIX) == 0)
		refuse(path, where,
		    "url_variable '%s' ends in %s, which names a secret setting's file variant (NAME%s, "
		    "lib/base/env.h)",
		    col[2], CONTRACT_FILE_SUFFIX, CONTRACT_FILE_SUFFIX);
	return faults == before;
}

static const char *const column_names[REGISTRY_COLUMNS] = {
    "service name", "contract", "url_variable", "default_url", "db_url_variable", "database", "callers"};

/* Values no two services may share: names, contracts, default URLs (both
 * would listen there), databases, and every variable name across the
 * url_variable and db_url_variable columns (one setting, one meaning). */
static bool
registry_unique(const char *path, const char *where, char *const col[REGISTRY_COLUMNS])
{
	int before = faults;
	for (size_t i = 0; i < n_registry; i++) {
		const registry_line *r = &registry[i];
		for (int c = 0; c < REGISTRY_COLUMNS; c++) {
			if (c == 2 || c == 4 || c == 6 || strcmp(col[c], "-") == 0)
				continue; /* variables below; services may share callers */
			if (strcmp(r->col[c], col[c]) == 0)
				refuse(path, where, "%s '%s' is declared twice (also %s: %s: %s)", column_names[c],
				    col[c], r->path, r->where, r->col[0]);
		}
		for (int c = 2; c <= 4; c += 2) {
			for (int d = 2; d <= 4; d += 2) {
				if (strcmp(col[c], "-") != 0 && strcmp(r->col[d], col[c]) == 0)
					refuse(path, where, "%s '%s' is declared twice (also %s of %s: %s: %s)",
					    column_names[c], col[c], column_names[d], r->path, r->where, r->col[0]);
			}
		}
	}
	return faults == before;
}

/* One line a service; '#' starts a comment; columns are separated by
 * spaces and tabs. A line may be as long as it likes (getline); a carriage
 * return is refused, as scripts/lib/registry.sh refuses it, so both readers
 * see the same lines. */
static void
read_registry(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "contract-gen: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	for (int no = 1; (got = getline(&line, &cap, f)) != -1; no++) {
		char where[32];
		snprintf(where, sizeof(where), "line %d", no);
		if (strlen(line) != (size_t) got) { /* the shell's read drops a NUL: both readers must see one line */
			refuse(path, where, "has a NUL byte: a registry is text");
			continue;
		}
		if (strchr(line, '\r') != NULL) {
			refuse(path, where, "has a carriage return (CRLF line ends?): save the file with LF line ends");
			continue;
		}
		char *hash = strchr(line, '#');
		if (hash != NULL)
			*hash = '\0';
		char *col[REGISTRY_COLUMNS];
		int n      = 0;
		char *save = NULL;
		for (char *t = strtok_r(line, " \t\n", &save); t != NULL; t = strtok_r(NULL, " \t\n", &save)) {
			if (n < REGISTRY_COLUMNS)
				col[n] = t;
			n++;
		}
		if (n == 0)
			continue;
		if (n != REGISTRY_COLUMNS) {
			refuse(path, where,
			    "%d columns, expected %d (name contract url_variable default_url "
			    "db_url_variable database callers)",
			    n, REGISTRY_COLUMNS);
			continue;
		}
		if (n_registry == CONTRACT_SERVICES_MAX) {
			refuse(path, where, "more than %d services (CONTRACT_SERVICES_MAX)", CONTRACT_SERVICES_MAX);
			break;
		}
		if (!registry_values_ok(path, where, col) || !registry_unique(path, where, col))
			continue;
		registry_line *r = &registry[n_registry++];
		for (int c = 0; c < REGISTRY_COLUMNS; c++)
			r->col[c] = xstrdup(col[c]);
		r->path = xstrdup(path);
		snprintf(r->where, sizeof(r->where), "%s", where);
	}
	if (ferror(f)) {
		fprintf(stderr, "contract-gen: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	free(line);
	fclose(f);
}

/* Binds each registry line to its contract service in the descriptor set. */
static void
resolve_registry(void)
{
	for (size_t i = 0; i < n_registry; i++) {
		registry_line *r = &registry[i];
		for (size_t f = 0; f < set->n_file && r->service == NULL; f++) {
			const file_proto *fp = set->file[f];
			const char *pkg      = fp->package != NULL ? fp->package : "";
			for (size_t s = 0; s < fp->n_service; s++) {
				char full[256];
				snprintf(full, sizeof(full), "%s%s%s", pkg, pkg[0] ? "." : "", fp->service[s]->name);
				if (strcmp(full, r->col[1]) == 0) {
					r->file    = fp;
					r->service = fp->service[s];
				}
			}
		}
		if (r->service == NULL)
			refuse(r->path, r->where, "%s: its contract %s is not a service of any .proto given", r->col[0],
			    r->col[1]);
	}
}

/* The callers column: comma-separated roles, each gateway, operator or a
 * service of the registry (any file read, so tests/services.conf may name
 * proto/services.conf's services), once, and not the service itself (a
 * service does not dial itself). A service every role is refused is one
 * no one can reach: "-" is refused too. Checked once every line is read,
 * as a line may name a service declared after it. */
static void
check_callers(void)
{
	for (size_t i = 0; i < n_registry; i++) {
		const registry_line *r = &registry[i];
		const char *list       = r->col[6];
		if (strcmp(list, "-") == 0) {
			refuse(r->path, r->where,
			    "callers '-': no role could call %s (name them: gateway, operator or registry services, "
			    "comma-separated)",
			    r->col[0]);
			continue;
		}
		for (const char *p = list;;) {
			size_t len = strcspn(p, ",");
			if (len == 0) {
				refuse(r->path, r->where, "callers '%s' has an empty element", list);
			} else if (len == strlen(r->col[0]) && strncmp(p, r->col[0], len) == 0) {
				refuse(r->path, r->where, "callers '%s': '%s' is the service itself", list, r->col[0]);
			} else {
				bool known = (len == 7 && strncmp(p, "gateway", 7) == 0) ||
				             (len == 8 && strncmp(p, "operator", 8) == 0);
				for (size_t k = 0; k < n_registry && !known; k++)
					known = strlen(registry[k].col[0]) == len &&
					        strncmp(p, registry[k].col[0], len) == 0;
				if (!known)
					refuse(r->path, r->where,
					    "callers '%s': '%.*s' is not a role (gateway, operator or a registry "
					    "service)",
					    list, (int) len, p);
				bool twice = false;
				for (const char *q = list; q < p && !twice; q += strcspn(q, ",") + 1)
					twice = strcspn(q, ",") == len && strncmp(q, p, len) == 0;
				if (twice)
					refuse(r->path, r->where, "callers '%s': '%.*s' is listed twice", list,
					    (int) len, p);
			}
			if (p[len] == '\0')
				break;
			p += len + 1;
		}
	}
}

/* ---- templates ---- */

/* Checks a path template against the grammar the gateway matches, each
 * {field} a scalar field of msg. what: "path" or "location". */
static void
check_template(const char *file, const char *where, const char *what, const char *t, const message_proto *msg,
    const char *msg_role)
{
	if (t[0] != '/') {
		refuse(file, where, "%s '%s' does not start with '/'", what, t);
		return;
	}
	if (strlen(t) > CONTRACT_PATH_MAX) {
		refuse(file, where, "%s is %zu bytes, more than %d (CONTRACT_PATH_MAX)", what, strlen(t),
		    CONTRACT_PATH_MAX);
		return;
	}
	if (strcmp(t, "/") == 0) {
		refuse(file, where, "%s '/' has no segment", what);
		return;
	}
	if (strchr(t, ':') != NULL) {
		refuse(file, where, "%s '%s' has a ':verb' suffix, which the gateway does not serve", what, t);
		return;
	}
	const char *bound[CONTRACT_PATH_VARIABLES_MAX];
	size_t bound_len[CONTRACT_PATH_VARIABLES_MAX], n_bound = 0;
	for (const char *p = t; *p == '/';) {
		const char *seg = ++p;
		size_t len      = strcspn(seg, "/");
		if (seg[0] == '{' && strchr(seg, '}') != NULL) /* a variable's sub-template may hold '/' */
			len = (size_t) (strchr(seg, '}') - seg) + 1 + strcspn(strchr(seg, '}') + 1, "/");
		p = seg + len;
		if (len == 0) {
			refuse(file, where, "%s '%s' has an empty segment", what, t);
			return;
		}
		if (seg[0] == '*') {
			refuse(file, where,
			    "%s '%s' has a '%.*s' wildcard segment, which the gateway does not "
			    "serve (name the field: {field})",
			    what, t, (int) len, seg);
			return;
		}
		if (seg[0] != '{') {
			if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.')) {
				/* RFC 3986 3.3: the gateway refuses dot-segments in every path
				 * (routes_decode_path), so the route could never be reached. */
				refuse(file, where,
				    "%s '%s': segment '%.*s' is a dot-segment (RFC 3986 3.3), which the gateway "
				    "refuses in every path",
				    what, t, (int) len, seg);
				return;
			}
			for (size_t i = 0; i < len; i++) {
				unsigned char c = (unsigned char) seg[i];
				/* RFC 3986 2.3's unreserved characters: a literal is matched
				 * against the decoded path byte for byte. */
				if (!isalnum(c) && strchr("-._~", c) == NULL) {
					refuse(file, where,
					    "%s '%s': segment '%.*s' has '%c', outside the "
					    "unreserved characters (RFC 3986 2.3) a literal may "
					    "hold",
					    what, t, (int) len, seg, c);
					return;
				}
			}
			continue;
		}
		if (seg[len - 1] != '}' || memchr(seg + 1, '{', len - 1) != NULL || memchr(seg, '}', len - 1) != NULL) {
			refuse(file, where, "%s '%s': segment '%.*s' is neither a literal nor one {field}", what, t,
			    (int) len, seg);
			return;
		}
		const char *name = seg + 1;
		size_t nlen      = len - 2;
		if (memchr(name, '=', nlen) != NULL) {
			refuse(file, where,
			    "%s '%s': variable '%.*s' has a sub-template ({field=...}), which "
			    "the gateway does not serve",
			    what, t, (int) len, seg);
			return;
		}
		if (memchr(name, '.', nlen) != NULL) {
			refuse(file, where,
			    "%s '%s': variable '%.*s' is a nested field path, which the gateway "
			    "does not serve",
			    what, t, (int) len, seg);
			return;
		}
		if (nlen == 0) {
			refuse(file, where, "%s '%s' has an empty variable '{}'", what, t);
			return;
		}
		const field_proto *f = find_field(msg, name, nlen);
		if (f == NULL) {
			refuse(file, where, "%s '%s': {%.*s} is not a field of the %s %s", what, t, (int) nlen, name,
			    msg_role, msg != NULL ? msg->name : "?");
			continue;
		}
		if (!scalar(f)) {
			refuse(file, where, "%s '%s': {%.*s} is a %s field of %s; a path variable binds a scalar", what,
			    t, (int) nlen, name,
			    f->label == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED ? "repeated"
			                                                                                : "message",
			    msg->name);
			continue;
		}
		/* The gateway binds a path value as a JSON string: the decoder takes
		 * it for a string or an integer field (proto3 JSON), not for a bool,
		 * bytes, float or enum; and a path value is always present, so
		 * "optional" or a oneof would claim a choice the path cannot make. */
		if (f->has_proto3_optional && f->proto3_optional) {
			refuse(file, where, "%s '%s': {%.*s} is an optional field of %s; a path variable is always set",
			    what, t, (int) nlen, name, msg->name);
			continue;
		}
		if (f->has_oneof_index) {
			refuse(file, where,
			    "%s '%s': {%.*s} is a oneof member of %s; a path variable binds a plain field", what, t,
			    (int) nlen, name, msg->name);
			continue;
		}
		if (strcmp(what, "location") == 0 && !integer(f)) {
			/* A string would be pasted unencoded into the Location header. */
			refuse(file, where,
			    "%s '%s': {%.*s} is a %s field of %s; not served yet: a location variable must be an "
			    "integer field",
			    what, t, (int) nlen, name, type_name(f), msg->name);
			continue;
		}
		if (!integer(f) && f->type != GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_STRING) {
			refuse(file, where,
			    "%s '%s': {%.*s} is a %s field of %s; a path variable binds a string or an integer field",
			    what, t, (int) nlen, name, type_name(f), msg->name);
			continue;
		}
		for (size_t b = 0; b < n_bound; b++) {
			if (bound_len[b] == nlen && strncmp(bound[b], name, nlen) == 0) {
				refuse(file, where, "%s '%s' binds {%.*s} twice", what, t, (int) nlen, name);
				return;
			}
		}
		if (n_bound == CONTRACT_PATH_VARIABLES_MAX) {
			refuse(file, where, "%s '%s' has more than %d variables (CONTRACT_PATH_VARIABLES_MAX)", what, t,
			    CONTRACT_PATH_VARIABLES_MAX);
			return;
		}
		bound[n_bound]       = name;
		bound_len[n_bound++] = nlen;
	}
}

/* ---- one method ---- */

static const ProtobufCMessageUnknownField *
option(const Google__Protobuf__MethodOptions *o, uint32_t tag, const char *file, const char *where, const char *name)
{
	const ProtobufCMessageUnknownField *found = NULL;
	for (unsigned i = 0; o != NULL && i < o->base.n_unknown_fields; i++) {
		const ProtobufCMessageUnknownField *u = &o->base.unknown_fields[i];
		if (u->tag != tag)
			continue;
		if (found != NULL) {
			refuse(file, where, "option (%s) is given twice", name);
			return NULL;
		}
		if (u->wire_type != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED) {
			refuse(file, where, "option (%s) is not a message on the wire", name);
			return NULL;
		}
		found = u;
	}
	return found;
}

/* An unknown length-delimited field's bytes, which protobuf-c keeps with
 * their varint length prefix (so they can be packed again): the message. */
static const uint8_t *
payload(const ProtobufCMessageUnknownField *u, size_t *len)
{
	uint64_t n = 0;
	size_t i   = 0;
	for (int shift = 0; i < u->len && i < 10; i++, shift += 7) {
		n |= (uint64_t) (u->data[i] & 0x7f) << shift;
		if ((u->data[i] & 0x80) == 0)
			break;
	}
	if (i >= u->len || n != u->len - i - 1)
		return NULL;
	*len = (size_t) n;
	return u->data + i + 1;
}

/* True when the template matches the literal path (a variable takes any
 * one segment). */
static bool
template_matches(const char *t, const char *p)
{
	while (*t != '\0' && *p != '\0') {
		if (*t == '{') {
			t += strcspn(t, "}");
			t += *t == '}';
			p += strcspn(p, "/");
		} else if (*t++ != *p++) {
			return false;
		}
	}
	return *t == '\0' && *p == '\0';
}

/* True when one path can match both templates: the same number of
 * segments, each pair equal literals or at least one a variable
 * ("/a/{id}" and "/a/latest", "/a/{id}" and "/a/{name}"). The gateway
 * takes the first route that matches, so the later one would never be
 * reached for that path. example gets such a path. */
static bool
overlap(const char *a, const char *b, char *example, size_t len)
{
	size_t used = 0;
	example[0]  = '\0';
	while (*a == '/' && *b == '/') {
		a++, b++;
		size_t al = strcspn(a, "/"), bl = strcspn(b, "/");
		bool av = a[0] == '{', bv = b[0] == '{';
		if (!av && !bv && (al != bl || strncmp(a, b, al) != 0))
			return false;
		const char *seg = av ? b : a; /* a literal if either is one */
		size_t sl       = av ? bl : al;
		used += (size_t) snprintf(example + used, used < len ? len - used : 0, "/%.*s", (int) sl, seg);
		if (used >= len)
			used = len - 1;
		a += al, b += bl;
	}
	return *a == '\0' && *b == '\0';
}

static void
add_route(const char *file, const char *where, size_t service, const method_proto *m, const Google__Api__HttpRule *rule,
    const Rest__Route *extra)
{
	if (rule->selector != NULL && rule->selector[0] != '\0')
		refuse(file, where,
		    "google.api.http has a selector ('%s'), which belongs in a service config, "
		    "not on a method",
		    rule->selector);
	if (rule->n_additional_bindings > 0)
		refuse(file, where,
		    "google.api.http has additional_bindings, which the gateway does not serve "
		    "(one route per method)");
	if (rule->pattern_case == GOOGLE__API__HTTP_RULE__PATTERN_CUSTOM) {
		refuse(file, where,
		    "google.api.http has a custom pattern (kind '%s'), which the gateway does "
		    "not serve",
		    rule->custom != NULL && rule->custom->kind != NULL ? rule->custom->kind : "");
		return;
	}
	const char *verb = NULL, *path = NULL;
	switch (rule->pattern_case) {
	case GOOGLE__API__HTTP_RULE__PATTERN_GET: verb = "GET", path = rule->get; break;
	case GOOGLE__API__HTTP_RULE__PATTERN_PUT: verb = "PUT", path = rule->put; break;
	case GOOGLE__API__HTTP_RULE__PATTERN_POST: verb = "POST", path = rule->post; break;
	case GOOGLE__API__HTTP_RULE__PATTERN_DELETE: verb = "DELETE", path = rule->delete_; break;
	case GOOGLE__API__HTTP_RULE__PATTERN_PATCH: verb = "PATCH", path = rule->patch; break;
	default: break;
	}
	if (verb == NULL || path == NULL || path[0] == '\0') {
		refuse(file, where, "google.api.http has no get, put, post, delete or patch path");
		return;
	}
	bool in_nested, out_nested;
	const message_proto *in  = find_message(m->input_type, &in_nested),
	                    *out = find_message(m->output_type, &out_nested);
	if (in == NULL || out == NULL) {
		const char *type = in == NULL ? m->input_type : m->output_type;
		if (in == NULL ? in_nested : out_nested)
			refuse(file, where,
			    "its %s type %s is a nested message type; nested message types are not supported "
			    "(declare it at the top level)",
			    in == NULL ? "request" : "reply", type);
		else
			refuse(file, where, "its %s type %s is not in the descriptor set",
			    in == NULL ? "request" : "reply", type);
		return;
	}
	check_template(file, where, "path", path, in, "request");
	static const char *const gateway_paths[] = {CONTRACT_GATEWAY_PATHS};
	for (size_t i = 0; i < sizeof(gateway_paths) / sizeof(gateway_paths[0]); i++) {
		if (template_matches(path, gateway_paths[i]))
			refuse(
			    file, where, "path '%s' takes %s, which the gateway serves itself", path, gateway_paths[i]);
	}

	const char *body = rule->body != NULL && rule->body[0] != '\0' ? rule->body : NULL;
	if (body != NULL && (strcmp(verb, "GET") == 0 || strcmp(verb, "DELETE") == 0))
		refuse(file, where,
		    "%s with body '%s': a %s request's content has no defined semantics (RFC "
		    "9110 9.3)",
		    verb, body, verb);
	else if (body != NULL && strcmp(body, "*") != 0) {
		if (find_field(in, body, strlen(body)) == NULL)
			refuse(file, where, "body '%s' is not a field of the request %s", body, in->name);
		else
			refuse(
			    file, where, "body '%s': a field body is not served by the gateway; use body: \"*\"", body);
	}
	const char *response_body =
	    rule->response_body != NULL && rule->response_body[0] != '\0' ? rule->response_body : NULL;
	if (response_body != NULL && find_field(out, response_body, strlen(response_body)) == NULL)
		refuse(file, where, "response_body '%s' is not a field of the reply %s", response_body, out->name);

	int status = extra != NULL && extra->status != 0 ? extra->status : 200;
	const char *location =
	    extra != NULL && extra->location != NULL && extra->location[0] != '\0' ? extra->location : NULL;
	if (status != 200 && status != 201)
		refuse(file, where, "rest.route status %d: the gateway answers a success with 200 or 201", status);
	else if (status == 201 && location == NULL)
		refuse(file, where,
		    "rest.route status 201 without a location (RFC 9110 15.3.2: 201 names the "
		    "created resource)");
	else if (status != 201 && location != NULL)
		refuse(file, where, "rest.route location '%s' without status 201", location);
	if (location != NULL)
		check_template(file, where, "location", location, out, "reply");

	gen_route r     = {.method = xstrdup(verb),
	        .path              = xstrdup(path),
	        .service           = service,
	        .rpc_method        = m->name,
	        .body              = body != NULL ? xstrdup(body) : NULL,
	        .response_body     = response_body ? xstrdup(response_body) : NULL,
	        .location          = location != NULL ? xstrdup(location) : NULL,
	        .status            = status,
	        .file              = file,
	        .where             = xstrdup(where)};
	size_t n_errors = extra != NULL ? extra->n_error_statuses : 0;
	if (n_errors > CONTRACT_ERROR_STATUSES_MAX)
		refuse(file, where, "rest.route has %zu error_statuses, more than %d", n_errors,
		    CONTRACT_ERROR_STATUSES_MAX);
	for (size_t i = 0; i < n_errors && i < CONTRACT_ERROR_STATUSES_MAX; i++) {
		int e = extra->error_statuses[i];
		if (e < 400 || e > 599)
			refuse(file, where, "rest.route error status %d is not a 4xx or 5xx status", e);
		for (size_t j = 0; j < i; j++) {
			if (r.errors[j] == e)
				refuse(file, where, "rest.route error status %d is listed twice", e);
		}
		r.errors[i] = e;
	}
	const char *summary =
	    extra != NULL && extra->summary != NULL && extra->summary[0] != '\0' ? extra->summary : where;
	/* One line of at most CONTRACT_SUMMARY_MAX bytes of UTF-8 a reader sees:
	 * it is an OpenAPI summary and a response description. protoc-c does
	 * not check an option's strings, so the bytes are checked here. */
	size_t summary_len = strlen(summary);
	if (summary_len > CONTRACT_SUMMARY_MAX)
		refuse(file, where, "rest.route summary is %zu bytes, more than %d (CONTRACT_SUMMARY_MAX)", summary_len,
		    CONTRACT_SUMMARY_MAX);
	else if (!utf8_valid(summary))
		refuse(file, where, "rest.route summary is not valid UTF-8");
	else if (utf8_has_control(summary, summary_len) || strstr(summary, "\xe2\x80\xa8") != NULL ||
	         strstr(summary, "\xe2\x80\xa9") != NULL)
		refuse(file, where, "rest.route summary has a control character or line break; a summary is one line");
	else if (utf8_has_invisible(summary, summary_len))
		refuse(
		    file, where, "rest.route summary has an invisible character (a bidi control, a zero-width one...)");
	else if (!utf8_has_visible(summary, summary_len))
		refuse(file, where, "rest.route summary has nothing visible");
	r.summary = xstrdup(summary);

	/* HEAD is served by the GET routes, so comparing methods covers it. */
	char example[256];
	for (size_t i = 0; i < n_routes; i++) {
		if (strcmp(routes[i].method, r.method) == 0 &&
		    overlap(routes[i].path, r.path, example, sizeof(example)))
			refuse(file, where,
			    "%s %s overlaps %s's route (%s %s, %s): both match %s, and the gateway takes the first, so "
			    "one is never reached",
			    r.method, r.path, routes[i].where, routes[i].method, routes[i].path, routes[i].file,
			    example);
	}
	if (n_routes == CONTRACT_ROUTES_MAX) {
		refuse(file, where, "more than %d routes (CONTRACT_ROUTES_MAX)", CONTRACT_ROUTES_MAX);
		return;
	}
	routes[n_routes++] = r;
}

static void
read_methods(const file_proto *fp, const service_proto *sp, const char *full)
{
	size_t service = CONTRACT_SERVICES_MAX;
	for (size_t i = 0; i < n_registry; i++) {
		if (registry[i].service == sp)
			service = i;
	}
	for (size_t i = 0; i < sp->n_method; i++) {
		const method_proto *m = sp->method[i];
		char where[512];
		snprintf(where, sizeof(where), "%s.%s", full, m->name);
		const ProtobufCMessageUnknownField *hu =
		    option(m->options, HTTP_RULE_FIELD, fp->name, where, "google.api.http");
		const ProtobufCMessageUnknownField *ru =
		    option(m->options, REST_ROUTE_FIELD, fp->name, where, "rest.route");
		/* A registered service's methods are served over nng req/rep, one
		 * request and one reply (rpc/client.h), and so is every route. */
		bool streaming = (m->has_client_streaming && m->client_streaming) ||
		                 (m->has_server_streaming && m->server_streaming);
		if (streaming && (service != CONTRACT_SERVICES_MAX || hu != NULL || ru != NULL)) {
			refuse(fp->name, where,
			    "%s-streaming method: the RPC runtime (nng req/rep) carries one request and one reply",
			    m->has_client_streaming && m->client_streaming ? "client" : "server");
			continue;
		}
		if (hu == NULL && ru == NULL)
			continue; /* an internal method (Health): no route */
		if (hu == NULL) {
			refuse(fp->name, where, "option (rest.route) without (google.api.http): it would be ignored");
			continue;
		}
		if (service == CONTRACT_SERVICES_MAX) {
			refuse(fp->name, where, "service %s has HTTP routes but no line in the registry", full);
			continue;
		}
		size_t hl = 0, rl = 0;
		const uint8_t *hd = payload(hu, &hl), *rd = ru != NULL ? payload(ru, &rl) : NULL;
		Google__Api__HttpRule *rule = hd != NULL ? google__api__http_rule__unpack(NULL, hl, hd) : NULL;
		Rest__Route *extra          = rd != NULL ? rest__route__unpack(NULL, rl, rd) : NULL;
		if (rule == NULL || (ru != NULL && extra == NULL))
			refuse(fp->name, where, "option (%s) does not decode",
			    rule == NULL ? "google.api.http" : "rest.route");
		else
			add_route(fp->name, where, service, m, rule, extra);
		if (rule != NULL)
			google__api__http_rule__free_unpacked(rule, NULL);
		if (extra != NULL)
			rest__route__free_unpacked(extra, NULL);
	}
}

/* ---- output ---- */

/* protobuf-c's C names (protoc-c's c_helpers.cc): "UserService" →
 * "user_service", each package part likewise, joined by "__". */
static void
c_lower(FILE *out, const char *full)
{
	bool was_upper = true;
	for (const char *p = full; *p != '\0'; p++) {
		if (*p == '.') {
			fputs("__", out);
			was_upper = true;
			continue;
		}
		bool upper = isupper((unsigned char) *p) != 0;
		if (upper && !was_upper)
			fputc('_', out);
		fputc(tolower((unsigned char) *p), out);
		was_upper = upper;
	}
}

static void
c_string(FILE *out, const char *s)
{
	if (s == NULL) {
		fputs("NULL", out);
		return;
	}
	fputc('"', out);
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if ((unsigned char) *p < 0x20 || *p == '?')
			fprintf(out, "\\%03o", (unsigned char) *p); /* no control bytes, no trigraphs */
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

static int
write_tables(const char *path)
{
	FILE *out = fopen(path, "w");
	if (out == NULL) {
		fprintf(stderr, "contract-gen: %s: %s\n", path, strerror(errno));
		return 2;
	}
	fputs("/* Generated by tools/contract_gen.c from the contracts and the registry. Do not "
	      "edit. */\n#include \"contract/tables.h\"\n\n",
	    out);
	for (size_t i = 0; i < n_registry; i++) {
		const char *name = registry[i].file->name;
		size_t stem      = strlen(name) - (strlen(name) > 6 ? 6 : 0); /* ".proto" */
		fprintf(out, "#include \"%.*s.pb-c.h\"\n", (int) stem, name);
	}
	fputs("\nconst contract_service contract_services[] = {\n", out);
	for (size_t i = 0; i < n_registry; i++) {
		const registry_line *r = &registry[i];
		fputs("    {", out);
		c_string(out, r->col[0]);
		fputs(", ", out);
		c_string(out, r->col[1]);
		fputs(", &", out);
		c_lower(out, r->col[1]);
		fputs("__descriptor, ", out);
		c_string(out, r->col[2]);
		fputs(", ", out);
		c_string(out, strcmp(r->col[3], "-") == 0 ? "" : r->col[3]); /* none: the setting is required */
		for (int c = 4; c <= 5; c++) { /* db_url_variable, database: "-" is NULL */
			fputs(", ", out);
			if (strcmp(r->col[c], "-") == 0)
				fputs("NULL", out);
			else
				c_string(out, r->col[c]);
		}
		fputs(", ", out);
		c_string(out, r->col[6]);
		fputs("},\n", out);
	}
	fprintf(out, "};\nconst size_t contract_services_count = %zu;\n\n", n_registry);
	fputs("const contract_route contract_routes[] = {\n", out);
	for (size_t i = 0; i < n_routes; i++) {
		const gen_route *r = &routes[i];
		fputs("    {.method = ", out);
		c_string(out, r->method);
		fputs(", .path = ", out);
		c_string(out, r->path);
		fprintf(out, ", .service = %zu, .rpc_method = ", r->service);
		c_string(out, r->rpc_method);
		fputs(",\n        .body = ", out);
		c_string(out, r->body);
		fputs(", .response_body = ", out);
		c_string(out, r->response_body);
		fprintf(out, ", .success_status = %d, .location = ", r->status);
		c_string(out, r->location);
		fputs(", .error_statuses = {", out);
		for (size_t e = 0; r->errors[e] != 0; e++)
			fprintf(out, "%s%d", e ? ", " : "", r->errors[e]);
		if (r->errors[0] == 0)
			fputs("0", out); /* C11 has no empty initializer */
		fputs("},\n        .summary = ", out);
		c_string(out, r->summary);
		fputs("},\n", out);
	}
	if (n_routes == 0)
		fputs("    {0}, /* C has no empty array: a placeholder past the count */\n", out);
	fprintf(out, "};\nconst size_t contract_routes_count = %zu;\n", n_routes);
	if (fclose(out) != 0) {
		fprintf(stderr, "contract-gen: %s: %s\n", path, strerror(errno));
		return 2;
	}
	return 0;
}

static uint8_t *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	uint8_t *data = malloc(cap);
	for (size_t got; data != NULL && (got = fread(data + n, 1, cap - n, f)) > 0;) {
		n += got;
		if (n == cap) {
			uint8_t *grown = realloc(data, cap *= 2);
			if (grown == NULL)
				free(data);
			data = grown;
		}
	}
	fclose(f);
	*len = n;
	return data;
}

int
main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "Usage: contract-gen OUT.c DESCRIPTOR_SET REGISTRY...\n");
		return 2;
	}
	size_t len;
	uint8_t *data = read_file(argv[2], &len);
	if (data == NULL) {
		fprintf(stderr, "contract-gen: %s: %s\n", argv[2], strerror(errno));
		return 2;
	}
	set = google__protobuf__file_descriptor_set__unpack(NULL, len, data);
	free(data);
	if (set == NULL) {
		fprintf(stderr, "contract-gen: %s: not a FileDescriptorSet (protoc --descriptor_set_out)\n", argv[2]);
		return 2;
	}
	for (int i = 3; i < argc; i++)
		read_registry(argv[i]);
	resolve_registry();
	check_callers();
	/* Routes in registry order, then method order: the table's order is the
	 * order of /openapi.json and /metrics. Then the services no line names. */
	for (size_t i = 0; i < n_registry; i++) {
		if (registry[i].service != NULL)
			read_methods(registry[i].file, registry[i].service, registry[i].col[1]);
	}
	for (size_t f = 0; f < set->n_file; f++) {
		const file_proto *fp = set->file[f];
		for (size_t s = 0; s < fp->n_service; s++) {
			bool known = false;
			for (size_t i = 0; i < n_registry; i++)
				known = known || registry[i].service == fp->service[s];
			if (known)
				continue;
			char full[256];
			snprintf(full, sizeof(full), "%s%s%s", fp->package ? fp->package : "",
			    fp->package && fp->package[0] ? "." : "", fp->service[s]->name);
			read_methods(fp, fp->service[s], full);
		}
	}
	if (faults > 0) {
		fprintf(stderr, "contract-gen: %d fault%s: nothing written\n", faults, faults == 1 ? "" : "s");
		remove(argv[1]);
		return 1;
	}
	return write_tables(argv[1]);
}
