/* The Health reply of a service built on the skeleton: PostgreSQL (a round
 * trip on the worker's connection), Redis (with SVC_USES_REDIS: a PING and
 * the cache's counters) and RabbitMQ (with SVC_USES_RABBITMQ: the
 * declaration's broker_status), in that order, then the RPC server's
 * rpc_callers_refused_total, rpc_bad_requests_total and
 * rpc_tls_sessions_resumed_total, and the cache's counters; the service
 * adds its own dependencies and stats, then sends the reply.
 *
 *     svc_health h;
 *     svc_health_begin(&h, rpc_call_worker_state(call));
 *     svc_health_add_stat(&h, "events_published_total", "...", false, n);
 *     done(svc_health_reply(&h), closure_data);
 *
 * CONTRACT.md: ok when every dependency is reachable. The builder lives on
 * the handler's stack and borrows nothing after svc_health_reply's reply
 * is sent. */
#ifndef SVC_SERVICE_HEALTH_H
#define SVC_SERVICE_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "health.pb-c.h"
#include "svc/health.h"
#include "svc/workers.h"

#define SVC_HEALTH_MAX_DEPENDENCIES 8
#define SVC_HEALTH_MAX_STATS 16
#define SVC_HEALTH_DETAIL_MAX 160

typedef struct svc_health {
	Health__HealthReply reply;
	Health__Dependency deps[SVC_HEALTH_MAX_DEPENDENCIES];
	Health__Dependency *dep_list[SVC_HEALTH_MAX_DEPENDENCIES];
	char details[SVC_HEALTH_MAX_DEPENDENCIES][SVC_HEALTH_DETAIL_MAX];
	Health__Stat stats[SVC_HEALTH_MAX_STATS];
	Health__Stat *stat_list[SVC_HEALTH_MAX_STATS];
	bool postgres_ok; /* for stats that need a query */
} svc_health;

/* Checks the backing servers w's service declares. */
void svc_health_begin(svc_health *h, const svc_worker *w);

/* Adds a dependency; name is borrowed, detail copied (shortened to
 * SVC_HEALTH_DETAIL_MAX - 1 bytes). Beyond SVC_HEALTH_MAX_DEPENDENCIES it
 * is dropped and logged (a programming error). */
void svc_health_add_dependency(svc_health *h, const char *name, bool ok, const char *detail);

/* Adds a stat; name and help are borrowed. Beyond SVC_HEALTH_MAX_STATS it
 * is dropped and logged. */
void svc_health_add_stat(svc_health *h, const char *name, const char *help, bool gauge, uint64_t value);

/* The reply, ok when every dependency is; borrowed from h. */
Health__HealthReply *svc_health_reply(svc_health *h);

#endif
