/* tools/contract_gen.c, run as the build runs it: protoc-c's descriptor set
 * of a small .proto and a registry file in, the tables or the reasons out.
 * Every kind of template, option and registry line it must refuse is one
 * case here, with the words it must say; and a good contract's tables. */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "contract/tables.h"

/* Messages every case's service may use. */
static const char *const header =
    "syntax = \"proto3\";\n"
    "package t;\n"
    "import \"google/api/annotations.proto\";\n"
    "import \"rest/route.proto\";\n"
    "message Inner { int64 id = 1; }\n"
    "enum Color { RED = 0; }\n"
    "message Req { int64 id = 1; string name = 2; repeated int64 tags = 3; Inner inner = 4; int64 "
    "a = 5;\n"
    "  int64 b = 6; int64 c = 7; int64 d = 8; int64 e = 9;\n"
    "  bool flag = 10; bytes raw = 11; double ratio = 12; float part = 13; Color color = 14;\n"
    "  optional int64 opt = 15; oneof pick { int64 one = 16; string two = 17; }\n"
    "  uint32 u32 = 18; sfixed64 sf64 = 19; sint32 s32 = 20; fixed64 f64 = 21; }\n"
    "message Reply { int64 id = 1; repeated Inner items = 2; Inner inner = 3; string name = 4;\n"
    "  bool flag = 5; optional int64 opt = 6; }\n"
    "message Outer { message Nested { int64 id = 1; } }\n";

static const char *const registry_line = "thing-svc t.S TS_URL tcp://127.0.0.1:1 - - gateway\n";
/* Two services, t.S and t.Pay. */
static const char *const two_services = "thing-svc t.S TS_URL tcp://127.0.0.1:1 - - gateway\n"
                                        "pay-svc t.Pay PAY_URL tcp://127.0.0.1:2 - - gateway\n";
#define TWO_GETS(a, b)                                                                                                 \
	"service S { rpc A(Req) returns (Reply) { " GET(a) " }\n  rpc B(Req) returns (Reply) { " GET(b) " } }\n"
#define CREATE_AT(location)                                                                                            \
	METHOD("option (google.api.http) = { post: \"/things\" body: \"*\" };"                                         \
	       " option (rest.route) = { status: 201 location: \"" location "\" };")
#define SUMMARY(text) METHOD(GET("/things") " option (rest.route) = { summary: \"" text "\" };")
#define E10 "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9" /* 10 x 'é', 20 bytes */
#define E100 E10 E10 E10 E10 E10 E10 E10 E10 E10 E10

/* One method M of service t.S with these options. */
#define METHOD(options) "service S { rpc M(Req) returns (Reply) { " options " } }\n"
#define GET(path) "option (google.api.http) = { get: \"" path "\" };"

typedef struct gen_case {
	const char *service;  /* the .proto's services */
	const char *registry; /* NULL: registry_line */
	const char *expected; /* in contract-gen's stderr */
} gen_case;

