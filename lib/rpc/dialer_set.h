/* The dialers of one REQ socket: per replica (each URL of a dial list, and
 * for a URL whose host is a name, each address the name resolves to, kept
 * up to date by a resolver thread: issue 19) per_replica dialers, each
 * keeping one connection. nng's REQ then spreads calls over every connected
 * replica, and over the connections of each: a connection writes one
 * request at a time, so concurrent calls queue behind each other's writes
 * on a replica's only one (issue 21; 1 on nng < 1.6, see
 * rpc_connections_per_replica). A name is looked up again every
 * resolve_interval_ms and soon after a connection drops (at most once a
 * second): dialers start for new addresses; an address gone gets no new
 * connection, but each dialer of it that has one stays (and takes its share
 * of calls) until its connection ends or RPC_DRAIN_MS pass, so a replica
 * that drains before it stops finishes the calls it has (a dialer without a
 * connection closes at once; an address back in the answer while draining
 * gets its missing dialers again). A
 * failed lookup changes nothing (a DNS outage must not disconnect a working
 * replica); an address that stays but stops answering is left to nng's
 * redial and to tcp_liveness.h. With TLS every dialer checks the same
 * server name, whatever address it dials. */
#ifndef RPC_DIALER_SET_H
#define RPC_DIALER_SET_H

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>
#include <stddef.h>

#include "base/env.h"
#include "rpc/status.h"

/* RPC_RESOLVE_INTERVAL_MS's default, bounds and the least gap between two
 * lookups of a name. */
#define RPC_RESOLVE_INTERVAL_DEFAULT_MS 5000
#define RPC_RESOLVE_INTERVAL_MIN_MS 100
#define RPC_RESOLVE_INTERVAL_MAX_MS 3600000
#define RPC_RESOLVE_GAP_MS 1000
/* An address gone from its name keeps its connection this long at most,
 * for the calls in flight on it (a replica leaves DNS before it stops:
 * Kubernetes' preStop pause, then SIGTERM and a drain that closes it). */
#define RPC_DRAIN_MS 10000

typedef struct rpc_dialer_set rpc_dialer_set;

/* RPC_RESOLVE_INTERVAL_MS as an env_var initializer, for the table of every
 * binary that dials services (gateway, order-svc): out is a long *, in ms,
 * within the bounds above. */
#define RPC_RESOLVE_STR_(x) #x
#define RPC_RESOLVE_STR(x) RPC_RESOLVE_STR_(x)
#define RPC_RESOLVE_INTERVAL_VAR(out_ptr)                                                                              \
	{                                                                                                              \
		.name = "RPC_RESOLVE_INTERVAL_MS", .default_value = RPC_RESOLVE_STR(RPC_RESOLVE_INTERVAL_DEFAULT_MS),  \
		.kind = ENV_INT, .min = RPC_RESOLVE_INTERVAL_MIN_MS, .max = RPC_RESOLVE_INTERVAL_MAX_MS,               \
		.out  = (out_ptr),                                                                                     \
		.help = "how often a service URL's host name is looked up again, in ms: each of its addresses is a "   \
		        "replica to call (looked up also soon after a connection drops)"                               \
	}

/* RPC_CONNECTIONS_PER_REPLICA's default, where the library allows more
 * than one (bare nng req/rep at 32 callers on a 2-core machine: 14-18k round
 * trips/s over one connection, 28-32k over four at half the CPU each; GET
 * through the gateway 14-28% more), and its bound. */
#define RPC_CONNECTIONS_PER_REPLICA_DEFAULT 4
#define RPC_CONNECTIONS_PER_REPLICA_MAX 16

/* RPC_CONNECTIONS_PER_REPLICA as an env_var initializer (the same tables):
 * out is a long *, within [1, RPC_CONNECTIONS_PER_REPLICA_MAX]. */
#define RPC_CONNECTIONS_PER_REPLICA_VAR(out_ptr)                                                                       \
	{                                                                                                              \
		.name          = "RPC_CONNECTIONS_PER_REPLICA",                                                        \
		.default_value = RPC_RESOLVE_STR(RPC_CONNECTIONS_PER_REPLICA_DEFAULT), .kind = ENV_INT, .min = 1,      \
		.max = RPC_CONNECTIONS_PER_REPLICA_MAX, .out = (out_ptr),                                              \
		.help = "connections kept to each replica of a service (a connection writes one request at a time); "  \
		        "1 on nng < 1.6 whatever is set (it lost calls over several after a restart), said once at "   \
		        "start"                                                                                        \
	}

