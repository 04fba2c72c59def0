/* svc_main: the wiring every service shares, in start order, and the
 * shutdown in reverse. */
#include "svc/service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fd_limit.h"
#include "base/log.h"
#include "base/signals.h"
#include "contract/tables.h"
#include "rpc/server.h"

int
svc_main(const svc_declaration *decl, int argc, char **argv)
{
	svc_config cfg;
	env_action action = svc_config_load(&cfg, &decl->config, decl->summary, argc, argv);
	if (action != ENV_RUN)
		return action == ENV_EXIT_OK ? EXIT_SUCCESS : 2;
	log_setup(decl->config.name, cfg.log_level, cfg.log_format);
	char event[64]; /* the log's event prefix: user-svc → user_svc */
	snprintf(event, sizeof(event), "%s", decl->config.name);
	for (char *p = event; *p != '\0'; p++)
		if (*p == '-')
			*p = '_';
	if (!rpc_tls_configured(&cfg.tls))
		log_warn(NULL,
		    "%s_rpc_plain reason=\"RPC_TLS_* are not set: RPC is plain TCP, neither encrypted nor "
		    "authenticated, and any caller is served\"",
		    event);

	if (signals_catch_stop() != 0) {
		log_error(NULL, "%s_start_failed reason=\"cannot catch the stop signals: %s\"", event, strerror(errno));
		return EXIT_FAILURE;
	}
	long max_fds = fd_limit_raise(); /* each connection holds one */

	db_log_url(cfg.db_variable != NULL ? cfg.db_variable : "the database URL", cfg.db_url);
	int migrated = db_migrate_at_start(
	    cfg.db_url, decl->migration_lock, decl->migrations, decl->n_migrations, (int) cfg.db_wait_s);
	if (migrated != 0)
		return migrated > 0 ? EXIT_SUCCESS : EXIT_FAILURE; /* stopped while waiting: a clean stop */

	rpc_status st;
	void *domain = NULL;
	if (decl->start != NULL && decl->start(&cfg, &domain, &st) != RPC_OK) {
		if (signals_stop_pending()) { /* its work cut by the stop (db_stop_signal_pending) */
			log_info(NULL, "%s_stopped_while_starting reason=\"%s\"", event, st.message);
			return EXIT_SUCCESS;
		}
		log_error(NULL, "%s_start_failed reason=\"%s\"", event, st.message);
		return EXIT_FAILURE;
	}
	svc_workers *workers;
	rpc_server *server = NULL;
	/* Who may call: itself (its probes run as it) and its registry
	 * line's callers, as scripts/lib/dev_pki.sh gives their CAs. */
	char callers[256];
	const contract_service *reg = contract_service_named(decl->config.name);
	snprintf(callers, sizeof(callers), "%s%s%s", decl->config.name,
	    reg != NULL && reg->callers[0] != '\0' ? "," : "", reg != NULL ? reg->callers : "");
	if (svc_workers_open(&workers, decl, &cfg, domain, &st) == RPC_OK) {
		rpc_server_options opt = {
		    .url         = cfg.listen_url,
		    .service     = decl->service,
		    .workers     = (int) cfg.workers,
		    .worker_open = svc_workers_state,
		    .call_begin  = svc_workers_call_begin,
		    .arg         = workers,
		    .tls         = &cfg.tls,
		    .callers     = callers,
		};
		if (rpc_server_open(&server, &opt, &st) != RPC_OK) {
			server = NULL;
			if (strncmp(st.message, "cannot listen", 13) == 0) /* say which setting to fix */
				snprintf(st.message + strlen(st.message), sizeof(st.message) - strlen(st.message),
				    " (%s)", cfg.listen_variable);
		}
	}
	if (server == NULL) {
		log_error(NULL, "%s_start_failed reason=\"%s\"", event, st.message);
		svc_workers_close(workers);
		if (decl->stop != NULL)
			decl->stop(domain);
		return EXIT_FAILURE;
	}
	char detail[256] = "";
	if (decl->describe != NULL)
		decl->describe(&cfg, detail, sizeof(detail));
	log_info(NULL, "%s_started url=%s workers=%ld max_fds=%ld%s", event, rpc_server_url(server), cfg.workers,
	    max_fds, detail);

	int sig = signals_wait_stop(-1);
	log_info(NULL, "%s_stopping signal=%d", event, sig);
	rpc_server_close(server); /* in-flight requests finish first */
	svc_workers_close(workers);
	if (decl->stop != NULL)
		decl->stop(domain); /* e.g. undelivered events stay in the outbox */
	log_info(NULL, "%s_stopped", event);
	return EXIT_SUCCESS;
}
