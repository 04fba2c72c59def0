/* echo_repo.h: one statement each, columns read by name. */
#include "echo_repo.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

rpc_code
echo_repo_create(db *d, const char *text, int64_t *id, rpc_status *st)
{
	const char *params[] = {text};
	PGresult *res        = db_exec(
	           d, "INSERT INTO echoes (text) VALUES ($1) RETURNING id", 1, params, PGRES_TUPLES_OK, "create_echo", st);
	if (res == NULL)
		return st->code;
	*id = strtoll(PQgetvalue(res, 0, PQfnumber(res, "id")), NULL, 10);
	PQclear(res);
	return RPC_OK;
}

rpc_code
echo_repo_get(db *d, int64_t id, char *out, size_t out_len, rpc_status *st)
{
	char id_text[24];
	snprintf(id_text, sizeof(id_text), "%" PRId64, id);
	const char *params[] = {id_text};
	PGresult *res = db_exec(d, "SELECT text FROM echoes WHERE id = $1", 1, params, PGRES_TUPLES_OK, "get_echo", st);
	if (res == NULL)
		return st->code;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return rpc_status_set(st, RPC_NOT_FOUND, "echo %" PRId64 " not found", id);
	}
	snprintf(out, out_len, "%s", PQgetvalue(res, 0, PQfnumber(res, "text")));
	PQclear(res);
	return RPC_OK;
}
