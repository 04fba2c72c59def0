/* Stand-ins for user-svc and order-svc on real nng sockets, for testing the
 * gateway alone: each id asks for one behaviour the gateway must handle.
 *   GetUser id 1 → a user · 99 → NOT_FOUND · 500 → INTERNAL with a secret
 *   message · 503 → UNAVAILABLE · 5000 → answers after 3 s · 77 → echoes
 *   what arrived: name = request id, email = Idempotency-Key, id = the
 *   deadline left in ms · 900 / 901 → order-svc reports healthy / not.
 *   CreateUser: empty name → INVALID_ARGUMENT (two violations with an
 *   empty email); taken@example.com → ALREADY_EXISTS; else id 42.
 * Every other registry service (lib/contract: echo-svc in a test build)
 * gets a stand-in whose Health answers ok and whose other methods are
 * UNIMPLEMENTED, so a gateway in front of these sees every service up.
 * Environment: each registry service's url_variable (USER_SVC_URL, ...);
 * the services whose variable is set are served, at least one. Stops on
 * SIGTERM/SIGINT. */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/signals.h"
#include "contract/tables.h"
#include "orders.pb-c.h"
#include "rpc/server.h"
#include "users.pb-c.h"

static _Atomic int orders_healthy = 1;
static const int64_t CREATED_AT   = 1795601700; /* 2026-11-25T10:15:00Z */

static void
fake_created_at(Google__Protobuf__Timestamp *ts)
{
	google__protobuf__timestamp__init(ts);
	ts->seconds = CREATED_AT;
	ts->nanos   = 123000000;
}

static void
users_create_user(
    Users__UserService_Service *svc, const Users__CreateUserRequest *in, Users__User_Closure done, void *call)
{
	(void) svc;
	rpc_status *st = rpc_call_status(call);
	if (in->name[0] == '\0')
		rpc_status_add_violation(st, "name", "name must not be empty");
	if (in->email[0] == '\0')
		rpc_status_add_violation(st, "email", "email must be a valid email address");
	if (st->n_violations > 0) {
		done(NULL, call);
		return;
	}
	if (strcmp(in->email, "taken@example.com") == 0) {
		rpc_status_set(st, RPC_ALREADY_EXISTS, "email %s is already registered", in->email);
		done(NULL, call);
		return;
	}
	Google__Protobuf__Timestamp ts;
	fake_created_at(&ts);
	Users__User user = USERS__USER__INIT;
	user.id          = 42;
	user.name        = in->name;
	user.email       = in->email;
	user.created_at  = &ts;
	done(&user, call);
}

static void
users_get_user(Users__UserService_Service *svc, const Users__GetUserRequest *in, Users__User_Closure done, void *call)
{
	(void) svc;
	rpc_status *st = rpc_call_status(call);
	Google__Protobuf__Timestamp ts;
	fake_created_at(&ts);
	Users__User user = USERS__USER__INIT;
	user.created_at  = &ts;
	switch (in->id) {
	case 99:
		rpc_status_set(st, RPC_NOT_FOUND, "user %lld not found", (long long) in->id);
		done(NULL, call);
		return;
	case 500:
		rpc_status_set(st, RPC_INTERNAL, "pq: SECRET relation users does not exist");
		done(NULL, call);
		return;
	case 503:
		rpc_status_set(st, RPC_UNAVAILABLE, "the user database is unavailable");
		done(NULL, call);
		return;
	case 5000: nanosleep(&(struct timespec){.tv_sec = 3}, NULL); break;
	case 77: {
		const char *key = rpc_call_metadata(call, "idempotency-key");
		user.id         = rpc_call_remaining_ms(call);
		user.name       = (char *) rpc_call_request_id(call);
		user.email      = (char *) (key != NULL ? key : "-");
		done(&user, call);
		return;
	}
	case 900:
	case 901: atomic_store(&orders_healthy, in->id == 900); break;
	}
	user.id    = in->id;
	user.name  = "Ada Lovelace";
	user.email = "ada@example.com";
	done(&user, call);
}

