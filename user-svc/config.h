/* user-svc's configuration, read once from the environment. */
#ifndef USER_SVC_CONFIG_H
#define USER_SVC_CONFIG_H

#include "base/env.h"
#include "base/log.h"

typedef struct user_config {
	const char *listen_url; /* USER_SVC_URL */
	const char *db_url;     /* USER_DB_URL */
	long db_wait_s;         /* DB_WAIT_S: 0 waits for PostgreSQL until stopped */
	const char *redis_url;  /* REDIS_URL */
	const char *amqp_url;   /* AMQP_URL */
	long cache_ttl_s;       /* CACHE_TTL_S */
	long workers;           /* WORKERS */
	long outbox_poll_ms;    /* OUTBOX_POLL_MS: the relay's timer, besides the wake-up after each create */
	long redis_timeout_ms;  /* REDIS_TIMEOUT_MS */
	log_level log_level;
	log_format log_format;
} user_config;

env_action user_config_load(user_config *cfg, int argc, char **argv);

#endif
