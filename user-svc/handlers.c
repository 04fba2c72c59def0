/* handlers.h: validate, call the repository and the cache, fill the reply. */
#include "handlers.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "outbox_repo.h"
#include "rpc/server.h"
#include "svc/cache.h"
#include "svc/db.h"
#include "svc/request_fields.h"
#include "svc/service_health.h"
#include "svc/workers.h"
#include "user_cache.h"
#include "user_repo.h"
#include "user_validate.h"

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
user_create_user(
    Users__UserService_Service *svc, const Users__CreateUserRequest *in, Users__User_Closure done, void *closure_data)
{
	(void) svc;
	rpc_call *call  = closure_data;
	svc_worker *w   = rpc_call_worker_state(call);
	rpc_status *st  = rpc_call_status(call);
	const char *rid = rpc_call_request_id(call);
	const char *key;
	char name[USER_NAME_MAX * 4 + 1];

	bool valid = user_validate_create(in->name, in->email, name, sizeof(name), st);
	if (!svc_idempotency_key(call, &key, st) || !valid) {
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
		outbox_wake(((const user_domain *) w->domain)->relay);
	done(&user, closure_data);
	if (replayed)
		log_info(rid, "user_create_replayed id=%lld", (long long) rec.id);
	else
		log_info(rid, "user_inserted id=%lld", (long long) rec.id);
}

static void
user_get_user(
    Users__UserService_Service *svc, const Users__GetUserRequest *in, Users__User_Closure done, void *closure_data)
{
	(void) svc;
	rpc_call *call = closure_data;
	svc_worker *w  = rpc_call_worker_state(call);
	rpc_status *st = rpc_call_status(call);
	if (!svc_validate_id(in->id, "id", st)) {
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
	user_cache_fill(w->cache, &user, (int) w->cfg->cache_ttl_s, &lease);
	done(&user, closure_data);
}

static void
user_health(Users__UserService_Service *svc, const Health__HealthRequest *in, Health__HealthReply_Closure done,
    void *closure_data)
{
	(void) svc;
	(void) in;
	rpc_call *call       = closure_data;
	svc_worker *w        = rpc_call_worker_state(call);
	const user_domain *d = w->domain;
	svc_health h;
	/* postgres, redis, rabbitmq (the relay's state). Redis and RabbitMQ
	 * being down only degrade the service: creates and reads still
	 * succeed, and the detail says so. */
	svc_health_begin(&h, w);
	svc_health_add_stat(&h, "events_published_total", "user_created events the broker confirmed and routed", false,
	    outbox_published(d->relay));
	rpc_status ignored;
	int64_t backlog;
	if (h.postgres_ok && outbox_repo_backlog(w->db, &backlog, &ignored) == RPC_OK)
		svc_health_add_stat(
		    &h, "outbox_backlog", "user_created events waiting in the outbox", true, (uint64_t) backlog);
	done(svc_health_reply(&h), closure_data);
}

Users__UserService_Service user_service = USERS__USER_SERVICE__INIT(user_);
