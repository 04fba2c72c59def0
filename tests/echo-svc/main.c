/* echo-svc: a service that exists only for the tests, built on the
 * skeleton (svc/service.h) with PostgreSQL alone. Its whole wiring is this
 * declaration; its registry line is in tests/services.conf. */
#include "handlers.h"
#include "svc/service.h"

extern const db_migration echo_svc_migrations[];
extern const size_t echo_svc_migrations_count;

int
main(int argc, char **argv)
{
	svc_declaration decl = {
	    .config =
	        {
	            .name = "echo-svc", .uses = 0, /* PostgreSQL only */
	        },
	    .summary        = "a service for the tests only.",
	    .service        = &echo_service.base,
	    .migration_lock = 0x6563686f, /* "echo" */
	    .migrations     = echo_svc_migrations,
	    .n_migrations   = echo_svc_migrations_count,
	};
	return svc_main(&decl, argc, argv);
}
