/* Dead-link detection on a dialed TCP connection: see tcp_liveness.h. */
#define _GNU_SOURCE
#include "rpc/tcp_liveness.h"

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

/* True when the socket address sa is the nng address na. nng keeps ports
 * and addresses in network byte order, as sockaddr_in does. */
static bool
same_address(const struct sockaddr_storage *sa, const nng_sockaddr *na)
{
	if (sa->ss_family == AF_INET && na->s_family == NNG_AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *) (const void *) sa;
		return in->sin_port == na->s_in.sa_port && in->sin_addr.s_addr == na->s_in.sa_addr;
	}
	if (sa->ss_family == AF_INET6 && na->s_family == NNG_AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) (const void *) sa;
		return in6->sin6_port == na->s_in6.sa_port &&
		       memcmp(&in6->sin6_addr, na->s_in6.sa_addr, sizeof(in6->sin6_addr)) == 0;
	}
	return false;
}

/* The descriptor whose local and peer addresses are these, or -1. */
static int
find_socket(const nng_sockaddr *local, const nng_sockaddr *peer)
{
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL)
		return -1;
	int found = -1;
	for (struct dirent *e; found < 0 && (e = readdir(d)) != NULL;) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		struct stat st;
		if (*end != '\0' || end == e->d_name || fd == dirfd(d) || fstat((int) fd, &st) != 0 ||
		    !S_ISSOCK(st.st_mode))
			continue;
		struct sockaddr_storage a;
		socklen_t len = sizeof(a);
		if (getpeername((int) fd, (struct sockaddr *) &a, &len) != 0 || !same_address(&a, peer))
			continue;
		len = sizeof(a);
		if (getsockname((int) fd, (struct sockaddr *) &a, &len) == 0 && same_address(&a, local))
			found = (int) fd;
	}
	closedir(d);
	return found;
}

int
rpc_tcp_liveness_set(nng_pipe pipe)
{
	nng_sockaddr local, peer;
	if (nng_pipe_get_addr(pipe, NNG_OPT_LOCADDR, &local) != 0 ||
	    nng_pipe_get_addr(pipe, NNG_OPT_REMADDR, &peer) != 0)
		return 1;
	return rpc_tcp_liveness_set_addresses(&local, &peer);
}

int
rpc_tcp_liveness_set_addresses(const nng_sockaddr *local, const nng_sockaddr *peer)
{
	if (peer->s_family != NNG_AF_INET && peer->s_family != NNG_AF_INET6)
		return 1;
	int fd = find_socket(local, peer);
	if (fd < 0)
		return -1;
	int on = 1, idle_s = 1, interval_s = 1, probes = 3;
	unsigned int user_timeout = RPC_TCP_USER_TIMEOUT_MS;
	if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) != 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof(idle_s)) != 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval_s, sizeof(interval_s)) != 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof(probes)) != 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof(user_timeout)) != 0)
		return -1;
	return 0;
}
