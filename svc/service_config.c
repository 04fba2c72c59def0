/* The common configuration block: one table of variables for every service. */
#include "svc/service_config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/net_check.h"
#include "contract/tables.h"
#include "svc/broker.h"
#include "svc/cache.h"
#include "svc/db.h"

/* The registry's url_variable when RPC_LISTEN_URL is not set: it says
 * where this replica listens, as it did before the two were apart, so one
 * URL; a list is what callers dial (start-up only). */
static int
parse_own_url(const char *text, void *out, char *err, size_t errlen)
{
	if (strchr(text, ',') != NULL) {
		snprintf(err, errlen,
		    "lists several URLs, where callers find the replicas, and cannot say where this one listens: "
		    "set RPC_LISTEN_URL");
		return -1;
	}
	return env_parse_nng_listen_url(text, out, err, errlen);
}

/* The registry's url_variable when RPC_LISTEN_URL is set: what callers
 * dial, checked as they would; unset, nothing. */
static int
parse_callers_url(const char *text, void *out, char *err, size_t errlen)
{
	return text[0] == '\0' ? 0 : env_parse_nng_dial_urls(text, out, err, errlen);
}

/* RPC_LISTEN_URL: where this replica listens, or "" for the registry's
 * url_variable to say it (parse_own_url). */
static int
parse_listen_url(const char *text, void *out, char *err, size_t errlen)
{
	return text[0] == '\0' ? 0 : env_parse_nng_listen_url(text, out, err, errlen);
}