static const gen_case refused[] = {
    {METHOD(GET("/things/{id=shelves/*}")), NULL,
        "t.proto: t.S.M: path '/things/{id=shelves/*}': variable '{id=shelves/*}' has a sub-template"},
    {METHOD(GET("/things/**")), NULL, "t.proto: t.S.M: path '/things/**' has a '**' wildcard segment"},
    {METHOD(GET("/things/*")), NULL, "t.proto: t.S.M: path '/things/*' has a '*' wildcard segment"},
    {METHOD(GET("/things/{id}:cancel")), NULL, "t.proto: t.S.M: path '/things/{id}:cancel' has a ':verb' suffix"},
    {METHOD(GET("/things/{nope}")), NULL,
        "t.proto: t.S.M: path '/things/{nope}': {nope} is not a field of the "
        "request Req"},
    {METHOD(GET("/things/{inner.id}")), NULL, "variable '{inner.id}' is a nested field path"},
    {METHOD(GET("/things/{tags}")), NULL, "{tags} is a repeated field of Req; a path variable binds a scalar"},
    {METHOD(GET("/things/{inner}")), NULL, "{inner} is a message field of Req; a path variable binds a scalar"},
    {METHOD(GET("/things/{id}/x/{id}")), NULL, "path '/things/{id}/x/{id}' binds {id} twice"},
    {METHOD(GET("/{a}/{b}/{c}/{d}/{e}")), NULL, "has more than 4 variables"},
    {METHOD(GET("things")), NULL, "path 'things' does not start with '/'"},
    {METHOD(GET("/")), NULL, "path '/' has no segment"},
    {METHOD(GET("/things//x")), NULL, "path '/things//x' has an empty segment"},
    {METHOD(GET("/th%20ings")), NULL, "segment 'th%20ings' has '%', outside the unreserved characters"},
    {METHOD(GET("/things/x{id}")), NULL, "segment 'x{id}' has '{', outside the unreserved characters"},
    {METHOD(GET("/things/{id}x")), NULL, "segment '{id}x' is neither a literal nor one {field}"},
    {METHOD("option (google.api.http) = { post: \"/things\" body: \"nope\" };"), NULL,
        "t.proto: t.S.M: body 'nope' is not a field of the request Req"},
    {METHOD("option (google.api.http) = { post: \"/things\" body: \"inner\" };"), NULL,
        "body 'inner': a field body is not served by the gateway; use body: \"*\""},
    {METHOD("option (google.api.http) = { get: \"/things\" body: \"*\" };"), NULL, "GET with body '*'"},
    {METHOD("option (google.api.http) = { delete: \"/things/{id}\" body: \"*\" };"), NULL, "DELETE with body '*'"},
    {METHOD("option (google.api.http) = { get: \"/things\" response_body: \"nope\" };"), NULL,
        "response_body 'nope' is not a field of the reply Reply"},
    {METHOD("option (google.api.http) = { post: \"/things\" body: \"*\" }; option (rest.route) = { "
            "status: 201 };"),
        NULL, "rest.route status 201 without a location"},
    {METHOD(GET("/things") " option (rest.route) = { location: \"/things/{id}\" };"), NULL,
        "rest.route location '/things/{id}' without status 201"},
    {METHOD("option (google.api.http) = { post: \"/things\" body: \"*\" };"
            " option (rest.route) = { status: 201 location: \"/things/{nope}\" };"),
        NULL, "location '/things/{nope}': {nope} is not a field of the reply Reply"},
    {METHOD(GET("/things") " option (rest.route) = { status: 204 };"), NULL,
        "rest.route status 204: the gateway answers a success with 200 or 201"},
    {METHOD(GET("/things") " option (rest.route) = { error_statuses: [200] };"), NULL,
        "rest.route error status 200 is not a 4xx or 5xx status"},
    {METHOD(GET("/things") " option (rest.route) = { error_statuses: [404, 404] };"), NULL,
        "rest.route error status 404 is listed twice"},
    {METHOD(GET("/things") " option (rest.route) = { error_statuses: [400, 401, 403, 404, 409, "
                           "410, 412, 422] };"),
        NULL, "rest.route has 8 error_statuses, more than 7"},
    /* H1: two routes of one method that can match one path: the first wins. */
    {TWO_GETS("/things/{id}", "/things/{id}"), NULL,
        "t.proto: t.S.B: GET /things/{id} overlaps t.S.A's route (GET /things/{id}, t.proto): both match "
        "/things/{id}, and the gateway takes the first, so one is never reached"},
    {TWO_GETS("/things/{id}", "/things/{name}"), NULL,
        "t.proto: t.S.B: GET /things/{name} overlaps t.S.A's route (GET /things/{id}, t.proto): both match "
        "/things/{name}"},
    {TWO_GETS("/a/{id}", "/a/latest"), NULL,
        "t.proto: t.S.B: GET /a/latest overlaps t.S.A's route (GET /a/{id}, t.proto): both match /a/latest"},
    {TWO_GETS("/a/latest", "/a/{id}"), NULL,
        "t.proto: t.S.B: GET /a/{id} overlaps t.S.A's route (GET /a/latest, t.proto): both match /a/latest"},
    {TWO_GETS("/a/{id}/b", "/a/x/{name}"), NULL,
        "GET /a/x/{name} overlaps t.S.A's route (GET /a/{id}/b, t.proto): both match /a/x/b"},
    {METHOD(GET("/users/{id}")) "service Pay { rpc M(Req) returns (Reply) { " GET("/users/me") " } }\n", two_services,
        "t.proto: t.Pay.M: GET /users/me overlaps t.S.M's route (GET /users/{id}, t.proto): both match "
        "/users/me"},
    /* H2: a path value is bound as a JSON string: strings and integers only. */
    {METHOD(GET("/pays/flag/{flag}")), NULL,
        "t.proto: t.S.M: path '/pays/flag/{flag}': {flag} is a bool field of Req; a path variable binds a "
        "string or an integer field"},
    {METHOD(GET("/things/{raw}")), NULL, "{raw} is a bytes field of Req; a path variable binds a string or"},
    {METHOD(GET("/things/{ratio}")), NULL, "{ratio} is a double field of Req; a path variable binds a string"},
    {METHOD(GET("/things/{part}")), NULL, "{part} is a float field of Req; a path variable binds a string"},
    {METHOD(GET("/things/{color}")), NULL, "{color} is a enum field of Req; a path variable binds a string"},
    {METHOD(GET("/things/{opt}")), NULL,
        "path '/things/{opt}': {opt} is an optional field of Req; a path variable is always set"},
    {METHOD(GET("/things/{one}")), NULL,
        "path '/things/{one}': {one} is a oneof member of Req; a path variable binds a plain field"},
    {METHOD(GET("/things/{two}")), NULL, "{two} is a oneof member of Req"},
    /* M1: a location variable is pasted into Location: integers only. */
    {CREATE_AT("/pays/{name}"), NULL,
        "t.proto: t.S.M: location '/pays/{name}': {name} is a string field of Reply; not served yet: a "
        "location variable must be an integer field"},
    {CREATE_AT("/pays/{flag}"), NULL, "{flag} is a bool field of Reply; not served yet: a location variable"},
    {CREATE_AT("/pays/{opt}"), NULL, "location '/pays/{opt}': {opt} is an optional field of Reply"},
    /* M2: nng req/rep carries one request and one reply. */
    {"service S { rpc M(stream Req) returns (Reply) { " GET("/things") " } }\n", NULL,
        "t.proto: t.S.M: client-streaming method: the RPC runtime (nng req/rep) carries one request and one "
        "reply"},
    {"service S { rpc M(Req) returns (stream Reply) { " GET("/things") " } }\n", NULL,
        "t.proto: t.S.M: server-streaming method"},
    {"service S { rpc M(Req) returns (Reply) { " GET("/things") " }\n  rpc N(stream Req) returns (stream Reply); }\n",
        NULL, "t.proto: t.S.N: client-streaming method"},
    /* L1: a summary is one line of bounded length. */
    {SUMMARY(E100 E100 E100), NULL,
        "t.proto: t.S.M: rest.route summary is 600 bytes, more than 200 (CONTRACT_SUMMARY_MAX)"},
    {SUMMARY("two\\nlines"), NULL,
        "t.proto: t.S.M: rest.route summary has a control character or line break; a summary is one line"},
    {SUMMARY("tab\\there"), NULL, "rest.route summary has a control character or line break"},
    /* ...of UTF-8 a reader sees (protoc-c does not check an option's bytes). */
    {SUMMARY("a\\377b"), NULL, "t.proto: t.S.M: rest.route summary is not valid UTF-8"},
    {SUMMARY("next\\302\\205line"), NULL, "rest.route summary has a control character or line break"},
    {SUMMARY("line\\342\\200\\250sep"), NULL, "rest.route summary has a control character or line break"},
    {SUMMARY("bidi\\342\\200\\256x"), NULL, "rest.route summary has an invisible character"},
    {SUMMARY(" "), NULL, "rest.route summary has nothing visible"},
    /* A template fits a metrics label ("PATCH " and the path). */
    {METHOD(GET("/" E100)), NULL, "t.proto: t.S.M: path is 201 bytes, more than 100 (CONTRACT_PATH_MAX)"},
    /* L2: the gateway refuses dot-segments in every path. */
    {METHOD(GET("/a/..")), NULL,
        "t.proto: t.S.M: path '/a/..': segment '..' is a dot-segment (RFC 3986 3.3), which the gateway "
        "refuses in every path"},
    {METHOD(GET("/b/./c")), NULL, "path '/b/./c': segment '.' is a dot-segment"},
    {CREATE_AT("/things/../{id}"), NULL, "location '/things/../{id}': segment '..' is a dot-segment"},
    /* L3: nested request or reply types. */
    {"service S { rpc M(Outer.Nested) returns (Reply) { " GET("/things") " } }\n", NULL,
        "t.proto: t.S.M: its request type .t.Outer.Nested is a nested message type; nested message types are "
        "not supported (declare it at the top level)"},
    {"service S { rpc M(Req) returns (Outer.Nested) { " GET("/things") " } }\n", NULL,
        "t.proto: t.S.M: its reply type .t.Outer.Nested is a nested message type"},
    {METHOD("option (google.api.http) = { custom: { kind: \"HEAD\" path: \"/things\" } };"), NULL,
        "google.api.http has a custom pattern (kind 'HEAD')"},
    {METHOD("option (google.api.http) = { get: \"/things\" additional_bindings: { get: \"/stuff\" "
            "} };"),
        NULL, "google.api.http has additional_bindings"},
    {METHOD("option (google.api.http) = { selector: \"t.S.M\" get: \"/things\" };"), NULL,
        "google.api.http has a selector ('t.S.M')"},
    {METHOD("option (google.api.http) = { body: \"*\" };"), NULL,
        "google.api.http has no get, put, post, delete or patch path"},
    {METHOD("option (rest.route) = { summary: \"x\" };"), NULL,
        "t.proto: t.S.M: option (rest.route) without (google.api.http)"},
    {METHOD(GET("/things")) "service Other { rpc N(Req) returns (Reply) { " GET("/others") " } }\n", NULL,
        "t.proto: t.Other.N: service t.Other has HTTP routes but no line in the registry"},
    {METHOD(GET("/things")),
        "thing-svc t.S TS_URL tcp://127.0.0.1:1 - - gateway\nmissing-svc t.Missing MS_URL - - - gateway\n",
        "services.conf: line 3: missing-svc: its contract t.Missing is not a service of any .proto given"},
    {METHOD(GET("/things")), "thing-svc t.S TS_URL tcp://127.0.0.1:1 - -\n",
        "services.conf: line 2: 6 columns, expected 7 (name contract url_variable default_url db_url_variable "
        "database callers)"},
    {METHOD(GET("/metrics")), NULL, "t.proto: t.S.M: path '/metrics' takes /metrics, which the gateway serves itself"},
    {METHOD(GET("/{id}")), NULL, "path '/{id}' takes /healthz, which the gateway serves itself"},
    {METHOD(GET("/things")), "Thing_svc t.S TS_URL - - - gateway\n",
        "services.conf: line 2: name 'Thing_svc' is not lower-case letters, digits and '-'"},
    {METHOD(GET("/things")), "thing-svc S TS_URL - - - gateway\n",
        "services.conf: line 2: contract 'S' is not package.Service"},
    {METHOD(GET("/things")), "thing-svc t.S ts-url - - - gateway\n",
        "services.conf: line 2: url_variable 'ts-url' is not an environment variable name"},
    {METHOD(GET("/things")), "thing-svc t.S TS_URL http://x:1 - - gateway\n",
        "services.conf: line 2: default_url 'http://x:1' has scheme 'http'"},
    {METHOD(GET("/things")), "thing-svc t.S TS_URL - db-url - gateway\n",
        "services.conf: line 2: db_url_variable 'db-url' is not an environment variable name"},
    {METHOD(GET("/things")), "thing-svc t.S TS_URL - - Thing-DB gateway\n",
        "services.conf: line 2: database 'Thing-DB' is not a lower-case SQL identifier"},
    {METHOD(GET("/things")), "thing-svc t.S TS_URL - - - gateway\nthing-svc t.S OTHER_URL - - - gateway\n",
        "services.conf: line 3: service name 'thing-svc' is declared twice"},
    {METHOD(GET("/things")), "thing-svc t.S TS_URL - - - gateway\nother-svc t.S2 TS_URL - - - gateway\n",
        "services.conf: line 3: url_variable 'TS_URL' is declared twice"},
    /* M3: values two services cannot share, and names others own. */
    {METHOD(GET("/things")),
        "thing-svc t.S TS_URL tcp://127.0.0.1:1 - - gateway\nother-svc t.S2 O_URL tcp://127.0.0.1:1 - - gateway\n",
        "services.conf: line 3: default_url 'tcp://127.0.0.1:1' is declared twice (also "},
    {METHOD(GET("/things")),
        "thing-svc t.S TS_URL - T_DB_URL t_db gateway\nother-svc t.S2 O_URL - O_DB_URL t_db gateway\n",
        "services.conf: line 3: database 't_db' is declared twice (also "},
    {METHOD(GET("/things")),
        "thing-svc t.S TS_URL - T_DB_URL t_db gateway\nother-svc t.S2 O_URL - T_DB_URL o_db gateway\n",
        "services.conf: line 3: db_url_variable 'T_DB_URL' is declared twice (also db_url_variable of "},
    {METHOD(GET("/things")), "thing-svc t.S TS_URL - T_DB_URL t_db gateway\nother-svc t.S2 T_DB_URL - - - gateway\n",
        "services.conf: line 3: url_variable 'T_DB_URL' is declared twice (also db_url_variable of "},
    {METHOD(GET("/things")), "thing-svc t.S TS_URL - - - gateway\nother-svc t.S2 O_URL - TS_URL o_db gateway\n",
        "services.conf: line 3: db_url_variable 'TS_URL' is declared twice (also url_variable of "},
    {METHOD(GET("/things")), "thing-svc t.S TS_URL - TS_URL t_db gateway\n",
        "services.conf: line 2: url_variable and db_url_variable are both 'TS_URL'"},
    {METHOD(GET("/things")), "thing-svc t.S REDIS_URL - - - gateway\n",
        "services.conf: line 2: url_variable 'REDIS_URL' is a setting the gateway, the service skeleton or a service "
        "owns"},
    {METHOD(GET("/things")), "thing-svc t.S TS_URL - WORKERS t_db gateway\n",
        "services.conf: line 2: db_url_variable 'WORKERS' is a setting the gateway, the service skeleton or a service "
        "owns"},
    {METHOD(GET("/things")), "thing-svc t.S GATEWAY_THING - - - gateway\n",
        "url_variable 'GATEWAY_THING' is a setting the gateway, the service skeleton or a service owns"},
    {METHOD(GET("/things")), "thing-svc t.S LOG_LEVEL - - - gateway\n", "url_variable 'LOG_LEVEL' is a setting"},
    {METHOD(GET("/things")), "thing-svc t.S RPC_TLS_KEY - - - gateway\n", "url_variable 'RPC_TLS_KEY' is a setting"},
    {METHOD(GET("/things")), "thing-svc t.S AMQP_URL_FILE - - - gateway\n",
        "url_variable 'AMQP_URL_FILE' is a setting"},
    /* A file variant's name: another line's USER_DB_URL_FILE, or any. */
    {METHOD(GET("/things")), "thing-svc t.S USER_DB_URL_FILE - - - gateway\n",
        "services.conf: line 2: url_variable 'USER_DB_URL_FILE' ends in _FILE, which names a secret setting's file "
        "variant (NAME_FILE, lib/base/env.h)"},
    {METHOD(GET("/things")), "gateway t.S TS_URL - - - gateway\n",
        "services.conf: line 2: name 'gateway' is the gateway's own"},
    {METHOD(GET("/things")), "thing-svc t.S TS_URL - T_DB_URL postgres gateway\n",
        "services.conf: line 2: database 'postgres' is one PostgreSQL creates for itself"},
    {METHOD(GET("/things")), "thing-svc t.S TS_URL - T_DB_URL template0 gateway\n", "database 'template0' is one"},
    {METHOD(GET("/things")), "thing-svc t.S TS_URL - T_DB_URL template1 gateway\n", "database 'template1' is one"},
    {METHOD(GET("/things")), "thing-svc t.S TS_URL - T_DB_URL - gateway\n",
        "services.conf: line 2: db_url_variable 'T_DB_URL' and database '-': both are set or both are '-'"},
    {METHOD(GET("/things")), "thing-svc t.S TS_URL - - t_db gateway\n",
        "services.conf: line 2: db_url_variable '-' and database 't_db': both are set or both are '-'"},
    /* Names other programs read, roles PostgreSQL owns, lengths it cuts. */
    {METHOD(GET("/things")), "thing-svc t.S PATH - - - gateway\n",
        "services.conf: line 2: url_variable 'PATH' is a name the environment, libpq, scripts/servers or the "
        "database images read"},
    {METHOD(GET("/things")), "thing-svc t.S TS_URL - PG_ADMIN_URL t_db gateway\n",
        "db_url_variable 'PG_ADMIN_URL' is a name the environment"},
    {METHOD(GET("/things")), "thing-svc t.S PGHOST - - - gateway\n", "url_variable 'PGHOST' is a name the environment"},
    {METHOD(GET("/things")), "thing-svc t.S TS_URL - POSTGRES_URL t_db gateway\n",
        "db_url_variable 'POSTGRES_URL' is a name the environment"},
    {METHOD(GET("/things")), "thing-svc t.S RUN_DIR - - - gateway\n",
        "url_variable 'RUN_DIR' is a name the environment"},
    {METHOD(GET("/things")), "thing-svc t.S RPC_TLS_DIR - - - gateway\n",
        "url_variable 'RPC_TLS_DIR' is a name the environment"},
    {METHOD(GET("/things")), "thing-svc t.S RPC_TLS - - - gateway\n",
        "url_variable 'RPC_TLS' is a name the environment"},
    {METHOD(GET("/things")), "thing-svc t.S TS_URL - PAY t_db gateway\n",
        "services.conf: line 2: db_url_variable 'PAY' does not end in _URL"},
    {METHOD(GET("/things")), "postgres t.S TS_URL - T_DB_URL t_db gateway\n",
        "services.conf: line 2: name 'postgres' gives the PostgreSQL role 'postgres', which PostgreSQL reserves"},
    {METHOD(GET("/things")), "pg-monitor t.S TS_URL - T_DB_URL t_db gateway\n",
        "gives the PostgreSQL role 'pg_monitor'"},
    {METHOD(GET("/things")), "public t.S TS_URL - T_DB_URL t_db gateway\n", "gives the PostgreSQL role 'public'"},
    {METHOD(GET("/things")),
        "thing-svc t.S TS_URL - T_DB_URL a234567890123456789012345678901234567890123456789012345678901234 gateway\n",
        "services.conf: line 2: database 'a234567890123456789012345678901234567890123456789012345678901234' is 64 "
        "bytes, more than 63"},
    /* M4: one way to read a line for both readers (scripts/lib/registry.sh). */
    {METHOD(GET("/things")), "thing-svc t.S TS_URL - T_DB_URL t_db gateway\r\n",
        "services.conf: line 2: has a carriage return (CRLF line ends?)"},
    {METHOD(GET("/things")), "# a comment\r\nthing-svc t.S TS_URL - - - gateway\n",
        "services.conf: line 2: has a carriage return"},
    /* The callers column (mutual TLS: which roles' CAs the service trusts). */
    {METHOD(GET("/things")), "thing-svc t.S TS_URL - - - gateway,billing-svc\n",
        "services.conf: line 2: callers 'gateway,billing-svc': 'billing-svc' is not a role (gateway, operator or a "
        "registry service)"},
    {METHOD(GET("/things")), "thing-svc t.S TS_URL - - - Gateway\n",
        "services.conf: line 2: callers 'Gateway': 'Gateway' is not a role (gateway, operator or a registry service)"},
    {METHOD(GET("/things")), "thing-svc t.S TS_URL - - - gateway,,operator\n",
        "services.conf: line 2: callers 'gateway,,operator' has an empty element"},
    {METHOD(GET("/things")), "thing-svc t.S TS_URL - - - ,gateway\n",
        "services.conf: line 2: callers ',gateway' has an empty element"},
    {METHOD(GET("/things")), "thing-svc t.S TS_URL - - - gateway,\n",
        "services.conf: line 2: callers 'gateway,' has an empty element"},
    {METHOD(GET("/things")), "thing-svc t.S TS_URL - - - operator,gateway,operator\n",
        "services.conf: line 2: callers 'operator,gateway,operator': 'operator' is listed twice"},
    {METHOD(GET("/things")), "thing-svc t.S TS_URL - - - gateway\nother-svc t.S2 O_URL - - - other-svc,gateway\n",
        "services.conf: line 3: callers 'other-svc,gateway': 'other-svc' is the service itself"},
    {METHOD(GET("/things")), "thing-svc t.S TS_URL - - - -\n",
        "services.conf: line 2: callers '-': no role could call thing-svc (name them: gateway, operator or registry "
        "services, comma-separated)"},
    {METHOD(GET("/things")), "operator t.S TS_URL - - - gateway\n",
        "services.conf: line 2: name 'operator' is rpc-call's TLS role (its CA and certificate)"},
    {METHOD(GET("/things")), "thing-svc t.S TS_URL - - - gateway extra\n",
        "services.conf: line 2: 8 columns, expected 7"},
};

