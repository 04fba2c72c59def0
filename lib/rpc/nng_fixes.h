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

/* Makes this process take the library for major.minor, whatever
 * nng_version() says: for tools that show what a work-around is for
 * (bench/restart_stress.c), never for a service. Call it before anything
 * asks (the answers are not expected to change afterwards). */
void rpc_nng_assume_version(int major, int minor);

/* nanomsg/nng#1518, fixed in 1.6.0: a connection that fails or hangs up in
 * the SP handshake stops the listener accepting for good. What
 * listener_watch.h works around. */
bool rpc_nng_listener_stops_after_failed_handshake(void);

/* Several connections to one replica on one REQ socket: with four dialers
 * per URL (and again as four REQ sockets) nng 1.5.2 left a call without an
 * answer until its deadline after a service restart, about one ASan fault
 * drill run in three (commits c02d8ce, cf93a09). bench/restart_stress.c
 * shows it at will (1 Dec 2026, release build, 32 callers, the server
 * killed with SIGKILL every 300-600 ms): with four connections, 384-480
 * calls in 40-60 restarts waited out their whole 1.5 s deadline in their
 * send ("sending the request failed: Timed out" with connections up: no
 * pipe took the request), one dialer was left without its connection, and
 * nng_close then hung; with one connection, and with four on nng 1.10.1,
 * none (120 restarts). SIGTERM, whose server closes its connections
 * itself, does not show it. 1.6.0 fixed the pipe teardown races of that
 * path (nng#1636; nng#1518). So before 1.6 each replica gets one
 * connection (rpc/dialer_set.h). Both versions also leak, by their code,
 * the request of a call whose connection closes just as it is sent
 * (req0_pipe_close closes the pipe's send aio before taking the socket's
 * lock, and nni_aio_begin drops a send on a closed aio without the
 * callback that would free it): LeakSanitizer saw one per about 80 such
 * restarts with four connections on 1.5.2; the call itself fails with
 * UNAVAILABLE, as it should. */
bool rpc_nng_loses_calls_over_several_connections(void);

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
