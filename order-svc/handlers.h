/* One function per orders.OrderService method, and each worker's state:
 * its own PostgreSQL connection and Redis cache. */
#ifndef ORDER_SVC_HANDLERS_H
#define ORDER_SVC_HANDLERS_H

#include "config.h"
#include "events_consumer.h"
#include "orders.pb-c.h"
#include "rpc/client.h"

/* What every worker shares, read-only. */
typedef struct order_handlers_env {
	const order_config *cfg;
	rpc_client *users;                /* user-svc; thread-safe */
	const events_consumer *consumer; /* for Health */
} order_handlers_env;

extern Orders__OrderService_Service order_service;

void *order_handlers_worker_open(void *arg, int index);
void order_handlers_worker_close(void *state);

#endif
