/* user_cache.h */
#include "user_cache.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"

static void
key_of(int64_t id, char *out, size_t len)
{
	snprintf(out, len, "user:%" PRId64, id);
}

cache_result
user_cache_get(cache *c, int64_t id, Users__User **out, cache_lease *lease)
{
	char key[32];
	key_of(id, key, sizeof(key));
	char *value;
	size_t len;
	*out              = NULL;
	cache_result res  = cache_get(c, key, &value, &len, lease);
	if (res != CACHE_HIT)
		return res;
	*out = users__user__unpack(NULL, len, (const uint8_t *) value);
	free(value);
	if (*out == NULL) {
		/* Not ours to read (an older format?): treat as a miss, and the
		 * TTL will replace it. */
		log_warn(NULL, "cache_undecodable key=%s", key);
		return CACHE_MISS;
	}
	return CACHE_HIT;
}

void
user_cache_fill(cache *c, const Users__User *user, int ttl_s, const cache_lease *lease)
{
	char key[32];
	key_of(user->id, key, sizeof(key));
	uint8_t buf[2048];
	size_t len = users__user__get_packed_size(user);
	if (len > sizeof(buf))
		return;
	users__user__pack(user, buf);
	cache_fill(c, key, buf, len, ttl_s, lease);
}
