/* The replicas a client calls: each URL of a dial list, and for a URL whose
 * host is a name, each address the name resolves to (issue 19), kept up to
 * date by a resolver thread. Each replica is an rpc/endpoint.h (its
 * connections, lent one call at a time); calls go round robin over the
 * replicas that are up. A name is looked up again every resolve_interval_ms
 * and soon after a dial fails (rpc_replica_set_kick, at most once a
 * second): an address new in the answer becomes a replica; an address gone
 * takes no new call, and its connections close as their calls end (a
 * replica leaves DNS before it stops, so the calls it has finish: a
 * Kubernetes preStop pause, then SIGTERM and a drain). A failed lookup
 * changes nothing (a DNS outage must not drop a working replica); an
 * address that stays but stops answering is left to the endpoint's dial
 * back-off and to tcp_liveness.h. With TLS every replica checks the same
 * server name, whatever address it dials. Thread-safe. */
#ifndef RPC_REPLICA_SET_H
#define RPC_REPLICA_SET_H

#include <stddef.h>

#include "base/env.h"
#include "rpc/endpoint.h"
#include "rpc/status.h"
#include "rpc/tls_config.h"

/* RPC_RESOLVE_INTERVAL_MS's default, bounds and the least gap between two
 * lookups of a name. */
#define RPC_RESOLVE_INTERVAL_DEFAULT_MS 5000
#define RPC_RESOLVE_INTERVAL_MIN_MS 100
#define RPC_RESOLVE_INTERVAL_MAX_MS 3600000
#define RPC_RESOLVE_GAP_MS 1000

typedef struct rpc_replica_set rpc_replica_set;

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
		        "replica to call (looked up also soon after a dial fails)"                                     \
	}

/* The replicas of urls (a list net_check_nng_dial_list accepted), each
 * dialing with tls when not NULL (held). Returns without waiting for DNS:
 * names are looked up on the resolver thread rpc_replica_set_start starts,
 * the first time at once. A name that does not resolve yet is not an
 * error: it is looked up again (rpc_replica_set_problem says why nothing
 * is dialed). interval_ms <= 0 means the default; idle_close_ms is each
 * replica's (rpc_endpoint_open). On RPC_OK *out is the caller's, to stop
 * and free; otherwise st says which URL cannot be dialed. */
rpc_code rpc_replica_set_open(
    rpc_replica_set **out, const char *urls, rpc_tls *tls, int interval_ms, int idle_close_ms, rpc_status *st);

/* Starts the set's thread: it looks the names up, and closes connections
 * idle past their limit (rpc_endpoint_close_idle) every quarter of it, so
 * they close even when no call comes. Call it once. */
void rpc_replica_set_start(rpc_replica_set *rs);

/* The replica for the next call: the next one that is up (rpc_endpoint_up)
 * in turn, or, when none is, the next in turn (its dial then says why).
 * NULL when there is no replica at all. The result is held: release it
 * with rpc_endpoint_release once the call is done. */
rpc_endpoint *rpc_replica_set_pick(rpc_replica_set *rs);

/* Has the names looked up again soon, as a failed dial should. Accepts
 * NULL. */
void rpc_replica_set_kick(rpc_replica_set *rs);

/* How many replicas there are now. */
size_t rpc_replica_set_count(rpc_replica_set *rs);

/* Connections open to every replica now, idle and lent. */
int rpc_replica_set_connections(rpc_replica_set *rs);

/* How many lookups of a name the set has made, failed ones included, each
 * counted once what it found is in place (its replicas counted by
 * rpc_replica_set_count, rpc_replica_set_problem saying what it found
 * wrong). For tests and diagnostics. */
size_t rpc_replica_set_lookups(rpc_replica_set *rs);

/* Why a name has no replica ("user-svc: Name or service not known"), or ""
 * when every URL has one. */
void rpc_replica_set_problem(rpc_replica_set *rs, char *out, size_t len);

/* Stops the set's thread and frees the set (the replicas go once the last call
 * holding one releases it). Never waits for a lookup (a DNS server that
 * does not answer holds getaddrinfo for 10 s and more: that lookup ends by
 * itself later and changes nothing). Accepts NULL. */
void rpc_replica_set_free(rpc_replica_set *rs);

#endif
