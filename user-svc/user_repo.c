/* user_repo.h: parameterised statements only. */
#include "user_repo.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/signals.h"
#include "base/utf8.h"
#include "svc/idempotency.h"

#define USER_COLUMNS "id, name, email, (extract(epoch FROM created_at) * 1000000)::bigint AS created_us"

/* The user row and its event, atomically. */
static const char insert_sql[] =
    "WITH u AS (INSERT INTO users (name, email, email_key) VALUES ($1, $2, $4) RETURNING *),"
    " o AS (INSERT INTO outbox (user_id, request_id) SELECT id, $3 FROM u)"
    " SELECT " USER_COLUMNS " FROM u";

/* The same, also recording which user the idempotency key created. */
static const char insert_keyed_sql[] =
    "WITH u AS (INSERT INTO users (name, email, email_key) VALUES ($1, $2, $5) RETURNING *),"
    " o AS (INSERT INTO outbox (user_id, request_id) SELECT id, $3 FROM u),"
    " k AS (UPDATE idempotency_keys SET user_id = (SELECT id FROM u) WHERE key = $4)"
    " SELECT " USER_COLUMNS " FROM u";

static void
read_row(const PGresult *res, int row, user_record *out)
{
	out->id         = strtoll(PQgetvalue(res, row, PQfnumber(res, "id")), NULL, 10);
	out->created_us = strtoll(PQgetvalue(res, row, PQfnumber(res, "created_us")), NULL, 10);
	snprintf(out->name, sizeof(out->name), "%s", PQgetvalue(res, row, PQfnumber(res, "name")));
	snprintf(out->email, sizeof(out->email), "%s", PQgetvalue(res, row, PQfnumber(res, "email")));
}

static rpc_code
email_taken(const char *email, rpc_status *st)
{
	return rpc_status_set(st, RPC_ALREADY_EXISTS, "email %.200s is already registered", email);
}

/* The keyed path: claim the key, or find what it already did. */
static rpc_code
create_keyed(db *d, const char *name, const char *email, const char *email_key, const char *request_id, const char *key,
    user_record *out, int *replayed, rpc_status *st)
{
	char fingerprint[2048];
	snprintf(fingerprint, sizeof(fingerprint), "%s\n%s", name, email);
	const char *key_params[] = {key};
	bool claimed;
	if (svc_idempotency_claim(d, key, fingerprint, &claimed, st) != RPC_OK)
		return st->code;
	PGresult *res;
	if (!claimed) {
		res = db_exec(d, "SELECT fingerprint, user_id FROM idempotency_keys WHERE key = $1", 1, key_params,
		    PGRES_TUPLES_OK, "idempotency_lookup", st);
		if (res == NULL)
			goto fail;
		int same = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), fingerprint) == 0;
		int64_t user_id =
		    PQntuples(res) == 1 && !PQgetisnull(res, 0, 1) ? strtoll(PQgetvalue(res, 0, 1), NULL, 10) : 0;
		PQclear(res);
		db_rollback(d);
		if (!same)
			return rpc_status_set(
			    st, RPC_ALREADY_EXISTS, "Idempotency-Key was already used with a different request");
		*replayed = 1;
		return user_repo_get(d, user_id, out, st);
	}

	const char *params[] = {name, email, request_id, key, email_key};
	res                  = db_exec(d, insert_keyed_sql, 5, params, PGRES_TUPLES_OK, "create_user", st);
	if (res == NULL) {
		if (st->code == RPC_ALREADY_EXISTS)
			email_taken(email, st);
		goto fail;
	}
	read_row(res, 0, out);
	PQclear(res);
	res = db_exec(d, "COMMIT", 0, NULL, PGRES_COMMAND_OK, "create_commit", st);
	if (res == NULL)
		goto fail;
	PQclear(res);
	return RPC_OK;
fail:
	db_rollback(d);
	return st->code;
}

