/* The skeleton every service shares. A service declares itself (its
 * registry line, the backing servers it uses, its own settings, its
 * contract's service table, its migrations and a few hooks) and its main is
 *
 *     int main(int argc, char **argv) { return svc_main(&declaration, argc, argv); }
 *
 * svc_main then: reads the configuration (the common block of
 * service_config.h plus the service's settings; a bad value exits 2 naming
 * the variable), sets up the log, blocks SIGINT/SIGTERM, applies the
 * migrations under the advisory lock (waiting for PostgreSQL up to
 * DB_WAIT_S; a stop signal meanwhile exits 0), runs the start hook, makes
 * every worker's connections (workers.h), serves, and on SIGINT or SIGTERM
 * drains: in-flight requests finish and reply, then the stop hook runs and
 * everything is freed. Log lines: <name>_started, <name>_stopping,
 * <name>_stopped, <name>_start_failed reason="..." (name with '_' for '-'). */
#ifndef SVC_SERVICE_H
#define SVC_SERVICE_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

#include "rpc/status.h"
#include "svc/db.h"
#include "svc/service_config.h"
#include "svc/workers.h"

typedef struct svc_declaration {
	svc_config_spec config;    /* registry line, uses, own settings */
	const char *summary;       /* --help's first line, after what the registry
	                              says ("user-svc: users.UserService over
	                              nng; PostgreSQL user_db; "): its own words */
	ProtobufCService *service; /* the generated service table, e.g. &user_service.base */
	long long migration_lock;  /* pg_advisory_lock key, unique per database */
	const db_migration *migrations;
	size_t n_migrations;

	/* Optional: after the migrations, before the workers. Makes what every
	 * worker shares (an outbox relay, a client of another service, a
	 * consumer): *domain becomes svc_worker.domain. Returns RPC_OK, or a
	 * code with st's message logged as <name>_start_failed (exit 1). */
	rpc_code (*start)(const svc_config *cfg, void **domain, rpc_status *st);
	/* Optional: after the server has drained; undoes start. */
	void (*stop)(void *domain);
	/* Required with SVC_USES_RABBITMQ: the broker's state for Health: true
	 * when connected; detail (fit for /readyz) filled either way. Called on
	 * worker threads at once: must be thread-safe. */
	bool (*broker_status)(const void *domain, char *detail, size_t len);
	/* Optional: extra " key=value" text for the <name>_started line. */
	void (*describe)(const svc_config *cfg, char *out, size_t len);
} svc_declaration;

/* Runs the service until SIGINT or SIGTERM; returns main's exit status:
 * 0 after a clean stop or --help, 2 for a bad setting, 1 when it could not
 * start (logged). Call once, from main, before any thread starts. */
int svc_main(const svc_declaration *decl, int argc, char **argv);

#endif
