/* handlers.h: validate, ask user-svc, call the repository and the cache. */
#include "handlers.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "order_cache.h"
#include "order_repo.h"
#include "order_validate.h"
#include "rpc/server.h"
#include "svc/cache.h"
#include "svc/db.h"
#include "svc/request_fields.h"
#include "svc/service_health.h"
#include "svc/workers.h"
#include "user_client.h"
#include "users.pb-c.h"

/* Time kept back from the caller's deadline for our own insert and reply. */
#define OWN_WORK_MS 50

/* An order message borrowing the record's strings and the caller's parts. */
typedef struct order_parts {
	Orders__Order order;
	Google__Protobuf__Timestamp created_at;
	Google__Type__Decimal price;
} order_parts;

static void
to_message(const order_record *r, order_parts *p)
{
	orders__order__init(&p->order);
	google__protobuf__timestamp__init(&p->created_at);
	google__type__decimal__init(&p->price);
	p->created_at.seconds = r->created_us / 1000000;
	p->created_at.nanos   = (int32_t) (r->created_us % 1000000) * 1000;
	p->price.value        = (char *) r->price;
	p->order.id           = r->id;
	p->order.user_id      = r->user_id;
	p->order.product      = (char *) r->product;
	p->order.price        = &p->price;
	p->order.status       = (char *) r->status;
	p->order.created_at   = &p->created_at;
}

static void
order_create_order(Orders__OrderService_Service *svc, const Orders__CreateOrderRequest *in, Orders__Order_Closure done,
    void *closure_data)
{
	(void) svc;
	rpc_call *call  = closure_data;
	svc_worker *w   = rpc_call_worker_state(call);
	rpc_status *st  = rpc_call_status(call);
	const char *rid = rpc_call_request_id(call);
	const char *key;
	order_record req = {.user_id = in->user_id}, rec;
	int replayed     = 0;

	/* 1. Validate everything, reporting every problem. */
	bool valid = order_validate_create(in->user_id, in->product, in->price != NULL ? in->price->value : NULL,
	    in->status, req.product, sizeof(req.product), req.status, sizeof(req.status), st);
	if (!svc_idempotency_key(call, &key, st) || !valid)
		goto fail;
	snprintf(req.price, sizeof(req.price), "%s", in->price->value);

	/* 2. A key already used answers without asking anyone. */
	if (key != NULL && key[0] != '\0') {
		char fingerprint[2048];
		int64_t existing;
		order_repo_fingerprint(&req, fingerprint, sizeof(fingerprint));
		if (order_repo_find_key(w->db, key, fingerprint, &existing, st) != RPC_OK)
			goto fail;
		if (existing > 0) {
			if (order_repo_get(w->db, existing, &rec, st) != RPC_OK)
				goto fail;
			replayed = 1;
			goto reply;
		}
	}

	/* 3. Does the user exist? Asked of user-svc over nng, within what is
	 *    left of the caller's deadline; a failure to ask is never "no". */
	if (user_client_exists(((const order_domain *) w->domain)->users, in->user_id,
	        rpc_call_remaining_ms(call) - OWN_WORK_MS, rid, st) != RPC_OK)
		goto fail;

	/* 4. Insert, then drop the user's cached list (after the commit), so
	 *    the next read shows the new order. */
	if (order_repo_create(w->db, &req, key, &rec, &replayed, st) != RPC_OK)
		goto fail;
	order_cache_invalidate(w->cache, rec.user_id);
reply:;
	order_parts parts;
	to_message(&rec, &parts);
	done(&parts.order, closure_data);
	log_info(rid, "%s id=%lld user=%lld", replayed ? "order_create_replayed" : "order_created", (long long) rec.id,
	    (long long) rec.user_id);
	return;
fail:
	done(NULL, closure_data);
}

static void
order_get_order(Orders__OrderService_Service *svc, const Orders__GetOrderRequest *in, Orders__Order_Closure done,
    void *closure_data)
{
	(void) svc;
	rpc_call *call = closure_data;
	svc_worker *w  = rpc_call_worker_state(call);
	rpc_status *st = rpc_call_status(call);
	order_record rec;
	if (!svc_validate_id(in->id, "id", st) || order_repo_get(w->db, in->id, &rec, st) != RPC_OK) {
		done(NULL, closure_data);
		return;
	}
	order_parts parts;
	to_message(&rec, &parts);
	done(&parts.order, closure_data);
}

