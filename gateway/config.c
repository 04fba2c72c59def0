/* gateway_config from the environment: the table of variables. */
#include "config.h"

#include "net_check.h"


env_action
gateway_config_load(gateway_config *cfg, int argc, char **argv)
{
	int level = 0, format = 0;
	const env_var vars[] = {
	    {.name = "GATEWAY_PORTS", .default_value = "3000,3001,3002", .kind = ENV_CUSTOM,
	        .parse = env_parse_port_list, .out = &cfg->ports,
	        .help = "HTTP ports, comma-separated; every route is served on each"},
	    {.name = "GATEWAY_BIND", .default_value = "0.0.0.0", .kind = ENV_CUSTOM, .parse = env_parse_ipv4,
	        .out = &cfg->bind_address,
	        .help = "IPv4 address to listen on (127.0.0.1 for this machine only)"},
	    {.name = "USER_SVC_URL", .default_value = "tcp://127.0.0.1:5001", .kind = ENV_CUSTOM,
	        .parse = env_parse_nng_dial_urls, .out = &cfg->user_svc_url, .help = "nng URL(s) of user-svc; several, comma-separated, share the load"},
	    {.name = "ORDER_SVC_URL", .default_value = "tcp://127.0.0.1:5002", .kind = ENV_CUSTOM,
	        .parse = env_parse_nng_dial_urls, .out = &cfg->order_svc_url, .help = "nng URL(s) of order-svc"},
	    {.name = "RPC_TIMEOUT_MS", .default_value = "2000", .kind = ENV_INT, .min = 10, .max = 600000,
	        .out = &cfg->rpc_timeout_ms,
	        .help = "deadline of each request to a service; X-Request-Timeout may only shorten it"},
	    {.name = "MAX_BODY_BYTES", .default_value = "65536", .kind = ENV_INT, .min = 64,
	        .max = 64L * 1024 * 1024, .out = &cfg->max_body_bytes,
	        .help = "largest request body accepted; larger ones get 413 unread"},
	    {.name = "WORKERS", .default_value = "64", .kind = ENV_INT, .min = 2, .max = 1024,
	        .out = &cfg->workers,
	        .help = "HTTP worker threads; each open connection holds one, and once all are held every "
	                "answer closes its connection so waiting clients get a turn"},
	    {.name = "REQUEST_TIMEOUT_MS", .default_value = "30000", .kind = ENV_INT, .min = 100, .max = 600000,
	        .out = &cfg->request_timeout_ms,
	        .help = "longest a client may take to send a request's headers (and each read of its body); "
	                "a slower one is disconnected, freeing its worker"},
	    {.name = "CORS_ORIGINS", .default_value = "", .kind = ENV_STRING, .may_be_empty = 1,
	        .out = &cfg->cors_origins, .help = "origins allowed by CORS, comma-separated; empty allows none"},
	    {.name = "LOG_LEVEL", .default_value = "info", .kind = ENV_CHOICE, .choices = log_level_names,
	        .out = &level, .help = "debug, info, warn or error"},
	    {.name = "LOG_FORMAT", .default_value = "text", .kind = ENV_CHOICE, .choices = log_format_names,
	        .out = &format, .help = "text or json"},
	};
	env_action action = env_cli(argc, argv,
	    "gateway: the REST API on HTTP, translated to protobuf RPC over nng to user-svc and order-svc.",
	    vars, sizeof(vars) / sizeof(vars[0]));
	cfg->log_level  = (log_level) level;
	cfg->log_format = (log_format) format;
	return action;
}
