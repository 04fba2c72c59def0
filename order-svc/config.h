/* order-svc's own settings, besides the skeleton's common block
 * (svc/service_config.h). */
#ifndef ORDER_SVC_CONFIG_H
#define ORDER_SVC_CONFIG_H

#include <stddef.h>

#include "base/env.h"

typedef struct order_config {
	const char *user_svc_url; /* USER_SVC_URL */
	long prefetch;            /* EVENTS_PREFETCH */
	long resolve_interval_ms; /* RPC_RESOLVE_INTERVAL_MS */
	int queue_type;           /* EVENTS_QUEUE_TYPE: an events_queue_type */
} order_config;

/* Filled by svc_main from order_settings. */
extern order_config order_cfg;
extern const env_var order_settings[];
extern const size_t order_settings_count;

#endif
