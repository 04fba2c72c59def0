/* The Idempotency-Key claim both services make before a keyed create
 * (draft-ietf-httpapi-idempotency-key-header): a table
 *   idempotency_keys (key text PRIMARY KEY, fingerprint text NOT NULL,
 *                     <the created row's id>, created_at timestamptz DEFAULT now())
 * in the service's own database. A key is remembered for 24 hours. */
#ifndef SVC_IDEMPOTENCY_H
#define SVC_IDEMPOTENCY_H

#include <stdbool.h>

#include "rpc/status.h"
#include "svc/db.h"

/* Opens a transaction on d, forgets key if it is older than 24 h, then
 * claims it for fingerprint (the request's canonical text). A concurrent
 * claim of the same key waits until the transaction that holds it ends.
 * On RPC_OK the transaction is left open either way: *claimed true means
 * the key is this request's (insert, record the id in idempotency_keys,
 * COMMIT); false means another request holds it (look it up, then
 * db_rollback). On failure the transaction is rolled back and st says
 * why. */
rpc_code svc_idempotency_claim(db *d, const char *key, const char *fingerprint, bool *claimed, rpc_status *st);

#endif
