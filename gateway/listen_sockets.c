/* listen_sockets.h: TCP options CivetWeb has no setting for. */
#include "listen_sockets.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int
listen_sockets_defer_accept(const env_port_list *ports, long timeout_ms)
{
#ifdef TCP_DEFER_ACCEPT
	int seconds = (int) ((timeout_ms + 999) / 1000), found = 0;
	long max_fd = sysconf(_SC_OPEN_MAX);
	for (int fd = 0; fd < (max_fd > 0 && max_fd < 65536 ? max_fd : 65536) && found < ports->n; fd++) {
		int listening = 0;
		socklen_t len = sizeof(listening);
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
