/* The gateway's table of variables (gateway/config.c), loaded as main loads
 * it: the GATEWAY_BIND examples and the CORS origins, which are
 * matched exactly and so must look as a browser sends them. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static env_action
load_with(const char *name, const char *value, gateway_config *cfg)
{
	setenv(name, value, 1);
	char *argv[] = {"gateway", NULL};
	return gateway_config_load(cfg, 1, argv);
}

Test(gateway_config, the_defaults_load)
{
	gateway_config cfg;
	char *argv[] = {"gateway", NULL};
	cr_assert_eq(gateway_config_load(&cfg, 1, argv), ENV_RUN);
	cr_assert_str_eq(cfg.bind_address, "0.0.0.0");
	cr_assert_str_eq(cfg.cors_origins, "");
}

Test(gateway_config, cors_origins_that_a_browser_could_send_are_accepted)
{
	gateway_config cfg;
	cr_assert_eq(load_with("CORS_ORIGINS",
	                 "http://allowed.example,https://app.example:8443,http://[::1]:3000,"
	                 "http://127.0.0.1:3000",
	                 &cfg),
	    ENV_RUN);
	cr_assert_str_eq(cfg.cors_origins, "http://allowed.example,https://app.example:8443,http://"
	                                   "[::1]:3000,http://127.0.0.1:3000");
}

Test(gateway_config, bad_values_stop_the_gateway_naming_the_variable, .init = cr_redirect_stderr)
{
	gateway_config cfg;
	cr_assert_eq(load_with("GATEWAY_BIND", "999.1.1.1", &cfg), ENV_EXIT_USAGE);
	setenv("GATEWAY_BIND", "0.0.0.0", 1);
	const char *bad_origins[] = {"http://app.example/", "*", "HTTPS://app.example", "https://App.example",
	    "app.example", "http://app.example:0", "http://app.example:99999", "http://a.example,,http://b.example",
	    "http://a.example,", "http://1.2.3:80", "http://[::1", "ws://app.example"};
	for (size_t i = 0; i < sizeof(bad_origins) / sizeof(bad_origins[0]); i++)
		cr_assert_eq(
		    load_with("CORS_ORIGINS", bad_origins[i], &cfg), ENV_EXIT_USAGE, "%s was accepted", bad_origins[i]);
	fflush(stderr);
	FILE *err = cr_get_redirected_stderr();
	char line[512];
	cr_assert_not_null(fgets(line, sizeof(line), err));
	cr_assert_str_eq(line, "gateway: invalid configuration: GATEWAY_BIND: '999.1.1.1' is not an IPv4 address "
	                       "(four numbers 0-255 without leading zeros, e.g. 0.0.0.0 or 127.0.0.1)\n");
	cr_assert_not_null(fgets(line, sizeof(line), err));
	cr_assert_str_eq(line, "gateway: invalid configuration: CORS_ORIGINS: 'http://app.example/' is not a list of "
	                       "origins: element 1 'http://app.example/' has a path (even '/'), which an Origin never "
	                       "has\n");
}

/* Every registry service is a variable of the gateway's; set empty, the
 * gateway stops naming it and the routes it would leave unserved. */
Test(gateway_config, a_registry_service_without_a_url_stops_the_gateway, .init = cr_redirect_stderr)
{
	gateway_config cfg;
	cr_assert_eq(load_with("ECHO_SVC_URL", "ipc:///tmp/echo.ipc", &cfg), ENV_RUN);
	cr_assert_str_eq(
	    cfg.service_urls[contract_service_named("echo-svc") - contract_services], "ipc:///tmp/echo.ipc");
	cr_assert_str_eq(
	    cfg.service_urls[contract_service_named("user-svc") - contract_services], "tcp://127.0.0.1:5001");
	cr_assert_eq(load_with("ECHO_SVC_URL", "", &cfg), ENV_EXIT_USAGE);
	cr_assert_eq(load_with("ECHO_SVC_URL", "http://x", &cfg), ENV_EXIT_USAGE);
	fflush(stderr);
	FILE *err = cr_get_redirected_stderr();
	char line[512];
	cr_assert_not_null(fgets(line, sizeof(line), err));
	cr_assert_str_eq(line,
	    "gateway: invalid configuration: ECHO_SVC_URL: '' is empty, but echo-svc serves the "
	    "routes POST /echoes, GET /echoes/{id} and its health to /readyz: set it to the service's "
	    "nng URL(s)\n");
	cr_assert_not_null(fgets(line, sizeof(line), err));
	cr_assert_not_null(strstr(line, "ECHO_SVC_URL: 'http://x'"), "%s", line);
}
