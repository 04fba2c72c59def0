/* gateway_config from the environment: the table of variables. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "base/net_check.h"
#include "rpc/replica_set.h"

/* One origin as a browser sends it (RFC 6454 6.2): http or https, "://",
 * a lower-case host, an optional port, nothing after. The match is exact,
 * so "http://app.example/" or "HTTP://app.example" would never match. */
static int
check_origin(const char *o, size_t len, char *why, size_t whylen)
{
	size_t scheme = strncmp(o, "http://", 7) == 0 ? 7 : strncmp(o, "https://", 8) == 0 ? 8 : 0;
	if (scheme == 0 || len <= scheme) {
		snprintf(why, whylen, "does not start with http:// or https:// and a host");
		return -1;
	}
	const char *host = o + scheme, *end = o + len;
	const char *host_end;
	if (*host == '[') {
		host_end = memchr(host, ']', (size_t) (end - host));
		if (host_end == NULL) {
			snprintf(why, whylen, "has an unclosed '['");
			return -1;
		}
		if (net_check_host(host + 1, (size_t) (host_end - host - 1), 1, why, whylen) != 0)
			return -1;
		host_end++;
	} else {
		host_end = host;
		while (host_end < end && *host_end != ':' && *host_end != '/')
			host_end++;
		if (net_check_host(host, (size_t) (host_end - host), 0, why, whylen) != 0)
			return -1;
	}
	for (const char *c = host; c < host_end; c++) {
		if (*c >= 'A' && *c <= 'Z') {
			snprintf(why, whylen, "has upper-case letters, which a browser's Origin never has");
			return -1;
		}
	}
	if (host_end < end && *host_end == ':') {
		const char *port = host_end + 1;
		size_t n         = (size_t) (end - port);
		long v           = 0;
		for (size_t i = 0; i < n && i < 6 && port[i] >= '0' && port[i] <= '9'; i++)
			v = v * 10 + (port[i] - '0');
		if (n == 0 || n > 5 || strspn(port, "0123456789") < n || v < 1 || v > 65535) {
			snprintf(why, whylen, "has a port that is not a number in [1, 65535]");
			return -1;
		}
		host_end = end;
	}
	if (host_end != end) {
		snprintf(why, whylen, "has a path (even '/'), which an Origin never has");
		return -1;
	}
	return 0;
}

/* CORS_ORIGINS: empty (none allowed), or origins separated by commas. */
static int
parse_origins(const char *text, void *out, char *err, size_t errlen)
{
	int index = 0;
	for (const char *p = text; *p != '\0';) {
		size_t n = strcspn(p, ",");
		char why[256];
		index++;
		if (n == 0 || (n == 1 && p[0] == '*')) {
			snprintf(err, errlen, "is not a list of origins: element %d is %s", index,
			    n == 0 ? "empty" : "'*' (list each origin instead)");
			return -1;
		}
		if (check_origin(p, n, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "is not a list of origins: element %d '%.*s' %s", index, (int) n, p, why);
			return -1;
		}
		if (p[n] == '\0')
			break;
		p += n + 1;
		if (*p == '\0') {
			snprintf(err, errlen, "is not a list of origins: element %d is empty", index + 1);
			return -1;
		}
	}
	*(const char **) out = text;
	return 0;
}

/* A service's URL list; empty is taken here so that the check below can
 * say which routes it leaves without a service. */
static int
parse_service_urls(const char *text, void *out, char *err, size_t errlen)
{
	if (text[0] == '\0') {
		*(const char **) out = text;
		return 0;
	}
	return env_parse_nng_dial_urls(text, out, err, errlen);
}

/* Every registry service must be reachable: its routes would answer 503
 * forever and /readyz would never be ready. */
static int
unconfigured_service(const gateway_config *cfg)
{
	for (size_t s = 0; s < contract_services_count; s++) {
		if (cfg->service_urls[s][0] != '\0')
			continue;
		const contract_service *svc = &contract_services[s];
		char routes[256]            = "";
		size_t n                    = 0;
		for (size_t i = 0; i < contract_routes_count; i++) {
			if (contract_routes[i].service != s)
				continue;
			size_t used = strlen(routes);
			snprintf(routes + used, sizeof(routes) - used, "%s%s %s", n++ ? ", " : "",
			    contract_routes[i].method, contract_routes[i].path);
		}
		fprintf(stderr,
		    "gateway: invalid configuration: %s: '' is empty, but %s serves %s%s%s: set it to the service's "
		    "nng "
		    "URL(s)\n",
		    svc->url_variable, svc->name, n > 0 ? "the routes " : "its health to /readyz", routes,
		    n > 0 ? " and its health to /readyz" : "");
		return -1;
	}
	return 0;
}

