/* The workers' states, made and closed together. */
#include "svc/workers.h"

#include <stdlib.h>

#include "svc/service.h"

struct svc_workers {
	svc_worker *items;
	int n;
};

rpc_code
svc_workers_open(svc_workers **out, const svc_declaration *decl, const svc_config *cfg, void *domain, rpc_status *st)
{
	*out = NULL;
	if (cfg->workers < 1)
		return rpc_status_set(st, RPC_INVALID_ARGUMENT, "WORKERS must be at least 1");
	svc_workers *ws = calloc(1, sizeof(*ws));
	if (ws == NULL || (ws->items = calloc((size_t) cfg->workers, sizeof(svc_worker))) == NULL) {
		free(ws);
		return rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "out of memory for %ld workers", cfg->workers);
	}
	for (int i = 0; i < (int) cfg->workers; i++) {
		svc_worker *w = &ws->items[i];
		ws->n         = i + 1; /* so a failure below is cleaned up by close */
		*w            = (svc_worker){.decl = decl, .cfg = cfg, .domain = domain, .index = i};
		if ((w->db = db_new(cfg->db_url)) == NULL) {
			svc_workers_close(ws);
			return rpc_status_set(
			    st, RPC_RESOURCE_EXHAUSTED, "worker %d: out of memory for its PostgreSQL handle", i);
		}
		if (decl->config.uses & SVC_USES_REDIS) {
			w->cache = cache_new(cfg->redis_url, (int) cfg->redis_timeout_ms, (int) cfg->cache_ttl_s);
			if (w->cache == NULL) {
				svc_workers_close(ws);
				/* REDIS_URL was checked at start: only memory can be missing. */
				return rpc_status_set(
				    st, RPC_RESOURCE_EXHAUSTED, "worker %d: out of memory for its Redis cache", i);
			}
		}
	}
	*out = ws;
	return RPC_OK;
}

void *
svc_workers_state(void *workers, int index)
{
	svc_workers *ws = workers;
	return &ws->items[index];
}

/* Kept back from a call's deadline for the reply: the caller's deadline
 * began when it sent, ours when the request arrived. */
#define REPLY_MS 50

void
svc_workers_call_begin(void *state, const rpc_call *call)
{
	svc_worker *w = state;
	db_set_deadline(w->db, rpc_call_deadline_ms(call) - REPLY_MS);
	db_set_request_id(w->db, rpc_call_request_id(call));
}

void
svc_workers_close(svc_workers *ws)
{
	if (ws == NULL)
		return;
	for (int i = 0; i < ws->n; i++) {
		cache_free(ws->items[i].cache);
		db_free(ws->items[i].db);
	}
	free(ws->items);
	free(ws);
}
