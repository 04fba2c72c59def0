/* Each RPC worker's state: its own PostgreSQL connection and, when the
 * service uses Redis, its own cache (libpq and hiredis connections are not
 * thread-safe, so workers share none and take no lock). All are allocated
 * before the server listens, so a failure (memory) is reported with its
 * reason and the service exits before it accepts a request; the connections
 * themselves are made on first use and re-made after a fault (db.h,
 * cache.h), so a backing server that is down degrades the service instead
 * of stopping it. */
#ifndef SVC_WORKERS_H
#define SVC_WORKERS_H

#include "rpc/server.h"
#include "rpc/status.h"
#include "svc/cache.h"
#include "svc/db.h"
#include "svc/service_config.h"

struct svc_declaration;

/* What a handler gets from rpc_call_worker_state(call). Owned by the
 * skeleton; used by one worker thread at a time. */
typedef struct svc_worker {
	const struct svc_declaration *decl;
	const svc_config *cfg;
	void *domain; /* what the service's start hook made: shared by every worker, read-only
	                 or thread-safe */
	db *db;       /* this worker's PostgreSQL connection (connects lazily) */
	cache *cache; /* this worker's Redis cache; NULL without SVC_USES_REDIS */
	int index;    /* 0 .. cfg->workers - 1 */
} svc_worker;

typedef struct svc_workers svc_workers;

/* Makes cfg->workers worker states. Returns RPC_OK with *out the caller's
 * (svc_workers_close), or RESOURCE_EXHAUSTED / INVALID_ARGUMENT with st
 * naming the worker and what could not be made, and nothing left open.
 * cfg, decl and domain must outlive the result. */
rpc_code svc_workers_open(
    svc_workers **out, const struct svc_declaration *decl, const svc_config *cfg, void *domain, rpc_status *st);

/* rpc_server_options.worker_open with arg = the svc_workers: returns the
 * index-th state (made already, so this cannot fail). */
void *svc_workers_state(void *workers, int index);

/* rpc_server_options.call_begin: the worker's PostgreSQL connects end
 * before the call's deadline (db_set_deadline), less the time its reply
 * needs to reach the caller, whose clock started first. */
void svc_workers_call_begin(void *state, const rpc_call *call);

/* Closes every connection and frees; after rpc_server_close. Accepts NULL. */
void svc_workers_close(svc_workers *ws);

#endif
