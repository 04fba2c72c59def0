/* order_repo.h: parameterised statements only. */
#include "order_repo.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "svc/idempotency.h"

#define ORDER_COLUMNS                                                                                                  \
	"id, user_id, product, price::text AS price, status,"                                                          \
	" (extract(epoch FROM created_at) * 1000000)::bigint AS created_us"

static void
read_row(const PGresult *res, int row, order_record *out)
{
	out->id         = strtoll(PQgetvalue(res, row, PQfnumber(res, "id")), NULL, 10);
	out->user_id    = strtoll(PQgetvalue(res, row, PQfnumber(res, "user_id")), NULL, 10);
	out->created_us = strtoll(PQgetvalue(res, row, PQfnumber(res, "created_us")), NULL, 10);
	snprintf(out->product, sizeof(out->product), "%s", PQgetvalue(res, row, PQfnumber(res, "product")));
	snprintf(out->price, sizeof(out->price), "%s", PQgetvalue(res, row, PQfnumber(res, "price")));
	snprintf(out->status, sizeof(out->status), "%s", PQgetvalue(res, row, PQfnumber(res, "status")));
}

void
order_repo_fingerprint(const order_record *in, char *out, size_t len)
{
	snprintf(out, len, "%" PRId64 "\n%s\n%s\n%s", in->user_id, in->product, in->price, in->status);
}

rpc_code
order_repo_find_key(db *d, const char *key, const char *fingerprint, int64_t *order_id, rpc_status *st)
{
	*order_id            = 0;
	rpc_code code        = RPC_OK;
	const char *params[] = {key};
	PGresult *res        = db_exec(d,
	           "SELECT fingerprint, order_id FROM idempotency_keys WHERE key = $1"
	                  " AND created_at > now() - interval '24 hours' AND order_id IS NOT NULL",
	           1, params, PGRES_TUPLES_OK, "idempotency_lookup", st);
	if (res == NULL)
		return st->code;
	if (PQntuples(res) == 1) {
		if (strcmp(PQgetvalue(res, 0, 0), fingerprint) != 0)
			code = rpc_status_set(
			    st, RPC_ALREADY_EXISTS, "Idempotency-Key was already used with a different request");
		else
			*order_id = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	}
	PQclear(res);
	return code;
}

rpc_code
order_repo_create(db *d, const order_record *in, const char *key, order_record *out, int *replayed, rpc_status *st)
{
	*replayed = 0;
	char user_id[24];
	snprintf(user_id, sizeof(user_id), "%" PRId64, in->user_id);
	PGresult *res;
	if (key == NULL || key[0] == '\0') {
		const char *params[] = {user_id, in->product, in->price, in->status};
		res                  = db_exec(d,
		                     "INSERT INTO orders (user_id, product, price, status) VALUES ($1, $2, $3, $4) "
		                                      "RETURNING " ORDER_COLUMNS,
		                     4, params, PGRES_TUPLES_OK, "create_order", st);
		if (res == NULL)
			return st->code;
		read_row(res, 0, out);
		PQclear(res);
		return RPC_OK;
	}

	/* Keyed: claim the key and insert in one transaction; a concurrent
	 * claim of the same key waits for this one, then finds its order. */
	char fingerprint[2048];
	order_repo_fingerprint(in, fingerprint, sizeof(fingerprint));
	bool claimed;
	if (svc_idempotency_claim(d, key, fingerprint, &claimed, st) != RPC_OK)
		return st->code;
	if (!claimed) {
		db_rollback(d);
		int64_t order_id;
		rpc_code code = order_repo_find_key(d, key, fingerprint, &order_id, st);
		if (code != RPC_OK)
			return code;
		*replayed = 1;
		return order_repo_get(d, order_id, out, st);
	}
	const char *params[] = {user_id, in->product, in->price, in->status, key};
	res                  = db_exec(d,
	                     "WITH o AS (INSERT INTO orders (user_id, product, price, status) VALUES ($1, $2, $3, $4) RETURNING *),"
	                                      " k AS (UPDATE idempotency_keys SET order_id = (SELECT id FROM o) WHERE key = $5)"
	                                      " SELECT " ORDER_COLUMNS " FROM o",
	                     5, params, PGRES_TUPLES_OK, "create_order", st);
	if (res == NULL)
		goto fail;
	read_row(res, 0, out);
	PQclear(res);
	if ((res = db_exec(d, "COMMIT", 0, NULL, PGRES_COMMAND_OK, "create_commit", st)) == NULL)
		goto fail;
	PQclear(res);
	return RPC_OK;
fail:
	db_rollback(d);
	return st->code;
}