rpc_code
user_repo_create(db *d, const char *name, const char *email, const char *request_id, const char *idempotency_key,
    user_record *out, int *replayed, rpc_status *st)
{
	*replayed       = 0;
	char *email_key = utf8_caseless_key(email);
	if (email_key == NULL) { /* not UTF-8 (validation says so first), or out of memory */
		rpc_status_add_violation(st, "email", "email must be valid UTF-8");
		return st->code;
	}
	if (idempotency_key != NULL && idempotency_key[0] != '\0') {
		rpc_code code = create_keyed(d, name, email, email_key, request_id, idempotency_key, out, replayed, st);
		free(email_key);
		return code;
	}
	const char *params[] = {name, email, request_id, email_key};
	PGresult *res        = db_exec(d, insert_sql, 4, params, PGRES_TUPLES_OK, "create_user", st);
	free(email_key);
	if (res == NULL)
		return st->code == RPC_ALREADY_EXISTS ? email_taken(email, st) : st->code;
	read_row(res, 0, out);
	PQclear(res);
	return RPC_OK;
}

rpc_code
user_repo_fill_email_keys(db *d, int64_t *filled, int64_t *left, rpc_status *st)
{
	*filled = *left = 0;
	int64_t after   = 0;
	for (;;) {
		char after_text[24];
		snprintf(after_text, sizeof(after_text), "%" PRId64, after);
		const char *page_params[] = {after_text};
		PGresult *page =
		    db_exec(d, "SELECT id, email FROM users WHERE email_key IS NULL AND id > $1 ORDER BY id LIMIT 500",
		        1, page_params, PGRES_TUPLES_OK, "email_key_page", st);
		if (page == NULL)
			return st->code;
		int n = PQntuples(page);
		for (int i = 0; i < n; i++) {
			const char *id = PQgetvalue(page, i, 0);
			after          = strtoll(id, NULL, 10);
			char *key      = utf8_caseless_key(PQgetvalue(page, i, 1));
			if (key == NULL) {
				log_warn(NULL, "user_email_key_missing id=%s reason=\"email is not UTF-8\"", id);
				(*left)++;
				continue;
			}
			/* Row by row, each its own statement: a key an earlier row
			 * holds fails this row alone. */
			const char *params[] = {id, key};
			PGresult *res =
			    db_exec(d, "UPDATE users SET email_key = $2 WHERE id = $1 AND email_key IS NULL", 2, params,
			        PGRES_COMMAND_OK, "email_key_fill", st);
			free(key);
			if (res != NULL) {
				*filled += strtoll(PQcmdTuples(res), NULL, 10);
				PQclear(res);
			} else if (st->code == RPC_ALREADY_EXISTS) {
				log_warn(NULL,
				    "user_email_key_missing id=%s reason=\"an earlier user has the same email "
				    "under case folding\"",
				    id);
				rpc_status_clear(st);
				(*left)++;
			} else {
				PQclear(page);
				return st->code;
			}
		}
		PQclear(page);
		if (n < 500)
			return RPC_OK;
	}
}

int
user_repo_fill_email_keys_at_start(const char *db_url)
{
	db *d          = db_new(db_url);
	int64_t filled = 0, left = 0;
	if (d != NULL) /* a stop ends a wait on a frozen server (a clean stop) */
		db_set_stop(d, db_stop_signal_pending, NULL);
	rpc_status st;
	rpc_status_clear(&st);
	rpc_code code = d != NULL ? user_repo_fill_email_keys(d, &filled, &left, &st)
	                          : rpc_status_set(&st, RPC_RESOURCE_EXHAUSTED, "out of memory");
	db_free(d);
	if (code != RPC_OK) {
		if (!signals_stop_pending()) /* else a stop cut it: said by the service */
			log_error(
			    NULL, "user_email_keys_failed code=%s detail=\"%s\"", rpc_code_name(code), st.message);
		return -1;
	}
	if (filled > 0 || left > 0)
		log_info(NULL, "user_email_keys_filled filled=%" PRId64 " left_without=%" PRId64, filled, left);
	return 0;
}

rpc_code
user_repo_get(db *d, int64_t id, user_record *out, rpc_status *st)
{
	char id_text[24];
	snprintf(id_text, sizeof(id_text), "%" PRId64, id);
	const char *params[] = {id_text};
	PGresult *res =
	    db_exec(d, "SELECT " USER_COLUMNS " FROM users WHERE id = $1", 1, params, PGRES_TUPLES_OK, "get_user", st);
	if (res == NULL)
		return st->code;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return rpc_status_set(st, RPC_NOT_FOUND, "user %" PRId64 " not found", id);
	}
	read_row(res, 0, out);
	PQclear(res);
	return RPC_OK;
}