/* Runs protoc-c and contract-gen in a fresh directory; returns contract-gen's
 * exit status, its stderr in err and the generated file's text in out. */
static int
run_case(const char *service, const char *registry, char *err, size_t errlen, char *out, size_t outlen)
{
	char dir[] = "/tmp/contract-gen-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char path[512], cmd[2048];
	snprintf(path, sizeof(path), "%s/t.proto", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, "%s%s", header, service);
	fclose(f);
	snprintf(path, sizeof(path), "%s/services.conf", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, "# name contract url_variable default_url db_url_variable database callers\n%s",
	    registry != NULL ? registry : registry_line);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
	    "cd %s && '%s' -I. -I'%s' -I'%s' --include_imports --descriptor_set_out=set.desc "
	    "t.proto 2>protoc.err",
	    dir, PROTOC_C, PROTO_ROOT, DESCRIPTOR_PROTO_ROOT);
	int status = system(cmd);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "protoc-c refused the case:\n%s", service);
	snprintf(cmd, sizeof(cmd), "cd %s && '%s' out.c set.desc services.conf 2>err.txt", dir, CONTRACT_GEN);
	status = system(cmd);
	cr_assert(WIFEXITED(status), "contract-gen did not exit");
	const char *names[] = {"err.txt", "out.c"};
	char *texts[]       = {err, out};
	size_t lens[]       = {errlen, outlen};
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		texts[i][0] = '\0';
		f           = fopen(path, "r");
		if (f != NULL) {
			size_t n    = fread(texts[i], 1, lens[i] - 1, f);
			texts[i][n] = '\0';
			fclose(f);
		}
		unlink(path);
	}
	const char *rest[] = {"t.proto", "services.conf", "set.desc", "protoc.err"};
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, rest[i]);
		unlink(path);
	}
	rmdir(dir);
	return WEXITSTATUS(status);
}

