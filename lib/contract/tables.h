/* The tables the build generates from the contracts (tools/contract_gen.c):
 * the service registry (proto/services.conf, plus tests/services.conf in a
 * test build) and the REST routes declared on the contracts' methods with
 * google.api.http (AIP-127) and rest.route (proto/rest/route.proto).
 *
 * Everything here is constant data, fixed at build time: read it from any
 * thread. The generator refuses at build time whatever the gateway cannot
 * serve (see tools/contract_gen.c), so a reader may rely on every entry:
 * each route's service index is in range, its method exists in that
 * service, its path variables and body are fields of the request, its
 * response_body and location variables fields of the reply. */
#ifndef CONTRACT_TABLES_H
#define CONTRACT_TABLES_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/* Bounds the generator enforces, so users may size arrays with them. */
#define CONTRACT_SERVICES_MAX 16
#define CONTRACT_ROUTES_MAX 48
#define CONTRACT_ERROR_STATUSES_MAX 7
#define CONTRACT_PATH_VARIABLES_MAX 4 /* {field}s in one template */
#define CONTRACT_SUMMARY_MAX 200      /* bytes of a route's summary, one line */
#define CONTRACT_PATH_MAX 100         /* bytes of a path template: "PATCH " and it fit a metrics label */
#define CONTRACT_IDENTIFIER_MAX 63    /* bytes of a service name and a database: PostgreSQL's NAMEDATALEN - 1 */

/* The paths the gateway serves itself (gateway/routes.c): a contract route
 * that would take one is refused. */
#define CONTRACT_GATEWAY_PATHS "/healthz", "/readyz", "/openapi.json", "/metrics"

/* Every setting a program reads that the registry does not declare: the
 * gateway's (gateway/config.c; its own are GATEWAY_*), the service
 * skeleton's (svc/service_config.c) and the services' own (user-svc,
 * order-svc config.c). A registry variable may take none of them: a
 * program would read one variable for two meanings. unit_contract_gen runs
 * each program's --help and fails on a setting missing here. */
#define CONTRACT_OWNED_SETTINGS                                                                                        \
	"REDIS_URL", "AMQP_URL", "REDIS_TIMEOUT_MS", "CACHE_TTL_S", "DB_WAIT_S", "WORKERS", "LOG_LEVEL", "LOG_FORMAT", \
	    "RPC_TIMEOUT_MS", "MAX_BODY_BYTES", "REQUEST_TIMEOUT_MS", "CORS_ORIGINS", "OUTBOX_POLL_MS",                \
	    "EVENTS_PREFETCH", "EVENTS_QUEUE_TYPE", "REDIS_URL_FILE", "AMQP_URL_FILE", "RPC_TLS_CERT", "RPC_TLS_KEY",  \
	    "RPC_TLS_CA", "RPC_TLS_CALLER_CA", "RPC_LISTEN_URL", "RPC_RESOLVE_INTERVAL_MS"
#define CONTRACT_OWNED_SETTINGS_PREFIX "GATEWAY_"
/* A secret setting's file variant is its name and this (lib/base/env.h's
 * ENV_FILE_SUFFIX): a db_url_variable's is its service's too (USER_DB_URL ->
 * USER_DB_URL_FILE), and no registry variable may end in it. */
#define CONTRACT_FILE_SUFFIX "_FILE"
/* Names a registry variable may not take because something else reads
 * them: the process's environment (HOME, PATH, TMPDIR, LD_*), libpq (PG*),
 * scripts/servers env (PG_ADMIN_URL, *_PORT, RUN_DIR, RPC_TLS_DIR; RPC_TLS) and the official
 * PostgreSQL and RabbitMQ images' settings (POSTGRES_*, RABBITMQ_*), from
 * which compose's password variables (USER_DB_URL -> USER_DB_PASSWORD) must
 * stay apart. */
#define CONTRACT_RESERVED_VARIABLES                                                                                    \
	"HOME", "PATH", "TMPDIR", "REDIS_PORT", "AMQP_PORT", "RUN_DIR", "RPC_TLS", "RPC_TLS_DIR"
#define CONTRACT_RESERVED_PREFIXES "PG", "LD_", "POSTGRES_", "RABBITMQ_"

/* One line of the registry. */
typedef struct contract_service {
	const char *name;                             /* "user-svc": binary, logs, /readyz, metrics label */
	const char *contract;                         /* "users.UserService": the .proto service */
	const ProtobufCServiceDescriptor *descriptor; /* that service's protobuf-c descriptor */
	const char *url_variable;                     /* "USER_SVC_URL" */
	const char *default_url;                      /* "tcp://127.0.0.1:5001"; "" if none */
	const char *db_url_variable;                  /* "USER_DB_URL"; NULL for a service without a database */
	const char *database;                         /* "user_db", owned by the role named like the service
	                                                 with '_' for '-'; NULL if none */
	/* "gateway,order-svc,operator": the roles that may call it, comma-separated, each
	   once (gateway, operator or a registry service; never itself). With TLS their CAs
	   are its RPC_TLS_CALLER_CA (scripts/lib/dev_pki.sh writes callers/<name>.pem). */
	const char *callers;
} contract_service;

/* One REST route: an HTTP method and path template bound to a service method. */
typedef struct contract_route {
	const char *method; /* "GET", "POST", "PUT", "DELETE", "PATCH" */
	/* "/orders/user/{user_id}": literal segments and {field}s of the request */
	const char *path;
	size_t service;         /* index into contract_services */
	const char *rpc_method; /* the method's short name in that service: "ListOrdersByUser" */
	const char *body;       /* NULL: no body; "*": the JSON body fills the request */
	/* NULL: the reply is the body; else that field of the reply (AIP-127) */
	const char *response_body;
	int success_status; /* 200 or 201 */
	/* With 201: "/users/{id}", filled from the reply's fields; else NULL */
	const char *location;
	/* The method's own error statuses (rest.route), 0-terminated */
	int error_statuses[CONTRACT_ERROR_STATUSES_MAX + 1];
	const char *summary; /* one line of UTF-8, no control character, at most CONTRACT_SUMMARY_MAX bytes */
} contract_route;

extern const contract_service contract_services[];
extern const size_t contract_services_count;
extern const contract_route contract_routes[];
extern const size_t contract_routes_count;

/* The registry entry named name ("order-svc"), or NULL. */
const contract_service *contract_service_named(const char *name);

#endif
