/* The order-list cache: key orders:user:{id}, value the packed OrderList,
 * TTL from configuration; invalidated after each create's commit. */
#ifndef ORDER_SVC_ORDER_CACHE_H
#define ORDER_SVC_ORDER_CACHE_H

#include <stdint.h>

#include "orders.pb-c.h"
#include "svc/cache.h"

cache_result order_cache_get(cache *c, int64_t user_id, Orders__OrderList **out, cache_lease *lease);
void order_cache_fill(cache *c, int64_t user_id, const Orders__OrderList *list, int ttl_s, const cache_lease *lease);
void order_cache_invalidate(cache *c, int64_t user_id);
void order_cache_release(cache *c, int64_t user_id, const cache_lease *lease);

#endif
