/* One function per orders.OrderService method. Each worker's state is the
 * skeleton's svc_worker (svc/workers.h), its domain an order_domain. */
#ifndef ORDER_SVC_HANDLERS_H
#define ORDER_SVC_HANDLERS_H

#include "events_consumer.h"
#include "orders.pb-c.h"
#include "rpc/client.h"

/* What every worker shares (svc_worker.domain), made by main.c's start. */
typedef struct order_domain {
	rpc_client *users;         /* user-svc; thread-safe */
	events_consumer *consumer; /* Health reads its state; thread-safe */
} order_domain;

extern Orders__OrderService_Service order_service;

#endif
