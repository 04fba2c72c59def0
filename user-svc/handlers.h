/* One function per users.UserService method, and each worker's state:
 * its own PostgreSQL connection and Redis cache. */
#ifndef USER_SVC_HANDLERS_H
#define USER_SVC_HANDLERS_H

#include "config.h"
#include "outbox.h"
#include "users.pb-c.h"

/* What rpc_server gives each worker's worker_open: shared, read-only. */
typedef struct user_handlers_env {
	const user_config *cfg;
	outbox *relay; /* Health reads it; creates wake it */
} user_handlers_env;

/* The service table handed to rpc_server_open. */
extern Users__UserService_Service user_service;

/* worker_open / worker_close for rpc_server_options (arg: user_handlers_env). */
void *user_handlers_worker_open(void *arg, int index);
void user_handlers_worker_close(void *state);

#endif