Test(contract_gen, each_contract_it_cannot_serve_is_a_build_error_naming_method_and_reason, .timeout = 120)
{
	static char err[8192], out[16384];
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		int rc = run_case(refused[i].service, refused[i].registry, err, sizeof(err), out, sizeof(out));
		cr_expect_eq(rc, 1, "case %zu exited %d, not 1:\n%s", i, rc, refused[i].service);
		cr_expect_not_null(
		    strstr(err, refused[i].expected), "case %zu: expected\n  %s\nin\n%s", i, refused[i].expected, err);
		cr_expect_not_null(strstr(err, "nothing written"), "case %zu: %s", i, err);
		cr_expect_str_eq(out, "", "case %zu wrote tables", i);
	}
}

Test(contract_gen, a_good_contract_gives_its_routes_and_registry, .timeout = 60)
{
	static char err[8192], out[16384];
	/* A package with a dot and a CamelCase service: protobuf-c's C name. */
	static const char service[] = "service ThingService {\n"
	                              "  rpc Create(Req) returns (Reply) { option "
	                              "(google.api.http) = { post: \"/things\" body: \"*\" };\n"
	                              "    option (rest.route) = { summary: \"Make one\" status: "
	                              "201 location: \"/things/{id}\" "
	                              "error_statuses: [409] }; }\n"
	                              "  rpc Get(Req) returns (Reply) { option (google.api.http) = "
	                              "{ get: \"/things/{id}\" }; }\n"
	                              "  rpc List(Req) returns (Reply) { option (google.api.http) "
	                              "= { get: \"/shelves/{id}/things\" "
	                              "response_body: \"items\" }; }\n"
	                              "  rpc Health(Req) returns (Reply);\n"
	                              "}\n"
	                              "service ThingService2 { rpc Health(Req) returns (Reply); }\n";
	/* A caller declared after the line that names it. */
	int rc = run_case(service,
	    "thing-svc t.ThingService THING_SVC_URL tcp://127.0.0.1:5009 - - gateway,pay-svc,operator\n"
	    "pay-svc t.ThingService2 PAY_URL - - - operator\n",
	    err, sizeof(err), out, sizeof(out));
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_str_eq(err, "");
	const char *expected[] = {
	    "#include \"t.pb-c.h\"",
	    "{\"thing-svc\", \"t.ThingService\", &t__thing_service__descriptor, \"THING_SVC_URL\", "
	    "\"tcp://127.0.0.1:5009\", NULL, NULL, \"gateway,pay-svc,operator\"},",
	    "{\"pay-svc\", \"t.ThingService2\", &t__thing_service2__descriptor, \"PAY_URL\", \"\", NULL, NULL, "
	    "\"operator\"},",
	    "const size_t contract_services_count = 2;",
	    "{.method = \"POST\", .path = \"/things\", .service = 0, .rpc_method = \"Create\",\n"
	    "        .body = \"*\", .response_body = NULL, .success_status = 201, .location = "
	    "\"/things/{id}\", "
	    ".error_statuses = {409},\n        .summary = \"Make one\"},",
	    "{.method = \"GET\", .path = \"/things/{id}\", .service = 0, .rpc_method = \"Get\",\n"
	    "        .body = NULL, .response_body = NULL, .success_status = 200, .location = NULL, "
	    ".error_statuses = {0},\n        .summary = \"t.ThingService.Get\"},",
	    ".path = \"/shelves/{id}/things\", .service = 0, .rpc_method = \"List\",\n"
	    "        .body = NULL, .response_body = \"items\"",
	    "const size_t contract_routes_count = 3;",
	};
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
		cr_expect_not_null(strstr(out, expected[i]), "expected\n%s\nin\n%s", expected[i], out);
	cr_expect_null(strstr(out, "Health"), "an unannotated method has no route:\n%s", out);
}