static void
health_reply(Health__HealthReply_Closure done, void *call, bool ok)
{
	Health__Dependency pg = HEALTH__DEPENDENCY__INIT;
	pg.name               = "postgres";
	pg.ok                 = ok;
	pg.detail             = ok ? "connected" : "connection refused";
	/* A healthy dependency beside the failing one, as the real services
	 * report several: a reader must look at the reply's own ok. */
	Health__Dependency redis   = HEALTH__DEPENDENCY__INIT;
	redis.name                 = "redis";
	redis.ok                   = true;
	redis.detail               = "connected";
	Health__Dependency *deps[] = {&pg, &redis};
	Health__HealthReply reply  = HEALTH__HEALTH_REPLY__INIT;
	reply.ok                   = ok;
	reply.n_dependencies       = 2;
	reply.dependencies         = deps;
	done(&reply, call);
}

static void
users_health(
    Users__UserService_Service *svc, const Health__HealthRequest *in, Health__HealthReply_Closure done, void *call)
{
	(void) svc;
	(void) in;
	health_reply(done, call, true);
}

static void
fill_order(Orders__Order *o, Google__Protobuf__Timestamp *ts, Google__Type__Decimal *price, int64_t id, int64_t user_id,
    const char *product, const char *amount, const char *status)
{
	orders__order__init(o);
	google__type__decimal__init(price);
	fake_created_at(ts);
	price->value  = (char *) amount;
	o->id         = id;
	o->user_id    = user_id;
	o->product    = (char *) product;
	o->price      = price;
	o->status     = (char *) status;
	o->created_at = ts;
}

static void
orders_create_order(
    Orders__OrderService_Service *svc, const Orders__CreateOrderRequest *in, Orders__Order_Closure done, void *call)
{
	(void) svc;
	if (in->user_id == 99) {
		rpc_status_set(rpc_call_status(call), RPC_NOT_FOUND, "user %lld not found", (long long) in->user_id);
		done(NULL, call);
		return;
	}
	Orders__Order o;
	Google__Protobuf__Timestamp ts;
	Google__Type__Decimal price;
	fill_order(&o, &ts, &price, 7, in->user_id, in->product, in->price != NULL ? in->price->value : "0",
	    in->status[0] != '\0' ? in->status : "pending");
	done(&o, call);
}

static void
orders_get_order(
    Orders__OrderService_Service *svc, const Orders__GetOrderRequest *in, Orders__Order_Closure done, void *call)
{
	(void) svc;
	if (in->id != 7) {
		rpc_status_set(rpc_call_status(call), RPC_NOT_FOUND, "order %lld not found", (long long) in->id);
		done(NULL, call);
		return;
	}
	Orders__Order o;
	Google__Protobuf__Timestamp ts;
	Google__Type__Decimal price;
	fill_order(&o, &ts, &price, 7, 1, "Laptop", "15000000", "pending");
	done(&o, call);
}

static void
orders_list_orders_by_user(Orders__OrderService_Service *svc, const Orders__ListOrdersByUserRequest *in,
    Orders__OrderList_Closure done, void *call)
{
	(void) svc;
	Orders__Order a, b;
	Google__Protobuf__Timestamp ta, tb;
	Google__Type__Decimal pa, pb;
	fill_order(&a, &ta, &pa, 7, 1, "Laptop", "15000000", "pending");
	fill_order(&b, &tb, &pb, 8, 1, "Mouse", "19.99", "paid");
	Orders__Order *items[] = {&a, &b};
	Orders__OrderList list = ORDERS__ORDER_LIST__INIT;
	list.n_orders          = in->user_id == 1 ? 2 : 0;
	list.orders            = items;
	done(&list, call);
}

static void
orders_health(
    Orders__OrderService_Service *svc, const Health__HealthRequest *in, Health__HealthReply_Closure done, void *call)
{
	(void) svc;
	(void) in;
	health_reply(done, call, atomic_load(&orders_healthy));
}

/* A registry service with no fake of its own: Health only. Laid out as
 * protoc-c lays out a service (the base, then one handler per method),
 * which is how rpc/server.c finds the methods it implements. */
typedef void (*handler_fn)(void);
typedef struct health_only {
	ProtobufCService base;
	handler_fn handlers[64];
} health_only;

static void
mark_health(void)
{
}

static void
health_only_invoke(ProtobufCService *svc, unsigned index, const ProtobufCMessage *in, ProtobufCClosure done, void *call)
{
	(void) svc;
	(void) index; /* only Health has a handler */
	(void) in;
	Health__HealthReply reply = HEALTH__HEALTH_REPLY__INIT;
	reply.ok                  = true;
	done(&reply.base, call);
}

