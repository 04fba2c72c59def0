/* outbox_repo.h: parameterised statements, columns by name. */
#include "outbox_repo.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/buffer.h"
#include "base/log.h"

/* Prepared once per connection by db_exec (a parameter makes it so): under
 * load the relay runs a batch every few creates. */
static const char claim_sql[] = "SELECT o.id AS row_id, o.event_id, o.request_id,"
                                " (extract(epoch FROM o.created_at) * 1000000)::bigint AS occurred_us,"
                                " u.id AS user_id, u.name, u.email,"
                                " (extract(epoch FROM u.created_at) * 1000000)::bigint AS user_created_us"
                                " FROM outbox o JOIN users u ON u.id = o.user_id ORDER BY o.id LIMIT $1"
                                " FOR UPDATE OF o SKIP LOCKED";

typedef struct claim_columns {
	int row_id, event_id, request_id, occurred_us, user_id, name, email, user_created_us;
} claim_columns;

/* The column numbers of claim_sql's result, by name; false when one is
 * missing (the query and this list disagree: a programming error). */
static bool
find_columns(const PGresult *res, claim_columns *c, rpc_status *st)
{
	static const struct {
		const char *name;
		size_t offset;
	} wanted[] = {
	    {"row_id", offsetof(claim_columns, row_id)},
	    {"event_id", offsetof(claim_columns, event_id)},
	    {"request_id", offsetof(claim_columns, request_id)},
	    {"occurred_us", offsetof(claim_columns, occurred_us)},
	    {"user_id", offsetof(claim_columns, user_id)},
	    {"name", offsetof(claim_columns, name)},
	    {"email", offsetof(claim_columns, email)},
	    {"user_created_us", offsetof(claim_columns, user_created_us)},
	};
	for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
		int col = PQfnumber(res, wanted[i].name);
		if (col < 0) { /* logged here: the relay's caller has no one to tell */
			log_error(NULL, "outbox_claim_failed reason=\"no column %s\"", wanted[i].name);
			rpc_status_set(st, RPC_INTERNAL, "outbox claim has no column %s", wanted[i].name);
			return false;
		}
		*(int *) ((char *) c + wanted[i].offset) = col;
	}
	return true;
}

static int64_t
int_at(const PGresult *res, int row, int col)
{
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

rpc_code
outbox_repo_claim(db *d, int limit, outbox_batch *b, rpc_status *st)
{
	b->res = NULL;
	b->n   = 0;
	if (limit < 1 || limit > OUTBOX_REPO_BATCH_MAX)
		return rpc_status_set(
		    st, RPC_INVALID_ARGUMENT, "outbox claim limit %d is not 1..%d", limit, OUTBOX_REPO_BATCH_MAX);
	/* Every statement through db_exec, never a connection pointer kept
	 * across them: db_exec may replace a connection the server closed. */
	PGresult *res = db_exec(d, "BEGIN", 0, NULL, PGRES_COMMAND_OK, "outbox_begin", st);
	if (res == NULL)
		return st->code;
	PQclear(res);
	char limit_text[16];
	snprintf(limit_text, sizeof(limit_text), "%d", limit);
	const char *params[] = {limit_text};
	res                  = db_exec(d, claim_sql, 1, params, PGRES_TUPLES_OK, "outbox_claim", st);
	claim_columns c;
	if (res == NULL || !find_columns(res, &c, st)) {
		PQclear(res);
		db_rollback(d);
		return st->code;
	}
	int n = PQntuples(res);
	if (n == 0) {
		PQclear(res);
		return outbox_repo_delete(d, NULL, 0, st); /* just the commit */
	}
	for (int i = 0; i < n; i++) {
		b->events[i] = (outbox_event){
		    .row_id          = int_at(res, i, c.row_id),
		    .event_id        = PQgetvalue(res, i, c.event_id),
		    .request_id      = PQgetvalue(res, i, c.request_id),
		    .occurred_us     = int_at(res, i, c.occurred_us),
		    .user_id         = int_at(res, i, c.user_id),
		    .name            = PQgetvalue(res, i, c.name),
		    .email           = PQgetvalue(res, i, c.email),
		    .user_created_us = int_at(res, i, c.user_created_us),
		};
	}
	b->res = res;
	b->n   = n;
	return RPC_OK;
}

rpc_code
outbox_repo_delete(db *d, const int64_t *row_ids, int n, rpc_status *st)
{
	PGresult *res;
	if (n > 0) {
		/* One array parameter, a PostgreSQL array literal: {1,2,3}. */
		buffer ids = BUFFER_INIT;
		buffer_append_str(&ids, "{");
		for (int i = 0; i < n; i++)
			buffer_printf(&ids, "%s%" PRId64, i > 0 ? "," : "", row_ids[i]);
		if (!buffer_append_str(&ids, "}")) {
			buffer_free(&ids);
			db_rollback(d);
			log_error(NULL, "outbox_delete_failed reason=\"out of memory\"");
			return rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "out of memory");
		}
		const char *params[] = {ids.data};
		res = db_exec(d, "DELETE FROM outbox WHERE id = ANY($1::bigint[])", 1, params, PGRES_COMMAND_OK,
		    "outbox_delete", st);
		buffer_free(&ids);
		if (res == NULL) {
			db_rollback(d);
			return st->code;
		}
		PQclear(res);
	}
	res = db_exec(d, "COMMIT", 0, NULL, PGRES_COMMAND_OK, "outbox_commit", st);
	if (res == NULL) {
		db_rollback(d);
		return st->code;
	}
	PQclear(res);
	return RPC_OK;
}

void
outbox_repo_release(db *d)
{
	db_rollback(d);
}

void
outbox_repo_batch_free(outbox_batch *b)
{
	PQclear(b->res);
	b->res = NULL;
	b->n   = 0;
}

rpc_code
outbox_repo_backlog(db *d, int64_t *n, rpc_status *st)
{
	PGresult *res =
	    db_exec(d, "SELECT count(*) AS backlog FROM outbox", 0, NULL, PGRES_TUPLES_OK, "outbox_backlog", st);
	if (res == NULL)
		return st->code;
	*n = strtoll(PQgetvalue(res, 0, PQfnumber(res, "backlog")), NULL, 10);
	PQclear(res);
	return RPC_OK;
}
