/* One function per users.UserService method. Each worker's state is the
 * skeleton's svc_worker (svc/workers.h), its domain a user_domain. */
#ifndef USER_SVC_HANDLERS_H
#define USER_SVC_HANDLERS_H

#include "outbox.h"
#include "users.pb-c.h"

/* What every worker shares (svc_worker.domain), made by main.c's start. */
typedef struct user_domain {
	outbox *relay; /* Health reads it; creates wake it; thread-safe */
} user_domain;

/* The service table handed to rpc_server_open. */
extern Users__UserService_Service user_service;

#endif
