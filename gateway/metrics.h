/* The gateway's own metrics, and their Prometheus text exposition: requests
 * by route and status, a latency histogram by route, RPC errors by service
 * and code. Counting is lock-free, so every request can afford it. */
#ifndef GATEWAY_METRICS_H
#define GATEWAY_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "health.pb-c.h"
#include "routes.h"
#include "rpc/status.h"

/* One finished request; route is NULL when no route matched. */
void metrics_observe_request(const route *r, int status, int64_t ms);

/* One RPC to contract_services[service] that ended with code (anything but RPC_OK). */
void metrics_count_rpc_error(size_t service, rpc_code code);

/* One answer that ended its connection because every worker was held. */
void metrics_count_connection_turn(void);

/* The exposition: the gateway's metrics (with its open connections and
 * workers, read by the caller), then for each registry service whether it
 * answered (health[s] non-NULL, s < contract_services_count) and the stats
 * it reported. malloc'd; NULL when out
 * of memory. */
char *metrics_render(Health__HealthReply *const health[CONTRACT_SERVICES_MAX], long open_connections, long workers);

#endif
