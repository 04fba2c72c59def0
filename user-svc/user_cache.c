/* user_cache.h: the key, and the message type of the value. */
#include "user_cache.h"

#include <inttypes.h>
#include <stdio.h>

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
	return cache_get_message(c, key, &users__user__descriptor, (ProtobufCMessage **) out, lease);
}

void
user_cache_fill(cache *c, const Users__User *user, int ttl_s, const cache_lease *lease)
{
	char key[32];
	key_of(user->id, key, sizeof(key));
	cache_fill_message(c, key, &user->base, ttl_s, lease);
}

void
user_cache_release(cache *c, int64_t id, const cache_lease *lease)
{
	char key[32];
	key_of(id, key, sizeof(key));
	cache_release(c, key, lease);
}
