/* user_config from the environment: the table of variables. */
#include "config.h"

#include "svc/broker.h"
#include "svc/cache.h"
#include "svc/db.h"
#include "base/net_check.h"


env_action
user_config_load(user_config *cfg, int argc, char **argv)
{
	int level = 0, format = 0;
	const env_var vars[] = {
	    {.name = "USER_SVC_URL", .default_value = "tcp://127.0.0.1:5001", .kind = ENV_CUSTOM,
	        .parse = env_parse_nng_listen_url, .out = &cfg->listen_url,
	        .help = "nng URL to serve users.UserService on"},
	    {.name = "USER_DB_URL", .default_value = "postgresql://user_svc:user_svc@127.0.0.1:5432/user_db",
	        .kind = ENV_CUSTOM, .parse = db_env_parse_conninfo, .out = &cfg->db_url,
	        .secret_url = 1, .help = "libpq URL of user_db"},
	    {.name = "DB_WAIT_S", .default_value = "0", .kind = ENV_INT, .min = 0, .max = 86400,
	        .out = &cfg->db_wait_s,
	        .help = "longest wait at start for PostgreSQL to answer, in seconds, then exit 1; 0 waits until stopped "
	                "(the wait is logged)"},
	    {.name = "REDIS_URL", .default_value = "redis://127.0.0.1:6379/0", .kind = ENV_CUSTOM,
	        .parse = cache_env_parse_url, .out = &cfg->redis_url, .secret_url = 1, .help = "Redis for the cache"},
	    {.name = "AMQP_URL", .default_value = "amqp://guest:guest@127.0.0.1:5672/", .kind = ENV_CUSTOM,
	        .parse = broker_env_parse_url, .out = &cfg->amqp_url, .secret_url = 1,
	        .help = "RabbitMQ for user_created events"},
	    {.name = "CACHE_TTL_S", .default_value = "300", .kind = ENV_INT, .min = 1, .max = 86400 * 30,
	        .out = &cfg->cache_ttl_s, .help = "seconds a cached user lives in Redis"},
	    {.name = "WORKERS", .default_value = "8", .kind = ENV_INT, .min = 1, .max = 256, .out = &cfg->workers,
	        .help = "RPC workers, each with its own PostgreSQL and Redis connection"},
	    {.name = "OUTBOX_POLL_MS", .default_value = "1000", .kind = ENV_INT, .min = 10, .max = 600000,
	        .out = &cfg->outbox_poll_ms, .help = "the relay also looks for events this often"},
	    {.name = "REDIS_TIMEOUT_MS", .default_value = "100", .kind = ENV_INT, .min = 1, .max = 60000,
	        .out = &cfg->redis_timeout_ms, .help = "longest a slow Redis may delay a request"},
	    {.name = "LOG_LEVEL", .default_value = "info", .kind = ENV_CHOICE, .choices = log_level_names,
	        .out = &level, .help = "debug, info, warn or error"},
	    {.name = "LOG_FORMAT", .default_value = "text", .kind = ENV_CHOICE, .choices = log_format_names,
	        .out = &format, .help = "text or json"},
	};
	env_action action = env_cli(argc, argv,
	    "user-svc: users.UserService over nng; PostgreSQL user_db, Redis cache, user_created events to RabbitMQ.",
	    vars, sizeof(vars) / sizeof(vars[0]));
	cfg->log_level  = (log_level) level;
	cfg->log_format = (log_format) format;
	return action;
}
