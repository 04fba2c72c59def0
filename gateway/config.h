/* The gateway's configuration, read once from the environment. */
#ifndef GATEWAY_CONFIG_H
#define GATEWAY_CONFIG_H

#include "base/env.h"
#include "base/log.h"
#include "contract/tables.h"
#include "rpc/tls_files.h"

typedef struct gateway_config {
	env_port_list ports;      /* GATEWAY_PORTS */
	const char *bind_address; /* GATEWAY_BIND */
	/* Each registry service's nng URL(s), by index into contract_services,
	 * from its url_variable (USER_SVC_URL, ...); never empty. */
	const char *service_urls[CONTRACT_SERVICES_MAX];
	long rpc_timeout_ms;      /* RPC_TIMEOUT_MS: default and ceiling of every call */
	long resolve_interval_ms; /* RPC_RESOLVE_INTERVAL_MS */
	long max_body_bytes;      /* MAX_BODY_BYTES */
	long workers;             /* WORKERS: HTTP threads, each held by an open connection */
	long request_timeout_ms;  /* REQUEST_TIMEOUT_MS: a slow client's whole request */
	const char *cors_origins; /* CORS_ORIGINS: comma-separated; "" allows none */
	rpc_tls_files tls;        /* RPC_TLS_CERT, RPC_TLS_KEY, RPC_TLS_CA: the services are dialed with them */
	log_level log_level;
	log_format log_format;
} gateway_config;

/* Fills cfg from the environment and the command line. Returns ENV_RUN to
 * start, or ENV_EXIT_OK / ENV_EXIT_USAGE after printing help or an error
 * (a registry service's variable set empty is one: its routes and its
 * health could not be served). Not thread-safe (reads the environment). */
env_action gateway_config_load(gateway_config *cfg, int argc, char **argv);

#endif
