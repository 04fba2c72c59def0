/* Request fields every service reads the same way. */
#ifndef SVC_REQUEST_FIELDS_H
#define SVC_REQUEST_FIELDS_H

#include <stdbool.h>

#include "rpc/server.h"
#include "rpc/status.h"

/* The longest Idempotency-Key a service stores. */
#define SVC_IDEMPOTENCY_KEY_MAX 200

/* Ids are positive: otherwise a violation "<field> must be a positive
 * integer" is added to st and false returned. */
bool svc_validate_id(long long id, const char *field, rpc_status *st);

/* The call's idempotency-key metadata (the gateway's Idempotency-Key
 * header; RFC draft-ietf-httpapi-idempotency-key-header): *key is it
 * (borrowed for the handler's duration) or NULL when absent. A key longer
 * than SVC_IDEMPOTENCY_KEY_MAX adds a violation naming Idempotency-Key and
 * returns false. */
bool svc_idempotency_key(const rpc_call *call, const char **key, rpc_status *st);

#endif
