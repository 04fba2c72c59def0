/* order_cache.h */
#include "order_cache.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"

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
	char *value;
	size_t len;
	*out             = NULL;
	cache_result res = cache_get(c, key, &value, &len, lease);
	if (res != CACHE_HIT)
		return res;
	*out = orders__order_list__unpack(NULL, len, (const uint8_t *) value);
	free(value);
	if (*out == NULL) {
		log_warn(NULL, "cache_undecodable key=%s", key);
		return CACHE_MISS;
	}
	return CACHE_HIT;
}

void
order_cache_fill(cache *c, int64_t user_id, const Orders__OrderList *list, int ttl_s, const cache_lease *lease)
{
	char key[48];
	key_of(user_id, key, sizeof(key));
	size_t len   = orders__order_list__get_packed_size(list);
	uint8_t *buf = malloc(len > 0 ? len : 1);
	if (buf == NULL)
		return;
	orders__order_list__pack(list, buf);
	cache_fill(c, key, buf, len, ttl_s, lease);
	free(buf);
}

void
order_cache_invalidate(cache *c, int64_t user_id)
{
	char key[48];
	key_of(user_id, key, sizeof(key));
	cache_invalidate(c, key);
}
