/* The registry's callers column decides, end to end, who may call whom
 * (issue 18): with the development PKI (scripts/lib/dev_pki.sh, RPC_TLS_DIR),
 * every role (gateway, operator, each service) dials every service of the
 * running stack with its own certificate, and its Health call succeeds
 * exactly when the role is in the service's callers. A refused role is
 * refused on its connection (UNAVAILABLE) while the allowed ones keep being
 * served. Written as loops over lib/contract's tables, so a new service or
 * a changed callers column is covered as it is declared. */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract/tables.h"
#include "rpc/client.h"
#include "stack.h"
#include "test_tls.h"

/* True when role is an element of the comma-separated list. */
static bool
listed(const char *list, const char *role)
{
	size_t len = strlen(role);
	for (const char *p = list; *p != '\0'; p += strcspn(p, ","), p += *p == ',') {
		if (strcspn(p, ",") == len && strncmp(p, role, len) == 0)
			return true;
	}
	return false;
}

/* Calls service's Health as role; returns the call's code. */
static rpc_code
health_as(const char *role, const contract_service *service)
{
	const char *dir = test_tls_dir();
	char cert[320], key[320], ca[320], var[96], method[160];
	snprintf(cert, sizeof(cert), "%s/%s.pem", dir, role);
	snprintf(key, sizeof(key), "%s/%s.key", dir, role);
	snprintf(ca, sizeof(ca), "%s/services-ca.pem", dir);
	rpc_tls_files files = {.cert = cert, .key = key, .ca = ca, .caller_ca = ""};
	snprintf(var, sizeof(var), "STACK_%s", service->url_variable);
	const char *url = getenv(var);
	cr_assert_not_null(url, "%s", var);
	/* Room for a TLS handshake (about 19 ms of CPU) on a loaded 2-core box. */
	rpc_client_options opt = {.connect_wait_ms = 3000, .tls = &files, .server_name = service->name};
	rpc_client *client;
	rpc_status st;
	cr_assert_eq(rpc_client_open(&client, url, &opt, &st), RPC_OK, "%s: %s", role, st.message);
	snprintf(method, sizeof(method), "%s/Health", service->contract);
	Rpc__Reply *reply     = NULL;
	rpc_call_options call = {.timeout_ms = 5000};
	rpc_code code         = rpc_client_call_raw(client, method, NULL, 0, &reply, &call, &st);
	if (reply != NULL)
		rpc__reply__free_unpacked(reply, NULL);
	rpc_client_close(client);
	cr_log_info("%s -> %s: %s %s", role, service->name, rpc_code_name(code), code == RPC_OK ? "" : st.message);
	return code;
}

Test(callers, each_role_reaches_exactly_the_services_that_list_it, .timeout = 120)
{
	if (test_tls_dir() == NULL)
		cr_skip_test("RPC_TLS_DIR is not set: the stack runs without TLS (RPC_TLS=off)");
	cr_assert_eq(stack_wait_ready(20000), 0, "the stack is ready");
	const char *roles[CONTRACT_SERVICES_MAX + 2] = {"gateway", "operator"};
	size_t n_roles                               = 2;
	for (size_t s = 0; s < contract_services_count; s++)
		roles[n_roles++] = contract_services[s].name;
	int allowed = 0, refused = 0;
	for (size_t s = 0; s < contract_services_count; s++) {
		const contract_service *svc = &contract_services[s];
		for (size_t r = 0; r < n_roles; r++) {
			/* Its own role too: its health checks run as it. */
			bool may      = listed(svc->callers, roles[r]) || strcmp(roles[r], svc->name) == 0;
			rpc_code code = health_as(roles[r], svc);
			if (may) {
				cr_expect_eq(code, RPC_OK, "%s is among %s's callers (%s): %s", roles[r], svc->name,
				    svc->callers, rpc_code_name(code));
				allowed++;
			} else {
				cr_expect_eq(code, RPC_UNAVAILABLE, "%s is not among %s's callers (%s), yet: %s",
				    roles[r], svc->name, svc->callers, rpc_code_name(code));
				refused++;
			}
		}
	}
	cr_log_info("%d calls allowed, %d refused", allowed, refused);
	cr_assert_gt(refused, 0, "the registry lets no role be refused: nothing was tested");
	/* The gateway's own connections were never disturbed. */
	cr_assert_eq(stack_wait_ready(10000), 0, "the stack is still ready after the refusals");
}
