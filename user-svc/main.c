/* user-svc: configuration, migrations, the outbox relay and the RPC server,
 * then a wait for SIGINT or SIGTERM and a shutdown in reverse. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "svc/db.h"
#include "handlers.h"
#include "base/log.h"
#include "outbox.h"
#include "rpc/server.h"
#include "user_repo.h"
#include "base/signals.h"

extern const db_migration user_svc_migrations[];
extern const size_t user_svc_migrations_count;

int
main(int argc, char **argv)
{
	user_config cfg;
	env_action action = user_config_load(&cfg, argc, argv);
	if (action != ENV_RUN)
		return action == ENV_EXIT_OK ? EXIT_SUCCESS : 2;
	log_setup("user-svc", cfg.log_level, cfg.log_format);

	sigset_t stop;
	signals_block_stop(&stop);

	int migrated = db_migrate_at_start(cfg.db_url, 0x75736572 /* "user" */, user_svc_migrations, user_svc_migrations_count, &stop,
	        (int) cfg.db_wait_s);
	if (migrated != 0)
		return migrated > 0 ? EXIT_SUCCESS : EXIT_FAILURE; /* stopped while waiting: a clean stop */
	if (user_repo_fill_email_keys_at_start(cfg.db_url) != 0)
		return EXIT_FAILURE;

	outbox *relay;
	char err[256];
	if (outbox_start(&relay, cfg.db_url, cfg.amqp_url, (int) cfg.outbox_poll_ms, err, sizeof(err)) != 0) {
		log_error(NULL, "user_svc_start_failed reason=\"%s\"", err);
		return EXIT_FAILURE;
	}
	user_handlers_env env = {.cfg = &cfg, .relay = relay};
	rpc_server_options opt = {
	    .url          = cfg.listen_url,
	    .service      = &user_service.base,
	    .workers      = (int) cfg.workers,
	    .worker_open  = user_handlers_worker_open,
	    .worker_close = user_handlers_worker_close,
	    .arg          = &env,
	};
	rpc_server *server;
	rpc_status st;
	if (rpc_server_open(&server, &opt, &st) != RPC_OK) {
		log_error(NULL, "user_svc_start_failed reason=\"%s\"", st.message);
		outbox_stop(relay);
		return EXIT_FAILURE;
	}
	log_info(NULL, "user_svc_started url=%s workers=%ld", rpc_server_url(server), cfg.workers);

	int sig;
	sigwait(&stop, &sig);
	log_info(NULL, "user_svc_stopping signal=%d", sig);
	rpc_server_close(server); /* in-flight requests finish first */
	outbox_stop(relay);       /* undelivered events stay in the outbox */
	log_info(NULL, "user_svc_stopped");
	return EXIT_SUCCESS;
}
