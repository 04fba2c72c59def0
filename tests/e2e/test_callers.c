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
#include <sys/wait.h>

#include "contract/tables.h"
#include "rpc/envelope.h"
#include "rpc/status.h"
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

/* Calls service's Health as role through rpc-call, the operator's tool, in
 * a process of its own; returns the call's code (rpc-call exits with 10 +
 * the code), or -1 when rpc-call did not end within its bound. One process
 * per call because nng 1.5.2 can leave a closing socket stuck (nng#1636,
 * see rpc_client_close): refused callers redial all the time, and once its
 * one reaper thread was stuck, a later call in the same process hung until
 * the test's timeout (CI, ASan build, 2026-11-30). Each binary of the
 * system makes its clients once per process, so that is what is tested. */
static int
health_as(const char *role, const contract_service *service)
{
	const char *dir = test_tls_dir();
	char var[96], cmd[2048];
	snprintf(var, sizeof(var), "STACK_%s", service->url_variable);
	const char *url = getenv(var);
	cr_assert_not_null(url, "%s", var);
	/* The connect wait is rpc-call's own; 3 s leaves room for a TLS
	 * handshake (about 19 ms of CPU) on a loaded 2-core box, and timeout(1)
	 * bounds a process that nng keeps from exiting. */
	snprintf(cmd, sizeof(cmd),
	    "timeout -s KILL 30 %s --timeout 3000 --cert %s/%s.pem --key %s/%s.key --ca %s/services-ca.pem "
	    "'%s' %s/Health '{}' >/dev/null 2>&1",
	    RPC_CALL_BIN, dir, role, dir, role, dir, url, service->contract);
	int rc = system(cmd);
	cr_assert(WIFEXITED(rc), "rpc-call as %s -> %s did not exit", role, service->name);
	int exit_code = WEXITSTATUS(rc);
	if (exit_code == 137 || exit_code == 124)
		return -1;
	int code = exit_code == 0 ? RPC_OK : exit_code - 10;
	cr_log_info("%s -> %s: exit %d (%s)", role, service->name, exit_code,
	    exit_code == 0 || exit_code >= 10 ? rpc_code_name((rpc_code) code) : "not a call status");
	return exit_code == 0 || exit_code >= 10 ? code : -2;
}

/* The code of role's call to service once it is settled: OK for an allowed
 * role, UNAVAILABLE (refused on its connection) for another; any other
 * answer is tried again for up to 30 s. On nng 1.5.2 a refused caller that
 * hangs up during a handshake leaves the listener not accepting (nng#1518)
 * until the listener watch re-opens it, within about 5 s, and that re-open
 * drops the calls then in flight: what the next caller sees meanwhile is
 * DEADLINE_EXCEEDED or UNAVAILABLE whatever its role. */
static int
settled(const char *role, const contract_service *service, bool may)
{
	int64_t until = rpc_clock_ms() + 30000;
	int code, attempts = 0;
	do {
		code = health_as(role, service);
		attempts++;
	} while (code != (may ? RPC_OK : RPC_UNAVAILABLE) && code != RPC_OK && rpc_clock_ms() < until);
	if (attempts > 1)
		cr_log_info("%s -> %s settled after %d calls", role, service->name, attempts);
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
			bool may = listed(svc->callers, roles[r]) || strcmp(roles[r], svc->name) == 0;
			int code = settled(roles[r], svc, may);
			if (may) {
				cr_expect_eq(code, RPC_OK, "%s is among %s's callers (%s): %s", roles[r], svc->name,
				    svc->callers, code < 0 ? "no status" : rpc_code_name((rpc_code) code));
				allowed++;
			} else {
				cr_expect_eq(code, RPC_UNAVAILABLE, "%s is not among %s's callers (%s), yet: %s",
				    roles[r], svc->name, svc->callers,
				    code < 0 ? "no status" : rpc_code_name((rpc_code) code));
				refused++;
			}
		}
	}
	cr_log_info("%d calls allowed, %d refused", allowed, refused);
	cr_assert_gt(refused, 0, "the registry lets no role be refused: nothing was tested");
	/* The gateway's own connections were never disturbed. */
	cr_assert_eq(stack_wait_ready(10000), 0, "the stack is still ready after the refusals");
}
