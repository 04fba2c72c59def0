/* order_cache.h: the key, and the message type of the value. */
#include "order_cache.h"

#include <inttypes.h>
#include <stdio.h>

static void
key_of(int64_t user_id, char *out, size_t len)
{
	snprintf(out, len, "orders:user:%" PRId64, user_id);
}

cache_result
order_cache_get(cache *c, int64_t user_id, Orders__OrderList **out, cache_lease *lease)
{
	char key[48];
	key_of(user_id, key, sizeof(key));
	return cache_get_message(c, key, &orders__order_list__descriptor, (ProtobufCMessage **) out, lease);
}

void
order_cache_fill(cache *c, int64_t user_id, const Orders__OrderList *list, int ttl_s, const cache_lease *lease)
{
	char key[48];
	key_of(user_id, key, sizeof(key));
	cache_fill_message(c, key, &list->base, ttl_s, lease);
}

void
order_cache_invalidate(cache *c, int64_t user_id)
{
	char key[48];
	key_of(user_id, key, sizeof(key));
	cache_invalidate(c, key);
}

void
order_cache_release(cache *c, int64_t user_id, const cache_lease *lease)
{
	char key[48];
	key_of(user_id, key, sizeof(key));
	cache_release(c, key, lease);
}
