/* Every SQL statement of order-svc's requests and of its event consumer. */
#ifndef ORDER_SVC_ORDER_REPO_H
#define ORDER_SVC_ORDER_REPO_H

#include <stdint.h>

#include "rpc/status.h"
#include "svc/db.h"

typedef struct order_record {
	int64_t id;
	int64_t user_id;
	char product[1024];
	char price[40]; /* NUMERIC text, e.g. "15000000.00"; the transcoder writes it canonically */
	char status[16];
	int64_t created_us;
} order_record;

/* Inserts an order. With an idempotency key: a key seen in the last 24 h
 * with the same request returns the order it created (*replayed = 1); with
 * another request, ALREADY_EXISTS. */
rpc_code order_repo_create(
    db *d, const order_record *in, const char *idempotency_key, order_record *out, int *replayed, rpc_status *st);

/* Looks a key up before anything is asked of user-svc: RPC_OK with
 * *order_id > 0 when it already created an order with the same request,
 * ALREADY_EXISTS for another request, RPC_OK with 0 when unknown. */
rpc_code order_repo_find_key(db *d, const char *key, const char *fingerprint, int64_t *order_id, rpc_status *st);

rpc_code order_repo_get(db *d, int64_t id, order_record *out, rpc_status *st);

/* The user's orders, oldest first. *out is malloc'd (free it); *n may be 0. */
rpc_code order_repo_list_by_user(db *d, int64_t user_id, order_record **out, int *n, rpc_status *st);

/* Handles a batch of events once, in one transaction: records each id and,
 * for each id seen for the first time, calls on_first(arg, i) inside that
 * transaction, before the commit. A failure (any code but OK) means every
 * event of the batch must be delivered again. The ids are UUIDs. */
rpc_code order_repo_handle_events(
    db *d, const char *const *event_ids, int n, void (*on_first)(void *arg, int i), void *arg, rpc_status *st);

/* "user, product, price and status, one per line": what an idempotency key is bound to. */
void order_repo_fingerprint(const order_record *in, char *out, size_t len);

#endif
