/* A dial URL's host name as the set of addresses it resolves to, for one
 * nng dialer per address (issue 19). nng 1.5.2 dials only the first address
 * getaddrinfo returns (posix_resolv_gai.c), so a name that stands for
 * several replicas (a Kubernetes headless Service, compose --scale, several
 * lines in /etc/hosts) would leave all but one idle. The set, not the
 * order, is what counts: glibc may reorder a name's addresses between two
 * lookups (RFC 6724 rule 9, RFC 3484 before it).
 *
 * Pure functions over caller-owned values; no I/O except
 * rpc_address_set_resolve (getaddrinfo). Thread-safe. */
#ifndef RPC_ADDRESS_SET_H
#define RPC_ADDRESS_SET_H

#include <netdb.h>
#include <stdbool.h>
#include <stddef.h>

/* At most this many addresses per name are dialed; more are left out (and
 * counted in rpc_address_set.left_out). */
#define RPC_ADDRESSES_MAX 64
/* Longest numeric address: an IPv6 one without a zone (46 with the NUL). */
#define RPC_ADDRESS_LEN 46

/* A dial URL split for resolution. */
typedef struct rpc_dial_target {
	char scheme[16]; /* "tcp", "tcp4", "tcp6", "tls+tcp", ... or "ipc" */
	char host[256];  /* the host as written, without brackets; "" for path schemes */
	char port[8];    /* decimal; "" for path schemes */
	int family;      /* AF_UNSPEC (tcp), AF_INET (tcp4) or AF_INET6 (tcp6) */
	bool by_name;    /* a TCP URL whose host is a name, not an address: resolved here */
} rpc_dial_target;

/* Splits url, one element of a dial list already checked by
 * net_check_nng_url(NET_URL_DIAL). Returns 0, or -1 when it is not of that
 * shape (a host or port too long). */
int rpc_dial_target_parse(const char *url, rpc_dial_target *t);

/* A set of numeric addresses, each once, in no meaningful order. */
typedef struct rpc_address_set {
	char addr[RPC_ADDRESSES_MAX][RPC_ADDRESS_LEN];
	size_t n;
	size_t left_out; /* addresses beyond RPC_ADDRESSES_MAX, or with an IPv6 zone */
} rpc_address_set;

/* True when set holds addr. */
bool rpc_address_set_has(const rpc_address_set *set, const char *addr);

/* Adds addr (numeric) unless present; false when full (counted in
 * left_out). */
bool rpc_address_set_add(rpc_address_set *set, const char *addr);

/* The addresses of a getaddrinfo result of the family t asks for, each
 * once. Link-local IPv6 addresses with a zone are left out: an nng URL
 * cannot carry one. */
void rpc_address_set_from_addrinfo(rpc_address_set *set, const struct addrinfo *ai);

/* Resolves t's host (getaddrinfo, blocking: call it off any hot path).
 * Returns 0 with *set filled (maybe empty), or getaddrinfo's error code
 * (gai_strerror tells it) with *set empty. */
int rpc_address_set_resolve(const rpc_dial_target *t, rpc_address_set *set);

/* The nng URL that dials one address of t, in t's scheme without its
 * family (rpc_url_for_nng says why): "tls+tcp://10.0.0.5:5001",
 * "tcp://[fd00::5]:5001". Returns 0, or -1 when out is too small. */
int rpc_dial_target_url(const rpc_dial_target *t, const char *addr, char *out, size_t len);

/* url as every nng version takes it. nng 1.10 refuses the tcp4:// and
 * tcp6:// schemes and their tls+ forms (NNG_EADDRINVAL from listeners and
 * dialers alike, seen on Debian 13's 1.10.1), which 1.5.2 takes; a numeric
 * host carries its family by itself. So a family scheme becomes tcp://
 * (tls+tcp://) with the host as an address of that family: a numeric one
 * as written, an empty one (a listener's "any") as 0.0.0.0 or [::], a name
 * as the first address getaddrinfo gives for the family (which is what
 * nng 1.5.2 dials or binds). Any other URL is copied. Returns 0; or -1
 * with *lookup_error set to getaddrinfo's code (gai_strerror tells it) for
 * a name that does not resolve in the family, and to 0 for a URL nng
 * cannot parse or an out too small. Blocking (a name is looked up): call
 * it off any hot path. */
int rpc_url_for_nng(const char *url, char *out, size_t len, int *lookup_error);

#endif
