/* X-Request-Id: the client's when it is acceptable, a new one otherwise. */
#ifndef GATEWAY_REQUEST_ID_H
#define GATEWAY_REQUEST_ID_H

#include "rpc/envelope.h"

#define REQUEST_ID_MAX RPC_REQUEST_ID_MAX /* what an RPC envelope may carry */

/* Copies header into out when it is 1–128 visible ASCII characters
 * (rpc_request_id_valid);
 * otherwise (NULL, empty, too long, spaces or control bytes) writes a new
 * random UUID (version 4; from a per-thread generator seeded once from
 * getrandom(2): unique, not unguessable). Thread-safe. */
void request_id_take_or_make(const char *header, char out[REQUEST_ID_MAX + 1]);

#endif
