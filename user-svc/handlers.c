/* handlers.h: validate, call the repository and the cache, fill the reply. */
#include "handlers.h"

#include <stdlib.h>
#include <string.h>

#include "svc/cache.h"
#include "svc/db.h"
#include "svc/health.h"
#include "base/log.h"
#include "rpc/server.h"
#include "outbox_repo.h"
#include "user_cache.h"
#include "user_repo.h"
#include "user_validate.h"

#define IDEMPOTENCY_KEY_MAX 200

typedef struct user_worker {
	const user_handlers_env *env;
	db *db;
	cache *cache;
} user_worker;

void *
user_handlers_worker_open(void *arg, int index)
{
	(void) index;
	const user_handlers_env *env = arg;
	user_worker *w               = calloc(1, sizeof(*w));
	if (w == NULL)
		abort(); /* at start-up only: nothing can be served without it */
	w->env   = env;
	w->db    = db_new(env->cfg->db_url);
	w->cache = cache_new(env->cfg->redis_url, (int) env->cfg->redis_timeout_ms, (int) env->cfg->cache_ttl_s);
	if (w->db == NULL || w->cache == NULL)
		abort();
	return w;
}

void
user_handlers_worker_close(void *state)
{
	user_worker *w = state;
	if (w == NULL)
		return;
	cache_free(w->cache);
	db_free(w->db);
	free(w);
}

/* The reply borrows the record's strings and the caller's timestamp. */
static void
to_message(const user_record *r, Users__User *u, Google__Protobuf__Timestamp *ts)
{
	users__user__init(u);
	google__protobuf__timestamp__init(ts);
	ts->seconds   = r->created_us / 1000000;
	ts->nanos     = (int32_t) (r->created_us % 1000000) * 1000;
	u->id         = r->id;
	u->name       = (char *) r->name;
	u->email      = (char *) r->email;
	u->created_at = ts;
}

static void
user_create_user(Users__UserService_Service *svc, const Users__CreateUserRequest *in, Users__User_Closure done,
    void *closure_data)
{
	(void) svc;
	rpc_call *call  = closure_data;
	user_worker *w  = rpc_call_worker_state(call);
	rpc_status *st  = rpc_call_status(call);
	const char *rid = rpc_call_request_id(call);
	const char *key = rpc_call_metadata(call, "idempotency-key");
	char name[USER_NAME_MAX * 4 + 1];

	bool valid = user_validate_create(in->name, in->email, name, sizeof(name), st);
	if (key != NULL && strlen(key) > IDEMPOTENCY_KEY_MAX) {
		rpc_status_add_violation(st, "Idempotency-Key", "Idempotency-Key must be at most %d characters",
		    IDEMPOTENCY_KEY_MAX);
		valid = false;
	}
	if (!valid) {
		done(NULL, closure_data);
		return;
	}
	user_record rec;
	int replayed;
	if (user_repo_create(w->db, name, in->email, rid, key, &rec, &replayed, st) != RPC_OK) {
		done(NULL, closure_data);
		return;
	}
	Users__User user;
	Google__Protobuf__Timestamp ts;
	to_message(&rec, &user, &ts);
	if (!replayed)
		outbox_wake(w->env->relay);
	done(&user, closure_data);
	if (replayed)
		log_info(rid, "user_create_replayed id=%lld", (long long) rec.id);
	else
		log_info(rid, "user_inserted id=%lld", (long long) rec.id);
}

static void
user_get_user(Users__UserService_Service *svc, const Users__GetUserRequest *in, Users__User_Closure done,
    void *closure_data)
{
	(void) svc;
	rpc_call *call = closure_data;
	user_worker *w = rpc_call_worker_state(call);
	rpc_status *st = rpc_call_status(call);
	if (!user_validate_id(in->id, "id", st)) {
		done(NULL, closure_data);
		return;
	}
	/* 1. Redis first; an error there reads as a miss without a lease. */
	Users__User *cached;
	cache_lease lease;
	if (user_cache_get(w->cache, in->id, &cached, &lease) == CACHE_HIT) {
		done(cached, closure_data);
		users__user__free_unpacked(cached, NULL);
		return;
	}
	/* 2. PostgreSQL. */
	user_record rec;
	if (user_repo_get(w->db, in->id, &rec, st) != RPC_OK) {
		/* Nothing to fill: a lease kept would stop the fill of a user
		 * created in the next seconds. */
		user_cache_release(w->cache, in->id, &lease);
		done(NULL, closure_data);
		return;
	}
	Users__User user;
	Google__Protobuf__Timestamp ts;
	to_message(&rec, &user, &ts);
	/* 3. Fill, unless an invalidation took our lease meanwhile. */
	user_cache_fill(w->cache, &user, (int) w->env->cfg->cache_ttl_s, &lease);
	done(&user, closure_data);
}

static void
user_health(Users__UserService_Service *svc, const Health__HealthRequest *in, Health__HealthReply_Closure done,
    void *closure_data)
{
	(void) svc;
	(void) in;
	rpc_call *call = closure_data;
	user_worker *w = rpc_call_worker_state(call);
	rpc_status ignored;
	Health__Dependency pg, redis, amqp;
	char relay_detail[160];
	bool pg_ok    = db_ping(w->db, &ignored) == RPC_OK;
	bool redis_ok = cache_ping(w->cache) == CACHE_HIT;
	bool amqp_ok  = outbox_status(w->env->relay, relay_detail, sizeof(relay_detail));
	health_dependency(&pg, "postgres", pg_ok, pg_ok ? "connected" : "unreachable");
	health_dependency(&redis, "redis", redis_ok, redis_ok ? "connected" : "unreachable (requests are served from postgres)");
	health_dependency(&amqp, "rabbitmq", amqp_ok, relay_detail);
	Health__Dependency *deps[] = {&pg, &redis, &amqp};
	Health__HealthReply reply  = HEALTH__HEALTH_REPLY__INIT;
	/* CONTRACT.md: ready when every dependency is reachable. (Redis and
	 * RabbitMQ being down only degrade the service: creates and reads
	 * still succeed, and the detail says so.) */
	reply.ok             = pg_ok && redis_ok && amqp_ok;
	reply.n_dependencies = 3;
	reply.dependencies   = deps;

	Health__Stat stats[HEALTH_CACHE_STATS + 2];
	Health__Stat *stat_list[HEALTH_CACHE_STATS + 2];
	health_cache_stats(stats);
	health_stat(&stats[HEALTH_CACHE_STATS], "events_published_total",
	    "user_created events the broker confirmed and routed", false, outbox_published(w->env->relay));
	size_t n_stats = HEALTH_CACHE_STATS + 1;
	int64_t backlog;
	if (pg_ok && outbox_repo_backlog(w->db, &backlog, &ignored) == RPC_OK)
		health_stat(&stats[n_stats++], "outbox_backlog", "user_created events waiting in the outbox", true,
		    (uint64_t) backlog);
	for (size_t i = 0; i < n_stats; i++)
		stat_list[i] = &stats[i];
	reply.n_stats  = n_stats;
	reply.stats    = stat_list;
	reply.instance = (char *) health_instance();
	done(&reply, closure_data);
}

Users__UserService_Service user_service = USERS__USER_SERVICE__INIT(user_);
