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

Test(nng_fixes, several_connections_per_replica_only_from_1_6)
{
	int major = 0, minor = 0;
	cr_assert_eq(sscanf(nng_version(), "%d.%d", &major, &minor), 2);
	bool old = major < 1 || (major == 1 && minor < 6);
	cr_assert_eq(rpc_nng_loses_calls_over_several_connections(), old, "nng %s", nng_version());
	cr_log_info("nng %s: %s connection per replica", nng_version(), old ? "one" : "several");
}

/* A tool may take the library for another version (rpc_nng_assume_version,
 * bench/restart_stress.c): every answer follows it. */
Test(nng_fixes, an_assumed_version_decides_every_work_around)
{
	rpc_nng_assume_version(1, 5);
	cr_assert(rpc_nng_loses_calls_over_several_connections());
	cr_assert(rpc_nng_listener_stops_after_failed_handshake());
	cr_assert_not(rpc_nng_tells_peer_name());
	cr_assert(!rpc_nng_at_least(1, 6) && rpc_nng_at_least(1, 5));
	rpc_nng_assume_version(1, 10);
	cr_assert_not(rpc_nng_loses_calls_over_several_connections());
	cr_assert_not(rpc_nng_listener_stops_after_failed_handshake());
	cr_assert(rpc_nng_tells_peer_name());
	cr_assert(rpc_nng_at_least(1, 6) && !rpc_nng_at_least(1, 11));
}
