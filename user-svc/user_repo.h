/* Every SQL statement of user-svc's requests; SQLSTATE → status. */
#ifndef USER_SVC_USER_REPO_H
#define USER_SVC_USER_REPO_H

#include <stdint.h>

#include "rpc/status.h"
#include "svc/db.h"

typedef struct user_record {
	int64_t id;
	char name[512]; /* 100 characters of up to 4 UTF-8 bytes, and more */
	char email[1024];
	int64_t created_us; /* microseconds since the epoch */
} user_record;

/* Inserts the user and its outbox row in one statement (so in one
 * transaction). With an idempotency key: a key seen in the last 24 h with
 * the same name and email returns the user it created (*replayed = 1); with
 * other values, ALREADY_EXISTS. A registered email is ALREADY_EXISTS: two
 * emails are the same when their utf8_caseless_key (NFC of the full case
 * folding) is, whatever the database's locale; the email is stored as
 * given. An email that is not UTF-8 is INVALID_ARGUMENT. */
rpc_code user_repo_create(db *d, const char *name, const char *email, const char *request_id,
    const char *idempotency_key, user_record *out, int *replayed, rpc_status *st);

/* Gives every user created before migration 004 its email key, row by row
 * (in pages by id). A row whose key an earlier row already holds keeps
 * none and is logged (user_email_key_missing): the address stays taken by
 * that earlier row. Safe to run again and from replicas at once. *filled
 * counts the keys written, *left the rows left without one. */
rpc_code user_repo_fill_email_keys(db *d, int64_t *filled, int64_t *left, rpc_status *st);

/* user_repo_fill_email_keys on a connection of its own, after the
 * migrations and before serving; logs what it did. Returns 0, or -1 when
 * PostgreSQL failed (logged). */
int user_repo_fill_email_keys_at_start(const char *db_url);

/* NOT_FOUND when there is no such user. */
rpc_code user_repo_get(db *d, int64_t id, user_record *out, rpc_status *st);

#endif
