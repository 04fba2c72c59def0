/* A dial URL's host name as the set of its addresses: see address_set.h. */
#include "rpc/address_set.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <nng/nng.h>

int
rpc_dial_target_parse(const char *url, rpc_dial_target *t)
{
	memset(t, 0, sizeof(*t));
	nng_url *u;
	if (nng_url_parse(&u, url) != 0)
		return -1;
	int rv = -1;
	if ((size_t) snprintf(t->scheme, sizeof(t->scheme), "%s", u->u_scheme) >= sizeof(t->scheme))
		goto out;
	const char *tcp = strncmp(t->scheme, "tls+", 4) == 0 ? t->scheme + 4 : t->scheme;
	if (strcmp(tcp, "tcp") != 0 && strcmp(tcp, "tcp4") != 0 && strcmp(tcp, "tcp6") != 0) {
		rv = 0; /* a path scheme: dialed as it is */
		goto out;
	}
	if ((size_t) snprintf(t->host, sizeof(t->host), "%s", u->u_hostname) >= sizeof(t->host) ||
	    (size_t) snprintf(t->port, sizeof(t->port), "%s", u->u_port) >= sizeof(t->port) || t->host[0] == '\0' ||
	    t->port[0] == '\0')
		goto out; /* a dialer needs both */
	t->family = strcmp(tcp, "tcp4") == 0 ? AF_INET : strcmp(tcp, "tcp6") == 0 ? AF_INET6 : AF_UNSPEC;
	unsigned char addr[16];
	t->by_name = inet_pton(AF_INET, t->host, addr) != 1 && inet_pton(AF_INET6, t->host, addr) != 1;
	rv         = 0;
out:
	nng_url_free(u);
	return rv;
}

bool
rpc_address_set_has(const rpc_address_set *set, const char *addr)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->addr[i], addr) == 0)
			return true;
	return false;
}

bool
rpc_address_set_add(rpc_address_set *set, const char *addr)
{
	if (rpc_address_set_has(set, addr))
		return true;
	if (set->n == RPC_ADDRESSES_MAX || strlen(addr) >= RPC_ADDRESS_LEN) {
		set->left_out++;
		return false;
	}
	snprintf(set->addr[set->n++], RPC_ADDRESS_LEN, "%s", addr);
	return true;
}

void
rpc_address_set_from_addrinfo(rpc_address_set *set, const struct addrinfo *ai)
{
	memset(set, 0, sizeof(*set));
	for (; ai != NULL; ai = ai->ai_next) {
		char text[INET6_ADDRSTRLEN];
		if (ai->ai_family == AF_INET && ai->ai_addrlen >= sizeof(struct sockaddr_in)) {
			const struct sockaddr_in *sin = (const struct sockaddr_in *) (const void *) ai->ai_addr;
			if (inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text)) != NULL)
				rpc_address_set_add(set, text);
		} else if (ai->ai_family == AF_INET6 && ai->ai_addrlen >= sizeof(struct sockaddr_in6)) {
			const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) (const void *) ai->ai_addr;
			if (sin6->sin6_scope_id != 0)
				set->left_out++; /* a zone an nng URL cannot carry */
			else if (inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text)) != NULL)
				rpc_address_set_add(set, text);
		}
	}
}

int
rpc_address_set_resolve(const rpc_dial_target *t, rpc_address_set *set)
{
	memset(set, 0, sizeof(*set));
	/* SOCK_STREAM: one result per address rather than one per socket
	 * type. No AI_ADDRCONFIG: a replica on loopback is dialable on a host
	 * without any other address of that family. */
	struct addrinfo hints = {.ai_family = t->family, .ai_socktype = SOCK_STREAM, .ai_protocol = IPPROTO_TCP};
	struct addrinfo *res  = NULL;
	int rv                = getaddrinfo(t->host, t->port, &hints, &res);
	if (rv != 0)
		return rv;
	rpc_address_set_from_addrinfo(set, res);
	freeaddrinfo(res);
	return 0;
}

/* scheme without its address family ("tls+tcp4" -> "tls+tcp"), which nng
 * 1.10 refuses (rpc_url_for_nng); family is set to AF_INET or AF_INET6 for
 * a family scheme, AF_UNSPEC otherwise. */
static void
scheme_without_family(const char *scheme, char *out, size_t len, int *family)
{
	size_t n = strlen(scheme);
	*family  = AF_UNSPEC;
	if (n >= 4 && strncmp(scheme + n - 4, "tcp", 3) == 0 && (scheme[n - 1] == '4' || scheme[n - 1] == '6')) {
		*family = scheme[n - 1] == '4' ? AF_INET : AF_INET6;
		n--;
	}
	snprintf(out, len, "%.*s", (int) n, scheme);
}

int
rpc_dial_target_url(const rpc_dial_target *t, const char *addr, char *out, size_t len)
{
	char scheme[sizeof(t->scheme)];
	int family;
	scheme_without_family(t->scheme, scheme, sizeof(scheme), &family);
	bool v6 = strchr(addr, ':') != NULL;
	int n   = snprintf(out, len, v6 ? "%s://[%s]:%s" : "%s://%s:%s", scheme, addr, t->port);
	return n < 0 || (size_t) n >= len ? -1 : 0;
}

int
rpc_url_for_nng(const char *url, char *out, size_t len, int *lookup_error)
{
	nng_url *u;
	*lookup_error = 0;
	if (nng_url_parse(&u, url) != 0)
		return -1;
	char scheme[16], host[RPC_ADDRESS_LEN];
	int family, rv = -1;
	scheme_without_family(u->u_scheme, scheme, sizeof(scheme), &family);
	if (family == AF_UNSPEC) {
		rv = (size_t) snprintf(out, len, "%s", url) < len ? 0 : -1;
		goto out;
	}
	unsigned char addr[16];
	if (u->u_hostname[0] == '\0') {
		snprintf(host, sizeof(host), "%s", family == AF_INET ? "0.0.0.0" : "::");
	} else if (inet_pton(family, u->u_hostname, addr) == 1) {
		snprintf(host, sizeof(host), "%s", u->u_hostname);
	} else {
		struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_STREAM, .ai_protocol = IPPROTO_TCP};
		struct addrinfo *res  = NULL;
		int gai               = getaddrinfo(u->u_hostname, NULL, &hints, &res);
		if (gai != 0) {
			*lookup_error = gai;
			goto out;
		}
		rpc_address_set set;
		rpc_address_set_from_addrinfo(&set, res);
		freeaddrinfo(res);
		if (set.n == 0) {
			*lookup_error = EAI_NONAME;
			goto out;
		}
		snprintf(host, sizeof(host), "%s", set.addr[0]);
	}
	int n = snprintf(out, len, family == AF_INET6 ? "%s://[%s]:%s" : "%s://%s:%s", scheme, host, u->u_port);
	rv    = n < 0 || (size_t) n >= len ? -1 : 0;
out:
	nng_url_free(u);
	return rv;
}
