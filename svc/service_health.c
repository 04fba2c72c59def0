/* service_health.h */
#include "svc/service_health.h"

#include <stdio.h>

#include "base/log.h"
#include "rpc/server.h"
#include "rpc/tls_config.h"
#include "svc/service.h"

void
svc_health_begin(svc_health *h, const svc_worker *w)
{
	health__health_reply__init(&h->reply);
	h->reply.dependencies = h->dep_list;
	h->reply.stats        = h->stat_list;
	rpc_status pinged;
	h->postgres_ok = db_ping(w->db, &pinged) == RPC_OK;
	/* Say why (a standby refused at connect is not "unreachable"): libpq's
	 * reason, else the ping's own (a budget too short to ask at all). */
	char pg_detail[SVC_HEALTH_DETAIL_MAX] = "connected";
	if (!h->postgres_ok)
		snprintf(pg_detail, sizeof(pg_detail), "%.*s", (int) sizeof(pg_detail) - 1,
		    db_last_error(w->db)[0] != '\0' ? db_last_error(w->db) : pinged.message);
	svc_health_add_dependency(h, "postgres", h->postgres_ok, pg_detail);
	unsigned uses = w->decl->config.uses;
	if (uses & SVC_USES_REDIS) {
		bool ok = cache_ping(w->cache) == CACHE_HIT;
		/* Redis down only degrades the service: reads go to PostgreSQL.
		 * Say why (a sentinel naming a replica is not "unreachable"),
		 * cut so the tail stays. */
		static const char tail[]           = " (requests are served from postgres)";
		char detail[SVC_HEALTH_DETAIL_MAX] = "connected";
		const char *why                    = cache_last_error(w->cache);
		int pending                        = cache_pending_invalidations();
		if (!ok)
			snprintf(detail, sizeof(detail), "%.*s%s", (int) (sizeof(detail) - sizeof(tail)),
			    why[0] != '\0' ? why : "unreachable", tail);
		else if (pending > 0) /* reachable, yet bypassed: say so */
			snprintf(detail, sizeof(detail),
			    "connected; %d invalidation(s) not landed yet (through Sentinel: no replica acknowledged "
			    "them), so reads are "
			    "served from postgres until they are",
			    pending);
		svc_health_add_dependency(h, "redis", ok, detail);
	}
	if (uses & SVC_USES_RABBITMQ) {
		char detail[SVC_HEALTH_DETAIL_MAX] = "not checked";
		bool ok = w->decl->broker_status != NULL && w->decl->broker_status(w->domain, detail, sizeof(detail));
		svc_health_add_dependency(h, "rabbitmq", ok, detail);
	}
	svc_health_add_stat(h, "rpc_callers_refused_total",
	    "RPC connections refused: no certificate, or one not from a CA of an allowed caller", false,
	    rpc_server_refused_callers());
	svc_health_add_stat(h, "rpc_bad_requests_total",
	    "RPC requests answered without a handler: over the size limit, a malformed envelope or payload, an "
	    "unknown method",
	    false, rpc_server_bad_requests());
	svc_health_add_stat(h, "rpc_tls_sessions_resumed_total",
	    "TLS handshakes of RPC callers that resumed a session from its ticket (no certificate exchange; a "
	    "refused caller's too)",
	    false, rpc_tls_sessions_resumed());
	if (uses & SVC_USES_REDIS) {
		Health__Stat cache_stats[HEALTH_CACHE_STATS];
		health_cache_stats(cache_stats);
		for (int i = 0; i < HEALTH_CACHE_STATS; i++)
			svc_health_add_stat(
			    h, cache_stats[i].name, cache_stats[i].help, cache_stats[i].gauge, cache_stats[i].value);
	}
}

void
svc_health_add_dependency(svc_health *h, const char *name, bool ok, const char *detail)
{
	size_t i = h->reply.n_dependencies;
	if (i >= SVC_HEALTH_MAX_DEPENDENCIES) {
		log_error(NULL, "health_dependency_dropped name=%s", name);
		return;
	}
	snprintf(h->details[i], sizeof(h->details[i]), "%s", detail);
	health_dependency(&h->deps[i], name, ok, h->details[i]);
	h->dep_list[i]          = &h->deps[i];
	h->reply.n_dependencies = i + 1;
}

void
svc_health_add_stat(svc_health *h, const char *name, const char *help, bool gauge, uint64_t value)
{
	size_t i = h->reply.n_stats;
	if (i >= SVC_HEALTH_MAX_STATS) {
		log_error(NULL, "health_stat_dropped name=%s", name);
		return;
	}
	health_stat(&h->stats[i], name, help, gauge, value);
	h->stat_list[i]  = &h->stats[i];
	h->reply.n_stats = i + 1;
}

Health__HealthReply *
svc_health_reply(svc_health *h)
{
	h->reply.ok = true;
	for (size_t i = 0; i < h->reply.n_dependencies; i++)
		h->reply.ok = h->reply.ok && h->deps[i].ok;
	h->reply.instance = (char *) health_instance();
	return &h->reply;
}
