/* order-svc: configuration, migrations, the user-svc client, the event
 * consumer and the RPC server, then a wait for SIGINT or SIGTERM and a
 * shutdown in reverse. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "svc/db.h"
#include "events_consumer.h"
#include "handlers.h"
#include "base/log.h"
#include "rpc/client.h"
#include "rpc/server.h"
#include "base/signals.h"

extern const db_migration order_svc_migrations[];
extern const size_t order_svc_migrations_count;

int
main(int argc, char **argv)
{
	order_config cfg;
	env_action action = order_config_load(&cfg, argc, argv);
	if (action != ENV_RUN)
		return action == ENV_EXIT_OK ? EXIT_SUCCESS : 2;
	log_setup("order-svc", cfg.log_level, cfg.log_format);

	sigset_t stop;
	signals_block_stop(&stop);

	int migrated = db_migrate_at_start(cfg.db_url, 0x6f726465 /* "orde" */, order_svc_migrations, order_svc_migrations_count, &stop,
	        (int) cfg.db_wait_s);
	if (migrated != 0)
		return migrated > 0 ? EXIT_SUCCESS : EXIT_FAILURE; /* stopped while waiting: a clean stop */

	rpc_status st;
	rpc_client *users;
	if (rpc_client_open(&users, cfg.user_svc_url, NULL, &st) != RPC_OK) {
		log_error(NULL, "order_svc_start_failed reason=\"%s\"", st.message);
		return EXIT_FAILURE;
	}
	events_consumer *consumer;
	char err[256];
	if (events_consumer_start(&consumer, cfg.db_url, cfg.amqp_url, (int) cfg.prefetch, err, sizeof(err)) != 0) {
		log_error(NULL, "order_svc_start_failed reason=\"%s\"", err);
		rpc_client_close(users);
		return EXIT_FAILURE;
	}
	order_handlers_env env = {.cfg = &cfg, .users = users, .consumer = consumer};
	rpc_server_options opt = {
	    .url          = cfg.listen_url,
	    .service      = &order_service.base,
	    .workers      = (int) cfg.workers,
	    .worker_open  = order_handlers_worker_open,
	    .worker_close = order_handlers_worker_close,
	    .arg          = &env,
	};
	rpc_server *server;
	if (rpc_server_open(&server, &opt, &st) != RPC_OK) {
		log_error(NULL, "order_svc_start_failed reason=\"%s\"", st.message);
		events_consumer_stop(consumer);
		rpc_client_close(users);
		return EXIT_FAILURE;
	}
	log_info(NULL, "order_svc_started url=%s workers=%ld user_svc=%s", rpc_server_url(server), cfg.workers,
	    cfg.user_svc_url);

	int sig;
	sigwait(&stop, &sig);
	log_info(NULL, "order_svc_stopping signal=%d", sig);
	rpc_server_close(server);      /* in-flight requests finish first */
	events_consumer_stop(consumer); /* unacked events are redelivered later */
	rpc_client_close(users);
	log_info(NULL, "order_svc_stopped");
	return EXIT_SUCCESS;
}
