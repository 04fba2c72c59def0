/* Redis cache-aside with fills guarded against the stale-set race, in the
 * manner of the leases of "Scaling Memcache at Facebook": a miss takes a
 * lease token, a fill stores its value only if its token is still the
 * lease (checked atomically in Redis), and an invalidation deletes value
 * and lease together, so a fill that read old data before the delete loses.
 * Redis being down or slow never fails the caller: every operation reports
 * CACHE_ERROR, which callers treat as a miss; errors are logged and counted,
 * and the connection is re-made with backoff. One cache per thread.
 * Through Redis Sentinel (a redis-sentinel:// URL, sentinel.h) the master
 * is asked of the sentinels at each connect, and an invalidation must also
 * reach a replica (see cache_invalidate). */
#ifndef SVC_CACHE_H
#define SVC_CACHE_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cache cache;

typedef enum cache_result {
	CACHE_HIT,
	CACHE_MISS,
	CACHE_ERROR, /* Redis unreachable, slow or refusing: serve from the database */
} cache_result;

typedef struct cache_lease {
	char token[40]; /* empty: no lease (another filler holds it, or Redis failed) */
} cache_lease;

/* Parses redis://[[user]:password@]host[:port][/db] strictly (port and db
 * digits only; a user name without a password is refused, hiredis 0.14
 * having no ACL login). Returns 0, or -1 with a reason in err that does not
 * repeat the URL (it may hold the password). */
int cache_parse_url(const char *url, char *host, size_t host_len, int *port, int *db, char *password,
    size_t password_len, char *err, size_t errlen);

/* A cache for url (already validated with cache_env_parse_url: redis:// or
 * redis-sentinel://) whose commands each time out after timeout_ms, and
 * each reconnect as a whole too (the Sentinel lookup, connect, AUTH, ROLE,
 * SELECT sharing one timeout_ms); max_ttl_s is the longest TTL it stores.
 * Connects lazily. NULL when out of memory. */
cache *cache_new(const char *url, int timeout_ms, int max_ttl_s);
void cache_free(cache *c); /* accepts NULL */

/* Looks key up. On HIT *value is malloc'd (free it) with *len bytes. On
 * MISS, lease gets a token when this caller should fill the key. */
cache_result cache_get(cache *c, const char *key, char **value, size_t *len, cache_lease *lease);

/* Stores value under key for ttl_s seconds if lease is still key's lease.
 * Returns HIT when stored, MISS when the lease was lost (the key was
 * invalidated meanwhile, or no lease was held), ERROR on failure. */
cache_result cache_fill(cache *c, const char *key, const void *value, size_t len, int ttl_s, const cache_lease *lease);

/* Gives a lease back unused (the value turned out not to exist, or could not
 * be read), so the next miss may fill at once instead of after the lease
 * lapses. Only our own token is removed. */
void cache_release(cache *c, const char *key, const cache_lease *lease);

/* cache_get for a value that is a packed protobuf message of type desc: on
 * HIT *out is unpacked (free with protobuf_c_message_free_unpacked); a value
 * that does not unpack reads as a MISS (the TTL replaces it). */
cache_result cache_get_message(
    cache *c, const char *key, const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out, cache_lease *lease);

/* cache_fill with msg, packed. */
cache_result cache_fill_message(
    cache *c, const char *key, const ProtobufCMessage *msg, int ttl_s, const cache_lease *lease);

/* Deletes key and its lease, so no fill begun before now can land. When
 * Redis cannot be reached, the key is remembered and deleted before any
 * later command of any cache in the process, so a stale value is never
 * served once Redis is back. Through Sentinel the delete counts only once a
 * replica acknowledged it (WAIT 1, within half the timeout), since the
 * replica Sentinel promotes may lack what the old master acknowledged:
 * until then CACHE_ERROR, the key is remembered likewise (no cached read
 * in this process; sent again, at most every second, to whichever server
 * is master). */
cache_result cache_invalidate(cache *c, const char *key);

/* PING; for health checks. */
cache_result cache_ping(cache *c);

/* Why c's last connect or command failed ("connect H:P: Connection
 * refused", "sentinel H:P names H2:P2 as master M, which is a replica
 * (ROLE)", what each sentinel did...); "" while connected. Owned by c,
 * valid until its next call; for health checks. */
const char *cache_last_error(const cache *c);

/* An ENV_CUSTOM parser (env.h) for REDIS_URL, redis:// (cache_parse_url)
 * or redis-sentinel:// (sentinel_parse_url): checks it, keeps the text. */
int cache_env_parse_url(const char *text, void *out, char *err, size_t errlen);

/* Keys whose delete has not landed yet (Redis unreachable, or through
 * Sentinel no replica acknowledged it): while any is, no read of the
 * process trusts the cache (cache_invalidate). For health checks. */
int cache_pending_invalidations(void);

/* Errors seen by every cache of the process. */
uint64_t cache_error_count(void);

/* Reads cache_get answered from Redis, and those it did not (misses and
 * errors both go to the database), in this process. */
uint64_t cache_hit_count(void);
uint64_t cache_miss_count(void);

#endif
