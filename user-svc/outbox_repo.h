/* Every SQL statement on the outbox table but the insert (which stays in
 * user_repo's create statement, so the user and its event commit together):
 * the relay's claim, delete and commit, and the backlog count. Columns are
 * read by name, their numbers looked up once per claim. One outbox_repo
 * call at a time per db (db.h: one db per thread). */
#ifndef USER_SVC_OUTBOX_REPO_H
#define USER_SVC_OUTBOX_REPO_H

#include <stdint.h>

#include "rpc/status.h"
#include "svc/db.h"

#define OUTBOX_REPO_BATCH_MAX 100

/* One claimed row with its user. Strings are borrowed from the batch until
 * outbox_repo_batch_free. */
typedef struct outbox_event {
	int64_t row_id;       /* outbox.id */
	const char *event_id; /* UUID text */
	const char *request_id;
	int64_t occurred_us; /* outbox.created_at, microseconds since the epoch */
	int64_t user_id;
	const char *name;
	const char *email;
	int64_t user_created_us;
} outbox_event;

typedef struct outbox_batch {
	PGresult *res; /* owns the strings of events */
	int n;
	outbox_event events[OUTBOX_REPO_BATCH_MAX];
} outbox_batch;

/* Begins a transaction and claims up to limit (1..OUTBOX_REPO_BATCH_MAX)
 * rows, oldest first, FOR UPDATE SKIP LOCKED (rows another relay holds are
 * passed over). With b->n > 0 the transaction stays open: end it with
 * outbox_repo_delete or outbox_repo_release. With none, it is already
 * committed. On failure nothing is left open and b is empty. */
rpc_code outbox_repo_claim(db *d, int limit, outbox_batch *b, rpc_status *st);

/* Deletes the rows row_ids[0..n) (n may be 0) and commits the claim's
 * transaction; on failure rolls it back, and the rows stay to be published
 * again. */
rpc_code outbox_repo_delete(db *d, const int64_t *row_ids, int n, rpc_status *st);

/* Rolls the claim's transaction back: every claimed row stays. */
void outbox_repo_release(db *d);

/* Frees the batch's rows; accepts an empty or freed batch. */
void outbox_repo_batch_free(outbox_batch *b);

/* Events waiting in the outbox (not yet confirmed by the broker). */
rpc_code outbox_repo_backlog(db *d, int64_t *n, rpc_status *st);

#endif
