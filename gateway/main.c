/* gateway: wires configuration, the service clients and the HTTP server,
 * then waits for SIGINT or SIGTERM and shuts down in reverse. */
#include <civetweb.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fd_limit.h"
#include "base/log.h"
#include "base/signals.h"
#include "config.h"
#include "http_server.h"
#include "rpc/client.h"

int
main(int argc, char **argv)
{
	gateway_config cfg;
	env_action action = gateway_config_load(&cfg, argc, argv);
	if (action != ENV_RUN)
		return action == ENV_EXIT_OK ? EXIT_SUCCESS : 2;
	log_setup("gateway", cfg.log_level, cfg.log_format);
	if (!rpc_tls_configured(&cfg.tls))
		log_warn(NULL, "gateway_rpc_plain reason=\"RPC_TLS_* are not set: RPC to the services is plain TCP, "
		               "neither encrypted nor authenticated\"");

	if (signals_catch_stop() != 0) { /* main waits for them below */
		log_error(NULL, "gateway_start_failed reason=\"cannot catch the stop signals: %s\"", strerror(errno));
		return EXIT_FAILURE;
	}
	long max_fds = fd_limit_raise(); /* each connection, HTTP or RPC, holds one */

	rpc_client *clients[CONTRACT_SERVICES_MAX] = {0};
	rpc_status st;
	for (size_t s = 0; s < contract_services_count; s++) {
		rpc_client_options copt = {.tls = &cfg.tls,
		    .server_name                = contract_services[s].name,
		    .resolve_interval_ms        = (int) cfg.resolve_interval_ms};
		if (rpc_client_open(&clients[s], cfg.service_urls[s], &copt, &st) != RPC_OK) {
			log_error(NULL, "gateway_start_failed service=%s reason=\"%s\"", contract_services[s].name,
			    st.message);
			return EXIT_FAILURE;
		}
	}

	mg_init_library(0);
	http_server *server;
	char err[256] = "";
	if (http_server_start(&server, &cfg, clients, err, sizeof(err)) != 0) {
		log_error(NULL, "gateway_start_failed reason=\"%s\"", err);
		return EXIT_FAILURE;
	}
	char ports[64] = "";
	for (int i = 0; i < cfg.ports.n; i++)
		snprintf(
		    ports + strlen(ports), sizeof(ports) - strlen(ports), "%s%d", i ? "," : "", cfg.ports.ports[i]);
	log_info(NULL, "gateway_started ports=%s bind=%s services=%zu max_fds=%ld", ports, cfg.bind_address,
	    contract_services_count, max_fds);
	for (size_t s = 0; s < contract_services_count; s++)
		log_info(NULL, "gateway_service service=%s url=%s", contract_services[s].name, cfg.service_urls[s]);

	int sig = signals_wait_stop(-1);
	log_info(NULL, "gateway_stopping signal=%d", sig);

	http_server_stop(server);
	mg_exit_library();
	for (size_t s = 0; s < contract_services_count; s++)
		rpc_client_close(clients[s]);
	log_info(NULL, "gateway_stopped");
	return EXIT_SUCCESS;
}