static ProtobufCService *
stand_in(const contract_service *c, health_only *h)
{
	static Users__UserService_Service users    = USERS__USER_SERVICE__INIT(users_);
	static Orders__OrderService_Service orders = ORDERS__ORDER_SERVICE__INIT(orders_);
	if (c->descriptor == &users__user_service__descriptor)
		return &users.base;
	if (c->descriptor == &orders__order_service__descriptor)
		return &orders.base;
	const ProtobufCMethodDescriptor *health =
	    protobuf_c_service_descriptor_get_method_by_name(c->descriptor, "Health");
	if (health == NULL || c->descriptor->n_methods > sizeof(h->handlers) / sizeof(h->handlers[0]))
		return NULL;
	h->base = (ProtobufCService){.descriptor = c->descriptor, .invoke = health_only_invoke};
	h->handlers[health - c->descriptor->methods] = mark_health;
	return &h->base;
}

int
main(void)
{
	log_setup("fake-services", LOG_WARN, LOG_TEXT);
	if (signals_catch_stop() != 0) {
		perror("fake-services: cannot catch the stop signals");
		return 1;
	}

	/* With RPC_TLS_* (the stack with TLS, test_tls.h): mutual TLS as the
	 * role it stands in for, checked as a service checks them. */
	rpc_tls_files tls = {
	    getenv("RPC_TLS_CERT"), getenv("RPC_TLS_KEY"), getenv("RPC_TLS_CA"), getenv("RPC_TLS_CALLER_CA")};
	if (tls.cert == NULL)
		tls.cert = "";
	if (tls.key == NULL)
		tls.key = "";
	if (tls.ca == NULL)
		tls.ca = "";
	if (tls.caller_ca == NULL)
		tls.caller_ca = "";
	char why[512];
	if (rpc_tls_files_check(&tls, RPC_TLS_LISTENS, rpc_tls_variable_names, why, sizeof(why)) != 0) {
		fprintf(stderr, "fake-services: %s\n", why);
		return 1;
	}

	static health_only others[CONTRACT_SERVICES_MAX];
	rpc_server *servers[CONTRACT_SERVICES_MAX] = {0};
	size_t served                              = 0;
	int failed                                 = 0;
	for (size_t i = 0; i < contract_services_count && !failed; i++) {
		const contract_service *c = &contract_services[i];
		const char *url           = getenv(c->url_variable);
		if (url == NULL || url[0] == '\0')
			continue;
		rpc_server_options o = {.url = url,
		    .service                 = stand_in(c, &others[i]),
		    .workers                 = 4,
		    .tls                     = rpc_tls_configured(&tls) ? &tls : NULL};
		/* Several stand-ins in one process, each over TLS as its own
		 * service (a dialer checks the registry name): a tls+ URL with
		 * RPC_TLS_DIR (test_tls.h) and no RPC_TLS_* takes that service's
		 * files from the development PKI. */
		static char files[CONTRACT_SERVICES_MAX][4][320];
		static rpc_tls_files own[CONTRACT_SERVICES_MAX];
		const char *dir = getenv("RPC_TLS_DIR");
		if (o.tls == NULL && dir != NULL && dir[0] != '\0' && strncmp(url, "tls+", 4) == 0) {
			snprintf(files[i][0], sizeof(files[i][0]), "%s/%s.pem", dir, c->name);
			snprintf(files[i][1], sizeof(files[i][1]), "%s/%s.key", dir, c->name);
			snprintf(files[i][2], sizeof(files[i][2]), "%s/services-ca.pem", dir);
			snprintf(files[i][3], sizeof(files[i][3]), "%s/callers/%s.pem", dir, c->name);
			own[i] = (rpc_tls_files){files[i][0], files[i][1], files[i][2], files[i][3]};
			o.tls  = &own[i];
		}
		rpc_status st;
		if (o.service == NULL) {
			fprintf(stderr, "fake-services: %s has no Health method to stand in for\n", c->name);
			failed = 1;
		} else if (rpc_server_open(&servers[i], &o, &st) != RPC_OK) {
			fprintf(stderr, "fake-services: %s at %s=%s: %s\n", c->name, c->url_variable, url, st.message);
			failed = 1;
		}
		served++;
	}
	if (served == 0)
		fprintf(stderr, "fake-services: no service URL set (USER_SVC_URL, ...)\n");
	if (!failed && served > 0) {
		signals_wait_stop(-1);
	}
	for (size_t i = contract_services_count; i-- > 0;)
		rpc_server_close(servers[i]);
	return failed || served == 0 ? 1 : 0;
}
