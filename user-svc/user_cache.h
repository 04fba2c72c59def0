/* The user cache: key user:{id}, value the packed users.User, TTL from
 * configuration. Never fails a request: errors read as misses. */
#ifndef USER_SVC_USER_CACHE_H
#define USER_SVC_USER_CACHE_H

#include <stdint.h>

#include "svc/cache.h"
#include "users.pb-c.h"

/* HIT: *out is unpacked (free with users__user__free_unpacked). MISS: lease
 * says whether this caller should fill. ERROR: Redis failed (logged and
 * counted); go to the database. */
cache_result user_cache_get(cache *c, int64_t id, Users__User **out, cache_lease *lease);

/* Gives the lease back when there is nothing to fill (no such user). */
void user_cache_release(cache *c, int64_t id, const cache_lease *lease);

/* Stores user if the lease is still valid. */
void user_cache_fill(cache *c, const Users__User *user, int ttl_s, const cache_lease *lease);

#endif
