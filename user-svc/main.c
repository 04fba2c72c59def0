/* user-svc: its declaration for the service skeleton (svc/service.h), and
 * the start and stop of what its workers share: the outbox relay. */
#include <stdlib.h>

#include "config.h"
#include "handlers.h"
#include "outbox.h"
#include "svc/broker.h"
#include "svc/service.h"
#include "user_repo.h"

extern const db_migration user_svc_migrations[];
extern const size_t user_svc_migrations_count;

static rpc_code
start(const svc_config *cfg, void **domain, rpc_status *st)
{
	if (user_repo_fill_email_keys_at_start(cfg->db_url) != 0)
		return rpc_status_set(st, RPC_INTERNAL, "the email keys could not be filled (logged above)");
	user_domain *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "out of memory");
	char err[256];
	if (outbox_start(&d->relay, cfg->db_url, cfg->amqp_url, (int) user_cfg.outbox_poll_ms, err, sizeof(err)) != 0) {
		free(d);
		return rpc_status_set(st, RPC_UNAVAILABLE, "%s", err);
	}
	*domain = d;
	return RPC_OK;
}

static void
stop(void *domain)
{
	user_domain *d = domain;
	outbox_stop(d->relay); /* undelivered events stay in the outbox */
	free(d);
}

static bool
broker_status(const void *domain, char *detail, size_t len)
{
	const user_domain *d = domain;
	return outbox_status(d->relay, detail, len);
}

static const svc_declaration user_svc = {
    .config =
        {
            .name              = "user-svc",
            .uses              = SVC_USES_REDIS | SVC_USES_RABBITMQ,
            .cache_ttl_default = "300",
            .cache_ttl_help    = "seconds a cached user lives in Redis",
            .amqp_help         = "RabbitMQ for user_created events: " BROKER_URL_FORMS,
            .settings          = user_settings,
        },
    .summary        = "Redis cache, user_created events to RabbitMQ.",
    .service        = &user_service.base,
    .migration_lock = 0x75736572, /* "user" */
    .start          = start,
    .stop           = stop,
    .broker_status  = broker_status,
};

int
main(int argc, char **argv)
{
	svc_declaration decl   = user_svc;
	decl.migrations        = user_svc_migrations;
	decl.n_migrations      = user_svc_migrations_count;
	decl.config.n_settings = user_settings_count;
	return svc_main(&decl, argc, argv);
}