rpc_code
order_repo_get(db *d, int64_t id, order_record *out, rpc_status *st)
{
	char id_text[24];
	snprintf(id_text, sizeof(id_text), "%" PRId64, id);
	const char *params[] = {id_text};
	PGresult *res        = db_exec(
	           d, "SELECT " ORDER_COLUMNS " FROM orders WHERE id = $1", 1, params, PGRES_TUPLES_OK, "get_order", st);
	if (res == NULL)
		return st->code;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return rpc_status_set(st, RPC_NOT_FOUND, "order %" PRId64 " not found", id);
	}
	read_row(res, 0, out);
	PQclear(res);
	return RPC_OK;
}

rpc_code
order_repo_list_by_user(db *d, int64_t user_id, order_record **out, int *n, rpc_status *st)
{
	*out = NULL;
	*n   = 0;
	char id_text[24];
	snprintf(id_text, sizeof(id_text), "%" PRId64, user_id);
	const char *params[] = {id_text};
	PGresult *res = db_exec(d, "SELECT " ORDER_COLUMNS " FROM orders WHERE user_id = $1 ORDER BY id", 1, params,
	    PGRES_TUPLES_OK, "list_orders", st);
	if (res == NULL)
		return st->code;
	int rows = PQntuples(res);
	if (rows > 0 && (*out = calloc((size_t) rows, sizeof(order_record))) == NULL) {
		PQclear(res);
		return rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "too many orders");
	}
	for (int i = 0; i < rows; i++)
		read_row(res, i, &(*out)[i]);
	*n = rows;
	PQclear(res);
	return RPC_OK;
}

rpc_code
order_repo_handle_events(
    db *d, const char *const *event_ids, int n, void (*on_first)(void *arg, int i), void *arg, rpc_status *st)
{
	/* One array parameter, {id,id,...}: UUIDs need no quoting. */
	size_t cap = (size_t) n * 37 + 3, used = 0;
	char *ids  = malloc(cap);
	bool *seen = calloc((size_t) n, sizeof(*seen));
	if (ids == NULL || seen == NULL) {
		free(ids);
		free(seen);
		return rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "out of memory");
	}
	ids[used++] = '{';
	for (int i = 0; i < n; i++)
		used += (size_t) snprintf(ids + used, cap - used, "%s%.36s", i > 0 ? "," : "", event_ids[i]);
	snprintf(ids + used, cap - used, "}");

	bool done     = false;
	PGresult *res = db_exec(d, "BEGIN", 0, NULL, PGRES_COMMAND_OK, "event_begin", st);
	if (res == NULL)
		goto out;
	PQclear(res);
	/* A second delivery of an event waits here for the first one's
	 * transaction, then finds the row. */
	const char *params[] = {ids};
	res                  = db_exec(d,
	                     /* In id order: two batches that share ids (replicas, or a
	                      * redelivery) then lock them in the same order, never deadlock. */
	                     "INSERT INTO processed_events (event_id) SELECT id FROM unnest($1::uuid[]) AS id ORDER BY id"
	                                      " ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
	                     1, params, PGRES_TUPLES_OK, "record_events", st);
	if (res == NULL) {
		db_rollback(d);
		goto out;
	}
	for (int r = 0; r < PQntuples(res); r++) {
		for (int i = 0; i < n; i++) { /* the first unseen delivery of that id */
			if (!seen[i] && strcasecmp(PQgetvalue(res, r, 0), event_ids[i]) == 0) {
				seen[i] = true;
				break;
			}
		}
	}
	PQclear(res);
	/* Handled before the commit: a crash after it rolls the rows back and
	 * the redelivery handles the events again, so none is ever lost (at
	 * worst the batch in flight is handled twice). */
	for (int i = 0; i < n; i++) {
		if (seen[i])
			on_first(arg, i);
	}
	res = db_exec(d, "COMMIT", 0, NULL, PGRES_COMMAND_OK, "event_commit", st);
	if (res == NULL) {
		db_rollback(d);
		goto out;
	}
	PQclear(res);
	done = true;
out:
	free(ids);
	free(seen);
	return done ? RPC_OK : st->code;
}
