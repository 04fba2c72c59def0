/* listen_sockets.h: TCP options CivetWeb has no setting for. */
#include "listen_sockets.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

int
listen_sockets_defer_accept(const env_port_list *ports, long timeout_ms)
{
#ifdef TCP_DEFER_ACCEPT
	int seconds = (int) ((timeout_ms + 999) / 1000), found = 0;
	long max_fd = sysconf(_SC_OPEN_MAX);
	for (int fd = 0; fd < (max_fd > 0 && max_fd < 65536 ? max_fd : 65536) && found < ports->n; fd++) {
		int listening   = 0;
		socklen_t len   = sizeof(listening);
		struct sockaddr_in addr;
		socklen_t addr_len = sizeof(addr);
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening ||
		    getsockname(fd, (struct sockaddr *) &addr, &addr_len) != 0 || addr.sin_family != AF_INET)
			continue;
		for (int i = 0; i < ports->n; i++) {
			if (ntohs(addr.sin_port) == ports->ports[i] &&
			    setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds, sizeof(seconds)) == 0) {
				found++;
				break;
			}
		}
	}
	return found;
#else
	(void) ports, (void) timeout_ms;
	return 0; /* Linux only */
#endif
}


int
connection_stop_reading(const char *peer_addr, int peer_port, int local_port)
{
	long max_fd = sysconf(_SC_OPEN_MAX);
	/* Descriptors are handed out lowest first: the search is short. */
	for (int fd = 3; fd < (max_fd > 0 && max_fd < 65536 ? max_fd : 65536); fd++) {
		struct sockaddr_storage peer, local;
		socklen_t peer_len = sizeof(peer), local_len = sizeof(local);
		if (getpeername(fd, (struct sockaddr *) &peer, &peer_len) != 0 ||
		    getsockname(fd, (struct sockaddr *) &local, &local_len) != 0)
			continue;
		char text[INET6_ADDRSTRLEN];
		int port, here;
		if (peer.ss_family == AF_INET && local.ss_family == AF_INET) {
			const struct sockaddr_in *p = (const struct sockaddr_in *) &peer;
			inet_ntop(AF_INET, &p->sin_addr, text, sizeof(text));
			port = ntohs(p->sin_port);
			here = ntohs(((const struct sockaddr_in *) &local)->sin_port);
		} else if (peer.ss_family == AF_INET6 && local.ss_family == AF_INET6) {
			const struct sockaddr_in6 *p = (const struct sockaddr_in6 *) &peer;
			inet_ntop(AF_INET6, &p->sin6_addr, text, sizeof(text));
			port = ntohs(p->sin6_port);
			here = ntohs(((const struct sockaddr_in6 *) &local)->sin6_port);
		} else {
			continue;
		}
		if (port == peer_port && here == local_port && strcmp(text, peer_addr) == 0)
			return shutdown(fd, SHUT_RD);
	}
	return -1;
}
