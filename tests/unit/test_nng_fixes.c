/* rpc/nng_fixes.h against the libnng this test runs with: Debian 12's
 * 1.5.2 keeps the listener watch, Debian 13's 1.10.1 (tests/trixie) does
 * without it. */
#include <criterion/criterion.h>
#include <nng/nng.h>
#include <stdio.h>

#include "rpc/nng_fixes.h"

Test(nng_fixes, the_version_read_is_the_loaded_librarys)
{
	int major = 0, minor = 0;
	cr_assert_eq(sscanf(nng_version(), "%d.%d", &major, &minor), 2, "nng_version() = %s", nng_version());
	cr_assert(rpc_nng_at_least(major, minor), "%s is at least itself", nng_version());
	cr_assert(rpc_nng_at_least(major, 0));
	cr_assert(rpc_nng_at_least(0, 99), "any 1.x is at least 0.99");
	cr_assert_not(rpc_nng_at_least(major, minor + 1), "%s is not %d.%d", nng_version(), major, minor + 1);
	cr_assert_not(rpc_nng_at_least(major + 1, 0));
}

Test(nng_fixes, the_listener_watch_is_needed_before_1_6_only)
{
	int major = 0, minor = 0;
	cr_assert_eq(sscanf(nng_version(), "%d.%d", &major, &minor), 2);
	bool old = major < 1 || (major == 1 && minor < 6);
	cr_assert_eq(rpc_nng_listener_stops_after_failed_handshake(), old, "nng %s: nng#1518 %s", nng_version(),
	    old ? "not fixed yet" : "fixed (1.6.0)");
	cr_log_info("nng %s: the listener watch is %s", nng_version(), old ? "on" : "off");
}
