/* The dialers of one REQ socket: one per URL of a dial list, and for a URL
 * whose host is a name, one per address the name resolves to, kept up to
 * date by a resolver thread (issue 19). nng's REQ then spreads calls over
 * every connected replica. A name is looked up again every
 * resolve_interval_ms and soon after a connection drops (at most once a
 * second): dialers start for new addresses and close for addresses gone. A
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

/* Dials every element of urls (a list net_check_nng_dial_list accepted) on
 * sock, with cfg on each dialer when not NULL (the set keeps its own
 * reference). A name that does not resolve yet is not an error: it is
 * looked up again (rpc_dialer_set_problem says why nothing is dialed).
 * interval_ms <= 0 means the default. On RPC_OK *out is the caller's, to
 * stop and free; otherwise st says which URL could not be dialed. */
rpc_code rpc_dialer_set_open(
    rpc_dialer_set **out, nng_socket sock, const char *urls, nng_tls_config *cfg, int interval_ms, rpc_status *st);

/* A connection dropped: look the names up again soon. Thread-safe and
 * cheap, for nng's pipe callbacks. Accepts NULL. */
void rpc_dialer_set_kick(rpc_dialer_set *ds);

/* How many dialers are running now (addresses and URLs dialed). */
size_t rpc_dialer_set_count(rpc_dialer_set *ds);

/* Why a name has no dialer ("user-svc: Name or service not known"), or ""
 * when every URL has one. Thread-safe. */
void rpc_dialer_set_problem(rpc_dialer_set *ds, char *out, size_t len);

/* Stops the resolver, waiting at most wait_ms for a lookup in progress
 * (one that outlasts it ends by itself and changes nothing). The dialers
 * stay until the socket closes. Call before nng_close. */
void rpc_dialer_set_stop(rpc_dialer_set *ds, int wait_ms);

/* Frees the set once the socket is closed (no pipe callback can kick it).
 * Accepts NULL. */
void rpc_dialer_set_free(rpc_dialer_set *ds);

#endif
