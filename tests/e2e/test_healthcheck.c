/* compose/healthcheck, the containers' health check, against the real
 * system: healthy when it runs; exit 1 (not a hang) when a service cannot be
 * reached or reports a dependency down. Only Docker's side of it is left
 * unchecked here. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procs.h"
#include "stack.h"
#include "test_tls.h"

/* Runs `healthcheck WHAT` with rpc-call on PATH and the given variable set
 * as the container would have it; returns its exit status, and its output
 * in out. */
static int
healthcheck(const char *what, const char *var, const char *value, char *out, size_t len)
{
	char cmd[2048], tls[1024] = "";
	/* A service of the stack with TLS: rpc-call as the operator (compose
	 * gives the check that identity the same way: its environment). */
	const rpc_tls_files *op = test_tls_operator();
	if (op != NULL && strncmp(value, "tls+", 4) == 0)
		snprintf(
		    tls, sizeof(tls), "RPC_TLS_CERT='%s' RPC_TLS_KEY='%s' RPC_TLS_CA='%s'", op->cert, op->key, op->ca);
	snprintf(cmd, sizeof(cmd), "env PATH='%s':/usr/bin:/bin %s %s='%s' timeout 10 '%s' %s 2>&1", BIN_DIR, tls, var,
	    value, HEALTHCHECK, what);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t n = fread(out, 1, len - 1, p);
	out[n]   = '\0';
	int rc   = pclose(p);
	cr_assert(WIFEXITED(rc), "%s did not exit", cmd);
	return WEXITSTATUS(rc);
}

/* The check passes or fails with the expected status; else its output. */
static void
expect(int status, const char *what, const char *var, const char *value)
{
	char out[2048];
	int rc = healthcheck(what, var, value, out, sizeof(out));
	cr_assert_eq(
	    rc, status, "healthcheck %s with %s=%s: exit %d, expected %d: %s", what, var, value, rc, status, out);
}

Test(healthcheck, user_svc_is_healthy_when_its_health_rpc_answers_ok)
{
	expect(0, "user-svc", "USER_SVC_URL", getenv("STACK_USER_SVC_URL"));
}

Test(healthcheck, order_svc_is_healthy_when_its_health_rpc_answers_ok)
{
	expect(0, "order-svc", "ORDER_SVC_URL", getenv("STACK_ORDER_SVC_URL"));
}

Test(healthcheck, the_gateway_is_healthy_when_readyz_answers_200)
{
	http_response r;
	cr_assert_eq(stack_http("GET", "/readyz", NULL, NULL, &r), 200, "%s", r.body);
	http_response_free(&r);
	expect(0, "gateway", "GATEWAY_PORTS", getenv("STACK_GATEWAY_PORT"));
}

Test(healthcheck, the_gateway_is_dialed_where_gateway_bind_says, .timeout = 15)
{
	/* The stack's gateway listens on 127.0.0.1 only: the check must dial
	 * the address it is told, not loopback whatever GATEWAY_BIND says. */
	char ports[64];
	snprintf(ports, sizeof(ports), "%s' GATEWAY_BIND='127.0.0.1", getenv("STACK_GATEWAY_PORT"));
	expect(0, "gateway", "GATEWAY_PORTS", ports);
	snprintf(ports, sizeof(ports), "%s' GATEWAY_BIND='127.0.0.2", getenv("STACK_GATEWAY_PORT"));
	expect(1, "gateway", "GATEWAY_PORTS", ports);
}

Test(healthcheck, a_service_nobody_listens_for_is_unhealthy, .timeout = 15)
{
	expect(1, "user-svc", "USER_SVC_URL", "tcp://0.0.0.0:1");
	expect(1, "order-svc", "ORDER_SVC_URL", "ipc:///nonexistent/orders.ipc");
	expect(1, "gateway", "GATEWAY_PORTS", "1,2,3");
}

Test(healthcheck, a_url_that_can_never_be_dialed_is_unhealthy_and_named, .timeout = 15)
{
	char out[2048];
	cr_assert_eq(healthcheck("user-svc", "USER_SVC_URL", "http://x", out, sizeof(out)), 1, "%s", out);
	cr_assert_not_null(strstr(out, "'http://x' is not an nng URL to dial"), "%s", out);
	cr_assert_not_null(strstr(out, "healthcheck: USER_SVC_URL='http://x' cannot be dialed"), "%s", out);
	cr_assert_eq(healthcheck("order-svc", "ORDER_SVC_URL", "tcp://h", out, sizeof(out)), 1, "%s", out);
	cr_assert_not_null(strstr(out, "ORDER_SVC_URL='tcp://h'"), "%s", out);
}

Test(healthcheck, an_unknown_name_is_a_usage_error)
{
	expect(2, "postgres", "X", "y");
}

/* Health answers ok=false with a successful RPC: the check must read the
 * reply's own "ok", not a dependency's. The stand-in order-svc reports
 * postgres down (and redis up) after GetUser 901, healthy after 900. */
static pid_t fake = -1;

static void
stop_fake(void)
{
	if (fake > 0)
		procs_stop(fake, 3000);
}

Test(healthcheck, a_service_that_reports_a_dependency_down_is_unhealthy, .timeout = 20, .fini = stop_fake)
{
	char users[128], orders[128], call[512];
	snprintf(users, sizeof(users), "USER_SVC_URL=ipc:///tmp/healthcheck-%d-users.ipc", (int) getpid());
	snprintf(orders, sizeof(orders), "ORDER_SVC_URL=ipc:///tmp/healthcheck-%d-orders.ipc", (int) getpid());
	const char *env[] = {users, orders, NULL};
	fake              = procs_start(FAKE_SERVICES_BIN, env, NULL);
	cr_assert(fake > 0);
	nanosleep(&(struct timespec){.tv_nsec = 300 * 1000000L}, NULL);
	const char *url = orders + strlen("ORDER_SVC_URL=");
	expect(0, "order-svc", "ORDER_SVC_URL", url);
	snprintf(call, sizeof(call), "'%s/rpc-call' '%s' users.UserService/GetUser '{\"id\":901}' >/dev/null", BIN_DIR,
	    users + strlen("USER_SVC_URL="));
	cr_assert_eq(system(call), 0);
	expect(1, "order-svc", "ORDER_SVC_URL", url);
}