/* The dialers per replica for `requested` (<= 1 → 1; above the bound, the
 * bound): `requested` where the library has no trouble with several
 * (rpc_nng_loses_calls_over_several_connections), 1 otherwise, which a
 * request above 1 has logged once per process (rpc_connections_per_replica
 * _not_applied, info: naming the version and why). Thread-safe. */
size_t rpc_connections_per_replica(int requested);

/* Dials every element of urls (a list net_check_nng_dial_list accepted) on
 * sock, rpc_connections_per_replica(per_replica) dialers per replica, with
 * cfg on each dialer when not NULL (the set keeps its own reference).
 * Returns without waiting for DNS: names are looked up on the resolver
 * thread rpc_dialer_set_start starts, the first time at once, so a name's
 * dialers start a lookup's time later. A name that does not resolve yet is
 * not an error: it is looked up again (rpc_dialer_set_problem says why
 * nothing is dialed). interval_ms <= 0 means the default. On RPC_OK *out is
 * the caller's, to stop and free; otherwise st says which URL could not be
 * dialed. */
rpc_code rpc_dialer_set_open(rpc_dialer_set **out, nng_socket sock, const char *urls, nng_tls_config *cfg,
    int interval_ms, int per_replica, rpc_status *st);

/* Starts looking the names up (on a thread of the set's; the first lookup
 * at once). Call it once, after the socket's pipe events reach
 * rpc_dialer_set_pipe: a connection not counted would be closed at once,
 * not drained, when its address leaves the name. */
void rpc_dialer_set_start(rpc_dialer_set *ds);

/* A connection of the socket came up (delta 1, NNG_PIPE_EV_ADD_PRE) or
 * went (-1, NNG_PIPE_EV_REM_POST): counted for its dialer, and a drop has
 * the names looked up again soon and the draining addresses looked at.
 * Thread-safe, for nng's pipe callbacks. Accepts NULL. */
void rpc_dialer_set_pipe(rpc_dialer_set *ds, nng_pipe pipe, int delta);

/* Has the names looked up again soon, as a dropped connection does.
 * Thread-safe. Accepts NULL. */
void rpc_dialer_set_kick(rpc_dialer_set *ds);

/* How many replicas are dialed now (addresses and URLs, not draining
 * ones), whatever their connections: each has 1 to
 * rpc_dialer_set_per_replica dialers (fewer only while one fails to start).
 * Thread-safe. */
size_t rpc_dialer_set_count(rpc_dialer_set *ds);

/* The dialers each replica gets (1 on nng < 1.6). Thread-safe. */
size_t rpc_dialer_set_per_replica(rpc_dialer_set *ds);

/* How many lookups of a name the set has made, failed ones included, each
 * counted once what it found is in place (its replicas counted by
 * rpc_dialer_set_count, their dialers started, rpc_dialer_set_problem
 * saying what it found wrong). For tests and diagnostics. Thread-safe. */
size_t rpc_dialer_set_lookups(rpc_dialer_set *ds);

/* Why a name has no dialer ("user-svc: Name or service not known"), or ""
 * when every URL has one. Thread-safe. */
void rpc_dialer_set_problem(rpc_dialer_set *ds, char *out, size_t len);

/* Stops the resolver: from its return no dialer is started or closed. It
 * waits at most wait_ms for dialers being started or closed, never for a
 * lookup (a DNS server that does not answer holds getaddrinfo for 10 s and
 * more: that lookup ends by itself later and changes nothing), so
 * rpc_client_close keeps its bound. The dialers stay until the socket
 * closes. Call before nng_close. */
void rpc_dialer_set_stop(rpc_dialer_set *ds, int wait_ms);

/* Frees the set once the socket is closed (no pipe callback can kick it).
 * Accepts NULL. */
void rpc_dialer_set_free(rpc_dialer_set *ds);

#endif