/* What the refusals leave served: string and integer path variables of
 * every width, literals beside variables where no path matches both, the
 * same template under two methods, a summary of exactly the bound, and a
 * registry comment longer than any line buffer (a reader that cut it would
 * see its tail as a service). */
Test(contract_gen, what_the_refusals_leave_is_served, .timeout = 60)
{
	static char err[8192], out[32768];
	static const char service[] =
	    "service S {\n"
	    "  rpc A(Req) returns (Reply) { option (google.api.http) = { get: "
	    "\"/things/{name}/{u32}/{sf64}/{s32}\" }; }\n"
	    "  rpc B(Req) returns (Reply) { option (google.api.http) = { get: \"/things/{f64}\" }; }\n"
	    "  rpc C(Req) returns (Reply) { option (google.api.http) = { get: \"/things/{id}/x\" }; }\n"
	    "  rpc D(Req) returns (Reply) { option (google.api.http) = { get: \"/other/latest/y\" }; }\n"
	    "  rpc E(Req) returns (Reply) { option (google.api.http) = { delete: \"/things/{id}\" };\n"
	    "    option (rest.route) = { summary: \"" E100 "\" }; }\n"
	    "  rpc F(Req) returns (Reply) { option (google.api.http) = { post: \"/things\" body: \"*\" };\n"
	    "    option (rest.route) = { status: 201 location: \"/things/{id}\" }; }\n"
	    "}\n";
	static char registry[4096];
	char comment[3000];
	memset(comment, 'x', sizeof(comment) - 1);
	comment[sizeof(comment) - 1] = '\0';
	memcpy(comment + 2000, " ghost-svc t.Ghost GHOST_URL - - -", 34);
	snprintf(registry, sizeof(registry), "# %s\nthing-svc t.S TS_URL tcp://127.0.0.1:1 T_DB_URL t_db gateway\n",
	    comment);
	int rc = run_case(service, registry, err, sizeof(err), out, sizeof(out));
	cr_assert_eq(rc, 0, "%s", err);
	cr_expect_str_eq(err, "");
	cr_expect_not_null(strstr(out, "const size_t contract_services_count = 1;"), "%s", out);
	cr_expect_null(strstr(out, "ghost"), "%s", out);
	cr_expect_not_null(strstr(out, "const size_t contract_routes_count = 6;"), "%s", out);
	cr_expect_not_null(strstr(out, ".path = \"/things/{name}/{u32}/{sf64}/{s32}\""), "%s", out);
}

