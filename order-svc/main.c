/* order-svc: its declaration for the service skeleton (svc/service.h), and
 * the start and stop of what its workers share: the user-svc client and
 * the user_created consumer. */
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "handlers.h"
#include "svc/broker.h"
#include "svc/service.h"

extern const db_migration order_svc_migrations[];
extern const size_t order_svc_migrations_count;

static rpc_code
start(const svc_config *cfg, void **domain, rpc_status *st)
{
	order_domain *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "out of memory");
	/* With TLS, user-svc must prove it is user-svc (its registry name). */
	rpc_client_options users_opt = {
	    .tls = &cfg->tls, .server_name = "user-svc", .resolve_interval_ms = (int) order_cfg.resolve_interval_ms};
	if (rpc_client_open(&d->users, order_cfg.user_svc_url, &users_opt, st) != RPC_OK) {
		free(d);
		return st->code;
	}
	char err[256];
	if (events_consumer_start(&d->consumer, cfg->db_url, cfg->amqp_url, (int) order_cfg.prefetch,
	        (events_queue_type) order_cfg.queue_type, err, sizeof(err)) != 0) {
		rpc_client_close(d->users);
		free(d);
		return rpc_status_set(st, RPC_UNAVAILABLE, "%s", err);
	}
	*domain = d;
	return RPC_OK;
}

static void
stop(void *domain)
{
	order_domain *d = domain;
	events_consumer_stop(d->consumer); /* unacked events are redelivered later */
	rpc_client_close(d->users);
	free(d);
}

static bool
broker_status(const void *domain, char *detail, size_t len)
{
	const order_domain *d = domain;
	return events_consumer_status(d->consumer, detail, len);
}

static void
describe(const svc_config *cfg, char *out, size_t len)
{
	(void) cfg;
	snprintf(out, len, " user_svc=%s", order_cfg.user_svc_url);
}

static const svc_declaration order_svc = {
    .config =
        {
            .name              = "order-svc",
            .uses              = SVC_USES_REDIS | SVC_USES_RABBITMQ,
            .cache_ttl_default = "60",
            .cache_ttl_help    = "seconds a cached order list lives in Redis",
            .amqp_help         = "RabbitMQ, consumed for user_created events: " BROKER_URL_FORMS,
            .settings          = order_settings,
        },
    .summary        = "Redis cache, user-svc over nng, and the user_created consumer.",
    .service        = &order_service.base,
    .migration_lock = 0x6f726465, /* "orde" */
    .start          = start,
    .stop           = stop,
    .broker_status  = broker_status,
    .describe       = describe,
};

int
main(int argc, char **argv)
{
	svc_declaration decl   = order_svc;
	decl.migrations        = order_svc_migrations;
	decl.n_migrations      = order_svc_migrations_count;
	decl.config.n_settings = order_settings_count;
	return svc_main(&decl, argc, argv);
}
