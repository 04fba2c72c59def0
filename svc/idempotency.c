/* idempotency.h */
#include "svc/idempotency.h"

rpc_code
svc_idempotency_claim(db *d, const char *key, const char *fingerprint, bool *claimed, rpc_status *st)
{
	*claimed             = false;
	const char *params[] = {key, fingerprint};
	PGresult *res        = db_exec(d, "BEGIN", 0, NULL, PGRES_COMMAND_OK, "create_begin", st);
	if (res == NULL)
		return st->code;
	PQclear(res);
	/* A key older than 24 h is forgotten. */
	res = db_exec(d,
	    "DELETE FROM idempotency_keys WHERE key = $1 AND created_at < now() - "
	    "interval '24 hours'",
	    1, params, PGRES_COMMAND_OK, "idempotency_expire", st);
	if (res == NULL)
		goto fail;
	PQclear(res);
	/* A concurrent claim of the same key waits here, on the conflicting
	 * row, until the other transaction ends. */
	res = db_exec(d,
	    "INSERT INTO idempotency_keys (key, fingerprint) VALUES ($1, $2) ON CONFLICT "
	    "(key) DO NOTHING RETURNING key",
	    2, params, PGRES_TUPLES_OK, "idempotency_claim", st);
	if (res == NULL)
		goto fail;
	*claimed = PQntuples(res) == 1;
	PQclear(res);
	return RPC_OK;
fail:
	db_rollback(d);
	return st->code;
}