/* CONTRACT_OWNED_SETTINGS must list every setting the programs read besides
 * the registry's: each program's --help lists its variables, one per line
 * ("  NAME  help"); a new setting missing from the list would let a
 * registry line take it unrefused. */
Test(contract_gen, every_setting_a_program_reads_is_owned_or_from_the_registry, .timeout = 60)
{
	static const char *const owned[] = {CONTRACT_OWNED_SETTINGS};
	char programs[]                  = PROGRAMS;
	int checked                      = 0;
	for (char *save = NULL, *p = strtok_r(programs, " ", &save); p != NULL; p = strtok_r(NULL, " ", &save)) {
		char cmd[1024], line[1024];
		snprintf(cmd, sizeof(cmd), "'%s' --help", p);
		FILE *f = popen(cmd, "r");
		cr_assert_not_null(f);
		while (fgets(line, sizeof(line), f) != NULL) {
			char name[128];
			if (strncmp(line, "  ", 2) != 0 || line[2] == ' ' || sscanf(line, " %127[A-Z0-9_]", name) != 1)
				continue;
			bool known =
			    strncmp(name, CONTRACT_OWNED_SETTINGS_PREFIX, strlen(CONTRACT_OWNED_SETTINGS_PREFIX)) == 0;
			for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
				known = known || strcmp(name, owned[i]) == 0;
			for (size_t s = 0; s < contract_services_count; s++) {
				const contract_service *c = &contract_services[s];
				char file_variant[128]    = "";
				if (c->db_url_variable != NULL)
					snprintf(file_variant, sizeof(file_variant), "%s%s", c->db_url_variable,
					    CONTRACT_FILE_SUFFIX);
				known = known || strcmp(name, c->url_variable) == 0 ||
				        (c->db_url_variable != NULL && strcmp(name, c->db_url_variable) == 0) ||
				        strcmp(name, file_variant) == 0;
			}
			cr_expect(known,
			    "%s reads %s, which is neither in CONTRACT_OWNED_SETTINGS nor a registry variable", p,
			    name);
			checked++;
		}
		cr_expect_eq(pclose(f), 0, "%s --help failed", p);
	}
	cr_expect_gt(checked, 20, "only %d settings seen in the programs' --help", checked);
}
