/* The configuration block every service shares, read from the environment
 * together with the service's own settings. */
#ifndef SVC_SERVICE_CONFIG_H
#define SVC_SERVICE_CONFIG_H

#include <stddef.h>

#include "base/env.h"
#include "base/log.h"
#include "rpc/tls_files.h"

/* The backing servers a service declares it uses (svc_declaration.uses).
 * PostgreSQL is always used. */
enum {
	SVC_USES_REDIS    = 1 << 0, /* REDIS_URL, REDIS_TIMEOUT_MS, CACHE_TTL_S; a cache per worker */
	SVC_USES_RABBITMQ = 1 << 1, /* AMQP_URL */
};

/* The settings every service has. Strings point into the environment or a
 * default (never freed); the variables a service does not use (uses) are
 * NULL / 0. */
typedef struct svc_config {
	const char *listen_url;      /* RPC_LISTEN_URL, else <url_variable> (one URL) */
	const char *listen_variable; /* which of the two it came from, for messages */
	const char *service_url;     /* <url_variable> (e.g. USER_SVC_URL) when RPC_LISTEN_URL is set:
	                              * what callers dial, maybe a list; else NULL */
	const char *db_url;          /* <db_url_variable>, e.g. USER_DB_URL */
	const char *db_variable;     /* its name, for messages */
	long db_wait_s;              /* DB_WAIT_S: 0 waits for PostgreSQL until stopped */
	long workers;                /* WORKERS */
	const char *redis_url;       /* REDIS_URL */
	long redis_timeout_ms;       /* REDIS_TIMEOUT_MS */
	long cache_ttl_s;            /* CACHE_TTL_S */
	const char *amqp_url;        /* AMQP_URL */
	rpc_tls_files tls;           /* RPC_TLS_CERT, RPC_TLS_KEY, RPC_TLS_CA, RPC_TLS_CALLER_CA */
	log_level log_level;         /* LOG_LEVEL */
	log_format log_format;       /* LOG_FORMAT */
} svc_config;

/* What the common block needs to know of a service: its name, by which the
 * skeleton finds its registry line (proto/services.conf, compiled into
 * contract/tables.h: contract, URL variable and default, database), and the
 * help texts only it can write. */
typedef struct svc_config_spec {
	const char *name;              /* "user-svc": its registry line's name */
	unsigned uses;                 /* SVC_USES_* */
	const char *cache_ttl_default; /* CACHE_TTL_S's default (with SVC_USES_REDIS) */
	const char *cache_ttl_help;    /* e.g. "seconds a cached user lives in Redis" */
	const char *amqp_help;         /* e.g. "RabbitMQ for user_created events" */
	const env_var *settings;       /* the service's own variables, after the common ones */
	size_t n_settings;
} svc_config_spec;

/* At most this many variables of a service's own. */
#define SVC_CONFIG_MAX_SETTINGS 16

/* Handles the command line and loads the common block into cfg and the
 * service's own settings into theirs (env_cli: --help, or the first bad
 * value named on stderr), then checks the RPC_TLS_* files together
 * (rpc_tls_files_check) and that the listen URL and every setting of the
 * service's parsed by env_parse_nng_dial_urls are tls+tcp:// exactly when
 * TLS is configured. Not thread-safe (start-up only). */
env_action svc_config_load(svc_config *cfg, const svc_config_spec *spec, const char *summary, int argc, char **argv);

#endif