env_action
svc_config_load(svc_config *cfg, const svc_config_spec *spec, const char *summary, int argc, char **argv)
{
	memset(cfg, 0, sizeof(*cfg));
	if (spec->n_settings > SVC_CONFIG_MAX_SETTINGS) {
		fprintf(stderr, "%s: %zu settings of its own, more than the %d the skeleton holds\n", spec->name,
		    spec->n_settings, SVC_CONFIG_MAX_SETTINGS);
		return ENV_EXIT_USAGE;
	}
	/* The registry line names the settings: a service is described there only. */
	const contract_service *reg = contract_service_named(spec->name);
	if (reg == NULL) {
		fprintf(stderr,
		    "%s: no line in the service registry (proto/services.conf, or tests/services.conf in a test "
		    "build)\n",
		    spec->name);
		return ENV_EXIT_USAGE;
	}
	/* The skeleton migrates and serves from a database; contract-gen has
	 * checked db_url_variable and database are both set or both "-". */
	if (reg->db_url_variable == NULL || reg->database == NULL) {
		fprintf(stderr,
		    "%s: its registry line has no database (db_url_variable and database are '-'), and the service "
		    "skeleton needs one: name both in proto/services.conf\n",
		    spec->name);
		return ENV_EXIT_USAGE;
	}
	/* The texts --help shows, made from the registry line. */
	char listen_help[256], callers_help[256], db_help[160], role[64];
	static char db_default[256]; /* cfg->db_url may point to it for the process's life */
	snprintf(listen_help, sizeof(listen_help), "nng URL this replica serves %s on; unset: %s says it",
	    reg->contract, reg->url_variable);
	snprintf(callers_help, sizeof(callers_help),
	    "nng URL(s) callers dial for %s (a list, or a name of every replica); without RPC_LISTEN_URL, "
	    "one URL this replica listens on",
	    reg->contract);
	snprintf(role, sizeof(role), "%s", spec->name);
	for (char *p = role; *p != '\0'; p++)
		if (*p == '-')
			*p = '_';
	snprintf(db_default, sizeof(db_default), "postgresql://%s:%s@127.0.0.1:5432/%s", role, role, reg->database);
	snprintf(db_help, sizeof(db_help), "libpq URL of %s", reg->database);

	int level = 0, format = 0;
	/* The common block has at most 20 variables (11 + RPC_TLS_*, room to grow). */
	env_var vars[20 + SVC_CONFIG_MAX_SETTINGS];
	size_t n = 0;
	/* Where this replica listens (RPC_LISTEN_URL) is apart from what its
	 * callers dial (the registry's url_variable), which may list every
	 * replica or be a name of them all (issue 19). Without RPC_LISTEN_URL,
	 * url_variable is one URL and means both, as it did before. */
	const char *listen_env = getenv("RPC_LISTEN_URL");
	bool listen_apart      = listen_env != NULL && listen_env[0] != '\0';
	/* Apart, an unset url_variable says nothing: its default is not this
	 * replica's business (nor checked against TLS). */
	vars[n++] = (env_var){.name = reg->url_variable,
	    .default_value          = listen_apart ? "" : reg->default_url, /* "": required, the parser says so */
	    .kind                   = ENV_CUSTOM,
	    .parse                  = listen_apart ? parse_callers_url : parse_own_url,
	    .out                    = listen_apart ? &cfg->service_url : &cfg->listen_url,
	    .help                   = callers_help};
	vars[n++] = (env_var){.name = "RPC_LISTEN_URL",
	    .default_value          = "",
	    .kind                   = ENV_CUSTOM,
	    .parse                  = parse_listen_url,
	    .out                    = &cfg->listen_url,
	    .help                   = listen_help};
	vars[n++] = (env_var){.name = reg->db_url_variable,
	    .default_value          = db_default,
	    .kind                   = ENV_CUSTOM,
	    .parse                  = db_env_parse_conninfo,
	    .out                    = &cfg->db_url,
	    .secret_url             = 1,
	    .help                   = db_help};
	vars[n++] = (env_var){.name = "DB_WAIT_S",
	    .default_value          = "0",
	    .kind                   = ENV_INT,
	    .min                    = 0,
	    .max                    = 86400,
	    .out                    = &cfg->db_wait_s,
	    .help                   = "longest wait at start for PostgreSQL to answer, in seconds, "
	                              "then exit 1; 0 waits until stopped "
	                              "(the wait is logged)"};
	if (spec->uses & SVC_USES_REDIS) {
		vars[n++] = (env_var){.name = "REDIS_URL",
		    .default_value          = "redis://127.0.0.1:6379/0",
		    .kind                   = ENV_CUSTOM,
		    .parse                  = cache_env_parse_url,
		    .out                    = &cfg->redis_url,
		    .secret_url             = 1,
		    .help                   = "Redis for the cache: redis://[:password@]host[:port][/db], or through "
		                              "Sentinel redis-sentinel://[:password@]host[:port],host[:port]...[/db]#master"};
	}
	if (spec->uses & SVC_USES_RABBITMQ) {
		vars[n++] = (env_var){.name = "AMQP_URL",
		    .default_value          = "amqp://guest:guest@127.0.0.1:5672/",
		    .kind                   = ENV_CUSTOM,
		    .parse                  = broker_env_parse_url,
		    .out                    = &cfg->amqp_url,
		    .secret_url             = 1,
		    .help                   = spec->amqp_help};
	}
	if (spec->uses & SVC_USES_REDIS) {
		vars[n++] = (env_var){.name = "CACHE_TTL_S",
		    .default_value          = spec->cache_ttl_default,
		    .kind                   = ENV_INT,
		    .min                    = 1,
		    .max                    = 86400 * 30,
		    .out                    = &cfg->cache_ttl_s,
		    .help                   = spec->cache_ttl_help};
	}
	vars[n++] = (env_var){.name = "WORKERS",
	    .default_value          = "8",
	    .kind                   = ENV_INT,
	    .min                    = 1,
	    .max                    = 256,
	    .out                    = &cfg->workers,
	    .help = (spec->uses & SVC_USES_REDIS) ? "RPC workers, each with its own PostgreSQL and Redis connection"
	                                          : "RPC workers, each with its own PostgreSQL connection"};
	if (spec->uses & SVC_USES_REDIS) {
		vars[n++] = (env_var){.name = "REDIS_TIMEOUT_MS",
		    .default_value          = "100",
		    .kind                   = ENV_INT,
		    .min                    = 1,
		    .max                    = 60000,
		    .out                    = &cfg->redis_timeout_ms,
		    .help                   = "longest a slow Redis may delay a request"};
	}
	n += rpc_tls_env_vars(&cfg->tls, RPC_TLS_LISTENS, &vars[n]);
	for (size_t i = 0; i < spec->n_settings; i++)
		vars[n++] = spec->settings[i];
	vars[n++] = (env_var){.name = "LOG_LEVEL",
	    .default_value          = "info",
	    .kind                   = ENV_CHOICE,
	    .choices                = log_level_names,
	    .out                    = &level,
	    .help                   = "debug, info, warn or error"};
	vars[n++] = (env_var){.name = "LOG_FORMAT",
	    .default_value          = "text",
	    .kind                   = ENV_CHOICE,
	    .choices                = log_format_names,
	    .out                    = &format,
	    .help                   = "text or json"};

	/* --help's first line: what the registry says, then the service's words. */
	char about[512];
	snprintf(about, sizeof(about), "%s: %s over nng; PostgreSQL %s%s%s", spec->name, reg->contract, reg->database,
	    summary != NULL && summary[0] != '\0' ? "; " : ".", summary != NULL ? summary : "");
	env_action action = env_cli(argc, argv, about, vars, n);
	cfg->log_level    = (log_level) level;
	cfg->log_format   = (log_format) format;
	char err[1024];
	if (action != ENV_RUN)
		return action;
	cfg->listen_variable = listen_apart ? "RPC_LISTEN_URL" : reg->url_variable;
	cfg->db_variable     = reg->db_url_variable;
	/* TLS on means every RPC URL is tls+tcp://: where it listens and
	 * every service URL it dials (its own settings that are nng URLs). */
	int bad = rpc_tls_files_check(&cfg->tls, RPC_TLS_LISTENS, rpc_tls_variable_names, err, sizeof(err)) != 0 ||
	          rpc_tls_check_urls(&cfg->tls, listen_apart ? "RPC_LISTEN_URL" : reg->url_variable, cfg->listen_url,
	              err, sizeof(err)) != 0 ||
	          (cfg->service_url != NULL &&
	              rpc_tls_check_urls(&cfg->tls, reg->url_variable, cfg->service_url, err, sizeof(err)) != 0);
	for (size_t i = 0; i < spec->n_settings && !bad; i++)
		bad = spec->settings[i].parse == env_parse_nng_dial_urls &&
		      rpc_tls_check_urls(&cfg->tls, spec->settings[i].name,
		          *(const char *const *) spec->settings[i].out, err, sizeof(err)) != 0;
	bad = bad || rpc_tls_check_own_name(&cfg->tls, spec->name, err, sizeof(err)) != 0;
	/* libpq fills in from PG* variables and a service file what the URL
	 * leaves out: a bad one there fails every connect, as in the URL. */
	bad = bad || db_check_environment(cfg->db_variable, cfg->db_url, err, sizeof(err)) != 0;
	if (bad) {
		fprintf(stderr, "%s: invalid configuration: %s\n", argc > 0 ? argv[0] : spec->name, err);
		return ENV_EXIT_USAGE;
	}
	return action;
}