static void
order_list_orders_by_user(Orders__OrderService_Service *svc, const Orders__ListOrdersByUserRequest *in,
    Orders__OrderList_Closure done, void *closure_data)
{
	(void) svc;
	rpc_call *call = closure_data;
	svc_worker *w  = rpc_call_worker_state(call);
	rpc_status *st = rpc_call_status(call);
	if (!svc_validate_id(in->user_id, "userId", st)) {
		done(NULL, closure_data);
		return;
	}
	/* 1. Redis first; an error there reads as a miss without a lease. */
	Orders__OrderList *cached;
	cache_lease lease;
	if (order_cache_get(w->cache, in->user_id, &cached, &lease) == CACHE_HIT) {
		done(cached, closure_data);
		orders__order_list__free_unpacked(cached, NULL);
		return;
	}
	/* 2. PostgreSQL, oldest first. */
	order_record *rows;
	int n;
	if (order_repo_list_by_user(w->db, in->user_id, &rows, &n, st) != RPC_OK) {
		order_cache_release(w->cache, in->user_id, &lease);
		done(NULL, closure_data);
		return;
	}
	order_parts *parts     = n > 0 ? calloc((size_t) n, sizeof(order_parts)) : NULL;
	Orders__Order **items  = n > 0 ? calloc((size_t) n, sizeof(Orders__Order *)) : NULL;
	Orders__OrderList list = ORDERS__ORDER_LIST__INIT;
	if (n > 0 && (parts == NULL || items == NULL)) {
		order_cache_release(w->cache, in->user_id, &lease);
		rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "too many orders");
		done(NULL, closure_data);
	} else {
		for (int i = 0; i < n; i++) {
			to_message(&rows[i], &parts[i]);
			items[i] = &parts[i].order;
		}
		list.n_orders = (size_t) n;
		list.orders   = items;
		/* 3. Fill, unless a create invalidated the key meanwhile: then the
		 *    list we read may be stale, and the lease is gone. */
		order_cache_fill(w->cache, in->user_id, &list, (int) w->cfg->cache_ttl_s, &lease);
		done(&list, closure_data);
	}
	free(items);
	free(parts);
	free(rows);
}

static void
order_health(Orders__OrderService_Service *svc, const Health__HealthRequest *in, Health__HealthReply_Closure done,
    void *closure_data)
{
	(void) svc;
	(void) in;
	rpc_call *call        = closure_data;
	svc_worker *w         = rpc_call_worker_state(call);
	const order_domain *d = w->domain;
	rpc_status ignored;
	Health__HealthRequest ping = HEALTH__HEALTH_REQUEST__INIT;
	ProtobufCMessage *reply    = NULL;
	rpc_call_options opt       = {.request_id = rpc_call_request_id(call), .timeout_ms = 300};
	bool users_ok = rpc_client_call(d->users, &users__user_service__descriptor, "Health", &ping.base, &reply, &opt,
	                    &ignored) == RPC_OK;
	protobuf_c_message_free_unpacked(reply, NULL);
	svc_health h;
	svc_health_begin(&h, w); /* postgres, redis, rabbitmq (the consumer's state) */
	svc_health_add_dependency(
	    &h, "user-svc", users_ok, users_ok ? "reachable" : "unreachable (orders cannot be created)");
	uint64_t consumed, duplicates, dead_lettered;
	events_consumer_counts(d->consumer, &consumed, &duplicates, &dead_lettered);
	svc_health_add_stat(&h, "events_consumed_total", "user_created events handled (logged) once", false, consumed);
	svc_health_add_stat(
	    &h, "events_duplicate_total", "redelivered user_created events recognised and skipped", false, duplicates);
	svc_health_add_stat(&h, "events_dead_lettered_total", "undecodable messages sent to the dead-letter queue",
	    false, dead_lettered);
	done(svc_health_reply(&h), closure_data);
}

Orders__OrderService_Service order_service = ORDERS__ORDER_SERVICE__INIT(order_);
