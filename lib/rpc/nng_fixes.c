/* nng_fixes.h: the running libnng's version, parsed once. */
#include "rpc/nng_fixes.h"

#include <nng/nng.h>
#include <pthread.h>
#include <stdio.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int lib_major, lib_minor;

static void
read_version(void)
{
	if (sscanf(nng_version(), "%d.%d", &lib_major, &lib_minor) != 2)
		lib_major = 0, lib_minor = 0;
}

void
rpc_nng_assume_version(int major, int minor)
{
	pthread_once(&once, read_version);
	lib_major = major, lib_minor = minor;
}

bool
rpc_nng_at_least(int major, int minor)
{
	pthread_once(&once, read_version);
	return lib_major > major || (lib_major == major && lib_minor >= minor);
}

bool
rpc_nng_listener_stops_after_failed_handshake(void)
{
	return !rpc_nng_at_least(1, 6);
}

bool
rpc_nng_loses_calls_over_several_connections(void)
{
	return !rpc_nng_at_least(1, 6);
}

bool
rpc_nng_tells_peer_name(void)
{
	return rpc_nng_at_least(1, 6);
}
