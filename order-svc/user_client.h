/* Asks user-svc, over nng, whether a user exists (never over HTTP). */
#ifndef ORDER_SVC_USER_CLIENT_H
#define ORDER_SVC_USER_CLIENT_H

#include <stdint.h>

#include "rpc/client.h"

/* RPC_OK when the user exists, NOT_FOUND when user-svc says it does not,
 * UNAVAILABLE when user-svc could not be asked within remaining_ms (never
 * taken for "does not exist"). The request id travels on. */
rpc_code user_client_exists(
    rpc_client *users, int64_t user_id, int64_t remaining_ms, const char *request_id, rpc_status *st);

#endif
