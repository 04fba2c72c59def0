/* Which of nng's bugs the running libnng still has, for the work-arounds
 * that only the versions with the bug need. Decided at run time from
 * nng_version() (the library loaded, which is what matters: the soname
 * libnng.so.1 is the same from 1.5 to 1.10), so one binary is right on
 * Debian 12's nng 1.5.2 and Debian 13's 1.10.1; each side is tested by the
 * suite on that release (tests/trixie). Thread-safe (computed once). */
#ifndef RPC_NNG_FIXES_H
#define RPC_NNG_FIXES_H

#include <nng/nng.h>
#include <stdbool.h>

/* True when the library is at least major.minor (nng_version()'s "1.10.1"
 * gives 1, 10; an unreadable version counts as 0.0, so every work-around
 * stays). */
bool rpc_nng_at_least(int major, int minor);

/* nanomsg/nng#1518, fixed in 1.6.0: a connection that fails or hangs up in
 * the SP handshake stops the listener accepting for good. What
 * listener_watch.h works around. */
bool rpc_nng_listener_stops_after_failed_handshake(void);

/* Whether a TLS pipe tells its peer certificate's common name
 * (NNG_OPT_TLS_PEER_CN, new in nng 1.6: nng_tls_options(5)); before that a
 * pipe tells only whether the certificate verified. */
bool rpc_nng_tells_peer_name(void);

/* The option's name, for headers of nng < 1.6 that lack it (the library
 * loaded decides, rpc_nng_tells_peer_name). */
#ifndef NNG_OPT_TLS_PEER_CN
#define NNG_OPT_TLS_PEER_CN "tls-peer-cn"
#endif

#endif
