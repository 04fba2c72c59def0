/* order-svc's configuration, read once from the environment. */
#ifndef ORDER_SVC_CONFIG_H
#define ORDER_SVC_CONFIG_H

#include "base/env.h"
#include "base/log.h"

typedef struct order_config {
	const char *listen_url;   /* ORDER_SVC_URL */
	const char *user_svc_url; /* USER_SVC_URL */
	const char *db_url;       /* ORDER_DB_URL */
	long db_wait_s;           /* DB_WAIT_S: 0 waits for PostgreSQL until stopped */
	const char *redis_url;    /* REDIS_URL */
	const char *amqp_url;     /* AMQP_URL */
	long cache_ttl_s;         /* CACHE_TTL_S */
	long workers;             /* WORKERS */
	long redis_timeout_ms;    /* REDIS_TIMEOUT_MS */
	long prefetch;            /* EVENTS_PREFETCH */
	log_level log_level;
	log_format log_format;
} order_config;

env_action order_config_load(order_config *cfg, int argc, char **argv);

#endif