env_action
gateway_config_load(gateway_config *cfg, int argc, char **argv)
{
	int level = 0, format = 0;
	const env_var vars[] = {
	    {.name             = "GATEWAY_PORTS",
	        .default_value = "3000,3001,3002",
	        .kind          = ENV_CUSTOM,
	        .parse         = env_parse_port_list,
	        .out           = &cfg->ports,
	        .help          = "HTTP ports, comma-separated; every route is served on each"},
	    {.name             = "GATEWAY_BIND",
	        .default_value = "0.0.0.0",
	        .kind          = ENV_CUSTOM,
	        .parse         = env_parse_ipv4,
	        .out           = &cfg->bind_address,
	        .help          = "IPv4 address to listen on (127.0.0.1 for this machine only)"},
	    {.name             = "RPC_TIMEOUT_MS",
	        .default_value = "2000",
	        .kind          = ENV_INT,
	        .min           = 10,
	        .max           = 600000,
	        .out           = &cfg->rpc_timeout_ms,
	        .help          = "deadline of each request to a service; X-Request-Timeout may only shorten it"},
	    RPC_RESOLVE_INTERVAL_VAR(&cfg->resolve_interval_ms),
	    {.name             = "MAX_BODY_BYTES",
	        .default_value = "65536",
	        .kind          = ENV_INT,
	        .min           = 64,
	        .max           = 64L * 1024 * 1024,
	        .out           = &cfg->max_body_bytes,
	        .help          = "largest request body accepted; larger ones get 413 unread"},
	    {.name             = "WORKERS",
	        .default_value = "64",
	        .kind          = ENV_INT,
	        .min           = 2,
	        .max           = 1024,
	        .out           = &cfg->workers,
	        .help          = "HTTP worker threads; each open connection holds one, and once all are held every "
	                         "answer closes its connection so waiting clients get a turn"},
	    {.name             = "REQUEST_TIMEOUT_MS",
	        .default_value = "30000",
	        .kind          = ENV_INT,
	        .min           = 100,
	        .max           = 600000,
	        .out           = &cfg->request_timeout_ms,
	        .help = "longest a client may take to send a request's headers, and its body from the request's "
	                "start (408); a slower one is disconnected, freeing its worker"},
	    {.name             = "CORS_ORIGINS",
	        .default_value = "",
	        .kind          = ENV_CUSTOM,
	        .parse         = parse_origins,
	        .out           = &cfg->cors_origins,
	        .help          = "origins allowed by CORS, comma-separated; empty allows none"},
	    {.name             = "LOG_LEVEL",
	        .default_value = "info",
	        .kind          = ENV_CHOICE,
	        .choices       = log_level_names,
	        .out           = &level,
	        .help          = "debug, info, warn or error"},
	    {.name             = "LOG_FORMAT",
	        .default_value = "text",
	        .kind          = ENV_CHOICE,
	        .choices       = log_format_names,
	        .out           = &format,
	        .help          = "text or json"},
	};
	/* Then one variable per registry service (lib/contract). */
	enum { N_FIXED = sizeof(vars) / sizeof(vars[0]) };
	env_var all[N_FIXED + RPC_TLS_N_VARS + CONTRACT_SERVICES_MAX];
	static char help[CONTRACT_SERVICES_MAX][200];
	memcpy(all, vars, sizeof(vars));
	size_t n = N_FIXED + rpc_tls_env_vars(&cfg->tls, RPC_TLS_DIALS, &all[N_FIXED]);
	for (size_t s = 0; s < contract_services_count; s++) {
		const contract_service *svc = &contract_services[s];
		snprintf(help[s], sizeof(help[s]),
		    "nng URL(s) of %s (%s): a list, or a name that resolves to every replica; the "
		    "replicas share the load",
		    svc->name, svc->contract);
		all[n++] = (env_var){.name = svc->url_variable,
		    .default_value         = svc->default_url,
		    .kind                  = ENV_CUSTOM,
		    .parse                 = parse_service_urls,
		    .out                   = &cfg->service_urls[s],
		    .help                  = help[s]};
	}
	env_action action = env_cli(argc, argv,
	    "gateway: the REST API on HTTP, translated to protobuf RPC over nng to the services of the registry.", all,
	    n);
	cfg->log_level    = (log_level) level;
	cfg->log_format   = (log_format) format;
	if (action == ENV_RUN && unconfigured_service(cfg) != 0)
		return ENV_EXIT_USAGE;
	char err[1024];
	int bad = action == ENV_RUN &&
	          rpc_tls_files_check(&cfg->tls, RPC_TLS_DIALS, rpc_tls_variable_names, err, sizeof(err)) != 0;
	for (size_t s = 0; action == ENV_RUN && !bad && s < contract_services_count; s++)
		bad = rpc_tls_check_urls(
		          &cfg->tls, contract_services[s].url_variable, cfg->service_urls[s], err, sizeof(err)) != 0;
	if (bad) {
		fprintf(stderr, "%s: invalid configuration: %s\n", argc > 0 ? argv[0] : "gateway", err);
		return ENV_EXIT_USAGE;
	}
	return action;
}
