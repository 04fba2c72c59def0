/* user-svc's own settings, besides the skeleton's common block
 * (svc/service_config.h). */
#ifndef USER_SVC_CONFIG_H
#define USER_SVC_CONFIG_H

#include <stddef.h>

#include "base/env.h"

typedef struct user_config {
	long outbox_poll_ms; /* OUTBOX_POLL_MS: the relay's timer, besides the wake-up after each
	                        create */
} user_config;

/* Filled by svc_main from user_settings. */
extern user_config user_cfg;
extern const env_var user_settings[];
extern const size_t user_settings_count;

#endif
