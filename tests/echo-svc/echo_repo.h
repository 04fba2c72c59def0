/* echo-svc's table (migrations/001_echoes.sql): insert and read a text. */
#ifndef ECHO_SVC_ECHO_REPO_H
#define ECHO_SVC_ECHO_REPO_H

#include <stddef.h>
#include <stdint.h>

#include "rpc/status.h"
#include "svc/db.h"

/* Stores text; *id is its new id. RPC_OK or the failure (UNAVAILABLE
 * without PostgreSQL) in st. */
rpc_code echo_repo_create(db *d, const char *text, int64_t *id, rpc_status *st);

/* Copies text id's text to out (out_len bytes, NUL-terminated); NOT_FOUND
 * naming the id when there is none. */
rpc_code echo_repo_get(db *d, int64_t id, char *out, size_t out_len, rpc_status *st);

#endif
